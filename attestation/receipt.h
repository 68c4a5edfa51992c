/* Signed receipts: what one invocation did, in canonical bytes that a contract or the openssl
 * command line can rebuild, signed by the instance key. Plain C over libcrypto and jansson
 * (with attestation/evidence.c); no seal_*, no gateway/. Byte by byte: docs/attestation.md.
 *
 * Receipt JSON: {"invocation_id","function","version":int,"code_sha256","input_sha256",
 *   "output_sha256","measurement","time":int,
 *   "fetches":[{"url","status":int,"response_sha256","tls_peer_sha256"?}],
 *   "secrets":[names], "key_scheme":"p256","public_key":hex SPKI DER,
 *   "signature":hex r‖s (64 bytes, low-s),"signature_der":hex DER of that same (r, s)}
 *
 * Canonical bytes: "fnbox-receipt-v1\n", then each of these followed by "\n":
 *   invocation_id, function, decimal(version), code_sha256, input_sha256, output_sha256,
 *   measurement, decimal(time), decimal(number of fetches), for each fetch in order: url,
 *   decimal(status), response_sha256, tls_peer_sha256 ("" when absent or null), then
 *   decimal(number of secrets) and each secret name in order.
 * Signature: ECDSA P-256 over SHA-256(canonical bytes), s normalised to ≤ n/2.
 *
 * Field rules (receipt_bytes refuses anything else with -EINVAL): invocation_id, function,
 * url and secret names non-empty strings without '\n' or NUL; the *_sha256 fields and
 * measurement 64 lowercase hex digits (tls_peer_sha256 may also be absent or null); version
 * and time non-negative integers; status an integer 0..999; fetches and secrets arrays (may be
 * empty). key_scheme, public_key, signature, signature_der and any other member are not part
 * of the canonical bytes.
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

/* Signs a receipt with key (a P-256 key pair): sets "key_scheme":"p256", "public_key",
 * "signature" (r‖s, low-s) and "signature_der" (the DER of the same signature), replacing
 * any earlier values. -EINVAL when receipt_bytes refuses the receipt or key is not P-256
 * (the receipt is then left unchanged). */
int receipt_sign(EVP_PKEY *key, json_t *receipt);

/* 0 only when the receipt's fields follow the rules above, key_scheme is "p256", public_key
 * is one P-256 SPKI (and, when expected_public_key_hex is not NULL, the same bytes as it: pass
 * the public_key of an attestation report verified first — without it a receipt only proves
 * it was signed by the key it names), signature is 128 lowercase hex digits with s ≤ n/2,
 * signature_der is the DER of exactly that (r, s), and it verifies over the canonical bytes.
 * A high-s signature is refused (it is valid ECDSA, but receipt_sign never makes one: someone
 * changed it). Members outside the format are ignored. -EBADMSG with why ("ok" on success);
 * -EINVAL when expected_public_key_hex is not hex. */
int receipt_verify(const json_t *receipt, const char *expected_public_key_hex, char *why,
                   size_t whylen);

#endif
