"""Function zygotes: after a function's first invocation its workers come precompiled from a
zygote of their own. Each is still a fresh process: the isolation guarantees hold, the
function zygote is confined, and losing one costs only an error for the jobs it had."""

import os
import re
import signal
import time

import pytest

from conftest import error_code, start_daemon, unique, worker_tree

STATEFUL = """var calls = 0;
function main(input) {
  calls++;
  globalThis.leak = (globalThis.leak || 0) + 1;
  Object.prototype.polluted = true;
  return {calls: calls, leak: globalThis.leak, r: Math.random(), pid_free: typeof leak};
}"""


def metric(d, name, label):
    text = d.api("GET", "/metrics").text
    m = re.search(r'^%s\{%s\} (\d+)$' % (re.escape(name), re.escape(label)), text, re.M)
    return int(m.group(1)) if m else 0


def precompiled(d):
    return metric(d, "fnbox_workers_total", 'kind="precompiled"')


def invoke_until_precompiled(d, fn, token, body=None, tries=50):
    """Invokes until a precompiled worker answered; returns every result."""
    results, before = [], precompiled(d)
    for _ in range(tries):
        r = d.invoke(fn, token, input=body)
        assert r.status_code == 200, r.text
        results.append(r.json()["result"])
        if precompiled(d) > before:
            return results
        time.sleep(0.05)
    pytest.fail("no precompiled worker after %d invocations" % tries)


@pytest.fixture(scope="module")
def d(tmp_path_factory):
    daemon = start_daemon(tmp_path_factory.mktemp("fnz"))
    yield daemon
    daemon.stop()


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def function_zygotes(d):
    return worker_tree(d)[1]


def test_precompiled_workers_start_fresh(d):
    token, _ = d.developer()
    fn = unique("fresh")
    d.deploy_ok(fn, STATEFUL, token)
    results = invoke_until_precompiled(d, fn, token)
    for _ in range(10):
        r = d.invoke(fn, token)
        assert r.status_code == 200
        results.append(r.json()["result"])
    # every invocation, precompiled or not, saw a fresh heap: nothing carried over
    assert all(x["calls"] == 1 and x["leak"] == 1 for x in results), results
    # and its own random sequence
    rs = [x["r"] for x in results]
    assert len(set(rs)) == len(rs)
    assert precompiled(d) >= 10


def test_errors_and_limits_in_precompiled_workers(d):
    token, _ = d.developer()
    fn = unique("err")
    d.deploy_ok(fn, "function main(input) { if (input.ok) return 'ok'; if (input.loop) { while (true) {} }\n"
                    "  if (input.grow) { var a = []; while (true) a.push(new Array(1e5)); }\n"
                    "  throw new TypeError('bad ' + input.n); }", token,
                limits={"timeout_ms": 500, "memory_mb": 32})
    # a function zygote is asked for after a successful invocation
    invoke_until_precompiled(d, fn, token, body={"ok": True})
    invoke_errors = []
    before = precompiled(d)
    for i in range(8):
        r = d.invoke(fn, token, input={"n": i})
        invoke_errors.append(r.json()["error"])
    assert precompiled(d) > before
    assert all(e["code"] == "function_error" and e["name"] == "TypeError" for e in invoke_errors)
    assert invoke_errors[-1]["message"] == "bad 7" and invoke_errors[-1]["line"] == 3
    r = d.invoke(fn, token, input={"loop": True})
    assert r.status_code == 504 and error_code(r) == "timeout", r.text
    r = d.invoke(fn, token, input={"grow": True})
    assert error_code(r) == "memory_limit", r.text
    d.assert_serving()


def test_function_zygote_is_confined(d):
    token, _ = d.developer()
    fn = unique("conf")
    d.deploy_ok(fn, "function main() { return 1; }", token)
    invoke_until_precompiled(d, fn, token)
    fz = function_zygotes(d)
    assert fz, "no function zygote found"
    for p in fz:
        st = _status(p)
        if os.geteuid() == 0:
            assert st["Uid"].split()[0] == "65534", st["Uid"]
        assert int(st["CapEff"], 16) == 0 and int(st["CapPrm"], 16) == 0
        assert int(st["CapBnd"], 16) == 0
        assert st["NoNewPrivs"] == "1"
        assert st["Seccomp"] == "2"
        # stdio, its signalfd, its socket to the zygote, its idle workers' sockets and pidfds
        # (the default pool of 2): no file, no descriptor of fnboxd's
        targets = sorted(os.readlink(f"/proc/{p}/fd/{fd}") for fd in os.listdir(f"/proc/{p}/fd")
                         if int(fd) > 2)
        assert len(targets) <= 2 + 2 * 2, targets
        assert all(t.startswith("socket:") or t in ("anon_inode:[signalfd]", "anon_inode:[pidfd]")
                   for t in targets), targets


def test_losing_a_function_zygote_costs_nothing_but_time(d):
    token, _ = d.developer()
    fn = unique("kill")
    d.deploy_ok(fn, "function main(i) { return i * 2; }", token)
    invoke_until_precompiled(d, fn, token, body=1)
    for p in function_zygotes(d):
        os.kill(p, signal.SIGKILL)
    # the next invocations fall back to ordinary workers, then a new function zygote
    for i in range(20):
        r = d.invoke(fn, token, input=i)
        assert r.status_code == 200 and r.json()["result"] == 2 * i, r.text
        time.sleep(0.06)
    invoke_until_precompiled(d, fn, token, body=3)


def test_a_new_version_gets_its_own_compiled_code(d):
    token, _ = d.developer()
    fn = unique("ver")
    d.deploy_ok(fn, "function main() { return 'one'; }", token)
    assert invoke_until_precompiled(d, fn, token)[-1] == "one"
    d.deploy_ok(fn, "function main() { return 'two'; }", token)
    results = invoke_until_precompiled(d, fn, token)
    assert set(results) == {"two"}


def test_off_switch(tmp_path):
    d = start_daemon(tmp_path / "off", ["--function-zygotes", "0"])
    try:
        token, _ = d.developer()
        fn = unique("off")
        d.deploy_ok(fn, STATEFUL, token)
        for _ in range(5):
            r = d.invoke(fn, token)
            assert r.status_code == 200 and r.json()["result"]["calls"] == 1
            time.sleep(0.05)
        assert precompiled(d) == 0
    finally:
        d.stop()
