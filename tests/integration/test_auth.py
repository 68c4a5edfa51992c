"""Authentication and authorization: roles, owners, expiry, revocation."""

import hashlib
import time

import pytest

from conftest import error_code, unique

CODE = "function main(input, ctx) { return {n: 1, caller: ctx.caller}; }\n"


@pytest.fixture(scope="module")
def alice(daemon):
    token, owner = daemon.developer()
    name = unique("alicefn")
    daemon.deploy_ok(name, CODE, token)
    return {"token": token, "owner": owner, "fn": name}


@pytest.fixture(scope="module")
def bob(daemon):
    token, owner = daemon.developer()
    return {"token": token, "owner": owner}


PROTECTED = [
    ("GET", "/v1/functions"),
    ("GET", "/v1/tokens"),
    ("POST", "/v1/tokens"),
    ("PUT", "/v1/functions/{fn}"),
    ("GET", "/v1/functions/{fn}"),
    ("POST", "/v1/functions/{fn}/invoke"),
    ("DELETE", "/v1/functions/{fn}"),
]


def _unauth(r):
    assert r.status_code == 401, (r.status_code, r.text)
    assert error_code(r) == "unauthorized"


@pytest.mark.parametrize("method,path", PROTECTED)
def test_no_token_401(daemon, alice, method, path):
    kw = {"json": {"role": "admin", "owner": "x", "code": CODE}} if method in ("PUT", "POST") else {}
    r = daemon.api(method, path.format(fn=alice["fn"]), None, **kw)
    _unauth(r)


@pytest.mark.parametrize("header", [
    "Bearer fnbox_" + "0" * 64,
    "Bearer garbage",
    "Bearer ",
    "Basic YWRtaW46YWRtaW4=",
    "fnbox_" + "1" * 64,
])
def test_bad_token_401(daemon, alice, header):
    r = daemon.api("POST", f"/v1/functions/{alice['fn']}/invoke", None, json={},
                   headers={"Authorization": header})
    _unauth(r)
    r = daemon.api("GET", "/v1/functions", None, headers={"Authorization": header})
    _unauth(r)


def test_admin_token_with_a_changed_char_is_rejected(daemon, alice):
    tok = daemon.admin
    bad = tok[:-1] + ("0" if tok[-1] != "0" else "1")
    _unauth(daemon.api("GET", "/v1/tokens", bad))
    _unauth(daemon.api("GET", "/v1/tokens", tok + "0"))
    _unauth(daemon.api("GET", "/v1/tokens", tok[:-1]))
    assert daemon.api("GET", "/v1/tokens", tok).status_code == 200


def test_token_only_in_header(daemon, alice):
    """A token in the query string or a cookie is not a credential."""
    d = daemon
    for params in ({"token": d.admin}, {"access_token": d.admin}):
        _unauth(d.api("GET", "/v1/tokens", None, params=params))
    _unauth(d.api("GET", "/v1/tokens", None, headers={"Cookie": f"token={d.admin}"}))
    _unauth(d.api("GET", "/v1/tokens", None, headers={"X-Api-Key": d.admin}))


def test_expired_token_401(daemon, alice):
    d = daemon
    longer = d.create_token("invoker", unique("inv"), expires_in=3600)
    assert isinstance(longer["expires_at"], int)
    assert abs(longer["expires_at"] - (time.time() + 3600)) < 30
    r = d.invoke(alice["fn"], longer["token"], input={})
    assert r.status_code == 200, r.text

    short = d.create_token("invoker", unique("inv"), expires_in=1)
    time.sleep(2.5)
    _unauth(d.invoke(alice["fn"], short["token"], input={}))
    # the still-valid one keeps working
    assert d.invoke(alice["fn"], longer["token"], input={}).status_code == 200


@pytest.mark.parametrize("bad", [-5, "10"])
def test_bad_expires_in_rejected(daemon, bad):
    r = daemon.api("POST", "/v1/tokens", daemon.admin,
                   json={"role": "invoker", "owner": unique("o"), "expires_in": bad})
    assert r.status_code == 400, (bad, r.status_code, r.text)
    error_code(r)


def test_revoked_token_401(daemon, alice):
    d = daemon
    tok = d.create_token("developer", alice["owner"])
    assert d.invoke(alice["fn"], tok["token"], input={}).status_code == 200
    r = d.api("DELETE", f"/v1/tokens/{tok['id']}", d.admin)
    assert r.status_code == 204, r.text
    _unauth(d.invoke(alice["fn"], tok["token"], input={}))
    _unauth(d.api("GET", "/v1/functions", tok["token"]))
    listed = {t["id"]: t for t in d.api("GET", "/v1/tokens", d.admin).json()["tokens"]}
    assert listed[tok["id"]]["revoked"] is True
    # the owner's other token is unaffected
    assert d.invoke(alice["fn"], alice["token"], input={}).status_code == 200


def test_revoke_unknown_token_404(daemon):
    r = daemon.api("DELETE", "/v1/tokens/tok_0123456789abcdef", daemon.admin)
    assert r.status_code == 404 and error_code(r) == "not_found"


def test_developer_cannot_touch_another_owners_function(daemon, alice, bob):
    d, fn, bt = daemon, alice["fn"], bob["token"]

    r = d.api("GET", f"/v1/functions/{fn}", bt)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    assert "function main" not in r.text

    r = d.api("GET", f"/v1/functions/{fn}/versions", bt)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text

    r = d.invoke(fn, bt, input={})
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text

    r = d.deploy(fn, "function main() { return 'pwned'; }\n", bt)
    assert (r.status_code, error_code(r)) in ((409, "name_taken"), (403, "forbidden")), r.text

    r = d.api("PUT", f"/v1/functions/{fn}/live", bt, json={"version": 1})
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text

    r = d.api("DELETE", f"/v1/functions/{fn}", bt)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text

    names = [f["name"] for f in d.api("GET", "/v1/functions", bt).json()["functions"]]
    assert fn not in names

    # alice's function is untouched
    r = d.invoke(fn, alice["token"], input={})
    assert r.status_code == 200 and r.json()["result"]["n"] == 1, r.text
    meta = d.api("GET", f"/v1/functions/{fn}", alice["token"]).json()
    assert meta["latest_version"] == 1 and meta["owner"] == alice["owner"]


def test_developer_cannot_act_for_another_owner(daemon, alice, bob):
    """?owner= is for admins only: a developer must not deploy into or list another owner."""
    d = daemon
    name = unique("sneaky")
    r = d.deploy(name, CODE, bob["token"], params={"owner": alice["owner"]})
    if r.status_code == 201:
        assert r.json()["owner"] == bob["owner"], r.text
    else:
        assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    r = d.api("GET", "/v1/functions", bob["token"], params={"owner": alice["owner"]})
    if r.status_code == 200:
        assert alice["fn"] not in [f["name"] for f in r.json()["functions"]]
    else:
        assert r.status_code == 403, r.text
    r = d.invoke(alice["fn"], bob["token"], input={})
    assert r.status_code == 403


def test_owner_query_does_not_let_a_developer_delete(daemon, alice, bob):
    r = daemon.api("DELETE", f"/v1/functions/{alice['fn']}", bob["token"],
                   params={"owner": alice["owner"]})
    assert r.status_code == 403, r.text
    assert daemon.invoke(alice["fn"], alice["token"], input={}).status_code == 200


def test_invoker_role(daemon, alice):
    d = daemon
    inv_owner = unique("inv")
    inv = d.create_token("invoker", inv_owner)["token"]
    r = d.invoke(alice["fn"], inv, input={})
    assert r.status_code == 200 and r.json()["result"] == {"n": 1, "caller": inv_owner}, r.text
    r = d.invoke(alice["fn"], alice["token"], input={})
    assert r.json()["result"]["caller"] == alice["owner"], r.text

    r = d.deploy(unique("byinvoker"), CODE, inv)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    r = d.deploy(alice["fn"], CODE, inv)
    assert r.status_code in (403, 409), r.text
    r = d.api("DELETE", f"/v1/functions/{alice['fn']}", inv)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    r = d.api("PUT", f"/v1/functions/{alice['fn']}/live", inv, json={"version": 1})
    assert r.status_code == 403, r.text
    r = d.api("GET", "/v1/functions", inv)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    assert d.invoke(alice["fn"], alice["token"], input={}).status_code == 200


@pytest.mark.parametrize("role", ["developer", "invoker"])
def test_non_admin_cannot_manage_tokens(daemon, alice, role):
    d = daemon
    tok = d.create_token(role, unique("o"))["token"]
    for role_wanted in ("admin", "developer", "invoker"):
        r = d.api("POST", "/v1/tokens", tok, json={"role": role_wanted, "owner": unique("x")})
        assert r.status_code == 403 and error_code(r) == "forbidden", r.text
        assert "fnbox_" not in r.text
    r = d.api("GET", "/v1/tokens", tok)
    assert r.status_code == 403 and error_code(r) == "forbidden", r.text
    victim = d.create_token("invoker", unique("v"))
    r = d.api("DELETE", f"/v1/tokens/{victim['id']}", tok)
    assert r.status_code == 403, r.text
    assert d.invoke(alice["fn"], victim["token"], input={}).status_code == 200


def test_token_list_never_contains_secrets(daemon, alice, bob):
    d = daemon
    d.create_token("invoker", unique("inv"), expires_in=600)
    r = d.api("GET", "/v1/tokens", d.admin)
    assert r.status_code == 200, r.text
    toks = r.json()["tokens"]
    assert len(toks) >= 3
    for t in toks:
        assert "token" not in t, t
        assert set(t) >= {"id", "role", "owner", "expires_at", "created_at", "revoked"}, t
    assert "fnbox_" not in r.text
    for secret in d.tokens:
        assert secret not in r.text
        assert secret[6:] not in r.text  # the hex part alone
        assert hashlib.sha256(secret.encode()).hexdigest() not in r.text
    owners = {t["owner"] for t in toks}
    assert alice["owner"] in owners and bob["owner"] in owners


@pytest.mark.parametrize("body", [
    {"role": "superuser", "owner": "x"},
    {"role": "developer", "owner": "Bad Owner"},
    {"role": "developer", "owner": ""},
    {"role": "developer"},
    {"owner": "x"},
])
def test_bad_token_requests_400(daemon, body):
    r = daemon.api("POST", "/v1/tokens", daemon.admin, json=body)
    assert r.status_code == 400, (body, r.status_code, r.text)
    error_code(r)
    assert "fnbox_" not in r.text


def test_admin_acts_for_owner(daemon, alice):
    d = daemon
    carol_tok, carol = d.developer()
    name = unique("carolfn")
    r = d.deploy(name, CODE, d.admin, params={"owner": carol})
    assert r.status_code == 201, r.text
    assert r.json()["owner"] == carol

    # carol owns it
    r = d.api("GET", f"/v1/functions/{name}", carol_tok)
    assert r.status_code == 200 and r.json()["owner"] == carol, r.text
    assert d.invoke(name, carol_tok, input={}).status_code == 200

    # admin listing for carol: only carol's
    r = d.api("GET", "/v1/functions", d.admin, params={"owner": carol})
    assert r.status_code == 200, r.text
    fns = r.json()["functions"]
    assert [f["name"] for f in fns] == [name]
    assert all(f["owner"] == carol for f in fns)

    # admin listing without owner: everyone's
    r = d.api("GET", "/v1/functions", d.admin)
    names = [f["name"] for f in r.json()["functions"]]
    assert name in names and alice["fn"] in names

    # admin may read/invoke/redeploy anyone's
    assert d.api("GET", f"/v1/functions/{alice['fn']}", d.admin).status_code == 200
    assert d.invoke(alice["fn"], d.admin, input={}).status_code == 200
    r = d.deploy(name, CODE + "\n", d.admin, params={"owner": carol})
    assert r.status_code == 201 and r.json()["version"] == 2, r.text


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_open_routes_need_no_token(daemon, path):
    r = daemon.api("GET", path)
    assert r.status_code == 200, (path, r.status_code, r.text)
    # a garbage token does not break them either
    r = daemon.api("GET", path, headers={"Authorization": "Bearer nope"})
    assert r.status_code == 200, (path, r.status_code, r.text)
