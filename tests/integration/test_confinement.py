"""Confinement, attacked and inspected.

- Every forbidden system call, made raw from inside a worker confined exactly as in
  production (fnboxd-testhooks adds only the JS function that makes the call), ends the
  worker with SIGSYS -> 500 sandbox_violation; the allowed control group comes back.
- Idle pre-forked workers, inspected from outside through /proc, hold exactly the socket
  (fd 3), run under the filter with no_new_privs, no capabilities (bounding set included),
  the worker uid, and the rlimits.
- 10,000 invocations leave no zombie and no leaked descriptor in fnboxd.
"""

import concurrent.futures
import os
import signal
import time

import pytest

from conftest import children, start_daemon, unique, worker_tree

FORBIDDEN = [
    "socket", "socket_unix", "connect", "open", "openat", "openat2", "execve", "execveat",
    "fork", "vfork", "clone", "clone3", "ptrace", "bpf", "userfaultfd", "perf_event_open",
    "keyctl", "io_uring_setup", "mount", "unshare", "setns", "kill", "setuid", "prctl",
    "seccomp", "getpid",
    "read_stdin", "write_stderr", "write_fd3_high_bits",      # read/write only on fd 3
    "ioctl", "ioctl_tiocsti",                                  # no ioctl at all, high bits or not
    "mmap_exec", "mprotect_exec",                              # never executable memory
    "x32_getpid", "x32_socket",                                # the x32 ABI
    "int80_getpid", "int80_socketcall",                        # the i386 entry point
    "prlimit_cpu_get", "prlimit_as_get", "prlimit_pid1_cpu",   # no rlimit calls (a snapshot
    "setrlimit_cpu",                                           # worker's: test_snapshot.py)
]
ALLOWED = {"getrandom": 16, "clock_gettime": 0, "mmap_rw": 1}


@pytest.fixture(scope="module", params=["1", "0"], ids=["namespaces", "no-namespaces"])
def hooked(tmp_path_factory, request):
    # every attack also where no namespace is available (--namespaces 0 behaves as a kernel
    # that refuses them): seccomp, rlimits and identity must hold on their own
    d = start_daemon(tmp_path_factory.mktemp("hooked"), ["--namespaces", request.param],
                     binary_name="fnboxd-testhooks")
    if request.param == "0":
        conf = d.api("GET", "/readyz").json()["confinement"]
        assert not any(conf[k] for k in ("net_namespace", "ipc_namespace", "uts_namespace",
                                         "pid_namespace", "mount_namespace_empty_root"))
    d.deploy_ok("sc", "function main(i) { return __fnbox_test_syscall(i.name); }\n", d.admin)
    yield d
    d.stop()


@pytest.mark.parametrize("name", FORBIDDEN)
def test_forbidden_syscall_kills_the_worker(hooked, name):
    r = hooked.invoke("sc", hooked.admin, input={"name": name})
    assert r.status_code == 500, r.text
    assert r.json()["error"]["code"] == "sandbox_violation", r.text
    hooked.assert_serving()


@pytest.mark.parametrize("name,value", sorted(ALLOWED.items()))
def test_allowed_syscalls_still_work(hooked, name, value):
    r = hooked.invoke("sc", hooked.admin, input={"name": name})
    assert r.status_code == 200, r.text
    assert r.json()["result"] == value


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def _limits(pid):
    out = {}
    with open(f"/proc/{pid}/limits") as f:
        for line in f.readlines()[1:]:
            name = line[:26].strip()
            soft, hard = line[26:47].strip(), line[47:68].strip()
            out[name] = (soft, hard)
    return out


def _zygote(d):
    zs = [p for p in children(d.proc.pid) if open(f"/proc/{p}/comm").read().strip() == "fnbox-zygote"]
    assert len(zs) == 1, zs
    return zs[0]


def _idle_workers(d, want=1, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        ws = worker_tree(d)[2]  # the zygote's and the function zygotes' idle workers
        if len(ws) >= want:
            return ws
        time.sleep(0.05)
    pytest.fail("no idle pre-forked worker appeared")


@pytest.mark.skipif(os.geteuid() != 0, reason="reading another uid's /proc entries needs root")
def test_idle_worker_is_confined_before_it_sees_code(daemon, dev):
    token, _ = dev
    name = unique("warm")
    daemon.deploy_ok(name, "function main() { return 1; }\n", token)
    assert daemon.invoke(name, token).status_code == 200  # sets the pool's limits class
    time.sleep(0.2)  # the worker that answered is gone; its function zygote may be starting
    checked = 0
    for pid in _idle_workers(daemon):
        try:
            fds = sorted(os.listdir(f"/proc/{pid}/fd"))
            st = _status(pid)
        except FileNotFoundError:
            continue  # handed out or replaced meanwhile: the others are checked
        checked += 1
        assert fds == ["3"]  # the socket, nothing else
        assert st["Seccomp"].strip() == "2"  # filter mode
        assert st["NoNewPrivs"].strip() == "1"
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[cap].strip(), 16) == 0, (cap, st[cap])
        assert st["Uid"].split() == ["65534"] * 4 and st["Gid"].split() == ["65534"] * 4
        assert st["Groups"].strip() == ""
        lim = _limits(pid)
        assert lim["Max core file size"] == ("0", "0")
        assert lim["Max file size"] == ("0", "0")
        assert lim["Max open files"] == ("4", "4")
        assert lim["Max processes"] == ("0", "0")
        assert lim["Max cpu time"] == ("5", "6")  # default timeout_ms 5000 -> 5 s soft
        assert lim["Max address space"][0] != "unlimited"
    assert checked, "no idle worker could be inspected"


def test_ten_thousand_invocations_leave_no_zombie_or_leaked_fd(daemon, dev):
    token, _ = dev
    name = unique("many")
    daemon.deploy_ok(name, "function main(i) { return i; }\n", token)
    assert daemon.invoke(name, token, input=0).status_code == 200
    fds_before = len(os.listdir(f"/proc/{daemon.proc.pid}/fd"))
    import requests
    sessions = [requests.Session() for _ in range(8)]

    def run(k):
        s = sessions[k % 8]
        ok = 0
        for i in range(1250):
            r = s.post(daemon.url(f"/v1/functions/{name}/invoke"), data=str(i),
                       headers={"Authorization": f"Bearer {token}"}, timeout=30)
            ok += r.status_code == 200
        return ok
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(run, range(8))) == 10000
    for s in sessions:
        s.close()
    time.sleep(0.5)
    _, fnz, kids = worker_tree(daemon)
    # only idle pools (--prefork 2): the zygote's, and its function zygote's
    assert len(kids) <= 2 * (1 + len(fnz)), (fnz, kids)
    for pid in kids + fnz:
        assert _status(pid)["State"][0] != "Z", "zombie worker"
    fds_after = len(os.listdir(f"/proc/{daemon.proc.pid}/fd"))
    assert fds_after <= fds_before + 2, (fds_before, fds_after)
    daemon.assert_serving()


def test_zygote_runs_under_its_own_filter(daemon):
    z = _zygote(daemon)
    assert _status(z)["Seccomp"].strip() == "2"
    assert _status(z)["NoNewPrivs"].strip() == "1"
    assert daemon.api("GET", "/readyz").json()["confinement"]["zygote_seccomp"] is True
    # the gateway itself is not under a filter (it opens the database, sockets, files)
    assert _status(daemon.proc.pid)["Seccomp"].strip() == "0"


@pytest.mark.skipif(os.geteuid() != 0, reason="the privilege drop happens only when started as root")
def test_started_as_root_only_the_zygote_keeps_root(daemon):
    gw = _status(daemon.proc.pid)
    assert gw["Uid"].split() == ["65533"] * 4, gw["Uid"]  # --gateway-uid default
    assert int(gw["CapEff"].strip(), 16) == 0 and int(gw["CapBnd"].strip(), 16) == 0
    assert gw["Groups"].strip() == ""
    z = _status(_zygote(daemon))
    assert z["Uid"].split()[1] == "0"  # it sets worker identities
    ready = daemon.api("GET", "/readyz").json()["confinement"]
    assert ready["gateway_uid"] == 65533 and ready["worker_uid"] == 65534
    st = os.stat(daemon.data)
    assert st.st_uid == 65533 and st.st_mode & 0o777 == 0o700
    # what the gateway never needs again stays root's
    for f in ("sealing.root", "admin.token"):
        s = os.stat(os.path.join(daemon.data, f))
        assert s.st_uid == 0 and s.st_mode & 0o777 == 0o600, f
    daemon.assert_serving()


def test_zygote_and_workers_see_no_filesystem(daemon, dev):
    """A private mount namespace whose root is an empty read-only tmpfs."""
    assert daemon.api("GET", "/readyz").json()["confinement"]["mount_namespace_empty_root"] is True
    z = _zygote(daemon)
    if os.geteuid() == 0:
        assert os.listdir(f"/proc/{z}/root/") == []
        for pid in _idle_workers(daemon):
            assert os.listdir(f"/proc/{pid}/root/") == []
    token, _ = dev
    name = unique("fsv")
    daemon.deploy_ok(name, "function main() { return new Date(0).getHours(); }\n", token)
    assert daemon.invoke(name, token).json()["result"] == 0  # the zone was loaded before


def test_workers_live_in_a_pid_namespace_that_dies_with_the_zygote(tmp_path):
    d = start_daemon(tmp_path / "pidns")
    try:
        ready = d.api("GET", "/readyz").json()["confinement"]
        if not ready["pid_namespace"]:
            pytest.skip("the kernel refused a PID namespace here")
        token, _ = d.developer()
        fn = unique("ns")
        d.deploy_ok(fn, "function main() { return 1; }", token)
        assert d.invoke(fn, token).status_code == 200
        time.sleep(0.2)  # the worker that answered is gone
        zyg, fnz, workers = _idle_after(d)
        seen = 0
        for p in workers + fnz:
            try:
                nspid = _status(p)["NSpid"].split()
            except FileNotFoundError:
                continue  # handed out or replaced meanwhile
            seen += 1
            assert len(nspid) == 2 and int(nspid[1]) > 1, nspid  # a nested namespace, not its init
        assert seen
        inits = [p for p in children(zyg) if open(f"/proc/{p}/comm").read().strip() == "fnbox-pidns-ini"]
        assert len(inits) == 1 and _status(inits[0])["NSpid"].split()[1] == "1"
        everyone = workers + fnz + inits
        os.kill(zyg, signal.SIGKILL)
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and any(os.path.exists(f"/proc/{p}") and
                                                  _status(p)["State"][0] != "Z" for p in everyone):
            time.sleep(0.05)
        left = [p for p in everyone if os.path.exists(f"/proc/{p}") and _status(p)["State"][0] != "Z"]
        assert not left, left
    finally:
        d.stop(check=False)


def _idle_after(d, timeout=5):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        zyg, fnz, workers = worker_tree(d)
        if workers:
            return zyg, fnz, workers
        time.sleep(0.05)
    pytest.fail("no idle worker appeared")
