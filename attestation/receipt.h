/* Signed receipts: what one invocation did, in canonical bytes that a contract or the openssl
 * command line can rebuild, signed by the instance key. Plain C over libcrypto and jansson
 * (with attestation/evidence.c); no seal_*, no gateway/. Byte by byte: docs/attestation.md.
 *
 * Receipt JSON: {"invocation_id","function","version":int,"code_sha256","input_sha256",
 *   "output_sha256","measurement","time":int,"isolation":"process"|"snapshot",
 *   "fetches":[{"url","status":int,"response_sha256","tls_peer_sha256"?}],
 *   "secrets":[names], "key_scheme":"p256"|"secp256k1","public_key":hex SPKI DER,
 *   "signature":hex r‖s (64 bytes, low-s),"signature_der":hex DER of that same (r, s),
 *   secp256k1 only: "recovery_id":0|1 (EVM v = 27 + recovery_id),"address":"0x" 40 hex}
 *
 * Canonical bytes: "fnbox-receipt-v2\n", then each of these followed by "\n":
 *   invocation_id, function, decimal(version), code_sha256, input_sha256, output_sha256,
 *   measurement, decimal(time), isolation, decimal(number of fetches), for each fetch: url,
 *   decimal(status), response_sha256, tls_peer_sha256 ("" when absent or null), then
 *   decimal(number of secrets) and each secret name in order. A receipt without "isolation"
 *   is a v1 receipt (an older fnboxd): "fnbox-receipt-v1\n" and no isolation line.
 * Signature: ECDSA with the instance key's scheme (attestation/ecsig.h) over SHA-256(canonical
 * bytes), s normalised to ≤ n/2.
 *
 * Field rules (receipt_bytes refuses anything else with -EINVAL): invocation_id, function,
 * url and secret names non-empty strings without '\n' or NUL; the *_sha256 fields and
 * measurement 64 lowercase hex digits (tls_peer_sha256 may also be absent or null); version
 * and time non-negative integers; status an integer 0..999; fetches and secrets arrays (may be
 * empty). key_scheme, public_key, signature, signature_der, recovery_id, address and any other
 * member are not part of the canonical bytes.
 *
 * Return values as in evidence.h: 0, -EBADMSG (does not verify: `why` says why), -EINVAL,
 * -ENOMEM, -EIO. */
#ifndef FNBOX_RECEIPT_H
#define FNBOX_RECEIPT_H

#include <stddef.h>

#include <jansson.h>
#include <openssl/evp.h>

/* The canonical bytes of a receipt. *bytes is malloc'd, NUL-terminated (not counted in *len),
 * the caller's to free. -EINVAL (and *bytes NULL) when a field breaks the rules above. */
int receipt_bytes(const json_t *receipt, char **bytes, size_t *len);

/* Signs a receipt with key (a p256 or secp256k1 key pair): sets "key_scheme", "public_key",
 * "signature" (r‖s, low-s) and "signature_der" (the DER of the same signature), and for
 * secp256k1 "recovery_id" and "address", replacing any earlier values (a p256 signature
 * removes them). -EINVAL when receipt_bytes refuses the receipt or key is of neither scheme
 * (the receipt is then left unchanged). */
int receipt_sign(EVP_PKEY *key, json_t *receipt);

/* 0 only when the receipt's fields follow the rules above, public_key is one p256 or
 * secp256k1 SPKI in its one spelling and key_scheme names its scheme (and, when
 * expected_public_key_hex is not NULL, public_key is the same bytes as it: pass
 * the public_key of an attestation report verified first — without it a receipt only proves
 * it was signed by the key it names), signature is 128 lowercase hex digits with s ≤ n/2,
 * signature_der is the DER of exactly that (r, s), and it verifies over the canonical bytes;
 * for secp256k1 also recovery_id is 0 or 1 and recovers exactly public_key from
 * (SHA-256(canonical bytes), r, s), and address is public_key's Ethereum address.
 * A high-s signature is refused (it is valid ECDSA, but receipt_sign never makes one: someone
 * changed it). Members outside the format are ignored. -EBADMSG with why ("ok" on success);
 * -EINVAL when expected_public_key_hex is not hex. */
int receipt_verify(const json_t *receipt, const char *expected_public_key_hex, char *why,
                   size_t whylen);

#endif
