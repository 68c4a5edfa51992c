"""The path a new user takes: token, deploy, invoke, inspect."""

import hashlib
import json
import re

from conftest import TOKEN_RE, error_code, unique

HELLO = """\
function main(input, ctx) {
  var who = (input && input.name) ? input.name : 'world';
  console.log('greeting', who);
  return {greeting: 'Hello, ' + who + '!', fn: ctx.function, version: ctx.version,
          id: ctx.invocation_id};
}
"""


def test_walkthrough(daemon):
    d = daemon
    owner = unique("alice")
    r = d.api("POST", "/v1/tokens", d.admin, json={"role": "developer", "owner": owner})
    assert r.status_code == 201, r.text
    tok = r.json()
    d.tokens.add(tok["token"])
    assert TOKEN_RE.fullmatch(tok["token"])
    assert re.fullmatch(r"tok_[0-9a-f]{16}", tok["id"])
    assert tok["role"] == "developer" and tok["owner"] == owner
    assert tok["expires_at"] is None
    dev = tok["token"]

    name = unique("hello")
    r = d.deploy(name, HELLO, dev)
    assert r.status_code == 201, r.text
    dep = r.json()
    assert dep["name"] == name and dep["version"] == 1 and dep["live_version"] == 1
    assert dep["owner"] == owner
    assert dep["code_sha256"] == hashlib.sha256(HELLO.encode()).hexdigest()

    r = d.invoke(name, dev, input={"name": "fnbox"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["result"]["greeting"] == "Hello, fnbox!"
    assert body["result"]["fn"] == name and body["result"]["version"] == 1
    assert isinstance(body["invocation_id"], str) and body["invocation_id"]
    assert body["result"]["id"] == body["invocation_id"]
    assert body["logs"] == ["greeting fnbox"]
    assert body["version"] == 1
    assert isinstance(body["duration_ms"], (int, float)) and body["duration_ms"] >= 0

    # a second invocation is a different invocation
    r2 = d.invoke(name, dev, input=None)
    assert r2.status_code == 200, r2.text
    assert r2.json()["result"]["greeting"] == "Hello, world!"
    assert r2.json()["invocation_id"] != body["invocation_id"]

    r = d.api("GET", f"/v1/functions/{name}", dev)
    assert r.status_code == 200, r.text
    meta = r.json()
    assert meta["name"] == name and meta["owner"] == owner and meta["version"] == 1
    assert meta["code"] == HELLO
    assert meta["code_sha256"] == dep["code_sha256"]
    assert meta["entry"] == "main"
    assert meta["limits"] == {"timeout_ms": 5000, "memory_mb": 64, "max_fetches": 8,
                              "max_output_bytes": 1048576}
    assert meta["pinned"] is False and meta["latest_version"] == 1

    r = d.api("GET", "/v1/functions", dev)
    assert r.status_code == 200, r.text
    fns = {f["name"]: f for f in r.json()["functions"]}
    assert name in fns and fns[name]["owner"] == owner and fns[name]["version"] == 1

    r = d.api("GET", f"/v1/functions/{name}/versions", dev)
    assert r.status_code == 200, r.text
    vs = r.json()
    assert vs["name"] == name and vs["live_version"] == 1
    assert [v["version"] for v in vs["versions"]] == [1]

    # redeploy -> version 2, live
    r = d.deploy(name, HELLO.replace("Hello", "Hi"), dev)
    assert r.status_code == 201, r.text
    assert r.json()["version"] == 2
    r = d.invoke(name, dev, input={"name": "x"})
    assert r.status_code == 200 and r.json()["result"]["greeting"] == "Hi, x!", r.text
    assert r.json()["version"] == 2

    # delete
    r = d.api("DELETE", f"/v1/functions/{name}", dev)
    assert r.status_code == 204, r.text
    r = d.api("GET", f"/v1/functions/{name}", dev)
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = d.invoke(name, dev, input={})
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_custom_entry_and_inputs(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("entry")
    code = "function handler(input) { return input === null ? 'null' : typeof input; }\n"
    d.deploy_ok(name, code, token, entry="handler")
    cases = [(None, "null"), ([1, 2], "object"), ("s", "string"), (3.5, "number"),
             (True, "boolean")]
    for value, want in cases:
        r = d.api("POST", f"/v1/functions/{name}/invoke", token,
                  data=None if value is None else json.dumps(value),
                  headers={"Content-Type": "application/json"})
        assert r.status_code == 200, (value, r.text)
        assert r.json()["result"] == want, value


def test_console_formatting(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("logs")
    code = """function main() {
  console.log('a', 1, {b: 2});
  console.info('info');
  console.warn('warn', [1, 'x']);
  console.error('err', null, true);
  return 'ok';
}
"""
    d.deploy_ok(name, code, token)
    r = d.invoke(name, token, input={})
    assert r.status_code == 200, r.text
    assert r.json()["logs"] == ['a 1 {"b":2}', "info", 'warn [1,"x"]', "err null true"]


def test_unknown_function_and_route(daemon, dev):
    d = daemon
    token, _ = dev
    r = d.invoke(unique("nope"), token, input={})
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = d.api("GET", "/v1/nosuchthing", token)
    assert r.status_code == 404 and error_code(r) == "not_found"
    r = d.api("PATCH", "/v1/functions", token, json={})
    assert r.status_code in (404, 405), r.text
    error_code(r)
