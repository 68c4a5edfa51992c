"""Deploy-time checks: syntax, names, limits, ownership, body size, JSON."""

import json

import pytest

from conftest import error_code, start_daemon, unique

OK = "function main(input) { return 1; }\n"


def _err(r, status, code):
    assert r.status_code == status, (r.status_code, r.text)
    assert error_code(r) == code, r.text
    return r.json()["error"]


def test_syntax_error_line(daemon, dev):
    token, _ = dev
    code = "function main(input) {\n  var x = 1;\n  var y = ;\n  return x;\n}\n"
    name = unique("syn")
    err = _err(daemon.deploy(name, code, token), 400, "syntax_error")
    assert err["line"] == 3, err
    # nothing was created
    assert daemon.api("GET", f"/v1/functions/{name}", token).status_code == 404


def test_syntax_error_line_later(daemon, dev):
    token, _ = dev
    code = "\n".join(["// line %d" % i for i in range(1, 7)] +
                     ["function main() {", "  return {a: 1,, b: 2};", "}"]) + "\n"
    err = _err(daemon.deploy(unique("syn"), code, token), 400, "syntax_error")
    assert err["line"] == 8, err


@pytest.mark.parametrize("code", [
    "function main() {\n  let x = 1;\n  return x;\n}\n",
    "var f = (a) => a + 1;\nfunction main() { return f(1); }\n",
    "function main() { return `template`; }\n",
    "class A {}\nfunction main() { return 1; }\n",
    "function main() {\n  var [a, b] = [1, 2];\n  return a;\n}\n",
    "function main() { return 1; \n",
])
def test_es2015_syntax_rejected(daemon, dev, code):
    token, _ = dev
    err = _err(daemon.deploy(unique("es6"), code, token), 400, "syntax_error")
    assert isinstance(err["line"], int) and err["line"] >= 1, err


def test_deploy_does_not_hang_on_top_level_loop(daemon, dev):
    """Deploy-time checking must not run user code unbounded: top-level code that loops
    forever must not hang the deploy (nor the daemon)."""
    token, _ = dev
    code = "while (true) {}\nfunction main() { return 1; }\n"
    r = daemon.deploy(unique("toplevel"), code, token, timeout=15)
    assert r.status_code in (201, 400), r.text
    daemon.assert_serving(token)


@pytest.mark.parametrize("name", [
    "Bad", "-lead", "_lead", "a.b", "a b", "x" * 64, "caf%C3%A9", "a;b", "a~b",
])
def test_bad_name(daemon, dev, name):
    token, _ = dev
    _err(daemon.deploy(name, OK, token), 400, "invalid_name")


def test_longest_name_ok(daemon, dev):
    token, _ = dev
    name = ("n" + unique("x").replace("-", "_") + "z" * 63)[:63]
    r = daemon.deploy(name, OK, token)
    assert r.status_code == 201, r.text


@pytest.mark.parametrize("limits", [
    {"timeout_ms": 30001},
    {"memory_mb": 257},
    {"max_output_bytes": 4194305},
    {"timeout_ms": -1},
    {"timeout_ms": 0},
    {"memory_mb": 0},
    {"memory_mb": -64},
    {"max_fetches": -1},
    {"max_output_bytes": 0},
    {"cpu_ms": 100},
    {"timeout_ms": "1000"},
    {"timeout_ms": 1.5},
    {"timeout_ms": None},
    {"memory_mb": True},
])
def test_invalid_limits(daemon, dev, limits):
    token, _ = dev
    name = unique("lim")
    _err(daemon.deploy(name, OK, token, limits=limits), 400, "invalid_limits")
    assert daemon.api("GET", f"/v1/functions/{name}", token).status_code == 404


def test_valid_limits_at_the_maximum(daemon, dev):
    token, _ = dev
    limits = {"timeout_ms": 30000, "memory_mb": 256, "max_fetches": 0,
              "max_output_bytes": 4194304}
    name = unique("limok")
    r = daemon.deploy(name, OK, token, limits=limits)
    assert r.status_code == 201, r.text
    meta = daemon.api("GET", f"/v1/functions/{name}", token).json()
    assert meta["limits"] == limits
    # a partial limits object fills in the defaults
    name2 = unique("limpart")
    daemon.deploy_ok(name2, OK, token, limits={"timeout_ms": 1000})
    meta = daemon.api("GET", f"/v1/functions/{name2}", token).json()
    assert meta["limits"] == {"timeout_ms": 1000, "memory_mb": 64, "max_fetches": 8,
                              "max_output_bytes": 1048576}


def test_name_taken(daemon, dev):
    token, _ = dev
    other, _ = daemon.developer()
    name = unique("taken")
    daemon.deploy_ok(name, OK, token)
    _err(daemon.deploy(name, OK, other), 409, "name_taken")
    # the owner can still add versions
    r = daemon.deploy(name, OK + "\n", token)
    assert r.status_code == 201 and r.json()["version"] == 2, r.text


@pytest.mark.parametrize("body", [
    b"{not json",
    b'{"code": "function main(){}"',
    b"",
    b'"just a string"',
    b"[1,2]",
])
def test_invalid_deploy_body(daemon, dev, body):
    token, _ = dev
    r = daemon.api("PUT", f"/v1/functions/{unique('badbody')}", token, data=body,
                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400, (body, r.status_code, r.text)
    if body.startswith(b"{"):  # not parseable
        assert error_code(r) == "invalid_json", r.text
    else:  # parseable or empty, but not a deploy object
        assert error_code(r) in ("invalid_json", "invalid_request"), r.text


@pytest.mark.parametrize("body", [
    {"entry": "main"},
    {"code": 42},
    {"code": OK, "allow_hosts": "api.example.com"},
    {"code": OK, "secrets": [1]},
    {"code": OK, "limits": [1]},
])
def test_invalid_deploy_fields(daemon, dev, body):
    token, _ = dev
    r = daemon.api("PUT", f"/v1/functions/{unique('badfield')}", token, json=body)
    assert r.status_code == 400, (body, r.status_code, r.text)
    error_code(r)


def test_invalid_json_invoke(daemon, dev):
    token, _ = dev
    name = unique("inv")
    daemon.deploy_ok(name, OK, token)
    r = daemon.api("POST", f"/v1/functions/{name}/invoke", token, data=b"{oops",
                   headers={"Content-Type": "application/json"})
    _err(r, 400, "invalid_json")


@pytest.fixture(scope="module")
def small_body_daemon(tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("smallbody"), ["--max-body-bytes", "65536"])
    yield d
    d.stop()


def test_body_too_large(small_body_daemon):
    d = small_body_daemon
    tok, _ = d.developer()
    big = "function main() { return 1; }\n" + "// padding padding padding\n" * 4000  # ~112 KB
    name = unique("big")
    _err(d.deploy(name, big, tok), 413, "body_too_large")
    assert d.api("GET", f"/v1/functions/{name}", tok).status_code == 404

    small = d.deploy_ok(name, OK, tok)
    assert small["version"] == 1
    payload = json.dumps({"blob": "y" * 100000})
    r = d.api("POST", f"/v1/functions/{name}/invoke", tok, data=payload,
              headers={"Content-Type": "application/json"})
    _err(r, 413, "body_too_large")
    d.assert_serving(tok)


def test_default_body_limit(daemon, dev):
    """Default --max-body-bytes is 2 MiB: 1.5 MB is accepted, 3 MB refused."""
    token, _ = dev
    name = unique("defbig")
    code = "function main() { return 1; }\n" + ("//" + "p" * 97 + "\n") * 15000  # 1.5 MB
    r = daemon.deploy(name, code, token)
    assert r.status_code == 201, (r.status_code, r.text[:300])
    code = "function main() { return 1; }\n" + ("//" + "p" * 97 + "\n") * 30000  # 3 MB
    _err(daemon.deploy(unique("defbig"), code, token), 413, "body_too_large")
    daemon.assert_serving(token)
