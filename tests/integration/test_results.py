"""How results and errors come back: exact numbers, Unicode, local-time Date, error shapes."""

from conftest import error_code, unique


def test_numbers_and_unicode_round_trip_exactly(daemon, dev):
    token, _ = dev
    name = unique("nums")
    daemon.deploy_ok(name, "function main(i) { return {a: 0.1, b: 3120.55, big: 1e21, "
                           "i: i, smile: '\\ud83d\\ude00', lone: '\\ud83d'}; }\n", token)
    r = daemon.invoke(name, token, input=[1.5, 0.1, "caf\u00e9"])
    assert r.status_code == 200, r.text[:300]
    # the raw text, not only the parsed value: 0.1 must not come back as 0.10000000000000001
    assert '"a":0.1,' in r.text and '"b":3120.55,' in r.text
    body = r.json()["result"]
    assert body["i"] == [1.5, 0.1, "caf\u00e9"]
    assert body["smile"] == "\U0001F600"
    assert body["lone"] == "\ufffd"  # a lone surrogate cannot be UTF-8: replaced, not dropped


def test_local_time_date_methods_work(daemon, dev):
    """Local-time methods must not need /etc/localtime inside the sandbox (zone is UTC)."""
    token, _ = dev
    name = unique("date")
    daemon.deploy_ok(name, "function main() { var d = new Date(2020, 0, 2, 3, 4, 5); return "
                           "[d.getHours(), d.getTimezoneOffset(), new Date(0).toString(), "
                           "typeof new Date().toLocaleString(), Date.now() > 1.6e12]; }\n", token)
    r = daemon.invoke(name, token)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["result"] == [3, 0, "1970-01-01 00:00:00.000+00:00", "string", True]


def test_host_errors_carry_no_host_line(daemon, dev):
    token, _ = dev
    name = unique("noentry")
    daemon.deploy_ok(name, "function handler() {}\n", token)
    r = daemon.invoke(name, token)
    assert r.status_code == 500
    err = r.json()["error"]
    assert err["code"] == "function_error" and err["name"] == "TypeError"
    assert "main" in err["message"]
    assert "line" not in err  # the line would be one of worker.c, meaningless to the user
    assert "worker.c" not in r.text and ".c:" not in r.text


def test_thrown_values_keep_their_meaning(daemon, dev):
    token, _ = dev
    cases = {
        "throw {code: 7, why: 'x'};": '{"code":7,"why":"x"}',
        "throw 'plain text';": "plain text",
        "throw 42;": "42",
        "var e = new Error('boom'); e.name = 'UpstreamError'; throw e;": "boom",
    }
    for body, message in cases.items():
        name = unique("thrown")
        daemon.deploy_ok(name, "function main() {\n  " + body + "\n}\n", token)
        r = daemon.invoke(name, token)
        assert r.status_code == 500, r.text[:300]
        assert error_code(r) == "function_error"
        assert r.json()["error"]["message"] == message, r.text[:300]
    r = daemon.invoke(name, token)
    assert r.json()["error"]["name"] == "UpstreamError"
    assert r.json()["error"]["line"] == 2


def test_duration_has_sub_millisecond_resolution(daemon, dev):
    token, _ = dev
    name = unique("dur")
    daemon.deploy_ok(name, "function main() { return 1; }\n", token)
    durations = [daemon.invoke(name, token).json()["duration_ms"] for _ in range(5)]
    assert all(d > 0 for d in durations)
    assert any(d != int(d) for d in durations)
