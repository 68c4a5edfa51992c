#!/usr/bin/python3
"""Helpers for bench/peers.sh (standard library only; shares bench/helper.py).

  tool.py body OUT                     write the oracle's request body (the same for every peer)
  tool.py gen SIZE OUT                 write an ES5 oracle function of exactly SIZE bytes: a
                                       compact median oracle padded with real but unused code
                                       (functions and constant tables that are compiled, and
                                       the tables built, on every load)
  tool.py check URL BODY [TOKEN]       POST BODY once; exit 0 if the answer is 200 with the
                                       right median (fnbox and the peers all answer
                                       {"result": {...}}), 3 if it is wrong, 1 if none came
  tool.py coldstart OUT N URL -- CMD...
                                       N times: start CMD (its arguments may hold {port}; URL
                                       too), POST the body to URL until the first correct
                                       answer, stop the process group; write the times as JSON
  tool.py coldstart-fnbox OUT N FNBOXD CODE [ISOLATION]
                                       the same for fnboxd: start it on a fresh data directory,
                                       create a token, deploy CODE, first correct invocation
  tool.py deploy URL TOKEN NAME CODE [ISOLATION]
                                       deploy CODE as NAME on a running fnboxd and check it
  tool.py d2r URL TOKEN CODE N OUT [ISOLATION]
                                       deploy CODE under a fresh name and invoke it, N times
  tool.py multi URL TOKEN N CODE OUT   deploy N copies of CODE (rr-0 ...) and write their
                                       invoke paths to OUT, one a line
  tool.py report DIR                   print the tables from DIR (meta.json, status.tsv,
                                       growth.tsv and the run files named there), then the
                                       issue's targets (TARGETS) as met or missed
ISOLATION is fnbox's "isolation" of the deployed function: process (the default) or snapshot.
"""

import json
import os
import signal
import statistics
import subprocess
import sys
import textwrap
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
import helper  # noqa: E402  (bench/helper.py)

INPUT = helper.SAMPLES["median-oracle"][1]
MEDIAN = 3120.5
COUNT = 5


def die(msg):
    print(f"peers: {msg}", file=sys.stderr)
    sys.exit(1)


def good(status, doc):
    if status != 200 or not isinstance(doc, dict):
        return False
    r = doc.get("result")
    return isinstance(r, dict) and r.get("median") == MEDIAN and r.get("count") == COUNT


def cmd_body(out):
    with open(out, "w") as f:
        json.dump(INPUT, f)


# A compact oracle (the same contract as samples/median-oracle.js, without its long
# messages), so that the padding is nearly all of the 100 KB case.
COMPACT = """\
function main(input, ctx) {
  if (input === null || typeof input !== 'object' || !Array.isArray(input.quotes))
    throw new TypeError('input must be {"symbol":..., "quotes":[...]}');
  var q = input.quotes, prices = [], sources = [];
  for (var i = 0; i < q.length; i++) {
    if (typeof q[i].price !== 'number' || !(q[i].price > 0)) throw new RangeError('price');
    prices.push(q[i].price);
    sources.push(q[i].source !== undefined ? q[i].source : '#' + i);
  }
  prices.sort(function (a, b) { return a - b; });
  var n = prices.length, mid = Math.floor(n / 2);
  var med = n % 2 === 1 ? prices[mid] : prices[mid - 1] + (prices[mid] - prices[mid - 1]) / 2;
  return {symbol: input.symbol, median: med, count: n, spread: prices[n - 1] - prices[0],
          sources: sources};
}
"""


def _pad_unit(k):
    """One piece of real, unused ES5 code: a function, or a constant table built at load."""
    if k % 2 == 0:
        return (f"function unused{k}(a, b) {{\n"
                f"  var t = {k}, s = '';\n"
                f"  for (var i = 0; i < a.length; i++) {{ t = (t * 31 + a[i] * {k % 97 + 3}"
                f" + b) % 1000003; if (t % 7 === {k % 7}) s += String.fromCharCode(65 + t % 26); }}\n"
                f"  return s.length > {k % 13} ? s : t;\n}}\n")
    vals = ",".join(str((k * 7919 + j * 104729) % 1000003 / 100) for j in range(12))
    return f"var UNUSED_TABLE_{k} = [{vals}];\n"


def gen_code(size):
    head = "// bench/peers/tool.py gen: a median oracle padded to a fixed size with unused code\n"
    code = head + COMPACT
    if len(code) > size:
        die(f"gen: {size} bytes is less than the oracle itself ({len(code)} bytes)")
    k = 0
    while True:
        unit = _pad_unit(k)
        if len(code) + len(unit) > size - 4:
            break
        code += unit
        k += 1
    rest = size - len(code)
    if rest >= 4:
        code += "//" + "-" * (rest - 3) + "\n"
    else:
        code += " " * rest
    assert len(code.encode()) == size, (len(code), size)
    return code


def cmd_gen(size, out):
    with open(out, "w") as f:
        f.write(gen_code(int(size)))


def cmd_check(url, body_file, token=None):
    with open(body_file, "rb") as f:
        raw = f.read()
    u = helper.urllib.parse.urlsplit(url)
    try:
        status, doc = helper.Client(f"{u.scheme}://{u.netloc}", token).request(
            "POST", u.path, raw=raw)
    except OSError as e:
        die(f"check {url}: {e}")
    if not good(status, doc):
        print(f"peers: check {url}: wrong answer {status} {str(doc)[:300]}", file=sys.stderr)
        sys.exit(3)


def _stop_group(proc):
    for sig, grace in ((signal.SIGTERM, 10.0), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout=grace)
            break
        except subprocess.TimeoutExpired:
            continue
    # the group may outlive its leader by a moment (children of the leader)
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass


def _start(cmd, log):
    return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=log, stderr=log,
                            start_new_session=True)


def _poll(proc, deadline, step):
    """Calls step() until it returns True; fails if proc exits or the deadline passes."""
    while True:
        try:
            if step():
                return
        except OSError:
            pass
        if proc.poll() is not None:
            raise RuntimeError(f"the process exited with {proc.returncode} before answering")
        if time.monotonic() > deadline:
            raise RuntimeError("no correct answer within 60 s")
        time.sleep(0.001)


def _write_cold(out, times, err):
    with open(out, "w") as f:
        json.dump({"ms": times, "error": err}, f)
    if err:
        die(f"cold start: {err}")


def cmd_coldstart(out, n, url, dashdash, *cmd):
    if dashdash != "--" or not cmd:
        die("coldstart OUT N URL -- CMD...")
    raw = json.dumps(INPUT).encode()
    times, err = [], None
    with open(out + ".log", "ab") as log:
        for _ in range(int(n)):
            port = helper_freeport()
            argv = [a.replace("{port}", str(port)) for a in cmd]
            u = helper.urllib.parse.urlsplit(url.replace("{port}", str(port)))
            t0 = time.perf_counter()
            proc = _start(argv, log)
            try:
                c = helper.Client(f"{u.scheme}://{u.netloc}")

                def step():
                    status, doc = c.request("POST", u.path, raw=raw)
                    if status == 200 and not good(status, doc):
                        raise RuntimeError(f"wrong answer: {str(doc)[:200]}")
                    return status == 200
                _poll(proc, time.monotonic() + 60, step)
                times.append((time.perf_counter() - t0) * 1000)
            except RuntimeError as e:
                err = str(e)
                break
            finally:
                _stop_group(proc)
    _write_cold(out, times, err)


def helper_freeport():
    s = helper.socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def cmd_coldstart_fnbox(out, n, fnboxd, code_file, isolation=None):
    with open(code_file) as f:
        code = f.read()
    times, err = [], None
    base = os.path.dirname(os.path.abspath(out))
    with open(out + ".log", "ab") as log:
        for i in range(int(n)):
            port = helper_freeport()
            data = os.path.join(base, f"cold-data-{i}")
            url = f"http://127.0.0.1:{port}"
            t0 = time.perf_counter()
            proc = _start([fnboxd, "--listen", f"127.0.0.1:{port}", "--data", data], log)
            try:
                admin = helper.Client(url)
                state = {}

                def token_step():
                    if admin.token is None:
                        try:
                            with open(os.path.join(data, "admin.token")) as f:
                                admin.token = f.read().strip() or None
                        except OSError:
                            return False
                        if admin.token is None:
                            return False
                    status, doc = admin.request("POST", "/v1/tokens",
                                                {"role": "developer", "owner": "cold"})
                    if status == 201:
                        state["token"] = doc["token"]
                        return True
                    return False
                deadline = time.monotonic() + 60
                _poll(proc, deadline, token_step)
                dev = helper.Client(url, state["token"])
                status, doc = dev.request("PUT", "/v1/functions/cold",
                                          helper.deploy_body(code, isolation))
                if status != 201:
                    raise RuntimeError(f"deploy: {status} {doc}")
                _poll(proc, deadline,
                      lambda: good(*dev.request("POST", "/v1/functions/cold/invoke", INPUT)))
                times.append((time.perf_counter() - t0) * 1000)
            except RuntimeError as e:
                err = str(e)
                break
            finally:
                _stop_group(proc)
    _write_cold(out, times, err)


def _deploy(c, name, code, isolation=None):
    status, doc = c.request("PUT", f"/v1/functions/{name}", helper.deploy_body(code, isolation))
    if status != 201:
        die(f"deploy {name}: {status} {str(doc)[:300]}")
    status, doc = c.request("POST", f"/v1/functions/{name}/invoke", INPUT)
    if not good(status, doc):
        die(f"invoke {name}: wrong answer {status} {str(doc)[:300]}")


def cmd_deploy(url, token, name, code_file, isolation=None):
    with open(code_file) as f:
        _deploy(helper.Client(url, token), name, f.read(), isolation)


def cmd_d2r(url, token, code_file, n, out, isolation=None):
    with open(code_file) as f:
        code = f.read()
    c = helper.Client(url, token)
    times = []
    for i in range(int(n)):
        name = f"d2r-{os.getpid()}-{i}"
        body = json.dumps(helper.deploy_body(code + f"\n// {name}\n", isolation)).encode()
        t0 = time.perf_counter()
        status, doc = c.request("PUT", f"/v1/functions/{name}", raw=body)
        if status != 201:
            die(f"deploy {name}: {status} {str(doc)[:300]}")
        status, doc = c.request("POST", f"/v1/functions/{name}/invoke", INPUT)
        times.append((time.perf_counter() - t0) * 1000)
        if not good(status, doc):
            die(f"invoke {name}: wrong answer {status} {str(doc)[:300]}")
        c.request("DELETE", f"/v1/functions/{name}")
    with open(out, "w") as f:
        json.dump({"ms": times}, f)


def cmd_multi(url, token, n, code_file, out):
    with open(code_file) as f:
        code = f.read()
    c = helper.Client(url, token)
    paths = []
    for i in range(int(n)):
        _deploy(c, f"rr-{i}", code)
        paths.append(f"/v1/functions/rr-{i}/invoke")
    with open(out, "w") as f:
        f.write("\n".join(paths) + "\n")


# ---------------------------------------------------------------------------- report

def _load(path):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def _wrk(d, name):
    return helper._parse_wrk(os.path.join(d, name))


def _fmt(v):
    if v is None:
        return "-"
    if v >= 100:
        return f"{v:,.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def _ratio(a, b):
    if a is None or b is None or b == 0:
        return "-"
    r = a / b
    return f"{r:.3f}" if r < 10 else f"{r:.1f}"


_ok_rps = helper.ok_rps


# fnbox's rows in status.tsv, each compared with every peer: name -> its short name in the
# ratio columns (fnbox: a fresh process per invocation; fnbox-snapshot: the same oracle
# deployed with "isolation": "snapshot", measured on the same fnboxd)
FNBOX_ROWS = {"fnbox": "fnbox", "fnbox-snapshot": "snap"}

# The issue's targets: (fnbox row, figure, connections, comparison, limit, the limit as
# printed, peer). The figures are the table's cells (FIGURES); with a peer, the limit is on
# the ratio row/peer of the figure. rss is measured under the largest connection count only,
# d2r has no connection count.
TARGETS = (
    ("fnbox", "rps", 16, ">=", 4000, "4,000", None),
    ("fnbox", "rps", 16, ">=", 0.5, "0.5", "workerd"),
    ("fnbox", "p50", 1, "<=", 0.4, "0.4", None),
    ("fnbox", "p99", 1, "<=", 2.0, "2", None),
    ("fnbox", "rss", 64, "<=", 1 / 3, "1/3", "workerd"),
    ("fnbox", "d2r", None, "<=", 2.0, "2", None),
    ("fnbox-snapshot", "rps", 16, ">=", 1.0, "1.0", "workerd"),
    ("fnbox-snapshot", "p99", 16, "<=", 0.1, "1/10", "workerd"),
)
FIGURES = {"rps": ("2xx req/s", ""), "p50": ("p50", " ms"), "p99": ("p99", " ms"),
           "rss": ("peak RSS", " MiB"), "d2r": ("deploy to first result", " ms")}
COMPARE = {">=": lambda a, b: a >= b, "<=": lambda a, b: a <= b}


def _cells(d, peers, conns):
    """The measured figures: ({(row, key): value}, {row: non-2xx per run, '/'-joined})."""
    cells, bad = {}, {}
    for p in peers:
        name = p["name"]
        if not p["status"].startswith("measured"):
            continue
        nb = []
        for c in conns:
            r = _wrk(d, f"wrk-{name}-c{c}.txt")
            if r is None:
                nb.append("?")
                continue
            cells[(name, f"rps{c}")] = _ok_rps(r)
            cells[(name, f"p50{c}")] = float(r["p50_ms"])
            cells[(name, f"p99{c}")] = float(r["p99_ms"])
            errs = sum(int(r[k]) for k in ("connect_errors", "read_errors", "write_errors",
                                           "timeouts"))
            nb.append(f"{r['non2xx']}" + (f"+{errs}s" if errs else ""))
        bad[name] = "/".join(nb)
        rss = _load(os.path.join(d, f"rss-{name}.json"))
        if rss:
            cells[(name, "rss")] = rss["peak_sum_rss_kb"] / 1024
            cells[(name, "procs")] = rss["max_procs"]
        cold = _load(os.path.join(d, f"cold-{name}.json"))
        if cold and cold["ms"]:
            cells[(name, "cold")] = statistics.median(cold["ms"])
        d2r = _load(os.path.join(d, f"d2r-{name}.json"))
        if d2r and d2r["ms"]:
            cells[(name, "d2r")] = statistics.median(d2r["ms"])
    return cells, bad


def cmd_report(d):
    meta = _load(os.path.join(d, "meta.json"))
    peers = _tsv(d, "status.tsv", ("name", "label", "status"))   # fnbox's rows first
    conns = meta["conns"]
    mine = [p for p in peers if p["name"] in FNBOX_ROWS]
    others = [p for p in peers if p["name"] not in FNBOX_ROWS]
    print()
    print(f"fnbox vs peers: {meta['cores']} cores, {meta['seconds']} s per cell "
          f"(`deno run` per invocation: {meta['spawn_seconds']} s), wrk on 127.0.0.1, "
          f"the same oracle and request body everywhere")
    print(f"load average before: {meta['load_before']}, after: {meta['load_after']} "
          f"(other work on this machine makes every figure noisy)")
    for p in peers:
        print(f"  {p['label']:<22} {p['status']}")
    print()

    cells, bad = _cells(d, peers, conns)
    rows = []
    for c in conns:
        rows.append((f"2xx req/s  c={c}", f"rps{c}"))
    for c in conns:
        rows.append((f"p50 ms     c={c}", f"p50{c}"))
    for c in conns:
        rows.append((f"p99 ms     c={c}", f"p99{c}"))
    rows.append((f"peak RSS MiB c={conns[-1]}", "rss"))
    rows.append(("cold start ms", "cold"))
    rows.append(("deploy+1st ms", "d2r"))

    # fnbox's columns, then per peer: its value and one ratio (fnbox row / peer) per fnbox row
    w0, wv, wr = 19, 10, 7
    wm = [max(wv, len(m["label"])) for m in mine]
    wg = wv + len(mine) * (wr + 1)
    hdr = f"{'':<{w0}}" + "".join(f" {m['label']:>{w}}" for m, w in zip(mine, wm))
    blank = f"{'':<{w0}}" + "".join(f" {'':>{w}}" for w in wm)
    sub, sub2 = blank, blank
    for p in others:
        hdr += f" | {p['label']:>{wg}}"
        sub += f" | {'value':>{wv}}" + "".join(f" {FNBOX_ROWS[m['name']] + '/':>{wr}}"
                                               for m in mine)
        sub2 += f" | {'':>{wv}}" + "".join(f" {'peer':>{wr}}" for _ in mine)
    print(hdr)
    print(sub)
    print(sub2)
    print("-" * len(hdr))
    for label, key in rows:
        line = f"{label:<{w0}}" + "".join(f" {_fmt(cells.get((m['name'], key))):>{w}}"
                                          for m, w in zip(mine, wm))
        for p in others:
            pv = cells.get((p["name"], key))
            line += f" | {_fmt(pv):>{wv}}" + "".join(
                f" {_ratio(cells.get((m['name'], key)), pv):>{wr}}" for m in mine)
        print(line)
    procs = {p["name"]: cells.get((p["name"], "procs"), "-") for p in peers}
    for label, vals in ((f"non-2xx c={'/'.join(map(str, conns))}", bad),
                        ("processes at peak", procs)):
        line = f"{label:<{w0}}" + "".join(f" {vals.get(m['name'], '-'):>{w}}"
                                          for m, w in zip(mine, wm))
        for p in others:
            line += f" | {vals.get(p['name'], '-'):>{wg}}"
        print(line)
    ratio_names = ", ".join(f"{FNBOX_ROWS[m['name']]}/peer" for m in mine)
    _note(f"({ratio_names}: that fnbox column over the peer; above 1 means fnbox has more "
          f"req/s, or more latency, memory or cold start, than the peer; fnbox: a fresh "
          f"process per invocation; fnbox snapshot: the same oracle deployed with "
          f"\"isolation\": \"snapshot\" (reused workers, heap reset after each result), "
          f"measured after it on the same fnboxd; 2xx req/s counts successful responses only; "
          f"non-2xx per run, '+Ns' = N socket errors; RSS: sum of VmRSS over the peer's whole "
          f"process tree, sampled every 20 ms under the largest load (pages shared "
          f"copy-on-write count once per process; each fnbox row under its own run, the other "
          f"mode's idle workers included); cold start: median over {meta['cold_n']} starts of "
          f"process start to first correct answer (fnbox: start fnboxd on a fresh data "
          f"directory, create a token, deploy, first invocation; `deno run` per invocation: "
          f"start the node front-end, which spawns deno for the first request); deploy+1st: "
          f"fnbox only, deploy the oracle under a fresh name and invoke it once, median of "
          f"{meta['d2r_row_n']})")
    if any(_workers(d, m["name"]) for m in mine):
        print("workers that served fnbox's runs (fnboxd's /metrics before and after them):")
    for m in mine:
        w = _workers(d, m["name"])
        if w:
            print(f"  {m['label'] + ':':<15} {_workers_text(w)}")
    print()
    _report_growth(d, meta)
    _report_targets(cells, peers, conns)
    total_bad = sum(int(x) for v in bad.values() for x in
                    v.replace("?", "0").replace("s", "").replace("+", "/").split("/") if x)
    if total_bad:
        print(f"peers: {total_bad} non-2xx responses or socket errors in the peer matrix "
              f"(see the non-2xx row)")


def _note(text, width=112):
    """Prints a footnote wrapped to width, its lines after the first indented by one space."""
    print(textwrap.fill(text, width, subsequent_indent=" ", break_on_hyphens=False))


def _workers(d, name):
    """How fnboxd's workers counters moved over run NAME ({key: count}), or None."""
    before = _load(os.path.join(d, f"workers-{name}-before.json"))
    after = _load(os.path.join(d, f"workers-{name}-after.json"))
    if not before or not after:
        return None
    return {k: after[k] - before.get(k, 0) for k in after}


def _workers_text(w):
    return (f"{w['precompiled']:,} forked by its function zygote, {w['snapshot_workers']:,} "
            f"new snapshot workers + {w['snapshot_reuses']:,} reuses, {w['compiles']:,} "
            f"compiling the function")


def _target_key(fig, c, conns):
    """(the cells key of a target's figure, None) or (None, why it was not measured)."""
    if fig == "d2r":
        return "d2r", None
    if fig == "rss":
        if c != conns[-1]:
            return None, f"peak RSS is measured at c={conns[-1]} only"
        return "rss", None
    if c not in conns:
        return None, f"no c={c} run"
    return f"{fig}{c}", None


def _report_targets(cells, peers, conns):
    """Each of TARGETS, met or missed, with the figure it was read from."""
    label = {p["name"]: p["label"] for p in peers}
    status = {p["name"]: p["status"] for p in peers}
    print("the issue's targets (read from the tables above: one run each, as noisy as the load "
          "average says)")
    for row, fig, c, op, limit, limit_s, peer in TARGETS:
        what, unit = FIGURES[fig]
        cond = what + (f" c={c}" if c else "") + f" {op} {limit_s}"
        cond += f"x {label.get(peer, peer)}" if peer else unit
        key, why = _target_key(fig, c, conns)
        v = cells.get((row, key)) if key else None
        pv = cells.get((peer, key)) if key and peer else None
        missing = [n for n, x in ((row, v is None), (peer, peer and not pv)) if x]
        if why is None and missing:   # not measured, or the peer's figure is 0 (no ratio)
            st = status.get(missing[0], "not run")
            why = f"{label.get(missing[0], missing[0])}: " + (
                "no result for it" if st.startswith("measured") else st)
        if why is not None:
            got, verdict = f"not measured ({why})", "-"
        elif peer:
            ratio = v / pv
            got = f"{ratio:.3f}x ({_fmt(v)} vs {_fmt(pv)}{unit})"
            verdict = "met" if COMPARE[op](ratio, limit) else "missed"
        else:
            got = f"{_fmt(v)}{unit}"
            verdict = "met" if COMPARE[op](v, limit) else "missed"
        print(f"  {label.get(row, row):<15} {cond:<34} {verdict:<7} {got}")
    print()


def _tsv(d, name, keys):
    try:
        with open(os.path.join(d, name)) as f:
            return [dict(zip(keys, ln.rstrip("\n").split("\t"))) for ln in f if ln.strip()]
    except OSError:
        return []


def _report_growth(d, meta):
    cases = _tsv(d, "growth.tsv", ("name", "label"))
    if not cases:
        print("fnbox cost growth: not measured")
        print()
        return
    gc = meta["growth_conns"]
    print(f"fnbox cost growth ({meta['seconds']} s per cell; round robin: wrk picks the next "
          f"function's path per request)")
    hdr = f"{'case':<24}"
    for c in gc:
        hdr += f" {'req/s c=' + str(c):>12} {'p50 ms':>8} {'p99 ms':>8}"
    hdr += f" {'non-2xx':>8} {'deploy+1st ms':>14} {'peak RSS MiB':>13} {'% zyg/snap/comp':>16}"
    print(hdr)
    print("-" * len(hdr))
    for case in cases:
        line = f"{case['label']:<24}"
        nb = 0
        for c in gc:
            r = _wrk(d, f"wrk-{case['name']}-c{c}.txt")
            if r is None:
                line += f" {'-':>12} {'-':>8} {'-':>8}"
                continue
            nb += int(r["non2xx"])
            line += (f" {_fmt(_ok_rps(r)):>12} {float(r['p50_ms']):>8.2f} "
                     f"{float(r['p99_ms']):>8.2f}")
        d2r = _load(os.path.join(d, f"d2r-{case['name']}.json"))
        rss = _load(os.path.join(d, f"rss-{case['name']}.json"))
        d2r_s = f"{statistics.median(d2r['ms']):.2f}" if d2r and d2r["ms"] else "-"
        rss_s = f"{rss['peak_sum_rss_kb'] / 1024:.1f}" if rss else "-"
        w = _workers(d, case["name"])
        if w:
            total = sum(w[k] for k in ("precompiled", "snapshot_workers", "snapshot_reuses",
                                       "compiles"))
            pct = [100.0 * x / total if total else 0.0 for x in
                   (w["precompiled"], w["snapshot_workers"] + w["snapshot_reuses"],
                    w["compiles"])]
            served = "/".join(f"{x:.0f}" for x in pct)
        else:
            served = "-"
        line += f" {nb:>8} {d2r_s:>14} {rss_s:>13} {served:>16}"
        print(line)
    snap = any(case["name"].endswith("-snap") for case in cases)
    _note(f"(sizes: a compact median oracle padded with unused functions and constant tables "
          f"to exactly 1 KB / 100 KB" +
          ("; snapshot: the same 100 KB code deployed with \"isolation\": \"snapshot\""
           if snap else "") +
          f"; functions: N copies of samples/median-oracle.js; deploy+1st: median of "
          f"{meta['d2r_n']} deploys of a fresh name, each invoked once; RSS under the "
          f"c={gc[-1]} load; % zyg/snap/comp: the case's invocations served by workers forked "
          f"by the function's zygote / by snapshot workers (new or reused) / by workers "
          f"compiling the function (no function zygote was free), from fnboxd's /metrics)")
    print()


def main(argv):
    cmds = {"body": (cmd_body, 1, 0), "gen": (cmd_gen, 2, 0), "check": (cmd_check, 2, 1),
            "coldstart": (cmd_coldstart, 5, 100), "coldstart-fnbox": (cmd_coldstart_fnbox, 4, 1),
            "deploy": (cmd_deploy, 4, 1), "d2r": (cmd_d2r, 5, 1), "multi": (cmd_multi, 5, 0),
            "report": (cmd_report, 1, 0)}
    if (len(argv) < 2 or argv[1] not in cmds
            or not cmds[argv[1]][1] <= len(argv) - 2 <= cmds[argv[1]][1] + cmds[argv[1]][2]):
        print(__doc__, file=sys.stderr)
        return 2
    cmds[argv[1]][0](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
