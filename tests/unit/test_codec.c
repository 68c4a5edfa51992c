/* Frame, TLV and UTF-8 codecs: the wire format between gateway and worker. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>

#include <cmocka.h>

#include "common/frame.h"
#include "common/tlv.h"
#include "common/utf8.h"

static void pair(int sv[2])
{
    assert_int_equal(socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv), 0);
    int big = 4 << 20;
    setsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
    setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
}

static void frame_roundtrip_small(void **state)
{
    int sv[2];
    pair(sv);
    assert_int_equal(frame_send(sv[0], FRAME_LOG, "hello", 5), 0);
    assert_int_equal(frame_send(sv[0], FRAME_RESULT, "", 0), 0);
    struct frame f;
    assert_int_equal(frame_recv(sv[1], &f, 100, -1), 0);
    assert_int_equal(f.type, FRAME_LOG);
    assert_int_equal(f.len, 5);
    assert_string_equal((char *)f.data, "hello");
    frame_free(&f);
    assert_int_equal(frame_recv(sv[1], &f, 100, -1), 0);
    assert_int_equal(f.type, FRAME_RESULT);
    assert_int_equal(f.len, 0);
    frame_free(&f);
    close(sv[0]);
    close(sv[1]);
}

/* A payload spanning several chunks arrives whole, byte for byte. */
static void frame_roundtrip_multichunk(void **state)
{
    int sv[2];
    pair(sv);
    size_t n = FRAME_CHUNK * 3 + 17;
    unsigned char *buf = malloc(n);
    assert_non_null(buf);
    for (size_t i = 0; i < n; i++) buf[i] = (unsigned char)(i * 31 + 7);
    pid_t pid = fork();
    if (pid == 0) _exit(frame_send(sv[0], FRAME_RESULT, buf, n) == 0 ? 0 : 1);
    struct frame f;
    assert_int_equal(frame_recv(sv[1], &f, n, frame_now_ms() + 5000), 0);
    assert_int_equal(f.len, n);
    assert_memory_equal(f.data, buf, n);
    frame_free(&f);
    free(buf);
    close(sv[0]);
    close(sv[1]);
}

static void frame_over_max_is_refused(void **state)
{
    int sv[2];
    pair(sv);
    char big[FRAME_CHUNK + 10];
    memset(big, 'x', sizeof big);
    assert_int_equal(frame_send(sv[0], FRAME_RESULT, big, sizeof big), 0);
    struct frame f;
    assert_int_equal(frame_recv(sv[1], &f, 1000, -1), -E2BIG);
    close(sv[0]);
    close(sv[1]);
}

static void frame_malformed_chunk(void **state)
{
    int sv[2];
    pair(sv);
    unsigned char bad[6] = {FRAME_LOG, 0x80 /* unknown flag */, 0, 0, 'h', 'i'};
    assert_int_equal(write(sv[0], bad, sizeof bad), (ssize_t)sizeof bad);
    struct frame f;
    assert_int_equal(frame_recv(sv[1], &f, 100, -1), -EPROTO);
    unsigned char tiny[2] = {1, 0};
    assert_int_equal(write(sv[0], tiny, sizeof tiny), 2);
    assert_int_equal(frame_recv(sv[1], &f, 100, -1), -EPROTO);
    /* a continuation that changes type mid-frame */
    unsigned char a[5] = {FRAME_LOG, FRAME_MORE, 0, 0, 'a'}, b[5] = {FRAME_RESULT, 0, 0, 0, 'b'};
    assert_int_equal(write(sv[0], a, 5), 5);
    assert_int_equal(write(sv[0], b, 5), 5);
    assert_int_equal(frame_recv(sv[1], &f, 100, -1), -EPROTO);
    close(sv[0]);
    close(sv[1]);
}

static void frame_eof_and_timeout(void **state)
{
    int sv[2];
    pair(sv);
    struct frame f;
    int64_t t0 = frame_now_ms();
    assert_int_equal(frame_recv(sv[1], &f, 100, t0 + 50), -ETIMEDOUT);
    assert_true(frame_now_ms() - t0 >= 50);
    close(sv[0]);
    assert_int_equal(frame_recv(sv[1], &f, 100, -1), -EPIPE);
    close(sv[1]);
}

static void tlv_roundtrip_and_truncation(void **state)
{
    struct tlv_writer w = {0};
    assert_int_equal(tlv_put_str(&w, 2, "code"), 0);
    assert_int_equal(tlv_put_u64(&w, 6, 0x0102030405060708ull), 0);
    assert_int_equal(tlv_put(&w, 9, NULL, 0), 0);
    struct tlv_reader r = {.p = w.buf, .left = w.len};
    uint16_t tag;
    const uint8_t *d;
    size_t n;
    uint64_t v;
    assert_int_equal(tlv_next(&r, &tag, &d, &n), 1);
    assert_int_equal(tag, 2);
    assert_int_equal(n, 4);
    assert_memory_equal(d, "code", 4);
    assert_int_equal(tlv_next(&r, &tag, &d, &n), 1);
    assert_int_equal(tlv_get_u64(d, n, &v), 0);
    assert_true(v == 0x0102030405060708ull);
    assert_int_equal(tlv_get_u64(d, 4, &v), -EPROTO);
    assert_int_equal(tlv_next(&r, &tag, &d, &n), 1);
    assert_int_equal(n, 0);
    assert_int_equal(tlv_next(&r, &tag, &d, &n), 0);
    /* a record claiming more bytes than remain */
    struct tlv_reader cut = {.p = w.buf, .left = 8};
    assert_int_equal(tlv_next(&cut, &tag, &d, &n), -EPROTO);
    struct tlv_reader hdr = {.p = w.buf, .left = 3};
    assert_int_equal(tlv_next(&hdr, &tag, &d, &n), -EPROTO);
    tlv_writer_free(&w);
}

static void check_utf8n(const char *in, size_t len, const char *want, size_t want_len)
{
    size_t n;
    char *out = utf8_sanitize(in, len, &n);
    assert_non_null(out);
    int same = n == want_len && memcmp(out, want, n) == 0;
    free(out);
    assert_true(same);
}

static void check_utf8(const char *in, size_t len, const char *want)
{
    check_utf8n(in, len, want, strlen(want));
}

static void utf8_sanitize_cases(void **state)
{
    check_utf8("plain ascii", 11, "plain ascii");
    check_utf8("caf\xc3\xa9", 5, "caf\xc3\xa9");
    /* CESU-8 surrogate pair for U+1F600 becomes 4-byte UTF-8 */
    check_utf8("\xed\xa0\xbd\xed\xb8\x80", 6, "\xf0\x9f\x98\x80");
    /* a lone high surrogate, a lone low surrogate, a stray continuation byte, a truncated seq */
    check_utf8("a\xed\xa0\xbdz", 5, "a\xef\xbf\xbdz");
    check_utf8("\xed\xb8\x80", 3, "\xef\xbf\xbd");
    check_utf8("\x80", 1, "\xef\xbf\xbd");
    check_utf8("\xe2\x82", 2, "\xef\xbf\xbd\xef\xbf\xbd");
    /* overlong encoding of '/' is refused */
    check_utf8("\xc0\xaf", 2, "\xef\xbf\xbd\xef\xbf\xbd");
    check_utf8n("a\0b", 3, "a\0b", 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(frame_roundtrip_small),     cmocka_unit_test(frame_roundtrip_multichunk),
        cmocka_unit_test(frame_over_max_is_refused), cmocka_unit_test(frame_malformed_chunk),
        cmocka_unit_test(frame_eof_and_timeout),     cmocka_unit_test(tlv_roundtrip_and_truncation),
        cmocka_unit_test(utf8_sanitize_cases),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
