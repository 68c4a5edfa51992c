"""The tsm evidence provider against a stand-in configfs-tsm directory (faketsm.py plays the
kernel's part; fnboxd runs the code it runs against /sys/kernel/config/tsm): the report data
written to inblob, the report and its quote, `fnbox verify` on genuine and altered reports,
`--attestation auto` falling back, `--attestation tsm` refusing to start without configfs-tsm.

Run: cd tests/integration && FNBOX_BUILD=/abs/build /usr/bin/python3 -m pytest -q test_attestation_tsm.py
"""

import hashlib
import json
import os
import secrets as pysecrets
import shutil
import subprocess
import tempfile

import pytest
import requests

import faketsm
from conftest import binary, start_daemon

TDX_MRTD, TDX_RTMR0, TDX_RD = 184, 376, 568
SNP_RD, SNP_MEAS = 0x50, 0x90


def nonce():
    return pysecrets.token_hex(32)


def binding(n, report):
    return hashlib.sha512(bytes.fromhex(n) + bytes.fromhex(report["public_key"])
                          + bytes.fromhex(report["measurement"])).digest()


def fnbox(*args):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNBOX_")}
    return subprocess.run([binary("fnbox"), *args], env=env, capture_output=True, text=True,
                          timeout=30)


def verify(path, n, *extra):
    return fnbox("verify", "--attestation", str(path), "--nonce", n, *extra)


@pytest.fixture
def tsm_root():
    """A directory the gateway's uid can reach after the privilege drop (pytest's own
    temporary directories are root's alone), as /sys/kernel/config is."""
    d = tempfile.mkdtemp(prefix="fnbox-tsm-")
    os.chmod(d, 0o755)
    yield os.path.join(d, "tsm")
    shutil.rmtree(d, ignore_errors=True)


@pytest.fixture(params=["tdx", "sev-snp"])
def tsm_daemon(request, tsm_root, tmp_path):
    fake = faketsm.FakeTsm(tsm_root, request.param)
    d = start_daemon(tmp_path / "fnboxd", ["--attestation", "tsm", "--tsm-root", tsm_root])
    yield d, fake, request.param
    d.stop()
    fake.stop()


# /readyz's confinement members and the report's tokens (docs/attestation.md, Confinement)
READYZ_TOKENS = {
    "bounding_set_dropped": "bounding-set-dropped", "mount_namespace_empty_root": "fs-hidden",
    "ipc_namespace": "ipc-ns", "net_namespace": "net-ns", "no_new_privs": "no-new-privs",
    "pid_namespace": "pid-ns", "seccomp": "seccomp", "uid_switch": "uid-switch",
    "user_namespace": "user-ns", "uts_namespace": "uts-ns", "zygote_seccomp": "zygote-seccomp",
}


def readyz_confinement(d):
    """The report's confinement string for what /readyz shows."""
    conf = requests.get(d.url("/readyz"), timeout=30).json()["confinement"]
    return ",".join(sorted(t for k, t in READYZ_TOKENS.items() if conf[k] is True)) or "none"


def get_report(d, tmp_path, n=None):
    n = n or nonce()
    out = tmp_path / f"att-{n[:8]}.json"
    r = requests.get(d.url("/v1/attestation"), params={"nonce": n}, timeout=30)
    assert r.status_code == 200, r.text
    out.write_text(r.text)
    return n, out, r.json()


def write(tmp_path, name, report):
    path = tmp_path / name
    path.write_text(json.dumps(report))
    return path


def flip(hexstr, byte_offset):
    b = bytearray(bytes.fromhex(hexstr))
    b[byte_offset] ^= 0x01
    return b.hex()


def test_tsm_report_binds_nonce_key_and_measurement(tsm_daemon, tmp_path):
    d, fake, flavour = tsm_daemon
    assert "provider tsm, platform " + flavour in d.stderr()
    n, path, rep = get_report(d, tmp_path)
    assert rep["provider"] == "tsm" and rep["platform"] == flavour
    assert rep["tee_id"] == flavour and rep["hardware_backed"] is True
    assert rep["key_scheme"] == "p256" and rep["nonce"] == n
    want = binding(n, rep)
    # exactly SHA-512(nonce || key || measurement) went to inblob, and the quote carries it
    assert fake.seen[-1] == want
    assert rep["report_data"] == want.hex()
    quote = bytes.fromhex(rep["quote"])
    if flavour == "tdx":
        assert quote[TDX_RD:TDX_RD + 64] == want
        assert rep["tdx"]["mrtd"] == faketsm.MRTD.hex()
        assert [rep["tdx"][f"rtmr{i}"] for i in range(4)] == [r.hex() for r in faketsm.RTMRS]
        assert rep["tdx"]["version"] == 4 and rep["tdx"]["debug"] is False
        assert "sev_snp" not in rep
    else:
        assert len(quote) == 0x4a0 and quote[SNP_RD:SNP_RD + 64] == want
        assert rep["sev_snp"]["measurement"] == faketsm.SNP_MEASUREMENT.hex()
        assert "tdx" not in rep
    p = verify(path, n, "--expect-measurement", rep["measurement"])
    assert p.returncode == 0, (p.stdout, p.stderr)
    assert "NOT checked" in p.stdout and "signature chain was NOT checked" in p.stdout
    assert ("Intel DCAP QVL" if flavour == "tdx" else "snpguest verify") in p.stdout
    assert "NOT hardware-backed" not in p.stdout
    # the signed confinement (format v4) is the one /readyz shows
    assert rep["confinement"] == readyz_confinement(d)
    assert f"note   confinement: {rep['confinement']}" in p.stdout, p.stdout
    # another nonce, another quote; the old report does not answer the new nonce
    n2, path2, rep2 = get_report(d, tmp_path)
    assert rep2["quote"] != rep["quote"] and fake.seen[-1] == binding(n2, rep2)
    assert verify(path, n2).returncode == 1


def test_altered_tsm_reports_fail(tsm_daemon, tmp_path):
    d, _fake, flavour = tsm_daemon
    n, path, rep = get_report(d, tmp_path)
    assert verify(path, n).returncode == 0
    rd_off, meas_off = (TDX_RD, TDX_MRTD) if flavour == "tdx" else (SNP_RD, SNP_MEAS)
    fields = "tdx" if flavour == "tdx" else "sev_snp"
    shown = "mrtd" if flavour == "tdx" else "measurement"
    alterations = {
        "quote report data": lambda r: r.update(quote=flip(r["quote"], rd_off + 5)),
        "quote measurement": lambda r: r.update(quote=flip(r["quote"], meas_off + 47)),
        "quote last byte": lambda r: r.update(quote=flip(r["quote"], len(r["quote"]) // 2 - 1)),
        "quote truncated": lambda r: r.update(quote=r["quote"][:-2]),
        "quote removed": lambda r: r.pop("quote"),
        "shown register": lambda r: r[fields].update({shown: flip(r[fields][shown], 0)}),
        "fields removed": lambda r: r.pop(fields),
        "report_data": lambda r: r.update(report_data=flip(r["report_data"], 0)),
        "platform": lambda r: r.update(platform="sev-snp" if flavour == "tdx" else "tdx"),
        "hardware_backed": lambda r: r.update(hardware_backed=False),
        "provider": lambda r: r.update(provider="software"),
        "confinement": lambda r: r.update(confinement="none"),
        "confinement removed": lambda r: r.pop("confinement"),
    }
    for what, alter in alterations.items():
        bad = json.loads(json.dumps(rep))
        alter(bad)
        p = verify(write(tmp_path, f"bad-{what.replace(' ', '-')}.json", bad), n)
        assert p.returncode == 1 and "FAILED" in p.stdout, (what, p.stdout)


def _sign_v4(report, key):
    """Signs a tsm report as fnboxd does (docs/attestation.md, format v4), with the test's key:
    so that only the quote checks can refuse what follows."""
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    spki = key.public_key().public_bytes(serialization.Encoding.DER,
                                         serialization.PublicFormat.SubjectPublicKeyInfo)
    report["public_key"] = spki.hex()
    report["report_data"] = hashlib.sha512(bytes.fromhex(report["nonce"]) + spki
                                           + bytes.fromhex(report["measurement"])).hexdigest()
    lines = [report[k] for k in ("provider", "platform", "tee_id", "measurement", "public_key",
                                 "nonce", "report_data")]
    lines += [str(report["time"]), hashlib.sha256(bytes.fromhex(report["quote"])).hexdigest(),
              report["confinement"]]
    msg = ("fnbox-attestation-v4\n" + "".join(x + "\n" for x in lines)).encode()
    report["signature"] = key.sign(msg, ec.ECDSA(hashes.SHA256())).hex()
    return report


def test_quote_with_other_report_data_is_rejected(tmp_path):
    pytest.importorskip("cryptography")
    from cryptography.hazmat.primitives.asymmetric import ec
    key = ec.generate_private_key(ec.SECP256R1())
    n = nonce()
    for flavour in ("tdx", "sev-snp"):
        fields = "tdx" if flavour == "tdx" else "sev_snp"
        base = {"provider": "tsm", "platform": flavour, "hardware_backed": True,
                "tee_id": flavour, "measurement": "ab" * 32, "key_scheme": "p256", "nonce": n,
                "time": 1718000000, "confinement": "net-ns,seccomp"}
        if flavour == "tdx":
            shown = {"version": 4, "debug": False, "mrtd": faketsm.MRTD.hex(),
                     **{f"rtmr{i}": r.hex() for i, r in enumerate(faketsm.RTMRS)}}
        else:
            shown = {"version": 2, "debug": False,
                     "measurement": faketsm.SNP_MEASUREMENT.hex()}
        make = faketsm.tdx_quote if flavour == "tdx" else faketsm.snp_report

        def report(rd):
            r = dict(base, quote=make(rd).hex(), **{fields: shown})
            return _sign_v4(r, key)

        # the honest one, built by this test from the documented format, verifies
        good = report(b"\0" * 64)
        good = report(bytes.fromhex(good["report_data"]))
        p = verify(write(tmp_path, f"good-{flavour}.json", good), n)
        assert p.returncode == 0, (flavour, p.stdout, p.stderr)
        # a quote made for other data (another key, nonce or measurement), signed all the same
        other = bytearray(bytes.fromhex(good["report_data"]))
        other[10] ^= 0xff
        bad = report(bytes(other))
        assert bad["report_data"] == good["report_data"]
        p = verify(write(tmp_path, f"bad-{flavour}.json", bad), n)
        assert p.returncode == 1, (flavour, p.stdout)
        assert "quote's report data is not SHA-512" in p.stdout, p.stdout


def test_server_refuses_a_quote_for_other_data(tsm_root, tmp_path):
    """The stand-in answers fnboxd's start-up probe (its report data is documented in
    attestation/provider.c), then other data than was written: fnboxd signs nothing."""
    probe = hashlib.sha512(b"fnbox tsm start-up probe").digest()

    def tamper(rd):
        return rd if rd == probe else bytes(64)

    fake = faketsm.FakeTsm(tsm_root, "tdx", tamper=tamper)
    d = start_daemon(tmp_path / "fnboxd", ["--attestation", "tsm", "--tsm-root", tsm_root])
    try:
        r = requests.get(d.url("/v1/attestation"), params={"nonce": nonce()}, timeout=30)
        assert r.status_code == 503, r.text
        assert r.json()["error"]["code"] == "attestation_unavailable"
        assert "other report data" in r.json()["error"]["message"]
    finally:
        d.stop()
        fake.stop()


@pytest.mark.parametrize("layout", ["absent", "empty"])
def test_auto_falls_back_to_software(tsm_root, tmp_path, layout):
    if layout == "empty":
        os.makedirs(tsm_root)
    d = start_daemon(tmp_path / "fnboxd", ["--attestation", "auto", "--tsm-root", tsm_root])
    try:
        r = requests.get(d.url("/v1/attestation"), params={"nonce": nonce()}, timeout=30)
        assert r.status_code == 200 and r.json()["provider"] == "software"
        assert r.json()["hardware_backed"] is False
        err = d.stderr()
        assert "no usable configfs-tsm" in err and "provider software" in err, err
    finally:
        d.stop()


def test_auto_uses_tsm_when_present(tsm_root, tmp_path):
    fake = faketsm.FakeTsm(tsm_root, "sev-snp")
    d = start_daemon(tmp_path / "fnboxd", ["--attestation", "auto", "--tsm-root", tsm_root])
    try:
        r = requests.get(d.url("/v1/attestation"), params={"nonce": nonce()}, timeout=30)
        assert r.status_code == 200 and r.json()["provider"] == "tsm"
        assert r.json()["platform"] == "sev-snp"
    finally:
        d.stop()
        fake.stop()


@pytest.mark.parametrize("layout", ["absent", "no-kernel"])
def test_tsm_without_configfs_refuses_to_start(tsm_root, tmp_path, layout):
    if layout == "no-kernel":  # report/ exists, but nothing makes the entry's attributes
        os.makedirs(os.path.join(tsm_root, "report"))
    p = subprocess.run([binary("fnboxd"), "--listen", "127.0.0.1:0", "--data",
                        str(tmp_path / "data"), "--attestation", "tsm", "--tsm-root", tsm_root],
                       capture_output=True, text=True, timeout=30)
    assert p.returncode == 1, p.stderr
    assert "--attestation tsm" in p.stderr and "refusing to start" in p.stderr, p.stderr
    assert ("no configfs-tsm here" if layout == "absent" else "did not appear") in p.stderr


def test_bad_attestation_flag():
    p = subprocess.run([binary("fnboxd"), "--attestation", "sgx"], capture_output=True,
                       text=True, timeout=30)
    assert p.returncode == 2 and "--attestation" in p.stderr
    p = subprocess.run([binary("fnboxd"), "--help"], capture_output=True, text=True, timeout=30)
    assert "--attestation" in p.stdout and "--tsm-root" in p.stdout


def test_node_sample_checks_the_quote_binding(tsm_daemon):
    node = shutil.which("node")
    if node is None:
        pytest.skip("node is not installed")
    d, _fake, flavour = tsm_daemon
    token, _owner = d.developer()
    name = "tsm-pure"
    d.deploy_ok(name, "function main(input) { return {echo: input}; }", token)
    mjs = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(
        os.path.abspath(__file__)))), "samples", "verify", "verify.mjs")
    p = subprocess.run([node, mjs, d.base, token, name, "[1]"], capture_output=True, text=True,
                       timeout=60)
    assert p.returncode == 0, (p.stdout, p.stderr)
    for line in ("ok     report signature", "ok     quote report data", "ok     receipt signature"):
        assert line in p.stdout, p.stdout
    assert "quote signature: NOT checked" in p.stdout


def test_data_sealed_under_software_does_not_open_under_tsm(tsm_root, tmp_path):
    """The provider's tee_id names the key-encryption key (docs/operations.md): switching an
    instance's provider is a key migration, and fnboxd says so instead of starting."""
    d = start_daemon(tmp_path / "fnboxd", [])
    data = d.data
    d.stop()
    fake = faketsm.FakeTsm(tsm_root, "tdx")
    try:
        p = subprocess.run([binary("fnboxd"), "--listen", "127.0.0.1:0", "--data", data,
                            "--attestation", "tsm", "--tsm-root", tsm_root],
                           capture_output=True, text=True, timeout=30)
    finally:
        fake.stop()
    assert p.returncode == 1, p.stderr
    assert 'tee_id "tdx"' in p.stderr and "another --attestation provider" in p.stderr, p.stderr
