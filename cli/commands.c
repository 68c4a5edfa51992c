#include "cli/commands.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#include "cli/checkpoint.h"
#include "cli/io.h"
#include "cli/util.h"

#define CODE_MAX ((size_t)64 << 20)  /* deploy FILE; the server applies its own body limit */
#define INPUT_MAX ((size_t)64 << 20) /* invoke input */
#define SECRET_MAX ((size_t)1 << 20) /* secret value */
#define NONCE_BYTES 32

enum { SHOW_BODY_ON_ERROR = 1u };

static int oom(void)
{
    fnbox_errf("out of memory");
    return FNBOX_EXIT_ERROR;
}

static int usage(const struct fnbox_args *a, const char *what)
{
    fnbox_errf("%s: %s (see 'fnbox help %s')", a->cmd, what, a->cmd);
    return FNBOX_EXIT_USAGE;
}

static const char *opt1(const struct fnbox_args *a, enum fnbox_opt o)
{
    return a->opt[o].n > 0 ? a->opt[o].v[a->opt[o].n - 1] : NULL;
}

/* Paths are built in malloc'd strings; a helper that runs out of memory leaves NULL, which
 * perform() reports. */

/* "<prefix><escaped name><suffix>", or NULL. */
static char *path_with(const struct fnbox_args *a, const char *prefix, const char *name,
                       const char *suffix)
{
    char *esc = fnbox_client_escape(a->client, name);
    if (esc == NULL) return NULL;
    char *p;
    if (asprintf(&p, "%s%s%s", prefix, esc, suffix) < 0) p = NULL;
    free(esc);
    return p;
}

/* Appends "?key=value" or "&key=value" (value escaped) to *path (NULL stays NULL). */
static void add_query(const struct fnbox_args *a, char **path, const char *key, const char *value)
{
    if (*path == NULL) return;
    char *esc = fnbox_client_escape(a->client, value);
    char *p = NULL;
    if (esc == NULL ||
        asprintf(&p, "%s%c%s=%s", *path, strchr(*path, '?') ? '&' : '?', key, esc) < 0)
        p = NULL;
    free(esc);
    free(*path);
    *path = p;
}

/* Adds ?owner=O when --owner was given (admin acting for an owner). */
static void add_owner(const struct fnbox_args *a, char **path)
{
    const char *owner = opt1(a, OPT_OWNER);
    if (owner != NULL) add_query(a, path, "owner", owner);
}

static int print_body(const struct fnbox_response *r)
{
    if (r->body != NULL) {
        if (json_dumpf(r->body, stdout, JSON_INDENT(2) | JSON_ENCODE_ANY) != 0) return -1;
        if (fputc('\n', stdout) == EOF) return -1;
    } else if (r->raw_len > 0) {
        if (fwrite(r->raw, 1, r->raw_len, stdout) != r->raw_len) return -1;
        if (r->raw[r->raw_len - 1] != '\n' && fputc('\n', stdout) == EOF) return -1;
    }
    return 0;
}

/* "fnbox: <code>: [<name>: ]<message>[ (line L)][ (retry after Ns)]" on stderr; the name and
 * line are left out when the message already carries them. */
static void report_error(const struct fnbox_response *r)
{
    json_t *e = json_is_object(r->body) ? json_object_get(r->body, "error") : NULL;
    const char *code = json_string_value(json_object_get(e, "code"));
    const char *msg = json_string_value(json_object_get(e, "message"));
    const char *name = json_string_value(json_object_get(e, "name"));
    json_t *line = json_object_get(e, "line");
    if (msg == NULL) msg = "(no message)";

    char extra[96] = "", at_line[48];
    size_t used = 0;
    if (json_is_integer(line)) {
        snprintf(at_line, sizeof at_line, "(line %" JSON_INTEGER_FORMAT ")",
                 json_integer_value(line));
        if (strstr(msg, at_line) == NULL)
            used = (size_t)snprintf(extra, sizeof extra, " %s", at_line);
    }
    if (r->retry_after >= 0)
        snprintf(extra + used, sizeof extra - used, " (retry after %lds)", r->retry_after);

    char scode[128], sname[130], smsg[1024];
    if (code != NULL) {
        sname[0] = '\0';
        size_t nl = name != NULL ? strlen(name) : 0;
        if (nl > 0 && !(strncmp(msg, name, nl) == 0 && msg[nl] == ':')) {
            fnbox_sanitize(sname, sizeof sname - 2, name, nl);
            strcat(sname, ": ");
        }
        fnbox_errf("%s: %s%s%s", fnbox_sanitize(scode, sizeof scode, code, strlen(code)), sname,
                   fnbox_sanitize(smsg, sizeof smsg, msg, strlen(msg)), extra);
    } else if (r->raw_len > 0) {
        fnbox_errf("HTTP %ld: %s%s", r->status, fnbox_sanitize(smsg, 200, r->raw, r->raw_len),
                   extra);
    } else {
        fnbox_errf("HTTP %ld%s", r->status, extra);
    }
}

/* Sends the request; 0 with *r filled, or the exit status after reporting. Takes body. */
static int send_request(const struct fnbox_args *a, const char *method, const char *path,
                        json_t *body, struct fnbox_response *r)
{
    char err[512];
    int rc = fnbox_request(a->client, method, path, body, r, err, sizeof err);
    json_decref(body);
    if (rc == FNBOX_HTTP_ECONNECT) {
        fnbox_errf("%s: %s", fnbox_client_display_url(a->client), err);
        return FNBOX_EXIT_CONNECT;
    }
    if (rc != FNBOX_HTTP_OK) {
        fnbox_errf("%s", err);
        return FNBOX_EXIT_ERROR;
    }
    return 0;
}

/* Prints a response as the command's result; returns the exit status. */
static int finish(const struct fnbox_response *r, unsigned flags)
{
    if (r->status >= 200 && r->status < 300) {
        if (print_body(r) != 0) {
            fnbox_errf("writing output: %s", strerror(errno));
            return FNBOX_EXIT_ERROR;
        }
        return FNBOX_EXIT_OK;
    }
    if ((flags & SHOW_BODY_ON_ERROR) && json_is_object(r->body) &&
        json_object_get(r->body, "invocation_id") != NULL)
        (void)print_body(r); /* the error below is what matters if this fails */
    report_error(r);
    return FNBOX_EXIT_ERROR;
}

/* Request, print, exit status. Takes body and path (NULL: out of memory). */
static int perform(const struct fnbox_args *a, const char *method, char *path, json_t *body,
                   unsigned flags)
{
    if (path == NULL) {
        json_decref(body);
        return oom();
    }
    struct fnbox_response r;
    int ex = send_request(a, method, path, body, &r);
    free(path);
    if (ex != 0) return ex;
    ex = finish(&r, flags);
    fnbox_response_free(&r);
    return ex;
}

static bool name_ok(const struct fnbox_args *a, const char *what, const char *s, int *ex)
{
    if (s != NULL && *s != '\0') return true;
    char m[64];
    snprintf(m, sizeof m, "%s must not be empty", what);
    *ex = usage(a, m);
    return false;
}

/* A string from the command line as JSON; NULL after reporting (not UTF-8, or out of memory). */
static json_t *arg_string(const struct fnbox_args *a, const char *what, const char *s, int *ex)
{
    json_t *j = json_string(s);
    if (j == NULL) {
        char m[96];
        snprintf(m, sizeof m, "%s is not valid UTF-8", what);
        *ex = usage(a, m);
    }
    return j;
}

/* Sets obj[key] = value, taking value (NULL: its maker failed); 0 or -1. Builders below leave
 * *ex at -1 when they fail for lack of memory, and set it when they report a usage error. */
static int put(json_t *obj, const char *key, json_t *value)
{
    if (value == NULL) return -1;
    return json_object_set_new(obj, key, value) == 0 ? 0 : -1;
}

/* --- functions ------------------------------------------------------------------------- */

static int build_limits(const struct fnbox_args *a, json_t **out, int *ex)
{
    json_t *limits = json_object();
    if (limits == NULL) return -1;
    for (size_t i = 0; i < a->opt[OPT_LIMIT].n; i++) {
        const char *kv = a->opt[OPT_LIMIT].v[i];
        const char *eq = strchr(kv, '=');
        long long v;
        char m[160];
        if (eq == NULL || eq == kv || fnbox_parse_i64(eq + 1, &v) != 0) {
            char shown[64];
            snprintf(m, sizeof m, "--limit expects KEY=INTEGER (e.g. timeout_ms=2000), got '%s'",
                     fnbox_sanitize(shown, sizeof shown, kv, strlen(kv)));
            *ex = usage(a, m);
            goto fail;
        }
        char *key = strndup(kv, (size_t)(eq - kv));
        if (key == NULL) goto fail;
        if (json_object_get(limits, key) != NULL) {
            char shown[64];
            snprintf(m, sizeof m, "--limit %s given more than once",
                     fnbox_sanitize(shown, sizeof shown, key, strlen(key)));
            free(key);
            *ex = usage(a, m);
            goto fail;
        }
        int rc = json_object_set_new(limits, key, json_integer((json_int_t)v));
        free(key);
        if (rc != 0) { /* also a key that is not UTF-8 */
            *ex = usage(a, "a --limit key is not valid UTF-8");
            goto fail;
        }
    }
    *out = limits;
    return 0;
fail:
    json_decref(limits);
    return -1;
}

static int build_string_array(const struct fnbox_args *a, enum fnbox_opt o, const char *what,
                              json_t **out, int *ex)
{
    json_t *arr = json_array();
    if (arr == NULL) return -1;
    for (size_t i = 0; i < a->opt[o].n; i++) {
        if (!name_ok(a, what, a->opt[o].v[i], ex)) goto fail;
        json_t *s = arg_string(a, what, a->opt[o].v[i], ex);
        if (s == NULL) goto fail;
        if (json_array_append_new(arr, s) != 0) goto fail;
    }
    *out = arr;
    return 0;
fail:
    json_decref(arr);
    return -1;
}

/* --secret NAME grants the secret; NAME=HOST,HOST... grants it bound to those destinations:
 * {"name":NAME,"hosts":[HOST,...]} (secret names never contain '='). */
static int build_grants(const struct fnbox_args *a, json_t **out, int *ex)
{
    json_t *arr = json_array();
    if (arr == NULL) return -1;
    for (size_t i = 0; i < a->opt[OPT_SECRET].n; i++) {
        const char *v = a->opt[OPT_SECRET].v[i];
        const char *eq = strchr(v, '=');
        if (!name_ok(a, "--secret", v, ex)) goto fail;
        if (eq == NULL) {
            json_t *s = arg_string(a, "--secret", v, ex);
            if (s == NULL || json_array_append_new(arr, s) != 0) goto fail;
            continue;
        }
        char m[160], shown[64];
        if (eq == v || eq[1] == '\0' || strstr(eq + 1, ",,") != NULL || eq[1] == ',' ||
            eq[strlen(eq) - 1] == ',') {
            snprintf(m, sizeof m, "--secret expects NAME or NAME=HOST[,HOST...], got '%s'",
                     fnbox_sanitize(shown, sizeof shown, v, strlen(v)));
            *ex = usage(a, m);
            goto fail;
        }
        char *copy = strdup(v);
        if (copy == NULL) goto fail;
        copy[eq - v] = '\0';
        json_t *g = json_object(), *hosts = json_array();
        int rc = g == NULL || hosts == NULL ? -1 : 0;
        char *save = NULL;
        for (char *h = strtok_r(copy + (eq - v) + 1, ",", &save); rc == 0 && h != NULL;
             h = strtok_r(NULL, ",", &save)) {
            json_t *js = arg_string(a, "--secret", h, ex);
            rc = js == NULL || json_array_append_new(hosts, js) != 0 ? -1 : 0;
        }
        if (rc == 0) rc = put(g, "name", arg_string(a, "--secret", copy, ex));
        free(copy);
        if (rc == 0) {
            rc = put(g, "hosts", hosts);
            hosts = NULL;
        }
        json_decref(hosts);
        if (rc != 0 || json_array_append_new(arr, g) != 0) {
            if (rc != 0) json_decref(g);
            goto fail;
        }
    }
    *out = arr;
    return 0;
fail:
    json_decref(arr);
    return -1;
}

int fnbox_cmd_deploy(const struct fnbox_args *a)
{
    const char *file = a->pos[0], *name = opt1(a, OPT_NAME), *entry = opt1(a, OPT_ENTRY);
    const char *isolation = opt1(a, OPT_ISOLATION);
    int ex = -1;
    if (name == NULL) return usage(a, "--name is required");
    if (isolation != NULL && strcmp(isolation, "process") != 0 && strcmp(isolation, "snapshot") != 0)
        return usage(a, "--isolation must be process or snapshot");
    if (!name_ok(a, "--name", name, &ex)) return ex;
    if (entry != NULL && !name_ok(a, "--entry", entry, &ex)) return ex;

    char *code;
    size_t len;
    if (fnbox_read_file(file, CODE_MAX, &code, &len) != 0) {
        fnbox_errf("%s: %s", strcmp(file, "-") == 0 ? "stdin" : file,
                   errno == EFBIG ? "file too large" : strerror(errno));
        return FNBOX_EXIT_USAGE;
    }
    json_t *jcode = json_stringn(code, len);
    free(code);
    if (jcode == NULL) {
        fnbox_errf("%s: not valid UTF-8 text", strcmp(file, "-") == 0 ? "stdin" : file);
        return FNBOX_EXIT_USAGE;
    }

    json_t *body = json_object(), *limits = NULL, *hosts = NULL, *secrets = NULL;
    if (body == NULL) {
        json_decref(jcode);
        return oom();
    }
    if (put(body, "code", jcode) != 0) goto fail;
    if (entry != NULL && put(body, "entry", arg_string(a, "--entry", entry, &ex)) != 0) goto fail;
    if (a->opt[OPT_LIMIT].n > 0 &&
        (build_limits(a, &limits, &ex) != 0 || put(body, "limits", limits) != 0))
        goto fail;
    if (a->opt[OPT_ALLOW_HOST].n > 0 &&
        (build_string_array(a, OPT_ALLOW_HOST, "--allow-host", &hosts, &ex) != 0 ||
         put(body, "allow_hosts", hosts) != 0))
        goto fail;
    if (a->opt[OPT_SECRET].n > 0 &&
        (build_grants(a, &secrets, &ex) != 0 || put(body, "secrets", secrets) != 0))
        goto fail;
    if (a->opt[OPT_SIGN].n > 0 && put(body, "sign", json_true()) != 0) goto fail;
    if (isolation != NULL && put(body, "isolation", json_string(isolation)) != 0) goto fail;

    char *path = path_with(a, "/v1/functions/", name, "");
    add_owner(a, &path);
    return perform(a, "PUT", path, body, 0);
fail:
    json_decref(body);
    return ex >= 0 ? ex : oom();
}

/* The invoke input: absent -> null; "-" -> stdin; "@FILE" -> the file; else the argument.
 * raw (may be NULL): also the input's bytes as given (malloc'd; NULL when absent or blank),
 * for the caller to wipe and free (*raw_len bytes). */
static int load_input(const struct fnbox_args *a, const char *arg, json_t **out, char **raw,
                      size_t *raw_len)
{
    if (raw != NULL) *raw = NULL;
    if (arg == NULL) {
        *out = json_null();
        return 0;
    }
    char *buf = NULL;
    size_t len;
    const char *src = arg, *what = "the input argument";
    if (strcmp(arg, "-") == 0 || arg[0] == '@') {
        const char *file = arg[0] == '@' ? arg + 1 : "-";
        if (*file == '\0') return usage(a, "expected @FILE");
        what = strcmp(file, "-") == 0 ? "stdin" : file;
        if (fnbox_read_file(file, INPUT_MAX, &buf, &len) != 0) {
            fnbox_errf("%s: %s", what, errno == EFBIG ? "input too large" : strerror(errno));
            return FNBOX_EXIT_USAGE;
        }
        src = buf;
    } else {
        len = strlen(arg);
    }
    int ex = 0;
    if (fnbox_is_blank(src, len)) {
        *out = json_null();
    } else {
        json_error_t je;
        *out = json_loadb(src, len, JSON_DECODE_ANY, &je);
        if (*out == NULL) {
            char text[JSON_ERROR_TEXT_LENGTH];
            fnbox_errf("invoke: %s is not valid JSON: %s (line %d, column %d)", what,
                       fnbox_sanitize(text, sizeof text, je.text, strlen(je.text)), je.line,
                       je.column);
            ex = FNBOX_EXIT_USAGE;
        }
    }
    if (ex == 0 && raw != NULL && !fnbox_is_blank(src, len)) {
        if ((*raw = malloc(len ? len : 1)) == NULL) {
            json_decref(*out);
            ex = oom();
        } else {
            memcpy(*raw, src, len);
            *raw_len = len;
        }
    }
    if (buf != NULL) fnbox_wipe_free(buf, len);
    return ex;
}

/* --out FILE: the response body exactly as received (what 'fnbox verify' checks). 0, or -1
 * after reporting. */
static int save_raw(const char *file, const struct fnbox_response *r)
{
    char name[128];
    fnbox_sanitize(name, sizeof name, file, strlen(file));
    FILE *f = fopen(file, "wb");
    if (f == NULL) {
        fnbox_errf("%s: %s", name, strerror(errno));
        return -1;
    }
    bool ok = r->raw_len == 0 || fwrite(r->raw, 1, r->raw_len, f) == r->raw_len;
    if (fclose(f) != 0) ok = false;
    if (!ok) {
        fnbox_errf("%s: %s", name, strerror(errno));
        return -1;
    }
    return 0;
}

/* The response body byte for byte on stdout (a newline added when it lacks one). */
static int print_raw(const struct fnbox_response *r)
{
    if (r->raw_len == 0) return 0;
    if (fwrite(r->raw, 1, r->raw_len, stdout) != r->raw_len) return -1;
    return r->raw[r->raw_len - 1] != '\n' && fputc('\n', stdout) == EOF ? -1 : 0;
}

int fnbox_cmd_invoke(const struct fnbox_args *a)
{
    int ex = 0;
    const char *out = opt1(a, OPT_OUT);
    bool sign = a->opt[OPT_SIGN].n > 0;
    if (!name_ok(a, "the function name", a->pos[0], &ex)) return ex;
    if (out != NULL && *out == '\0') return usage(a, "--out needs a file name");
    json_t *input;
    char *raw = NULL;
    size_t raw_len = 0;
    /* signed: the input goes byte for byte as given, so that input_sha256 is the hash of the
     * caller's own bytes ('fnbox verify --input FILE') */
    ex = load_input(a, a->npos > 1 ? a->pos[1] : NULL, &input, sign ? &raw : NULL, &raw_len);
    if (ex != 0) return ex;
    char *path = path_with(a, "/v1/functions/", a->pos[0], "/invoke");
    if (sign) add_query(a, &path, "sign", "1");
    if (!sign && out == NULL) return perform(a, "POST", path, input, SHOW_BODY_ON_ERROR);
    if (path == NULL) {
        json_decref(input);
        fnbox_wipe_free(raw, raw_len);
        return oom();
    }
    struct fnbox_response r;
    if (raw != NULL) {
        char err[512];
        int rc = fnbox_request_raw(a->client, "POST", path, raw, raw_len, &r, err, sizeof err);
        json_decref(input);
        fnbox_wipe_free(raw, raw_len);
        ex = 0;
        if (rc == FNBOX_HTTP_ECONNECT) {
            fnbox_errf("%s: %s", fnbox_client_display_url(a->client), err);
            ex = FNBOX_EXIT_CONNECT;
        } else if (rc != FNBOX_HTTP_OK) {
            fnbox_errf("%s", err);
            ex = FNBOX_EXIT_ERROR;
        }
    } else {
        ex = send_request(a, "POST", path, input, &r);
    }
    free(path);
    if (ex != 0) return ex;
    bool good = r.status >= 200 && r.status < 300;
    if (out != NULL && good && save_raw(out, &r) != 0) {
        fnbox_response_free(&r);
        return FNBOX_EXIT_ERROR;
    }
    if (sign && good) {
        /* the receipt signs the exact text of "result": print it as it came, not re-encoded */
        ex = FNBOX_EXIT_OK;
        if (print_raw(&r) != 0) {
            fnbox_errf("writing output: %s", strerror(errno));
            ex = FNBOX_EXIT_ERROR;
        } else if (!json_is_object(json_object_get(r.body, "receipt"))) {
            fnbox_errf("invoke: the server sent no receipt (%s)",
                       json_is_string(json_object_get(r.body, "receipt_error"))
                           ? "it could not sign"
                           : "it does not sign results?");
            ex = FNBOX_EXIT_ERROR;
        }
    } else {
        ex = finish(&r, SHOW_BODY_ON_ERROR);
    }
    fnbox_response_free(&r);
    return ex;
}

int fnbox_cmd_functions(const struct fnbox_args *a)
{
    char *path = strdup("/v1/functions");
    add_owner(a, &path);
    return perform(a, "GET", path, NULL, 0);
}

static int on_function(const struct fnbox_args *a, const char *method, const char *suffix,
                       json_t *body)
{
    int ex = 0;
    if (!name_ok(a, "the function name", a->pos[0], &ex)) {
        json_decref(body);
        return ex;
    }
    return perform(a, method, path_with(a, "/v1/functions/", a->pos[0], suffix), body, 0);
}

int fnbox_cmd_get(const struct fnbox_args *a)
{
    return on_function(a, "GET", "", NULL);
}

int fnbox_cmd_versions(const struct fnbox_args *a)
{
    return on_function(a, "GET", "/versions", NULL);
}

int fnbox_cmd_rm(const struct fnbox_args *a)
{
    return on_function(a, "DELETE", "", NULL);
}

int fnbox_cmd_rollback(const struct fnbox_args *a)
{
    long long v;
    if (fnbox_parse_i64(a->pos[1], &v) != 0 || v <= 0)
        return usage(a, "VERSION must be a positive integer");
    json_t *body = json_pack("{sI}", "version", (json_int_t)v);
    if (body == NULL) return oom();
    return on_function(a, "PUT", "/live", body);
}

int fnbox_cmd_unpin(const struct fnbox_args *a)
{
    json_t *body = json_pack("{so}", "version", json_null());
    if (body == NULL) return oom();
    return on_function(a, "PUT", "/live", body);
}

/* --- tokens ---------------------------------------------------------------------------- */

int fnbox_cmd_token_create(const struct fnbox_args *a)
{
    const char *role = opt1(a, OPT_ROLE), *owner = opt1(a, OPT_OWNER);
    const char *expires = opt1(a, OPT_EXPIRES_IN);
    int ex = -1;
    if (role == NULL) return usage(a, "--role is required (admin, developer or invoker)");
    if (owner == NULL) return usage(a, "--owner is required");
    if (!name_ok(a, "--role", role, &ex) || !name_ok(a, "--owner", owner, &ex)) return ex;
    long long secs = 0;
    if (expires != NULL && (fnbox_parse_i64(expires, &secs) != 0 || secs <= 0))
        return usage(a, "--expires-in must be a positive number of seconds");

    json_t *body = json_object();
    if (body == NULL) return oom();
    if (put(body, "role", arg_string(a, "--role", role, &ex)) != 0 ||
        put(body, "owner", arg_string(a, "--owner", owner, &ex)) != 0 ||
        (expires != NULL && put(body, "expires_in", json_integer((json_int_t)secs)) != 0)) {
        json_decref(body);
        return ex >= 0 ? ex : oom();
    }
    return perform(a, "POST", strdup("/v1/tokens"), body, 0);
}

int fnbox_cmd_token_list(const struct fnbox_args *a)
{
    return perform(a, "GET", strdup("/v1/tokens"), NULL, 0);
}

int fnbox_cmd_token_revoke(const struct fnbox_args *a)
{
    int ex = 0;
    if (!name_ok(a, "the token id", a->pos[0], &ex)) return ex;
    return perform(a, "DELETE", path_with(a, "/v1/tokens/", a->pos[0], ""), NULL, 0);
}

/* --- secrets --------------------------------------------------------------------------- */

/* Secret names are fixed by the API ([A-Za-z0-9_][A-Za-z0-9_.-]{0,127}); checked here so that
 * a '/' gives a clear message rather than the server's "no such route". */
static bool secret_name_ok(const struct fnbox_args *a, const char *name, int *ex)
{
    static const char first[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_";
    size_t n = strlen(name);
    if (n >= 1 && n <= 128 && strchr(first, name[0]) != NULL &&
        strspn(name + 1, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_.-") ==
            n - 1)
        return true;
    *ex = usage(a, "secret names match [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}");
    return false;
}

static char *secret_path(const struct fnbox_args *a, const char *name)
{
    char *path = name != NULL ? path_with(a, "/v1/secrets/", name, "") : strdup("/v1/secrets");
    add_owner(a, &path);
    return path;
}

int fnbox_cmd_secrets_put(const struct fnbox_args *a)
{
    int ex = 0;
    if (!secret_name_ok(a, a->pos[0], &ex)) return ex;
    const char *given = opt1(a, OPT_VALUE);
    json_t *value;
    if (given != NULL) {
        if (*given == '\0') return usage(a, "the secret value is empty");
        value = json_string(given);
        if (value == NULL) return usage(a, "--value is not valid UTF-8");
    } else {
        char *buf;
        size_t len;
        if (fnbox_read_secret("Secret value: ", SECRET_MAX, &buf, &len) != 0) {
            fnbox_errf("reading the secret value: %s",
                       errno == EFBIG ? "value too large" : strerror(errno));
            return FNBOX_EXIT_USAGE;
        }
        value = len > 0 ? json_stringn(buf, len) : NULL;
        bool empty = len == 0;
        fnbox_wipe_free(buf, len + 1);
        if (empty) return usage(a, "the secret value is empty");
        if (value == NULL) return usage(a, "the secret value is not valid UTF-8 text");
    }
    json_t *body = json_object();
    if (body == NULL) {
        json_decref(value);
        return oom();
    }
    if (put(body, "value", value) != 0) {
        json_decref(body);
        return oom();
    }
    return perform(a, "PUT", secret_path(a, a->pos[0]), body, 0);
}

int fnbox_cmd_secrets_list(const struct fnbox_args *a)
{
    return perform(a, "GET", secret_path(a, NULL), NULL, 0);
}

int fnbox_cmd_secrets_rm(const struct fnbox_args *a)
{
    int ex = 0;
    if (!secret_name_ok(a, a->pos[0], &ex)) return ex;
    return perform(a, "DELETE", secret_path(a, a->pos[0]), NULL, 0);
}

/* --- audit ------------------------------------------------------------------------------ */

#define AUDIT_PAGE_FOLLOW "1000" /* entries per poll of --follow unless --limit says */
#define AUDIT_OWN_READS 16       /* seqs of the follower's own audit.read entries remembered */
#define CHECKPOINT_FILE_MAX ((size_t)64 << 10)

static bool flag(const struct fnbox_args *a, enum fnbox_opt o)
{
    return a->opt[o].n > 0;
}

/* The option as an integer in [min, max]; 0 (also when absent: *v untouched), or the exit
 * status after reporting. */
static int int_opt(const struct fnbox_args *a, enum fnbox_opt o, long long min, long long max,
                   const char *what, long long *v)
{
    const char *s = opt1(a, o);
    if (s == NULL || (fnbox_parse_i64(s, v) == 0 && *v >= min && *v <= max)) return 0;
    return usage(a, what);
}

/* "/v1/audit?after=..&limit=..&<filters>" (NULL when out of memory); after/limit may be NULL. */
static char *audit_path(const struct fnbox_args *a, const char *after, const char *limit)
{
    static const struct {
        enum fnbox_opt o;
        const char *key;
    } filters[] = {{OPT_FUNCTION, "function"},
                   {OPT_SECRET, "secret"},
                   {OPT_ACTOR, "actor"},
                   {OPT_OUTCOME, "outcome"},
                   {OPT_SINCE, "since"}};
    char *path = strdup("/v1/audit");
    if (after != NULL) add_query(a, &path, "after", after);
    if (limit != NULL) add_query(a, &path, "limit", limit);
    for (size_t i = 0; i < sizeof filters / sizeof filters[0]; i++) {
        const char *v = opt1(a, filters[i].o);
        if (v != NULL) add_query(a, &path, filters[i].key, v);
    }
    return path;
}

static int print_compact(const json_t *j)
{
    if (json_dumpf(j, stdout, JSON_COMPACT | JSON_ENCODE_ANY) != 0) return -1;
    return fputc('\n', stdout) == EOF ? -1 : 0;
}

/* --jsonl: the server's JSON lines as they are (or, from a server that answered with the
 * usual object, its entries one per line). */
static int audit_jsonl(const struct fnbox_args *a, char *path)
{
    add_query(a, &path, "format", "jsonl");
    if (path == NULL) return oom();
    struct fnbox_response r;
    int ex = send_request(a, "GET", path, NULL, &r);
    free(path);
    if (ex != 0) return ex;
    if (r.status < 200 || r.status >= 300) {
        ex = finish(&r, 0);
        fnbox_response_free(&r);
        return ex;
    }
    int rc = 0;
    json_t *entries = json_is_object(r.body) ? json_object_get(r.body, "entries") : NULL;
    if (json_is_array(entries)) {
        size_t i;
        json_t *e;
        json_array_foreach(entries, i, e) if (rc == 0) rc = print_compact(e);
    } else if (r.raw_len > 0) {
        if (fwrite(r.raw, 1, r.raw_len, stdout) != r.raw_len ||
            (r.raw[r.raw_len - 1] != '\n' && fputc('\n', stdout) == EOF))
            rc = -1;
    }
    fnbox_response_free(&r);
    if (rc != 0) {
        fnbox_errf("writing output: %s", strerror(errno));
        return FNBOX_EXIT_ERROR;
    }
    return FNBOX_EXIT_OK;
}

/* One GET of the audit log for --follow; 0 with *r holding a 2xx response whose entries are
 * an array, or the exit status after reporting. */
static int audit_poll(const struct fnbox_args *a, char *path, struct fnbox_response *r)
{
    if (path == NULL) return oom();
    int ex = send_request(a, "GET", path, NULL, r);
    free(path);
    if (ex != 0) return ex;
    if (r->status < 200 || r->status >= 300) {
        ex = finish(r, 0);
        fnbox_response_free(r);
        return ex;
    }
    if (!json_is_array(json_object_get(r->body, "entries"))) {
        fnbox_errf("%s: the server's answer has no \"entries\" array", a->cmd);
        fnbox_response_free(r);
        return FNBOX_EXIT_ERROR;
    }
    return 0;
}

/* Seqs of the audit.read entries the follower's own polls appended: each response's head is
 * the entry that request added (the server appends it after reading). */
struct own_reads {
    long long seq[AUDIT_OWN_READS];
    size_t next;
};

static void own_add(struct own_reads *o, const json_t *body)
{
    const json_t *seq = json_object_get(json_object_get(body, "head"), "seq");
    if (!json_is_integer(seq)) return;
    o->seq[o->next++ % AUDIT_OWN_READS] = (long long)json_integer_value(seq);
}

static bool own_read(const struct own_reads *o, long long seq, const json_t *e)
{
    const char *action = json_string_value(json_object_get(e, "action"));
    const char *outcome = json_string_value(json_object_get(e, "outcome"));
    if (action == NULL || strcmp(action, "audit.read") != 0 || outcome == NULL ||
        strcmp(outcome, "ok") != 0)
        return false;
    for (size_t i = 0; i < AUDIT_OWN_READS; i++)
        if (o->seq[i] == seq && seq > 0) return true;
    return false;
}

/* --follow: poll for entries after the last one seen, print each as one JSON line, until
 * SIGINT/SIGTERM/SIGHUP or max_seconds (0: no bound). */
static int audit_follow(const struct fnbox_args *a, const char *after, const char *limit,
                        long long max_seconds)
{
    if (fnbox_stop_on_signals() != 0) {
        fnbox_errf("cannot install signal handlers: %s", strerror(errno));
        return FNBOX_EXIT_ERROR;
    }
    double deadline = max_seconds > 0 ? fnbox_monotonic_s() + (double)max_seconds : 0;
    struct own_reads own = {{0}, 0};
    struct fnbox_response r;
    long long last = 0, page = 0;
    int ex;
    if (fnbox_parse_i64(limit, &page) != 0 || page <= 0) return usage(a, "bad --limit");
    if (after != NULL) {
        (void)fnbox_parse_i64(after, &last); /* checked by the caller */
    } else {
        /* start at the current head: only entries appended from now on */
        if ((ex = audit_poll(a, strdup("/v1/audit?limit=1"), &r)) != 0) return ex;
        const json_t *seq = json_object_get(json_object_get(r.body, "head"), "seq");
        if (!json_is_integer(seq)) {
            fnbox_errf("%s: the server's answer has no head", a->cmd);
            fnbox_response_free(&r);
            return FNBOX_EXIT_ERROR;
        }
        last = (long long)json_integer_value(seq);
        fnbox_response_free(&r);
    }
    for (;;) {
        if (fnbox_stop_requested() || (deadline > 0 && fnbox_monotonic_s() >= deadline)) break;
        char from[24];
        snprintf(from, sizeof from, "%lld", last);
        ex = audit_poll(a, audit_path(a, from, limit), &r);
        if (ex != 0) return fnbox_stop_requested() ? FNBOX_EXIT_OK : ex;
        const json_t *entries = json_object_get(r.body, "entries");
        size_t i, n = json_array_size(entries);
        json_t *e;
        int rc = 0;
        json_array_foreach(entries, i, e)
        {
            const json_t *seq = json_object_get(e, "seq");
            if (!json_is_integer(seq) || json_integer_value(seq) <= last) continue;
            last = (long long)json_integer_value(seq);
            if (!own_read(&own, last, e) && rc == 0) rc = print_compact(e);
        }
        own_add(&own, r.body);
        fnbox_response_free(&r);
        if (rc != 0 || fflush(stdout) != 0) {
            fnbox_errf("writing output: %s", strerror(errno));
            return FNBOX_EXIT_ERROR;
        }
        if ((long long)n >= page) continue; /* a full page: more may be waiting */
        long wait_ms = 1000;
        if (deadline > 0) {
            double left = deadline - fnbox_monotonic_s();
            if (left <= 0) break;
            if (left < 1.0) wait_ms = (long)(left * 1000) + 1;
        }
        fnbox_sleep_ms(wait_ms);
    }
    return FNBOX_EXIT_OK;
}

int fnbox_cmd_audit(const struct fnbox_args *a)
{
    const char *after = opt1(a, OPT_AFTER), *limit = opt1(a, OPT_LIMIT);
    bool follow = flag(a, OPT_FOLLOW);
    long long v = 0, max_seconds = 0;
    int ex;
    if ((ex = int_opt(a, OPT_AFTER, 0, INT64_MAX,
                      "--after must be a non-negative integer (an audit sequence number)", &v)) ||
        (ex = int_opt(a, OPT_LIMIT, 1, 1000, "--limit must be an integer from 1 to 1000", &v)) ||
        (ex = int_opt(a, OPT_SINCE, 0, INT64_MAX,
                      "--since must be a non-negative integer (unix seconds)", &v)) ||
        (ex = int_opt(a, OPT_MAX_SECONDS, 1, 366LL * 86400,
                      "--max-seconds must be a positive number of seconds", &max_seconds)))
        return ex;
    if (flag(a, OPT_MAX_SECONDS) && !follow) return usage(a, "--max-seconds needs --follow");
    static const struct {
        enum fnbox_opt o;
        const char *what;
    } text_filters[] = {{OPT_FUNCTION, "--function"},
                        {OPT_SECRET, "--secret"},
                        {OPT_ACTOR, "--actor"},
                        {OPT_OUTCOME, "--outcome"}};
    for (size_t i = 0; i < sizeof text_filters / sizeof text_filters[0]; i++) {
        const char *f = opt1(a, text_filters[i].o);
        if (f != NULL && !name_ok(a, text_filters[i].what, f, &ex)) return ex;
    }
    if (follow) return audit_follow(a, after, limit ? limit : AUDIT_PAGE_FOLLOW, max_seconds);
    char *path = audit_path(a, after, limit);
    if (flag(a, OPT_JSONL)) return audit_jsonl(a, path);
    return perform(a, "GET", path, NULL, 0);
}

int fnbox_cmd_audit_checkpoint(const struct fnbox_args *a)
{
    return perform(a, "POST", strdup("/v1/audit/checkpoint"), NULL, 0);
}

static long long int_field(const json_t *o, const char *key, long long def)
{
    const json_t *v = json_object_get(o, key);
    return json_is_integer(v) ? (long long)json_integer_value(v) : def;
}

static const char *str_field(const json_t *o, const char *key, char *buf, size_t len)
{
    const char *v = json_string_value(json_object_get(o, key));
    return v != NULL ? fnbox_sanitize(buf, len, v, strlen(v)) : "?";
}

/* A JSON object from FILE ('-': stdin); NULL after reporting (*ex set). */
static json_t *load_json_file(const char *file, size_t max, int *ex)
{
    char *buf, shown[128];
    size_t len;
    fnbox_sanitize(shown, sizeof shown, file, strlen(file));
    if (fnbox_read_file(file, max, &buf, &len) != 0) {
        fnbox_errf("%s: %s", shown, errno == EFBIG ? "file too large" : strerror(errno));
        *ex = FNBOX_EXIT_USAGE;
        return NULL;
    }
    json_error_t je;
    json_t *j = json_loadb(buf, len, 0, &je);
    free(buf);
    if (!json_is_object(j)) {
        char text[JSON_ERROR_TEXT_LENGTH];
        fnbox_errf("%s: not a JSON object (line %d: %s)", shown, je.line,
                   j ? "" : fnbox_sanitize(text, sizeof text, je.text, strlen(je.text)));
        json_decref(j);
        *ex = FNBOX_EXIT_USAGE;
        return NULL;
    }
    return j;
}

/* Reads and parses a saved checkpoint; 0, or the exit status after reporting. */
static int load_checkpoint(const char *file, struct fnbox_checkpoint *cp)
{
    char err[160], shown[128];
    int ex = 0;
    fnbox_sanitize(shown, sizeof shown, file, strlen(file));
    json_t *j = load_json_file(file, CHECKPOINT_FILE_MAX, &ex);
    if (j == NULL) return ex;
    int rc = fnbox_checkpoint_parse(j, cp, err, sizeof err);
    json_decref(j);
    if (rc != 0) {
        fnbox_errf("%s: not a checkpoint: %s", shown, err);
        return FNBOX_EXIT_USAGE;
    }
    return 0;
}

/* The checks of the server's own verification; returns the number that failed. */
static int check_server(const json_t *v)
{
    int failed = 0;
    char h[80];
    long long entries = int_field(v, "entries", -1);
    /* "ok" covers the chain and the checkpoint; "chain_ok", when given, the chain alone */
    const json_t *chain = json_object_get(v, "chain_ok");
    if (!json_is_boolean(chain)) chain = json_object_get(v, "ok");
    if (json_is_true(chain))
        failed += fnbox_check(true, "hash chain", "%lld entries, head %s", entries,
                             str_field(v, "head_hash", h, sizeof h));
    else
        failed += fnbox_check(false, "hash chain",
                             "broken at seq %lld (%lld entries): an entry was edited, deleted "
                             "or inserted",
                             int_field(v, "first_bad_seq", -1), entries);

    const json_t *cp_ok = json_object_get(v, "checkpoint_ok");
    const json_t *cp = json_object_get(v, "checkpoint");
    long long cp_seq = int_field(cp, "seq", -1);
    if (json_is_true(cp_ok))
        failed += fnbox_check(true, "server checkpoint",
                             "seq %lld matches the log (checked by the server)", cp_seq);
    else if (json_is_false(cp_ok))
        failed += fnbox_check(false, "server checkpoint",
                             "seq %lld does not match the log (truncated or rolled back?)", cp_seq);
    else
        printf("%-7sserver checkpoint: none yet ('fnbox audit checkpoint' makes one)\n", "-");

    if (failed == 0 && !json_is_true(json_object_get(v, "ok")))
        failed += fnbox_check(false, "server verdict", "not ok");
    if (json_is_object(cp)) { /* check its signature here too rather than take the server's word */
        struct fnbox_checkpoint scp;
        char err[160];
        if (fnbox_checkpoint_parse(cp, &scp, err, sizeof err) != 0)
            failed += fnbox_check(false, "server checkpoint signature", "unreadable: %s", err);
        else if (fnbox_checkpoint_verify(&scp, err, sizeof err) != 0)
            failed += fnbox_check(false, "server checkpoint signature", "%s", err);
        else
            failed +=
                fnbox_check(true, "server checkpoint signature",
                           "valid (ECDSA P-256, checked here; key sha256 %s)", scp.pub_sha256);
    }
    return failed;
}

/* The checks of a saved checkpoint cp against the server; 0.. failures, or -exit status. */
static int check_saved(const struct fnbox_args *a, const char *label,
                       const struct fnbox_checkpoint *cp, const json_t *server_cp)
{
    int failed = 0;
    char err[160], what[192];
    snprintf(what, sizeof what, "%s signature", label);
    if (fnbox_checkpoint_verify(cp, err, sizeof err) != 0)
        failed += fnbox_check(false, what, "%s", err);
    else
        failed += fnbox_check(
            true, what, "valid (ECDSA P-256 over seq %lld, time %lld; key sha256 %s%s%s)", cp->seq,
            cp->time, cp->pub_sha256, cp->key_id[0] ? ", key_id " : "", cp->key_id);

    /* the saved key should be the instance's: the one the server signs with today */
    snprintf(what, sizeof what, "%s key", label);
    struct fnbox_checkpoint scp;
    if (!json_is_object(server_cp) || fnbox_checkpoint_parse(server_cp, &scp, err, sizeof err)) {
        failed += fnbox_check(false, what,
                             "the server reports no checkpoint although this one was made: "
                             "its checkpoint was removed or rolled back");
    } else {
        if (scp.pub_len != cp->pub_len || memcmp(scp.pub, cp->pub, cp->pub_len) != 0)
            failed += fnbox_check(false, what,
                                 "signed by another key (sha256 %s) than the server's latest "
                                 "checkpoint (sha256 %s)",
                                 cp->pub_sha256, scp.pub_sha256);
        else
            failed += fnbox_check(true, what, "the same as the server's latest checkpoint's");
        snprintf(what, sizeof what, "%s age", label);
        failed += fnbox_check(scp.seq >= cp->seq, what,
                             scp.seq >= cp->seq
                                 ? "the server's latest checkpoint (seq %lld) is not older"
                                 : "the server's latest checkpoint (seq %lld) is older: its "
                                   "checkpoint was rolled back",
                             scp.seq);
    }

    /* the log must still hold entry seq with that hash: nothing cut or rewritten since */
    snprintf(what, sizeof what, "%s in the log", label);
    if (cp->seq == 0) {
        static const char genesis[] =
            "0000000000000000000000000000000000000000000000000000000000000000";
        return failed + fnbox_check(strcmp(cp->hash, genesis) == 0, what,
                                   "seq 0 is the empty log, whose hash is 64 zeros");
    }
    char from[24];
    snprintf(from, sizeof from, "%lld", cp->seq - 1);
    char *path = strdup("/v1/audit");
    add_query(a, &path, "after", from);
    add_query(a, &path, "limit", "1");
    struct fnbox_response r;
    int ex = audit_poll(a, path, &r);
    if (ex != 0) return -ex;
    const json_t *e = json_array_get(json_object_get(r.body, "entries"), 0);
    long long head = int_field(json_object_get(r.body, "head"), "seq", -1);
    const char *hash = json_string_value(json_object_get(e, "hash"));
    char shown[80];
    if (e == NULL || int_field(e, "seq", -1) != cp->seq)
        failed += fnbox_check(false, what,
                             "seq %lld is gone (log head: seq %lld): the log was truncated or "
                             "rolled back",
                             cp->seq, head);
    else if (hash == NULL || strcmp(hash, cp->hash) != 0)
        failed += fnbox_check(
            false, what, "seq %lld now has hash %s, not %s: the log was rewritten", cp->seq,
            hash ? fnbox_sanitize(shown, sizeof shown, hash, strlen(hash)) : "?", cp->hash);
    else
        failed += fnbox_check(true, what, "seq %lld still has hash %s (log head: seq %lld)", cp->seq,
                             cp->hash, head);
    fnbox_response_free(&r);
    return failed;
}

int fnbox_cmd_audit_verify(const struct fnbox_args *a)
{
    const char *file = opt1(a, OPT_CHECKPOINT);
    struct fnbox_checkpoint cp;
    int ex;
    if (file != NULL) {
        if (*file == '\0') return usage(a, "--checkpoint needs a file name");
        if ((ex = load_checkpoint(file, &cp)) != 0) return ex;
    }
    struct fnbox_response r;
    if ((ex = send_request(a, "GET", "/v1/audit/verify", NULL, &r)) != 0) return ex;
    if (r.status < 200 || r.status >= 300 || !json_is_object(r.body) ||
        !json_is_boolean(json_object_get(r.body, "ok"))) {
        if (r.status >= 200 && r.status < 300)
            fnbox_errf("%s: the server's answer has no \"ok\"", a->cmd);
        else
            report_error(&r);
        fnbox_response_free(&r);
        return FNBOX_EXIT_ERROR;
    }
    int failed = check_server(r.body);
    if (file != NULL) {
        char label[80];
        fnbox_sanitize(label, sizeof label, file, strlen(file));
        int n = check_saved(a, label, &cp, json_object_get(r.body, "checkpoint"));
        if (n < 0) {
            fnbox_response_free(&r);
            return -n;
        }
        failed += n;
    }
    fnbox_response_free(&r);
    if (fflush(stdout) != 0) {
        fnbox_errf("writing output: %s", strerror(errno));
        return FNBOX_EXIT_ERROR;
    }
    if (failed > 0) {
        fnbox_errf("%s: %d check%s failed", a->cmd, failed, failed == 1 ? "" : "s");
        return FNBOX_EXIT_ERROR;
    }
    puts(file != NULL ? "verified: the chain is intact and extends the saved checkpoint"
                      : "verified: the chain is intact");
    return FNBOX_EXIT_OK;
}

/* --- keys and attestation -------------------------------------------------------------- */

int fnbox_cmd_keys_list(const struct fnbox_args *a)
{
    return perform(a, "GET", strdup("/v1/keys"), NULL, 0);
}

int fnbox_cmd_keys_rotate(const struct fnbox_args *a)
{
    return perform(a, "POST", strdup("/v1/keys/rotate"), NULL, 0);
}

/* SHA-256 (hex) of the key whose SPKI DER is spki_hex: the name of an instance that
 * 'keys import --from' expects. -1 when spki_hex is not hex or the digest fails. */
static int key_fingerprint(const char *spki_hex, char out[65])
{
    unsigned char der[1024], md[32];
    size_t n = 0;
    unsigned int len = 0;
    if (spki_hex == NULL || fnbox_unhex(spki_hex, der, sizeof der, &n) != 0 || n == 0 ||
        EVP_Digest(der, n, md, &len, EVP_sha256(), NULL) != 1 || len != sizeof md)
        return -1;
    fnbox_hex(out, md, sizeof md);
    return 0;
}

/* "<prefix><fingerprint of o[key]>" on stderr, so that stdout stays the server's response. */
static void print_fingerprint(const json_t *o, const char *key, const char *prefix)
{
    char fp[65];
    if (key_fingerprint(json_string_value(json_object_get(o, key)), fp) == 0)
        fprintf(stderr, "%s%s\n", prefix, fp);
}

int fnbox_cmd_attest(const struct fnbox_args *a)
{
    const char *given = opt1(a, OPT_NONCE), *out = opt1(a, OPT_OUT);
    if (out != NULL && *out == '\0') return usage(a, "--out needs a file name");
    char fresh[2 * NONCE_BYTES + 1];
    if (given != NULL && !fnbox_is_hex(given))
        return usage(a, "--nonce must be hex (an even number of 0-9a-f digits)");
    if (given == NULL) {
        /* a fresh nonce by default, so that the report cannot be a replay */
        unsigned char raw[NONCE_BYTES];
        if (RAND_bytes(raw, sizeof raw) != 1) {
            fnbox_errf("cannot generate a nonce (OpenSSL RAND_bytes failed)");
            return FNBOX_EXIT_ERROR;
        }
        fnbox_hex(fresh, raw, sizeof raw);
        given = fresh;
    }
    char *path = strdup("/v1/attestation");
    add_query(a, &path, "nonce", given);
    if (path == NULL) return oom();
    struct fnbox_response r;
    int ex = send_request(a, "GET", path, NULL, &r);
    free(path);
    if (ex != 0) return ex;
    if (r.status >= 200 && r.status < 300) {
        /* a report that does not echo our nonce is not an answer to this request */
        const char *echoed = json_string_value(json_object_get(r.body, "nonce"));
        if (echoed == NULL || strcasecmp(echoed, given) != 0) {
            fnbox_errf("attestation: the report does not carry the nonce that was sent");
            fnbox_response_free(&r);
            return FNBOX_EXIT_ERROR;
        }
        print_fingerprint(r.body, "public_key",
                          "public key SHA-256 (for 'fnbox keys import --from'): ");
    }
    if (out != NULL && r.status >= 200 && r.status < 300 && save_raw(out, &r) != 0) {
        fnbox_response_free(&r);
        return FNBOX_EXIT_ERROR;
    }
    ex = finish(&r, 0);
    fnbox_response_free(&r);
    return ex;
}

int fnbox_cmd_keys_challenge(const struct fnbox_args *a)
{
    return perform(a, "POST", strdup("/v1/keys/export/challenge"), NULL, 0);
}

#define BUNDLE_FILE_MAX (256u << 20)

int fnbox_cmd_keys_export(const struct fnbox_args *a)
{
    const char *file = opt1(a, OPT_TO_ATTESTATION), *out = opt1(a, OPT_OUT);
    if (file == NULL || *file == '\0') return usage(a, "--to-attestation FILE is required");
    if (out != NULL && *out == '\0') return usage(a, "--out needs a file name");
    int ex = 0;
    json_t *report = load_json_file(file, 1u << 20, &ex);
    if (report == NULL) return ex;
    struct fnbox_response r;
    ex = send_request(a, "POST", "/v1/keys/export", report, &r);
    if (ex != 0) return ex;
    if (r.status >= 200 && r.status < 300)
        print_fingerprint(r.body, "source_public_key",
                          "import on the peer with: fnbox keys import BUNDLE --from ");
    if (out != NULL && r.status >= 200 && r.status < 300) {
        mode_t old = umask(077); /* the bundle holds sealed keys: for the operator alone */
        int bad = save_raw(out, &r);
        umask(old);
        ex = bad ? FNBOX_EXIT_ERROR : FNBOX_EXIT_OK;
    } else {
        ex = finish(&r, 0);
    }
    fnbox_response_free(&r);
    return ex;
}

int fnbox_cmd_keys_import(const struct fnbox_args *a)
{
    const char *from = opt1(a, OPT_FROM);
    if (from == NULL || strlen(from) != 64 || !fnbox_is_hex(from))
        return usage(a, "--from SHA256 is required: the SHA-256 (64 hex digits) of the exporting "
                        "instance's public key ('fnbox attest' against it prints it)");
    int ex = 0;
    json_t *bundle = load_json_file(a->pos[0], BUNDLE_FILE_MAX, &ex);
    if (bundle == NULL) return ex;
    char *path = strdup("/v1/keys/import");
    add_query(a, &path, "source", from);
    return perform(a, "POST", path, bundle, 0);
}
