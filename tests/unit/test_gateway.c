/* Pure validation, the SQLite store, tokens, and the bounded executor. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#include <cmocka.h>

#include "gateway/auth.h"
#include "gateway/executor.h"
#include "gateway/store.h"
#include "gateway/validate.h"

static const struct fn_limits max = {
    .timeout_ms = 30000, .memory_mb = 256, .max_fetches = 64, .max_output_bytes = 4 << 20};

static void names(void **state)
{
    assert_true(valid_function_name("hello"));
    assert_true(valid_function_name("a-b_9"));
    assert_false(valid_function_name(""));
    assert_false(valid_function_name("Hello"));
    assert_false(valid_function_name("-x"));
    assert_false(valid_function_name("a/b"));
    assert_false(valid_function_name("a234567890123456789012345678901234567890123456789012345678901234"));
    assert_true(valid_secret_name("API_KEY.v2-x"));
    assert_false(valid_secret_name(".hidden"));
    assert_false(valid_secret_name("a b"));
    assert_true(valid_entry("main"));
    assert_true(valid_entry("$run_2"));
    assert_false(valid_entry("2run"));
    assert_false(valid_entry("a.b"));
}

static json_t *js(const char *text)
{
    json_t *v = json_loads(text, JSON_DECODE_ANY, NULL);
    assert_non_null(v);
    return v;
}

static void limits(void **state)
{
    struct fn_limits l;
    char err[128];
    assert_int_equal(limits_parse(NULL, &max, &l, err, sizeof err), 0);
    assert_int_equal(l.timeout_ms, 5000);
    assert_int_equal(l.memory_mb, 64);
    json_t *ok = js("{\"timeout_ms\":100,\"max_fetches\":0}");
    assert_int_equal(limits_parse(ok, &max, &l, err, sizeof err), 0);
    assert_int_equal(l.timeout_ms, 100);
    assert_int_equal(l.max_fetches, 0);
    json_decref(ok);
    const char *bad[] = {"{\"timeout_ms\":30001}", "{\"memory_mb\":0}", "{\"memory_mb\":-5}",
                         "{\"memory_mb\":1.5}",    "{\"memory_mb\":\"8\"}", "{\"cpu\":1}", "[1]"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *b = js(bad[i]);
        err[0] = 0;
        assert_int_equal(limits_parse(b, &max, &l, err, sizeof err), -1);
        assert_true(err[0] != 0);
        json_decref(b);
    }
    /* a default above a lowered operator maximum is lowered to it */
    struct fn_limits small = max;
    small.memory_mb = 8;
    assert_int_equal(limits_parse(NULL, &small, &l, err, sizeof err), 0);
    assert_int_equal(l.memory_mb, 8);
}

static void hosts_and_grants(void **state)
{
    char err[128];
    json_t *out;
    json_t *in = js("[\"API.Example.com\",\"127.0.0.1:18080\",\"*.example.org\","
                    "{\"host\":\"x.io\",\"pin\":\"sha256//abc=\"}]");
    assert_int_equal(allow_hosts_parse(in, &out, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_array_get(out, 0)), "api.example.com");
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 3), "pin")),
                        "sha256//abc=");
    json_decref(out);
    json_decref(in);
    const char *bad[] = {"[\"a b\"]", "[\"host:0\"]", "[\"host:99999\"]", "[\"*.\"]", "[\"a..b\"]",
                         "[\"http://x\"]", "[{\"host\":\"x\",\"pin\":\"md5//\"}]", "\"x\""};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        in = js(bad[i]);
        assert_int_equal(allow_hosts_parse(in, &out, err, sizeof err), -1);
        json_decref(in);
    }
    in = js("[\"k1\",{\"name\":\"k2\",\"hosts\":[\"api.x.com\"]}]");
    assert_int_equal(grants_parse(in, &out, err, sizeof err), 0);
    assert_string_equal(json_string_value(json_object_get(json_array_get(out, 1), "name")), "k2");
    json_decref(out);
    json_decref(in);
    in = js("[\"bad name\"]");
    assert_int_equal(grants_parse(in, &out, err, sizeof err), -1);
    json_decref(in);
}

static char dbpath[64];

static int setup_db(void **state)
{
    snprintf(dbpath, sizeof dbpath, "/tmp/fnbox-unit-XXXXXX");
    int fd = mkstemp(dbpath);
    if (fd < 0) return -1;
    close(fd);
    unlink(dbpath);
    struct store *s;
    if (store_open(dbpath, &s)) return -1;
    *state = s;
    return 0;
}

static int teardown_db(void **state)
{
    store_close(*state);
    char p[80];
    unlink(dbpath);
    snprintf(p, sizeof p, "%s-wal", dbpath);
    unlink(p);
    snprintf(p, sizeof p, "%s-shm", dbpath);
    unlink(p);
    return 0;
}

static struct fn_version version_of(const char *name, const char *owner, const char *code)
{
    struct fn_version v = {0};
    snprintf(v.name, sizeof v.name, "%s", name);
    snprintf(v.owner, sizeof v.owner, "%s", owner);
    snprintf(v.entry, sizeof v.entry, "main");
    snprintf(v.code_sha256, sizeof v.code_sha256, "%064d", 0);
    v.code = (char *)code;
    v.limits_json = (char *)"{}";
    v.allow_hosts_json = (char *)"[]";
    v.secrets_json = (char *)"[]";
    v.created_at = 1;
    return v;
}

static void store_functions(void **state)
{
    struct store *s = *state;
    struct fn_version v1 = version_of("f", "alice", "function main(){return 1}");
    struct fn_version v2 = version_of("f", "alice", "function main(){return 2}");
    struct fn_version other = version_of("f", "bob", "x");
    int64_t ver;
    assert_int_equal(store_function_deploy(s, &v1, NULL, &ver), 0);
    assert_int_equal(ver, 1);
    assert_int_equal(store_function_deploy(s, &v2, NULL, &ver), 0);
    assert_int_equal(ver, 2);
    assert_int_equal(store_function_deploy(s, &other, NULL, &ver), -EEXIST);

    struct fn_version got;
    assert_int_equal(store_function_get(s, "f", 0, &got), 0);
    assert_int_equal(got.version, 2);
    assert_string_equal(got.code, "function main(){return 2}");
    fn_version_free(&got);

    assert_int_equal(store_function_set_live(s, "f", 1), 0);
    assert_int_equal(store_function_get(s, "f", 0, &got), 0);
    assert_int_equal(got.version, 1);
    assert_true(got.pinned);
    fn_version_free(&got);
    assert_int_equal(store_function_set_live(s, "f", 7), -ENOENT);
    assert_int_equal(store_function_set_live(s, "nope", 1), -ENOENT);
    assert_int_equal(store_function_set_live(s, "f", 0), 0);
    assert_int_equal(store_function_get(s, "f", 0, &got), 0);
    assert_int_equal(got.version, 2);
    fn_version_free(&got);

    json_t *list;
    assert_int_equal(store_function_list(s, "alice", &list), 0);
    assert_int_equal(json_array_size(list), 1);
    json_decref(list);
    assert_int_equal(store_function_list(s, "bob", &list), 0);
    assert_int_equal(json_array_size(list), 0);
    json_decref(list);
    assert_int_equal(store_function_versions(s, "f", &list), 0);
    assert_int_equal(json_array_size(list), 2);
    json_decref(list);

    assert_int_equal(store_function_delete(s, "f", NULL), 0);
    assert_int_equal(store_function_get(s, "f", 0, &got), -ENOENT);
    assert_int_equal(store_function_versions(s, "f", &list), -ENOENT);
    assert_int_equal(store_function_delete(s, "f", NULL), -ENOENT);
    /* once deleted, the name is free for another owner */
    assert_int_equal(store_function_deploy(s, &other, NULL, &ver), 0);
}

static void store_survives_reopen(void **state)
{
    struct store *s = *state;
    struct fn_version v = version_of("keep", "alice", "function main(){}");
    int64_t ver;
    assert_int_equal(store_function_deploy(s, &v, NULL, &ver), 0);
    store_close(s);
    assert_int_equal(store_open(dbpath, &s), 0);
    *state = s;
    struct fn_version got;
    assert_int_equal(store_function_get(s, "keep", 0, &got), 0);
    fn_version_free(&got);
}

static void tokens(void **state)
{
    struct store *s = *state;
    char tok[TOKEN_LEN + 1], id[40], hdr[TOKEN_LEN + 16];
    assert_int_equal(auth_token_create(s, ROLE_DEVELOPER, "alice", 100, 0, NULL, tok, id), 0);
    assert_int_equal(strlen(tok), TOKEN_LEN);
    struct principal p;
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    assert_int_equal(auth_check(s, hdr, 100, &p), 0);
    assert_int_equal(p.role, ROLE_DEVELOPER);
    assert_string_equal(p.owner, "alice");
    assert_int_equal(auth_check(s, NULL, 100, &p), -EACCES);
    assert_int_equal(auth_check(s, tok, 100, &p), -EACCES); /* no scheme */
    hdr[20] ^= 1;
    assert_int_equal(auth_check(s, hdr, 100, &p), -EACCES); /* one character changed */
    hdr[20] ^= 1;
    assert_int_equal(store_token_revoke(s, id), 0);
    assert_int_equal(auth_check(s, hdr, 100, &p), -EACCES);
    assert_int_equal(store_token_revoke(s, "tok_missing"), -ENOENT);

    assert_int_equal(auth_token_create(s, ROLE_INVOKER, "svc", 100, 160, NULL, tok, id), 0);
    snprintf(hdr, sizeof hdr, "Bearer %s", tok);
    assert_int_equal(auth_check(s, hdr, 159, &p), 0);
    assert_int_equal(auth_check(s, hdr, 160, &p), -EACCES); /* expired */

    json_t *list;
    assert_int_equal(store_token_list(s, &list), 0);
    char *text = json_dumps(list, 0);
    assert_null(strstr(text, tok)); /* the token itself is never listed */
    assert_null(strstr(text, tok + 6));
    free(text);
    json_decref(list);
}

static void block(void *arg)
{
    pthread_mutex_t *mu = arg;
    pthread_mutex_lock(mu);
    pthread_mutex_unlock(mu);
}

static void executor_bounded(void **state)
{
    pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&mu);
    struct executor *ex = executor_create(1, 2);
    assert_non_null(ex);
    assert_int_equal(executor_submit(ex, block, &mu), 0); /* taken by the thread */
    int accepted = 0;
    for (int i = 0; i < 10; i++)
        if (executor_submit(ex, block, &mu) == 0) accepted++;
    /* one running plus at most two queued; the thread may not have picked up the first yet */
    assert_true(accepted == 2 || accepted == 1);
    assert_int_equal(executor_submit(ex, block, &mu), -EBUSY);
    pthread_mutex_unlock(&mu);
    executor_free(ex);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(names),
        cmocka_unit_test(limits),
        cmocka_unit_test(hosts_and_grants),
        cmocka_unit_test_setup_teardown(store_functions, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(store_survives_reopen, setup_db, teardown_db),
        cmocka_unit_test_setup_teardown(tokens, setup_db, teardown_db),
        cmocka_unit_test(executor_bounded),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
