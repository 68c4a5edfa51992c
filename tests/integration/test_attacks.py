"""Attack suite (issue 5, item 6): hostile JavaScript through the real HTTP API.

Every test plays one attack class against a real fnboxd and asserts the specific outcome
(HTTP status and error code, or the exact result). After every test, whatever happened, an
autouse fixture checks that the attack cost nothing beyond its own invocation:

  (a) fnboxd still serves (`assert_serving`),
  (b) the next invocation of a benign function gives its exact result,
  (c) the secret store is untouched: the canary secret stored when the module started is
      still version 1, a granted reader function still reads exactly its value, and the
      audit chain verifies (GET /v1/audit/verify -> ok).

Limits are kept small (timeout_ms 500-1500, memory_mb 16) so the file runs in well under a
minute. Syscall-level attacks (x32, int 0x80, ioctl tricks) live with the confinement tests;
this file is about what JavaScript can reach.
"""

import concurrent.futures
import hashlib
import json
import os
import re
import time

import pytest

from conftest import REPO, error_code, start_daemon, unique

CANARY_NAME = "atk_canary"
CANARY = "CANARY-attack-suite-5e1f0c2a-never-leak"
CANARY_SHA = hashlib.sha256(CANARY.encode()).hexdigest()

FAST = {"timeout_ms": 1000, "memory_mb": 16}   # memory attacks: the cap should win
SHORT = {"timeout_ms": 500, "memory_mb": 16}   # pure CPU attacks: the deadline wins

# The complete set of globals a function sees (docs/js-api.md, "Built-ins").
DOC_GLOBALS = {
    "Array", "ArrayBuffer", "Boolean", "DataView", "Date", "Error", "EvalError",
    "Float32Array", "Float64Array", "Infinity", "Int16Array", "Int32Array", "Int8Array",
    "JSON", "Math", "NaN", "Number", "Object", "Proxy", "RangeError", "ReferenceError",
    "Reflect", "RegExp", "String", "Symbol", "SyntaxError", "TextDecoder", "TextEncoder",
    "TypeError", "URIError", "Uint16Array", "Uint32Array", "Uint8Array", "Uint8ClampedArray",
    "console", "decodeURI", "decodeURIComponent", "crypto", "encodeURI",
    "encodeURIComponent", "escape", "fetch", "globalThis", "isFinite", "isNaN", "parseFloat",
    "parseInt", "secrets", "undefined", "unescape",
}

BENIGN = """function main(input) {
  console.log('benign', input.n);
  return {n: input.n * 2, h: crypto.sha256('abc'), s: [3, 1, 2].sort().join(','),
          j: JSON.parse(JSON.stringify({k: [1, 'x']}))};
}
"""
BENIGN_RESULT = {"n": 42, "h": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
                 "s": "1,2,3", "j": {"k": [1, "x"]}}

READER = """function main() {
  var v = secrets.get('%s');
  return {length: v.length, sha: crypto.sha256(v)};
}
""" % CANARY_NAME


# ---- fixtures -----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def daemon(tmp_path_factory, up):
    d = start_daemon(tmp_path_factory.mktemp("fnboxd-attacks"), [
        "--egress-allow-private", "127.0.0.0/8",
        "--egress-allow-http", up.hostport()])
    yield d
    d.stop()


class Env:
    def __init__(self, d, up):
        self.d = d
        self.up = up
        self.token, self.owner = d.developer()
        r = d.api("PUT", f"/v1/secrets/{CANARY_NAME}", self.token, json={"value": CANARY})
        assert r.status_code == 201 and r.json()["version"] == 1, r.text
        self.benign = unique("benign")
        d.deploy_ok(self.benign, BENIGN, self.token)
        self.reader = unique("reader")
        d.deploy_ok(self.reader, READER, self.token, secrets=[CANARY_NAME])
        self.check_intact()

    def check_intact(self):
        d = self.d
        # (a) still serving
        d.assert_serving(self.token)
        # (b) the next invocation of a benign function works
        r = d.invoke(self.benign, self.token, input={"n": 21})
        assert r.status_code == 200, (r.status_code, r.text[:500])
        assert r.json()["result"] == BENIGN_RESULT, r.text[:500]
        assert r.json()["logs"] == ["benign 21"], r.text[:500]
        # (c) the secret store is untouched
        r = d.invoke(self.reader, self.token, input={})
        assert r.status_code == 200, (r.status_code, r.text[:500])
        assert r.json()["result"] == {"length": len(CANARY), "sha": CANARY_SHA}, r.text[:500]
        listed = d.api("GET", "/v1/secrets", self.token).json()["secrets"]
        assert [(s["name"], s["version"]) for s in listed] == [(CANARY_NAME, 1)], listed
        v = d.api("GET", "/v1/audit/verify", d.admin)
        assert v.status_code == 200 and v.json()["ok"] is True, v.text[:500]
        assert CANARY not in d.stderr(), "the canary reached fnboxd's log"


@pytest.fixture(scope="module")
def env(daemon, up):
    return Env(daemon, up)


@pytest.fixture(autouse=True)
def _attack_leaves_no_trace(env):
    yield
    env.check_intact()


# ---- helpers ------------------------------------------------------------------------------

def deploy(env, code, limits=None, **fields):
    name = unique("atk")
    if limits:
        fields["limits"] = limits
    env.d.deploy_ok(name, code, env.token, **fields)
    return name


def run(env, code, input=None, limits=None, **fields):
    """Deploy code, invoke it once with input; returns (response, seconds)."""
    name = deploy(env, code, limits=limits, **fields)
    t0 = time.monotonic()
    r = env.d.invoke(name, env.token, input={} if input is None else input)
    return r, time.monotonic() - t0


def result(env, code, input=None, limits=None, **fields):
    r, _ = run(env, code, input=input, limits=limits, **fields)
    assert r.status_code == 200, (r.status_code, r.text[:1500])
    return r.json()["result"]


def fail(r, status, code):
    """The failure shape of an invocation: status, code, invocation id, logs, no result."""
    assert r.status_code == status, (r.status_code, r.text[:800])
    assert error_code(r) == code, r.text[:800]
    body = r.json()
    assert isinstance(body.get("invocation_id"), str) and body["invocation_id"], body
    assert isinstance(body.get("logs"), list), body
    assert "result" not in body, body
    return body["error"]


OUTCOME_STATUS = {"timeout": 504, "memory_limit": 500, "function_error": 500,
                  "output_limit": 500}


def fail_one_of(r, codes):
    """An invocation failure whose code is one of codes, each with its own status."""
    body = r.json()
    code = body.get("error", {}).get("code")
    assert code in codes, (r.status_code, r.text[:800])
    return fail(r, OUTCOME_STATUS[code], code)


def no_host_text(text):
    """Text that could reveal the host: C sources, the build tree, absolute paths."""
    bad = []
    if re.search(r"\b[\w./-]+\.[ch]:\d+", text):
        bad.append("C file:line")
    if re.search(r"\b(duk_[a-z_]+|js_[a-z_]+|runtime|gateway|sandbox)\.c\b", text):
        bad.append("C file name")
    if REPO in text or "/usr/" in text or "/tmp/" in text or "/work/" in text:
        bad.append("host path")
    return bad


# ---- 1. code from strings: every constructor chain ends in a non-compiler -----------------

P = "globalThis.__pwned = 'pwned'; return 1"

# Each case: the body of a function returning the candidate "compiler" F; the test then tries
# F(P)(), new F(P)() and Reflect.construct(F, [P])().
CHAINS = {
    "function_ctor": "return (function () {}).constructor;",
    "bound_function_ctor": "return (function () {}).bind(null).constructor;",
    "getter_ctor": "return Object.getOwnPropertyDescriptor({get x() { return 1; }}, 'x')"
                   ".get.constructor;",
    "setter_ctor": "return Object.getOwnPropertyDescriptor({set x(v) {}}, 'x').set.constructor;",
    "proto_accessor_ctor": "return Object.getOwnPropertyDescriptor(Object.prototype, "
                           "'__proto__').get.constructor;",
    "lookupGetter_ctor": "return ({}).__lookupGetter__('__proto__').constructor;",
    "arguments_callee": "return (function () { return arguments.callee.constructor; })();",
    "function_prototype": "return Object.getPrototypeOf(function () {}).constructor;",
    "reflect_getPrototypeOf": "return Reflect.getPrototypeOf(Math.max).constructor;",
    "error_prototype_method": "return Error.prototype.toString.constructor;",
    "error_ctor_ctor": "return Error.constructor;",
    "error_instance": "return new TypeError('x').constructor.constructor;",
    "caught_engine_error": "try { null.x; } catch (e) { return e.constructor.constructor; }",
    "reflect_construct": "return Reflect.construct((function () {}).constructor, [''])"
                         ".constructor;",
    "proxy_get_trap": """var c;
      var p = new Proxy({}, {get: function (t, k, rcv) { c = arguments.callee.constructor; return 1; }});
      p.x;
      return c;""",
    "proxy_apply_trap": """var c;
      var p = new Proxy(function () {}, {apply: function (t, th, args) { c = t.constructor; return 1; }});
      p();
      return c;""",
    "json_reviver_this": """var c;
      JSON.parse('{"a":{"b":1}}', function (k, v) { c = this.constructor.constructor; return v; });
      return c;""",
    "json_replacer": """var c;
      JSON.stringify({a: 1}, function (k, v) { c = arguments.callee.constructor; return v; });
      return c;""",
    "sort_comparator": """var c;
      [3, 1, 2].sort(function (a, b) { c = arguments.callee.constructor; return a - b; });
      return c;""",
    "replace_callback": """var c;
      'abc'.replace(/b/, function () { c = arguments.callee.constructor; return 'x'; });
      return c;""",
    "toString_hook": """var c;
      String({toString: function () { c = this.toString.constructor; return 'k'; }});
      return c;""",
    "valueOf_hook": """var c;
      var o = {valueOf: function () { c = this.valueOf.constructor; return 1; }};
      o + 1;
      return c;""",
    "toJSON_hook": """var c;
      JSON.stringify({toJSON: function () { c = this.toJSON.constructor; return 1; }});
      return c;""",
    "getter_this": """var c;
      var o = {get g() { c = Object.getOwnPropertyDescriptor(this, 'g').get.constructor; return 1; }};
      o.g;
      return c;""",
    "host_secrets_get": "return secrets.get.constructor;",
    "host_fetch": "return fetch.constructor;",
    "host_console_log": "return console.log.constructor;",
    "host_crypto": "return crypto.sha256.constructor;",
    "builtin_math": "return Math.max.constructor;",
    "builtin_string": "return String.constructor;",
    "builtin_symbol": "return Symbol.constructor;",
    "builtin_proxy": "return Proxy.constructor;",
    "builtin_typed_array": "return Uint8Array.constructor;",
    "builtin_text_decoder": "return new TextDecoder().decode.constructor;",
    "builtin_date_now": "return Date.now.constructor;",
    "builtin_regexp_exec": "return RegExp.prototype.exec.constructor;",
    "eval": "return eval;",
    "eval_via_global": "return globalThis['ev' + 'al'];",
    "Function": "return Function;",
    "Function_via_global": "return globalThis['Func' + 'tion'];",
    "setTimeout_string": "return setTimeout;",
}

CHAIN_TEMPLATE = """var P = %s;
function candidate() {
  %s
}
function attempt(f) {
  try { var made = f(); var r = made(); return 'ran:' + typeof r; }
  catch (e) { return e && e.name; }
}
function main() {
  var F;
  try { F = candidate(); } catch (e) { return {got: e.name, pwned: typeof globalThis.__pwned}; }
  return {
    got: typeof F,
    call: attempt(function () { return F(P); }),
    construct: attempt(function () { return new F(P); }),
    reflect: attempt(function () { return Reflect.construct(F, [P]); }),
    pwned: typeof globalThis.__pwned
  };
}
"""


@pytest.mark.parametrize("chain", sorted(CHAINS))
def test_no_code_from_strings(env, chain):
    res = result(env, CHAIN_TEMPLATE % (json.dumps(P), CHAINS[chain]), limits=FAST)
    assert res["pwned"] == "undefined", res
    if chain in ("eval", "Function", "setTimeout_string"):
        assert res == {"got": "ReferenceError", "pwned": "undefined"}, res
    elif chain in ("eval_via_global", "Function_via_global"):
        # not there at all: calling undefined is a TypeError
        assert res == {"got": "undefined", "call": "TypeError", "construct": "TypeError",
                       "reflect": "TypeError", "pwned": "undefined"}, res
    else:
        # what is left of .constructor is Object: Object(P) is a String object, not a
        # function, so calling what it made throws
        assert res == {"got": "function", "call": "TypeError", "construct": "TypeError",
                       "reflect": "TypeError", "pwned": "undefined"}, res


def test_the_constructor_left_on_functions_is_object(env):
    res = result(env, """function main() {
  var F = (function () {}).constructor;
  return {isObject: F === Object, native: F === Math.max.constructor,
          own: Object.prototype.hasOwnProperty.call(Object.getPrototypeOf(function () {}),
                                                    'constructor'),
          made: typeof F('x'), str: String(F('x'))};
}
""", limits=FAST)
    assert res == {"isObject": True, "native": True, "own": False, "made": "object",
                   "str": "x"}, res


@pytest.mark.parametrize("src,line", [
    ("function main() { return 1; }\nfunction* gen() { yield 1; }\n", 2),
    ("function main() {\n  var g = function* () {};\n}\n", 2),
    ("async function main() { return 1; }\n", 1),
    ("function main() {\n  return (() => 1)();\n}\n", 2),
    ("function main() {\n  return import('x');\n}\n", 2),
])
def test_generators_and_modern_syntax_are_deploy_errors(env, src, line):
    """No GeneratorFunction/AsyncFunction constructor can be reached: the syntax that would
    produce one does not compile."""
    r = env.d.deploy(unique("syntax"), src, env.token)
    assert r.status_code == 400, (r.status_code, r.text)
    assert error_code(r) == "syntax_error", r.text
    assert r.json()["error"]["line"] == line, r.text


@pytest.mark.parametrize("src", [
    "function main() { return " + "(" * 100000 + "1" + ")" * 100000 + "; }\n",
    "function main() { return " + "[" * 100000 + "]" * 100000 + "; }\n",
    "function main() { return 1; }\n" + "{" * 100000 + "}" * 100000 + "\n",
    "function main() { return " + "{a:" * 50000 + "1" + "}" * 50000 + "; }\n",
], ids=["parens", "arrays", "blocks", "objects"])
def test_deeply_nested_source_is_a_deploy_error(env, src):
    """The compiler's recursion runs in a confined worker at deploy and stops cleanly."""
    r = env.d.deploy(unique("nested"), src, env.token)
    assert r.status_code == 400, (r.status_code, r.text[:300])
    assert error_code(r) == "syntax_error", r.text[:300]
    assert r.json()["error"]["line"] == 1 or r.json()["error"]["line"] == 2, r.text[:300]


# ---- 2. the Duktape object and the globals allowlist --------------------------------------

DUKTAPE_MEMBERS = ["env", "version", "act", "fin", "enc", "dec", "info", "gc", "compact",
                   "Thread", "Pointer", "Buffer", "errCreate", "errThrow", "modSearch",
                   "modLoaded"]


def test_duktape_object_and_its_hooks_are_gone(env):
    code = """var MEMBERS = %s;
function main() {
  var out = {typeof_Duktape: typeof Duktape, in_global: 'Duktape' in globalThis,
             via_global: typeof globalThis['Dukt' + 'ape'], members: {}};
  MEMBERS.forEach(function (m) {
    try { var v = Duktape[m]; out.members[m] = 'reached:' + typeof v; }
    catch (e) { out.members[m] = e.name; }
  });
  // Fake hooks on a user-made 'Duktape' object: the engine must never call them.
  var hooked = [];
  globalThis.Duktape = {
    errCreate: function (e) { hooked.push('errCreate'); return e; },
    errThrow: function (e) { hooked.push('errThrow'); return e; },
    fin: function () { hooked.push('fin'); }
  };
  try { null.x; } catch (e) { }
  try { throw new Error('x'); } catch (e) { }
  // A finalizer cannot be attached through a look-alike of Duktape's internal key.
  (function () {
    var o = {};
    o[String.fromCharCode(0x82) + 'Finalizer'] = function () { hooked.push('finalizer82'); };
    o[String.fromCharCode(0xff) + 'Finalizer'] = function () { hooked.push('finalizerff'); };
  })();
  for (var i = 0; i < 2000; i++) { var junk = {i: i, s: 'x' + i}; }
  out.hooked = hooked;
  out.other = {CBOR: typeof CBOR, performance: typeof performance, Buffer: typeof Buffer,
               require: typeof require, module: typeof module, exports: typeof exports,
               process: typeof process, print: typeof print, alert: typeof alert,
               setTimeout: typeof setTimeout, setInterval: typeof setInterval,
               WebAssembly: typeof WebAssembly, Promise: typeof Promise};
  return out;
}
""" % json.dumps(DUKTAPE_MEMBERS)
    res = result(env, code, limits=FAST)
    assert res["typeof_Duktape"] == "undefined", res
    assert res["in_global"] is False and res["via_global"] == "undefined", res
    assert res["members"] == {m: "ReferenceError" for m in DUKTAPE_MEMBERS}, res
    assert res["hooked"] == [], res
    assert res["other"] == {k: "undefined" for k in res["other"]}, res


def _doc_globals():
    with open(os.path.join(REPO, "docs", "js-api.md")) as f:
        text = f.read()
    at = text.index("The complete set of globals")
    block = text[text.index("```", at) + 3:]
    block = block[:block.index("```")]
    return set(block.split())


def test_global_names_are_exactly_the_documented_allowlist(env):
    res = result(env, """var mine = 1;
function helper() {}
function main() {
  var g = (function () { return this; })();
  return {names: Object.getOwnPropertyNames(g),
          symbols: Object.getOwnPropertySymbols(g).length,
          same: g === globalThis,
          proto: Object.getPrototypeOf(g) === Object.prototype};
}
""", limits=FAST)
    names = set(res["names"]) - {"main", "mine", "helper"}
    assert _doc_globals() == DOC_GLOBALS, "docs/js-api.md's list of globals changed"
    assert names == DOC_GLOBALS, (f"extra: {sorted(names - DOC_GLOBALS)}, "
                                  f"missing: {sorted(DOC_GLOBALS - names)}")
    assert res["symbols"] == 0 and res["same"] is True and res["proto"] is True, res


# ---- 3. prototype pollution of the host APIs ----------------------------------------------

def test_polluted_object_prototype_cannot_steer_fetch(env):
    up = env.up
    before = len(up.hits("/echo"))
    code = r"""function main(input) {
  var log = '';
  Object.prototype.method = 'DELETE';
  Object.prototype.headers = {'X-Polluted': 'yes', 'Authorization': 'Bearer stolen'};
  Object.prototype.body = 'polluted-body';
  Object.prototype.timeout_ms = 1;
  Object.prototype.encoding = 'base64';
  Object.prototype.redirect = 'follow';
  // accessors on the names the host writes into its answers: must never run
  ['status', 'ok', 'headers', 'url', 'text', 'json', 'code', 'content-type', '0', 'x-a']
    .forEach(function (k) {
      Object.defineProperty(Object.prototype, k, {
        set: function (v) { log += 'set:' + k + ';'; },
        get: function () { log += 'get:' + k + ';'; return 'polluted'; },
        configurable: true});
    });
  Object.defineProperty(Array.prototype, '0', {
    set: function (v) { log += 'aset0;'; }, get: function () { return 'polluted'; },
    configurable: true});
  var a = fetch(input.url, {});
  var b = fetch(input.url);
  var c = fetch(input.url, {headers: {'X-A': 'b'}});
  var refused;
  try { fetch('https://evil.invalid/x'); } catch (e) { refused = e; }
  var own = function (o) { return Object.getOwnPropertyNames(o).sort(); };
  return {
    a: a.json(), b: b.json(), c: c.json(),
    a_own: own(a), c_headers_own: Object.prototype.hasOwnProperty.call(c.headers, 'content-type'),
    c_ct: c.headers['content-type'], c_status: c.status, c_ok: c.ok,
    refused: [refused.name, Object.getOwnPropertyDescriptor(refused, 'code').value],
    sha: crypto.sha256('abc', {}),
    log: log
  };
}
"""
    res = result(env, code, input={"url": up.url("/echo")}, limits=FAST,
                 allow_hosts=[up.hostport()])
    for k in ("a", "b", "c"):
        sent = res[k]
        assert sent["method"] == "GET" and sent["body"] == "", (k, sent)
        assert "x-polluted" not in sent["headers"] and "authorization" not in sent["headers"], sent
    assert res["c"]["headers"]["x-a"] == "b", res["c"]
    assert res["a_own"] == ["headers", "json", "ok", "status", "text", "url"], res
    assert res["c_headers_own"] is True and res["c_ct"] == "application/json", res
    assert res["c_status"] == 200 and res["c_ok"] is True, res
    assert res["refused"] == ["Error", "host_not_allowed"], res
    assert res["sha"] == BENIGN_RESULT["h"], res  # the polluted encoding was not read
    assert res["log"] == "", res
    hits = up.hits("/echo")[before:]
    assert len(hits) == 3, hits
    assert all(h["method"] == "GET" for h in hits), hits


def test_overridden_builtins_cannot_steer_secrets_get_or_fetch(env):
    up = env.up
    code = r"""function main(input) {
  var hooks = 0;
  var evil = function () { hooks++; return 'atk_other'; };
  Array.prototype.join = evil;
  Array.prototype.toString = evil;
  String.prototype.toString = evil;
  String.prototype.valueOf = evil;
  String.prototype.slice = evil;
  String.prototype.substring = evil;
  String.prototype.trim = evil;
  String.prototype.toLowerCase = evil;
  String.prototype.charCodeAt = function () { hooks++; return 0; };
  Object.prototype.toString = evil;
  Object.prototype.valueOf = evil;
  Object.getPrototypeOf(evil).call = evil;
  Object.getPrototypeOf(evil).apply = evil;
  JSON.stringify = evil;
  JSON.parse = function () { hooks++; return {}; };
  encodeURIComponent = evil;
  Object.keys = function () { hooks++; return ['X-Evil']; };
  Object.getOwnPropertyNames = function () { hooks++; return ['X-Evil']; };
  var v = secrets.get('atk_canary');
  var r = fetch(input.url, {method: 'post', headers: {'X-A': 'b'}, body: 'hello'});
  var hooksAfterHostCalls = hooks;
  console.log({k: 'v'}, ['a', 'b'], 'plain');
  return {len: v.length, sha: crypto.sha256(v), hooks: hooksAfterHostCalls,
          text: r.text(), status: r.status};
}
"""
    name = deploy(env, code, limits=FAST, allow_hosts=[up.hostport()], secrets=[CANARY_NAME])
    r = env.d.invoke(name, env.token, input={"url": up.url("/echo")})
    assert r.status_code == 200, r.text[:800]
    res = r.json()["result"]
    assert res["len"] == len(CANARY) and res["sha"] == CANARY_SHA, res
    assert res["hooks"] == 0, res
    sent = json.loads(res["text"])
    assert sent["method"] == "POST" and sent["body"] == "hello", sent
    assert sent["headers"]["x-a"] == "b" and "x-evil" not in sent["headers"], sent
    assert r.json()["logs"] == ['{"k":"v"} ["a","b"] plain'], r.text[:500]
    assert CANARY not in r.text


# Each case is an expression; the host must refuse it with the named error without calling
# any of the user's hooks (a hook counter and, for the looping ones, a deadline would show it).
HOST_ARG_CASES = {
    "secrets_symbol": ("secrets.get(Symbol('atk_canary'))", "TypeError"),
    "secrets_array": ("secrets.get(['atk_canary'])", "TypeError"),
    "secrets_string_object": ("secrets.get(new String('atk_canary'))", "TypeError"),
    "secrets_toString_object": ("secrets.get({toString: hook('atk_canary')})", "TypeError"),
    "secrets_toString_throws": ("secrets.get({toString: thrower})", "TypeError"),
    "secrets_toString_loops": ("secrets.get({toString: looper})", "TypeError"),
    "secrets_valueOf_object": ("secrets.get({valueOf: hook('atk_canary')})", "TypeError"),
    "secrets_number": ("secrets.get(42)", "TypeError"),
    "secrets_missing": ("secrets.get()", "TypeError"),
    "secrets_null": ("secrets.get(null)", "TypeError"),
    "secrets_proxy": ("secrets.get(new Proxy({}, {get: function () { hits++; "
                      "return hook('atk_canary'); }}))", "TypeError"),
    "secrets_buffer": ("secrets.get(new TextEncoder().encode('atk_canary'))", "TypeError"),
    "fetch_url_object": ("fetch({toString: hook(URL)})", "TypeError"),
    "fetch_url_string_object": ("fetch(new String(URL))", "TypeError"),
    "fetch_url_symbol": ("fetch(Symbol(URL))", "TypeError"),
    "fetch_url_loops": ("fetch({toString: looper})", "TypeError"),
    "fetch_options_string": ("fetch(URL, 'GET')", "TypeError"),
    "fetch_options_function": ("fetch(URL, function () {})", "TypeError"),
    "fetch_method_object": ("fetch(URL, {method: {toString: hook('POST')}})", "TypeError"),
    "fetch_method_symbol": ("fetch(URL, {method: Symbol('POST')})", "TypeError"),
    "fetch_body_object": ("fetch(URL, {body: {toString: hook('x')}})", "TypeError"),
    "fetch_body_string_object": ("fetch(URL, {body: new String('x')})", "TypeError"),
    "fetch_headers_array": ("fetch(URL, {headers: [['A', 'b']]})", "TypeError"),
    "fetch_header_value_object": ("fetch(URL, {headers: {A: {toString: hook('b')}}})", "TypeError"),
    "fetch_header_value_loops": ("fetch(URL, {headers: {A: {toString: looper}}})", "TypeError"),
    "fetch_timeout_object": ("fetch(URL, {timeout_ms: {valueOf: hook(5)}})", "TypeError"),
    "fetch_timeout_negative": ("fetch(URL, {timeout_ms: -1})", "RangeError"),
    "fetch_timeout_nan": ("fetch(URL, {timeout_ms: NaN})", "RangeError"),
    "crypto_data_object": ("crypto.sha256({toString: hook('abc')})", "TypeError"),
    "crypto_data_string_object": ("crypto.sha256(new String('abc'))", "TypeError"),
    "crypto_data_array": ("crypto.sha256(['abc'])", "TypeError"),
    "crypto_key_loops": ("crypto.hmacSha256({toString: looper}, 'abc')", "TypeError"),
    "crypto_encoding_object": ("crypto.sha256('abc', {encoding: {toString: hook('hex')}})",
                               "TypeError"),
    "random_valueOf": ("crypto.randomBytes({valueOf: hook(4)})", "TypeError"),
    "random_huge": ("crypto.randomBytes(1e9)", "RangeError"),
}


def test_host_apis_reject_non_strings_without_running_user_code(env):
    up = env.up
    before = len(up.hits())
    cases = ",\n".join(f"  {json.dumps(k)}: function () {{ return {expr}; }}"
                       for k, (expr, _) in sorted(HOST_ARG_CASES.items()))
    code = """var hits = 0;
var URL = %s;
function hook(v) { return function () { hits++; return v; }; }
function thrower() { hits++; throw new Error('hook ran'); }
function looper() { hits++; for (;;) {} }
var CASES = {
%s
};
function main() {
  var out = {};
  Object.keys(CASES).forEach(function (k) {
    try { CASES[k](); out[k] = 'no error'; }
    catch (e) { out[k] = e.name; }
  });
  return {outcomes: out, hits: hits, still: secrets.get('atk_canary').length};
}
""" % (json.dumps(up.url("/echo")), cases)
    res = result(env, code, limits=SHORT, allow_hosts=[up.hostport()], secrets=[CANARY_NAME])
    assert res["outcomes"] == {k: e for k, (_, e) in HOST_ARG_CASES.items()}, res
    assert res["hits"] == 0, res
    assert res["still"] == len(CANARY), res
    assert len(up.hits()) == before, "a refused call reached the upstream"


def test_own_accessor_in_fetch_options_is_read_once(env):
    """No check-then-use race: the value checked is the value sent."""
    up = env.up
    code = r"""function main(input) {
  var reads = 0, hreads = 0;
  var o = {};
  Object.defineProperty(o, 'method', {enumerable: true,
    get: function () { reads++; return reads === 1 ? 'POST' : 42; }});
  var h = {};
  Object.defineProperty(h, 'X-Toggle', {enumerable: true,
    get: function () { hreads++; return hreads === 1 ? 'first' : 'sec\r\nret: 1'; }});
  o.headers = h;
  var r = fetch(input.url, o);
  var sent = r.json();
  return {method: sent.method, header: sent.headers['x-toggle'], reads: reads, hreads: hreads};
}
"""
    res = result(env, code, input={"url": up.url("/echo")}, limits=FAST,
                 allow_hosts=[up.hostport()])
    assert res == {"method": "POST", "header": "first", "reads": 1, "hreads": 1}, res


def test_secret_name_tricks_are_refused_and_audited(env):
    """Look-alike names never resolve to the canary; names the broker refuses are audited
    as denied like any other call (docs/js-api.md: every call, granted or not)."""
    names = ["atk_canary\\u0000", "atk_canary\\u0000evil", "ATK_CANARY", "../atk_canary",
             " atk_canary", "atk_canar\\u0443", "atk_canary\\ud800", "atk_canary/..",
             "atk_canary%00"]
    code = """var NAMES = [%s];
function main() {
  return NAMES.map(function (n) {
    try { var v = secrets.get(n); return 'delivered:' + v.length; }
    catch (e) { return e.name + ': ' + e.message; }
  });
}
""" % ", ".join("'%s'" % n for n in names)
    name = deploy(env, code, limits=FAST, secrets=[CANARY_NAME])
    r = env.d.invoke(name, env.token, input={})
    assert r.status_code == 200, r.text[:800]
    outcomes = r.json()["result"]
    assert CANARY not in r.text
    for n, o in zip(names, outcomes):  # never delivered
        assert o.startswith("Error: "), (n, o)
    problems = [f"{n!r}: {o!r} does not say the name is invalid or not available"
                for n, o in zip(names, outcomes)
                if "not available" not in o and "secret names match" not in o]
    inv = r.json()["invocation_id"]
    audit = env.d.api("GET", "/v1/audit", env.d.admin,
                      params={"limit": 1000, "function": name}).json()["entries"]
    gets = [e for e in audit if e["action"] == "secret.get" and e["invocation_id"] == inv]
    if [e["outcome"] for e in gets] != ["denied"] * len(names):
        problems.append(f"{len(names)} calls, audited: "
                        f"{[(e['secret'], e['outcome']) for e in gets]}")
    assert not problems, "\n".join(problems)


def test_invalid_lengths_of_secret_names(env):
    res = result(env, """function main() {
  function t(n) { try { secrets.get(n); return 'delivered'; } catch (e) { return e.name; } }
  return [t(''), t('a'.repeat(129)), t('a'.repeat(2000000))];
}
""", limits=FAST, secrets=[CANARY_NAME])
    assert res == ["RangeError", "RangeError", "RangeError"], res


def test_fetch_url_with_nul_is_refused_before_sending(env):
    up = env.up
    before = len(up.hits())
    code = r"""function main(input) {
  function t(u) {
    try { fetch(u); return 'fetched'; }
    catch (e) { return [e.name, e.code]; }
  }
  return [t(input.url + '\u0000.evil.invalid'),
          t('http://evil.invalid\u0000@' + input.hp + '/echo'),
          t('http://' + input.hp + '\u0000/echo')];
}
"""
    res = result(env, code, input={"url": up.url("/echo"), "hp": up.hostport()},
                 limits=FAST, allow_hosts=[up.hostport()])
    assert res == [["Error", "invalid_request"]] * 3, res
    assert len(up.hits()) == before


def test_input_cannot_pollute_prototypes(env):
    res = result(env, """function main(input) {
  return {polluted: typeof ({}).polluted, own: Object.prototype.hasOwnProperty.call(input, '__proto__'),
          proto: Object.getPrototypeOf(input) === Object.prototype,
          ctor: typeof input.constructor};
}
""", input={"__proto__": {"polluted": 1}, "constructor": {"prototype": {"polluted": 2}}},
        limits=FAST)
    assert res == {"polluted": "undefined", "own": True, "proto": True, "ctor": "object"}, res


def test_ctx_cannot_be_used_to_impersonate(env):
    """The worker's identity is bound to its socket, not to anything it can write."""
    res = result(env, """function main(input, ctx) {
  ctx.function = '%s'; ctx.caller = 'admin'; ctx.version = 1; ctx.owner = 'admin';
  try { return 'delivered:' + secrets.get('atk_canary').length; }
  catch (e) { return e.name + ': ' + e.message; }
}
""" % env.reader, limits=FAST)
    assert res == "Error: secret 'atk_canary' is not available to this function", res


def test_host_call_storm_until_the_deadline(env):
    """Thousands of audited secrets.get round trips, killed mid-call at the deadline: the
    broker and the audit chain (checked after the test) come out whole."""
    r, elapsed = run(env, "function main() {\n"
                          "  for (;;) { try { secrets.get('atk_canary'); } catch (e) {} }\n}\n",
                     limits=SHORT, secrets=[CANARY_NAME])
    fail(r, 504, "timeout")
    assert elapsed < 3.5, elapsed
    assert CANARY not in r.text


FILL_HEAP = """  var keep = [], size = 1 << 20, n = 0;
  while (size >= 1) {
    try { keep.push('z'.repeat(size) + (n++)); } catch (e) { size = size >> 1; }
  }
"""


def test_host_calls_into_a_full_heap(env):
    """With the heap filled to its cap, a host API that must copy an answer into it fails
    cleanly (a catchable error or memory_limit), never a crash or a leaked copy."""
    up = env.up
    r, _ = run(env, "function main() {\n" + FILL_HEAP + """
  var out = '';
  for (var i = 0; i < 5; i++) {
    try { out += secrets.get('atk_canary').length + ','; } catch (e) { out += e.name + ','; }
  }
  keep = null;
  return out;
}
""", limits={"timeout_ms": 3000, "memory_mb": 16}, secrets=[CANARY_NAME])
    if r.status_code == 200:
        parts = r.json()["result"].split(",")[:-1]
        assert len(parts) == 5 and all(p in (str(len(CANARY)), "Error", "DoubleError")
                                       for p in parts), r.text[:500]
    else:
        fail(r, 500, "memory_limit")
    assert CANARY not in r.text
    r, _ = run(env, "function main(input) {\n" + FILL_HEAP + """
  var out = '';
  for (var i = 0; i < 3; i++) {
    try { out += fetch(input.url).text().length + ','; } catch (e) { out += e.name + ','; }
  }
  keep = null;
  return out;
}
""", input={"url": up.url("/huge?bytes=100000")}, limits={"timeout_ms": 3000, "memory_mb": 16},
               allow_hosts=[up.hostport()])
    if r.status_code == 200:
        parts = r.json()["result"].split(",")[:-1]
        assert len(parts) == 3 and all(p in ("100000", "Error", "DoubleError") for p in parts), \
            r.text[:500]
    else:
        fail(r, 500, "memory_limit")


# ---- 4. frozen host APIs and another invocation's globals ---------------------------------

def test_frozen_host_apis_cannot_be_replaced(env):
    code = r"""function strictly(f) { 'use strict'; try { f(); return 'allowed'; } catch (e) { return e.name; } }
function main() {
  var fake = function () { return 'FAKE'; };
  var orig = {get: secrets.get, sha: crypto.sha256, hmac: crypto.hmacSha256, rnd: crypto.randomBytes};
  var out = {
    assign_get: strictly(function () { 'use strict'; secrets.get = fake; }),
    define_get: strictly(function () { Object.defineProperty(secrets, 'get', {value: fake}); }),
    delete_get: strictly(function () { 'use strict'; delete secrets.get; }),
    add_prop: strictly(function () { 'use strict'; secrets.list = fake; }),
    proto_swap: strictly(function () { Object.setPrototypeOf(secrets, {get: fake}); }),
    assign_sha: strictly(function () { 'use strict'; crypto.sha256 = fake; }),
    define_hmac: strictly(function () { Object.defineProperty(crypto, 'hmacSha256', {get: fake}); }),
    delete_rnd: strictly(function () { 'use strict'; delete crypto.randomBytes; })
  };
  secrets.get = fake;            // sloppy mode: silently ignored
  crypto.sha256 = fake;
  out.same = secrets.get === orig.get && crypto.sha256 === orig.sha &&
             crypto.hmacSha256 === orig.hmac && crypto.randomBytes === orig.rnd;
  out.frozen = [Object.isFrozen(secrets), Object.isFrozen(crypto)];
  out.len = secrets.get('atk_canary').length;
  out.sha = crypto.sha256('abc');
  return out;
}
"""
    res = result(env, code, limits=FAST, secrets=[CANARY_NAME])
    assert res == {"assign_get": "TypeError", "define_get": "TypeError",
                   "delete_get": "TypeError", "add_prop": "TypeError",
                   "proto_swap": "TypeError", "assign_sha": "TypeError",
                   "define_hmac": "TypeError", "delete_rnd": "TypeError",
                   "same": True, "frozen": [True, True], "len": len(CANARY),
                   "sha": BENIGN_RESULT["h"]}, res


def test_another_invocations_globals_are_unreachable(env):
    """A function rewires its world (globals, prototypes, even the host API objects, which
    are its own to replace inside its invocation); the next invocation of it and of another
    function see none of it."""
    writer = deploy(env, r"""var seen = typeof globalThis.leak;
function main() {
  var before = {leak: seen, proto: typeof ({}).leak, json: JSON.stringify({a: 1})};
  globalThis.leak = 'from-writer';
  Object.prototype.leak = 'proto';
  Array.prototype.push = function () { return 'hijacked'; };
  JSON.stringify = function () { return 'hijacked'; };
  secrets = {get: function () { return 'FAKE'; }};
  fetch = function () { return {status: 999}; };
  crypto = {sha256: function () { return 'FAKE'; }};
  console.log = function () {};
  Math.random = function () { return 0.5; };
  return before;
}
""", limits=FAST)
    reader = deploy(env, r"""function main() {
  return {leak: typeof globalThis.leak, proto: typeof ({}).leak, push: [].push(1),
          json: JSON.stringify({a: 1}), secret: secrets.get('atk_canary').length,
          fetch: typeof fetch, sha: crypto.sha256('abc'), random: Math.random() !== 0.5};
}
""", limits=FAST, secrets=[CANARY_NAME])
    clean = {"leak": "undefined", "proto": "undefined", "json": '{"a":1}'}
    for _ in range(2):
        r = env.d.invoke(writer, env.token, input={})
        assert r.status_code == 200 and r.json()["result"] == clean, r.text[:500]
    r = env.d.invoke(reader, env.token, input={})
    assert r.status_code == 200, r.text[:500]
    assert r.json()["result"] == {"leak": "undefined", "proto": "undefined", "push": 1,
                                  "json": '{"a":1}', "secret": len(CANARY),
                                  "fetch": "function", "sha": BENIGN_RESULT["h"],
                                  "random": True}, r.text[:500]


# ---- 5. resource attacks -----------------------------------------------------------------

# name -> (code, limits, allowed outcome codes).  Where two codes are allowed, which limit
# trips first depends on the machine's speed; each is checked with its own status.
RESOURCE_ATTACKS = {
    "infinite_loop_in_finally": (
        "function main() {\n  try { return 1; } finally { for (;;) {} }\n}\n",
        SHORT, ("timeout",)),
    "finally_swallows_every_throw": (
        "function main() {\n"
        "  for (;;) { try { throw new Error('x'); } finally { continue; } }\n}\n",
        SHORT, ("timeout",)),
    "catastrophic_regex": (
        "function main() {\n  return /^(a+)+$/.test(new Array(41).join('a') + 'b');\n}\n",
        SHORT, ("timeout",)),
    "catastrophic_regex_alternation": (
        "function main() {\n  return /^(a|aa)+$/.test(new Array(80).join('a') + 'b');\n}\n",
        SHORT, ("timeout",)),
    "sparse_array_stringify": (
        "function main() {\n  var a = [];\n  a[1e9] = 1;\n  return JSON.stringify(a).length;\n}\n",
        FAST, ("memory_limit", "timeout")),
    "string_doubling": (
        "function main() {\n  var s = 'x';\n  for (;;) s = s + s;\n}\n",
        FAST, ("memory_limit",)),
    "catch_alloc_failure_and_retry": (
        "function main() {\n  var s = 'x';\n"
        "  for (;;) { try { s = s + s; } catch (e) { s = 'x'; } }\n}\n",
        SHORT, ("timeout",)),
    "array_1e9_join": (
        "function main() {\n  return Array(1e9).join().length;\n}\n",
        FAST, ("timeout", "memory_limit")),
    "max_length_array_filled": (
        "function main() {\n  var a = new Array(Math.pow(2, 32) - 1);\n"
        "  if (typeof a.fill === 'function') a.fill(0);\n"
        "  else for (var i = 0; i < a.length; i++) a[i] = 0;\n  return a.length;\n}\n",
        FAST, ("memory_limit", "timeout")),
    "max_length_array_reverse": (
        "function main() {\n  var a = [];\n  a.length = Math.pow(2, 32) - 1;\n"
        "  a.reverse();\n  return 1;\n}\n",
        SHORT, ("timeout",)),
    "string_repeat_1e9": (
        "function main() {\n  return 'x'.repeat(1e9).length;\n}\n",
        FAST, ("memory_limit",)),
    "typed_array_1e9": (
        "function main() {\n  return new Uint8Array(1e9).length;\n}\n",
        FAST, ("memory_limit",)),
    "many_objects": (
        "function main() {\n  var a = [];\n  for (;;) a.push({a: a.length, b: [1, 2, 3]});\n}\n",
        FAST, ("memory_limit", "timeout")),  # near the cap every allocation runs a full GC
    "toJSON_loops_in_result": (
        "function main() {\n  return {toJSON: function () { for (;;) {} }};\n}\n",
        SHORT, ("timeout",)),
    "thrown_message_getter_loops": (
        "function main() {\n  throw {get message() { for (;;) {} }};\n}\n",
        SHORT, ("timeout",)),
    "thrown_fileName_getter_loops": (
        "function main() {\n  var e = new Error('m');\n"
        "  Object.defineProperty(e, 'fileName', {get: function () { for (;;) {} }});\n"
        "  throw e;\n}\n",
        SHORT, ("timeout",)),
    "top_level_loop": (
        "for (;;) {}\nfunction main() { return 1; }\n",
        SHORT, ("timeout",)),
}


@pytest.mark.parametrize("attack", sorted(RESOURCE_ATTACKS))
def test_resource_attack(env, attack):
    code, limits, codes = RESOURCE_ATTACKS[attack]
    r, elapsed = run(env, code, limits=limits)
    err = fail_one_of(r, codes)
    if err["code"] == "timeout":
        assert limits["timeout_ms"] / 1000 - 0.05 <= elapsed < limits["timeout_ms"] / 1000 + 3, \
            elapsed
    if err["code"] == "memory_limit":
        # "alloc failed"; a DoubleError when even the error object could not be made
        assert (err.get("name"), err.get("message")) in (
            ("Error", "alloc failed"), ("DoubleError", "error in error handling")), err
        assert elapsed < limits["timeout_ms"] / 1000 + 3, elapsed


RANGE_ERRORS = {
    "deep_nesting_stringify": (
        "function main() {\n  var o = [];\n  for (var i = 0; i < 100000; i++) o = [o];\n"
        "  return JSON.stringify(o).length;\n}\n", 4, "encode recursion limit"),
    "deep_nesting_result": (
        "function main() {\n  var o = {};\n  for (var i = 0; i < 100000; i++) o = {a: o};\n"
        "  return o;\n}\n", None, "encode recursion limit"),
    "deep_nesting_parse": (
        "function main() {\n  var s = new Array(100001).join('[') + new Array(100001).join(']');\n"
        "  return JSON.parse(s);\n}\n", 3, "decode recursion limit"),
    "getter_recursion": (
        "function main() {\n  var o = {};\n"
        "  Object.defineProperty(o, 'x', {get: function () { return this.x + 1; }});\n"
        "  return o.x;\n}\n", 3, None),
    "proxy_trap_recursion": (
        "function main() {\n  var p = new Proxy({}, {get: function (t, k, r) { return r[k]; }});\n"
        "  return p.x;\n}\n", 2, None),
    "toString_recursion": (
        "function main() {\n  var o = {toString: function () { return String(this); }};\n"
        "  return String(o);\n}\n", 2, None),
    "plain_recursion": (
        "function f(n) {\n  return f(n + 1) + 1;\n}\nfunction main() {\n  return f(0);\n}\n",
        2, None),
    "invalid_array_length": (
        "function main() {\n  return new Array(Math.pow(2, 32));\n}\n", 2, "invalid length"),
}


@pytest.mark.parametrize("attack", sorted(RANGE_ERRORS))
def test_depth_attacks_are_clean_range_errors(env, attack):
    code, line, message = RANGE_ERRORS[attack]
    r, _ = run(env, code, limits=FAST)
    err = fail(r, 500, "function_error")
    assert err.get("name") == "RangeError", err
    if message:
        assert err["message"] == message, err
    if line:
        assert err.get("line") == line, err


def test_result_with_a_cycle(env):
    for code in ("function main() {\n  var o = {};\n  o.self = o;\n  return o;\n}\n",
                 "function main() {\n  var a = [1];\n  a.push({back: a});\n  return a;\n}\n"):
        r, _ = run(env, code, limits=FAST)
        err = fail(r, 500, "function_error")
        assert err.get("name") == "TypeError" and err["message"] == "cyclic input", err


def test_huge_number_of_console_log_arguments(env):
    r, _ = run(env, "function main() {\n  var a = [];\n"
                    "  for (var i = 0; i < 100000; i++) a.push(i);\n"
                    "  console.log('first');\n  console.log.apply(console, a);\n  return 1;\n}\n",
               limits=FAST)
    fail(r, 500, "output_limit")
    assert r.json()["logs"] == ["first"], r.text[:500]
    assert len(r.content) < 200 * 1024


def test_huge_error_message_is_capped(env):
    r, _ = run(env, "function main() {\n  throw new Error('x'.repeat(1000000));\n}\n",
               limits={"timeout_ms": 1500, "memory_mb": 16})
    err = fail(r, 500, "function_error")
    assert err["name"] == "Error" and err["line"] == 2, \
        {k: v for k, v in err.items() if k != "message"}
    assert set(err["message"]) == {"x"} and 1000 <= len(err["message"]) <= 4096, len(err["message"])
    assert len(r.content) < 16 * 1024


def test_thrown_object_with_throwing_getters(env):
    r, _ = run(env, "function main() {\n"
                    "  throw {get name() { throw new Error('inner'); }, message: 'm'};\n}\n",
               limits=FAST)
    err = fail(r, 500, "function_error")
    assert isinstance(err["message"], str) and "line" not in err, err


def test_deep_json_nesting_in_the_input(env):
    """100000 nested arrays or objects: 400 invalid_json before any code runs. Between the
    gateway's parser depth and the engine's decoder depth a valid body can still be too deep
    for the worker: then a clean RangeError (function_error), never a crash."""
    name = deploy(env, "function main(i) {\n  var n = 0;\n"
                       "  while (Array.isArray(i)) { i = i[0]; n++; }\n  return n;\n}\n",
                  limits=FAST)
    h = {"Content-Type": "application/json"}
    for body in ("[" * 100000 + "]" * 100000,
                 '{"a":' * 100000 + "1" + "}" * 100000):
        r = env.d.api("POST", f"/v1/functions/{name}/invoke", env.token, data=body, headers=h)
        assert r.status_code == 400, (r.status_code, r.text[:300])
        assert error_code(r) == "invalid_json", r.text[:300]
        assert "invocation_id" not in r.json(), r.text[:300]
    r = env.d.api("POST", f"/v1/functions/{name}/invoke", env.token,
                  data="[" * 1000 + "]" * 1000, headers=h)
    assert r.status_code == 200 and r.json()["result"] == 1000, r.text[:300]
    r = env.d.api("POST", f"/v1/functions/{name}/invoke", env.token,
                  data="[" * 1500 + "]" * 1500, headers=h)
    if r.status_code == 400:
        assert error_code(r) == "invalid_json", r.text[:300]
    else:
        err = fail(r, 500, "function_error")
        assert err["name"] == "RangeError" and err["message"] == "decode recursion limit", err


def test_parallel_hostile_invocations_do_not_starve_others(env):
    loop = deploy(env, "function main() {\n  for (;;) {}\n}\n", limits=SHORT)
    bomb = deploy(env, "function main() {\n  var s = 'x';\n  for (;;) s = s + s;\n}\n",
                  limits=FAST)
    with concurrent.futures.ThreadPoolExecutor(12) as pool:
        hostile = [pool.submit(env.d.invoke, loop if i % 2 else bomb, env.token, {})
                   for i in range(8)]
        time.sleep(0.1)
        t0 = time.monotonic()
        r = env.d.invoke(env.benign, env.token, input={"n": 1})
        benign_s = time.monotonic() - t0
        outcomes = sorted(f.result().json()["error"]["code"] for f in hostile)
    assert r.status_code == 200 and r.json()["result"]["n"] == 2, r.text[:300]
    assert benign_s < 1.0, f"benign invocation waited {benign_s:.2f} s behind hostile ones"
    assert outcomes == ["memory_limit"] * 4 + ["timeout"] * 4, outcomes


# ---- 6. host internals in error objects ---------------------------------------------------

ERROR_SOURCES = r"""function main(input) {
  var errors = {};
  function grab(k, f) {
    try { f(); errors[k] = null; }
    catch (e) {
      errors[k] = {name: e.name, message: String(e.message), fileName: e.fileName,
                   lineNumber: e.lineNumber, stack: String(e.stack),
                   own: Object.getOwnPropertyNames(e)};
    }
  }
  // thrown by host APIs
  grab('secrets_type', function () { secrets.get(1); });
  grab('secrets_range', function () { secrets.get(''); });
  grab('secrets_denied', function () { secrets.get('atk_not_granted'); });
  grab('secrets_invalid', function () { secrets.get('..'); });
  grab('fetch_type', function () { fetch(1); });
  grab('fetch_range', function () { fetch(input.url, {timeout_ms: -1}); });
  grab('fetch_refused', function () { fetch('https://evil.invalid'); });
  grab('fetch_scheme', function () { fetch('file:///etc/passwd'); });
  grab('fetch_json', function () { fetch(input.url + '?status=204').json(); });
  grab('crypto_type', function () { crypto.sha256(1); });
  grab('crypto_range', function () { crypto.randomBytes(0); });
  // thrown by the engine
  grab('null_property', function () { null.x; });
  grab('undefined_call', function () { undefined(); });
  grab('reference', function () { nosuchvariable; });
  grab('json_syntax', function () { JSON.parse('{'); });
  grab('uri', function () { decodeURIComponent('%'); });
  grab('array_length', function () { new Array(-1); });
  grab('reduce_empty', function () { [].reduce(function () {}); });
  grab('recursion', function () { (function f() { f(); })(); });
  grab('alloc_failed', function () { var s = 'x'; for (;;) s = s + s; });
  grab('frozen_write', function () { 'use strict'; secrets.get = 1; });
  grab('proxy_revoked', function () { new Proxy({}, null); });
  grab('typed_array', function () { new Uint8Array(-1); });
  grab('symbol_concat', function () { return Symbol('s') + ''; });
  grab('regexp', function () { new RegExp('('); });
  grab('user_error', function () { throw new Error('mine'); });
  errors.plain_stack = String(new Error('x').stack);
  return errors;
}
"""


def test_errors_carry_no_host_paths(env):
    up = env.up
    name = deploy(env, ERROR_SOURCES, limits={"timeout_ms": 1500, "memory_mb": 16},
                  allow_hosts=[up.hostport()])
    r = env.d.invoke(name, env.token, input={"url": up.url("/echo")})
    assert r.status_code == 200, r.text[:800]
    errors = r.json()["result"]
    nlines = ERROR_SOURCES.count("\n")
    plain_line = ERROR_SOURCES.split("\n").index(
        "  errors.plain_stack = String(new Error('x').stack);") + 1
    problems = {}
    for k, e in errors.items():
        if k == "plain_stack":
            continue
        assert e is not None, f"{k}: did not throw"
        bad = []
        if e.get("fileName") not in (None, "function.js"):
            bad.append(f"fileName={e['fileName']!r}")
        for loc in re.findall(r"\(([^()]*)\)", e["stack"].split("\n", 1)[1]
                              if "\n" in e["stack"] else ""):
            if loc and not re.fullmatch(r"function\.js:\d+", loc):
                bad.append(f"stack location {loc!r}")
        bad += [f"stack: {x}" for x in no_host_text(e["stack"])]
        bad += [f"message: {x}" for x in no_host_text(e["message"])]
        if e.get("lineNumber") is not None and not (1 <= e["lineNumber"] <= nlines):
            bad.append(f"lineNumber={e['lineNumber']}")
        if bad:
            problems[k] = "; ".join(dict.fromkeys(bad))
    assert not problems, "\n".join(f"{k}: {v}" for k, v in sorted(problems.items()))
    plain = errors["plain_stack"]
    assert plain.startswith("Error: x\n"), plain
    assert "/" not in plain and no_host_text(plain) == [], plain
    assert re.findall(r"\(([^()]*)\)", plain) == [f"function.js:{plain_line}"], plain


def test_uncaught_host_errors_report_no_host_location(env):
    for code, name in (("function main() {\n  secrets.get(5);\n}\n", "TypeError"),
                       ("function main() {\n  crypto.randomBytes(0);\n}\n", "RangeError"),
                       ("function main() {\n  fetch('https://evil.invalid');\n}\n", "Error"),
                       ("function main() {\n  null.x;\n}\n", "TypeError")):
        r, _ = run(env, code, limits=FAST)
        err = fail(r, 500, "function_error")
        assert err["name"] == name, err
        assert err.get("line") in (None, 2), err
        assert no_host_text(r.text) == [], r.text


# ---- 7. forged internal keys --------------------------------------------------------------

def test_forged_internal_keys_are_ordinary_properties(env):
    code = r"""function main() {
  var r = {};
  var ff = String.fromCharCode(0xff), x82 = String.fromCharCode(0x82);
  // a String object's internal value
  var s = new String('abc');
  Object.defineProperty(s, ff + 'Value', {value: 'zzz', enumerable: true});
  s[x82 + 'Value'] = 'yyy';
  r.string = [String(s), s.valueOf(), s.length, JSON.stringify(s),
              Object.keys(s).map(function (k) { return k.length; })];
  // a Date's internal time value
  var d = new Date(0);
  d[ff + 'Value'] = 12345;
  d[x82 + 'Value'] = 99999;
  r.date = [d.getTime(), Object.keys(d).map(function (k) { return k.charCodeAt(0); })];
  // an Error's internal traceback data
  var e = {};
  e[x82 + 'Tracedata'] = ['/etc/passwd', 1];
  e[ff + 'Tracedata'] = ['/etc/passwd', 1];
  r.trace = Object.getOwnPropertyDescriptor(Error.prototype, 'stack').get.call(e);
  // Proxy / bound-function internals on a plain object
  var fake = {};
  fake[ff + 'Target'] = Math.max;
  fake[x82 + 'Target'] = Math.max;
  fake[ff + 'Handler'] = {};
  r.fake = [typeof fake, Object.prototype.toString.call(fake)];
  try { Object.getPrototypeOf(Math.max).toString.call(fake); r.fake.push('callable'); }
  catch (ex) { r.fake.push(ex.name); }
  // TextDecoder: raw 0x82 / 0xFF bytes never survive into a string
  var k1 = new TextDecoder().decode(new Uint8Array([0x82, 0x56, 0x61, 0x6c, 0x75, 0x65]));
  var k2 = new TextDecoder().decode(new Uint8Array([0xff, 0x56, 0x61, 0x6c, 0x75, 0x65]));
  var k3 = new TextDecoder().decode(new Uint8Array([0xc0, 0x80, 0xed, 0xa0, 0x80]));
  r.decoded = [k1.charCodeAt(0), k2.charCodeAt(0), k1.slice(1), k3.length];
  var s2 = new String('abc');
  s2[k1] = 'zzz';
  s2[k2] = 'zzz';
  r.decoded_keys = [String(s2), Object.keys(s2).length];
  // plain buffers and typed arrays as keys become '[object Uint8Array]'
  var pb = Uint8Array.allocPlain(2);
  pb[0] = 0xff;
  var o = {};
  o[pb] = 1;
  o[new Uint8Array([0x82, 0x41])] = 2;
  r.buffer_keys = Object.keys(o);
  // symbols with such descriptions are ordinary symbols
  var sym = Symbol.for(ff + 'Value');
  var so = new String('abc');
  so[sym] = 'zzz';
  r.symbols = [String(so), Object.getOwnPropertySymbols(so).length, Symbol.keyFor(sym) === ff + 'Value'];
  return r;
}
"""
    res = result(env, code, limits=FAST)
    assert res["string"] == ["abc", "abc", 3, '"abc"', [1, 1, 1, 6, 6]], res
    assert res["date"] == [0, [0xff, 0x82]], res
    assert res["trace"] == "[object Object]", res
    assert res["fake"] == ["object", "[object Object]", "TypeError"], res
    assert res["decoded"] == [0xFFFD, 0xFFFD, "Value", res["decoded"][3]], res
    assert res["decoded"][3] >= 2, res  # each invalid byte sequence became U+FFFD
    assert res["decoded_keys"] == ["abc", 4], res  # both decode to '\ufffdValue'
    assert res["buffer_keys"] == ["[object Uint8Array]"], res
    assert res["symbols"] == ["abc", 1, True], res


def test_fetch_response_hides_its_body_slot(env):
    up = env.up
    code = r"""function main(input) {
  var r = fetch(input.url);
  var t = r.text;
  return {
    names: Object.getOwnPropertyNames(t), symbols: Object.getOwnPropertySymbols(t).length,
    keys: Object.keys(t), ff: typeof t[String.fromCharCode(0xff) + 'fnboxBody'],
    x82: typeof t[String.fromCharCode(0x82) + 'fnboxBody'],
    detached: t.call(null) === r.text(), json_own: Object.getOwnPropertyNames(r.json),
    stringified: JSON.parse(JSON.stringify(r)).status, text_len: r.text().length > 0
  };
}
"""
    res = result(env, code, input={"url": up.url("/fixed")}, limits=FAST,
                 allow_hosts=[up.hostport()])
    assert res == {"names": [], "symbols": 0, "keys": [], "ff": "undefined", "x82": "undefined",
                   "detached": True, "json_own": [], "stringified": 200,
                   "text_len": True}, res
