"""Fresh heap per invocation, per-worker randomness, unsafe reflection removed."""

from conftest import unique


def _result(d, name, token, input={}):
    r = d.invoke(name, token, input=input)
    assert r.status_code == 200, r.text[:500]
    return r.json()["result"]


def test_globals_do_not_survive(daemon, dev):
    d = daemon
    token, _ = dev
    code = """var counter = 0;
function main() {
  counter++;
  var g = (function () { return this; })();
  g.leaked = (g.leaked || 0) + 1;
  Object.prototype.__mark = (Object.prototype.__mark || 0) + 1;
  Array.prototype.push = (function (orig) { return function () { return orig.apply(this, arguments); }; })(Array.prototype.push);
  Math.pow = function () { return 'patched'; };
  return {counter: counter, leaked: g.leaked, mark: ({}).__mark, pow: typeof Math.pow(2, 2)};
}
"""
    name = unique("counter")
    d.deploy_ok(name, code, token)
    for _ in range(4):
        assert _result(d, name, token) == {"counter": 1, "leaked": 1, "mark": 1, "pow": "string"}


def test_one_function_cannot_see_another(daemon, dev):
    d = daemon
    token, _ = dev
    writer, reader = unique("writer"), unique("reader")
    d.deploy_ok(writer, "function main() { var g = (function () { return this; })(); "
                        "g.shared_secret = 'w'; JSON.leak = 1; return 1; }\n", token)
    d.deploy_ok(reader, "function main() { var g = (function () { return this; })(); "
                        "return [typeof g.shared_secret, typeof JSON.leak]; }\n", token)
    assert _result(d, writer, token) == 1
    assert _result(d, reader, token) == ["undefined", "undefined"]


def test_math_random_differs(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("rand")
    d.deploy_ok(name, "function main() { return [Math.random(), Math.random()]; }\n", token)
    firsts, seconds = [], []
    for _ in range(5):
        a, b = _result(d, name, token)
        assert 0 <= a < 1 and 0 <= b < 1 and a != b
        firsts.append(a)
        seconds.append(b)
    assert len(set(firsts)) == 5, firsts
    assert len(set(seconds)) == 5, seconds


def test_input_not_shared_between_invocations(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("ctx")
    d.deploy_ok(name, "function main(input, ctx) { input.seen = true; ctx.extra = 1;"
                      " return [input, ctx.extra, ctx.function]; }\n", token)
    a = _result(d, name, token, {"v": 1})
    b = _result(d, name, token, {"v": 2})
    assert a == [{"v": 1, "seen": True}, 1, name]
    assert b == [{"v": 2, "seen": True}, 1, name]


REFLECTION = """function attempt(f) {
  try {
    var r = f();
    return r === 1 ? 'WORKS' : 'no:' + typeof r;
  } catch (e) {
    return 'threw:' + (e && e.name);
  }
}
function main() {
  var g = (function () { return this; })();
  var names = Object.getOwnPropertyNames(g);
  return {
    eval_type: typeof eval,
    Function_type: typeof Function,
    Duktape_type: typeof Duktape,
    require_type: typeof require,
    CBOR_type: typeof CBOR,
    performance_type: typeof performance,
    Duktape_in_global: 'Duktape' in g,
    Duktape_in_names: names.indexOf('Duktape') >= 0,
    globalThis_Duktape: typeof globalThis === 'undefined' ? 'no-globalThis' : typeof globalThis.Duktape,
    attempts: {
      eval: attempt(function () { return eval('1'); }),
      indirect_eval: attempt(function () { return (0, eval)('1'); }),
      global_eval: attempt(function () { return g['ev' + 'al']('1'); }),
      Function: attempt(function () { return Function('return 1')(); }),
      new_Function: attempt(function () { return new Function('return 1')(); }),
      fn_constructor: attempt(function () { return (function () {}).constructor('return 1')(); }),
      proto_constructor: attempt(function () { return Object.getPrototypeOf(function () {}).constructor('return 1')(); }),
      array_ctor_ctor: attempt(function () { return [].constructor.constructor('return 1')(); }),
      native_ctor: attempt(function () { return Math.max.constructor('return 1')(); }),
      bound_ctor: attempt(function () { return (function () {}).bind(null).constructor('return 1')(); }),
      getter_ctor: attempt(function () {
        var d = Object.getOwnPropertyDescriptor(Object.prototype, '__proto__');
        var f = d && (d.get || d.set);
        return f.constructor('return 1')();
      }),
      json_reviver_ctor: attempt(function () {
        var c;
        JSON.parse('{"a":1}', function (k, v) { c = this.constructor.constructor; return v; });
        return c('return 1')();
      }),
      Duktape_compile: attempt(function () { return Duktape.compile('1')(); }),
      Duktape_via_global: attempt(function () { return g['Dukt' + 'ape'].dec('hex', '01').length; }),
      setTimeout_string: attempt(function () { return setTimeout('1', 0); })
    }
  };
}
"""


def test_unsafe_reflection_unavailable(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("reflect")
    d.deploy_ok(name, REFLECTION, token)
    res = _result(d, name, token)
    assert res["eval_type"] != "function" or res["attempts"]["eval"] != "WORKS", res
    assert res["Duktape_type"] == "undefined", res
    assert res["require_type"] == "undefined", res
    assert res["CBOR_type"] == "undefined", res
    assert res["performance_type"] == "undefined", res
    assert res["Duktape_in_global"] is False and res["Duktape_in_names"] is False, res
    assert res["globalThis_Duktape"] in ("undefined", "no-globalThis"), res
    working = {k: v for k, v in res["attempts"].items() if v == "WORKS"}
    assert not working, f"these reached a code compiler: {working} (all: {res})"


def test_global_property_names_allowlisted(daemon, dev):
    """Nothing engine-internal or dangerous is reachable as a global."""
    d = daemon
    token, _ = dev
    name = unique("globals")
    d.deploy_ok(name, "function main() { var g = (function () { return this; })();"
                      " return Object.getOwnPropertyNames(g); }\n", token)
    names = set(_result(d, name, token))
    # eval/Function may remain as throwing stubs (checked above); these must be gone
    for forbidden in ("Duktape", "CBOR", "performance", "require", "print", "alert",
                      "__fnbox_test_syscall"):
        assert forbidden not in names, (forbidden, sorted(names))
    for expected in ("Object", "Array", "JSON", "Math", "String", "Number", "console"):
        assert expected in names, (expected, sorted(names))
