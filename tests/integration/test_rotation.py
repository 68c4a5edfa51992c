"""Key rotation and signed checkpoints: nothing lost under load or a kill -9 mid-rewrap;
truncation below a checkpoint detected; checkpoints verifiable with stock OpenSSL."""

import concurrent.futures
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

from conftest import start_daemon, unique

N_SECRETS = 600
SAMPLE = list(range(0, N_SECRETS, 10))  # 60 names, within the 64-grant limit

READ_SAMPLE = """function main(input) {
  var bad = [];
  for (var i = 0; i < input.names.length; i++) {
    if (secrets.get(input.names[i]) !== 'value-' + input.names[i]) bad.push(input.names[i]);
  }
  return bad;
}
"""


def _fill(d, token, n):
    def put(i):
        r = d.api("PUT", f"/v1/secrets/s{i}", token, json={"value": f"value-s{i}"})
        assert r.status_code == 201, r.text
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        list(pool.map(put, range(n)))


def _reader(d, token):
    names = [f"s{i}" for i in SAMPLE]
    fn = unique("sample")
    d.deploy_ok(fn, READ_SAMPLE, token, secrets=names)
    return lambda: d.invoke(fn, token, input={"names": names})


def test_rotation_under_concurrent_invocations_loses_nothing(tmp_path):
    d = start_daemon(tmp_path / "rot")
    try:
        token, _ = d.developer()
        _fill(d, token, N_SECRETS)
        read = _reader(d, token)
        stop = threading.Event()
        results = []

        def hammer():
            while not stop.is_set():
                results.append(read())
        threads = [threading.Thread(target=hammer) for _ in range(4)]
        for t in threads:
            t.start()
        r = d.api("POST", "/v1/keys/rotate", d.admin, timeout=120)
        r2 = d.api("POST", "/v1/keys/rotate", d.admin, timeout=120)
        stop.set()
        for t in threads:
            t.join()
        assert r.status_code == 200 and r2.status_code == 200, (r.text, r2.text)
        assert r.json()["rewrapped"] == N_SECRETS and r.json()["failed"] == 0
        deks = d.api("GET", "/v1/keys", d.admin).json()["deks"]
        assert [(k["state"], k["secrets"]) for k in deks] == [("active", N_SECRETS)]
        assert results and all(x.status_code == 200 and x.json()["result"] == [] for x in results)
        rot = [e for e in d.api("GET", "/v1/audit", d.admin,
                                params={"limit": 1000, "actor": "admin"}).json()["entries"]
               if e["action"] == "keys.rotate"]
        assert len(rot) == 2
    finally:
        d.stop()


def test_kill_9_during_rewrap_then_restart_reads_everything(tmp_path):
    d = start_daemon(tmp_path / "kill")
    token, _ = d.developer()
    _fill(d, token, N_SECRETS)
    read = _reader(d, token)
    assert read().json()["result"] == []
    holder = {}
    t = threading.Thread(target=lambda: holder.setdefault(
        "r", _swallow(lambda: d.api("POST", "/v1/keys/rotate", d.admin, timeout=60))))
    t.start()
    db = os.path.join(d.data, "fnbox.db")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:  # kill once some, not all, rows have moved
        c = sqlite3.connect(db, timeout=5)
        counts = c.execute("SELECT count(DISTINCT dek_id) FROM secrets").fetchone()[0]
        c.close()
        if counts > 1:
            break
        time.sleep(0.002)
    os.kill(d.proc.pid, signal.SIGKILL)
    d.proc.wait(timeout=10)
    t.join(timeout=60)
    c = sqlite3.connect(db, timeout=5)
    spread = c.execute("SELECT dek_id, count(*) FROM secrets GROUP BY dek_id").fetchall()
    c.close()
    assert len(spread) == 2, f"kill did not land mid-rewrap: {spread}"
    d.start()
    try:
        assert read().json()["result"] == []  # every sampled secret opens, under either DEK
        keys = d.api("GET", "/v1/keys", d.admin).json()["deks"]
        assert sum(k["secrets"] for k in keys) == N_SECRETS
        r = d.api("POST", "/v1/keys/rotate", d.admin, timeout=120)  # finishes the job
        assert r.status_code == 200 and r.json()["failed"] == 0
        keys = d.api("GET", "/v1/keys", d.admin).json()["deks"]
        assert [(k["state"], k["secrets"]) for k in keys] == [("active", N_SECRETS)]
        assert read().json()["result"] == []
    finally:
        d.stop()


def _swallow(fn):
    try:
        return fn()
    except Exception as e:  # the daemon was killed under this request
        return e


def test_checkpoint_detects_truncation_and_verifies_with_openssl(tmp_path):
    d = start_daemon(tmp_path / "cp")
    try:
        token, _ = d.developer()
        for i in range(5):
            d.api("PUT", f"/v1/secrets/c{i}", token, json={"value": "x"})
        r = d.api("POST", "/v1/audit/checkpoint", d.admin)
        assert r.status_code == 201
        cp = r.json()
        on_disk = json.load(open(os.path.join(d.data, "audit.checkpoint")))
        assert on_disk == cp
        v = d.api("GET", "/v1/audit/verify", d.admin).json()
        assert v["ok"] is True and v["checkpoint_ok"] is True
        # stock openssl checks the signature over the documented bytes
        msg = f"fnbox-audit-checkpoint-v1\n{cp['seq']}\n{cp['hash']}\n{cp['time']}".encode()
        (tmp_path / "msg").write_bytes(msg)
        (tmp_path / "sig").write_bytes(bytes.fromhex(cp["signature"]))
        (tmp_path / "pub.der").write_bytes(bytes.fromhex(cp["public_key"]))
        p = subprocess.run(["openssl", "dgst", "-sha256", "-verify", str(tmp_path / "pub.der"),
                            "-keyform", "DER", "-signature", str(tmp_path / "sig"),
                            str(tmp_path / "msg")], capture_output=True, timeout=30)
        assert p.returncode == 0 and b"Verified OK" in p.stdout, p.stdout + p.stderr
        # a rolled-back database: the tail below the checkpoint is gone, the chain itself is intact
        c = sqlite3.connect(os.path.join(d.data, "fnbox.db"), timeout=10)
        c.executescript(f"DROP TRIGGER audit_append_only_d; DELETE FROM audit WHERE seq > {cp['seq'] - 2};")
        c.close()
        v = d.api("GET", "/v1/audit/verify", d.admin).json()
        assert v["chain_ok"] is True and v["checkpoint_ok"] is False and v["ok"] is False
        # a forged checkpoint file is not accepted either (signature is checked with our key)
        d.stop()
        forged = dict(cp, hash="0" * 64)
        json.dump(forged, open(os.path.join(d.data, "audit.checkpoint"), "w"))
        d.start()
        assert d.api("GET", "/v1/audit/verify", d.admin).json()["checkpoint_ok"] is False
    finally:
        d.stop()
