"""fnboxd started by an ordinary (non-root) user still confines and runs functions."""

import os
import shutil
import tempfile
import time

import pytest

from conftest import Daemon, binary, error_code, run_as_prefix, unique

NOBODY = 65534


@pytest.fixture
def nobody_daemon():
    if os.geteuid() != 0:
        pytest.skip("not root: the whole suite already runs fnboxd as an ordinary user")
    if run_as_prefix(NOBODY, NOBODY) is None:
        pytest.skip("running as root but neither setpriv nor runuser is installed")
    work = tempfile.mkdtemp(prefix="fnbox-nonroot-", dir="/tmp")
    os.chmod(work, 0o755)
    # a copy of the binary in a directory uid 65534 can reach (the build dir may not be)
    exe = os.path.join(work, "fnboxd")
    for name in ("fnboxd", "fnbox-zygote"):  # fnboxd runs the zygote from its own directory
        shutil.copy2(binary(name), os.path.join(work, name))
        os.chmod(os.path.join(work, name), 0o755)
    data = os.path.join(work, "data")
    os.mkdir(data, 0o700)
    os.chown(data, NOBODY, NOBODY)
    d = Daemon(work, data_dir=data, run_as=(NOBODY, NOBODY), exe=exe)
    try:
        d.start()
        yield d
        d.stop()
    finally:
        if d.proc is not None:
            d.stop(check=False)
        shutil.rmtree(work, ignore_errors=True)


def _uids(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("Uid:"):
                return [int(x) for x in line.split()[1:]]
    return []


def test_runs_as_nobody(nobody_daemon):
    d = nobody_daemon
    assert _uids(d.proc.pid) == [NOBODY] * 4

    st = os.stat(os.path.join(d.data, "admin.token"))
    assert st.st_uid == NOBODY and (st.st_mode & 0o777) == 0o600

    r = d.api("GET", "/readyz")
    assert r.status_code == 200, r.text
    c = r.json()["confinement"]
    assert c["uid_switch"] is False, c
    for key in ("seccomp", "no_new_privs", "caps_dropped", "rlimits"):
        assert c[key] is True, (key, c)

    tok, _ = d.developer()
    name = unique("nobody")
    d.deploy_ok(name, "function main(i, ctx) { console.log('hi'); return i.a + 1; }\n", tok)
    r = d.invoke(name, tok, input={"a": 41})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == 42 and r.json()["logs"] == ["hi"]

    # limits still work without root
    loop = unique("loop")
    d.deploy_ok(loop, "function main() { for (;;) {} }\n", tok, limits={"timeout_ms": 500})
    t0 = time.monotonic()
    r = d.invoke(loop, tok, input={})
    assert r.status_code == 504 and error_code(r) == "timeout", r.text
    assert time.monotonic() - t0 < 4
    bomb = unique("bomb")
    d.deploy_ok(bomb, "function main() { var s = 'x'; for (;;) s = s + s; }\n", tok,
                limits={"memory_mb": 16})
    r = d.invoke(bomb, tok, input={})
    assert r.status_code == 500 and error_code(r) == "memory_limit", r.text
    d.assert_serving(tok)
