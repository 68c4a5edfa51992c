"""fetch(): the broker's HTTP client, its allowlist, SSRF defences, secret destination
binding, pinning, limits and provenance, against real local HTTP and HTTPS servers
(egress.py; certificates from a CA made here with openssl). Traffic goes to 127.0.0.1 only:
the "evil" names are under .invalid, and private addresses are refused before connecting.

Daemons (--egress-allow-http names each local http server's 127.0.0.1:PORT: a bare host
would mean port 80 only):
  fd      --egress-allow-private 127.0.0.0/8 --egress-allow-http ... --egress-ca-file CA
  closed  like fd but without --egress-allow-private (loopback refused even when allowlisted)
  strict  fd's flags minus the CA, plus an operator allowlist (--egress-allow), a 4 KiB
          --max-response-bytes, and proxy variables / a .netrc in its environment

Run: cd tests/integration && FNBOX_BUILD=/abs/build /usr/bin/python3 -m pytest -q test_fetch.py
"""

import hashlib
import json
import os
import re
import secrets as pysecrets
import subprocess
import sys
import time

import pytest
import requests

import egress
from conftest import REPO, binary, error_code, start_daemon, unique

SAMPLES = os.path.join(REPO, "samples")
POLICY = ("host_not_allowed", "address_not_allowed")
# a host not written in its plain form (2130706433, 0x7f000001, 127.1, ...) may also be
# refused as a malformed request before any allowlist lookup
SPELLING = POLICY + ("invalid_request",)

# Runs input.calls in order; every error is caught and described (catchability of every
# code is checked by the tests that look at `code`).
FETCHER = r"""function main(input) {
  var out = [];
  for (var i = 0; i < input.calls.length; i++) {
    var c = input.calls[i];
    try {
      var r = c.opts === undefined ? fetch(c.url) : fetch(c.url, c.opts);
      var t = r.text();
      var j = null;
      try { j = r.json(); } catch (je) { j = null; }
      out.push({fetched: true, status: r.status, ok: r.ok, headers: r.headers, url: r.url,
                length: t.length, text: t.length <= 8192 ? t : null, json: j});
    } catch (e) {
      out.push({fetched: false, code: e.code === undefined ? null : e.code, name: e.name,
                message: String(e.message), is_error: e instanceof Error});
    }
  }
  return out;
}
"""


def sha256(b):
    return hashlib.sha256(b).hexdigest()


# ---- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return egress.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def up(pki):
    """Upstream servers: http (A), http_b (B, another host:port), https."""
    class Ups:
        pass
    u = Ups()
    u.http = egress.Upstream()
    u.http_b = egress.Upstream()
    u.https = egress.Upstream(pki)
    yield u
    for s in (u.http, u.http_b, u.https):
        s.stop()


def allow_http(*hostports):
    """--egress-allow-http entries: a bare host means port 80 only, so each port is listed."""
    out = []
    for hp in hostports:
        out += ["--egress-allow-http", hp]
    return out


@pytest.fixture(scope="module")
def fd(tmp_path_factory, pki, up, exchange):
    d = start_daemon(tmp_path_factory.mktemp("fnboxd-fetch"), [
        "--egress-allow-private", "127.0.0.0/8",
        *allow_http(up.http.hostport(), up.http_b.hostport(), exchange.hostport,
                    up.http.hostport("0.0.0.0")),
        "--egress-ca-file", pki.ca_cert])
    yield d
    d.stop()


@pytest.fixture(scope="module")
def tok(fd):
    return fd.developer()[0]


@pytest.fixture(scope="module")
def closed(tmp_path_factory, pki, up):
    d = start_daemon(tmp_path_factory.mktemp("fnboxd-closed"), [
        *allow_http(up.http.hostport(), up.http_b.hostport(), up.http.hostport("0.0.0.0")),
        "--egress-ca-file", pki.ca_cert])
    yield d
    d.stop()


@pytest.fixture(scope="module")
def proxy():
    p = egress.Upstream()
    yield p
    p.stop()


@pytest.fixture(scope="module")
def strict(tmp_path_factory, up, proxy):
    """Started through a wrapper that puts proxy variables and a .netrc HOME in fnboxd's
    environment only (the test's own HTTP client must not use that proxy)."""
    work = tmp_path_factory.mktemp("fnboxd-strict")
    home = work / "home"
    home.mkdir()
    netrc = home / ".netrc"
    netrc.write_text("machine 127.0.0.1 login netrcuser password netrcpass\n"
                     "machine localhost login netrcuser password netrcpass\n"
                     "default login netrcuser password netrcpass\n")
    netrc.chmod(0o600)
    purl = f"http://127.0.0.1:{proxy.port}"
    wrapper = work / "fnboxd-with-proxy-env"
    env = " ".join(f"{k}={purl}" for k in ("http_proxy", "HTTP_PROXY", "https_proxy",
                                            "HTTPS_PROXY", "ALL_PROXY", "all_proxy"))
    wrapper.write_text(f"#!/bin/sh\nexport HOME='{home}' {env}\n"
                       f"unset NO_PROXY no_proxy\nexec '{binary()}' \"$@\"\n")
    wrapper.chmod(0o755)
    d = start_daemon(work, [
        "--egress-allow-private", "127.0.0.0/8",
        *allow_http(up.http.hostport(), up.http_b.hostport()),
        "--egress-allow", up.http.hostport(),
        "--egress-allow", up.https.hostport("localhost"),
        "--max-response-bytes", "4096"], exe=str(wrapper))
    yield d
    d.stop()


# ---- helpers ----------------------------------------------------------------------------

def deploy_fetcher(d, token, allow_hosts, **fields):
    name = unique("fetch")
    d.deploy_ok(name, FETCHER, token, allow_hosts=allow_hosts, **fields)
    return name


def run_calls(d, token, allow_hosts, calls, status=200, **fields):
    """Deploy FETCHER with allow_hosts, run the calls; return (results, response body).
    Refused fetches count towards max_fetches too, so the default here is the maximum."""
    fields.setdefault("limits", {"max_fetches": 64})
    name = deploy_fetcher(d, token, allow_hosts, **fields)
    r = d.invoke(name, token, input={"calls": calls})
    assert r.status_code == status, (r.status_code, r.text[:2000])
    body = r.json()
    return body.get("result"), body


def call(url, **opts):
    return {"url": url, "opts": opts} if opts else {"url": url}


def assert_refused(res, codes, what=""):
    if isinstance(codes, str):
        codes = (codes,)
    assert res["fetched"] is False, f"{what}: not refused: {res}"
    assert res["is_error"] is True and res["name"] == "Error", f"{what}: {res}"
    assert res["code"] in codes, f"{what}: code {res['code']!r}, want one of {codes}: {res}"


def assert_ok(res, status=200, what=""):
    assert res["fetched"] is True, f"{what}: refused: {res}"
    assert res["status"] == status, f"{what}: {res}"


def put_secret(d, token, name, value):
    r = d.api("PUT", f"/v1/secrets/{name}", token, json={"value": value})
    assert r.status_code == 201, r.text


def audit_entries(d, **params):
    r = d.api("GET", "/v1/audit", d.admin, params=dict(limit=1000, **params))
    assert r.status_code == 200, r.text
    return r.json()["entries"]


# ---- allowed fetches --------------------------------------------------------------------

def test_http_fetch_works_and_has_the_documented_shape(fd, tok, up):
    h = up.http
    before = h.hit_count()
    calls = [
        call(h.url("/fixed")),
        call(h.url("/echo?x=1"), headers={"X-Test": "hello", "Accept": "application/json"}),
        call(h.url("/echo"), method="POST", headers={"Content-Type": "application/json"},
             body='{"q":"price"}'),
        call(h.url("/echo?status=404")),
        call(h.url("/echo"), method="PUT", body="put-body"),
        call(h.url("/echo"), method="DELETE"),
        call("HTTP://127.0.0.1:%d/fixed" % h.port),
    ]
    res, body = run_calls(fd, tok, [h.hostport()], calls)
    for i, r in enumerate(res):
        assert r["fetched"], (i, r)
    fixed, get, post, missing, put, delete, upper = res
    assert fixed["status"] == 200 and fixed["ok"] is True
    assert fixed["text"] == egress.FIXED_BODY.decode()
    assert fixed["json"] == json.loads(egress.FIXED_BODY)
    assert fixed["url"] == h.url("/fixed")
    # header names come back lower-case
    assert get["headers"].get("content-type") == "application/json", get["headers"]
    assert get["headers"].get("x-upstream-test") == "Yes", get["headers"]
    assert all(k == k.lower() for k in get["headers"]), get["headers"]
    assert get["json"]["method"] == "GET" and get["json"]["query"] == "x=1"
    assert get["json"]["headers"]["x-test"] == "hello"
    assert post["json"]["method"] == "POST" and post["json"]["body"] == '{"q":"price"}'
    assert post["json"]["headers"]["content-type"] == "application/json"
    assert missing["status"] == 404 and missing["ok"] is False
    assert put["json"]["method"] == "PUT" and put["json"]["body"] == "put-body"
    assert delete["json"]["method"] == "DELETE"
    assert upper["status"] == 200
    assert h.hit_count() - before == len(calls)
    fd.assert_serving(tok)


def test_https_fetch_with_operator_ca(fd, tok, up):
    s = up.https
    before = s.hit_count()
    res, body = run_calls(fd, tok, [s.hostport("localhost"), s.hostport()], [
        call(s.url("/fixed", host="localhost")),
        call(s.url("/echo?status=201", host="127.0.0.1"), method="POST", body="tls body"),
    ])
    assert_ok(res[0])
    assert res[0]["text"] == egress.FIXED_BODY.decode()
    assert_ok(res[1], 201)
    assert res[1]["ok"] is True and res[1]["json"]["body"] == "tls body"
    assert s.hit_count() - before == 2


def test_wildcard_allows_one_label_only(fd, tok, up):
    s = up.https
    port = s.port
    res, _ = run_calls(fd, tok, [f"*.localhost:{port}"], [
        call(f"https://api.localhost:{port}/fixed"),
        call(f"https://a.b.localhost:{port}/fixed"),
        call(f"https://localhost:{port}/fixed"),
    ])
    assert_ok(res[0], what="api.localhost under *.localhost")
    assert_refused(res[1], "host_not_allowed", "two labels under the wildcard")
    assert_refused(res[2], "host_not_allowed", "the apex is not matched by *.")


def test_provenance_in_the_invoke_response(fd, tok, up, pki):
    h, s = up.http, up.https
    res, body = run_calls(fd, tok, [h.hostport(), s.hostport("localhost")], [
        call(h.url("/fixed")),
        call(s.url("/fixed", host="localhost")),
        call(h.url("/echo?status=404&p=1")),
    ])
    assert [r["status"] for r in res] == [200, 200, 404], res
    fetches = body.get("fetches")
    assert isinstance(fetches, list) and len(fetches) == 3, body
    plain, tls, missing = fetches
    assert plain["url"] == h.url("/fixed") and plain["status"] == 200
    assert plain["response_sha256"] == sha256(egress.FIXED_BODY)
    assert plain.get("tls_peer_sha256") in (None, ""), plain
    assert tls["url"] == s.url("/fixed", host="localhost") and tls["status"] == 200
    assert tls["response_sha256"] == sha256(egress.FIXED_BODY)
    assert tls["tls_peer_sha256"] == pki.cert_sha256  # SHA-256 of the leaf's DER
    sent = h.sent_body("/echo?status=404&p=1")
    assert sent is not None and missing["status"] == 404
    assert missing["response_sha256"] == sha256(sent)


# ---- allowlist and SSRF -----------------------------------------------------------------

def test_non_allowlisted_hosts_are_refused(fd, tok, up):
    h, b = up.http, up.http_b
    before = (h.hit_count(), b.hit_count())
    res, _ = run_calls(fd, tok, [h.hostport()], [
        call(b.url("/echo")),                       # same address, another port
        call(h.url("/echo", host="localhost")),     # same server, another name
        call("http://127.0.0.1/echo"),             # port 80 is not listed
        call("https://evil.invalid/x"),
        call("https://api.example.com/x"),
    ])
    for r in res:
        assert_refused(r, "host_not_allowed")
    # a function with no allow_hosts reaches nothing
    res, _ = run_calls(fd, tok, [], [call(h.url("/echo"))])
    assert_refused(res[0], "host_not_allowed")
    assert (h.hit_count(), b.hit_count()) == before
    fd.assert_serving(tok)


def test_allowlisted_loopback_refused_without_private_range(closed, up):
    token = closed.developer()[0]
    h, s = up.http, up.https
    before = (h.hit_count(), s.hit_count())
    res, _ = run_calls(closed, token, [h.hostport(), s.hostport("localhost"), s.hostport()], [
        call(h.url("/echo")),
        call(s.url("/fixed", host="localhost")),
        call(s.url("/fixed")),
    ])
    for r in res:
        assert_refused(r, "address_not_allowed")
    assert (h.hit_count(), s.hit_count()) == before
    closed.assert_serving(token)


LOOPBACK_V4_FORMS = ["2130706433", "0x7f000001", "0X7F000001", "017700000001", "127.1",
                     "127.0.1", "0177.0.0.1", "0x7f.0.0.1", "127.000.000.001", "0", "0.0.0.0",
                     "127.0.0.1", "127.0.0.1."]
LOOPBACK_V6_FORMS = ["[::1]", "[0:0:0:0:0:0:0:1]", "[::ffff:127.0.0.1]", "[::ffff:7f00:1]",
                     "[64:ff9b::7f00:1]", "[64:ff9b::127.0.0.1]", "[::127.0.0.1]",
                     "[0:0:0:0:0:ffff:127.0.0.1]", "[::]"]


def test_loopback_encodings_refused_even_when_allowlisted(closed, up):
    """Private ranges closed: every spelling of loopback is refused, even when the function
    lists that exact spelling (IPv6 literals cannot be listed at all)."""
    token = closed.developer()[0]
    h = up.http
    p = h.port
    allow = [f"{f.rstrip('.')}:{p}" for f in LOOPBACK_V4_FORMS]
    before = h.hit_count()
    urls = [f"http://{f}:{p}/echo" for f in LOOPBACK_V4_FORMS + LOOPBACK_V6_FORMS]
    res, _ = run_calls(closed, token, allow, [call(u, timeout_ms=2000) for u in urls])
    for u, r in zip(urls, res):
        # "127.0.0.1." matches the allowlist once its trailing dot is dropped, then is
        # looked up as a name: a resolver may fail it before any address is checked
        assert_refused(r, SPELLING + (("dns_failure",) if "1.:" in u else ()), u)
    assert h.hit_count() == before, [x["raw_path"] for x in h.hits()[before:]]


def test_loopback_encodings_refused_when_only_a_name_is_allowlisted(fd, tok, up):
    """Range 127/8 open, function lists `localhost:PORT`: no other spelling gets through."""
    h = up.http
    p = h.port
    before = h.hit_count()
    forms = [f for f in LOOPBACK_V4_FORMS if f != "127.0.0.1"] + LOOPBACK_V6_FORMS
    forms.remove("127.0.0.1.")
    urls = [f"http://{f}:{p}/echo" for f in forms]
    res, _ = run_calls(fd, tok, [f"localhost:{p}"], [call(u, timeout_ms=2000) for u in urls])
    for u, r in zip(urls, res):
        assert_refused(r, SPELLING, u)
    assert h.hit_count() == before, [x["raw_path"] for x in h.hits()[before:]]


def test_unspecified_address_not_opened_by_loopback_range(fd, tok, up):
    """0.0.0.0 reaches local services on Linux; opening 127.0.0.0/8 does not open it."""
    h = up.http
    p = h.port
    before = h.hit_count()
    res, _ = run_calls(fd, tok, [f"0:{p}", f"0.0.0.0:{p}", f"0x0:{p}"], [
        call(f"http://0:{p}/echo", timeout_ms=2000),
        call(f"http://0.0.0.0:{p}/echo", timeout_ms=2000),
        call(f"http://0x0:{p}/echo", timeout_ms=2000),
    ])
    for r in res:
        assert_refused(r, SPELLING)
    assert h.hit_count() == before


def test_userinfo_tricks_refused(fd, tok, up):
    h = up.http
    hp = h.hostport()
    before = h.hit_count()
    tricks = [
        f"http://{hp}@evil.invalid/echo",
        f"http://{hp}:x@evil.invalid/echo",
        f"http://evil.invalid#@{hp}/echo",
        f"http://evil.invalid?@{hp}/echo",
        f"http://{hp}%40evil.invalid/echo",
        f"http://evil.invalid\\@{hp}/echo",
        f"http://evil.invalid%23@{hp}/echo",
    ]
    with_userinfo_to_allowed = [
        f"http://user:pass@{hp}/echo",
        f"http://evil.invalid@{hp}/echo",
        f"http://user@{hp}/echo",
    ]
    res, _ = run_calls(fd, tok, [hp], [call(u) for u in tricks + with_userinfo_to_allowed])
    for u, r in zip(tricks, res):
        assert_refused(r, ("invalid_request", "host_not_allowed"), u)
    for u, r in zip(with_userinfo_to_allowed, res[len(tricks):]):
        assert_refused(r, "invalid_request", u)  # credentials in URLs are never sent
    assert h.hit_count() == before, [x["raw_path"] for x in h.hits()[before:]]


def test_other_schemes_refused(fd, tok, up):
    h, s = up.http, up.https
    p = h.port
    before = (h.hit_count(), s.hit_count())
    urls = [
        "file:///etc/passwd", "file://localhost/etc/passwd", "FILE:///etc/passwd",
        f"gopher://127.0.0.1:{p}/_GET%20/echo%20HTTP/1.0%0D%0A%0D%0A",
        f"ftp://127.0.0.1:{p}/", f"dict://127.0.0.1:{p}/info", f"ldap://127.0.0.1:{p}/",
        f"telnet://127.0.0.1:{p}/", f"tftp://127.0.0.1:{p}/x", f"smtp://127.0.0.1:{p}/",
        f"ws://127.0.0.1:{p}/", "data:text/plain,hello", "javascript:alert(1)",
        f"//127.0.0.1:{p}/echo", f"127.0.0.1:{p}/echo",
    ]
    allow = [h.hostport(), s.hostport("localhost"), "localhost", "etc"]
    res, _ = run_calls(fd, tok, allow, [call(u) for u in urls] + [
        call(s.url("/fixed", host="localhost").replace("https:", "http:")),  # https-only host
    ])
    for u, r in zip(urls, res):
        assert_refused(r, ("scheme_not_allowed", "invalid_request"), u)
    assert_refused(res[-1], "scheme_not_allowed", "plain http to a host not in --egress-allow-http")
    assert (h.hit_count(), s.hit_count()) == before


def test_redirects_are_returned_not_followed_and_followups_are_checked(fd, tok, up):
    h = up.http
    hp = h.hostport()
    private = ["10.1.2.3", "192.168.1.1", "172.16.0.1", "169.254.169.254", "100.64.0.1",
               "224.0.0.1", "198.18.0.1"]
    code = r"""function main(input) {
  var out = [];
  for (var i = 0; i < input.targets.length; i++) {
    var r = fetch(input.base + '/redirect?code=' + input.targets[i][0] + '&to=' +
                  encodeURIComponent(input.targets[i][1]));
    var entry = {status: r.status, location: r.headers.location || null};
    try {
      var f = fetch(entry.location, {timeout_ms: 2000});
      entry.follow = {status: f.status, text: f.text()};
    } catch (e) {
      entry.follow = {code: e.code, name: e.name};
    }
    out.push(entry);
  }
  return out;
}
"""
    name = unique("redir")
    fd.deploy_ok(name, code, tok, allow_hosts=[hp] + private, limits={"max_fetches": 64})
    targets = [[302, "http://evil.invalid/steal"],
               [301, f"http://{hp}/fixed"],
               [307, f"http://localhost:{h.port}/fixed"],
               [308, "https://evil.invalid/"]]
    targets += [[302, f"https://{a}/latest/meta-data/"] for a in private]
    before_fixed = len(h.hits("/fixed"))
    r = fd.invoke(name, tok, input={"base": f"http://{hp}", "targets": targets})
    assert r.status_code == 200, r.text
    out = r.json()["result"]
    for (status, loc), e in zip(targets, out):
        assert e["status"] == status and e["location"] == loc, e  # not followed
    assert out[0]["follow"]["code"] == "host_not_allowed"
    assert out[1]["follow"] == {"status": 200, "text": egress.FIXED_BODY.decode()}
    assert out[2]["follow"]["code"] == "host_not_allowed"
    assert out[3]["follow"]["code"] == "host_not_allowed"
    for (_, loc), e in zip(targets[4:], out[4:]):
        assert e["follow"]["code"] == "address_not_allowed", (loc, e)
    # only the explicit follow-up reached /fixed: the broker followed nothing itself
    assert len(h.hits("/fixed")) - before_fixed == 1
    fd.assert_serving(tok)


def test_crlf_and_bad_header_names_never_reach_the_server(fd, tok, up):
    h = up.http
    u = h.url("/echo")
    bad = [
        call(u, headers={"X-A": "ok\r\nX-Injected: 1"}),
        call(u, headers={"X-A": "ok\nX-Injected: 1"}),
        call(u, headers={"X-A": "ok\rX-Injected: 1"}),
        call(u, headers={"X-A\r\nX-Injected": "1"}),
        call(u, headers={"X-A: 1\r\nX-Injected": "1"}),
        call(u, headers={"X-A\n": "1"}),
        call(u, headers={"X-A": "ok\u0000X-Injected: 1"}),
        call(u, headers={"Bad Name": "1"}),
        call(u, headers={"": "1"}),
        call(u, method="GET /echo HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET"),
        call(u + "\r\nX-Injected: 1"),
        call(u + "?a=1\r\nX-Injected:%201"),
    ]
    before = h.hit_count()
    res, _ = run_calls(fd, tok, [h.hostport()], bad + [call(u, headers={"X-Good": "fine"})])
    for c, r in zip(bad, res):
        assert_refused(r, "invalid_request", repr(c))
    assert_ok(res[-1])
    hits = h.hits()[before:]
    assert len(hits) == 1, [x["raw_path"] for x in hits]
    assert not any(k == "x-injected" for k, _ in hits[0]["headers"])


# ---- secret destination binding ---------------------------------------------------------

SECRET_SENDER = r"""function main(input) {
  var k = secrets.get(input.secret);
  var out = [];
  for (var i = 0; i < input.sends.length; i++) {
    var s = input.sends[i], url = input.hosts[s.to] + '/echo', opts = {method: 'POST', headers: {}};
    if (s.where === 'query') url += '?token=' + k;
    else if (s.where === 'path') url = input.hosts[s.to] + '/echo/' + k;
    else if (s.where === 'header') opts.headers['X-Api-Key'] = k;
    else if (s.where === 'auth') opts.headers.Authorization = 'Bearer ' + k;
    else if (s.where === 'body') opts.body = '{"key":"' + k + '","x":1}';
    try {
      var r = fetch(url, opts);
      out.push({sent: true, status: r.status, seen: r.text().indexOf(k) >= 0});
    } catch (e) {
      out.push({sent: false, code: e.code, leaks: String(e.message).indexOf(k) >= 0});
    }
  }
  return out;
}
"""


def test_secret_bound_to_host_a_is_refused_for_host_b_and_audited(fd, tok, up):
    a, b = up.http, up.http_b
    value = "sk" + pysecrets.token_hex(20)
    bound, free = unique("bound").replace("-", "_"), unique("free").replace("-", "_")
    put_secret(fd, tok, bound, value)
    put_secret(fd, tok, free, value + "free")
    name = unique("bind")
    fd.deploy_ok(name, SECRET_SENDER, tok, allow_hosts=[a.hostport(), b.hostport()],
                 secrets=[{"name": bound, "hosts": [a.hostport()]}, free],
                 limits={"max_fetches": 20})
    hosts = {"a": f"http://{a.hostport()}", "b": f"http://{b.hostport()}"}
    wheres = ["query", "path", "header", "auth", "body"]
    sends = [{"to": "a", "where": w} for w in wheres] + [{"to": "b", "where": w} for w in wheres]
    sends.append({"to": "b", "where": "none"})
    b_before = b.hit_count()
    r = fd.invoke(name, tok, input={"secret": bound, "hosts": hosts, "sends": sends})
    assert r.status_code == 200, r.text
    out = r.json()["result"]
    for s, o in zip(sends[:5], out[:5]):
        assert o == {"sent": True, "status": 200, "seen": True}, (s, o)  # to A: delivered
    for s, o in zip(sends[5:10], out[5:10]):
        assert o["sent"] is False and o["code"] == "secret_egress_denied", (s, o)
        assert o["leaks"] is False, "the refusal message repeats the secret"
    assert out[10] == {"sent": True, "status": 200, "seen": False}, out[10]  # B, no secret
    b_hits = b.hits()[b_before:]
    assert len(b_hits) == 1 and value not in json.dumps(
        [[h["raw_path"], h["headers"], h["body"].decode()] for h in b_hits])
    denied = [e for e in audit_entries(fd, function=name) if e["action"] == "secret.egress"]
    assert len(denied) == 5 and all(e["outcome"] == "denied" for e in denied), denied
    assert all(e.get("secret") == bound for e in denied), denied
    assert all(e["invocation_id"] == r.json()["invocation_id"] for e in denied), denied
    assert value not in fd.api("GET", "/v1/audit", fd.admin, params={"limit": 1000}).text
    assert fd.api("GET", "/v1/audit/verify", fd.admin).json()["ok"] is True

    # a secret granted without hosts goes to any allowlisted host
    r = fd.invoke(name, tok, input={"secret": free, "hosts": hosts,
                                    "sends": [{"to": "b", "where": "header"}]})
    assert r.json()["result"] == [{"sent": True, "status": 200, "seen": True}], r.text
    fd.assert_serving(tok)


def test_secret_binding_sees_percent_encoded_values(fd, tok, up):
    """API secrets are often base64 ('+', '/', '='); a function that URL-encodes one, as it
    must in a query or form body, still carries it to the other host, which decodes it."""
    a, b = up.http, up.http_b
    value = "Zk9+x/Yb" + pysecrets.token_urlsafe(18) + "+/=="
    key = unique("b64key").replace("-", "_")
    put_secret(fd, tok, key, value)
    code = r"""function main(input) {
  var k = secrets.get(input.secret), e = encodeURIComponent(k), out = [];
  var reqs = [[input.b + '/echo?key=' + e, {}],
              [input.b + '/echo', {method: 'POST', body: 'key=' + e,
               headers: {'Content-Type': 'application/x-www-form-urlencoded'}}],
              [input.a + '/echo?key=' + e, {}]];
  for (var i = 0; i < reqs.length; i++) {
    try { var r = fetch(reqs[i][0], reqs[i][1]); out.push(r.status); }
    catch (err) { out.push(err.code); }
  }
  return out;
}
"""
    name = unique("b64")
    fd.deploy_ok(name, code, tok, allow_hosts=[a.hostport(), b.hostport()],
                 secrets=[{"name": key, "hosts": [a.hostport()]}])
    before = b.hit_count()
    r = fd.invoke(name, tok, input={"secret": key, "a": f"http://{a.hostport()}",
                                    "b": f"http://{b.hostport()}"})
    assert r.status_code == 200, r.text
    leaked = [h["raw_path"] + " " + h["body"].decode() for h in b.hits()[before:]]
    assert r.json()["result"] == ["secret_egress_denied", "secret_egress_denied", 200], \
        (r.json()["result"], "host B received:", len(leaked))


def test_secret_values_never_appear_in_the_invoke_response(fd, tok, up):
    """Sending a key in the URL to its own host is legitimate (?apikey=...), but the caller
    of the function (maybe only an invoker) must not read it in the `fetches` provenance."""
    a = up.http
    value = "sk" + pysecrets.token_hex(20)
    key = unique("urlkey").replace("-", "_")
    put_secret(fd, tok, key, value)
    name = unique("urlkey")
    fd.deploy_ok(name, SECRET_SENDER, tok, allow_hosts=[a.hostport()],
                 secrets=[{"name": key, "hosts": [a.hostport()]}])
    hosts = {"a": f"http://{a.hostport()}"}
    sends = [{"to": "a", "where": w} for w in ("query", "path", "header", "body")]
    r = fd.invoke(name, tok, input={"secret": key, "hosts": hosts, "sends": sends})
    assert r.status_code == 200, r.text.replace(value, "<SECRET>")
    assert [o["sent"] for o in r.json()["result"]] == [True] * 4
    assert len(r.json().get("fetches", [])) == 4
    assert value not in r.text, ("secret value in the invoke response: "
                                 + json.dumps(r.json().get("fetches")).replace(value, "<SECRET>"))


# ---- TLS pinning and trust --------------------------------------------------------------

def test_pinned_host_with_another_key_fails_tls(fd, tok, up, pki):
    s = up.https
    host = s.hostport("localhost")
    url = s.url("/fixed", host="localhost")
    before = s.hit_count()
    for wrong in (pki.wrong_pin, pki.ca_pin):
        res, _ = run_calls(fd, tok, [{"host": host, "pin": wrong}], [call(url)])
        assert_refused(res[0], "tls_failure", "wrong pin")
    assert s.hit_count() == before  # the request was never sent
    res, body = run_calls(fd, tok, [{"host": host, "pin": pki.pin}], [call(url)])
    assert_ok(res[0], what="right pin")
    assert res[0]["text"] == egress.FIXED_BODY.decode()
    fd.assert_serving(tok)


def test_https_needs_a_trusted_ca(strict, up):
    token = strict.developer()[0]
    s = up.https
    before = s.hit_count()
    res, _ = run_calls(strict, token, [s.hostport("localhost")],
                       [call(s.url("/fixed", host="localhost"))])
    assert_refused(res[0], "tls_failure", "a CA the daemon was not given")
    assert s.hit_count() == before


# ---- operator settings ------------------------------------------------------------------

def test_operator_allowlist_is_intersected(strict, up):
    token = strict.developer()[0]
    a, b = up.http, up.http_b
    before = b.hit_count()
    res, _ = run_calls(strict, token, [a.hostport(), b.hostport()],
                       [call(a.url("/fixed")), call(b.url("/fixed"))])
    assert_ok(res[0])
    assert_refused(res[1], "host_not_allowed", "listed by the function, not by the operator")
    assert b.hit_count() == before


def test_no_proxy_env_no_netrc_no_cookies(strict, up, proxy):
    token = strict.developer()[0]
    a = up.http
    pbefore = proxy.hit_count()
    res, _ = run_calls(strict, token, [a.hostport()], [
        call(a.url("/setcookie")), call(a.url("/echo")), call(a.url("/echo"))])
    for r in res:
        assert_ok(r)
    assert proxy.hit_count() == pbefore, "fetch went through the proxy from the environment"
    for r in res[1:]:
        hdrs = r["json"]["headers"]
        assert "cookie" not in hdrs, hdrs
        assert "authorization" not in hdrs, hdrs  # .netrc ignored


def test_operator_response_cap(strict, up):
    token = strict.developer()[0]
    a = up.http
    t0 = time.monotonic()
    res, _ = run_calls(strict, token, [a.hostport()], [
        call(a.url("/huge?bytes=4096")), call(a.url("/huge?bytes=4097")),
        call(a.url("/endless"))])
    assert_ok(res[0])
    assert res[0]["length"] == 4096
    assert_refused(res[1], "response_too_large")
    assert_refused(res[2], "response_too_large")
    assert time.monotonic() - t0 < 10
    strict.assert_serving(token)


# ---- limits -----------------------------------------------------------------------------

def test_more_fetches_than_allowed(fd, tok, up):
    h = up.http
    before = len(h.hits("/fixed"))
    res, _ = run_calls(fd, tok, [h.hostport()], [call(h.url("/fixed"))] * 3,
                       limits={"max_fetches": 2})
    assert_ok(res[0])
    assert_ok(res[1])
    assert_refused(res[2], "too_many_fetches")
    res, _ = run_calls(fd, tok, [h.hostport()], [call(h.url("/fixed"))] * 10, limits={})  # default 8
    assert [r["fetched"] for r in res] == [True] * 8 + [False] * 2
    assert_refused(res[8], "too_many_fetches")
    res, _ = run_calls(fd, tok, [h.hostport()], [call(h.url("/fixed"))],
                       limits={"max_fetches": 0})
    assert_refused(res[0], "too_many_fetches")
    assert len(h.hits("/fixed")) - before == 2 + 8
    fd.assert_serving(tok)


def test_response_over_the_default_cap(fd, tok, up):
    h = up.http
    t0 = time.monotonic()
    res, _ = run_calls(fd, tok, [h.hostport()], [
        call(h.url("/huge?bytes=%d" % (1024 * 1024))),
        call(h.url("/huge?bytes=%d" % (2 * 1024 * 1024 + 1))),
        call(h.url("/huge?bytes=%d" % (64 * 1024 * 1024))),
        call(h.url("/endless")),
    ], limits={"memory_mb": 64})
    assert_ok(res[0])
    assert res[0]["length"] == 1024 * 1024
    for r in res[1:]:
        assert_refused(r, "response_too_large")
    assert time.monotonic() - t0 < 15
    fd.assert_serving(tok)


def test_dripping_and_hanging_servers_time_out(fd, tok, up):
    h = up.http
    t0 = time.monotonic()
    res, _ = run_calls(fd, tok, [h.hostport()], [
        call(h.url("/drip?seconds=20"), timeout_ms=1500),
        call(h.url("/hang?seconds=20"), timeout_ms=800),
        call(h.url("/fixed")),
    ])
    elapsed = time.monotonic() - t0
    assert_refused(res[0], "timeout", "drip")
    assert_refused(res[1], "timeout", "hang")
    assert_ok(res[2], what="the function goes on after catching the timeouts")
    assert elapsed < 6, f"took {elapsed:.1f} s"
    fd.assert_serving(tok)


def test_low_speed_limit_stops_a_drip_before_a_generous_timeout(fd, tok, up):
    """1 byte/s with timeout_ms 15000 and a 20 s function: the low-speed limit ends it."""
    h = up.http
    t0 = time.monotonic()
    res, _ = run_calls(fd, tok, [h.hostport()], [call(h.url("/drip?seconds=20"), timeout_ms=15000)],
                       limits={"max_fetches": 1, "timeout_ms": 20000})
    elapsed = time.monotonic() - t0
    assert_refused(res[0], "timeout", "drip under the low-speed limit")
    assert elapsed < 12, f"the low-speed limit took {elapsed:.1f} s"
    fd.assert_serving(tok)


def test_oversized_response_headers_are_refused(fd, tok, up):
    h = up.http
    res, _ = run_calls(fd, tok, [h.hostport()], [call(h.url("/bigheaders?n=2000")),
                                                  call(h.url("/bigheaders?n=3"))])
    assert_refused(res[0], ("response_too_large", "upstream_failure"), "2 MB of headers")
    assert_ok(res[1])
    assert res[1]["headers"]["x-pad-2"] == "p" * 1000
    fd.assert_serving(tok)


def test_fetch_time_stays_within_the_invocation_deadline(fd, tok, up):
    h = up.http
    name = deploy_fetcher(fd, tok, [h.hostport()], limits={"timeout_ms": 1500})
    t0 = time.monotonic()
    r = fd.invoke(name, tok, input={"calls": [call(h.url("/drip?seconds=20")),
                                              call(h.url("/drip?seconds=20"))]})
    elapsed = time.monotonic() - t0
    assert elapsed < 4, f"a 1.5 s function took {elapsed:.1f} s"
    if r.status_code == 200:  # the broker cut the fetch at the deadline: a catchable timeout
        assert r.json()["result"][0]["code"] == "timeout", r.text
    else:
        assert r.status_code == 504 and error_code(r) == "timeout", r.text
    fd.assert_serving(tok)


def test_uncaught_fetch_error_is_a_function_error(fd, tok):
    name = unique("uncaught")
    fd.deploy_ok(name, "function main() {\n  return fetch('https://evil.invalid/');\n}\n", tok,
                 allow_hosts=["api.example.com"])
    r = fd.invoke(name, tok, input={})
    assert r.status_code == 500 and error_code(r) == "function_error", r.text
    err = r.json()["error"]
    assert err["name"] == "Error" and "evil.invalid" in err["message"], err
    assert err.get("line") in (None, 2), err  # errors made by host code carry no C line
    assert ".c:" not in r.text


def test_bad_arguments_are_catchable(fd, tok, up):
    h = up.http
    res, _ = run_calls(fd, tok, [h.hostport()], [
        call("not a url"), call(""), call(h.url("/echo"), method="BREW\u00e9"),
    ])
    for r in res:
        assert r["fetched"] is False and r["is_error"] is True, r
    assert res[0]["code"] in ("invalid_request", "scheme_not_allowed"), res[0]
    code = r"""function main() {
  var out = [];
  var bad = [[], [42], [null], [{}], ['http://x/', 'opts'], ['http://x/', {headers: 5}]];
  for (var i = 0; i < bad.length; i++) {
    try { fetch.apply(null, bad[i]); out.push('no throw'); }
    catch (e) { out.push(e instanceof Error); }
  }
  return out;
}
"""
    name = unique("badargs")
    fd.deploy_ok(name, code, tok, allow_hosts=["x"])
    r = fd.invoke(name, tok, input={})
    assert r.status_code == 200 and r.json()["result"] == [True] * 6, r.text


def test_metrics_count_fetches(fd, tok, up):
    run_calls(fd, tok, [up.http.hostport()], [call(up.http.url("/fixed"))])
    text = fd.api("GET", "/metrics").text
    assert re.search(r"^fnbox_fetch\w*", text, re.M), "no fnbox_fetch* metric"


# ---- samples ----------------------------------------------------------------------------

@pytest.fixture(scope="module")
def exchange():
    """samples/mock-exchange.py as shipped, on a free port, with test-only credentials."""
    key, secret = "key-" + pysecrets.token_hex(16), "sec-" + pysecrets.token_hex(16)
    p = subprocess.Popen([sys.executable, os.path.join(SAMPLES, "mock-exchange.py"),
                          "--port", "0", "--api-key", key, "--api-secret", secret],
                         stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        line = p.stdout.readline()
        m = re.fullmatch(r"mock-exchange listening on (http://127\.0\.0\.1:(\d+))\n", line)
        assert m, f"unexpected first line from mock-exchange.py: {line!r}"

        class Ex:
            pass
        e = Ex()
        e.url, e.port, e.key, e.secret = m.group(1), int(m.group(2)), key, secret
        e.hostport = f"127.0.0.1:{e.port}"
        yield e
    finally:
        p.terminate()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait(timeout=10)


def read_sample(name):
    with open(os.path.join(SAMPLES, name)) as f:
        return f.read()


def test_mock_exchange_itself(exchange):
    r = requests.get(exchange.url + "/v1/prices/eth",
                     headers={"Authorization": "Bearer " + exchange.key}, timeout=10)
    assert r.status_code == 200 and r.json()["price"] == 3120.5
    assert requests.get(exchange.url + "/v1/prices/eth", timeout=10).status_code == 401
    q = "timestamp=%d&recvWindow=5000" % int(time.time() * 1000)
    sig = egress.sign_query(exchange.secret, q)
    r = requests.get(f"{exchange.url}/api/v3/account?{q}&signature={sig}",
                     headers={"X-API-KEY": exchange.key}, timeout=10)
    assert r.status_code == 200 and r.json()["canTrade"] is True
    r = requests.get(f"{exchange.url}/api/v3/account?{q}&signature={'0' * 64}",
                     headers={"X-API-KEY": exchange.key}, timeout=10)
    assert r.status_code == 400 and r.json()["code"] == -1022


def test_price_oracle_sample(fd, exchange):
    token, _ = fd.developer()
    put_secret(fd, token, "exchange_api_key", exchange.key)
    name = unique("price-oracle")
    fd.deploy_ok(name, read_sample("price-oracle.js"), token,
                 allow_hosts=[exchange.hostport],
                 secrets=[{"name": "exchange_api_key", "hosts": [exchange.hostport]}])
    r = fd.invoke(name, token, input={"symbol": "eth", "base_url": exchange.url})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["symbol"] == "ETH" and res["price"] == 3120.5 and res["source"] == exchange.url
    assert isinstance(res["exchange_time"], int)
    assert exchange.key not in r.text
    f = r.json()["fetches"]
    assert len(f) == 1 and f[0]["status"] == 200 and f[0]["url"].startswith(exchange.url)
    # the exchange's refusals and fnbox's are reported, the key never
    r = fd.invoke(name, token, input={"symbol": "DOGE", "base_url": exchange.url})
    assert r.status_code == 500 and r.json()["error"]["name"] == "UpstreamError", r.text
    assert "404" in r.json()["error"]["message"]
    r = fd.invoke(name, token, input={"symbol": "ETH", "base_url": "http://127.0.0.1:1"})
    assert r.status_code == 500 and r.json()["error"]["name"] == "ConfigurationError", r.text
    assert exchange.key not in r.text
    wrong, _ = fd.developer()
    put_secret(fd, wrong, "exchange_api_key", "not-the-key")
    name2 = unique("price-oracle")
    fd.deploy_ok(name2, read_sample("price-oracle.js"), wrong,
                 allow_hosts=[exchange.hostport], secrets=["exchange_api_key"])
    r = fd.invoke(name2, wrong, input={"symbol": "ETH", "base_url": exchange.url})
    assert r.status_code == 500 and "exchange answered 401" in r.json()["error"]["message"]


def test_signed_request_sample(fd, exchange):
    token, _ = fd.developer()
    put_secret(fd, token, "exchange_api_key", exchange.key)
    put_secret(fd, token, "exchange_api_secret", exchange.secret)
    name = unique("signed")
    grants = [{"name": n, "hosts": [exchange.hostport]}
              for n in ("exchange_api_key", "exchange_api_secret")]
    fd.deploy_ok(name, read_sample("signed-request.js"), token,
                 allow_hosts=[exchange.hostport], secrets=grants)
    r = fd.invoke(name, token, input={"base_url": exchange.url})
    assert r.status_code == 200, r.text
    res = r.json()["result"]
    assert res["can_trade"] is True
    assert {"asset": "ETH", "free": "1.50000000"} in res["balances"]
    assert abs(res["signed_at"] - time.time() * 1000) < 60000
    assert exchange.secret not in r.text and exchange.key not in r.text
    # a wrong signing secret: the exchange rejects the signature
    other, _ = fd.developer()
    put_secret(fd, other, "exchange_api_key", exchange.key)
    put_secret(fd, other, "exchange_api_secret", "wrong-secret")
    name2 = unique("signed")
    fd.deploy_ok(name2, read_sample("signed-request.js"), other,
                 allow_hosts=[exchange.hostport], secrets=grants)
    r = fd.invoke(name2, other, input={"base_url": exchange.url})
    assert r.status_code == 500, r.text
    assert "-1022" in r.json()["error"]["message"], r.text


def test_samples_readme_shows_how_to_run_them():
    text = read_sample("README.md")
    for needle in ("mock-exchange.py", "price-oracle", "signed-request",
                   "--egress-allow-private", "--egress-allow-http"):
        assert needle in text, needle
