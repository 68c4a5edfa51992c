#include "runtime/js_crypto.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>
#include <sys/random.h>

#include <openssl/core_names.h>
#include <openssl/crypto.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/params.h>

#include "common/proto.h"
#include "runtime/js_args.h"

#define SHA256_LEN 32u
#define RANDOM_MAX 1024u
#define OUT_MAX (2 * RANDOM_MAX + 1) /* hex of RANDOM_MAX bytes; base64 needs less */

static EVP_MD *sha256_md;
static EVP_MAC *hmac_mac;

static int sha256(const void *data, size_t len, uint8_t out[SHA256_LEN])
{
    unsigned int n = 0;
    return EVP_Digest(data, len, out, &n, sha256_md, NULL) == 1 && n == SHA256_LEN ? 0 : -EIO;
}

static int hmac_sha256(const void *key, size_t key_len, const void *data, size_t len,
                       uint8_t out[SHA256_LEN])
{
    static const uint8_t empty[1];
    char digest_name[] = "SHA256";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string(OSSL_MAC_PARAM_DIGEST, digest_name, 0),
        OSSL_PARAM_construct_end(),
    };
    size_t n = 0;
    EVP_MAC_CTX *c = EVP_MAC_CTX_new(hmac_mac);
    /* a NULL key means "keep the previous key" to EVP_MAC_init: pass a real, empty one */
    int ok = c && EVP_MAC_init(c, key ? key : empty, key_len, params) == 1 &&
             EVP_MAC_update(c, data ? data : empty, len) == 1 &&
             EVP_MAC_final(c, out, &n, SHA256_LEN) == 1 && n == SHA256_LEN;
    EVP_MAC_CTX_free(c); /* cleanses the key schedule */
    return ok ? 0 : -EIO;
}

static int matches_hex(const uint8_t *got, size_t len, const char *hex)
{
    static const char digits[] = "0123456789abcdef";
    if (strlen(hex) != 2 * len) return 0;
    for (size_t i = 0; i < len; i++)
        if (hex[2 * i] != digits[got[i] >> 4] || hex[2 * i + 1] != digits[got[i] & 15]) return 0;
    return 1;
}

int js_crypto_init(void)
{
    if (sha256_md && hmac_mac) return 0;
    /* no openssl.cnf: nothing of the host's configuration decides what workers run */
    if (OPENSSL_init_crypto(OPENSSL_INIT_NO_LOAD_CONFIG, NULL) != 1) return -EIO;
    if (!sha256_md) sha256_md = EVP_MD_fetch(NULL, "SHA256", NULL);
    if (!hmac_mac) hmac_mac = EVP_MAC_fetch(NULL, "HMAC", NULL);
    if (!sha256_md || !hmac_mac) return -EIO;
    /* Known answers (FIPS 180-2 "abc"; RFC 4231 test case 2). Computing them is also what
     * runs OpenSSL's one-time initialisations (pthread_once wake-ups, the method store, the
     * HMAC digest lookup) now, while the zygote may still make any system call. */
    uint8_t out[SHA256_LEN];
    if (sha256("abc", 3, out) ||
        !matches_hex(out, sizeof out,
                     "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"))
        return -EIO;
    static const char data[] = "what do ya want for nothing?";
    if (hmac_sha256("Jefe", 4, data, sizeof data - 1, out) ||
        !matches_hex(out, sizeof out,
                     "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"))
        return -EIO;
    if (hmac_sha256(NULL, 0, NULL, 0, out) ||
        !matches_hex(out, sizeof out,
                     "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"))
        return -EIO;
    ERR_clear_error(); /* sets up this thread's error queue, which workers inherit */
    return 0;
}

enum encoding { ENC_HEX, ENC_BASE64 };

static enum encoding read_encoding(duk_context *ctx, duk_idx_t opts, const char *fn)
{
    if (duk_is_null_or_undefined(ctx, opts)) return ENC_HEX;
    if (!duk_is_object(ctx, opts) || duk_is_function(ctx, opts))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR, "crypto.%s: options must be an object", fn);
    js_get_own(ctx, opts, "encoding");
    enum encoding e = ENC_HEX;
    const char *s = js_is_text(ctx, -1) ? duk_get_string(ctx, -1) : NULL;
    if (s && strcmp(s, "base64") == 0) e = ENC_BASE64;
    else if (!duk_is_undefined(ctx, -1) && !(s && strcmp(s, "hex") == 0))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                        "crypto.%s: options.encoding must be 'hex' or 'base64'", fn);
    duk_pop(ctx);
    return e;
}

/* Bytes of a string (its UTF-8) or of a buffer object. Type-checked before any allocation. */
struct bytes {
    const uint8_t *p;
    size_t len;
    char *owned; /* the UTF-8 copy of a string: wiped and freed by bytes_release */
};

static void require_bytes_arg(duk_context *ctx, duk_idx_t idx, const char *fn, const char *what)
{
    if (!js_is_text(ctx, idx) && !duk_is_buffer_data(ctx, idx))
        (void)duk_error(ctx, DUK_ERR_TYPE_ERROR,
                        "crypto.%s: %s must be a string, an ArrayBuffer or a typed array", fn,
                        what);
}

/* Never throws; ends the worker when out of C memory, as every host API does. */
static void bytes_get(duk_context *ctx, duk_idx_t idx, struct bytes *b)
{
    memset(b, 0, sizeof *b);
    if (js_is_text(ctx, idx)) {
        b->owned = js_utf8_dup(ctx, idx, &b->len);
        if (!b->owned) _exit(WORKER_EXIT_NOMEM);
        b->p = (const uint8_t *)b->owned;
    } else {
        duk_size_t n = 0;
        b->p = duk_get_buffer_data(ctx, idx, &n);
        b->len = b->p ? n : 0; /* a view outside its buffer reads as empty */
    }
}

static void bytes_release(struct bytes *b)
{
    js_wipe_free(b->owned, b->len);
    memset(b, 0, sizeof *b);
}

/* Writes raw as hex or base64 into text (OUT_MAX bytes); returns the length. */
static size_t encode(const uint8_t *raw, size_t len, enum encoding e, char *text)
{
    static const char digits[] = "0123456789abcdef";
    if (e == ENC_BASE64) return (size_t)EVP_EncodeBlock((unsigned char *)text, raw, (int)len);
    for (size_t i = 0; i < len; i++) {
        text[2 * i] = digits[raw[i] >> 4];
        text[2 * i + 1] = digits[raw[i] & 15];
    }
    return 2 * len;
}

/* Pushes raw encoded, wiping raw and the text first even when the push fails. */
static duk_ret_t push_encoded(duk_context *ctx, uint8_t *raw, size_t len, enum encoding e)
{
    char text[OUT_MAX];
    size_t n = encode(raw, len, e, text);
    OPENSSL_cleanse(raw, len);
    int rc = js_push_lstring_safe(ctx, text, n);
    OPENSSL_cleanse(text, sizeof text);
    if (rc) return duk_throw(ctx);
    return 1;
}

static void require_ready(duk_context *ctx)
{
    if (!sha256_md || !hmac_mac) (void)duk_error(ctx, DUK_ERR_ERROR, "crypto is not available");
}

/* crypto.sha256(data[, options]) */
static duk_ret_t js_sha256(duk_context *ctx)
{
    require_ready(ctx);
    require_bytes_arg(ctx, 0, "sha256", "data");
    enum encoding e = read_encoding(ctx, 1, "sha256");
    struct bytes data;
    bytes_get(ctx, 0, &data);
    uint8_t md[SHA256_LEN];
    int rc = sha256(data.p, data.len, md);
    bytes_release(&data);
    if (rc) return duk_error(ctx, DUK_ERR_ERROR, "crypto.sha256 failed");
    return push_encoded(ctx, md, sizeof md, e);
}

/* crypto.hmacSha256(key, data[, options]) */
static duk_ret_t js_hmac_sha256(duk_context *ctx)
{
    require_ready(ctx);
    require_bytes_arg(ctx, 0, "hmacSha256", "key");
    require_bytes_arg(ctx, 1, "hmacSha256", "data");
    enum encoding e = read_encoding(ctx, 2, "hmacSha256");
    struct bytes key, data;
    bytes_get(ctx, 0, &key);
    bytes_get(ctx, 1, &data);
    uint8_t mac[SHA256_LEN];
    int rc = hmac_sha256(key.p, key.len, data.p, data.len, mac);
    bytes_release(&key);
    bytes_release(&data);
    if (rc) return duk_error(ctx, DUK_ERR_ERROR, "crypto.hmacSha256 failed");
    return push_encoded(ctx, mac, sizeof mac, e);
}

/* crypto.randomBytes(n[, options]) */
static duk_ret_t js_random_bytes(duk_context *ctx)
{
    if (!duk_is_number(ctx, 0))
        return duk_error(ctx, DUK_ERR_TYPE_ERROR, "crypto.randomBytes: n must be a number");
    double n = duk_get_number(ctx, 0);
    if (!(n >= 1 && n <= RANDOM_MAX) || n != (double)(size_t)n)
        return duk_error(ctx, DUK_ERR_RANGE_ERROR,
                         "crypto.randomBytes: n must be an integer from 1 to %u", RANDOM_MAX);
    enum encoding e = read_encoding(ctx, 1, "randomBytes");
    uint8_t buf[RANDOM_MAX];
    size_t len = (size_t)n, got = 0;
    while (got < len) {
        ssize_t r = getrandom(buf + got, len - got, 0);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            OPENSSL_cleanse(buf, sizeof buf);
            return duk_error(ctx, DUK_ERR_ERROR, "crypto.randomBytes: no entropy");
        }
        got += (size_t)r;
    }
    return push_encoded(ctx, buf, len, e);
}

void js_crypto_install(duk_context *ctx, duk_idx_t global_idx)
{
    static const duk_function_list_entry funcs[] = {
        {"sha256", js_sha256, 2},
        {"hmacSha256", js_hmac_sha256, 3},
        {"randomBytes", js_random_bytes, 2},
        {NULL, NULL, 0},
    };
    global_idx = duk_require_normalize_index(ctx, global_idx);
    duk_push_object(ctx);
    duk_put_function_list(ctx, -1, funcs);
    duk_freeze(ctx, -1); /* a function cannot swap crypto.hmacSha256 for its own */
    duk_put_prop_string(ctx, global_idx, "crypto");
}
