"""Immutable versions, pinning (rollback) and unpinning."""

import hashlib

from conftest import error_code, unique


def _code(v):
    return "function main() { return %d; }\n" % v


def _invoke(d, name, token):
    r = d.invoke(name, token, input={})
    assert r.status_code == 200, r.text
    return r.json()["result"], r.json()["version"]


def test_rollback_and_unpin(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("roll")
    assert d.deploy_ok(name, _code(1), token)["version"] == 1
    dep2 = d.deploy_ok(name, _code(2), token)
    assert dep2["version"] == 2 and dep2["live_version"] == 2
    assert _invoke(d, name, token) == (2, 2)

    r = d.api("PUT", f"/v1/functions/{name}/live", token, json={"version": 1})
    assert r.status_code == 200, r.text
    pin = r.json()
    assert (pin["name"], pin["live_version"], pin["pinned"]) == (name, 1, True), pin
    assert _invoke(d, name, token) == (1, 1)

    vs = d.api("GET", f"/v1/functions/{name}/versions", token).json()
    assert vs["live_version"] == 1
    assert [v["version"] for v in vs["versions"]] == [1, 2]
    shas = {v["version"]: v["code_sha256"] for v in vs["versions"]}
    assert shas[1] == hashlib.sha256(_code(1).encode()).hexdigest()
    assert shas[2] == hashlib.sha256(_code(2).encode()).hexdigest()

    meta = d.api("GET", f"/v1/functions/{name}", token).json()
    assert meta["version"] == 1 and meta["code"] == _code(1)
    assert meta["pinned"] is True and meta["latest_version"] == 2
    listed = {f["name"]: f for f in d.api("GET", "/v1/functions", token).json()["functions"]}
    assert listed[name]["version"] == 1 and listed[name]["latest_version"] == 2
    assert listed[name]["pinned"] is True

    # a new deploy while pinned does not move the pin
    dep3 = d.deploy_ok(name, _code(3), token)
    assert dep3["version"] == 3 and dep3["live_version"] == 1
    assert _invoke(d, name, token) == (1, 1)

    # unknown version
    r = d.api("PUT", f"/v1/functions/{name}/live", token, json={"version": 9})
    assert r.status_code == 404 and error_code(r) == "not_found", r.text
    for bad in ({"version": "1"}, {"version": 0}, {"version": -1}, {"version": 1.5}):
        r = d.api("PUT", f"/v1/functions/{name}/live", token, json=bad)
        assert r.status_code in (400, 404), (bad, r.status_code, r.text)
        error_code(r)
    assert _invoke(d, name, token) == (1, 1)

    # unpin: newest is live again
    r = d.api("PUT", f"/v1/functions/{name}/live", token, json={"version": None})
    assert r.status_code == 200, r.text
    assert r.json()["live_version"] == 3 and r.json()["pinned"] is False
    assert _invoke(d, name, token) == (3, 3)
    meta = d.api("GET", f"/v1/functions/{name}", token).json()
    assert meta["pinned"] is False and meta["version"] == 3

    # pin to the newest, then a deploy: still pinned at 3
    r = d.api("PUT", f"/v1/functions/{name}/live", token, json={"version": 3})
    assert r.status_code == 200 and r.json()["pinned"] is True
    d.deploy_ok(name, _code(4), token)
    assert _invoke(d, name, token) == (3, 3)


def test_versions_are_immutable(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("immut")
    d.deploy_ok(name, _code(1), token, limits={"timeout_ms": 1000})
    d.deploy_ok(name, _code(2), token, limits={"timeout_ms": 2000})
    d.api("PUT", f"/v1/functions/{name}/live", token, json={"version": 1})
    meta = d.api("GET", f"/v1/functions/{name}", token).json()
    assert meta["code"] == _code(1) and meta["limits"]["timeout_ms"] == 1000


def test_delete_removes_all_versions(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("del")
    d.deploy_ok(name, _code(1), token)
    d.deploy_ok(name, _code(2), token)
    assert d.api("DELETE", f"/v1/functions/{name}", token).status_code == 204
    r = d.api("GET", f"/v1/functions/{name}/versions", token)
    assert r.status_code == 404 and error_code(r) == "not_found"
    assert d.api("DELETE", f"/v1/functions/{name}", token).status_code == 404
    # the name is free again (for anyone) and starts over at version 1
    other, _ = d.developer()
    dep = d.deploy_ok(name, _code(5), other)
    assert dep["version"] == 1
    assert _invoke(d, name, other) == (5, 1)
