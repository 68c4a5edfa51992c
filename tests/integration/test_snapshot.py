"""Snapshot isolation (isolation "snapshot"), attacked.

A snapshot function is served by long-lived snapshot workers, forked by its function zygote
from a frozen heap and reset to it after each result. These tests check, from outside, that

- nothing one invocation writes (globals, prototypes, builtins, closures, big strings, a secret
  it read, memory it used) is seen by the next one served by the *same* worker process;
- after any error or limit the worker that served it is gone, and the next invocation gets a
  new one; after --snapshot-max-uses invocations a worker is replaced too;
- Math.random never replays; the workers are confined like any worker, and their seccomp
  filter admits prlimit64 on their own RLIMIT_CPU and nothing more;
- deploy validation, fetch() and secrets, killed idle workers and function zygotes, and idle
  workers ended after --snapshot-idle-seconds.

What served each invocation is read two ways. fnboxd's counters say whether it was a new
snapshot worker (fnbox_workers_total{kind="snapshot"}) or one reused after a reset
(fnbox_snapshot_reuses_total). As root, /proc also says which process: the function zygote's
child whose read byte count (/proc/PID/io rchar) grew during the invocation (a worker reads its
job before it answers), or else the one that disappeared (it died of the job). Workers are not
dumpable, so without root only the counters are checked.
"""

import concurrent.futures
import os
import re
import signal
import time

import pytest

from conftest import (_alive, children, error_code, metric, snapshot_reuses, snapshot_starts,
                      start_daemon, unique, warm_snapshot, worker_tree)

ROOT = os.geteuid() == 0  # /proc/PID/io of a non-dumpable worker needs it

# ---- fixtures ---------------------------------------------------------------------------
# Each daemon stays under 16 snapshot functions: an idle snapshot worker keeps its function
# zygote's slot in the zygote taken (see the module's last test).


@pytest.fixture(scope="module")
def d(tmp_path_factory, up):
    daemon = start_daemon(tmp_path_factory.mktemp("snap"), [
        "--egress-allow-private", "127.0.0.0/8", "--egress-allow-http", up.hostport(),
        "--snapshot-lanes", "2"])
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def e(tmp_path_factory):
    daemon = start_daemon(tmp_path_factory.mktemp("snaperr"))
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    daemon = start_daemon(tmp_path_factory.mktemp("snaphooks"), binary_name="fnboxd-testhooks")
    yield daemon
    daemon.stop()


@pytest.fixture(scope="module")
def short(tmp_path_factory):
    daemon = start_daemon(tmp_path_factory.mktemp("snapshort"), ["--snapshot-max-uses", "3"])
    yield daemon
    daemon.stop()


# ---- helpers ----------------------------------------------------------------------------

_NO_INPUT = object()


def _status(pid):
    with open(f"/proc/{pid}/status") as f:
        return dict(line.rstrip("\n").split(":\t", 1) for line in f if ":\t" in line)


def wait_gone(pid, timeout=5):
    deadline = time.monotonic() + timeout
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    return not _alive(pid)


def _bytes_read(pid):
    """Bytes worker pid has read (its jobs); None when it is gone or a zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            st = f.read()
        if st[st.rfind(")") + 2] == "Z":
            return None
        with open(f"/proc/{pid}/io") as f:
            return int(re.search(r"^rchar: (\d+)$", f.read(), re.M).group(1))
    except (FileNotFoundError, ProcessLookupError):
        return None


class Served:
    def __init__(self, r, kind, pid):
        self.r = r          # the response
        self.kind = kind    # "new" or "reused" snapshot worker, or "other"
        self.pid = pid      # the worker process (None without root)


class Snap:
    """A snapshot function deployed on d and warmed up (a snapshot worker has served it after a
    heap reset), with its function zygote."""

    def __init__(self, d, token, code, warm_input=_NO_INPUT, prefix="snap", **fields):
        self.d, self.token = d, token
        self.name = unique(prefix)
        zygotes_before = set(worker_tree(d)[1])
        reply = d.deploy_ok(self.name, code, token, isolation="snapshot", **fields)
        assert reply["isolation"] == "snapshot", reply
        kw = {} if warm_input is _NO_INPUT else {"input": warm_input}
        self.warm = warm_snapshot(d, self.name, token, **kw)
        new = set(worker_tree(d)[1]) - zygotes_before
        if len(new) > 1 and ROOT:  # another function's zygote came up meanwhile: ours has the
            new = {f for f in new if any(_bytes_read(p) for p in children(f))}  # used worker
        assert len(new) == 1, f"want this function's zygote, got {new}"
        self.fz = new.pop()

    def activity(self):
        """{pid: bytes read} of the function zygote's live children (root only)."""
        counts = {p: _bytes_read(p) for p in children(self.fz)}
        return {p: n for p, n in counts.items() if n is not None}

    def invoke(self, input=_NO_INPUT):
        starts, reuses = snapshot_starts(self.d), snapshot_reuses(self.d)
        before = self.activity() if ROOT else {}
        r = self.d.invoke(self.name, self.token, **({} if input is _NO_INPUT else {"input": input}))
        pid = None
        if ROOT:
            after = self.activity()
            # the worker that read the job; else (it died of it meanwhile) the one that is
            # gone. A worker ended after an earlier invocation may disappear now too: reading
            # wins.
            served = ({p for p, n in after.items() if n > before.get(p, 0)}
                      or set(before) - set(after))
            assert len(served) == 1, f"cannot tell which worker served: {before} -> {after}"
            pid = served.pop()
        grew = (snapshot_starts(self.d) - starts, snapshot_reuses(self.d) - reuses)
        kind = {(1, 0): "new", (0, 1): "reused", (0, 0): "other"}.get(grew)
        assert kind, f"one invocation moved the counters by {grew}"
        return Served(r, kind, pid)

    def ok(self, input=_NO_INPUT, kind="reused"):
        """The result of an invocation that must succeed, served by a worker of that kind."""
        s = self.invoke(input)
        assert s.r.status_code == 200, (s.r.status_code, s.r.text[:500])
        assert s.kind == kind, f"served by a {s.kind} worker, want {kind}"
        return s.r.json()["result"], s.pid


def same_worker(pids):
    assert not ROOT or len(set(pids)) == 1, f"served by several workers: {pids}"


# ---- state does not carry over -----------------------------------------------------------

STATEFUL = r"""var counter = (function () { var n = 0; return function () { return ++n; }; })();
var calls = 0;
var origPush = Array.prototype.push;
function main(input) {
  var g = (function () { return this; })();
  var probe = {};
  var seen = {
    calls: ++calls,
    closure: counter(),
    own: main.mark === undefined ? null : main.mark,
    global: typeof g.leak,
    proto: probe.polluted === undefined ? null : probe.polluted,
    getter: probe.trap === undefined ? null : probe.trap,
    push_is_original: Array.prototype.push === origPush,
    push_works: (function () { var a = []; a.push(7); return a.length === 1 && a[0] === 7; })(),
    map: typeof [].map,
    pow: Math.pow(2, 3),
    json: JSON.stringify({a: 1}),
    big: typeof g.big,
    stolen: g.stolen === undefined ? null : g.stolen,
    frozen_object: Object.isFrozen(Object.prototype)
  };
  // now trash everything reachable
  g.leak = 'leaked';
  main.mark = 'marked';
  Object.prototype.polluted = 'polluted';
  Object.defineProperty(Object.prototype, 'trap',
                        {get: function () { return 'trapped'; }, configurable: true});
  Array.prototype.push = function () { return -1; };
  delete Array.prototype.map;
  Math.pow = function () { return -1; };
  JSON.stringify = function () { return 'hijacked'; };
  var big = 'b';
  for (var i = 0; i < (input.big_pow || 20); i++) big = big + big;  // 1 MiB by default
  g.big = big;
  if (input.secret) g.stolen = secrets.get(input.secret);
  if (input.freeze) Object.freeze(Object.prototype);
  return seen;
}
"""

PRISTINE = {"calls": 1, "closure": 1, "own": None, "global": "undefined", "proto": None,
            "getter": None, "push_is_original": True, "push_works": True, "map": "function",
            "pow": 8, "json": '{"a":1}', "big": "undefined", "stolen": None,
            "frozen_object": False}

SECRET_VALUE = "snapshot-secret-5d1f0a77-must-not-carry-over"


def put_secret(d, token, name, value):
    r = d.api("PUT", f"/v1/secrets/{name}", token, json={"value": value})
    assert r.status_code == 201, r.text


def test_state_written_by_one_invocation_is_not_seen_by_the_next(d):
    token, _ = d.developer()
    secret = unique("key").replace("-", "_")
    put_secret(d, token, secret, SECRET_VALUE)
    fn = Snap(d, token, STATEFUL, warm_input={}, secrets=[secret], prefix="state")
    assert all(x == PRISTINE for x in fn.warm), fn.warm
    pids = []
    for inp in [{"secret": secret}, {}, {"big_pow": 22}, {"freeze": True}, {"secret": secret}, {}]:
        res, pid = fn.ok(inp)  # each one on a reused worker
        assert res == PRISTINE, (inp, res)
        pids.append(pid)
    same_worker(pids)


def test_memory_used_by_one_invocation_is_given_back(d):
    """Each invocation fills half its memory_mb and keeps it in a global; if the reset did not
    give the memory back (or its accounting), the next would hit the limit. One runs out of
    memory and catches it."""
    token, _ = d.developer()
    code = r"""function main(input) {
  var g = (function () { return this; })();
  if (input.exhaust) {
    try { var e = 'e'; for (;;) e = e + e; }
    catch (err) { return 'caught'; }
  }
  var s = 'x';
  for (var i = 0; i < 24; i++) s = s + s;   // 16 MiB
  g.keep = [s, s + 'y'];                       // 32 MiB live, kept in a global
  return g.keep[1].length;
}
"""
    fn = Snap(d, token, code, warm_input={}, limits={"memory_mb": 64, "timeout_ms": 5000},
              prefix="mem")
    pids = []
    for inp in ({}, {}, {"exhaust": True}, {}, {}):
        res, pid = fn.ok(inp)
        assert res == ("caught" if inp else (1 << 24) + 1), res
        pids.append(pid)
    same_worker(pids)


def test_concurrent_invocations_each_see_a_fresh_heap(d):
    token, _ = d.developer()
    code = STATEFUL.replace("function main(input) {", "function main(input) {\n"
                            "  var t = Date.now(); while (Date.now() - t < 40) {}")
    fn = Snap(d, token, code, warm_input={}, prefix="burst")
    reuses, starts = snapshot_reuses(d), snapshot_starts(d)

    def one(i):
        r = d.invoke(fn.name, token, input={"big_pow": 20 + i % 2})
        assert r.status_code == 200, r.text[:300]
        return r.json()["result"]

    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        results = list(pool.map(one, range(32)))
    assert all(x == PRISTINE for x in results), results
    assert snapshot_reuses(d) > reuses
    assert snapshot_starts(d) - starts > 2, "no burst: more than the 2 lanes never ran"
    if ROOT:  # surplus workers do not outlive the burst (--snapshot-lanes 2)
        deadline = time.monotonic() + 5
        while len([n for n in fn.activity().values() if n]) > 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        used = {p: n for p, n in fn.activity().items() if n}
        assert len(used) <= 2, used


# ---- errors and limits end the worker -----------------------------------------------------

FAILING = r"""var calls = 0;
function main(input) {
  var g = (function () { return this; })();
  var seen = {calls: ++calls, leak: typeof g.leak, proto: ({}).polluted === undefined};
  g.leak = 1;
  Object.prototype.polluted = 1;
  if (input.mode === 'throw') throw new RangeError('boom');
  if (input.mode === 'timeout') { for (;;) {} }
  if (input.mode === 'memory') { var s = 'x'; for (;;) s = s + s; }
  if (input.mode === 'output') return new Array(5000).join('o');
  if (input.mode === 'logs') { for (var i = 0; i < 1000; i++) console.log('line ' + i); }
  if (input.mode === 'syscall') return __fnbox_test_syscall(input.name);
  return seen;
}
"""
FRESH = {"calls": 1, "leak": "undefined", "proto": True}
LIMITS = {"timeout_ms": 400, "memory_mb": 16, "max_output_bytes": 1024}


def check_error_ends_worker(fn, bad_input, status, code):
    """fn's idle snapshot worker serves bad_input: the error comes back, that worker is gone,
    and the next invocation gets a new snapshot worker and a fresh heap."""
    res, pid = fn.ok({})
    assert res == FRESH, res
    s = fn.invoke(bad_input)
    assert s.r.status_code == status, (s.r.status_code, s.r.text[:500])
    assert error_code(s.r) == code, s.r.text[:500]
    assert s.kind == "reused", s.kind  # a worker after a reset served it
    if ROOT:
        assert s.pid == pid, (s.pid, pid)
        assert wait_gone(pid), f"worker {pid} outlived its {code}"
    res, pid2 = fn.ok({}, kind="new")  # a new snapshot worker, not an ordinary one
    assert res == FRESH, res
    assert not ROOT or pid2 != pid
    res, pid3 = fn.ok({})  # which serves again after a reset
    assert res == FRESH, res
    same_worker([pid2, pid3])


@pytest.mark.parametrize("mode,status,code", [
    ("throw", 500, "function_error"),
    ("timeout", 504, "timeout"),
    ("memory", 500, "memory_limit"),
    ("output", 500, "output_limit"),
    ("logs", 500, "output_limit"),
])
def test_error_or_limit_ends_the_worker(e, mode, status, code):
    token, _ = e.developer()
    fn = Snap(e, token, FAILING, warm_input={}, limits=LIMITS, prefix=mode)
    check_error_ends_worker(fn, {"mode": mode}, status, code)


def test_sandbox_violation_ends_the_worker(hooked):
    token, _ = hooked.developer()
    fn = Snap(hooked, token, FAILING, warm_input={}, limits=LIMITS, prefix="sigsys")
    check_error_ends_worker(fn, {"mode": "syscall", "name": "socket"}, 500, "sandbox_violation")


def test_snapshot_workers_keep_the_worker_filter(hooked):
    """Every forbidden system call still kills a snapshot worker that served before (the
    snapshot filter adds one allowance, tested below); the allowed ones still work."""
    from test_confinement import ALLOWED, FORBIDDEN
    token, _ = hooked.developer()
    fn = Snap(hooked, token, FAILING, warm_input={}, limits=LIMITS, prefix="filter")
    names = [n for n in FORBIDDEN if not n.startswith("prlimit_cpu")] + ["prlimit_as_unlimited"]
    assert {"prlimit_as_get", "prlimit_pid1_cpu", "setrlimit_cpu", "socket"} <= set(names)
    kind = "reused"
    for name in names:
        assert fn.ok({}, kind=kind)[0] == FRESH
        s = fn.invoke({"mode": "syscall", "name": name})
        assert s.r.status_code == 500, (name, s.r.text)
        assert error_code(s.r) == "sandbox_violation", (name, s.r.text)
        assert s.kind == "reused", (name, s.kind)
        kind = "new"  # after a violation: a new worker
    for name, value in sorted(ALLOWED.items()):
        res, _ = fn.ok({"mode": "syscall", "name": name}, kind=kind)
        assert res == value, (name, res)
        kind = "reused"


def test_prlimit_allowance_is_own_cpu_limit_only(hooked):
    """A snapshot worker may read and set its own soft RLIMIT_CPU (re-armed before each job:
    it stays small), never past the hard limit; raising it to the hard limit does not let an
    endless loop outlive timeout_ms. An ordinary worker may not call prlimit64."""
    token, _ = hooked.developer()
    fn = Snap(hooked, token, FAILING, warm_input={}, limits=LIMITS, prefix="rlim")
    softs = [fn.ok({"mode": "syscall", "name": "prlimit_cpu_get"})[0] for _ in range(4)]
    # the CPU seconds used so far + 1 + ceil(timeout_ms), not a whole life's allowance
    assert all(2 <= s <= 3 for s in softs), softs
    res, _ = fn.ok({"mode": "syscall", "name": "prlimit_cpu_unlimited"})
    assert res == -1, res  # -EPERM: the hard limit is not the worker's to raise
    # soft up to hard, then spin: fnboxd's deadline still ends the invocation, and the worker
    code = FAILING.replace(
        "if (input.mode === 'timeout')",
        "if (input.mode === 'escape') { __fnbox_test_syscall('prlimit_cpu_soft_max'); for (;;) {} }"
        "\n  if (input.mode === 'timeout')")
    esc = Snap(hooked, token, code, warm_input={}, limits=LIMITS, prefix="escape")
    check_error_ends_worker(esc, {"mode": "escape"}, 504, "timeout")
    # process isolation: no prlimit64 at all
    plain = unique("plain")
    hooked.deploy_ok(plain, FAILING, token, limits=LIMITS)
    r = hooked.invoke(plain, token, input={"mode": "syscall", "name": "prlimit_cpu_get"})
    assert r.status_code == 500 and error_code(r) == "sandbox_violation", r.text


# ---- worker replacement -------------------------------------------------------------------

def test_max_uses_replaces_the_worker(short):
    """--snapshot-max-uses 3: a worker serves its first invocation and 2 after a reset."""
    token, _ = short.developer()
    fn = Snap(short, token, FAILING, warm_input={}, prefix="uses")
    kinds, pids = [], []
    for _ in range(13):
        s = fn.invoke({})
        assert s.r.status_code == 200 and s.r.json()["result"] == FRESH, s.r.text
        kinds.append(s.kind)
        pids.append(s.pid)
    # the warm-up ended on the first worker's second invocation: 1 use left
    assert kinds == ["reused"] + ["new", "reused", "reused"] * 4, kinds
    if ROOT:
        runs = []
        for p in pids:
            if runs and runs[-1][0] == p:
                runs[-1][1] += 1
            else:
                runs.append([p, 1])
        assert [n for _, n in runs] == [1, 3, 3, 3, 3], runs
        assert len({p for p, _ in runs}) == len(runs), f"a replaced worker came back: {runs}"
        for p, _ in runs[:-1]:
            assert wait_gone(p), f"worker {p} outlived its last use"


def test_math_random_never_replays(d):
    token, _ = d.developer()
    fn = Snap(d, token, "function main() { return [Math.random(), Math.random(), Math.random()]; }",
              prefix="rand")
    seqs, pids = [], []
    for _ in range(20):
        res, pid = fn.ok()
        seqs.append(res)
        pids.append(pid)
    same_worker(pids)  # one worker, reset 20 times
    values = [v for seq in seqs + fn.warm for v in seq]
    assert len(set(values)) == len(values), seqs
    assert all(0 <= v < 1 for v in values)


# ---- confinement --------------------------------------------------------------------------

def test_snapshot_workers_are_confined(d):
    token, _ = d.developer()
    fn = Snap(d, token, "function main() { return 1; }", prefix="conf")
    _, pid = fn.ok()
    zyg, fnz, _ = worker_tree(d)
    # the function's zygote, a child of the zygote, forks them
    assert fn.fz in fnz and int(_status(fn.fz)["PPid"]) == zyg
    workers = [pid] if ROOT else children(fn.fz)  # without root: its idle ones too
    assert workers
    for p in workers:
        st = _status(p)
        assert int(st["PPid"]) == fn.fz, (st["PPid"], fn.fz)
        if ROOT:
            assert st["Uid"].split() == ["65534"] * 4, st["Uid"]
            assert st["Gid"].split() == ["65534"] * 4, st["Gid"]
        assert st["Uid"].split()[0] != "0"
        assert st["NoNewPrivs"] == "1"
        assert st["Seccomp"] == "2"
        for cap in ("CapInh", "CapPrm", "CapEff", "CapBnd", "CapAmb"):
            assert int(st[cap], 16) == 0, (cap, st[cap])
    if not ROOT:
        return  # the rest reads a non-dumpable process
    # its socket and nothing else: the snapshot's memfd was closed after the freeze
    assert sorted(os.listdir(f"/proc/{pid}/fd")) == ["3"]
    for p in (pid, fn.fz):
        targets = [os.readlink(f"/proc/{p}/fd/{x}") for x in os.listdir(f"/proc/{p}/fd")]
        assert not [t for t in targets if "memfd" in t], targets
    # the snapshot is mapped private: what a job writes never reaches the memfd
    with open(f"/proc/{pid}/maps") as f:
        maps = [line.split() for line in f if "fnbox-snapshot" in line]
    assert maps and all(m[1] == "rw-p" for m in maps), maps
    # and the memfd is sealed: not even root can write the snapshot through it
    fd = os.open(f"/proc/{pid}/map_files/{maps[0][0]}", os.O_RDWR)
    try:
        with pytest.raises(PermissionError):
            os.pwrite(fd, b"overwritten", 4096)
    finally:
        os.close(fd)
    assert fn.ok()[0] == 1


# ---- deploy -------------------------------------------------------------------------------

def test_isolation_is_validated(d):
    token, _ = d.developer()
    for bad in ("thread", "Snapshot", "SNAPSHOT", " snapshot", "", "processes", 5, 0, None,
                True, ["snapshot"], {"mode": "snapshot"}):
        name = unique("bad")
        r = d.deploy(name, "function main() { return 1; }", token, isolation=bad)
        assert r.status_code == 400 and error_code(r) == "invalid_request", (bad, r.text)
        assert d.api("GET", f"/v1/functions/{name}", token).status_code == 404, bad


def served_in_fresh_processes(d, name, token, want):
    """Four invocations of name answer want, none on a reused worker (process isolation)."""
    reuses = snapshot_reuses(d)
    for _ in range(4):
        r = d.invoke(name, token)
        assert r.status_code == 200 and r.json()["result"] == want, r.text
        time.sleep(0.05)
    assert snapshot_reuses(d) == reuses


def test_default_is_process_and_a_redeploy_switches_mode(d):
    token, _ = d.developer()
    name = unique("switch")
    reply = d.deploy_ok(name, "function main() { return 'one'; }", token)
    assert reply["isolation"] == "process", reply
    assert d.api("GET", f"/v1/functions/{name}", token).json()["isolation"] == "process"
    served_in_fresh_processes(d, name, token, "one")

    reply = d.deploy_ok(name, "function main() { return 'two'; }", token, isolation="snapshot")
    assert reply["isolation"] == "snapshot" and reply["version"] == 2, reply
    got = d.api("GET", f"/v1/functions/{name}", token).json()
    assert got["isolation"] == "snapshot" and got["version"] == 2, got
    assert set(warm_snapshot(d, name, token)) == {"two"}
    reuses = snapshot_reuses(d)
    for _ in range(3):
        r = d.invoke(name, token)
        assert r.status_code == 200, r.text
        assert r.json()["result"] == "two" and r.json()["version"] == 2, r.text
    assert snapshot_reuses(d) - reuses == 3

    # a redeploy without the field is process isolation again (deploys do not inherit it)
    reply = d.deploy_ok(name, "function main() { return 'three'; }", token)
    assert reply["isolation"] == "process", reply
    assert d.api("GET", f"/v1/functions/{name}", token).json()["isolation"] == "process"
    served_in_fresh_processes(d, name, token, "three")


# ---- host calls ---------------------------------------------------------------------------

def test_fetch_and_secrets_in_snapshot_workers(d, up):
    """Per-invocation budgets (max_fetches), the fetch provenance and secret values are the
    invocation's own, on a worker that served before."""
    token, _ = d.developer()
    secret = unique("key").replace("-", "_")
    put_secret(d, token, secret, "value-one")
    code = r"""function main(input) {
  var g = (function () { return this; })();
  var before = g.kept === undefined ? null : g.kept;
  var a = fetch(input.url), b = fetch(input.url + '?again=1');
  var refused;
  try { fetch(input.url); refused = 'no'; } catch (e) { refused = e.code || e.name; }
  g.kept = secrets.get(input.secret);
  return {before: before, a: a.status, value: a.json().value, b: b.status, refused: refused,
          secret: g.kept};
}
"""
    inp = {"url": up.url("/fixed"), "secret": secret}
    fn = Snap(d, token, code, warm_input=inp, allow_hosts=[up.hostport()], secrets=[secret],
              limits={"max_fetches": 2}, prefix="host")
    hits = up.hit_count()
    pids = []
    for i in range(4):
        if i == 2:
            put_secret(d, token, secret, "value-two")
        s = fn.invoke(inp)
        assert s.r.status_code == 200 and s.kind == "reused", (s.kind, s.r.text[:500])
        pids.append(s.pid)
        res = s.r.json()["result"]
        assert res["before"] is None and res["a"] == 200 and res["b"] == 200, res
        assert res["value"] == 42 and res["refused"] == "too_many_fetches", res
        assert res["secret"] == ("value-one" if i < 2 else "value-two"), res
        assert len(s.r.json()["fetches"]) == 2, s.r.json()["fetches"]
    assert up.hit_count() - hits == 8
    same_worker(pids)


# ---- losing workers -----------------------------------------------------------------------

def test_killed_idle_worker_is_discarded(e):
    """fnboxd finds the idle worker it hands the next invocation dead, and starts another."""
    token, _ = e.developer()
    fn = Snap(e, token, FAILING, warm_input={}, prefix="killed")
    _, pid = fn.ok({})  # now idle in fnboxd's pool
    # without root the serving one is unknown: all the function zygote's workers go
    victims = [pid] if ROOT else children(fn.fz)
    for p in victims:
        os.kill(p, signal.SIGKILL)
    assert all(wait_gone(p) for p in victims)
    res, pid2 = fn.ok({}, kind="new")
    assert res == FRESH and pid2 not in victims
    res, pid3 = fn.ok({})
    assert res == FRESH
    same_worker([pid2, pid3])


def test_killed_function_zygote_costs_nothing_but_time(e):
    token, _ = e.developer()
    fn = Snap(e, token, FAILING, warm_input={}, prefix="fzkill")
    fn.ok({})  # a snapshot worker idle in fnboxd's pool
    os.kill(fn.fz, signal.SIGKILL)
    assert wait_gone(fn.fz)
    for _ in range(5):
        r = e.invoke(fn.name, token, input={})
        assert r.status_code == 200 and r.json()["result"] == FRESH, r.text
        time.sleep(0.05)
    # a new function zygote, and snapshot workers again
    warm_snapshot(e, fn.name, token, input={})


def test_idle_workers_expire_whatever_is_invoked(tmp_path):
    """--snapshot-idle-seconds: an idle snapshot worker is ended after this long (checked every
    second), whatever is invoked meanwhile — here only a process-isolation function. (An idle snapshot worker keeps its
    function zygote's slot in the zygote, FNZ_MAX of them: kept forever, a few snapshot
    functions would take every other function's function zygote.)"""
    d = start_daemon(tmp_path / "idle", ["--snapshot-idle-seconds", "1"])
    try:
        token, _ = d.developer()
        fn = Snap(d, token, FAILING, warm_input={}, prefix="idle")
        _, pid = fn.ok({})
        plain = unique("plain")
        d.deploy_ok(plain, "function main() { return 2; }", token)
        workers = [p for p in children(fn.fz) if _alive(p)]  # its idle pool, and pid
        time.sleep(1.3)
        r = d.invoke(plain, token)
        assert r.status_code == 200 and r.json()["result"] == 2, r.text
        # the idle snapshot worker is ended (its function zygote's slot can be reused then)
        if ROOT:
            assert wait_gone(pid), f"idle snapshot worker {pid} outlived --snapshot-idle-seconds"
        else:
            deadline = time.monotonic() + 5
            while (len([p for p in workers if _alive(p)]) == len(workers) and
                   time.monotonic() < deadline):
                time.sleep(0.05)
            assert len([p for p in workers if _alive(p)]) < len(workers), "nothing ended"
        res, _ = fn.ok({}, kind="new")
        assert res == FRESH
    finally:
        d.stop()


# ---- review findings ----------------------------------------------------------------------

GROWING = {
    # a string grown a piece at a time: each longer copy allocated, the shorter one garbage
    "concat": ("function main(i) { if (i.warm) return 0; var s = ''; "
               "var c = new Array(1025).join('x'); "
               "for (var k = 0; k < 3000; k++) s = s + c; return s.length; }", 64, 3072000),
    # buffers of one size after another, nothing kept
    "churn": ("function main(i) { if (i.warm) return 0; var t = 0; "
              "for (var k = 14; k <= 20; k++) { var sz = (1 << k) + 1; "
              "for (var n = 0; n < ((256 << 20) >> k); n++) t += new ArrayBuffer(sz).byteLength; } "
              "return t; }", 16, 1879080704),
}


@pytest.mark.parametrize("case", sorted(GROWING))
@pytest.mark.parametrize("mode", ["process", "snapshot"])
def test_memory_freed_during_an_invocation_is_reused(e, case, mode):
    """Garbage given back during an invocation serves later, larger allocations: these loops,
    far under memory_mb at any moment, succeed in precompiled and snapshot workers as in a
    malloc'd heap (an arena without merging of free blocks answered memory_limit)."""
    token, _ = e.developer()
    code, memory_mb, want = GROWING[case]
    name = unique(case)
    e.deploy_ok(name, code, token, isolation=mode,
                limits={"memory_mb": memory_mb, "timeout_ms": 20000})
    if mode == "snapshot":
        warm_snapshot(e, name, token, input={"warm": True})
        reuses = snapshot_reuses(e)
    else:
        for _ in range(3):  # past the first, compiling, worker: the function zygote's
            assert e.invoke(name, token, input={"warm": True}).status_code == 200
            time.sleep(0.05)
    r = e.invoke(name, token, input={}, timeout=60)
    assert r.status_code == 200 and r.json()["result"] == want, r.text[:300]
    if mode == "snapshot":
        assert snapshot_reuses(e) == reuses + 1


@pytest.mark.skipif(not ROOT, reason="/proc/PID/map_files needs root")
def test_snapshot_memfd_holds_only_the_snapshot(d):
    """The sealed memfd behind the arena holds the post-compile state and nothing more: an
    invocation's pages above it are anonymous, given back at each reset, not kept by the memfd
    (shared, uncounted) after the invocation."""
    token, _ = d.developer()
    fn = Snap(d, token, "function main(i) { var a = []; for (var k = 0; k < (i.n || 0); k++) "
                        "a.push(new ArrayBuffer(1 << 20)); return a.length; }",
              warm_input={}, prefix="memfd", limits={"memory_mb": 128})
    res, pid = fn.ok({"n": 100})
    assert res == 100

    def memfd_bytes(p):
        for line in open(f"/proc/{p}/maps"):
            if "fnbox-snapshot" in line:
                rng = line.split()[0]
                return os.stat(f"/proc/{p}/map_files/{rng}").st_blocks * 512, rng
        raise AssertionError(f"no snapshot mapping in {p}")

    allocated, rng = memfd_bytes(pid)
    lo, hi = (int(x, 16) for x in rng.split("-"))
    assert allocated <= hi - lo < (8 << 20), (allocated, rng)  # the snapshot: a few MiB
    res, pid2 = fn.ok({"n": 100})
    assert res == 100
    assert memfd_bytes(pid2)[0] == allocated  # 100 MiB written twice, none kept by the memfd


@pytest.mark.skipif(not ROOT, reason="/proc/PID/limits of a non-dumpable worker needs root")
def test_snapshot_worker_cpu_lifetime_is_bounded(d):
    """A snapshot worker may re-arm its own RLIMIT_CPU per job, under a hard limit of four
    times its jobs' allowance plus 10 s: a compromised engine burning CPU between jobs is
    stopped there, not after max-uses x timeout."""
    token, _ = d.developer()
    fn = Snap(d, token, "function main() { return 1; }", prefix="cpu",
              limits={"timeout_ms": 3000})
    _, pid = fn.ok()
    line = [x for x in open(f"/proc/{pid}/limits") if x.startswith("Max cpu time")][0].split()
    soft, hard = int(line[3]), int(line[4])
    assert hard == 3 * 4 + 10, line
    assert soft <= 3 + 2, line  # re-armed: the CPU used so far (about 0) + 1 + 3


def test_function_made_again_never_meets_the_old_workers(d):
    """A function deleted and deployed again with the same code — by its owner or by another —
    is served by new snapshot workers, never by the old function's pooled ones (its key names
    the owner and the version's creation)."""
    code = "function main() { return 'same code'; }"
    a_token, _ = d.developer()
    b_token, _ = d.developer()
    name = unique("again")
    d.deploy_ok(name, code, a_token, isolation="snapshot")
    warm_snapshot(d, name, a_token)  # a worker of a's function idle in fnboxd's pool now
    for who in (a_token, b_token):
        r = d.api("DELETE", f"/v1/functions/{name}", a_token)  # a_token: the current owner
        assert r.status_code in (200, 204), r.text
        time.sleep(1.1)  # another second: the version's creation time differs
        d.deploy_ok(name, code, who, isolation="snapshot")
        starts, reuses = snapshot_starts(d), snapshot_reuses(d)
        r = d.invoke(name, who)
        assert r.status_code == 200 and r.json()["result"] == "same code", r.text
        assert snapshot_reuses(d) == reuses, "the old function's worker served the new one"
        warm_snapshot(d, name, who)
        assert snapshot_starts(d) > starts  # its own, new, snapshot worker
        a_token = who


def test_snapshot_functions_do_not_keep_every_function_zygote(tmp_path):
    """With all 16 function zygotes held by snapshot functions (their idle workers are jobs of
    their function zygotes), a refused load ends the workers idle for a second, so another
    function gets a function zygote within seconds, not after --snapshot-idle-seconds."""
    d = start_daemon(tmp_path / "slots", ["--snapshot-idle-seconds", "3600"])
    try:
        token, _ = d.developer()
        for i in range(16):
            name = unique(f"hold{i}")
            d.deploy_ok(name, "function main() { return 1; }", token, isolation="snapshot")
            warm_snapshot(d, name, token)
        plain = unique("plain")
        d.deploy_ok(plain, "function main() { return 2; }", token)
        before = metric(d, "fnbox_workers_total", 'kind="precompiled"')
        deadline = time.monotonic() + 8
        while time.monotonic() < deadline:
            r = d.invoke(plain, token)
            assert r.status_code == 200 and r.json()["result"] == 2, r.text
            if metric(d, "fnbox_workers_total", 'kind="precompiled"') > before:
                break
            time.sleep(0.1)
        else:
            pytest.fail("the plain function never got a function zygote")
        assert metric(d, "fnbox_function_zygote_loads_total", 'result="refused"') >= 1
    finally:
        d.stop()


def test_workers_blocked_in_fetch_do_not_hold_the_queue(d, up):
    """Lanes bound the snapshot workers running at once only while they keep coming back: when
    all of a function's workers wait on slow fetches, more are started, so concurrent
    invocations overlap instead of queueing two at a time (the fixture has 2 lanes)."""
    token, _ = d.developer()
    code = "function main(i) { if (i.warm) return 0; return fetch(i.url).status; }"
    fn = Snap(d, token, code, warm_input={"warm": True}, allow_hosts=[up.hostport()],
              prefix="slowfetch", limits={"timeout_ms": 10000})
    starts = snapshot_starts(d)
    url = up.url("/hang?seconds=0.5")
    t0 = time.monotonic()
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        rs = list(pool.map(lambda _: d.invoke(fn.name, token, input={"url": url}), range(8)))
    took = time.monotonic() - t0
    assert all(r.status_code == 200 and r.json()["result"] == 200 for r in rs), \
        [r.text[:200] for r in rs]
    assert took < 1.5, f"8 invocations of 0.5 s each took {took:.2f} s: queued by the lanes"
    assert snapshot_starts(d) - starts >= 3
