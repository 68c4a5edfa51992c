"""Attestation reports and signed receipts, end to end: GET /v1/attestation, invoke ?sign=1,
and the three verifiers — `fnbox verify`, the openssl command line as docs/attestation.md
documents it, and samples/verify/verify.mjs under node — on genuine and altered responses.

One daemon (module scope) with egress to local HTTP and HTTPS servers (egress.py), so that a
signed receipt carries fetches (with and without a TLS peer hash) and a secret read.

Run: cd tests/integration && FNBOX_BUILD=/abs/build /usr/bin/python3 -m pytest -q test_attestation.py
"""

import hashlib
import json
import time
import os
import re
import secrets as pysecrets
import shutil
import subprocess

import pytest
import requests

import egress
from conftest import REPO, binary, start_daemon, unique

VERIFY_MJS = os.path.join(REPO, "samples", "verify", "verify.mjs")
DOC = os.path.join(REPO, "docs", "attestation.md")
P256_N = 0xFFFFFFFF00000000FFFFFFFFFFFFFFFFBCE6FAADA7179E84F3B9CAC2FC632551

# Reads a secret and fetches two local URLs (http, https); the secret's value never leaves.
ORACLE = r"""function main(input) {
  var key = secrets.get(input.secret);
  var a = fetch(input.plain);
  var b = fetch(input.tls);
  return {value: a.json().value, same: a.text() === b.text(), keylen: key.length,
          ratio: 1.50, note: "caf\u00e9", list: [1, 2.5, -0, 1e3], nested: {"k": null}};
}
"""
PURE = "function main(input) { return {echo: input, n: 0.1 + 0.2}; }\n"


def sha256(b):
    if isinstance(b, str):
        b = b.encode()
    return hashlib.sha256(b).hexdigest()


def nonce():
    return pysecrets.token_hex(32)


def fnbox(d, token, *args, timeout=30):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNBOX_")}
    env["FNBOX_URL"] = d.base
    if token is not None:
        env["FNBOX_TOKEN"] = token
    p = subprocess.run([binary("fnbox"), *args], env=env, capture_output=True, text=True,
                       timeout=timeout)
    for t in d.tokens:
        assert t not in p.stdout and t not in p.stderr
    return p


# ---- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    return egress.make_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture(scope="module")
def ups(pki):
    plain, tls = egress.Upstream(), egress.Upstream(pki)
    yield plain, tls
    plain.stop()
    tls.stop()


@pytest.fixture(scope="module")
def daemon_flags(pki, ups):
    plain, _tls = ups
    return ["--egress-allow-private", "127.0.0.0/8",
            "--egress-allow-http", plain.hostport(), "--egress-ca-file", pki.ca_cert]


@pytest.fixture(scope="module")
def ad(tmp_path_factory, daemon_flags):
    d = start_daemon(tmp_path_factory.mktemp("fnboxd-attest"), daemon_flags)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def dev(ad):
    return ad.developer()[0]


@pytest.fixture(scope="module")
def oracle(ad, dev, ups, tmp_path_factory):
    """A deployed function that reads a secret and makes an http and an https fetch:
    (name, code file, secret name, input dict)."""
    plain, tls = ups
    name, secret = unique("attest-oracle"), unique("apikey").replace("-", "_")
    r = ad.api("PUT", f"/v1/secrets/{secret}", dev, json={"value": "s3cr3t-value-xyz"})
    assert r.status_code in (200, 201), r.text
    code = tmp_path_factory.mktemp("code") / "oracle.js"
    code.write_text(ORACLE)
    ad.deploy_ok(name, ORACLE, dev, secrets=[secret],
                 allow_hosts=[plain.hostport(), tls.hostport("localhost")])
    inp = {"secret": secret, "plain": plain.url("/fixed"), "tls": tls.url("/fixed", "localhost")}
    return name, str(code), secret, inp


@pytest.fixture(scope="module")
def saved(ad, dev, oracle, tmp_path_factory):
    """A verified attestation report and a signed invoke response, saved by the CLI exactly as
    the server sent them: dict with paths and parsed contents."""
    d = tmp_path_factory.mktemp("saved")
    name, code, secret, inp = oracle
    n = nonce()
    att = str(d / "att.json")
    p = fnbox(ad, None, "attest", "--nonce", n, "--out", att)
    assert p.returncode == 0, (p.stdout, p.stderr)
    inp_file = d / "input.json"
    inp_file.write_text(json.dumps(inp, indent=1) + "\n")  # spacing the server must hash as is
    inv = str(d / "invoke.json")
    p = fnbox(ad, dev, "invoke", name, f"@{inp_file}", "--sign", "--out", inv)
    assert p.returncode == 0, (p.stdout, p.stderr)
    with open(inv, "rb") as f:
        assert p.stdout.encode().rstrip(b"\n") == f.read().rstrip(b"\n"), \
            "invoke --sign prints the response as it came"
    with open(att) as f:
        att_json = json.load(f)
    with open(inv) as f:
        inv_json = json.load(f)
    return {"dir": d, "att": att, "nonce": n, "inv": inv, "input": str(inp_file),
            "att_json": att_json, "inv_json": inv_json}


def verify_report(ad, path, n, *extra):
    return fnbox(ad, None, "verify", "--attestation", path, "--nonce", n, *extra)


def verify_receipt(ad, inv, att, *extra):
    return fnbox(ad, None, "verify", "--receipt", inv, "--attestation", att, *extra)


# ---- the attestation endpoint -------------------------------------------------------------

def test_report_round_trip_verifies(ad, tmp_path):
    n = nonce()
    out = str(tmp_path / "att.json")
    p = fnbox(ad, None, "attest", "--nonce", n, "--out", out)
    assert p.returncode == 0, p.stderr
    rep = json.load(open(out))
    assert rep["nonce"] == n and rep["provider"] == "software"
    assert rep["platform"] == "none" and rep["hardware_backed"] is False
    assert rep["key_scheme"] == "p256" and re.fullmatch(r"[0-9a-f]{64}", rep["measurement"])
    want = hashlib.sha512(bytes.fromhex(n) + bytes.fromhex(rep["public_key"])
                          + bytes.fromhex(rep["measurement"])).hexdigest()
    assert rep["report_data"] == want
    p = verify_report(ad, out, n)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "NOT hardware-backed" in p.stdout and "verified" in p.stdout
    p = verify_report(ad, out, n.upper(), "--expect-measurement", rep["measurement"].upper())
    assert p.returncode == 0, (p.stdout, p.stderr)
    # the default nonce is a fresh random one, echoed by the report
    p = fnbox(ad, None, "attest")
    assert p.returncode == 0 and re.fullmatch(r"[0-9a-f]{64}", json.loads(p.stdout)["nonce"])


def test_replayed_or_other_nonce_fails(ad, saved):
    p = verify_report(ad, saved["att"], nonce())  # someone else's / an old report
    assert p.returncode == 1 and "FAILED" in p.stdout, p.stdout
    later = nonce()
    r = requests.get(ad.url("/v1/attestation"), params={"nonce": later}, timeout=30)
    assert r.status_code == 200 and r.json()["nonce"] == later
    p = verify_report(ad, saved["att"], later)  # the old report replayed for a new request
    assert p.returncode == 1, p.stdout


def test_changed_measurement_fails(ad, saved):
    m = saved["att_json"]["measurement"]
    assert verify_report(ad, saved["att"], saved["nonce"], "--expect-measurement", m).returncode == 0
    other = ("0" if m[0] != "0" else "1") + m[1:]
    p = verify_report(ad, saved["att"], saved["nonce"], "--expect-measurement", other)
    assert p.returncode == 1 and "FAILED measurement" in p.stdout, p.stdout


def _alter_str(v):
    """One character changed, keeping hex hex."""
    i = len(v) // 2
    c = v[i]
    repl = ("1" if c != "1" else "2") if c in "0123456789abcdef" else ("x" if c != "x" else "y")
    return v[:i] + repl + v[i + 1:]


def _other_confinement(v):
    """Another valid confinement string: one mechanism fewer (or, from none, one more)."""
    return "seccomp" if v == "none" else (",".join(v.split(",")[1:]) or "none")


REPORT_ALTERATIONS = {
    "provider": lambda v: "hardware", "platform": lambda v: "tdx", "tee_id": _alter_str,
    "confinement": _other_confinement,
    "measurement": _alter_str, "public_key": _alter_str, "nonce": _alter_str,
    "report_data": _alter_str, "time": lambda v: v + 1, "signature": _alter_str,
    "key_scheme": lambda v: "secp256k1", "hardware_backed": lambda v: True,
}


def test_flipped_byte_in_any_report_field_fails(ad, saved, tmp_path):
    rep = saved["att_json"]
    assert set(REPORT_ALTERATIONS) <= set(rep), rep.keys()
    for field, alter in REPORT_ALTERATIONS.items():
        bad = dict(rep)
        bad[field] = alter(rep[field])
        assert bad[field] != rep[field]
        path = str(tmp_path / f"att-{field}.json")
        with open(path, "w") as f:
            json.dump(bad, f)
        p = verify_report(ad, path, saved["nonce"])
        assert p.returncode == 1, (field, p.stdout)
        assert not openssl_report_ok(tmp_path, open(path).read(), saved["nonce"]), field
        if field == "nonce":  # nor does it pass for the nonce it now claims
            assert verify_report(ad, path, bad["nonce"]).returncode == 1
    # a byte of the raw file itself: the signature's last hex digit
    raw = open(saved["att"]).read()
    sig = rep["signature"]
    path = str(tmp_path / "att-raw.json")
    with open(path, "w") as f:
        f.write(raw.replace(sig, sig[:-1] + ("0" if sig[-1] != "0" else "1")))
    assert verify_report(ad, path, saved["nonce"]).returncode == 1


def test_measurement_is_fnboxd_measure(ad, daemon_flags):
    rep = requests.get(ad.url("/v1/attestation"), params={"nonce": nonce()}, timeout=30).json()
    p = subprocess.run([ad.exe, "--listen", f"127.0.0.1:{ad.port}", "--data", ad.data,
                        *daemon_flags, "--measure"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0, p.stderr
    last = p.stdout.strip().splitlines()[-1]
    assert last == "measurement=" + rep["measurement"], (last, rep["measurement"])
    # another egress configuration is another measurement
    p2 = subprocess.run([ad.exe, "--data", ad.data, *daemon_flags, "--egress-allow-http",
                         "example.invalid", "--measure"], capture_output=True, text=True,
                        timeout=30)
    assert p2.returncode == 0 and p2.stdout.strip().splitlines()[-1] != last


# /readyz's confinement members and the report's tokens (docs/attestation.md, Confinement)
READYZ_TOKENS = {
    "bounding_set_dropped": "bounding-set-dropped", "mount_namespace_empty_root": "fs-hidden",
    "ipc_namespace": "ipc-ns", "net_namespace": "net-ns", "no_new_privs": "no-new-privs",
    "pid_namespace": "pid-ns", "seccomp": "seccomp", "uid_switch": "uid-switch",
    "user_namespace": "user-ns", "uts_namespace": "uts-ns", "zygote_seccomp": "zygote-seccomp",
}


def test_report_confinement_is_readyz(ad, saved):
    conf = requests.get(ad.url("/readyz"), timeout=30).json()["confinement"]
    want = ",".join(sorted(t for k, t in READYZ_TOKENS.items() if conf[k] is True)) or "none"
    rep = saved["att_json"]
    assert rep["confinement"] == want, (rep["confinement"], conf)
    assert want != "none" and "seccomp" in want.split(",")  # the suite runs confined
    p = verify_report(ad, saved["att"], saved["nonce"])
    assert p.returncode == 0 and f"note   confinement: {want} (signed" in p.stdout, p.stdout
    # --expect-confinement: each token given, in any order, must be in the signed list
    have = want.split(",")
    p = verify_report(ad, saved["att"], saved["nonce"], "--expect-confinement",
                      ",".join(reversed(have)))
    assert p.returncode == 0 and "ok     confinement: " in p.stdout, p.stdout
    absent = [t for t in READYZ_TOKENS.values() if t not in have]
    if absent:
        p = verify_report(ad, saved["att"], saved["nonce"], "--expect-confinement",
                          f"seccomp,{absent[0]}")
        assert p.returncode == 1 and f"FAILED confinement: {want}, lacks {absent[0]}" in p.stdout, \
            p.stdout
    for bad in ("caps-dropped", "seccomp,", "none", ""):
        p = verify_report(ad, saved["att"], saved["nonce"], "--expect-confinement", bad)
        assert p.returncode == 2 and "--expect-confinement" in p.stderr, (bad, p.stderr)


def test_altered_or_removed_confinement_fails(ad, saved, tmp_path):
    rep = saved["att_json"]
    have = rep["confinement"].split(",")
    cases = {
        "removed": None,
        "not a string": 7,
        "unknown token": ",".join(have + ["zz-sandbox"]),
        "reordered": ",".join(reversed(have)) if len(have) > 1 else have[0] + "," + have[0],
        "repeated": ",".join(have + have[-1:]),
        "empty": "",
        "newline": rep["confinement"] + "\n",
        "one fewer": _other_confinement(rep["confinement"]),
        "one more": ",".join(sorted(set(have) | {"uts-ns", "pid-ns", "user-ns"})),
    }
    for what, value in cases.items():
        bad = dict(rep)
        if value is None:
            del bad["confinement"]
        else:
            bad["confinement"] = value
        if bad.get("confinement") == rep["confinement"]:
            continue  # (every token already there)
        path = str(tmp_path / f"att-conf-{what.replace(' ', '-')}.json")
        with open(path, "w") as f:
            json.dump(bad, f)
        p = verify_report(ad, path, saved["nonce"])
        assert p.returncode == 1 and "FAILED report" in p.stdout, (what, p.stdout)
        if what == "unknown token":
            assert 'unknown token "zz-sandbox"' in p.stdout, p.stdout
        # the documented openssl commands refuse it too (the member is in the signed bytes)
        assert not openssl_report_ok(tmp_path, open(path).read(), saved["nonce"]), what


@pytest.mark.parametrize("params", [
    None, {"nonce": ""}, {"nonce": "zz" * 32}, {"nonce": "abc"}, {"nonce": "00" * 15},
    {"nonce": "00" * 65}, {"nonce": "0x" + "00" * 31},
])
def test_attestation_needs_a_good_nonce(ad, params):
    r = requests.get(ad.url("/v1/attestation"), params=params, timeout=30)
    assert r.status_code == 400, (params, r.status_code, r.text[:200])
    assert r.json()["error"]["code"] == "invalid_request"


def test_attestation_nonce_bounds_and_no_token(ad):
    for size in (16, 64):  # inclusive; no Authorization header at all
        r = requests.get(ad.url("/v1/attestation"), params={"nonce": "aB" * size}, timeout=30)
        assert r.status_code == 200 and r.json()["nonce"] == "ab" * size, r.text[:200]


def test_verify_usage_errors(ad, saved):
    att, n = saved["att"], saved["nonce"]
    for args in (["--nonce", n],                                   # no --attestation
                 ["--attestation", att],                           # no --nonce, no --receipt
                 ["--attestation", att, "--nonce", "abc"],         # not whole bytes of hex
                 ["--attestation", att, "--nonce", "00" * 8],      # too short
                 ["--attestation", att, "--nonce", n, "--expect-measurement", "00"],
                 ["--attestation", att, "--nonce", n, "--input", att]):
        p = fnbox(ad, None, "verify", *args)
        assert p.returncode == 2, (args, p.stdout, p.stderr)
    p = fnbox(ad, None, "verify", "--attestation", str(saved["dir"] / "missing.json"),
              "--nonce", n)
    assert p.returncode == 2 and "missing.json" in p.stderr
    p = fnbox(ad, None, "verify", "--attestation", saved["input"], "--nonce", n)  # not a report
    assert p.returncode == 1 and "FAILED" in p.stdout, p.stdout
    p = fnbox(ad, None, "help", "verify")
    assert p.returncode == 0 and "--receipt FILE --attestation FILE" in p.stdout


# ---- receipts -----------------------------------------------------------------------------

def test_signed_receipt_content(ad, dev, oracle, saved, ups, pki):
    name, code, secret, inp = oracle
    plain, tls = ups
    body, rc = saved["inv_json"], saved["inv_json"]["receipt"]
    raw = open(saved["inv"], encoding="utf-8").read()
    assert body["result"]["value"] == 42 and body["result"]["same"] is True
    assert rc["function"] == name and rc["invocation_id"] == body["invocation_id"]
    assert rc["code_sha256"] == sha256(ORACLE)
    assert rc["input_sha256"] == sha256(open(saved["input"], "rb").read())
    assert rc["output_sha256"] == sha256(raw_result(raw))
    assert rc["measurement"] == saved["att_json"]["measurement"]
    assert rc["public_key"] == saved["att_json"]["public_key"] and rc["key_scheme"] == "p256"
    assert rc["secrets"] == [secret]
    f0, f1 = rc["fetches"]
    assert f0["url"] == inp["plain"] and f0["status"] == 200
    assert f0["response_sha256"] == sha256(egress.FIXED_BODY)
    assert f0.get("tls_peer_sha256") in (None, "")
    assert f1["url"] == inp["tls"] and f1["tls_peer_sha256"] == pki.cert_sha256
    assert "s3cr3t-value-xyz" not in raw
    assert int(rc["signature"][64:], 16) <= P256_N // 2  # low-s
    # not signed unless asked
    r = ad.invoke(name, dev, input=inp)
    assert r.status_code == 200 and "receipt" not in r.json()


def test_fnbox_verify_receipt(ad, saved):
    p = verify_receipt(ad, saved["inv"], saved["att"], "--nonce", saved["nonce"],
                       "--expect-measurement", saved["att_json"]["measurement"],
                       "--input", saved["input"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    for line in ("ok     output_sha256", "ok     input_sha256", "ok     receipt key",
                 "ok     receipt:"):
        assert line in p.stdout, p.stdout
    # a receipt against another instance's report: the key does not match
    # (an input that is not the body sent is caught too)
    other = str(saved["dir"] / "other-input.json")
    with open(other, "w") as f:
        f.write(json.dumps(json.load(open(saved["input"]))))
    p = verify_receipt(ad, saved["inv"], saved["att"], "--input", other)
    assert p.returncode == 1 and "FAILED input_sha256" in p.stdout, p.stdout


def test_receipt_states_isolation(ad, dev, saved, tmp_path):
    """v2 receipts sign how the invocation was isolated; --expect-isolation checks it."""
    name = unique("iso-receipt")
    ad.deploy_ok(name, "function main(i) { return i * 2; }\n", dev, isolation="snapshot")
    seen = {}
    for i in range(40):  # the first runs in a fresh process; then snapshot workers serve it
        out = str(tmp_path / f"inv-{i}.json")
        p = fnbox(ad, dev, "invoke", name, str(i), "--sign", "--out", out)
        assert p.returncode == 0, (p.stdout, p.stderr)
        rc = json.load(open(out))["receipt"]
        seen.setdefault(rc["isolation"], out)
        if "snapshot" in seen:
            break
        time.sleep(0.05)
    assert set(seen) == {"process", "snapshot"}, seen
    assert json.load(open(seen["process"]))["receipt"]["isolation"] == "process"
    for iso, path in seen.items():
        p = verify_receipt(ad, path, saved["att"], "--expect-isolation", iso)
        assert p.returncode == 0 and f"ok     receipt isolation: {iso}" in p.stdout, p.stdout
        other = "process" if iso == "snapshot" else "snapshot"
        p = verify_receipt(ad, path, saved["att"], "--expect-isolation", other)
        assert p.returncode == 1 and "FAILED receipt isolation" in p.stdout, p.stdout
        # claiming the other isolation breaks the signature
        doc = json.load(open(path))
        doc["receipt"]["isolation"] = other
        forged = str(tmp_path / f"forged-{iso}.json")
        with open(forged, "w") as f:
            json.dump(doc, f)
        p = verify_receipt(ad, forged, saved["att"])
        assert p.returncode == 1 and "FAILED receipt:" in p.stdout, p.stdout
    # stripped to look like a v1 receipt: the signature fails too
    doc = json.load(open(seen["snapshot"]))
    del doc["receipt"]["isolation"]
    stripped = str(tmp_path / "stripped.json")
    with open(stripped, "w") as f:
        json.dump(doc, f)
    p = verify_receipt(ad, stripped, saved["att"])
    assert p.returncode == 1 and "FAILED receipt:" in p.stdout, p.stdout
    p = verify_receipt(ad, seen["snapshot"], saved["att"], "--expect-isolation", "thread")
    assert p.returncode == 2, p.stdout


def test_receipt_against_another_instances_report(ad, saved, tmp_path):
    other = start_daemon(tmp_path / "other")
    try:
        n = nonce()
        att2 = str(tmp_path / "att2.json")
        assert fnbox(other, None, "attest", "--nonce", n, "--out", att2).returncode == 0
        assert verify_report(other, att2, n).returncode == 0
        p = verify_receipt(ad, saved["inv"], att2)
        assert p.returncode == 1 and "FAILED receipt key" in p.stdout, p.stdout
    finally:
        other.stop()


def _span(text, path, i=0):
    """(start, end) of the value at path (keys / indexes) in the raw JSON text."""
    dec = json.JSONDecoder()

    def ws(j):
        while text[j] in " \t\r\n":
            j += 1
        return j

    i = ws(i)
    if not path:
        _, end = dec.raw_decode(text, i)
        return i, end
    want, close = path[0], "}" if text[i] == "{" else "]"
    i, idx = ws(i + 1), 0
    while text[i] != close:
        key = idx
        if close == "}":
            key, i = dec.raw_decode(text, i)
            i = ws(i)
            assert text[i] == ":"
            i += 1
        if key == want:
            return _span(text, path[1:], i)
        _, i = dec.raw_decode(text, ws(i))
        i = ws(i)
        if text[i] == ",":
            i = ws(i + 1)
        idx += 1
    raise KeyError(path)


def _alter_member(text, path, alter):
    """text with the receipt member at path replaced by alter(value), edited in place in the
    raw text: every other byte, the "result" text included, stays as it was."""
    s, e = _span(text, ("receipt",) + tuple(path))
    old = json.loads(text[s:e])
    new = alter(old)
    assert new != old
    return text[:s] + json.dumps(new, separators=(",", ":"), ensure_ascii=False) + text[e:]


def raw_result(text):
    """The exact text of the top-level "result" value in a response body."""
    s, e = _span(text, ("result",))
    return text[s:e]


def _high_s(sig):
    s = int(sig[64:], 16)
    return sig[:64] + format(P256_N - s, "064x")


RECEIPT_ALTERATIONS = [
    (("invocation_id",), _alter_str), (("function",), _alter_str),
    (("version",), lambda v: v + 1), (("code_sha256",), _alter_str),
    (("input_sha256",), _alter_str), (("output_sha256",), _alter_str),
    (("measurement",), _alter_str), (("time",), lambda v: v + 1),
    (("fetches", 0, "url"), _alter_str), (("fetches", 0, "status"), lambda v: v + 1),
    (("fetches", 0, "response_sha256"), _alter_str),
    (("fetches", 1, "tls_peer_sha256"), _alter_str), (("secrets", 0), _alter_str),
    (("key_scheme",), lambda v: "secp256k1"), (("public_key",), _alter_str),
    (("signature",), _alter_str), (("signature",), _high_s),
    (("signature_der",), _alter_str),
]


def test_any_altered_receipt_byte_fails(ad, saved, tmp_path):
    text = open(saved["inv"], encoding="utf-8").read()
    att_text = open(saved["att"], encoding="utf-8").read()
    assert verify_receipt(ad, saved["inv"], saved["att"]).returncode == 0
    for k, (path, alter) in enumerate(RECEIPT_ALTERATIONS):
        bad = _alter_member(text, path, alter)
        f = str(tmp_path / f"inv-{k}.json")
        with open(f, "w", encoding="utf-8") as fh:
            fh.write(bad)
        p = verify_receipt(ad, f, saved["att"])
        assert p.returncode == 1 and "FAILED" in p.stdout, (path, p.stdout)
        # the documented openssl commands catch it too, save what they do not look at
        # (key_scheme, and the r||s form: they check signature_der)
        if path not in (("key_scheme",), ("signature",)):
            assert not openssl_receipt_ok(tmp_path, bad, att_text), path
    # one byte of the result text
    raw = raw_result(text)
    i = raw.index("42")
    f = str(tmp_path / "inv-result.json")
    with open(f, "w", encoding="utf-8") as fh:
        fh.write(text.replace(raw, raw[:i] + "43" + raw[i + 2:], 1))
    p = verify_receipt(ad, f, saved["att"])
    assert p.returncode == 1 and "FAILED output_sha256" in p.stdout, p.stdout
    # the result re-encoded (same value, other spacing) is not what was signed
    f = str(tmp_path / "inv-reencoded.json")
    with open(f, "w", encoding="utf-8") as fh:
        json.dump(json.loads(text), fh, indent=2)
    assert verify_receipt(ad, f, saved["att"]).returncode == 1


# ---- the openssl command line (docs/attestation.md) ------------------------------------------
# The commands are read from the documentation itself (its ```console blocks, lines starting
# with "$ ") and run as they stand, so the page and the format cannot drift apart.

def doc_commands(marker):
    with open(DOC, encoding="utf-8") as f:
        blocks = re.findall(r"```console\n(.*?)```", f.read(), re.S)
    block = [b for b in blocks if marker in b]
    assert len(block) == 1, f"docs/attestation.md: no single console block with {marker!r}"
    return [line[2:] for line in block[0].splitlines() if line.startswith("$ ")]


def run_doc(tmp_path, markers, files):
    """Runs the documented commands of the blocks holding each marker, in order, in a fresh
    directory holding files ({name: text}); returns (exit status, stdout lines, directory)."""
    if shutil.which("jq") is None or shutil.which("xxd") is None:
        pytest.skip("jq and xxd are needed for the documented openssl commands")
    d = tmp_path / f"ossl-{pysecrets.token_hex(4)}"
    d.mkdir()
    for name, text in files.items():
        (d / name).write_text(text, encoding="utf-8")
    cmds = [c for m in markers for c in doc_commands(m)]
    p = subprocess.run(["sh", "-c", "set -eu\n" + "\n".join(cmds) + "\n"], cwd=str(d),
                       capture_output=True, text=True, timeout=30)
    return p.returncode, p.stdout.splitlines(), d


def canonical_receipt(rc):
    v2 = "isolation" in rc
    lines = [rc["invocation_id"], rc["function"], str(rc["version"]), rc["code_sha256"],
             rc["input_sha256"], rc["output_sha256"], rc["measurement"], str(rc["time"])]
    lines += [rc["isolation"]] if v2 else []
    lines += [str(len(rc["fetches"]))]
    for f in rc["fetches"]:
        lines += [f["url"], str(f["status"]), f["response_sha256"], f.get("tls_peer_sha256") or ""]
    lines += [str(len(rc["secrets"]))] + rc["secrets"]
    head = "fnbox-receipt-v2\n" if v2 else "fnbox-receipt-v1\n"
    return (head + "".join(x + "\n" for x in lines)).encode()


RECEIPT_BLOCK = "jq .receipt invoke.json"
TAMPER_BLOCK = "printf 'inv-0002'"
REPORT_BLOCK = "report.bin"


def openssl_receipt_ok(tmp_path, invoke_text, attestation_text):
    """The documented receipt check: the signature verifies and the key and measurement are
    the attested ones."""
    rc, out, _ = run_doc(tmp_path, [RECEIPT_BLOCK],
                         {"invoke.json": invoke_text, "attestation.json": attestation_text})
    return rc == 0 and {"Verified OK", "same key", "same measurement"} <= set(out)


def openssl_report_ok(tmp_path, report_text, n):
    """The documented report check: the nonce is ours, report_data is the SHA-512 binding,
    the provider line reads as a software report's, and the signature verifies."""
    rc, out, _ = run_doc(tmp_path, [REPORT_BLOCK], {"attestation.json": report_text})
    if rc != 0 or "Verified OK" not in out:
        return False
    i = [k for k, line in enumerate(out) if line.endswith("  -")]  # sha512sum's line
    return (out[0] == n and "software\tnone\tfalse\tsoftware\tp256" in out and len(i) == 1
            and i[0] + 1 < len(out) and out[i[0] + 1] == out[i[0]].split()[0])


def test_openssl_command_line_verifies(ad, saved, tmp_path):
    inv = open(saved["inv"], encoding="utf-8").read()
    att = open(saved["att"], encoding="utf-8").read()
    assert openssl_report_ok(tmp_path, att, saved["nonce"])
    rc, out, d = run_doc(tmp_path, [RECEIPT_BLOCK], {"invoke.json": inv, "attestation.json": att})
    assert rc == 0 and {"Verified OK", "same key", "same measurement"} <= set(out), out
    # jq rebuilt exactly the canonical bytes, and sha256sum shows their hash
    rebuilt = (d / "receipt.bin").read_bytes()
    assert rebuilt == canonical_receipt(saved["inv_json"]["receipt"])
    assert f"{sha256(rebuilt)}  receipt.bin" in out
    # the documented tampering demonstration is caught
    rc, out, _ = run_doc(tmp_path, [RECEIPT_BLOCK, TAMPER_BLOCK],
                         {"invoke.json": inv, "attestation.json": att})
    assert rc != 0 and "Verification failure" in out, out  # (set -e stops at the failure)


# ---- the node sample -----------------------------------------------------------------------

def node():
    n = shutil.which("node")
    if n is None:
        pytest.skip("node is not installed")
    return n


def run_mjs(base, token, *args):
    return subprocess.run([node(), VERIFY_MJS, base, token, *args], capture_output=True,
                          text=True, timeout=30)


def test_node_sample_verifies(ad, dev, oracle, saved):
    name, code, secret, inp = oracle
    p = run_mjs(ad.base, dev, name, json.dumps(inp, indent=2), "--expect-measurement",
                saved["att_json"]["measurement"], "--code", code)
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "FAILED" not in p.stdout and "verified" in p.stdout
    for check in ("report signature", "report_data", "receipt signature", "output_sha256",
                  "input_sha256", "code_sha256", "receipt key", "report confinement"):
        assert f"ok     {check}" in p.stdout, (check, p.stdout)
    p = run_mjs(ad.base, dev, name, json.dumps(inp), "--expect-measurement", "ab" * 32)
    assert p.returncode == 1 and "FAILED measurement" in p.stdout, p.stdout


class _Tamper:
    """A proxy in front of fnboxd that alters one thing in the responses it relays."""

    def __init__(self, target, alter):
        import threading
        from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

        outer = self
        self.target, self.alter = target, alter

        class H(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *a):
                pass

            def _relay(self):
                n = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(n) if n else None
                hdrs = {k: v for k, v in self.headers.items()
                        if k.lower() in ("authorization", "content-type")}
                r = requests.request(self.command, outer.target + self.path, data=body,
                                     headers=hdrs, timeout=30)
                out = outer.alter(self.path, r.content.decode("utf-8")).encode()
                self.send_response(r.status_code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            do_GET = do_POST = _relay

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), H)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


def test_node_sample_detects_tampering(ad, dev):
    name = unique("attest-pure")
    ad.deploy_ok(name, PURE, dev)

    def result_digit(path, text):  # the result, not the receipt
        return text.replace('"n":0.30000000000000004', '"n":0.30000000000000005', 1) \
            if "/invoke" in path else text

    def report_time(path, text):
        if "/v1/attestation" not in path:
            return text
        j = json.loads(text)
        j["time"] += 1
        return json.dumps(j)

    def receipt_secret(path, text):
        return text.replace('"secrets":[]', '"secrets":["x"]', 1) if "/invoke" in path else text

    def report_member(change):
        def alter(path, text):
            if "/v1/attestation" not in path:
                return text
            j = json.loads(text)
            change(j)
            return json.dumps(j)
        alter.__name__ = change.__name__
        return alter

    def confinement_other(j):
        j["confinement"] = _other_confinement(j["confinement"])

    def confinement_removed(j):
        del j["confinement"]

    def confinement_unknown(j):
        j["confinement"] += ",zz-sandbox"

    baseline = _Tamper(ad.base, lambda path, text: text)
    try:
        p = run_mjs(baseline.base, dev, name, "[1, 2]")
        assert p.returncode == 0, (p.stdout, p.stderr)
    finally:
        baseline.stop()
    for alter, failing in ((result_digit, "output_sha256"), (report_time, "report signature"),
                           (receipt_secret, "receipt signature"),
                           (report_member(confinement_other), "report signature"),
                           (report_member(confinement_removed), "report confinement"),
                           (report_member(confinement_unknown), "report confinement")):
        t = _Tamper(ad.base, alter)
        try:
            p = run_mjs(t.base, dev, name, "[1, 2]")
        finally:
            t.stop()
        assert p.returncode == 1 and f"FAILED {failing}" in p.stdout, (alter.__name__, p.stdout)
