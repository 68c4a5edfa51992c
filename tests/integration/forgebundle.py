"""Builds fnbox-keys-v1 bundles outside fnbox, as an attacker (or an unrelated instance) could:
DEKs of its choosing sealed to the target's public attested key, secret rows sealed under
them, the whole signed by a key of its own. It follows the formats of secrets/seal.h,
secrets/aead.h, secrets/seal_transfer.h and gateway/migrate.h byte for byte (the positive
test, test_forged_bundle_from_the_named_source_imports, shows that it does), so what fnbox
refuses of it is refused for the reason tested, not for a formatting slip."""

import hashlib
import json
import os
import struct
import time

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

FORMAT = b"\x01"


def lp(b):
    if isinstance(b, str):
        b = b.encode()
    return struct.pack(">I", len(b)) + b


def aad(label, *fields):
    out = FORMAT + lp(label)
    for f in fields:
        out += struct.pack(">Q", f) if isinstance(f, int) else lp(f)
    return out


def seal(key, ad, pt):
    nonce = os.urandom(12)
    return FORMAT + nonce + AESGCM(key).encrypt(nonce, pt, ad)


def spki(pub):
    return pub.public_bytes(serialization.Encoding.DER,
                            serialization.PublicFormat.SubjectPublicKeyInfo)


class Forger:
    """An instance of the attacker's own: a P-256 signing key."""

    def __init__(self):
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.spki = spki(self.key.public_key())
        self.fingerprint = hashlib.sha256(self.spki).hexdigest()

    def bundle(self, report, deks, rows, made=None, mutate=None):
        """report: the target's attestation report (its public key is public).
        deks: {id: 32-byte key}. rows: [(owner, name, version, dek_id, value)], each sealed
        under its DEK (a dek_id not in deks gets a random blob). mutate(bundle) may change the
        bundle before it is signed."""
        peer = bytes.fromhex(report["public_key"])
        peer_key = serialization.load_der_public_key(peer)
        eph = ec.generate_private_key(peer_key.curve)
        eph_spki = spki(eph.public_key())
        binding = bytes.fromhex(report["report_data"]) + self.spki
        z = eph.exchange(ec.ECDH(), peer_key)
        info = aad("fnbox dek transfer v1", eph_spki, peer, binding)
        tk = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(z)
        sealed_deks = [{"id": i, "sealed": seal(tk, aad("fnbox transferred dek v1", i), k).hex()}
                       for i, k in deks.items()]
        secrets = []
        for owner, name, version, dek_id, value in rows:
            if dek_id in deks:
                blob = seal(deks[dek_id], aad("fnbox secret v1", owner, name, version, dek_id),
                            value.encode())
            else:
                blob = os.urandom(29 + len(value))
            secrets.append({"owner": owner, "name": name, "version": version, "dek_id": dek_id,
                            "blob": blob.hex(), "created_at": int(time.time())})
        b = {"format": "fnbox-keys-v1", "source_public_key": self.spki.hex(),
             "source_measurement": "00" * 32, "peer_public_key": report["public_key"],
             "peer_report_data": report["report_data"], "ephemeral_public_key": eph_spki.hex(),
             "time": int(time.time()) if made is None else made, "deks": sealed_deks,
             "secrets": secrets}
        if mutate:
            mutate(b)
        return self.sign(b)

    def sign(self, b):
        # jansson JSON_COMPACT | JSON_SORT_KEYS: no spaces, sorted keys, UTF-8 as is; control
        # characters as \uXXXX (the tests use only digits there, so the case of hex digits
        # does not matter)
        text = json.dumps({k: v for k, v in b.items() if k != "signature"}, separators=(",", ":"),
                          sort_keys=True, ensure_ascii=False)
        b["signature"] = self.key.sign(text.encode(), ec.ECDSA(hashes.SHA256())).hex()
        return b


def new_dek():
    return "dek_" + os.urandom(8).hex(), os.urandom(32)
