/* checkpoint: signed audit checkpoints of fnboxd, checked locally with OpenSSL (no I/O).
 * A checkpoint is the JSON object {"seq","hash","time","signature","public_key","key_scheme",
 * "key_id"}: an ECDSA signature by the instance key (P-256, or secp256k1 when fnboxd runs with
 * --key-scheme secp256k1: attestation/ecsig.h), over SHA-256 of the bytes
 *   "fnbox-audit-checkpoint-v1\n" <seq> "\n" <hash> "\n" <time>
 * (seq and time in decimal, hash the 64 lowercase hex digits of the audit entry seq's hash,
 * no trailing newline). "signature" is the hex of the DER signature, "public_key" the hex of
 * the key's DER SubjectPublicKeyInfo, "key_id" a label (it is not signed).
 * - fnbox_checkpoint_parse(): the fields of a checkpoint object, or of the "checkpoint"
 *   member of an object that has one (a GET /v1/audit response). 0, or -1 with a reason.
 * - fnbox_checkpoint_message(): the signed bytes; returns their length (< len), or -1.
 * - fnbox_checkpoint_verify(): 0 when the signature is valid under the public key it carries
 *   (and key_scheme, when present, names that key's scheme); -1 otherwise, with a reason (not
 *   a P-256 or secp256k1 key in its one DER spelling, or a bad signature).
 * A valid signature shows only that the holder of that key signed this head: compare the
 * key (its SHA-256, pub_sha256) with one you trust, e.g. the server's current checkpoint's. */
#ifndef FNBOX_CLI_CHECKPOINT_H
#define FNBOX_CLI_CHECKPOINT_H

#include <jansson.h>
#include <stddef.h>

#define FNBOX_CHECKPOINT_SIG_MAX 160 /* a DER P-256 signature is at most 72 bytes */
#define FNBOX_CHECKPOINT_PUB_MAX 512 /* a P-256 SubjectPublicKeyInfo is 91 bytes */

struct fnbox_checkpoint {
    long long seq;
    long long time;
    char hash[65];    /* lowercase hex */
    char key_id[129]; /* "" when absent */
    char key_scheme[16]; /* "" when absent (it is informative: public_key names its curve) */
    unsigned char sig[FNBOX_CHECKPOINT_SIG_MAX];
    size_t sig_len;
    unsigned char pub[FNBOX_CHECKPOINT_PUB_MAX];
    size_t pub_len;
    char pub_sha256[65]; /* SHA-256 of pub, lowercase hex: the key's fingerprint */
};

int fnbox_checkpoint_parse(const json_t *j, struct fnbox_checkpoint *cp, char *err, size_t errlen);
int fnbox_checkpoint_message(const struct fnbox_checkpoint *cp, char *buf, size_t len);
int fnbox_checkpoint_verify(const struct fnbox_checkpoint *cp, char *err, size_t errlen);

#endif
