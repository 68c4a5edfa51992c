"""Sealed secrets: put, grants, secrets.get in the worker, owner isolation, no plaintext
anywhere, and the audit chain (one entry per access, tampering detected, fail closed)."""

import concurrent.futures
import glob
import os
import sqlite3
import subprocess

import pytest

from conftest import Daemon, error_code, start_daemon, unique

CANARY = "CANARY-7f3a9c-never-print-me"

READER = """function main(input) {
  var v = secrets.get(input.name);
  return {length: v.length, ok: v === input.expect};
}
"""

CATCHER = """function main(input) {
  try { secrets.get(input.name); return 'delivered'; }
  catch (e) { return e.name + ': ' + e.message; }
}
"""


def put_secret(d, token, name, value, params=None):
    return d.api("PUT", f"/v1/secrets/{name}", token, json={"value": value}, params=params)


def audit_entries(d, **params):
    r = d.api("GET", "/v1/audit", d.admin, params=dict(limit=1000, **params))
    assert r.status_code == 200, r.text
    return r.json()["entries"]


def test_put_then_function_reads_it(daemon, dev):
    token, owner = dev
    name = unique("key").replace("-", "_")
    r = put_secret(daemon, token, name, CANARY)
    assert r.status_code == 201, r.text
    assert r.json() == {"name": name, "version": 1}
    assert CANARY not in r.text
    fn = unique("reader")
    daemon.deploy_ok(fn, READER, token, secrets=[name])
    r = daemon.invoke(fn, token, input={"name": name, "expect": CANARY})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == {"length": len(CANARY), "ok": True}
    assert CANARY not in r.text
    # a new version replaces the value for new invocations
    assert put_secret(daemon, token, name, CANARY + "-v2").json()["version"] == 2
    r = daemon.invoke(fn, token, input={"name": name, "expect": CANARY + "-v2"})
    assert r.json()["result"]["ok"] is True
    listed = daemon.api("GET", "/v1/secrets", token).json()["secrets"]
    assert {"name": name, "version": 2} == {k: v for k, v in listed[0].items() if k != "created_at"}
    ok = [e for e in audit_entries(daemon, secret=name, function=fn) if e["action"] == "secret.get"]
    assert [e["outcome"] for e in ok] == ["ok", "ok"]
    assert all(e["invocation_id"].startswith("inv_") and e["actor"] == owner for e in ok)


def test_ungranted_and_missing_look_the_same_and_are_audited(daemon, dev):
    token, _ = dev
    name = unique("key").replace("-", "_")
    assert put_secret(daemon, token, name, CANARY).status_code == 201
    fn = unique("nogrant")
    daemon.deploy_ok(fn, CATCHER, token)  # no grant at all
    r1 = daemon.invoke(fn, token, input={"name": name})
    r2 = daemon.invoke(fn, token, input={"name": name + "_missing"})
    assert r1.status_code == 200 and r2.status_code == 200
    m1, m2 = r1.json()["result"], r2.json()["result"]
    assert m1.startswith("Error: ") and "not available" in m1
    assert m1.replace(name, "X") == m2.replace(name + "_missing", "X")  # no oracle for existence
    denied = [e for e in audit_entries(daemon, function=fn) if e["action"] == "secret.get"]
    assert [(e["secret"], e["outcome"]) for e in denied] == [(name, "denied"),
                                                             (name + "_missing", "denied")]


def test_owners_are_isolated(daemon):
    alice, alice_owner = daemon.developer()
    bob, bob_owner = daemon.developer()
    name = "shared_name"
    assert put_secret(daemon, alice, name, CANARY).status_code == 201
    # bob cannot act for alice, and his own namespace does not contain alice's secret
    assert put_secret(daemon, bob, name, "x", params={"owner": alice_owner}).status_code == 403
    assert daemon.api("GET", "/v1/secrets", bob, params={"owner": alice_owner}).status_code == 403
    assert daemon.api("DELETE", f"/v1/secrets/{name}", bob).status_code == 404
    assert daemon.api("GET", "/v1/secrets", bob).json()["secrets"] == []
    # bob granting himself the same name reads his namespace, not alice's
    fn = unique("bobfn")
    daemon.deploy_ok(fn, CATCHER, bob, secrets=[name])
    r = daemon.invoke(fn, bob, input={"name": name})
    assert "not available" in r.json()["result"]
    # bob's own secret of the same name is his, and alice's is unchanged
    assert put_secret(daemon, bob, name, "bob-value").status_code == 201
    afn = unique("alicefn")
    daemon.deploy_ok(afn, READER, alice, secrets=[name])
    assert daemon.invoke(afn, alice, input={"name": name, "expect": CANARY}).json()["result"]["ok"]
    invoker = daemon.create_token("invoker", unique("svc"))["token"]
    assert put_secret(daemon, invoker, "x", "y").status_code == 403
    assert daemon.api("GET", "/v1/secrets", invoker).status_code == 403


def test_bad_secret_input(daemon, dev):
    token, _ = dev
    assert error_code(put_secret(daemon, token, "bad name!", "v")) in ("invalid_name", "not_found")
    assert put_secret(daemon, token, ".hidden", "v").status_code == 400
    r = put_secret(daemon, token, "big", "x" * (64 * 1024 + 1))
    assert r.status_code == 413 and error_code(r) == "value_too_large"
    assert put_secret(daemon, token, "big", "x" * (64 * 1024)).status_code == 201
    r = daemon.api("PUT", "/v1/secrets/k", token, json={"value": 5})
    assert r.status_code == 400
    assert daemon.api("GET", "/v1/secrets/k", token).status_code == 405  # values are never read back


def test_one_audit_entry_per_access_under_concurrency(daemon, dev):
    token, _ = dev
    name = unique("conc").replace("-", "_")
    put_secret(daemon, token, name, CANARY)
    fn = unique("concfn")
    daemon.deploy_ok(fn, """function main(input) {
  for (var i = 0; i < 3; i++) secrets.get(input.name);
  return 1;
}
""", token, secrets=[name])
    n = 32
    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(lambda _: daemon.invoke(fn, token, input={"name": name}), range(n)))
    assert all(r.status_code == 200 for r in results), [r.text for r in results if r.status_code != 200]
    gets = [e for e in audit_entries(daemon, function=fn) if e["action"] == "secret.get"]
    assert len(gets) == 3 * n and all(e["outcome"] == "ok" for e in gets)
    assert len({e["invocation_id"] for e in gets}) == n
    r = daemon.api("GET", "/v1/audit/verify", daemon.admin)
    assert r.json()["ok"] is True


def test_only_admins_read_the_audit_log_and_refusals_are_recorded(daemon, dev):
    token, owner = dev
    assert daemon.api("GET", "/v1/audit", token).status_code == 403
    assert daemon.api("GET", "/v1/audit/verify", token).status_code == 403
    refused = [e for e in audit_entries(daemon, actor=owner) if e["action"] == "audit.read"]
    assert refused and all(e["outcome"] == "denied" for e in refused)
    assert daemon.api("GET", "/v1/audit", None).status_code == 401
    r = daemon.api("GET", "/v1/audit", daemon.admin, params={"limit": "0"})
    assert r.status_code == 400


def _all_outputs(d):
    text = []
    for p in d.stderr_paths:
        if os.path.exists(p):
            text.append(open(p, "rb").read())
    for p in glob.glob(os.path.join(d.data, "*")):
        if os.path.isfile(p):
            text.append(open(p, "rb").read())
    return b"".join(text)


def test_plaintext_never_stored_or_logged(daemon, dev):
    token, _ = dev
    name = unique("canary").replace("-", "_")
    put_secret(daemon, token, name, CANARY)
    fn = unique("leaky")
    # even a function that tries to print and throw the value only leaks it to its own caller
    daemon.deploy_ok(fn, READER, token, secrets=[name])
    daemon.invoke(fn, token, input={"name": name, "expect": CANARY})
    for path in ("/v1/secrets", "/v1/audit", "/v1/functions", "/metrics"):
        tok = daemon.admin if path == "/v1/audit" else token
        assert CANARY not in daemon.api("GET", path, tok).text
    blob = _all_outputs(daemon)
    assert CANARY.encode() not in blob  # database, WAL, root file, logs


def _tamper(d, sql):
    db = sqlite3.connect(os.path.join(d.data, "fnbox.db"), timeout=10)
    db.executescript("DROP TRIGGER IF EXISTS audit_append_only_u;"
                     "DROP TRIGGER IF EXISTS audit_append_only_d;" + sql)
    db.commit()
    db.close()


def test_verify_detects_edits_and_deletions(tmp_path):
    d = start_daemon(tmp_path / "tamper")
    try:
        token, _ = d.developer()
        for i in range(4):
            put_secret(d, token, f"k{i}", CANARY)
        assert d.api("GET", "/v1/audit/verify", d.admin).json()["ok"] is True
        db = sqlite3.connect(os.path.join(d.data, "fnbox.db"), timeout=10)
        original = db.execute("SELECT actor FROM audit WHERE seq=3").fetchone()[0]
        db.close()
        _tamper(d, "UPDATE audit SET actor='mallory' WHERE seq=3;")
        v = d.api("GET", "/v1/audit/verify", d.admin).json()
        assert v["ok"] is False and v["first_bad_seq"] == 3
        _tamper(d, f"UPDATE audit SET actor='{original}' WHERE seq=3;")
        assert d.api("GET", "/v1/audit/verify", d.admin).json()["ok"] is True  # restored
        _tamper(d, "DELETE FROM audit WHERE seq=2;")
        v = d.api("GET", "/v1/audit/verify", d.admin).json()
        assert v["ok"] is False and v["first_bad_seq"] == 3
    finally:
        d.stop()


def test_audit_write_failure_means_no_secret(tmp_path):
    """Fail closed: make every audit insert fail (a trigger added behind fnboxd's back)."""
    d = start_daemon(tmp_path / "failclosed")
    try:
        token, _ = d.developer()
        name = "api_key"
        assert put_secret(d, token, name, CANARY).status_code == 201
        fn = unique("fc")
        d.deploy_ok(fn, CATCHER, token, secrets=[name])
        assert d.invoke(fn, token, input={"name": name}).json()["result"] == "delivered"
        db = sqlite3.connect(os.path.join(d.data, "fnbox.db"), timeout=10)
        db.executescript("CREATE TRIGGER block_audit BEFORE INSERT ON audit "
                         "BEGIN SELECT RAISE(ABORT, 'injected audit failure'); END;")
        db.close()
        r = d.invoke(fn, token, input={"name": name})
        assert r.status_code == 200
        assert r.json()["result"].startswith("Error:")  # not delivered
        assert CANARY not in r.text
        # writes fail closed too: nothing stored without its audit entry
        assert put_secret(d, token, "other", "v").status_code == 500
        db = sqlite3.connect(os.path.join(d.data, "fnbox.db"), timeout=10)
        db.executescript("DROP TRIGGER block_audit;")
        assert db.execute("SELECT count(*) FROM secrets WHERE name='other'").fetchone()[0] == 0
        db.close()
        assert d.invoke(fn, token, input={"name": name}).json()["result"] == "delivered"
    finally:
        d.stop()


def test_secrets_survive_restart_and_wrong_root_refuses_to_start(tmp_path):
    d = start_daemon(tmp_path / "restart")
    token, _ = d.developer()
    put_secret(d, token, "k", CANARY)
    fn = unique("rs")
    d.deploy_ok(fn, READER, token, secrets=["k"])
    d.stop()
    d.start()
    assert d.invoke(fn, token, input={"name": "k", "expect": CANARY}).json()["result"]["ok"]
    d.stop()
    other_root = tmp_path / "other.root"
    other_root.write_bytes(os.urandom(32))
    for extra in (["--sealing-root-file", str(other_root)], ["--sealing-policy", "measurement"]):
        p = subprocess.run([d.exe, "--listen", "127.0.0.1:1", "--data", d.data] + extra,
                           capture_output=True, timeout=30)
        assert p.returncode != 0
        assert b"cannot be unsealed" in p.stderr, p.stderr
        assert CANARY.encode() not in p.stderr
