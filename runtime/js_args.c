#include "runtime/js_args.h"

#include <stdlib.h>

#include <openssl/crypto.h>

#include "common/utf8.h"

int js_is_text(duk_context *ctx, duk_idx_t idx)
{
    return duk_is_string(ctx, idx) && !duk_is_symbol(ctx, idx);
}

int js_get_own(duk_context *ctx, duk_idx_t obj, const char *key)
{
    obj = duk_require_normalize_index(ctx, obj);
    duk_push_string(ctx, key);
    duk_get_prop_desc(ctx, obj, 0); /* [key] -> [descriptor or undefined], own only */
    int own = !duk_is_undefined(ctx, -1);
    duk_pop(ctx);
    if (own) duk_get_prop_string(ctx, obj, key);
    else duk_push_undefined(ctx);
    return own;
}

char *js_utf8_dup(duk_context *ctx, duk_idx_t idx, size_t *len)
{
    duk_size_t n;
    const char *s = duk_get_lstring(ctx, idx, &n);
    return utf8_sanitize(s ? s : "", s ? n : 0, len);
}

void js_wipe_free(void *p, size_t len)
{
    if (!p) return;
    OPENSSL_cleanse(p, len);
    free(p);
}

struct lstr {
    const char *s;
    size_t len;
};

static duk_ret_t push_lstr(duk_context *ctx, void *udata)
{
    const struct lstr *l = udata;
    duk_push_lstring(ctx, l->s, l->len);
    return 1;
}

int js_push_lstring_safe(duk_context *ctx, const char *s, size_t len)
{
    struct lstr l = {s, len};
    return duk_safe_call(ctx, push_lstr, &l, 0, 1) == DUK_EXEC_SUCCESS ? 0 : -1;
}
