"""Key migration between two real fnboxd instances on loopback: A exports its DEKs and sealed
secrets to B only after verifying B's attestation report (fresh challenge nonce, expected
measurement, software peers only with --trust-software-peers); B imports all or nothing and
its functions read every secret. Attacks: replayed and forged challenges, altered reports,
tampered bundles, a bundle for another instance, conflicting rows; and bundles built outside
fnbox (forgebundle.py): from an instance the operator did not name, changing names B has,
stale, with names the API refuses, or made to leave keys behind in B's keyring when refused."""

import json
import os
import subprocess

import pytest

import shutil
import tempfile

import hashlib
import threading
import time

import faketsm
from conftest import binary, error_code, start_daemon, unique
from forgebundle import Forger, new_dek

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


def fingerprint(d):
    """What B's operator names with ?source= / --from: SHA-256 of the exporter's key."""
    return hashlib.sha256(bytes.fromhex(report(d, "00" * 16)["public_key"])).hexdigest()


def import_(d, bundle, source):
    """POST /v1/keys/import?source=: bundle is the exporter's response text or a dict."""
    kw = {"data": bundle} if isinstance(bundle, str) else {"json": bundle}
    return d.api("POST", "/v1/keys/import", d.admin, params={"source": source}, **kw)


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
    imp = import_(b, bundle_text, fingerprint(a))
    assert imp.status_code == 200, imp.text
    assert imp.json()["secrets_imported"] == 2 * len(values)
    got = read_all(b, owner, values)
    assert got.status_code == 200, got.text
    assert got.json()["result"] == values  # the newest version of each
    # again, all already there: nothing changes
    again = import_(b, bundle_text, fingerprint(a))
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
            assert import_(c, r.text, fingerprint(d)).status_code == 200
        finally:
            d.stop()
    finally:
        c.stop()


def test_bundle_only_opens_where_addressed_and_untampered(tmp_path, pair, owner_secrets):
    a, b = pair
    bundle = export(a, b).json()
    c = start_daemon(tmp_path / "c2", TRUST)
    try:
        r = import_(c, bundle, fingerprint(a))
        assert r.status_code == 409 and error_code(r) == "wrong_instance", r.text
        # relabelled for C: the signature no longer covers it
        forged = dict(bundle, peer_public_key=report(c, "00" * 16)["public_key"])
        r = import_(c, forged, fingerprint(a))
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
        r = import_(b, t, fingerprint(a))
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
        r = import_(b2, export(a, b2).text, fingerprint(a))
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
        assert p.stderr.strip().endswith("--from " + fingerprint(a))
        assert os.stat(out).st_mode & 0o077 == 0
        # B's operator learns A's key from A's attestation, and names it
        p = cli(a, None, "attest")
        assert p.returncode == 0, p.stderr
        fp = p.stderr.strip().rsplit(" ", 1)[-1]
        assert fp == fingerprint(a)
        p = cli(b3, b3.admin, "keys", "import", str(out))
        assert p.returncode == 2 and "--from" in p.stderr  # required
        p = cli(b3, b3.admin, "keys", "import", str(out), "--from", fingerprint(b3))
        assert p.returncode != 0 and "unexpected_source" in p.stderr + p.stdout
        p = cli(b3, b3.admin, "keys", "import", str(out), "--from", fp)
        assert p.returncode == 0, p.stderr
        assert json.loads(p.stdout)["source"] == fp
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
    imp = import_(peer, r.text, fingerprint(exporter))
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


# --- bundles from elsewhere (forgebundle.py) -----------------------------------------------

def secret_names(d, owner):
    r = d.api("GET", "/v1/secrets", d.admin, params={"owner": owner})
    assert r.status_code == 200, r.text
    return sorted(s["name"] for s in r.json()["secrets"])


@pytest.fixture()
def fresh_b(tmp_path):
    b = start_daemon(tmp_path / "fb", TRUST)
    yield b
    b.stop()


def test_import_must_name_its_source(pair, owner_secrets, fresh_b):
    """A genuine bundle of A is accepted only when B's operator names A."""
    a, _ = pair
    b = fresh_b
    text = export(a, b).text
    r = b.api("POST", "/v1/keys/import", b.admin, data=text)
    assert r.status_code == 400 and "source" in r.json()["error"]["message"], r.text
    r = import_(b, text, "zz" * 32)
    assert r.status_code == 400, r.text
    r = import_(b, text, fingerprint(b))
    assert r.status_code == 403 and error_code(r) == "unexpected_source", r.text
    assert fingerprint(a) in r.json()["error"]["message"]
    assert [e for e in audit_actions(b) if e["action"] == "keys.import"] == []
    r = import_(b, text, fingerprint(a).upper())
    assert r.status_code == 200 and r.json()["source"] == fingerprint(a), r.text


def test_another_instance_cannot_plant_values(pair, owner_secrets, tmp_path):
    """The review's reproduction: an unrelated fnboxd C (same build, same flags) exports to B
    (B's key is public) a secret named like one of B's; B's admin, expecting A, imports."""
    a, b = pair
    owner, values = owner_secrets
    c = start_daemon(tmp_path / "c", TRUST)
    try:
        tc = c.create_token("developer", owner)["token"]
        assert c.api("PUT", "/v1/secrets/k0", tc, json={"value": "planted"}).status_code == 201
        assert c.api("PUT", "/v1/secrets/new", tc, json={"value": "planted"}).status_code == 201
        r = import_(b, export(c, b).text, fingerprint(a))
        assert r.status_code == 403 and error_code(r) == "unexpected_source", r.text
    finally:
        c.stop()
    assert "new" not in secret_names(b, owner)


def test_forged_bundle_from_the_named_source_imports(fresh_b):
    """The forger's bundles are well formed: one that only adds a new name is accepted from
    the source the operator names (what the refusals below refuse is their content)."""
    b = fresh_b
    f = Forger()
    owner = unique("fg")
    dek, key = new_dek()
    bundle = f.bundle(report(b, "00" * 16), {dek: key}, [(owner, "k", 1, dek, "forged-ok")])
    r = import_(b, bundle, f.fingerprint)
    assert r.status_code == 200 and r.json()["secrets_imported"] == 1, r.text
    assert read_all(b, owner, ["k"]).json()["result"] == {"k": "forged-ok"}


def test_import_never_changes_a_name_b_has(fresh_b):
    """Even from the named source, a bundle cannot add version N+1 of a secret B has (reads
    take the newest version), nor anything else for that name."""
    b = fresh_b
    f = Forger()
    owner = unique("own")
    tb = b.create_token("developer", owner)["token"]
    assert b.api("PUT", "/v1/secrets/k", tb, json={"value": "b-own"}).status_code == 201
    rep = report(b, "00" * 16)
    dek, key = new_dek()
    for rows in ([(owner, "k", 2, dek, "evil")],                      # the next version
                 [(owner, "k", 7, dek, "evil"), (owner, "z", 1, dek, "z")]):  # with a new name
        r = import_(b, f.bundle(rep, {dek: key}, rows), f.fingerprint)
        assert r.status_code == 409 and error_code(r) == "conflict", r.text
        assert f"{owner}/k" in r.json()["error"]["message"]
    assert secret_names(b, owner) == ["k"]
    assert read_all(b, owner, ["k"]).json()["result"] == {"k": "b-own"}
    # B's own DEK id under another key: refused before anything is stored
    own_dek = b.api("GET", "/v1/keys", b.admin).json()["deks"][0]["id"]
    r = import_(b, f.bundle(rep, {own_dek: os.urandom(32)}, [(owner, "q", 1, own_dek, "q")]),
                f.fingerprint)
    assert r.status_code == 409 and error_code(r) == "conflict", r.text
    assert secret_names(b, owner) == ["k"]


def test_stale_and_future_bundles_expire(fresh_b):
    b = fresh_b
    f = Forger()
    owner = unique("old")
    rep = report(b, "00" * 16)
    dek, key = new_dek()
    now = int(time.time())
    for made in (now - 3600 - 120, now + 3600, now - 10 ** 9):
        r = import_(b, f.bundle(rep, {dek: key}, [(owner, "k", 1, dek, "v")], made=made),
                    f.fingerprint)
        assert r.status_code == 422 and error_code(r) == "bundle_expired", (made, r.text)
    assert secret_names(b, owner) == []
    r = import_(b, f.bundle(rep, {dek: key}, [(owner, "k", 1, dek, "v")], made=now - 600),
                f.fingerprint)
    assert r.status_code == 200, r.text


@pytest.mark.parametrize("owner,name,version", [
    ("ok", "a/b", 1), ("ok", "x\x01y", 1), ("ok", "", 1), ("ok", "n" * 129, 1),
    ("Bad/Owner", "k", 1), ("", "k", 1), ("ok", "k", 0), ("ok", "k", 2 ** 31 + 1),
    ("ok", "k", 2 ** 40)])
def test_rows_the_api_could_not_make_are_refused(fresh_b, owner, name, version):
    b = fresh_b
    f = Forger()
    good = unique("nm")
    owner = good if owner == "ok" else owner
    dek, key = new_dek()
    bundle = f.bundle(report(b, "00" * 16), {dek: key},
                      [(good, "fine", 1, dek, "fine"), (owner, name, version, dek, "v")])
    r = import_(b, bundle, f.fingerprint)
    assert r.status_code == 400 and error_code(r) == "invalid_request", r.text
    assert secret_names(b, good) == []


def test_refused_import_cannot_park_a_dek_id(pair, owner_secrets, fresh_b):
    """A refused import adds nothing to B's keyring: not a DEK id a later genuine import
    needs, under a wrong key (then: 409 for the genuine bundle), nor (below) enough DEKs to
    fill its 64 slots (then: 507)."""
    a, _ = pair
    b = fresh_b
    f = Forger()
    owner = unique("park")
    rep = report(b, "00" * 16)
    genuine = export(a, b).text
    a_deks = [d["id"] for d in json.loads(genuine)["deks"]]
    # A's DEK ids (they are in any bundle of A, and on A's GET /v1/keys) under keys of the
    # forger's, with a row that does not open: refused after the DEKs opened
    for dek in a_deks:
        r = import_(b, f.bundle(rep, {dek: os.urandom(32)}, [(owner, "k", 1, "dek_00", "x")]),
                    f.fingerprint)
        assert r.status_code == 422 and error_code(r) == "bundle_invalid", r.text
    r = import_(b, genuine, fingerprint(a))
    assert r.status_code == 200, r.text  # not 409: no id was left parked under a wrong key
    o, values = owner_secrets
    assert read_all(b, o, values).json()["result"] == values


def test_refused_imports_use_no_keyring_slots(pair, owner_secrets, fresh_b):
    a, _ = pair
    b = fresh_b
    f = Forger()
    owner = unique("slots")
    rep = report(b, "00" * 16)
    genuine = export(a, b).text
    # more refused imports than the keyring has slots, each bringing a fresh DEK
    for i in range(70):
        dek, key = new_dek()
        b_tampered = f.bundle(rep, {dek: key}, [(owner, "k", 1, dek, "x")])
        blob = b_tampered["secrets"][0]["blob"]
        b_tampered["secrets"][0]["blob"] = blob[:-2] + ("00" if blob[-2:] != "00" else "01")
        f.sign(b_tampered)
        r = import_(b, b_tampered, f.fingerprint)
        assert r.status_code == 422 and error_code(r) == "bundle_invalid", (i, r.text)
    assert secret_names(b, owner) == []
    r = import_(b, genuine, fingerprint(a))
    assert r.status_code == 200, r.text
    o, values = owner_secrets
    assert read_all(b, o, values).json()["result"] == values
    # and the imported keys are what B's keyring now holds: a restart agrees
    b.restart()
    assert read_all(b, o, values).json()["result"] == values


def test_export_is_one_snapshot_under_rotation(tmp_path):
    """Rotations running during exports: every bundle must carry the DEK of every row it holds
    (export holds the rotation lock), or B's import of it fails (422)."""
    a = start_daemon(tmp_path / "ra", TRUST)
    b = start_daemon(tmp_path / "rb", TRUST)
    try:
        owner = unique("snap")
        t = a.create_token("developer", owner)["token"]
        for i in range(150):
            assert a.api("PUT", f"/v1/secrets/s{i}", t, json={"value": f"v{i}"}).status_code == 201
        stop = threading.Event()
        rotations = []

        def rotate():
            # each rotation keeps its DEK in A's memory (64 slots): stay well below
            while not stop.is_set() and len(rotations) < 40:
                rotations.append(a.api("POST", "/v1/keys/rotate", a.admin, timeout=60).status_code)

        th = threading.Thread(target=rotate)
        th.start()
        bundles = []
        try:
            while th.is_alive() and len(bundles) < 40:
                r = export(a, b)
                assert r.status_code == 200, r.text
                bundles.append(r.text)
        finally:
            stop.set()
            th.join()
        assert rotations and set(rotations) == {200}
        for text in bundles:
            bundle = json.loads(text)
            carried = {d["id"] for d in bundle["deks"]}
            assert {row["dek_id"] for row in bundle["secrets"]} <= carried
        imp = import_(b, bundles[-1], fingerprint(a))
        assert imp.status_code == 200, imp.text
        assert read_all(b, owner, ["s0", "s149"]).json()["result"] == {"s0": "v0", "s149": "v149"}
    finally:
        a.stop()
        b.stop()
