"""fnboxd --key-scheme secp256k1, end to end: the attestation report, a signed receipt and an
audit checkpoint are signed by a secp256k1 instance key, and verify with `fnbox verify`, with
the documented openssl commands, with samples/verify/verify.mjs under node, and with an
independent public-key recovery written here in plain Python integers (what EVM ecrecover
computes); a wrong recovery_id fails; restarts keep the key; switching schemes keeps both keys.

Run: cd tests/integration && FNBOX_BUILD=/abs/build /usr/bin/python3 -m pytest -q test_key_scheme.py
"""

import hashlib
import json
import os
import re
import subprocess

import pytest
import requests
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from conftest import binary, start_daemon, unique
from test_attestation import (PURE, RECEIPT_BLOCK, REPORT_BLOCK, _Tamper, _alter_member,
                              canonical_receipt, fnbox, nonce, run_doc, run_mjs, verify_receipt,
                              verify_report)

K1_FLAGS = ["--key-scheme", "secp256k1"]
K1_SPKI_PREFIX = "3056301006072a8648ce3d020106052b8104000a03420004"
K1_BLOCK = "ASN1 OID"

# secp256k1, for an independent recovery (the same formula ecrecover uses)
P = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEFFFFFC2F
N = 0xFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFEBAAEDCE6AF48A03BBFD25E8CD0364141
G = (0x79BE667EF9DCBBAC55A06295CE870B07029BFCDB2DCE28D959F2815B16F81798,
     0x483ADA7726A3C4655DA4FBFC0E1108A8FD17B448A68554199C47D08FFB10D4B8)


def _add(a, b):
    if a is None:
        return b
    if b is None:
        return a
    if a[0] == b[0] and (a[1] + b[1]) % P == 0:
        return None
    if a == b:
        lam = 3 * a[0] * a[0] * pow(2 * a[1], -1, P) % P
    else:
        lam = (b[1] - a[1]) * pow(b[0] - a[0], -1, P) % P
    x = (lam * lam - a[0] - b[0]) % P
    return x, (lam * (a[0] - x) - a[1]) % P


def _mul(k, pt):
    out = None
    while k:
        if k & 1:
            out = _add(out, pt)
        pt = _add(pt, pt)
        k >>= 1
    return out


def recover(digest, r, s, rid):
    """The public point (hex 04||X||Y) that (digest, r, s, rid) recovers, or None."""
    if not (0 < r < N and 0 < s < N) or rid not in (0, 1):
        return None
    y2 = (pow(r, 3, P) + 7) % P
    y = pow(y2, (P + 1) // 4, P)
    if y * y % P != y2:
        return None
    if y & 1 != rid:
        y = P - y
    e, ri = int.from_bytes(digest, "big"), pow(r, -1, N)
    q = _add(_mul(-e * ri % N, G), _mul(s * ri % N, (r, y)))
    return None if q is None else "04" + format(q[0], "064x") + format(q[1], "064x")


# ---- fixtures ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def kd(tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("fnboxd-k1"), K1_FLAGS)
    yield d
    d.stop()


@pytest.fixture(scope="module")
def kdev(kd):
    return kd.developer()[0]


@pytest.fixture(scope="module")
def pure(kd, kdev):
    name = unique("k1-pure")
    kd.deploy_ok(name, PURE, kdev)
    return name


@pytest.fixture(scope="module")
def ksaved(kd, kdev, pure, tmp_path_factory):
    d = tmp_path_factory.mktemp("k1-saved")
    n = nonce()
    att = str(d / "att.json")
    p = fnbox(kd, None, "attest", "--nonce", n, "--out", att)
    assert p.returncode == 0, (p.stdout, p.stderr)
    inp = d / "input.json"
    inp.write_text('{"symbol": "ETH"}\n')
    inv = str(d / "invoke.json")
    p = fnbox(kd, kdev, "invoke", pure, f"@{inp}", "--sign", "--out", inv)
    assert p.returncode == 0, (p.stdout, p.stderr)
    return {"dir": d, "att": att, "nonce": n, "inv": inv, "input": str(inp),
            "att_json": json.load(open(att)), "inv_json": json.load(open(inv))}


# ---- reports ------------------------------------------------------------------------------

def test_k1_report_round_trip(kd, ksaved, tmp_path):
    rep = ksaved["att_json"]
    assert rep["key_scheme"] == "secp256k1"
    assert rep["public_key"].startswith(K1_SPKI_PREFIX) and len(rep["public_key"]) == 176
    assert re.fullmatch(r"0x[0-9a-f]{40}", rep["address"])
    want = hashlib.sha512(bytes.fromhex(ksaved["nonce"]) + bytes.fromhex(rep["public_key"])
                          + bytes.fromhex(rep["measurement"])).hexdigest()
    assert rep["report_data"] == want
    # the signature, checked by another library over the documented bytes
    key = serialization.load_der_public_key(bytes.fromhex(rep["public_key"]))
    assert isinstance(key.curve, ec.SECP256K1)
    msg = "fnbox-attestation-v3\n" + "".join(
        f"{rep[k]}\n" for k in ("provider", "platform", "tee_id", "measurement", "public_key",
                                "nonce", "report_data")) + f"{rep['time']}\n{rep['confinement']}\n"
    key.verify(bytes.fromhex(rep["signature"]), msg.encode(), ec.ECDSA(hashes.SHA256()))
    p = verify_report(kd, ksaved["att"], ksaved["nonce"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "ECDSA secp256k1" in p.stdout and rep["address"] in p.stdout
    # an altered address, or a scheme that is not the key's, fails
    for field, value in (("address", "0x" + "00" * 20), ("key_scheme", "p256")):
        bad = dict(rep, **{field: value})
        path = str(tmp_path / f"att-{field}.json")
        json.dump(bad, open(path, "w"))
        p = verify_report(kd, path, ksaved["nonce"])
        assert p.returncode == 1 and "FAILED" in p.stdout, (field, p.stdout)


def test_k1_measurement_names_the_scheme(kd):
    p = subprocess.run([kd.exe, "--data", kd.data, *K1_FLAGS, "--measure"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 0 and "\nkey_scheme=secp256k1\n" in p.stdout, p.stdout
    q = subprocess.run([kd.exe, "--data", kd.data, "--measure"], capture_output=True, text=True,
                       timeout=30)
    assert q.returncode == 0 and "\nkey_scheme=p256\n" in q.stdout
    assert p.stdout.splitlines()[-1] != q.stdout.splitlines()[-1]
    bad = subprocess.run([kd.exe, "--key-scheme", "secp384r1", "--measure"], capture_output=True,
                         text=True, timeout=30)
    assert bad.returncode == 2 and "key-scheme" in bad.stderr


# ---- receipts -----------------------------------------------------------------------------

def test_k1_receipt_verifies_and_recovers(kd, ksaved):
    rc = ksaved["inv_json"]["receipt"]
    assert rc["key_scheme"] == "secp256k1" and rc["public_key"] == ksaved["att_json"]["public_key"]
    assert rc["address"] == ksaved["att_json"]["address"]
    assert rc["recovery_id"] in (0, 1)
    r, s = int(rc["signature"][:64], 16), int(rc["signature"][64:], 16)
    assert s <= N // 2  # low-s against secp256k1's order
    assert bytes.fromhex(rc["signature_der"]) == encode_dss_signature(r, s)
    digest = hashlib.sha256(canonical_receipt(rc)).digest()
    point = rc["public_key"][len(K1_SPKI_PREFIX) - 2:]
    assert recover(digest, r, s, rc["recovery_id"]) == point  # what ecrecover(v=27+id) gives
    assert recover(digest, r, s, 1 - rc["recovery_id"]) != point
    p = verify_receipt(kd, ksaved["inv"], ksaved["att"], "--nonce", ksaved["nonce"],
                       "--input", ksaved["input"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "ok     receipt recovery_id" in p.stdout and "ECDSA secp256k1" in p.stdout, p.stdout
    assert f"v = {27 + rc['recovery_id']}" in p.stdout


K1_ALTERATIONS = [
    (("recovery_id",), lambda v: 1 - v), (("recovery_id",), lambda v: v + 27),
    (("address",), lambda v: "0x" + "11" * 20), (("key_scheme",), lambda v: "p256"),
    (("signature",), lambda v: v[:64] + format(N - int(v[64:], 16), "064x")),
    (("invocation_id",), lambda v: v + "x"), (("time",), lambda v: v + 1),
]


def test_k1_altered_receipt_fails(kd, ksaved, tmp_path):
    text = open(ksaved["inv"], encoding="utf-8").read()
    for k, (path, alter) in enumerate(K1_ALTERATIONS):
        f = str(tmp_path / f"inv-{k}.json")
        with open(f, "w", encoding="utf-8") as fh:
            fh.write(_alter_member(text, path, alter))
        p = verify_receipt(kd, f, ksaved["att"])
        assert p.returncode == 1 and "FAILED" in p.stdout, (path, p.stdout)
    # the recovery id removed
    j = json.loads(text)
    del j["receipt"]["recovery_id"]
    f = str(tmp_path / "inv-noid.json")
    json.dump(j, open(f, "w"))
    assert verify_receipt(kd, f, ksaved["att"]).returncode == 1


def test_k1_openssl_command_line(ksaved, tmp_path):
    inv = open(ksaved["inv"], encoding="utf-8").read()
    att = open(ksaved["att"], encoding="utf-8").read()
    rc, out, d = run_doc(tmp_path, [REPORT_BLOCK], {"attestation.json": att})
    assert rc == 0 and "Verified OK" in out, out
    assert "software\tnone\tfalse\tsoftware\tsecp256k1" in out
    rc, out, d = run_doc(tmp_path, [RECEIPT_BLOCK, K1_BLOCK],
                         {"invoke.json": inv, "attestation.json": att})
    assert rc == 0, out
    assert {"Verified OK", "same key", "same measurement", "ASN1 OID: secp256k1",
            "same address"} <= set(out), out
    r = ksaved["inv_json"]["receipt"]
    assert f"secp256k1\t{r['recovery_id']}\t{r['address']}" in out
    assert (d / "receipt.bin").read_bytes() == canonical_receipt(r)
    # altered: openssl says so
    bad = _alter_member(inv, ("invocation_id",), lambda v: v + "x")
    rc, out, _ = run_doc(tmp_path, [RECEIPT_BLOCK], {"invoke.json": bad, "attestation.json": att})
    assert rc != 0 and "Verified OK" not in out


def test_k1_node_sample(kd, kdev, pure):
    p = run_mjs(kd.base, kdev, pure, "[1, 2]")
    assert p.returncode == 0, (p.stdout, p.stderr)
    for check in ("report signature", "receipt signature", "receipt signature low-s",
                  "receipt recovery_id", "receipt key_scheme"):
        assert f"ok     {check}" in p.stdout, (check, p.stdout)

    def wrong_id(path, text):
        if "/invoke" not in path:
            return text
        j = json.loads(text)
        j["receipt"]["recovery_id"] = 1 - j["receipt"]["recovery_id"]
        return json.dumps(j)

    t = _Tamper(kd.base, wrong_id)
    try:
        p = run_mjs(t.base, kdev, pure, "[1, 2]")
    finally:
        t.stop()
    assert p.returncode == 1 and "FAILED receipt recovery_id" in p.stdout, p.stdout


# ---- checkpoints --------------------------------------------------------------------------

def test_k1_checkpoint(kd, tmp_path):
    r = kd.api("POST", "/v1/audit/checkpoint", kd.admin)
    assert r.status_code == 201, r.text
    cp = r.json()
    assert cp["key_scheme"] == "secp256k1" and cp["public_key"].startswith(K1_SPKI_PREFIX)
    msg = f"fnbox-audit-checkpoint-v1\n{cp['seq']}\n{cp['hash']}\n{cp['time']}".encode()
    key = serialization.load_der_public_key(bytes.fromhex(cp["public_key"]))
    key.verify(bytes.fromhex(cp["signature"]), msg, ec.ECDSA(hashes.SHA256()))
    f = tmp_path / "cp.json"
    f.write_text(json.dumps(cp))
    p = fnbox(kd, kd.admin, "audit", "verify", "--checkpoint", str(f))
    assert p.returncode == 0, (p.stdout, p.stderr)
    bad = tmp_path / "cp-bad.json"
    bad.write_text(json.dumps(dict(cp, time=cp["time"] + 1)))
    p = fnbox(kd, kd.admin, "audit", "verify", "--checkpoint", str(bad))
    assert p.returncode == 1, (p.stdout, p.stderr)
    # the report carries it, signed by the attested key
    n = nonce()
    att = str(tmp_path / "att.json")
    assert fnbox(kd, None, "attest", "--nonce", n, "--out", att).returncode == 0
    p = verify_report(kd, att, n)
    assert p.returncode == 0 and "signed by the report's key" in p.stdout, p.stdout


# ---- restarts and switching -------------------------------------------------------------------

def _report(d):
    r = requests.get(d.url("/v1/attestation"), params={"nonce": nonce()}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_restart_keeps_keys_and_switching_keeps_both(tmp_path):
    d = start_daemon(tmp_path / "sw", K1_FLAGS)
    try:
        k1 = _report(d)
        assert k1["key_scheme"] == "secp256k1"
        assert d.api("POST", "/v1/audit/checkpoint", d.admin).status_code == 201
        d.restart()
        assert _report(d)["public_key"] == k1["public_key"]  # same key after a restart
        d.stop()
        d.extra_args = []  # the default: p256
        d.start()
        p1 = _report(d)
        assert p1["key_scheme"] == "p256" and p1["public_key"] != k1["public_key"]
        assert "address" not in p1
        # the checkpoint the k1 key signed was re-signed by the p256 key: reports verify
        assert p1["audit_checkpoint"]["key_scheme"] == "p256"
        assert p1["audit_checkpoint"]["public_key"] == p1["public_key"]
        v = d.api("GET", "/v1/audit/verify", d.admin).json()
        assert v["ok"] is True and v["checkpoint_ok"] is True, v
        d.restart()
        assert _report(d)["public_key"] == p1["public_key"]
        d.stop()
        d.extra_args = K1_FLAGS  # back: the same secp256k1 key as before
        d.start()
        again = _report(d)
        assert again["public_key"] == k1["public_key"] and again["address"] == k1["address"]
        assert again["audit_checkpoint"]["public_key"] == k1["public_key"]
        v = d.api("GET", "/v1/audit/verify", d.admin).json()
        assert v["ok"] is True and v["checkpoint_ok"] is True, v
    finally:
        d.stop()
