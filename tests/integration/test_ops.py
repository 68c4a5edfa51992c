"""Operational endpoints: /healthz, /readyz, /metrics."""

import os
import re

from conftest import unique


def test_healthz(daemon):
    r = daemon.api("GET", "/healthz")
    assert r.status_code == 200 and r.json() == {"status": "ok"}, r.text


def test_readyz_confinement(daemon):
    r = daemon.api("GET", "/readyz")
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["status"] == "ready"
    c = body["confinement"]
    for key in ("seccomp", "no_new_privs", "caps_dropped", "rlimits"):
        assert c[key] is True, (key, c)
    assert isinstance(c["uid_switch"], bool) and isinstance(c["user_namespace"], bool), c
    if os.geteuid() == 0:
        assert c["uid_switch"] is True and c["worker_uid"] == 65534, c
    else:
        assert c["uid_switch"] is False, c


def _samples(text, metric):
    out = {}
    for line in text.splitlines():
        m = re.match(r"^%s(\{[^}]*\})?\s+(\S+)" % re.escape(metric), line)
        if m:
            labels = dict(re.findall(r'(\w+)="((?:[^"\\]|\\.)*)"', m.group(1) or ""))
            out[tuple(sorted(labels.items()))] = float(m.group(2))
    return out


def test_metrics(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("metered")
    d.deploy_ok(name, "function main(x) { if (x) throw new Error('no'); return 1; }\n", token)
    for _ in range(3):
        assert d.invoke(name, token, input=0).status_code == 200
    for _ in range(2):
        assert d.invoke(name, token, input=1).status_code == 500

    r = d.api("GET", "/metrics")
    assert r.status_code == 200
    assert r.headers.get("Content-Type", "").startswith("text/plain"), r.headers
    text = r.text
    assert "# TYPE fnbox_invocations_total counter" in text
    inv = _samples(text, "fnbox_invocations_total")
    mine = {dict(k)["outcome"]: v for k, v in inv.items() if dict(k).get("function") == name}
    assert sum(mine.values()) == 5, (mine, text[:2000])
    assert sorted(mine.values()) == [2, 3], mine
    assert len(mine) == 2, mine

    assert "# TYPE fnbox_invocation_duration_seconds histogram" in text
    assert _samples(text, "fnbox_invocation_duration_seconds_count")
    assert _samples(text, "fnbox_invocation_duration_seconds_bucket")
    assert _samples(text, "fnbox_workers_busy")
    assert _samples(text, "fnbox_queue_depth")
    assert "fnbox_" in text and d.admin not in text


def test_metrics_label_escaping_safe(daemon, dev):
    """Function names are restricted, so a label can never break the exposition format:
    every non-comment line is `name{labels} value`."""
    r = daemon.api("GET", "/metrics")
    for line in r.text.splitlines():
        if not line or line.startswith("#"):
            continue
        assert re.match(r'^[a-zA-Z_:][a-zA-Z0-9_:]*(\{[^{}\n]*\})? '
                        r'([-+]?[0-9.]+([eE][-+]?[0-9]+)?|[-+]?Inf|NaN)( -?[0-9]+)?$', line), line
