"""Fixtures that run the real fnboxd for the integration suite.

Run from tests/integration:  FNBOX_BUILD=/abs/build /usr/bin/python3 -m pytest -q -ra

Every test module gets its own daemon (module scope) on a free 127.0.0.1 port with a fresh
--data directory; tests inside a module use unique function names so they do not interfere.
Tests that need special flags (overload, test hooks, restart, non-root) start their own with
`start_daemon(...)` / `Daemon(...)`.

Teardown of every daemon checks that SIGTERM makes it exit 0 within 10 s, that its zygote and
workers are gone with it, and that nothing that looks like an API token reached its stderr.
"""

import hashlib
import itertools
import json as jsonlib
import os
import re
import shutil
import signal
import socket
import subprocess
import time

import pytest
import requests

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))
BUILD = os.path.abspath(os.environ.get("FNBOX_BUILD") or os.path.join(REPO, "build"))

TOKEN_RE = re.compile(r"fnbox_[0-9a-f]{64}")
HTTP_TIMEOUT = 30  # seconds; every HTTP call carries a timeout
START_TIMEOUT = 20
STOP_TIMEOUT = 10

_NOTSET = object()
_names = itertools.count(1)


def binary(name="fnboxd"):
    path = os.path.join(BUILD, name)
    if not os.access(path, os.X_OK):
        pytest.fail(f"{path} is missing or not executable (FNBOX_BUILD={BUILD}); run `make all`")
    return path


def unique(prefix="fn"):
    """A function/owner name unique within this test run: [a-z0-9][a-z0-9_-]*."""
    return f"{prefix}-{os.getpid() % 100000}-{next(_names)}"


def run_as_prefix(uid, gid):
    """A command prefix that runs the rest as uid:gid (root only), or None if no tool."""
    if shutil.which("setpriv"):
        return ["setpriv", f"--reuid={uid}", f"--regid={gid}", "--clear-groups", "--"]
    if shutil.which("runuser"):
        import pwd
        return ["runuser", "-u", pwd.getpwuid(uid).pw_name, "--"]
    return None


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _descendants(pid):
    """PIDs of all live descendants of pid (read from /proc)."""
    children = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may contain spaces/parens: fields after the last ')'
        rest = stat[stat.rfind(")") + 2:].split()
        state, ppid = rest[0], int(rest[1])
        if state != "Z":
            children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        for c in children.get(p, []):
            out.append(c)
            todo.append(c)
    return out


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            stat = f.read()
    except OSError:
        return False
    return stat[stat.rfind(")") + 2:].split()[0] != "Z"


class Daemon:
    """One running fnboxd.  `api()` and the helpers below talk to it over HTTP."""

    def __init__(self, workdir, extra_args=(), binary_name="fnboxd", data_dir=None,
                 run_as=None, exe=None):
        self.workdir = str(workdir)
        self.data = str(data_dir) if data_dir else os.path.join(self.workdir, "data")
        self.extra_args = list(extra_args)
        self.exe = exe or binary(binary_name)
        self.run_as = run_as  # (uid, gid) or None
        self.proc = None
        self.port = None
        self.base = None
        self.admin = None
        self.tokens = set()  # every token value seen: must never reach stderr
        self.stderr_paths = []
        self.starts = 0

    # ---- process control -------------------------------------------------------------
    def start(self):
        last = ""
        for _attempt in range(3):  # a free port can be taken between probe and bind
            self.port = free_port()
            self.base = f"http://127.0.0.1:{self.port}"
            self.starts += 1
            errpath = os.path.join(self.workdir, f"fnboxd-{self.port}-{self.starts}.stderr")
            self.stderr_paths.append(errpath)
            cmd = [self.exe, "--listen", f"127.0.0.1:{self.port}", "--data", self.data]
            cmd += self.extra_args
            if self.run_as:
                cmd = run_as_prefix(*self.run_as) + cmd
            with open(errpath, "wb") as err:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL,
                                             stdout=subprocess.DEVNULL, stderr=err,
                                             cwd=self.workdir, start_new_session=True)
            if self._wait_healthy():
                self._read_admin_token()
                return self
            last = self.stderr()
            if self.proc.poll() is None:
                self._kill()
            if "in use" not in last.lower():
                break
        pytest.fail(f"fnboxd did not become healthy: {' '.join(cmd)}\nstderr:\n{last}")

    def _wait_healthy(self):
        deadline = time.monotonic() + START_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                return False
            try:
                r = requests.get(self.base + "/healthz", timeout=2)
                if r.status_code == 200:
                    return True
            except requests.RequestException:
                pass
            time.sleep(0.05)
        return False

    def _read_admin_token(self):
        path = os.path.join(self.data, "admin.token")
        deadline = time.monotonic() + 5
        while not os.path.exists(path) and time.monotonic() < deadline:
            time.sleep(0.05)
        with open(path) as f:
            tok = f.read().strip()
        assert TOKEN_RE.fullmatch(tok), f"admin.token content has unexpected shape: {tok[:8]}..."
        self.admin = tok
        self.tokens.add(tok)

    def _kill(self):
        try:
            os.killpg(self.proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        self.proc.wait(timeout=10)

    def stderr(self):
        out = []
        for p in self.stderr_paths:
            try:
                with open(p, "rb") as f:
                    out.append(f.read().decode("utf-8", "replace"))
            except OSError:
                pass
        return "".join(out)

    def stop(self, check=True):
        """SIGTERM; with check, assert exit 0 within 10 s, no leftover processes, no tokens
        on stderr."""
        if self.proc is None:
            return
        proc, self.proc = self.proc, None
        problems = []
        if proc.poll() is not None:
            problems.append(f"fnboxd died before shutdown (status {proc.returncode})")
            rc = proc.returncode
        else:
            family = _descendants(proc.pid)
            proc.send_signal(signal.SIGTERM)
            try:
                rc = proc.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(timeout=10)
                rc = None
                problems.append(f"fnboxd did not exit within {STOP_TIMEOUT} s of SIGTERM")
            if rc is not None and rc != 0:
                problems.append(f"fnboxd exited with status {rc} after SIGTERM (want 0)")
            deadline = time.monotonic() + 5
            left = [p for p in family if _alive(p)]
            while left and time.monotonic() < deadline:
                time.sleep(0.05)
                left = [p for p in left if _alive(p)]
            if left:
                problems.append(f"processes of fnboxd survived it: {left}")
                for p in left:
                    try:
                        os.kill(p, signal.SIGKILL)
                    except OSError:
                        pass
        err = self.stderr()
        leaked = [t for t in self.tokens if t in err] + TOKEN_RE.findall(err)
        hashes = [hashlib.sha256(t.encode()).hexdigest() for t in self.tokens]
        leaked += [h for h in hashes if h in err]
        if leaked:
            problems.append("stderr contains a token (or its hash)")
        if check and problems:
            pytest.fail("; ".join(problems) + f"\nstderr:\n{err[-4000:]}")

    def restart(self):
        self.stop()
        return self.start()

    # ---- HTTP helpers ----------------------------------------------------------------
    def url(self, path):
        return self.base + path

    def api(self, method, path, token=None, json=_NOTSET, data=None, headers=None,
            params=None, timeout=HTTP_TIMEOUT):
        h = dict(headers or {})
        if token is not None:
            h["Authorization"] = f"Bearer {token}"
        kw = {}
        if json is not _NOTSET:
            kw["data"] = jsonlib.dumps(json)
            h.setdefault("Content-Type", "application/json")
        elif data is not None:
            kw["data"] = data
        return requests.request(method, self.url(path), headers=h, params=params,
                                timeout=timeout, **kw)

    def create_token(self, role, owner, expires_in=None, admin=None):
        body = {"role": role, "owner": owner}
        if expires_in is not None:
            body["expires_in"] = expires_in
        r = self.api("POST", "/v1/tokens", admin or self.admin, json=body)
        assert r.status_code == 201, (r.status_code, r.text)
        tok = r.json()
        self.tokens.add(tok["token"])
        return tok

    def developer(self, owner=None):
        """Token value of a fresh developer for a fresh owner; returns (token, owner)."""
        owner = owner or unique("dev")
        return self.create_token("developer", owner)["token"], owner

    def deploy(self, name, code, token, params=None, timeout=HTTP_TIMEOUT, **fields):
        body = {"code": code}
        body.update(fields)
        return self.api("PUT", f"/v1/functions/{name}", token, json=body, params=params,
                        timeout=timeout)

    def deploy_ok(self, name, code, token, **fields):
        r = self.deploy(name, code, token, **fields)
        assert r.status_code == 201, (r.status_code, r.text)
        return r.json()

    def invoke(self, name, token, input=_NOTSET, timeout=HTTP_TIMEOUT):
        return self.api("POST", f"/v1/functions/{name}/invoke", token, json=input,
                        timeout=timeout)

    def assert_serving(self, token=None):
        """The daemon still answers and still runs code."""
        token = token or self.admin
        name = getattr(self, "_probe_fn", None)
        if name is None:
            name = unique("probe")
            self.deploy_ok(name, "function main(input) { return {pong: input}; }", token)
            self._probe_fn = name
        r = self.invoke(name, token, input=7)
        assert r.status_code == 200, (r.status_code, r.text)
        assert r.json()["result"] == {"pong": 7}
        assert self.proc is not None and self.proc.poll() is None, "fnboxd died"


def error_code(r):
    """The {"error":{"code"}} of a response (asserts the error shape)."""
    try:
        body = r.json()
    except ValueError:
        raise AssertionError(f"non-JSON error body ({r.status_code}): {r.text[:300]!r}")
    assert isinstance(body, dict) and isinstance(body.get("error"), dict), body
    assert isinstance(body["error"].get("message"), str), body
    return body["error"].get("code")


def start_daemon(workdir, extra_args=(), **kw):
    os.makedirs(str(workdir), exist_ok=True)
    return Daemon(workdir, extra_args, **kw).start()


@pytest.fixture(scope="module")
def daemon(tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("fnboxd"))
    yield d
    d.stop()


@pytest.fixture(scope="module")
def dev(daemon):
    """(token, owner) of a developer shared by the tests of one module."""
    return daemon.developer()


def children(pid):
    """Direct children of pid, from /proc."""
    out = []
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
            if int(st[st.rfind(")") + 2:].split()[1]) == pid:
                out.append(int(p))
        except (OSError, ValueError):
            pass
    return out


def _is_function_zygote(pid):
    """A function zygote holds more than a worker's one descriptor (fd 3), or has children."""
    try:
        if len(os.listdir(f"/proc/{pid}/fd")) > 1:
            return True
    except OSError:
        pass
    return bool(children(pid))


def worker_tree(d):
    """(zygote pid, [function zygote pids], [worker pids]) under fnboxd d: workers are the
    zygote's own children and the function zygotes' children."""
    zs = [p for p in children(d.proc.pid) if open(f"/proc/{p}/comm").read().strip() == "fnbox-zygote"]
    assert len(zs) == 1, zs
    fnz, workers = [], []
    for p in children(zs[0]):
        try:
            with open(f"/proc/{p}/stat") as f:
                st = f.read()
        except OSError:
            continue  # gone meanwhile
        if st[st.find("(") + 1:st.rfind(")")] == "fnbox-pidns-ini":
            continue  # PID 1 of the workers' PID namespace
        if st[st.rfind(")") + 2] == "Z":
            continue  # a worker that answered, not yet reaped
        (fnz if _is_function_zygote(p) else workers).append(p)
    for f in fnz:
        workers.extend(children(f))
    return zs[0], fnz, workers


# ---- snapshot isolation (isolation "snapshot") ---------------------------------------------

def metric(d, name, labels=None):
    """A counter of d's /metrics: name, or name{labels} (labels as written: 'kind="x"')."""
    text = d.api("GET", "/metrics").text
    key = name if labels is None else "%s{%s}" % (name, labels)
    m = re.search(r"^%s (\d+)$" % re.escape(key), text, re.M)
    assert m, f"{key} is not in /metrics"
    return int(m.group(1))


def snapshot_reuses(d):
    """Invocations served by a snapshot worker after its heap was reset."""
    return metric(d, "fnbox_snapshot_reuses_total")


def snapshot_starts(d):
    """New snapshot workers handed their first invocation."""
    return metric(d, "fnbox_workers_total", 'kind="snapshot"')


def warm_snapshot(d, name, token, input=_NOTSET, tries=60):
    """Invokes the snapshot-isolation function `name` until one invocation was served by a
    snapshot worker after a heap reset (fnbox_snapshot_reuses_total grew): the first ones run in
    ordinary workers while the function zygote loads, asynchronously. Every invocation must
    succeed; returns their results."""
    before = snapshot_reuses(d)
    results = []
    for _ in range(tries):
        r = d.invoke(name, token, input=input)
        assert r.status_code == 200, (r.status_code, r.text[:500])
        results.append(r.json()["result"])
        if snapshot_reuses(d) > before:
            return results
        time.sleep(0.05)
    pytest.fail(f"{name}: no snapshot worker served again after {tries} invocations")


@pytest.fixture(scope="module")
def up():
    """A local HTTP upstream (egress.py: echo, fixed bodies, slow and endless paths) that
    fetch() may reach, for one test module (a module may define its own, as test_fetch does)."""
    import egress
    u = egress.Upstream()
    yield u
    u.stop()
