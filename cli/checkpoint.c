#include "cli/checkpoint.h"

#include <errno.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "attestation/ecsig.h"
#include "cli/util.h"

#define MESSAGE_TAG "fnbox-audit-checkpoint-v1"

static int fail(char *err, size_t errlen, const char *what)
{
    snprintf(err, errlen, "%s", what);
    return -1;
}

static int get_int(const json_t *o, const char *key, long long *out)
{
    const json_t *v = json_object_get(o, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0) return -1;
    *out = (long long)json_integer_value(v);
    return 0;
}

int fnbox_checkpoint_parse(const json_t *j, struct fnbox_checkpoint *cp, char *err, size_t errlen)
{
    memset(cp, 0, sizeof *cp);
    if (!json_is_object(j)) return fail(err, errlen, "not a JSON object");
    const json_t *inner = json_object_get(j, "checkpoint");
    if (json_object_get(j, "seq") == NULL && json_is_object(inner)) j = inner;

    if (get_int(j, "seq", &cp->seq) != 0)
        return fail(err, errlen, "\"seq\" must be a non-negative integer");
    if (get_int(j, "time", &cp->time) != 0)
        return fail(err, errlen, "\"time\" must be a non-negative integer (unix seconds)");
    const char *hash = json_string_value(json_object_get(j, "hash"));
    if (hash == NULL || strlen(hash) != 64 || strspn(hash, "0123456789abcdef") != 64)
        return fail(err, errlen, "\"hash\" must be 64 lowercase hex digits");
    memcpy(cp->hash, hash, 65);

    const char *sig = json_string_value(json_object_get(j, "signature"));
    if (sig == NULL || fnbox_unhex(sig, cp->sig, sizeof cp->sig, &cp->sig_len) != 0)
        return fail(err, errlen, "\"signature\" must be the hex of a DER ECDSA signature");
    const char *pub = json_string_value(json_object_get(j, "public_key"));
    if (pub == NULL || fnbox_unhex(pub, cp->pub, sizeof cp->pub, &cp->pub_len) != 0)
        return fail(err, errlen, "\"public_key\" must be the hex of a DER SubjectPublicKeyInfo");

    const json_t *ks = json_object_get(j, "key_scheme");
    if (ks != NULL && !json_is_null(ks)) {
        const char *k = json_string_value(ks);
        if (k == NULL || strlen(k) >= sizeof cp->key_scheme)
            return fail(err, errlen, "\"key_scheme\" must be \"p256\" or \"secp256k1\"");
        memcpy(cp->key_scheme, k, strlen(k) + 1);
    }

    const json_t *kid = json_object_get(j, "key_id");
    if (kid != NULL && !json_is_null(kid)) {
        const char *k = json_string_value(kid);
        if (k == NULL || strlen(k) >= sizeof cp->key_id)
            return fail(err, errlen, "\"key_id\" must be a string of at most 128 characters");
        fnbox_sanitize(cp->key_id, sizeof cp->key_id, k, strlen(k));
    }

    unsigned char digest[EVP_MAX_MD_SIZE];
    unsigned int dlen = 0;
    if (EVP_Digest(cp->pub, cp->pub_len, digest, &dlen, EVP_sha256(), NULL) != 1 || dlen != 32)
        return fail(err, errlen, "cannot hash the public key (OpenSSL failed)");
    fnbox_hex(cp->pub_sha256, digest, 32);
    return 0;
}

int fnbox_checkpoint_message(const struct fnbox_checkpoint *cp, char *buf, size_t len)
{
    int n = snprintf(buf, len, MESSAGE_TAG "\n%lld\n%s\n%lld", cp->seq, cp->hash, cp->time);
    return n < 0 || (size_t)n >= len ? -1 : n;
}

int fnbox_checkpoint_verify(const struct fnbox_checkpoint *cp, char *err, size_t errlen)
{
    char msg[160];
    int len = fnbox_checkpoint_message(cp, msg, sizeof msg);
    if (len < 0) return fail(err, errlen, "checkpoint fields too long");
    enum ecsig_scheme scheme;
    if (ecsig_spki_parse(cp->pub, cp->pub_len, &scheme, NULL) != 0)
        return fail(err, errlen, "public_key is not a P-256 or secp256k1 key (DER SPKI)");
    if (cp->key_scheme[0] != '\0' && strcmp(cp->key_scheme, ecsig_scheme_name(scheme)) != 0)
        return fail(err, errlen, "key_scheme is not the scheme of public_key");
    int rc = ecsig_verify(cp->pub, cp->pub_len, msg, (size_t)len, cp->sig, cp->sig_len);
    if (rc == -EBADMSG)
        return fail(err, errlen, "the signature does not match (seq, hash, time) under public_key");
    if (rc != 0) return fail(err, errlen, "cannot check the signature (OpenSSL failed)");
    return 0;
}
