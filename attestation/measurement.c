#include "attestation/measurement.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "sandbox/seccomp_policy.h"

int measure_self(uint8_t out[32])
{
    int fd = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
    if (fd < 0) return -errno;
    int rc = measure_fd(fd, out);
    close(fd);
    return rc;
}

int measure_fd(int fd, uint8_t out[32])
{
    EVP_MD_CTX *md = EVP_MD_CTX_new();
    int rc = md && EVP_DigestInit_ex(md, EVP_sha256(), NULL) == 1 ? 0 : -EIO;
    unsigned char buf[65536];
    ssize_t n;
    off_t off = 0;
    while (!rc && (n = pread(fd, buf, sizeof buf, off)) != 0) {
        if (n < 0) {
            if (errno == EINTR) continue;
            rc = -errno;
        } else if (EVP_DigestUpdate(md, buf, (size_t)n) != 1) {
            rc = -EIO;
        } else {
            off += n;
        }
    }
    unsigned int len = 0;
    if (!rc && (EVP_DigestFinal_ex(md, out, &len) != 1 || len != 32)) rc = -EIO;
    EVP_MD_CTX_free(md);
    return rc;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static void put_list(FILE *f, const char *key, const char *const *items, int n)
{
    const char *sorted[CONFIG_LIST_MAX];
    for (int i = 0; i < n && i < CONFIG_LIST_MAX; i++) sorted[i] = items[i];
    qsort(sorted, (size_t)n, sizeof *sorted, cmp_str);
    fprintf(f, "%s=", key);
    for (int i = 0; i < n; i++) fprintf(f, "%s%s", i ? "," : "", sorted[i]);
    fputc('\n', f);
}

int measure_config(const struct config *c, const uint8_t exe[32], const uint8_t zygote[32],
                   char **description, uint8_t out[32])
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) return -ENOMEM;
    fputs("fnbox-measurement-v1\nexe=", f);
    for (int i = 0; i < 32; i++) fprintf(f, "%02x", exe[i]);
    fputs("\nzygote=", f);
    for (int i = 0; i < 32; i++) fprintf(f, "%02x", zygote[i]);
    fprintf(f, "\nseccomp=%s\n", SECCOMP_POLICY_VERSION);
    fprintf(f, "max_timeout_ms=%lld\nmax_memory_mb=%lld\nmax_output_bytes=%lld\n"
               "max_fetches=%lld\nmax_response_bytes=%ld\n",
            (long long)c->max.timeout_ms, (long long)c->max.memory_mb,
            (long long)c->max.max_output_bytes, (long long)c->max.max_fetches,
            c->max_response_bytes);
    put_list(f, "egress_allow", c->egress_allow, c->n_egress_allow);
    put_list(f, "egress_allow_http", c->egress_allow_http, c->n_egress_allow_http);
    put_list(f, "egress_allow_private", c->egress_allow_private, c->n_egress_allow_private);
    fprintf(f, "sealing_policy=%s\n", c->sealing_policy);
    /* function zygotes compile user code in a process that may fork: a different trust shape */
    fprintf(f, "function_zygotes=%ld\n", c->function_zygotes);
    fprintf(f, "namespaces=%ld\n", c->namespaces);
    /* which key signs reports, receipts and checkpoints, and so which chains accept them */
    fprintf(f, "key_scheme=%s\n", c->key_scheme);
    /* who may receive this instance's keys is as security-relevant as the sealing policy */
    put_list(f, "key_export_peer_measurements", c->peer_measurements, c->n_peer_measurements);
    fprintf(f, "key_export_trust_software_peers=%d\n", c->trust_software_peers ? 1 : 0);
    fprintf(f, "key_export_trust_unverified_quotes=%d\n", c->trust_unverified_quotes ? 1 : 0);
    if (fclose(f) != 0) {
        free(buf);
        return -ENOMEM;
    }
    unsigned int n = 0;
    if (EVP_Digest(buf, len, out, &n, EVP_sha256(), NULL) != 1 || n != 32) {
        free(buf);
        return -EIO;
    }
    *description = buf;
    return 0;
}
