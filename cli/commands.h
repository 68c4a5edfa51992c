/* commands: one function per fnbox command. Each gets the parsed arguments (main.c has
 * already checked the number of positionals and which options the command accepts), makes its
 * request, prints the server's JSON pretty-printed on stdout and returns the exit status:
 *   0 on a 2xx response; 1 on an error response ("fnbox: <code>: <message>" on stderr; for
 *   invoke, a response carrying an invocation_id is also printed whole on stdout, logs included)
 *   or another failure; 2 on a usage error; 3 when the server cannot be reached.
 * Exceptions: `audit --jsonl` passes the server's JSON lines through as they are; `audit
 * --follow` prints one compact JSON line per entry until interrupted; `audit verify` prints
 * one line per check and exits 1 unless every check passed; so does `verify` (which makes no
 * request: it checks saved files). `invoke --sign` prints the response byte for byte as the
 * server sent it (a receipt covers the exact text of its "result"); `--out FILE` (attest,
 * invoke) also saves the response body, exactly as received, to FILE. */
#ifndef FNBOX_CLI_COMMANDS_H
#define FNBOX_CLI_COMMANDS_H

#include <stddef.h>

#include "cli/http_client.h"

enum {
    FNBOX_EXIT_OK = 0,
    FNBOX_EXIT_ERROR = 1,
    FNBOX_EXIT_USAGE = 2,
    FNBOX_EXIT_CONNECT = 3,
};

/* Command options (global ones such as --url are handled by main.c). */
enum fnbox_opt {
    OPT_NAME,
    OPT_ENTRY,
    OPT_LIMIT, /* deploy: KEY=INTEGER, repeatable; audit: a count */
    OPT_ALLOW_HOST,
    OPT_SECRET,
    OPT_OWNER,
    OPT_ROLE,
    OPT_EXPIRES_IN,
    OPT_VALUE,
    OPT_AFTER,
    OPT_NONCE,
    OPT_FUNCTION, /* audit filters */
    OPT_ACTOR,
    OPT_OUTCOME,
    OPT_SINCE,
    OPT_JSONL,  /* a flag: no value (its slot holds "") */
    OPT_FOLLOW, /* a flag */
    OPT_MAX_SECONDS,
    OPT_CHECKPOINT,
    OPT_SIGN, /* a flag */
    OPT_OUT,
    OPT_ATTESTATION,
    OPT_RECEIPT,
    OPT_EXPECT_MEASUREMENT,
    OPT_INPUT,
    OPT_TO_ATTESTATION,
    OPT_FROM,
    OPT_EXPECT_CONFINEMENT,
    OPT_ISOLATION,
    OPT_EXPECT_ISOLATION,
    OPT_COUNT
};

struct fnbox_optvals {
    const char **v; /* in the order given */
    size_t n;
};

struct fnbox_args {
    struct fnbox_client *client;
    const char *cmd; /* "deploy", "token create", ... for messages */
    char **pos;      /* positionals after the command words */
    int npos;
    struct fnbox_optvals opt[OPT_COUNT];
};

typedef int (*fnbox_cmd_fn)(const struct fnbox_args *a);

int fnbox_cmd_deploy(const struct fnbox_args *a);
int fnbox_cmd_invoke(const struct fnbox_args *a);
int fnbox_cmd_functions(const struct fnbox_args *a);
int fnbox_cmd_get(const struct fnbox_args *a);
int fnbox_cmd_versions(const struct fnbox_args *a);
int fnbox_cmd_rollback(const struct fnbox_args *a);
int fnbox_cmd_unpin(const struct fnbox_args *a);
int fnbox_cmd_rm(const struct fnbox_args *a);
int fnbox_cmd_token_create(const struct fnbox_args *a);
int fnbox_cmd_token_list(const struct fnbox_args *a);
int fnbox_cmd_token_revoke(const struct fnbox_args *a);
int fnbox_cmd_secrets_put(const struct fnbox_args *a);
int fnbox_cmd_secrets_list(const struct fnbox_args *a);
int fnbox_cmd_secrets_rm(const struct fnbox_args *a);
int fnbox_cmd_audit(const struct fnbox_args *a);
int fnbox_cmd_audit_verify(const struct fnbox_args *a);
int fnbox_cmd_audit_checkpoint(const struct fnbox_args *a);
int fnbox_cmd_keys_list(const struct fnbox_args *a);
int fnbox_cmd_keys_rotate(const struct fnbox_args *a);
int fnbox_cmd_keys_challenge(const struct fnbox_args *a);
int fnbox_cmd_keys_export(const struct fnbox_args *a);
int fnbox_cmd_keys_import(const struct fnbox_args *a);
int fnbox_cmd_attest(const struct fnbox_args *a);
int fnbox_cmd_verify(const struct fnbox_args *a); /* verify.c */

#endif
