#!/usr/bin/python3
"""Helpers for bench/run.sh (standard library only).

  helper.py freeport                       print a free TCP port on 127.0.0.1
  helper.py wait URL SECONDS               wait until URL/healthz answers 200
  helper.py setup URL ADMIN_TOKEN_FILE OUTDIR [FETCH_URL]
                                           create a developer token, deploy the samples,
                                           secret-read (reads one secret) and signed-oracle
                                           (median-oracle with a signed receipt per result)
                                           (and, given FETCH_URL, the function fetch-price,
                                           which fetches it and returns its "price"), check
                                           one invocation of each, write OUTDIR/token and
                                           OUTDIR/body-<function>.json
  helper.py metrics URL OUTFILE           write fnboxd's worker counters (/metrics: workers
                                           started by kind, invocations on a snapshot worker's
                                           reset heap) as JSON to OUTFILE
  helper.py rss PID OUTFILE                sample the resident memory of PID and all its
                                           descendants every 20 ms until SIGTERM, then write
                                           a JSON summary to OUTFILE
  helper.py d2r URL TOKEN N OUTFILE        deploy a fresh function and invoke it, N times;
                                           write the timings (ms) as JSON to OUTFILE
  helper.py report DIR                     print the results table from DIR
"""

import http.client
import json
import os
import signal
import socket
import statistics
import sys
import time
import urllib.parse

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SAMPLES = {
    # function name -> (sample file, input, check of the result)
    "hello": ("hello.js", {"name": "bench"},
              lambda r: r.get("greeting") == "Hello, bench!"),
    "median-oracle": ("median-oracle.js",
                      {"symbol": "ETH", "quotes": [
                          {"source": "a", "price": 3120.5}, {"source": "b", "price": 3119.0},
                          {"source": "c", "price": 3121.25}, {"source": "d", "price": 3120.0},
                          {"source": "e", "price": 3122.75}]},
                      lambda r: r.get("median") == 3120.5 and r.get("count") == 5),
}
# ES5, as deployed: one fetch() to the benchmark's upstream (bench/static_server.c), which
# answers {"price":3120.5}. FETCH_URL is replaced by the URL as a JS string literal.
FETCH_FN = "fetch-price"
FETCH_CODE = "function main(){ var r = fetch(FETCH_URL); return r.json().price; }\n"
FETCH_PRICE = 3120.5
# The secrets and receipt paths (so that a regression in either shows): secret-read reads one
# secret and returns its length; signed-oracle is median-oracle deployed with "sign": true,
# so every successful result carries a signed receipt.
SECRET_FN = "secret-read"
SECRET_NAME = "bench_key"
SECRET_VALUE = "bench-secret-0123456789abcdef0123456789abcdef"
SECRET_CODE = "function main(){ return secrets.get('bench_key').length; }\n"
SIGNED_FN = "signed-oracle"
# median-oracle deployed with "isolation": "snapshot"
SNAPSHOT_FN = "snapshot-oracle"


def die(msg):
    print(f"bench: {msg}", file=sys.stderr)
    sys.exit(1)


class Client:
    """A keep-alive HTTP/1.1 JSON client for one fnboxd."""

    def __init__(self, url, token=None):
        u = urllib.parse.urlsplit(url)
        self.host, self.port = u.hostname, u.port or 80
        self.token = token
        self.conn = None

    def request(self, method, path, body=None, raw=None):
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = "Bearer " + self.token
        data = raw if raw is not None else (None if body is None else json.dumps(body).encode())
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                payload = resp.read()
                break
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = None
                if attempt:
                    raise
        if resp.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = None
        try:
            doc = json.loads(payload) if payload else None
        except ValueError:
            doc = payload.decode(errors="replace")
        return resp.status, doc


def cmd_freeport():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    print(s.getsockname()[1])
    s.close()


def cmd_wait(url, seconds):
    c = Client(url)
    deadline = time.monotonic() + float(seconds)
    while time.monotonic() < deadline:
        try:
            if c.request("GET", "/healthz")[0] == 200:
                return
        except OSError:
            pass
        time.sleep(0.05)
    die(f"{url}/healthz did not answer within {seconds} s")


def deploy_body(code, isolation=None):
    """The PUT /v1/functions/NAME body; isolation "snapshot" or "process" (None: the default)."""
    body = {"code": code, "entry": "main"}
    if isolation:
        body["isolation"] = isolation
    return body


def cmd_setup(url, admin_file, outdir, fetch_url=None):
    with open(admin_file) as f:
        admin = f.read().strip()
    status, doc = Client(url, admin).request(
        "POST", "/v1/tokens", {"role": "developer", "owner": "bench"})
    if status != 201:
        die(f"POST /v1/tokens: {status} {doc}")
    token = doc["token"]
    dev = Client(url, token)
    for name, (path, inp, check) in SAMPLES.items():
        with open(os.path.join(REPO, "samples", path)) as f:
            code = f.read()
        status, doc = dev.request("PUT", f"/v1/functions/{name}", deploy_body(code))
        if status != 201:
            die(f"deploy {name}: {status} {doc}")
        status, doc = dev.request("POST", f"/v1/functions/{name}/invoke", inp)
        if status != 200 or not isinstance(doc, dict) or not check(doc.get("result") or {}):
            die(f"invoke {name}: unexpected answer {status} {doc}")
        with open(os.path.join(outdir, f"body-{name}.json"), "w") as f:
            json.dump(inp, f)
    status, doc = dev.request("PUT", f"/v1/secrets/{SECRET_NAME}", {"value": SECRET_VALUE})
    if status != 201:
        die(f"PUT /v1/secrets/{SECRET_NAME}: {status} {doc}")
    body = deploy_body(SECRET_CODE)
    body["secrets"] = [SECRET_NAME]
    status, doc = dev.request("PUT", f"/v1/functions/{SECRET_FN}", body)
    if status != 201:
        die(f"deploy {SECRET_FN}: {status} {doc}")
    status, doc = dev.request("POST", f"/v1/functions/{SECRET_FN}/invoke", None)
    if status != 200 or not isinstance(doc, dict) or doc.get("result") != len(SECRET_VALUE):
        die(f"invoke {SECRET_FN}: unexpected answer {status} {doc}")
    with open(os.path.join(outdir, f"body-{SECRET_FN}.json"), "w") as f:
        f.write("null")
    path, inp, check = SAMPLES["median-oracle"]
    with open(os.path.join(REPO, "samples", path)) as f:
        oracle_code = f.read()
    # the same oracle in snapshot mode: a snapshot worker, its heap reset between invocations
    body = deploy_body(oracle_code, "snapshot")
    status, doc = dev.request("PUT", f"/v1/functions/{SNAPSHOT_FN}", body)
    if status != 201:
        die(f"deploy {SNAPSHOT_FN}: {status} {doc}")
    for _ in range(3):  # the first runs in a fresh process and loads the function zygote
        status, doc = dev.request("POST", f"/v1/functions/{SNAPSHOT_FN}/invoke", inp)
        if status != 200 or not isinstance(doc, dict) or not check(doc.get("result") or {}):
            die(f"invoke {SNAPSHOT_FN}: unexpected answer {status} {doc}")
        time.sleep(0.05)
    with open(os.path.join(outdir, f"body-{SNAPSHOT_FN}.json"), "w") as f:
        json.dump(inp, f)
    body = deploy_body(oracle_code)
    body["sign"] = True
    status, doc = dev.request("PUT", f"/v1/functions/{SIGNED_FN}", body)
    if status != 201:
        die(f"deploy {SIGNED_FN}: {status} {doc}")
    status, doc = dev.request("POST", f"/v1/functions/{SIGNED_FN}/invoke", inp)
    if (status != 200 or not isinstance(doc, dict) or not check(doc.get("result") or {})
            or not doc.get("receipt")):
        die(f"invoke {SIGNED_FN}: unexpected answer (no receipt?) {status} {str(doc)[:300]}")
    with open(os.path.join(outdir, f"body-{SIGNED_FN}.json"), "w") as f:
        json.dump(inp, f)
    if fetch_url:
        u = urllib.parse.urlsplit(fetch_url)
        body = deploy_body(FETCH_CODE.replace("FETCH_URL", json.dumps(fetch_url)))
        body["allow_hosts"] = [f"{u.hostname}:{u.port}"]
        status, doc = dev.request("PUT", f"/v1/functions/{FETCH_FN}", body)
        if status != 201:
            die(f"deploy {FETCH_FN}: {status} {doc}")
        status, doc = dev.request("POST", f"/v1/functions/{FETCH_FN}/invoke", None)
        if status != 200 or not isinstance(doc, dict) or doc.get("result") != FETCH_PRICE:
            die(f"invoke {FETCH_FN}: unexpected answer {status} {doc}")
        with open(os.path.join(outdir, f"body-{FETCH_FN}.json"), "w") as f:
            f.write("null")
    with open(os.path.join(outdir, "token"), "w") as f:
        f.write(token)
    os.chmod(os.path.join(outdir, "token"), 0o600)


# /metrics series -> key in the JSON written by `metrics`: the workers that served
# invocations, by kind (compiling the function, forked by its function zygote, a new snapshot
# worker), and the invocations a snapshot worker served again after its heap was reset
WORKER_SERIES = {'fnbox_workers_total{kind="compiles"}': "compiles",
                 'fnbox_workers_total{kind="precompiled"}': "precompiled",
                 'fnbox_workers_total{kind="snapshot"}': "snapshot_workers",
                 "fnbox_snapshot_reuses_total": "snapshot_reuses"}


def worker_counters(url):
    """fnboxd's worker counters from /metrics, as {key: count} (see WORKER_SERIES)."""
    status, doc = Client(url).request("GET", "/metrics")
    if status != 200 or not isinstance(doc, str):
        die(f"GET /metrics: {status} {str(doc)[:200]}")
    got = {}
    for line in doc.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[0] in WORKER_SERIES:
            got[WORKER_SERIES[parts[0]]] = int(parts[1])
    missing = set(WORKER_SERIES.values()) - set(got)
    if missing:
        die(f"GET /metrics: no {', '.join(sorted(missing))} series")
    return got


def cmd_metrics(url, outfile):
    with open(outfile, "w") as f:
        json.dump(worker_counters(url), f)


def _children_map():
    kids = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # the command name may contain spaces and parentheses: split after the last ')'
        ppid = int(stat[stat.rindex(")") + 2:].split()[1])
        kids.setdefault(ppid, []).append(int(entry))
    return kids


def _tree(root):
    kids = _children_map()
    out, todo = [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(kids.get(pid, []))
    return out


def _status_kb(pid, fields=("VmRSS", "VmHWM")):
    vals = {}
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                key = line.split(":", 1)[0]
                if key in fields:
                    vals[key] = int(line.split()[1])
    except OSError:
        pass
    return vals


def cmd_rss(pid, outfile):
    root = int(pid)
    stop = []
    signal.signal(signal.SIGTERM, lambda *a: stop.append(1))
    signal.signal(signal.SIGINT, lambda *a: stop.append(1))
    peak_sum, peak_procs, max_procs, samples = 0, 0, 0, 0
    root_hwm, worker_hwm = 0, 0
    while not stop:
        pids = _tree(root)
        total = 0
        for p in pids:
            v = _status_kb(p)
            total += v.get("VmRSS", 0)
            if p == root:
                root_hwm = max(root_hwm, v.get("VmHWM", 0))
            else:
                worker_hwm = max(worker_hwm, v.get("VmHWM", 0))
        samples += 1
        max_procs = max(max_procs, len(pids))
        if total > peak_sum:
            peak_sum, peak_procs = total, len(pids)
        time.sleep(0.02)
    with open(outfile, "w") as f:
        json.dump({"peak_sum_rss_kb": peak_sum, "procs_at_peak": peak_procs,
                   "max_procs": max_procs, "fnboxd_hwm_kb": root_hwm,
                   "max_child_hwm_kb": worker_hwm, "samples": samples}, f)


def cmd_d2r(url, token, n, outfile):
    with open(os.path.join(REPO, "samples", "hello.js")) as f:
        code = f.read()
    c = Client(url, token)
    total, deploy, first = [], [], []
    stamp = os.getpid()
    for i in range(int(n)):
        name = f"d2r-{stamp}-{i}"
        body = json.dumps(deploy_body(code + f"\n// {name}\n")).encode()
        t0 = time.perf_counter()
        status, doc = c.request("PUT", f"/v1/functions/{name}", raw=body)
        t1 = time.perf_counter()
        if status != 201:
            die(f"deploy {name}: {status} {doc}")
        status, doc = c.request("POST", f"/v1/functions/{name}/invoke", {"name": "d2r"})
        t2 = time.perf_counter()
        if status != 200:
            die(f"invoke {name}: {status} {doc}")
        total.append((t2 - t0) * 1000)
        deploy.append((t1 - t0) * 1000)
        first.append((t2 - t1) * 1000)
        c.request("DELETE", f"/v1/functions/{name}")
    with open(outfile, "w") as f:
        json.dump({"n": len(total), "total_ms": total, "deploy_ms": deploy,
                   "first_invoke_ms": first}, f)


def _parse_wrk(path, tag="BENCH "):
    try:
        with open(path) as f:
            for line in f:
                if line.startswith(tag):
                    return dict(kv.split("=", 1) for kv in line.split()[1:])
    except OSError:
        pass
    return None


def ok_rps(r):
    """Successful (2xx) responses per second of a parsed wrk summary (None: None)."""
    if r is None:
        return None
    reqs, non2xx = int(r["requests"]), int(r["non2xx"])
    return float(r["rps"]) * ((reqs - non2xx) / reqs) if reqs else 0.0


def cmd_report(d):
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    print()
    print(f"fnbox bench: {meta['cores']} cores, {meta['seconds']} s per run, "
          f"fnboxd --max-workers {meta['max_workers']} --threads {meta['threads']}, "
          f"wrk {meta['wrk']}")
    print(f"load average before: {meta['load_before']}, after: {meta['load_after']} "
          f"(other work on the machine skews the tail latencies)")
    print()
    hdr = (f"{'function':<15} {'conns':>5} {'req/s':>9} {'2xx/s':>9} {'p50 ms':>8} {'p90 ms':>8} "
           f"{'p99 ms':>8} {'max ms':>8} {'requests':>9} {'non-2xx':>8}  {'socket errors':<14}")
    print(hdr)
    print("-" * len(hdr))
    bad_total = 0
    for run in meta["runs"]:
        r = _parse_wrk(os.path.join(d, run["file"]))
        if r is None:
            print(f"{run['function']:<15} {run['conns']:>5}  (wrk produced no result; "
                  f"see {run['file']})")
            bad_total += 1
            continue
        non2xx = int(r["non2xx"])
        bad_total += non2xx
        sock = "/".join(r[k] for k in ("connect_errors", "read_errors", "write_errors",
                                          "timeouts"))
        print(f"{run['function']:<15} {run['conns']:>5} {float(r['rps']):>9.1f} {ok_rps(r):>9.1f} "
              f"{float(r['p50_ms']):>8.2f} {float(r['p90_ms']):>8.2f} "
              f"{float(r['p99_ms']):>8.2f} {float(r['max_ms']):>8.1f} "
              f"{int(r['requests']):>9} {non2xx:>8}  {sock:<14}")
        if non2xx:
            print(f"{'':<15} {'':>5} non-2xx by status: {r['statuses']}")
    print("(req/s counts every response, 2xx/s only successful ones; latencies are over all "
          "responses; socket errors: connect/read/write/timeout)")
    print()
    try:
        with open(os.path.join(d, "rss.json")) as f:
            rss = json.load(f)
        print(f"peak RSS, fnboxd + all descendants (sum of VmRSS sampled every 20 ms "
              f"under load): {rss['peak_sum_rss_kb'] / 1024:.1f} MiB "
              f"({rss['procs_at_peak']} processes; at most {rss['max_procs']} at once)")
        print("  (pages shared copy-on-write with the zygote count once per process, so "
              "the sum overstates real use)")
        print(f"  fnboxd VmHWM {rss['fnboxd_hwm_kb'] / 1024:.1f} MiB, largest descendant "
              f"VmHWM {rss['max_child_hwm_kb'] / 1024:.1f} MiB, {rss['samples']} samples")
    except OSError:
        print("peak RSS: not measured")
    try:
        with open(os.path.join(d, "d2r.json")) as f:
            d2r = json.load(f)
        med = statistics.median
        print(f"deploy-to-first-result (deploy a fresh function, then invoke it; "
              f"median of {d2r['n']}): {med(d2r['total_ms']):.2f} ms "
              f"(deploy {med(d2r['deploy_ms']):.2f} ms + first invoke "
              f"{med(d2r['first_invoke_ms']):.2f} ms; max {max(d2r['total_ms']):.2f} ms)")
    except OSError:
        print("deploy-to-first-result: not measured")
    _report_extra_cost(d, meta)
    print()
    if "fetch" in meta:
        bad_total += _report_fetch(d, meta)
    if bad_total:
        print(f"bench: {bad_total} non-2xx responses or failed runs (see above)")


def _report_extra_cost(d, meta):
    """One connection: what reading a secret and signing a receipt add per request; and
    snapshot mode against process mode (the same oracle), as ratios."""
    runs = {}   # (function, connections) -> parsed wrk summary
    for run in meta["runs"]:
        r = _parse_wrk(os.path.join(d, run["file"]))
        if r is not None and float(r["rps"]):
            runs[(run["function"], run["conns"])] = r
    one = {fn: 1000.0 / float(r["rps"]) for (fn, c), r in runs.items() if c == 1}
    for fn, base, what in ((SECRET_FN, "hello", "reading one secret"),
                           (SIGNED_FN, "median-oracle", "signing a receipt")):
        if fn in one and base in one:
            print(f"one connection, time per request: {fn} {one[fn]:.3f} ms, {base} "
                  f"{one[base]:.3f} ms: about {one[fn] - one[base]:.3f} ms for {what} "
                  f"(a difference of two runs: noisy)")
    _report_snapshot(d, runs)


def _report_snapshot(d, runs, fn=SNAPSHOT_FN, base="median-oracle"):
    """fn (the oracle, isolation "snapshot") against base (the same code, a fresh process per
    invocation), at each connection count both ran."""
    conns = sorted({c for (f, c) in runs if f == fn} & {c for (f, c) in runs if f == base},
                   reverse=True)
    if not conns:
        return
    print(f"{fn} vs {base} (the same oracle: a reused snapshot worker whose heap is reset, "
          f"vs a fresh process per invocation), snapshot/process:")
    for c in conns:
        s, p = runs[(fn, c)], runs[(base, c)]
        what = f"{c} connection" + ("s" if c > 1 else "")
        if c == 1:
            ts, tp = 1000.0 / float(s["rps"]), 1000.0 / float(p["rps"])
            parts = [f"time per request {ts:.3f} vs {tp:.3f} ms ({ts / tp:.3f}x)"]
        else:
            ss, sp = ok_rps(s), ok_rps(p)
            parts = [f"2xx/s {ss:.1f} vs {sp:.1f} ({ss / sp if sp else 0:.3f}x)"]
        for q in ("p50", "p99"):
            qs, qp = float(s[q + "_ms"]), float(p[q + "_ms"])
            parts.append(f"{q} {qs:.2f} vs {qp:.2f} ms ({qs / qp if qp else 0:.3f}x)")
        print(f"  {what + ':':<16} " + ", ".join(parts))
    try:
        with open(os.path.join(d, "metrics.json")) as f:
            m = json.load(f)
        print(f"  (fnboxd /metrics after the runs: {m['snapshot_workers']} snapshot workers "
              f"started, {m['snapshot_reuses']} invocations on a reset heap)")
    except OSError:
        pass


def _report_fetch(d, meta):
    """Prints the fnbox-vs-libcurl section; returns the number of failed requests/runs."""
    fm = meta["fetch"]
    fnbox = {}
    hello = {}
    for run in meta["runs"]:
        if run["function"] in (fm["function"], "hello"):
            r = _parse_wrk(os.path.join(d, run["file"]))
            if r is not None:
                r["ok_rps"] = ok_rps(r)
                (fnbox if run["function"] == fm["function"] else hello)[run["conns"]] = r
    bad = 0
    print(f"fetch: fnbox vs plain libcurl (GET {fm['url']}, a fresh connection per "
          f"request in both)")
    print(f"  fnbox: wrk invoking {fm['function']} (one fetch(), returns the price), "
          f"{meta['seconds']} s per row; libcurl: bench/curl_loop.c, a new easy handle per "
          f"request, {fm['curl_seconds']} s per row")
    hdr = (f"  {'conns':>5} {'fnbox 2xx/s':>12} {'libcurl ok/s':>13} {'fnbox/libcurl':>14} "
           f"{'fnbox p50 ms':>13} {'libcurl p50 ms':>15} {'libcurl errors':>15}")
    print(hdr)
    print("  " + "-" * (len(hdr) - 2))
    for run in fm["curl_runs"]:
        c = run["conns"]
        cr = _parse_wrk(os.path.join(d, run["file"]), "CURLLOOP ")
        fr = fnbox.get(c)
        if cr is None:
            print(f"  {c:>5}  (curl_loop produced no result; see {run['file']})")
            bad += 1
            continue
        errors = int(cr["errors"])
        bad += errors
        curl_rps = float(cr["rps"])
        if fr is None:
            f_rps, ratio, f_p50 = "-", "-", "-"
        else:
            f_rps = f"{fr['ok_rps']:.1f}"
            ratio = f"{fr['ok_rps'] / curl_rps:.4f}" if curl_rps else "-"
            f_p50 = f"{float(fr['p50_ms']):.2f}"
        print(f"  {c:>5} {f_rps:>12} {curl_rps:>13.1f} {ratio:>14} {f_p50:>13} "
              f"{float(cr['p50_ms']):>15.3f} {errors:>15}")
    f1, h1 = fnbox.get(1), hello.get(1)
    c1 = _parse_wrk(os.path.join(d, fm["curl_runs"][0]["file"]), "CURLLOOP ")
    if f1 and c1 and float(f1["rps"]) and float(c1["rps"]):
        per_f = 1000.0 / float(f1["rps"])
        per_c = 1000.0 / float(c1["rps"])
        line = (f"  one connection, time per request: fnbox {per_f:.3f} ms, libcurl "
                f"{per_c:.3f} ms")
        if h1 and float(h1["rps"]):
            per_h = 1000.0 / float(h1["rps"])
            line += (f"; hello (no fetch) {per_h:.3f} ms, so about "
                     f"{per_f - per_h:.3f} ms for the fetch() (a difference of two runs: noisy)")
        print(line)
    try:
        with open(os.path.join(d, "upstream.log")) as f:
            last = [ln.strip() for ln in f if ln.strip()]
        if last:
            print(f"  upstream ({fm['upstream_threads']} epoll threads): "
                  f"{last[-1].removeprefix('static_server: ')}")
    except OSError:
        pass
    print(f"  ({meta['cores']} cores shared by wrk or curl_loop, fnboxd and its workers, and "
          f"the upstream; the ratio is what the sandboxed invocation costs around the same "
          f"request)")
    print()
    return bad


def main(argv):
    # command -> (function, required arguments, optional arguments)
    cmds = {"freeport": (cmd_freeport, 0, 0), "wait": (cmd_wait, 2, 0),
            "setup": (cmd_setup, 3, 1), "metrics": (cmd_metrics, 2, 0),
            "rss": (cmd_rss, 2, 0), "d2r": (cmd_d2r, 4, 0),
            "report": (cmd_report, 1, 0)}
    if (len(argv) < 2 or argv[1] not in cmds
            or not cmds[argv[1]][1] <= len(argv) - 2 <= cmds[argv[1]][1] + cmds[argv[1]][2]):
        print(__doc__, file=sys.stderr)
        return 2
    cmds[argv[1]][0](*argv[2:])
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
