/* The host APIs a function calls: crypto (FIPS 180-2 and RFC 4231 vectors, encodings,
 * argument checks) and fetch (argument checks, the FRAME_CALL it sends, how its
 * FRAME_REPLY becomes a response or a thrown Error). A socketpair stands in for the
 * worker's socket; a thread plays the gateway and answers one call. */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/frame.h"
#include "common/proto.h"
#include "common/tlv.h"
#include "runtime/js_crypto.h"
#include "runtime/js_heap.h"
#include "runtime/js_random.h"

static int group_setup(void **state)
{
    (void)state;
    /* as in a worker: an unseeded generator gives NaN, which Duktape's sort uses for pivots */
    if (js_random_seed() != 0) return -1;
    return js_crypto_init();
}

static int setup(void **state)
{
    struct js_heap *h = calloc(1, sizeof *h);
    if (!h || js_heap_create(h)) return -1;
    js_heap_set_host_fd(-1);
    *state = h;
    return 0;
}

static int teardown(void **state)
{
    struct js_heap *h = *state;
    js_heap_set_host_fd(-1);
    js_heap_destroy(h);
    free(h);
    return 0;
}

/* Evaluates src; returns String(result), or "THROW <name>: <message>" (static buffer). */
static const char *eval(struct js_heap *h, const char *src)
{
    static char out[4096];
    duk_context *ctx = h->ctx;
    if (duk_peval_string(ctx, src) != 0)
        snprintf(out, sizeof out, "THROW %s", duk_safe_to_string(ctx, -1));
    else
        snprintf(out, sizeof out, "%s", duk_safe_to_string(ctx, -1));
    duk_pop(ctx);
    return out;
}

/* ---------------------------------------------------------------- crypto */

static void sha256_fips_vectors(void **state)
{
    struct js_heap *h = *state;
    assert_string_equal(eval(h, "crypto.sha256('abc')"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(eval(h, "crypto.sha256('')"),
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal(
        eval(h, "crypto.sha256('abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq')"),
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
    assert_string_equal(
        eval(h, "crypto.sha256('abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmn"
                "hijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqrstnopqrstu')"),
        "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1");
    /* one million 'a': built as bytes (a string that long is slow to build under ASan) */
    assert_string_equal(
        eval(h, "var m = new Uint8Array(1000000); for (var i = 0; i < m.length; i++) m[i] = 97;"
                "crypto.sha256(m)"),
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

static void sha256_hashes_utf8_bytes(void **state)
{
    struct js_heap *h = *state;
    /* "é" is C3 A9; U+1F600 (a surrogate pair in JS) is F0 9F 98 80; a lone surrogate
     * becomes U+FFFD (EF BF BD), as Node's Buffer.from does */
    assert_string_equal(eval(h, "crypto.sha256('\\u00e9')"),
                        "4a99557e4033c3539de2eb65472017cad5f9557f7a0625a09f1c3f6e2ba69c4c");
    assert_string_equal(eval(h, "crypto.sha256('\\ud83d\\ude00')"),
                        "f0443a342c5ef54783a111b51ba56c938e474c32324d90c3a60c9c8e3a37e2d9");
    assert_string_equal(eval(h, "crypto.sha256('\\ud800')"),
                        "83d544ccc223c057d2bf80d3f2a32982c32c3c0db8e2674820da5064783fb097");
    /* bytes: a Uint16Array hashes its memory (little-endian here) */
    assert_string_equal(eval(h, "crypto.sha256(new Uint16Array([1, 2]))"),
                        "7b11c1133330cd161071bf23a0c9b6ce5320a8f3a0f83620035a72be46df4104");
    assert_string_equal(eval(h, "crypto.sha256(new Uint8Array([97, 98, 99]).buffer)"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(
        eval(h, "crypto.sha256(new DataView(new Uint8Array([0, 97, 98, 99, 0]).buffer, 1, 3))"),
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(eval(h, "crypto.sha256(new Uint8Array([0, 97, 98, 99, 0]).subarray(1, 4))"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

static void hmac_rfc4231_vectors(void **state)
{
    struct js_heap *h = *state;
    eval(h, "function rep(b, n) { var a = new Uint8Array(n); for (var i = 0; i < n; i++) a[i] = b; "
            "return a; }");
    assert_string_equal(eval(h, "crypto.hmacSha256(rep(0x0b, 20), 'Hi There')"),
                        "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
    assert_string_equal(eval(h, "crypto.hmacSha256('Jefe', 'what do ya want for nothing?')"),
                        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
    assert_string_equal(eval(h, "crypto.hmacSha256(rep(0xaa, 20), rep(0xdd, 50))"),
                        "773ea91e36800e46854db8ebd09181a72959098b3ef8c122d9635514ced565fe");
    assert_string_equal(
        eval(h, "var k = new Uint8Array(25); for (var i = 0; i < 25; i++) k[i] = i + 1;"
                "crypto.hmacSha256(k, rep(0xcd, 50))"),
        "82558a389a443c0ea4cc819899f2083a85f0faa3e578f8077a2e3ff46729665b");
    assert_string_equal(eval(h, "crypto.hmacSha256(rep(0xaa, 131), 'Test Using Larger Than "
                                "Block-Size Key - Hash Key First')"),
                        "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
    assert_string_equal(
        eval(h,
             "crypto.hmacSha256(rep(0xaa, 131), 'This is a test using a larger than block-size key "
             "and a larger than block-size data. The key needs to be hashed before being used by "
             "the HMAC algorithm.')"),
        "9b09ffa71b942fcb27635fbcd5b0e944bfdc63644f0713938a7f51535c3a35e2");
    assert_string_equal(eval(h, "crypto.hmacSha256('', '')"),
                        "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad");
    assert_string_equal(eval(h, "crypto.hmacSha256('cl\\u00e9', '\\u65e5\\u672c')"),
                        "13fecc3f73a490d809d24906474a9c2dbacde1320ddbe5c9be1913f06bfab614");
}

static void encodings(void **state)
{
    struct js_heap *h = *state;
    assert_string_equal(
        eval(h, "crypto.hmacSha256('Jefe', 'what do ya want for nothing?', {encoding: 'base64'})"),
        "W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM=");
    assert_string_equal(eval(h, "crypto.sha256('abc', {encoding: 'base64'})"),
                        "ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=");
    assert_string_equal(eval(h, "crypto.sha256('abc', {encoding: 'hex'})"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(eval(h, "crypto.sha256('abc', null)"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    /* only an own property counts: a polluted prototype changes nothing */
    assert_string_equal(eval(h, "Object.prototype.encoding = 'base64'; crypto.sha256('abc', {})"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(eval(h, "crypto.sha256('abc', Object.create({encoding: 'base64'}))"),
                        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    assert_string_equal(
        eval(h, "crypto.sha256('abc', {encoding: 'latin1'})"),
        "THROW TypeError: crypto.sha256: options.encoding must be 'hex' or 'base64'");
    assert_string_equal(eval(h, "crypto.sha256('abc', 'base64')"),
                        "THROW TypeError: crypto.sha256: options must be an object");
}

static void random_bytes(void **state)
{
    struct js_heap *h = *state;
    assert_string_equal(eval(h, "/^[0-9a-f]{64}$/.test(crypto.randomBytes(32))"), "true");
    assert_string_equal(
        eval(h, "crypto.randomBytes(1).length + ',' + crypto.randomBytes(1024).length"), "2,2048");
    assert_string_equal(eval(h, "crypto.randomBytes(1024, {encoding: 'base64'}).length"), "1368");
    assert_string_equal(eval(h, "crypto.randomBytes(16) !== crypto.randomBytes(16)"), "true");
    const char *bad[] = {"0", "1025", "1.5", "-1", "NaN", "Infinity"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        char src[64];
        snprintf(src, sizeof src, "crypto.randomBytes(%s)", bad[i]);
        assert_string_equal(
            eval(h, src),
            "THROW RangeError: crypto.randomBytes: n must be an integer from 1 to 1024");
    }
    assert_string_equal(eval(h, "crypto.randomBytes('8')"),
                        "THROW TypeError: crypto.randomBytes: n must be a number");
    assert_string_equal(eval(h, "crypto.randomBytes()"),
                        "THROW TypeError: crypto.randomBytes: n must be a number");
}

static void crypto_argument_types_and_frozen(void **state)
{
    struct js_heap *h = *state;
    const char *type_errors[] = {
        "crypto.sha256()",        "crypto.sha256(1)",          "crypto.sha256(null)",
        "crypto.sha256({})",      "crypto.sha256(['a'])",      "crypto.sha256(Symbol('x'))",
        "crypto.hmacSha256('k')", "crypto.hmacSha256(1, 'd')", "crypto.hmacSha256('k', {})",
    };
    for (size_t i = 0; i < sizeof type_errors / sizeof *type_errors; i++) {
        char src[128];
        snprintf(src, sizeof src, "try { %s; 'no throw' } catch (e) { e.name }", type_errors[i]);
        assert_string_equal(eval(h, src), "TypeError");
    }
    assert_string_equal(eval(h, "Object.isFrozen(crypto)"), "true");
    assert_string_equal(
        eval(h, "crypto.sha256 = function () { return 'fake'; }; crypto.sha256('abc').length"),
        "64");
    assert_string_equal(eval(h, "Object.keys(crypto).sort().join()"),
                        "hmacSha256,randomBytes,sha256");
}

/* ---------------------------------------------------------------- fetch */

struct fake_parent {
    int fd;                  /* the gateway's end */
    struct tlv_writer reply; /* what it answers */
    struct frame call;       /* what it received */
    int got_call;
    pthread_t thread;
};

static void *parent_main(void *arg)
{
    struct fake_parent *p = arg;
    if (frame_recv(p->fd, &p->call, FRAME_MAX_PAYLOAD, -1) == 0 && p->call.type == FRAME_CALL) {
        p->got_call = 1;
        frame_send(p->fd, FRAME_REPLY, p->reply.buf, p->reply.len);
    }
    return NULL;
}

/* Connects the heap to a new fake parent that will answer one call with p->reply. */
static void parent_start(struct fake_parent *p, int worker_fd[1])
{
    int sv[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sv), 0);
    p->fd = sv[1];
    *worker_fd = sv[0];
    js_heap_set_host_fd(sv[0]);
    assert_int_equal(pthread_create(&p->thread, NULL, parent_main, p), 0);
}

static void parent_finish(struct fake_parent *p, int worker_fd)
{
    js_heap_set_host_fd(-1);
    close(worker_fd); /* a parent still waiting for a call sees EOF */
    pthread_join(p->thread, NULL);
    close(p->fd);
    tlv_writer_free(&p->reply);
}

/* The value of tag in the received call, NUL-terminated in buf; -1 when absent. */
static int call_field(const struct fake_parent *p, uint16_t tag, char *buf, size_t cap)
{
    struct tlv_reader r = {.p = p->call.data, .left = p->call.len};
    uint16_t t;
    const uint8_t *d;
    size_t n;
    int found = -1;
    while (tlv_next(&r, &t, &d, &n) == 1) {
        if (t != tag) continue;
        assert_true(n < cap);
        memcpy(buf, d, n);
        buf[n] = 0;
        found = (int)n;
    }
    return found;
}

static uint64_t call_u64(const struct fake_parent *p, uint16_t tag)
{
    char buf[16];
    assert_int_equal(call_field(p, tag, buf, sizeof buf), 8);
    uint64_t v;
    assert_int_equal(tlv_get_u64((const uint8_t *)buf, 8, &v), 0);
    return v;
}

static void reply_ok(struct fake_parent *p, uint64_t status, const char *headers, const void *body,
                     size_t body_len, const char *url)
{
    assert_int_equal(tlv_put_u64(&p->reply, REPLY_OK, 1), 0);
    assert_int_equal(tlv_put_u64(&p->reply, REPLY_STATUS, status), 0);
    if (headers) assert_int_equal(tlv_put_str(&p->reply, REPLY_HEADERS, headers), 0);
    if (url) assert_int_equal(tlv_put_str(&p->reply, REPLY_URL, url), 0);
    if (body) assert_int_equal(tlv_put(&p->reply, REPLY_VALUE, body, body_len), 0);
}

static void fetch_rejects_bad_arguments(void **state)
{
    struct js_heap *h = *state;
    /* no parent: if a check let one through, the call would fail with a plain Error */
    const char *type_errors[] = {
        "fetch()",
        "fetch(1)",
        "fetch(Symbol('u'))",
        "fetch(new String('https://a.example/'))",
        "fetch('https://a.example/', 'GET')",
        "fetch('https://a.example/', function () {})",
        "fetch('https://a.example/', {method: 1})",
        "fetch('https://a.example/', {method: {}})",
        "fetch('https://a.example/', {headers: 'a: b'})",
        "fetch('https://a.example/', {headers: [['a', 'b']]})",
        "fetch('https://a.example/', {headers: {a: {}}})",
        "fetch('https://a.example/', {headers: {a: true}})",
        "fetch('https://a.example/', {headers: {a: null}})",
        "fetch('https://a.example/', {headers: {a: undefined}})",
        "fetch('https://a.example/', {headers: new Uint8Array(2)})",
        "fetch('https://a.example/', {body: 1})",
        "fetch('https://a.example/', {body: {a: 1}})",
        "fetch('https://a.example/', {body: new Uint8Array(2)})",
        "fetch('https://a.example/', {timeout_ms: '100'})",
    };
    for (size_t i = 0; i < sizeof type_errors / sizeof *type_errors; i++) {
        char src[256];
        snprintf(src, sizeof src, "try { %s; 'no throw' } catch (e) { e.name }", type_errors[i]);
        if (strcmp(eval(h, src), "TypeError") != 0)
            fail_msg("%s: %s", type_errors[i], eval(h, src));
    }
    const char *range_errors[] = {"-1", "NaN", "Infinity", "-Infinity"};
    for (size_t i = 0; i < sizeof range_errors / sizeof *range_errors; i++) {
        char src[256];
        snprintf(src, sizeof src,
                 "try { fetch('https://a.example/', {timeout_ms: %s}); 'no throw' } catch (e) { "
                 "e.name }",
                 range_errors[i]);
        assert_string_equal(eval(h, src), "RangeError");
    }
    /* a getter that throws: its error goes through */
    assert_string_equal(
        eval(h, "try { fetch('https://a.example/', {get method() { throw new Error('mine'); }}) }"
                " catch (e) { e.message }"),
        "mine");
    /* valid arguments without a parent: a catchable Error, not a crash */
    assert_string_equal(eval(h, "try { fetch('https://a.example/'); 'no throw' } catch (e) { "
                                "e.name + ': ' + e.message }"),
                        "Error: fetch is not available here");
}

static void fetch_sends_the_call(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    reply_ok(&p, 200, "{}", "", 0, NULL);
    parent_start(&p, &wfd);
    /* prototype pollution must not add a method, headers, a body or a timeout */
    const char *r = eval(
        h, "Object.prototype.method = 'DELETE';"
           "Object.prototype.headers = {Evil: 'yes'};"
           "Object.prototype.body = 'injected';"
           "Object.prototype.timeout_ms = 5;"
           "Object.prototype.Inherited = 'no';"
           "var hs = Object.create({Proto: 'no'}); hs['X-Api-Key'] = 'k\\u00e9y \"q\" \\\\ \\n';"
           "hs.N = 5; hs['\\u65e5'] = '\\ud83d\\ude00';"
           "Object.defineProperty(hs, 'Hidden', {value: 'no', enumerable: false});"
           "fetch('https://api.example.com/p?q=1', {headers: hs}).status");
    assert_string_equal(r, "200");
    parent_finish(&p, wfd);
    assert_true(p.got_call);
    char buf[1024];
    assert_true(call_field(&p, CALL_OP, buf, sizeof buf) > 0);
    assert_string_equal(buf, CALL_OP_FETCH);
    assert_true(call_field(&p, CALL_URL, buf, sizeof buf) > 0);
    assert_string_equal(buf, "https://api.example.com/p?q=1");
    assert_true(call_field(&p, CALL_METHOD, buf, sizeof buf) > 0);
    assert_string_equal(buf, "GET");
    assert_int_equal(call_field(&p, CALL_BODY, buf, sizeof buf), -1);
    assert_int_equal(call_u64(&p, CALL_TIMEOUT_MS), 0);
    assert_true(call_field(&p, CALL_HEADERS, buf, sizeof buf) > 0);
    json_error_t err;
    json_t *hj = json_loads(buf, JSON_REJECT_DUPLICATES, &err);
    assert_non_null(hj);
    assert_int_equal(json_object_size(hj), 3);
    assert_string_equal(json_string_value(json_object_get(hj, "X-Api-Key")),
                        "k\xc3\xa9y \"q\" \\ \n");
    assert_string_equal(json_string_value(json_object_get(hj, "N")), "5");
    assert_string_equal(json_string_value(json_object_get(hj, "\xe6\x97\xa5")), "\xf0\x9f\x98\x80");
    json_decref(hj);
    frame_free(&p.call);
}

static void fetch_sends_method_body_timeout(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    reply_ok(&p, 201, NULL, NULL, 0, NULL);
    parent_start(&p, &wfd);
    assert_string_equal(
        eval(h, "var r = fetch('https://a.example/x', {method: 'post', body: '{\"a\":\"\\u00e9\"}',"
                " timeout_ms: 1500.2, extra: 1}); [r.status, r.ok, r.text() === '', r.url].join()"),
        "201,true,true,https://a.example/x");
    parent_finish(&p, wfd);
    char buf[256];
    assert_true(call_field(&p, CALL_METHOD, buf, sizeof buf) > 0);
    assert_string_equal(buf, "POST");
    assert_int_equal(call_field(&p, CALL_BODY, buf, sizeof buf), 10);
    assert_string_equal(buf, "{\"a\":\"\xc3\xa9\"}");
    assert_int_equal(call_u64(&p, CALL_TIMEOUT_MS), 1501);
    assert_true(call_field(&p, CALL_HEADERS, buf, sizeof buf) > 0);
    assert_string_equal(buf, "{}");
    frame_free(&p.call);

    /* a method outside the Fetch standard's list is sent as written; an empty body is a body */
    memset(&p, 0, sizeof p);
    reply_ok(&p, 204, NULL, NULL, 0, NULL);
    parent_start(&p, &wfd);
    assert_string_equal(
        eval(h, "fetch('https://a.example/x', {method: 'patch', body: '', headers: null}).status"),
        "204");
    parent_finish(&p, wfd);
    assert_true(call_field(&p, CALL_METHOD, buf, sizeof buf) > 0);
    assert_string_equal(buf, "patch");
    assert_int_equal(call_field(&p, CALL_BODY, buf, sizeof buf), 0);
    frame_free(&p.call);
}

static void fetch_decodes_a_response(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    static const char body[] = "{\"price\": 3120.5, \"s\": \"\\u00e9\"}";
    reply_ok(
        &p, 200,
        "{\"content-type\":\"application/json\",\"X-Upper\":\"v\",\"set-cookie\":[\"a=1\",\"b=2\"],"
        "\"__proto__\":\"x\"}",
        body, sizeof body - 1, "https://api.example.com/final");
    parent_start(&p, &wfd);
    eval(h, "var r = fetch('https://api.example.com/start')");
    parent_finish(&p, wfd);
    frame_free(&p.call);
    assert_string_equal(eval(h, "[r.status, r.ok, r.url].join()"),
                        "200,true,https://api.example.com/final");
    assert_string_equal(eval(h, "r.headers['content-type'] + '|' + r.headers['x-upper'] + '|' + "
                                "r.headers['X-Upper'] + '|' + r.headers['set-cookie']"),
                        "application/json|v|undefined|a=1, b=2");
    /* a header named __proto__ is an own property, not a prototype change */
    assert_string_equal(eval(h, "Object.getPrototypeOf(r.headers) === Object.prototype && "
                                "Object.getOwnPropertyDescriptor(r.headers, '__proto__').value"),
                        "x");
    assert_string_equal(eval(h, "r.json().price + r.json().s"), "3120.5\xc3\xa9");
    assert_string_equal(eval(h, "r.json() !== r.json() && r.text() === r.text()"), "true");
    assert_string_equal(eval(h, "var t = r.text; t().length"), "32");
    assert_string_equal(eval(h, "Object.keys(r).join()"), "status,ok,headers,url,text,json");
    assert_string_equal(
        eval(h, "JSON.stringify(r)"),
        "{\"status\":200,\"ok\":true,\"headers\":{\"content-type\":\"application/json\","
        "\"x-upper\":\"v\",\"set-cookie\":\"a=1, b=2\",\"__proto__\":\"x\"},"
        "\"url\":\"https://api.example.com/final\"}");
}

static void fetch_non_2xx_and_bad_json(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    reply_ok(&p, 302, "{\"location\":\"https://elsewhere.example/\"}", "not json", 8, NULL);
    parent_start(&p, &wfd);
    eval(h, "var r = fetch('https://a.example/old')");
    parent_finish(&p, wfd);
    frame_free(&p.call);
    assert_string_equal(eval(h, "[r.status, r.ok, r.headers.location, r.url].join()"),
                        "302,false,https://elsewhere.example/,https://a.example/old");
    assert_string_equal(eval(h, "try { r.json(); 'parsed' } catch (e) { e.name }"), "SyntaxError");
    assert_string_equal(eval(h, "r.text()"), "not json");
}

static void fetch_body_is_sanitized(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    /* 0xFF and 0x82 start Duktape's hidden keys: they must never reach the heap raw */
    static const uint8_t body[] = {0xff, 'b', 'o', 'd', 'y', 0x82, 0xc3, 'x', 0xc3, 0xa9};
    reply_ok(&p, 200, "{}", body, sizeof body, NULL);
    parent_start(&p, &wfd);
    eval(h, "var t = fetch('https://a.example/').text()");
    parent_finish(&p, wfd);
    frame_free(&p.call);
    assert_string_equal(
        eval(h, "var c = []; for (var i = 0; i < t.length; i++) c.push(t.charCodeAt(i)); c.join()"),
        "65533,98,111,100,121,65533,65533,120,233");
}

static void fetch_large_body(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    size_t n = 3u << 20; /* larger than any secret, and than one frame chunk */
    char *body = malloc(n);
    assert_non_null(body);
    memset(body, 'z', n);
    reply_ok(&p, 200, "{}", body, n, NULL);
    free(body);
    parent_start(&p, &wfd);
    assert_string_equal(
        eval(h, "var t = fetch('https://a.example/big').text(); t.length + t.slice(-2)"),
        "3145728zz");
    parent_finish(&p, wfd);
    frame_free(&p.call);

    /* a body the heap cannot hold: a catchable "alloc failed", C buffers released (ASan) */
    memset(&p, 0, sizeof p);
    body = malloc(n);
    assert_non_null(body);
    memset(body, 'y', n);
    reply_ok(&p, 200, "{}", body, n, NULL);
    free(body);
    eval(h, "t = null");
    duk_gc(h->ctx, 0);
    h->alloc.cap = h->alloc.used + (1u << 20);
    parent_start(&p, &wfd);
    assert_string_equal(
        eval(h, "try { fetch('https://a.example/big'); 'fit' } catch (e) { e.message }"),
        "alloc failed");
    parent_finish(&p, wfd);
    frame_free(&p.call);
    h->alloc.cap = 0;
    assert_string_equal(eval(h, "crypto.sha256('abc').length"), "64"); /* the heap still works */
}

static void fetch_refusal_throws_with_code(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    assert_int_equal(tlv_put_u64(&p.reply, REPLY_OK, 0), 0);
    assert_int_equal(tlv_put_str(&p.reply, REPLY_ERROR,
                                 "evil.example:443 is not in this function's allow_hosts"),
                     0);
    assert_int_equal(tlv_put_str(&p.reply, REPLY_CODE, FETCH_ERR_HOST), 0);
    parent_start(&p, &wfd);
    assert_string_equal(
        eval(h, "Object.defineProperty(Error.prototype, 'code', {set: function () {}, get: "
                "function () { return 'fake'; }});"
                "try { fetch('https://evil.example/'); 'no throw' } catch (e) {"
                " [e instanceof Error, e.name, e.message, e.code].join('|') }"),
        "true|Error|evil.example:443 is not in this function's allow_hosts|host_not_allowed");
    parent_finish(&p, wfd);
    frame_free(&p.call);

    /* a refusal from outside the broker (no code), e.g. the gateway's own limits */
    memset(&p, 0, sizeof p);
    assert_int_equal(tlv_put_u64(&p.reply, REPLY_OK, 0), 0);
    assert_int_equal(tlv_put_str(&p.reply, REPLY_ERROR, "too many host calls in one invocation"),
                     0);
    parent_start(&p, &wfd);
    assert_string_equal(eval(h, "try { fetch('https://a.example/') } catch (e) { e.message + '|' + "
                                "Object.prototype.hasOwnProperty.call(e, 'code') }"),
                        "too many host calls in one invocation|false");
    parent_finish(&p, wfd);
    frame_free(&p.call);
}

static void secrets_get_through_the_channel(void **state)
{
    struct js_heap *h = *state;
    struct fake_parent p = {0};
    int wfd;
    assert_int_equal(tlv_put_u64(&p.reply, REPLY_OK, 1), 0);
    assert_int_equal(tlv_put_str(&p.reply, REPLY_VALUE, "s3cr\xc3\xa9t\xff"), 0);
    parent_start(&p, &wfd);
    assert_string_equal(eval(h, "var v = secrets.get('api_key'); v.length + v.slice(0, 6)"),
                        "7s3cr\xc3\xa9t");
    parent_finish(&p, wfd);
    char buf[64];
    assert_true(call_field(&p, CALL_NAME, buf, sizeof buf) > 0);
    assert_string_equal(buf, "api_key");
    frame_free(&p.call);

    memset(&p, 0, sizeof p);
    assert_int_equal(tlv_put_u64(&p.reply, REPLY_OK, 0), 0);
    assert_int_equal(
        tlv_put_str(&p.reply, REPLY_ERROR, "secret 'x' is not available to this function"), 0);
    parent_start(&p, &wfd);
    assert_string_equal(eval(h, "try { secrets.get('x'); 'no throw' } catch (e) {"
                                " [e instanceof Error, e.name, e.message].join('|') }"),
                        "true|Error|secret 'x' is not available to this function");
    parent_finish(&p, wfd);
    frame_free(&p.call);
    assert_string_equal(eval(h, "try { secrets.get(Symbol('x')) } catch (e) { e.name }"),
                        "TypeError");
    assert_string_equal(eval(h, "try { secrets.get('x') } catch (e) { e.message }"),
                        "secrets are not available here");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(sha256_fips_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(sha256_hashes_utf8_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(hmac_rfc4231_vectors, setup, teardown),
        cmocka_unit_test_setup_teardown(encodings, setup, teardown),
        cmocka_unit_test_setup_teardown(random_bytes, setup, teardown),
        cmocka_unit_test_setup_teardown(crypto_argument_types_and_frozen, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_rejects_bad_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_sends_the_call, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_sends_method_body_timeout, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_decodes_a_response, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_non_2xx_and_bad_json, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_body_is_sanitized, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_large_body, setup, teardown),
        cmocka_unit_test_setup_teardown(fetch_refusal_throws_with_code, setup, teardown),
        cmocka_unit_test_setup_teardown(secrets_get_through_the_channel, setup, teardown),
    };
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
