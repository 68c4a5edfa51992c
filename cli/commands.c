#include "cli/commands.h"

#include <errno.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

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

int fnbox_cmd_deploy(const struct fnbox_args *a)
{
    const char *file = a->pos[0], *name = opt1(a, OPT_NAME), *entry = opt1(a, OPT_ENTRY);
    int ex = -1;
    if (name == NULL) return usage(a, "--name is required");
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
        (build_string_array(a, OPT_SECRET, "--secret", &secrets, &ex) != 0 ||
         put(body, "secrets", secrets) != 0))
        goto fail;

    char *path = path_with(a, "/v1/functions/", name, "");
    add_owner(a, &path);
    return perform(a, "PUT", path, body, 0);
fail:
    json_decref(body);
    return ex >= 0 ? ex : oom();
}

/* The invoke input: absent -> null; "-" -> stdin; "@FILE" -> the file; else the argument. */
static int load_input(const struct fnbox_args *a, const char *arg, json_t **out)
{
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
    if (buf != NULL) fnbox_wipe_free(buf, len);
    return ex;
}

int fnbox_cmd_invoke(const struct fnbox_args *a)
{
    int ex = 0;
    if (!name_ok(a, "the function name", a->pos[0], &ex)) return ex;
    json_t *input;
    ex = load_input(a, a->npos > 1 ? a->pos[1] : NULL, &input);
    if (ex != 0) return ex;
    return perform(a, "POST", path_with(a, "/v1/functions/", a->pos[0], "/invoke"), input,
                   SHOW_BODY_ON_ERROR);
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

static char *secret_path(const struct fnbox_args *a, const char *name)
{
    char *path = name != NULL ? path_with(a, "/v1/secrets/", name, "") : strdup("/v1/secrets");
    add_owner(a, &path);
    return path;
}

int fnbox_cmd_secrets_put(const struct fnbox_args *a)
{
    int ex = 0;
    if (!name_ok(a, "the secret name", a->pos[0], &ex)) return ex;
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
    if (!name_ok(a, "the secret name", a->pos[0], &ex)) return ex;
    return perform(a, "DELETE", secret_path(a, a->pos[0]), NULL, 0);
}

/* --- audit and attestation ------------------------------------------------------------- */

int fnbox_cmd_audit(const struct fnbox_args *a)
{
    const char *after = opt1(a, OPT_AFTER), *limit = opt1(a, OPT_LIMIT);
    long long v;
    if (after != NULL && (fnbox_parse_i64(after, &v) != 0 || v < 0))
        return usage(a, "--after must be a non-negative integer (an audit sequence number)");
    if (limit != NULL && (fnbox_parse_i64(limit, &v) != 0 || v <= 0))
        return usage(a, "--limit must be a positive integer");
    char *path = strdup("/v1/audit");
    if (after != NULL) add_query(a, &path, "after", after);
    if (limit != NULL) add_query(a, &path, "limit", limit);
    return perform(a, "GET", path, NULL, 0);
}

int fnbox_cmd_audit_verify(const struct fnbox_args *a)
{
    return perform(a, "GET", strdup("/v1/audit/verify"), NULL, 0);
}

int fnbox_cmd_attest(const struct fnbox_args *a)
{
    const char *given = opt1(a, OPT_NONCE);
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
    }
    ex = finish(&r, 0);
    fnbox_response_free(&r);
    return ex;
}
