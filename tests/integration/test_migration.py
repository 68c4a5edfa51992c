"""Key migration between two real fnboxd instances on loopback: A exports its DEKs and sealed
secrets to B only after verifying B's attestation report (fresh challenge nonce, expected
measurement, software peers only with --trust-software-peers); B imports all or nothing and
its functions read every secret. Attacks: replayed and forged challenges, altered reports,
tampered bundles, a bundle for another instance, conflicting rows."""

import json
import os
import subprocess

import pytest

import shutil
import tempfile

import faketsm
from conftest import binary, error_code, start_daemon, unique

TRUST = ["--trust-software-peers"]
READ = """function main(input) {
  var out = {};
  for (var i = 0; i < input.length; i++) out[input[i]] = secrets.get(input[i]);
  return out;
}"""


def cli(d, token, *args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNBOX_")}
    env["FNBOX_URL"] = d.base
    if token is not None:
        env["FNBOX_TOKEN"] = token
    return subprocess.run([binary("fnbox")] + list(args), env=env, capture_output=True,
                          text=True, timeout=60)


def challenge(d):
    r = d.api("POST", "/v1/keys/export/challenge", d.admin)
    assert r.status_code == 201, r.text
    assert len(r.json()["nonce"]) == 64 and r.json()["expires_in"] == 300
    return r.json()["nonce"]


def report(peer, nonce):
    r = peer.api("GET", "/v1/attestation", params={"nonce": nonce})
    assert r.status_code == 200, r.text
    return r.json()


def export(src, peer):
    return src.api("POST", "/v1/keys/export", src.admin, json=report(peer, challenge(src)))


def audit_actions(d):
    r = d.api("GET", "/v1/audit", d.admin, params={"limit": 1000})
    assert r.status_code == 200, r.text
    return [e for e in r.json()["entries"] if e["action"].startswith("keys.")]


@pytest.fixture(scope="module")
def pair(tmp_path_factory):
    a = start_daemon(tmp_path_factory.mktemp("a"), TRUST)
    b = start_daemon(tmp_path_factory.mktemp("b"), TRUST)
    yield a, b
    a.stop()
    b.stop()


@pytest.fixture(scope="module")
def owner_secrets(pair):
    """Secrets on A (one rewritten, and a rotation so there are rows under two DEKs' history)."""
    a, _ = pair
    owner = unique("mig")
    token = a.create_token("developer", owner)["token"]
    values = {f"k{i}": f"canary-{owner}-{i}" for i in range(5)}
    for name, value in values.items():
        assert a.api("PUT", f"/v1/secrets/{name}", token, json={"value": "old-" + value}).status_code == 201
    assert a.api("POST", "/v1/keys/rotate", a.admin, timeout=60).status_code == 200
    for name, value in values.items():
        assert a.api("PUT", f"/v1/secrets/{name}", token, json={"value": value}).status_code == 201
    return owner, values


def read_all(d, owner, names):
    token = d.create_token("developer", owner)["token"]
    fn = unique("rd")
    d.deploy_ok(fn, READ, token, secrets=list(names))
    return d.invoke(fn, token, input=list(names))


def test_secrets_written_on_a_are_readable_on_b(pair, owner_secrets):
    a, b = pair
    owner, values = owner_secrets
    before = read_all(b, owner, values)
    assert error_code(before) == "function_error"  # B cannot read them yet
    r = export(a, b)
    assert r.status_code == 200, r.text
    bundle_text = r.text
    for v in values.values():  # values travel sealed, never in the clear
        assert v not in bundle_text
    bundle = r.json()
    assert bundle["format"] == "fnbox-keys-v1"
    assert bundle["peer_public_key"] == report(b, "00" * 16)["public_key"]
    imp = b.api("POST", "/v1/keys/import", b.admin, data=bundle_text)
    assert imp.status_code == 200, imp.text
    assert imp.json()["secrets_imported"] == 2 * len(values)
    got = read_all(b, owner, values)
    assert got.status_code == 200, got.text
    assert got.json()["result"] == values  # the newest version of each
    # again, all already there: nothing changes
    again = b.api("POST", "/v1/keys/import", b.admin, data=bundle_text)
    assert again.status_code == 200 and again.json()["secrets_imported"] == 0
    assert again.json()["secrets_skipped"] == 2 * len(values)
    # both sides audited it, naming the other's key
    exp = [e for e in audit_actions(a) if e["action"] == "keys.export"]
    imps = [e for e in audit_actions(b) if e["action"] == "keys.import"]
    assert exp and exp[-1]["outcome"] == "ok" and exp[-1]["secret"].startswith("peer:sha256:")
    assert len(imps) == 2 and imps[-1]["secret"].startswith("peer:sha256:")
    # the imported keys are stored under B's own KEK: they survive a restart
    b.restart()
    assert read_all(b, owner, values).json()["result"] == values


def test_challenge_is_single_use_and_must_be_ours(pair):
    a, b = pair
    nonce = challenge(a)
    rep = report(b, nonce)
    assert a.api("POST", "/v1/keys/export", a.admin, json=rep).status_code == 200
    replay = a.api("POST", "/v1/keys/export", a.admin, json=rep)
    assert replay.status_code == 403 and error_code(replay) == "unknown_challenge"
    forged = a.api("POST", "/v1/keys/export", a.admin, json=report(b, os.urandom(32).hex()))
    assert forged.status_code == 403 and error_code(forged) == "unknown_challenge"


@pytest.mark.parametrize("field", ["measurement", "public_key", "report_data", "nonce",
                                   "signature", "time"])
def test_altered_report_is_refused(pair, field):
    a, b = pair
    nonce = challenge(a)
    rep = report(b, nonce)
    if field == "time":
        rep["time"] += 1
    elif field == "nonce":
        rep = report(b, nonce)
        # a report for another nonce, relabelled with ours
        other = report(b, os.urandom(32).hex())
        other["nonce"] = nonce
        rep = other
    else:
        v = rep[field]
        i = len(v) // 2
        rep[field] = v[:i] + ("0" if v[i] != "0" else "1") + v[i + 1:]
    r = a.api("POST", "/v1/keys/export", a.admin, json=rep)
    assert r.status_code in (403, 422), r.text
    assert error_code(r) in ("attestation_invalid", "unexpected_measurement")


def test_software_peer_refused_without_the_flag(tmp_path, pair):
    _, b = pair
    # B's measurement is expected: only its being software-only stands in the way
    plain = start_daemon(tmp_path / "plain",
                         ["--peer-measurement", report(b, "00" * 16)["measurement"]])
    try:
        r = export(plain, b)
        assert r.status_code == 403 and error_code(r) == "untrusted_peer", r.text
        assert "software" in r.json()["error"]["message"]
    finally:
        plain.stop()


def test_unexpected_measurement_refused_unless_listed(tmp_path, pair):
    a, _ = pair
    other_flags = TRUST + ["--max-memory-mb", "100"]  # another configuration: another measurement
    c = start_daemon(tmp_path / "c", other_flags)
    try:
        r = export(a, c)
        assert r.status_code == 403 and error_code(r) == "unexpected_measurement", r.text
        m = subprocess.run([binary("fnboxd"), "--measure"] + other_flags, capture_output=True,
                           text=True, timeout=30, check=True).stdout
        c_measure = [ln.split("=", 1)[1] for ln in m.splitlines() if ln.startswith("measurement=")][0]
        assert report(c, "00" * 16)["measurement"] == c_measure
        d = start_daemon(tmp_path / "d", TRUST + ["--peer-measurement", c_measure])
        try:
            r = export(d, c)
            assert r.status_code == 200, r.text
            assert c.api("POST", "/v1/keys/import", c.admin, data=r.text).status_code == 200
        finally:
            d.stop()
    finally:
        c.stop()


def test_bundle_only_opens_where_addressed_and_untampered(tmp_path, pair, owner_secrets):
    a, b = pair
    bundle = export(a, b).json()
    c = start_daemon(tmp_path / "c2", TRUST)
    try:
        r = c.api("POST", "/v1/keys/import", c.admin, json=bundle)
        assert r.status_code == 409 and error_code(r) == "wrong_instance", r.text
        # relabelled for C: the signature no longer covers it
        forged = dict(bundle, peer_public_key=report(c, "00" * 16)["public_key"])
        r = c.api("POST", "/v1/keys/import", c.admin, json=forged)
        assert r.status_code == 422 and error_code(r) == "bundle_invalid", r.text
    finally:
        c.stop()
    for mutate in ("dek", "blob", "drop_row", "signature"):
        t = json.loads(json.dumps(bundle))
        if mutate == "dek":
            s = t["deks"][0]["sealed"]
            t["deks"][0]["sealed"] = s[:-2] + ("00" if s[-2:] != "00" else "01")
        elif mutate == "blob":
            s = t["secrets"][0]["blob"]
            t["secrets"][0]["blob"] = s[:30] + ("0" if s[30] != "0" else "1") + s[31:]
        elif mutate == "drop_row":
            t["secrets"].pop()
        else:
            t["signature"] = t["signature"][:-4] + "0000"
        r = b.api("POST", "/v1/keys/import", b.admin, json=t)
        assert r.status_code == 422 and error_code(r) == "bundle_invalid", (mutate, r.text)


def test_conflicting_row_refuses_the_whole_import(tmp_path, pair):
    a, _ = pair
    owner = unique("clash")
    ta = a.create_token("developer", owner)["token"]
    for n in ("x", "y"):
        assert a.api("PUT", f"/v1/secrets/{n}", ta, json={"value": "from-a-" + n}).status_code == 201
    b2 = start_daemon(tmp_path / "b2", TRUST)
    try:
        tb = b2.create_token("developer", owner)["token"]
        assert b2.api("PUT", "/v1/secrets/y", tb, json={"value": "b-own"}).status_code == 201
        r = b2.api("POST", "/v1/keys/import", b2.admin, data=export(a, b2).text)
        assert r.status_code == 409 and error_code(r) == "conflict", r.text
        assert f"{owner}/y" in r.json()["error"]["message"]
        listed = b2.api("GET", "/v1/secrets", tb).json()
        names = sorted(s["name"] for s in listed["secrets"])
        assert names == ["y"]  # nothing of the import landed, B's own value intact
        assert read_all(b2, owner, ["y"]).json()["result"] == {"y": "b-own"}
    finally:
        b2.stop()


def test_only_admins_migrate(pair):
    a, _ = pair
    dev = a.developer()[0]
    for path in ("/v1/keys/export/challenge", "/v1/keys/export", "/v1/keys/import"):
        r = a.api("POST", path, dev, json={})
        assert r.status_code == 403, (path, r.text)


def test_cli_round_trip(tmp_path, pair):
    a, _ = pair
    owner = unique("cli")
    ta = a.create_token("developer", owner)["token"]
    assert a.api("PUT", "/v1/secrets/api_key", ta, json={"value": "cli-canary"}).status_code == 201
    b3 = start_daemon(tmp_path / "b3", TRUST)
    try:
        p = cli(a, a.admin, "keys", "challenge")
        assert p.returncode == 0, p.stderr
        nonce = json.loads(p.stdout)["nonce"]
        peer = tmp_path / "peer.json"
        p = cli(b3, None, "attest", "--nonce", nonce, "--out", str(peer))
        assert p.returncode == 0, p.stderr
        out = tmp_path / "bundle.json"
        p = cli(a, a.admin, "keys", "export", "--to-attestation", str(peer), "--out", str(out))
        assert p.returncode == 0, p.stderr
        assert os.stat(out).st_mode & 0o077 == 0
        p = cli(b3, b3.admin, "keys", "import", str(out))
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["secrets_imported"] >= 1
        assert read_all(b3, owner, ["api_key"]).json()["result"] == {"api_key": "cli-canary"}
        # the used challenge cannot be spent twice
        p = cli(a, a.admin, "keys", "export", "--to-attestation", str(peer))
        assert p.returncode != 0 and "unknown_challenge" in p.stderr + p.stdout
    finally:
        b3.stop()


def _export_and_read(exporter, peer):
    """A secret written on exporter is read by a function on peer after the migration."""
    owner = unique("x")
    t = exporter.create_token("developer", owner)["token"]
    assert exporter.api("PUT", "/v1/secrets/key", t, json={"value": "v-" + owner}).status_code == 201
    r = export(exporter, peer)
    assert r.status_code == 200, r.text
    imp = peer.api("POST", "/v1/keys/import", peer.admin, data=r.text)
    assert imp.status_code == 200, imp.text
    assert read_all(peer, owner, ["key"]).json()["result"] == {"key": "v-" + owner}


def test_tsm_peer_needs_explicit_trust_in_unchecked_quotes(tmp_path):
    """fnbox binds a quote to the peer's key but cannot check the quote's vendor signature
    chain: a tsm peer is refused unless the operator says --trust-unverified-quotes."""
    d = tempfile.mkdtemp(prefix="fnbox-tsm-")
    os.chmod(d, 0o755)  # the gateway's uid must reach it after the privilege drop
    root = os.path.join(d, "tsm")
    fake = faketsm.FakeTsm(root, "tdx")
    peer = start_daemon(tmp_path / "tdx", TRUST + ["--attestation", "tsm", "--tsm-root", root])
    try:
        assert report(peer, "00" * 16)["provider"] == "tsm"
        m = report(peer, "00" * 16)["measurement"]
        a = start_daemon(tmp_path / "a", TRUST + ["--peer-measurement", m])
        try:
            r = export(a, peer)
            assert r.status_code == 403 and error_code(r) == "unverified_quote", r.text
        finally:
            a.stop()
        a2 = start_daemon(tmp_path / "a2",
                          TRUST + ["--trust-unverified-quotes", "--peer-measurement", m])
        try:
            _export_and_read(a2, peer)
            assert "--trust-unverified-quotes" in a2.stderr()
        finally:
            a2.stop()
    finally:
        peer.stop()
        fake.stop()
        shutil.rmtree(d, ignore_errors=True)


def test_secp256k1_peer(tmp_path):
    """Migration is curve-agnostic: the DEKs are sealed with ECDH on the peer key's curve."""
    peer = start_daemon(tmp_path / "k1", TRUST + ["--key-scheme", "secp256k1"])
    try:
        rep = report(peer, "00" * 16)
        assert rep["key_scheme"] == "secp256k1"
        a = start_daemon(tmp_path / "a", TRUST + ["--peer-measurement", rep["measurement"]])
        try:
            _export_and_read(a, peer)
        finally:
            a.stop()
    finally:
        peer.stop()
