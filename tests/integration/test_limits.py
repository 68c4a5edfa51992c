"""Each per-invocation limit, actually triggered; the daemon keeps serving after each."""

import time

import pytest

from conftest import error_code, unique


def _fail(r, status, code):
    assert r.status_code == status, (r.status_code, r.text[:500])
    assert error_code(r) == code, r.text[:500]
    body = r.json()
    assert isinstance(body.get("invocation_id"), str) and body["invocation_id"], body
    assert isinstance(body.get("logs"), list), body
    assert "result" not in body, body
    return body["error"]


def _deploy(d, token, code, **limits):
    name = unique("lim")
    d.deploy_ok(name, code, token, limits=limits)
    return name


def test_infinite_loop_timeout(daemon, dev):
    d = daemon
    token, _ = dev
    name = _deploy(d, token, "function main() {\n  while (true) {}\n}\n", timeout_ms=500)
    t0 = time.monotonic()
    r = d.invoke(name, token, input={})
    elapsed = time.monotonic() - t0
    _fail(r, 504, "timeout")
    assert elapsed < 4, f"timeout_ms=500 took {elapsed:.1f} s"
    assert elapsed >= 0.45, f"killed too early ({elapsed:.2f} s)"
    d.assert_serving(token)


def test_loop_with_catch_cannot_escape_timeout(daemon, dev):
    """A loop that swallows every exception still dies at the deadline."""
    d = daemon
    token, _ = dev
    code = """function main() {
  for (;;) { try { for (;;) {} } catch (e) {} finally { continue; } }
}
"""
    name = _deploy(d, token, code, timeout_ms=500)
    t0 = time.monotonic()
    r = d.invoke(name, token, input={})
    _fail(r, 504, "timeout")
    assert time.monotonic() - t0 < 4
    d.assert_serving(token)


def test_logs_kept_on_timeout(daemon, dev):
    d = daemon
    token, _ = dev
    name = _deploy(d, token, "function main() {\n  console.log('before');\n  for (;;) {}\n}\n",
                   timeout_ms=300)
    r = d.invoke(name, token, input={})
    _fail(r, 504, "timeout")
    # logs are best-effort after a kill, but must be a list of strings
    assert all(isinstance(x, str) for x in r.json()["logs"])


MEMORY_BOMBS = {
    "string_doubling": "function main() {\n  var s = 'x';\n  while (true) { s = s + s; }\n}\n",
    "array_of_strings": """function main() {
  var filler = new Array(1025).join('m');
  var a = [];
  for (var i = 0; ; i++) { a.push(i + ':' + filler); }
}
""",
    "array_of_objects": """function main() {
  var a = [];
  for (var i = 0; ; i++) { a.push({i: i, s: 'v' + i, o: {x: [i, i]}}); }
}
""",
    "big_join": """function main() {
  var parts = [];
  for (var n = 1; ; n *= 2) { parts.push(new Array(n * 1024).join('z')); parts.join(''); }
}
""",
}


@pytest.mark.parametrize("kind", sorted(MEMORY_BOMBS))
def test_memory_bomb(daemon, dev, kind):
    d = daemon
    token, _ = dev
    name = _deploy(d, token, MEMORY_BOMBS[kind], memory_mb=16, timeout_ms=10000)
    t0 = time.monotonic()
    r = d.invoke(name, token, input={})
    elapsed = time.monotonic() - t0
    _fail(r, 500, "memory_limit")
    assert elapsed < 9, f"memory bomb took {elapsed:.1f} s"
    d.assert_serving(token)


def test_memory_limit_is_per_function(daemon, dev):
    """24 MB of strings fits in memory_mb=64 but not in memory_mb=16."""
    d = daemon
    token, _ = dev
    code = """function main() {
  var base = 'x';
  for (var k = 0; k < 20; k++) base = base + base;
  var a = [];
  for (var i = 0; i < 24; i++) a.push(base + i);
  var n = 0;
  for (i = 0; i < a.length; i++) n += a[i].length;
  return n;
}
"""
    small = _deploy(d, token, code, memory_mb=16, timeout_ms=10000)
    big = _deploy(d, token, code, memory_mb=64, timeout_ms=10000)
    r = d.invoke(big, token, input={})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["result"] == sum(1024 * 1024 + len(str(i)) for i in range(24))
    _fail(d.invoke(small, token, input={}), 500, "memory_limit")
    d.assert_serving(token)


def test_memory_error_caught_in_js(daemon, dev):
    d = daemon
    token, _ = dev
    code = """function grow() {
  var s = 'x';
  while (true) { s = s + s; }
}
function main() {
  var caught = null;
  try { grow(); } catch (e) { caught = String(e && e.message); }
  var after = [1, 2, 3].join('-') + ':' + JSON.stringify({k: 'v'});
  return {caught: caught, after: after};
}
"""
    name = _deploy(d, token, code, memory_mb=16, timeout_ms=10000)
    r = d.invoke(name, token, input={})
    assert r.status_code == 200, r.text[:500]
    res = r.json()["result"]
    assert isinstance(res["caught"], str) and res["caught"], res
    assert res["after"] == '1-2-3:{"k":"v"}'
    d.assert_serving(token)


def test_output_limit_small(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function main(n) { return new Array(n + 1).join('x'); }\n"
    name = _deploy(d, token, code, max_output_bytes=1024)
    r = d.invoke(name, token, input=500)
    assert r.status_code == 200 and r.json()["result"] == "x" * 500, r.text[:300]
    _fail(d.invoke(name, token, input=5000), 500, "output_limit")
    d.assert_serving(token)


def test_huge_output_default_limit(daemon, dev):
    """4 MiB result against the default 1 MiB max_output_bytes."""
    d = daemon
    token, _ = dev
    code = "function main() {\n  var s = 'x';\n  for (var i = 0; i < 22; i++) s = s + s;\n  return s;\n}\n"
    name = unique("huge")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    _fail(r, 500, "output_limit")
    assert len(r.content) < 100000, "the refused output must not be sent anyway"
    d.assert_serving(token)


def test_console_log_flood(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function main() {\n  for (var i = 0; i < 100000; i++) console.log('line ' + i);\n  return 1;\n}\n"
    name = unique("flood")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    _fail(r, 500, "output_limit")
    assert len(r.json()["logs"]) <= 256
    assert len(r.content) < 200 * 1024
    d.assert_serving(token)


def test_console_log_one_huge_line(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function main() {\n  console.log(new Array(70 * 1024).join('q'));\n  return 1;\n}\n"
    name = unique("bigline")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    _fail(r, 500, "output_limit")
    assert len(r.content) < 200 * 1024
    d.assert_serving(token)


def test_console_log_line_cap(daemon, dev):
    """256 lines are fine, the 257th fails the invocation (contract: 64 KiB / 256 lines)."""
    d = daemon
    token, _ = dev
    code = "function main(n) {\n  for (var i = 0; i < n; i++) console.log(i);\n  return n;\n}\n"
    name = unique("lines")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input=256)
    assert r.status_code == 200, r.text[:300]
    assert r.json()["logs"] == [str(i) for i in range(256)]
    _fail(d.invoke(name, token, input=257), 500, "output_limit")


def test_deep_recursion(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function f(n) {\n  return f(n + 1) + 1;\n}\nfunction main() {\n  return f(0);\n}\n"
    name = unique("recurse")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    assert r.status_code == 500, (r.status_code, r.text[:300])
    err = r.json()["error"]
    assert err["code"] in ("function_error", "memory_limit"), err
    if err["code"] == "function_error":
        assert err.get("name") == "RangeError", err
    d.assert_serving(token)


def test_deep_recursion_caught(daemon, dev):
    d = daemon
    token, _ = dev
    code = """function f(n) { return f(n + 1) + 1; }
function main() {
  try { f(0); } catch (e) { return {name: e.name}; }
  return 'unreachable';
}
"""
    name = unique("recurse2")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    assert r.status_code == 200, r.text[:300]
    assert r.json()["result"] == {"name": "RangeError"}


def test_thrown_error(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function main(input) {\n  console.log('about to throw');\n  throw new Error('boom ' + input.n);\n}\n"
    name = unique("throw")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={"n": 42})
    err = _fail(r, 500, "function_error")
    assert err["name"] == "Error", err
    assert "boom 42" in err["message"], err
    assert err["line"] == 3, err
    assert r.json()["logs"] == ["about to throw"]
    d.assert_serving(token)


def test_type_error(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function main() {\n  var o = null;\n  var a = 1;\n  return o.field;\n}\n"
    name = unique("typeerr")
    d.deploy_ok(name, code, token)
    err = _fail(d.invoke(name, token, input={}), 500, "function_error")
    assert err["name"] == "TypeError", err
    assert err["line"] == 4, err


def test_throw_non_error_values(daemon, dev):
    d = daemon
    token, _ = dev
    code = "function main(v) {\n  throw v;\n}\n"
    name = unique("thrownon")
    d.deploy_ok(name, code, token)
    for v in ["a string", 7, None, {"obj": 1}]:
        r = d.invoke(name, token, input=v)
        _fail(r, 500, "function_error")
    d.assert_serving(token)


def test_custom_error_subclass_name(daemon, dev):
    d = daemon
    token, _ = dev
    code = """function MyErr(m) { this.message = m; }
MyErr.prototype = Object.create(Error.prototype);
MyErr.prototype.name = 'MyErr';
function main() {
  throw new MyErr('custom');
}
"""
    name = unique("myerr")
    d.deploy_ok(name, code, token)
    err = _fail(d.invoke(name, token, input={}), 500, "function_error")
    assert err["name"] == "MyErr" and "custom" in err["message"], err


def test_entry_missing_is_error_not_crash(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("noentry")
    r = d.deploy(name, "function other() { return 1; }\n", token)
    if r.status_code == 400:  # rejected at deploy time: fine too
        error_code(r)
        return
    assert r.status_code == 201, r.text
    r = d.invoke(name, token, input={})
    assert r.status_code in (400, 500), r.text
    assert r.json()["error"]["code"] in ("function_error", "invalid_request"), r.text
    d.assert_serving(token)


def test_unserialisable_result(daemon, dev):
    """A result JSON cannot encode (cycle) is an error, not a crash."""
    d = daemon
    token, _ = dev
    code = "function main() {\n  var o = {};\n  o.self = o;\n  return o;\n}\n"
    name = unique("cycle")
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    assert r.status_code == 500, r.text
    assert error_code(r) == "function_error"
    d.assert_serving(token)
