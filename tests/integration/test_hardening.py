"""Fixes from the security review, each attacked for real."""

import os
import socket
import subprocess
import time

from conftest import binary, free_port, start_daemon, unique, worker_tree


def _raw(d, request, timeout=5):
    s = socket.create_connection(("127.0.0.1", d.port), timeout=timeout)
    try:
        s.sendall(request)
        s.settimeout(timeout)
        return s.recv(4096)
    finally:
        s.close()


def test_refusals_come_before_the_body_is_read(daemon):
    """No token: 401 at once, with a 2 MB body declared but never sent."""
    t0 = time.monotonic()
    head = _raw(daemon, b"POST /v1/functions/x/invoke HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Length: 2000000\r\nContent-Type: application/json\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 401"), head[:100]
    assert time.monotonic() - t0 < 3
    head = _raw(daemon, b"PUT /v1/nowhere HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 404"), head[:100]
    # declared over the cap with a valid token: 413 without reading it
    head = _raw(daemon, b"POST /v1/functions/x/invoke HTTP/1.1\r\nHost: x\r\n"
                        b"Authorization: Bearer " + daemon.admin.encode() + b"\r\n"
                        b"Content-Length: 999999999\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413"), head[:100]


def test_a_second_daemon_cannot_share_the_port(daemon, tmp_path):
    p = subprocess.run([binary(), "--listen", f"127.0.0.1:{daemon.port}",
                        "--data", str(tmp_path / "second")], capture_output=True, timeout=30)
    assert p.returncode != 0, "a second fnboxd bound the same port (SO_REUSEPORT?)"
    assert b"cannot listen" in p.stderr
    daemon.assert_serving()


def test_big_integers_and_nul_in_json(daemon, dev):
    token, _ = dev
    name = unique("bigint")
    daemon.deploy_ok(name, "function main(i) { return {echo: i, big: 1e19, nul: 'a\\u0000b'}; }\n",
                     token)
    r = daemon.api("POST", f"/v1/functions/{name}/invoke", token,
                   data=b'{"amount":10000000000000000000,"s":"x\\u0000y"}',
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 200, r.text
    body = r.json()["result"]
    assert body["big"] == 1e19 and body["nul"] == "a\x00b"
    assert body["echo"] == {"amount": 1e19, "s": "x\x00y"}


def test_data_directory_others_can_write_is_refused(tmp_path):
    data = tmp_path / "shared"
    data.mkdir()
    os.chmod(data, 0o777)
    p = subprocess.run([binary(), "--listen", f"127.0.0.1:{free_port()}", "--data", str(data)],
                       capture_output=True, timeout=30)
    assert p.returncode != 0
    assert b"not writable by group or others" in p.stderr
    assert not (data / "fnbox.db").exists()  # nothing was created in it
    os.chmod(data, 0o700)
    d = start_daemon(tmp_path, data_dir=data)
    try:
        d.assert_serving()
        for f in ("fnbox.db", "admin.token", "sealing.root"):
            assert os.stat(data / f).st_mode & 0o077 == 0, f
    finally:
        d.stop()


def test_worker_does_not_outlive_its_answer(daemon, dev):
    """After the result the worker is gone: no process left running under the zygote."""
    token, _ = dev
    name = unique("quick")
    daemon.deploy_ok(name, "function main() { return 1; }\n", token)
    for _ in range(20):
        assert daemon.invoke(name, token).status_code == 200
    time.sleep(0.3)
    _, fnz, workers = worker_tree(daemon)
    # only pre-forked idle workers (at most --prefork, default 2, per zygote) remain
    assert len(workers) <= 2 * (1 + len(fnz)), (fnz, workers)


def _ppid(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            s = f.read()
        return int(s[s.rfind(")") + 2:].split()[1])
    except (OSError, ValueError, IndexError):
        return -1


def _comm(pid):
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def test_zygote_executable_is_measured_and_required(tmp_path):
    """fnboxd runs the zygote from the file beside it, measures those bytes, and refuses to
    start without it, or with one that does not speak its protocol."""
    import hashlib
    import shutil
    out = subprocess.run([binary("fnboxd"), "--measure"], capture_output=True, text=True,
                         timeout=30, check=True).stdout
    with open(binary("fnbox-zygote"), "rb") as f:
        assert f"zygote={hashlib.sha256(f.read()).hexdigest()}" in out.splitlines()
    alone = tmp_path / "alone"
    alone.mkdir()
    shutil.copy2(binary("fnboxd"), alone / "fnboxd")
    p = subprocess.run([str(alone / "fnboxd"), "--listen", f"127.0.0.1:{free_port()}", "--data",
                        str(tmp_path / "data")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "fnbox-zygote" in p.stderr and "No such file" in p.stderr
    # another program in its place: it never says hello, fnboxd gives up
    (alone / "fnbox-zygote").write_text("#!/bin/sh\nexit 0\n")
    os.chmod(alone / "fnbox-zygote", 0o755)
    p = subprocess.run([str(alone / "fnboxd"), "--listen", f"127.0.0.1:{free_port()}", "--data",
                        str(tmp_path / "data2")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "cannot start the zygote" in p.stderr
    # an unguarded zygote (group-writable) is refused
    shutil.copy2(binary("fnbox-zygote"), alone / "fnbox-zygote")
    os.chmod(alone / "fnbox-zygote", 0o775)
    p = subprocess.run([str(alone / "fnboxd"), "--listen", f"127.0.0.1:{free_port()}", "--data",
                        str(tmp_path / "data3")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 1 and "Operation not permitted" in p.stderr, p.stderr
    # the running zygote is the sealed copy fnboxd measured, not the file: rewriting the file
    # in place after start-up changes nothing that runs
    os.chmod(alone / "fnbox-zygote", 0o755)
    d = start_daemon(tmp_path / "run", exe=str(alone / "fnboxd"))
    try:
        zyg = worker_tree(d)[0]
        assert os.readlink(f"/proc/{zyg}/exe").startswith("/memfd:fnbox-zygote")
        with open(f"/proc/{zyg}/exe", "rb") as f:
            running = hashlib.sha256(f.read()).hexdigest()
        with open(alone / "fnbox-zygote", "r+b") as f:
            f.write(b"\x00" * 64)  # rewritten in place
        with open(f"/proc/{zyg}/exe", "rb") as f:
            assert hashlib.sha256(f.read()).hexdigest() == running
        m = subprocess.run([binary("fnboxd"), "--measure"], capture_output=True, text=True,
                           timeout=30, check=True).stdout
        assert f"zygote={running}" in m.splitlines()
        d.assert_serving()
    finally:
        d.stop()
    # and the zygote will not run when not started by fnboxd
    p = subprocess.run([binary("fnbox-zygote")], capture_output=True, text=True, timeout=30)
    assert p.returncode == 2 and "started by fnboxd only" in p.stderr
