/* Egress policy: address classes, CIDRs, allowlist matching, and fetch_prepare's URL checks
 * (curl_url parsing, no network). */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>
#include <curl/curl.h>

#include "common/proto.h"
#include "gateway/egress.h"
#include "gateway/fetch.h"

static int allowed(const char *ip, const char *open_cidr)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    if (strchr(ip, ':')) {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
        a->sin6_family = AF_INET6;
        assert_int_equal(inet_pton(AF_INET6, ip, &a->sin6_addr), 1);
    } else {
        struct sockaddr_in *a = (struct sockaddr_in *)&ss;
        a->sin_family = AF_INET;
        assert_int_equal(inet_pton(AF_INET, ip, &a->sin_addr), 1);
    }
    struct cidr c;
    int n = 0;
    if (open_cidr) {
        assert_int_equal(cidr_parse(open_cidr, &c), 0);
        n = 1;
    }
    return egress_addr_allowed((struct sockaddr *)&ss, &c, n);
}

static void address_classes(void **state)
{
    const char *refused[] = {"127.0.0.1", "127.255.0.9", "10.1.2.3", "172.16.0.1", "172.31.255.255",
                             "192.168.1.1", "169.254.169.254", "100.64.0.1", "0.0.0.0",
                             "224.0.0.1", "255.255.255.255", "198.18.0.1", "192.0.2.5",
                             "::1", "::", "fe80::1", "fc00::1", "fd12::1", "ff02::1",
                             "::ffff:127.0.0.1", "::ffff:10.0.0.1", "::127.0.0.1",
                             "64:ff9b::7f00:1", "64:ff9b::a9fe:a9fe", "2001:db8::1"};
    for (size_t i = 0; i < sizeof refused / sizeof *refused; i++)
        if (allowed(refused[i], NULL)) fail_msg("%s was allowed", refused[i]);
    const char *ok[] = {"8.8.8.8", "1.1.1.1", "172.32.0.1", "2606:4700::1111",
                        "::ffff:8.8.8.8", "64:ff9b::808:808"};
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++)
        if (!allowed(ok[i], NULL)) fail_msg("%s was refused", ok[i]);
    /* the operator opens a range, and only that range */
    assert_true(allowed("127.0.0.1", "127.0.0.0/8"));
    assert_true(allowed("::ffff:127.0.0.1", "127.0.0.0/8"));
    assert_false(allowed("10.0.0.1", "127.0.0.0/8"));
    assert_false(allowed("::1", "127.0.0.0/8"));
    assert_true(allowed("::1", "::1/128"));
}

static void cidrs(void **state)
{
    struct cidr c;
    assert_int_equal(cidr_parse("10.0.0.0/8", &c), 0);
    assert_int_equal(c.prefix, 8);
    assert_int_equal(cidr_parse("127.0.0.1", &c), 0);
    assert_int_equal(c.prefix, 32);
    assert_int_equal(cidr_parse("fd00::/8", &c), 0);
    assert_int_not_equal(cidr_parse("10.0.0.0/33", &c), 0);
    assert_int_not_equal(cidr_parse("10.0.0.0/", &c), 0);
    assert_int_not_equal(cidr_parse("nonsense", &c), 0);
}

static void host_matching(void **state)
{
    assert_true(egress_host_allowed("api.example.com", "api.example.com", 443, 443));
    assert_true(egress_host_allowed("api.example.com", "API.example.com.", 443, 443));
    assert_false(egress_host_allowed("api.example.com", "api.example.com", 8443, 443));
    assert_true(egress_host_allowed("api.example.com:8443", "api.example.com", 8443, 443));
    assert_false(egress_host_allowed("api.example.com", "xapi.example.com", 443, 443));
    assert_false(egress_host_allowed("api.example.com", "api.example.com.evil.io", 443, 443));
    assert_true(egress_host_allowed("*.example.com", "a.example.com", 443, 443));
    assert_false(egress_host_allowed("*.example.com", "example.com", 443, 443));
    assert_false(egress_host_allowed("*.example.com", "a.b.example.com", 443, 443));
    assert_false(egress_host_allowed("*.example.com", "aexample.com", 443, 443));
    assert_true(egress_host_allowed("127.0.0.1:18080", "127.0.0.1", 18080, 80));
}

static const char *prepare_code(const char *url, const char *allow, const char *const *http_ok,
                                int n_http)
{
    static struct fetch_error e;
    struct egress_config c = {.allow_http = http_ok, .n_allow_http = n_http, .max_response = 1 << 20};
    json_t *hosts = json_pack("[s]", allow), *headers = json_object();
    struct fetch_target t;
    memset(&e, 0, sizeof e);
    int rc = fetch_prepare(&c, hosts, url, headers, &t, &e);
    json_decref(hosts);
    json_decref(headers);
    return rc == 0 ? "ok" : e.code;
}

static void url_checks(void **state)
{
    const char *const http[] = {"127.0.0.1:8080", "api.example.com"};
    assert_string_equal(prepare_code("https://api.example.com/p", "api.example.com", NULL, 0), "ok");
    assert_string_equal(prepare_code("http://127.0.0.1:8080/x", "127.0.0.1:8080", http, 1), "ok");
    assert_string_equal(prepare_code("http://api.example.com/x", "api.example.com", NULL, 0),
                        FETCH_ERR_SCHEME);
    assert_string_equal(prepare_code("https://evil.io/", "api.example.com", NULL, 0), FETCH_ERR_HOST);
    const char *loopback_forms[] = {"http://2130706433:8080/", "http://0x7f000001:8080/",
                                    "http://017700000001:8080/", "http://127.1:8080/",
                                    "http://0x7f.0.0.1:8080/", "http://127.000.000.001:8080/"};
    for (size_t i = 0; i < sizeof loopback_forms / sizeof *loopback_forms; i++) {
        const char *code = prepare_code(loopback_forms[i], "127.0.0.1:8080", http, 1);
        if (strcmp(code, "ok") == 0) fail_msg("%s was accepted", loopback_forms[i]);
    }
    assert_string_not_equal(prepare_code("http://[::1]:8080/", "127.0.0.1:8080", http, 1), "ok");
    assert_string_not_equal(prepare_code("http://[::ffff:127.0.0.1]:8080/", "127.0.0.1:8080", http, 1), "ok");
    assert_string_equal(prepare_code("https://u:p@api.example.com/", "api.example.com", NULL, 0),
                        FETCH_ERR_INVALID);
    assert_string_equal(prepare_code("https://api.example.com@evil.io/", "api.example.com", NULL, 0),
                        FETCH_ERR_INVALID);
    assert_string_equal(prepare_code("https://evil.io#@api.example.com/", "api.example.com", NULL, 0),
                        FETCH_ERR_HOST);
    assert_string_equal(prepare_code("file:///etc/passwd", "api.example.com", NULL, 0), FETCH_ERR_SCHEME);
    assert_string_equal(prepare_code("gopher://api.example.com/", "api.example.com", NULL, 0),
                        FETCH_ERR_SCHEME);
    assert_string_equal(prepare_code("ftp://api.example.com/", "api.example.com", NULL, 0),
                        FETCH_ERR_SCHEME);
    assert_string_equal(prepare_code("not a url", "api.example.com", NULL, 0), FETCH_ERR_INVALID);
}

static void header_checks(void **state)
{
    struct egress_config c = {.max_response = 1 << 20};
    json_t *hosts = json_pack("[s]", "api.example.com");
    const char *bad[][2] = {{"X-A", "v\r\nInjected: 1"}, {"X-A\r\n", "v"}, {"Host", "evil.io"},
                            {"Content-Length", "5"}, {"X A", "v"}, {"Transfer-Encoding", "chunked"}};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        json_t *h = json_pack("{ss}", bad[i][0], bad[i][1]);
        struct fetch_target t;
        struct fetch_error e = {0};
        assert_int_equal(fetch_prepare(&c, hosts, "https://api.example.com/", h, &t, &e), -1);
        assert_string_equal(e.code, FETCH_ERR_INVALID);
        json_decref(h);
    }
    json_t *h = json_pack("{ss}", "Authorization", "Bearer k");
    struct fetch_target t;
    struct fetch_error e = {0};
    assert_int_equal(fetch_prepare(&c, hosts, "https://api.example.com/", h, &t, &e), 0);
    json_decref(h);
    json_decref(hosts);
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(address_classes), cmocka_unit_test(cidrs),
        cmocka_unit_test(host_matching),   cmocka_unit_test(url_checks),
        cmocka_unit_test(header_checks),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    curl_global_cleanup();
    return rc;
}
