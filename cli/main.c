/* fnbox: the command-line client of fnboxd. Parses the command line, finds the command in
 * the table below, checks its arguments and options, and runs it (commands.c). */
#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/http_client.h"
#include "cli/io.h"
#include "cli/util.h"

#define DEFAULT_URL "http://127.0.0.1:8080"
#define DEFAULT_TIMEOUT_S 300L
#define TOKEN_FILE_MAX 4096

#define O(x) (1u << (x))

struct command {
    const char *w1, *w2; /* command words; w2 NULL for one-word commands */
    const char *synopsis;
    const char *help;
    int min_pos, max_pos;
    unsigned opts;   /* options accepted (bits of enum fnbox_opt) */
    unsigned repeat; /* of those, the ones that may be repeated */
    fnbox_cmd_fn fn;
};

static const struct command commands[] = {
    {"deploy", NULL,
     "FILE --name NAME [--entry FN] [--limit KEY=N]... [--allow-host HOST]...\n"
     "        [--secret NAME[=HOST,...]]... [--sign] [--isolation process|snapshot] [--owner OWNER]",
     "Deploy FILE ('-': stdin) as a new version of function NAME. Limits: timeout_ms, memory_mb,\n"
     "      max_fetches, max_output_bytes. --secret grants secrets.get(NAME); with =HOST,... the\n"
     "      value may only be sent to those hosts. --sign: every successful result carries a\n"
     "      signed receipt. --isolation snapshot: a reused worker whose heap is reset to the\n"
     "      compiled state after each result (faster; see docs/threat-model.md), instead of a\n"
     "      fresh process per invocation (process, the default). --owner: an admin deploying\n"
     "      for that owner.",
     1, 1,
     O(OPT_NAME) | O(OPT_ENTRY) | O(OPT_LIMIT) | O(OPT_ALLOW_HOST) | O(OPT_SECRET) | O(OPT_OWNER) |
         O(OPT_SIGN) | O(OPT_ISOLATION),
     O(OPT_LIMIT) | O(OPT_ALLOW_HOST) | O(OPT_SECRET), fnbox_cmd_deploy},
    {"invoke", NULL, "NAME [JSON | @FILE | -] [--sign] [--out FILE]",
     "Invoke NAME with a JSON input (none: null; '-': read stdin). A failed invocation still\n"
     "      prints its whole response (logs included) on stdout, and exits 1. --sign: ask for a\n"
     "      signed receipt (?sign=1); the response is then printed exactly as the server sent\n"
     "      it. --out FILE: also save the response body as received (for 'fnbox verify').",
     1, 2, O(OPT_SIGN) | O(OPT_OUT), 0, fnbox_cmd_invoke},
    {"functions", NULL, "[--owner OWNER]", "List functions.", 0, 0, O(OPT_OWNER), 0,
     fnbox_cmd_functions},
    {"get", NULL, "NAME", "Show the live version of NAME, code included.", 1, 1, 0, 0,
     fnbox_cmd_get},
    {"versions", NULL, "NAME", "List the versions of NAME.", 1, 1, 0, 0, fnbox_cmd_versions},
    {"rollback", NULL, "NAME VERSION", "Pin VERSION as the live version of NAME.", 2, 2, 0, 0,
     fnbox_cmd_rollback},
    {"unpin", NULL, "NAME", "Unpin NAME: its newest version becomes live.", 1, 1, 0, 0,
     fnbox_cmd_unpin},
    {"rm", NULL, "NAME", "Delete function NAME.", 1, 1, 0, 0, fnbox_cmd_rm},
    {"token", "create", "--role ROLE --owner OWNER [--expires-in SECONDS]",
     "Create an API token (admin, developer or invoker). The response holds the token: keep it.", 0,
     0, O(OPT_ROLE) | O(OPT_OWNER) | O(OPT_EXPIRES_IN), 0, fnbox_cmd_token_create},
    {"token", "list", "", "List API tokens (never the tokens themselves).", 0, 0, 0, 0,
     fnbox_cmd_token_list},
    {"token", "revoke", "ID", "Revoke token ID.", 1, 1, 0, 0, fnbox_cmd_token_revoke},
    {"secrets", "put", "NAME [--value VALUE] [--owner OWNER]",
     "Store a new version of a secret (at most 64 KiB). The value is read from stdin (a\n"
     "      terminal: prompted, not echoed; one trailing newline is dropped). --value puts it\n"
     "      in your shell history: avoid.",
     1, 1, O(OPT_VALUE) | O(OPT_OWNER), 0, fnbox_cmd_secrets_put},
    {"secrets", "list", "[--owner OWNER]", "List secret names and versions (never values).", 0, 0,
     O(OPT_OWNER), 0, fnbox_cmd_secrets_list},
    {"secrets", "rm", "NAME [--owner OWNER]", "Delete a secret.", 1, 1, O(OPT_OWNER), 0,
     fnbox_cmd_secrets_rm},
    {"audit", NULL,
     "[--after SEQ] [--limit N] [--function F] [--secret S] [--actor A] [--outcome O]\n"
     "        [--since UNIXTIME] [--jsonl] [--follow [--max-seconds N]]",
     "Show audit log entries after SEQ (admin), at most N (1..1000, default 100), matching the\n"
     "      filters. --jsonl: one JSON entry per line. --follow: print each new entry as one JSON\n"
     "      line, polling every second, until Ctrl-C (or for N seconds); it starts at the current\n"
     "      head unless --after is given and leaves out the audit.read entries of its own polls.",
     0, 0,
     O(OPT_AFTER) | O(OPT_LIMIT) | O(OPT_FUNCTION) | O(OPT_SECRET) | O(OPT_ACTOR) | O(OPT_OUTCOME) |
         O(OPT_SINCE) | O(OPT_JSONL) | O(OPT_FOLLOW) | O(OPT_MAX_SECONDS),
     0, fnbox_cmd_audit},
    {"audit", "verify", "[--checkpoint FILE]",
     "Have the server walk the audit log's hash chain and check its latest checkpoint. With\n"
     "      FILE (a checkpoint saved earlier: the output of 'fnbox audit checkpoint' or a copy of\n"
     "      DATA/audit.checkpoint), also verify its ECDSA P-256 signature here and that the log\n"
     "      still holds that entry with that hash (no truncation or rollback since). Prints one\n"
     "      line per check; exits 0 only when every check passed.",
     0, 0, O(OPT_CHECKPOINT), 0, fnbox_cmd_audit_verify},
    {"audit", "checkpoint", "",
     "Sign the audit log's current head with the instance key; prints the checkpoint (save it\n"
     "      for 'fnbox audit verify --checkpoint FILE').",
     0, 0, 0, 0, fnbox_cmd_audit_checkpoint},
    {"keys", "list", "", "List the data-encryption keys and how many secrets each seals (admin).",
     0, 0, 0, 0, fnbox_cmd_keys_list},
    {"keys", "rotate", "",
     "Make a new data-encryption key for new secrets, rewrap every stored secret under it and\n"
     "      retire the old keys (admin).",
     0, 0, 0, 0, fnbox_cmd_keys_rotate},
    {"keys", "challenge", "",
     "A fresh single-use nonce (valid 300 s) for the attestation report of a peer that is to\n"
     "      receive this instance's keys (admin). Then, with the peer's server:\n"
     "      fnbox attest --nonce NONCE --out peer.json.",
     0, 0, 0, 0, fnbox_cmd_keys_challenge},
    {"keys", "export", "--to-attestation FILE [--out FILE]",
     "Seal every data-encryption key to the peer whose attestation report (answering a\n"
     "      'keys challenge' nonce) is in FILE, with every sealed secret (admin). The server\n"
     "      refuses a report that does not verify, an unexpected measurement, and a\n"
     "      software-only peer unless it runs with --trust-software-peers. --out: save the\n"
     "      bundle (mode 0600) instead of printing it. See docs/secrets.md.",
     0, 0, O(OPT_TO_ATTESTATION) | O(OPT_OUT), 0, fnbox_cmd_keys_export},
    {"keys", "import", "FILE --from SHA256",
     "Import a bundle made by 'keys export' for this instance ('-': stdin) (admin): all of it\n"
     "      or nothing. --from (required): the SHA-256 of the exporting instance's public key,\n"
     "      which 'fnbox attest' against that instance prints (and 'keys export' too); a bundle\n"
     "      made by any other instance is refused. Only names this instance has no secret of\n"
     "      are added; a bundle over an hour old is refused. See docs/secrets.md.",
     1, 1, O(OPT_FROM), 0, fnbox_cmd_keys_import},
    {"attest", NULL, "[--nonce HEX] [--out FILE]",
     "Fetch an attestation report bound to HEX (default: a fresh random nonce, which the\n"
     "      report must echo). --out FILE: also save the response body as received.",
     0, 0, O(OPT_NONCE) | O(OPT_OUT), 0, fnbox_cmd_attest},
    {"verify", NULL,
     "--attestation FILE --nonce HEX [--expect-measurement M]\n"
     "        [--expect-confinement TOKENS]\n"
     "  fnbox verify --receipt FILE --attestation FILE [--nonce HEX] [--expect-measurement M]\n"
     "        [--expect-confinement TOKENS] [--input FILE] [--expect-isolation process]",
     "Check saved responses locally (no request is made). The first form: the attestation\n"
     "      report in FILE answers nonce HEX, binds it with the key and measurement\n"
     "      (report_data), is signed by its key, and has measurement M. The second: also that\n"
     "      the receipt in the invoke response FILE (saved with 'invoke --sign --out FILE') is\n"
     "      signed by the attested key for the attested measurement and that its output_sha256\n"
     "      is the hash of the response's exact \"result\" text (and input_sha256 that of the\n"
     "      body sent, given as --input FILE). --expect-confinement TOKENS (comma-separated,\n"
     "      e.g. seccomp,net-ns): each must be in the report's signed confinement.\n"
     "      --expect-isolation process: the receipt must say the invocation ran in a fresh\n"
     "      process (not on a snapshot worker; a v1 receipt does not say). Prints one\n"
     "      line per check; exits 0 only when every check passed. See docs/attestation.md.",
     0, 0,
     O(OPT_ATTESTATION) | O(OPT_RECEIPT) | O(OPT_NONCE) | O(OPT_EXPECT_MEASUREMENT) | O(OPT_INPUT) |
         O(OPT_EXPECT_CONFINEMENT) | O(OPT_EXPECT_ISOLATION),
     0, fnbox_cmd_verify},
};
#define NCOMMANDS (sizeof commands / sizeof commands[0])

static const char *const opt_names[OPT_COUNT] = {
    [OPT_NAME] = "name",
    [OPT_ENTRY] = "entry",
    [OPT_LIMIT] = "limit",
    [OPT_ALLOW_HOST] = "allow-host",
    [OPT_SECRET] = "secret",
    [OPT_OWNER] = "owner",
    [OPT_ROLE] = "role",
    [OPT_EXPIRES_IN] = "expires-in",
    [OPT_VALUE] = "value",
    [OPT_AFTER] = "after",
    [OPT_NONCE] = "nonce",
    [OPT_FUNCTION] = "function",
    [OPT_ACTOR] = "actor",
    [OPT_OUTCOME] = "outcome",
    [OPT_SINCE] = "since",
    [OPT_JSONL] = "jsonl",
    [OPT_FOLLOW] = "follow",
    [OPT_MAX_SECONDS] = "max-seconds",
    [OPT_CHECKPOINT] = "checkpoint",
    [OPT_SIGN] = "sign",
    [OPT_OUT] = "out",
    [OPT_ATTESTATION] = "attestation",
    [OPT_RECEIPT] = "receipt",
    [OPT_EXPECT_MEASUREMENT] = "expect-measurement",
    [OPT_INPUT] = "input",
    [OPT_TO_ATTESTATION] = "to-attestation",
    [OPT_FROM] = "from",
    [OPT_EXPECT_CONFINEMENT] = "expect-confinement",
    [OPT_ISOLATION] = "isolation",
    [OPT_EXPECT_ISOLATION] = "expect-isolation",
};

enum {
    G_URL = 256,
    G_TOKEN,
    G_TOKEN_FILE,
    G_CACERT,
    G_TIMEOUT,
    G_VERSION,
    G_CMD = 512, /* + enum fnbox_opt */
};

static const struct option longopts[] = {
    {"url", required_argument, NULL, G_URL},
    {"token", required_argument, NULL, G_TOKEN},
    {"token-file", required_argument, NULL, G_TOKEN_FILE},
    {"cacert", required_argument, NULL, G_CACERT},
    {"timeout", required_argument, NULL, G_TIMEOUT},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, G_VERSION},
    {"name", required_argument, NULL, G_CMD + OPT_NAME},
    {"entry", required_argument, NULL, G_CMD + OPT_ENTRY},
    {"limit", required_argument, NULL, G_CMD + OPT_LIMIT},
    {"allow-host", required_argument, NULL, G_CMD + OPT_ALLOW_HOST},
    {"secret", required_argument, NULL, G_CMD + OPT_SECRET},
    {"owner", required_argument, NULL, G_CMD + OPT_OWNER},
    {"role", required_argument, NULL, G_CMD + OPT_ROLE},
    {"expires-in", required_argument, NULL, G_CMD + OPT_EXPIRES_IN},
    {"value", required_argument, NULL, G_CMD + OPT_VALUE},
    {"after", required_argument, NULL, G_CMD + OPT_AFTER},
    {"nonce", required_argument, NULL, G_CMD + OPT_NONCE},
    {"function", required_argument, NULL, G_CMD + OPT_FUNCTION},
    {"actor", required_argument, NULL, G_CMD + OPT_ACTOR},
    {"outcome", required_argument, NULL, G_CMD + OPT_OUTCOME},
    {"since", required_argument, NULL, G_CMD + OPT_SINCE},
    {"jsonl", no_argument, NULL, G_CMD + OPT_JSONL},
    {"follow", no_argument, NULL, G_CMD + OPT_FOLLOW},
    {"max-seconds", required_argument, NULL, G_CMD + OPT_MAX_SECONDS},
    {"checkpoint", required_argument, NULL, G_CMD + OPT_CHECKPOINT},
    {"sign", no_argument, NULL, G_CMD + OPT_SIGN},
    {"out", required_argument, NULL, G_CMD + OPT_OUT},
    {"attestation", required_argument, NULL, G_CMD + OPT_ATTESTATION},
    {"receipt", required_argument, NULL, G_CMD + OPT_RECEIPT},
    {"expect-measurement", required_argument, NULL, G_CMD + OPT_EXPECT_MEASUREMENT},
    {"input", required_argument, NULL, G_CMD + OPT_INPUT},
    {"to-attestation", required_argument, NULL, G_CMD + OPT_TO_ATTESTATION},
    {"from", required_argument, NULL, G_CMD + OPT_FROM},
    {"expect-confinement", required_argument, NULL, G_CMD + OPT_EXPECT_CONFINEMENT},
    {"isolation", required_argument, NULL, G_CMD + OPT_ISOLATION},
    {"expect-isolation", required_argument, NULL, G_CMD + OPT_EXPECT_ISOLATION},
    {NULL, 0, NULL, 0},
};

struct globals {
    const char *url, *token, *token_file, *cacert, *timeout;
    bool help, version;
};

static void print_command_usage(FILE *f, const struct command *c)
{
    fprintf(f, "  fnbox %s%s%s%s%s\n      %s\n", c->w1, c->w2 ? " " : "", c->w2 ? c->w2 : "",
            *c->synopsis ? " " : "", c->synopsis, c->help);
}

static void print_usage(FILE *f)
{
    fputs("Usage: fnbox [GLOBAL OPTIONS] COMMAND [ARGS]\n"
          "\n"
          "Client of fnboxd, the fnbox serverless runtime. Prints the server's JSON response.\n"
          "\n"
          "Commands:\n",
          f);
    for (size_t i = 0; i < NCOMMANDS; i++)
        print_command_usage(f, &commands[i]);
    fputs("  fnbox help [COMMAND]\n"
          "      Show this help, or one command's.\n"
          "\n"
          "Global options (anywhere on the line):\n"
          "  --url URL          server base URL (env FNBOX_URL; default " DEFAULT_URL ")\n"
          "  --token TOKEN      API token (env FNBOX_TOKEN); visible to other local users: prefer\n"
          "  --token-file FILE  a file holding the token (env FNBOX_TOKEN_FILE), e.g. admin.token\n"
          "  --cacert FILE      CA bundle for https (env FNBOX_CACERT)\n"
          "  --timeout SECONDS  whole-request limit (default 300; 0: none)\n"
          "  --help, --version\n"
          "Put '--' before an argument that starts with '-' (e.g. a negative JSON number).\n"
          "\n"
          "Exit status: 0 success; 1 error response from the server (or other failure);\n"
          "2 usage error; 3 server unreachable.\n",
          f);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int usage_error(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("fnbox: ", stderr);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\nRun 'fnbox help' for usage.\n", stderr);
    return FNBOX_EXIT_USAGE;
}

/* Finds the command named by pos[0] (and pos[1] for two-word commands). *words: how many
 * positionals name it. NULL with *words = -1: unknown command; *words = 1: known family, bad or
 * missing subcommand. */
static const struct command *find_command(char **pos, int npos, int *words)
{
    const struct command *one_word = NULL;
    bool family = false;
    *words = -1;
    if (npos == 0) return NULL;
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct command *c = &commands[i];
        if (strcmp(c->w1, pos[0]) != 0) continue;
        family = true;
        if (c->w2 == NULL) {
            one_word = c;
        } else if (npos > 1 && strcmp(c->w2, pos[1]) == 0) {
            *words = 2;
            return c;
        }
    }
    if (one_word != NULL) {
        *words = 1;
        return one_word;
    }
    if (family) *words = 1;
    return NULL;
}

static int print_family_help(FILE *f, const char *w1)
{
    int n = 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (strcmp(commands[i].w1, w1) == 0) {
            print_command_usage(f, &commands[i]);
            n++;
        }
    return n;
}

/* `fnbox help [WORDS]` and `--help`: stdout, exit 0 (or 2 for an unknown command). */
static int help(char **pos, int npos)
{
    int words;
    const struct command *c = find_command(pos, npos, &words);
    if (npos == 0) {
        print_usage(stdout);
        return FNBOX_EXIT_OK;
    }
    if (c != NULL && words == 2) {
        print_command_usage(stdout, c);
        return FNBOX_EXIT_OK;
    }
    if (words == 1) { /* "help audit" shows audit and audit verify */
        print_family_help(stdout, pos[0]);
        return FNBOX_EXIT_OK;
    }
    char shown[64];
    return usage_error("unknown command '%s'",
                       fnbox_sanitize(shown, sizeof shown, pos[0], strlen(pos[0])));
}

static int add_opt(struct fnbox_args *a, enum fnbox_opt o, const char *v)
{
    const char **nv = realloc(a->opt[o].v, (a->opt[o].n + 1) * sizeof *nv);
    if (nv == NULL) return -1;
    nv[a->opt[o].n++] = v;
    a->opt[o].v = nv;
    return 0;
}

/* Name of the option in argv[i] for messages: up to any '=' (its value may be a token). */
static const char *option_name(const char *arg, char *buf, size_t len)
{
    size_t n = strcspn(arg, "=");
    if (n >= len) n = len - 1;
    memcpy(buf, arg, n);
    buf[n] = '\0';
    return buf;
}

/* Parses argv into globals, command options and positionals; 0 or an exit status. */
static int parse(int argc, char **argv, struct globals *g, struct fnbox_args *a)
{
    opterr = 0;
    int ch;
    char buf[64];
    while ((ch = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        const char **slot = NULL;
        switch (ch) {
        case 'h':
            g->help = true;
            continue;
        case G_VERSION:
            g->version = true;
            continue;
        case G_URL:
            slot = &g->url;
            break;
        case G_TOKEN:
            slot = &g->token;
            break;
        case G_TOKEN_FILE:
            slot = &g->token_file;
            break;
        case G_CACERT:
            slot = &g->cacert;
            break;
        case G_TIMEOUT:
            slot = &g->timeout;
            break;
        case ':':
            return usage_error("option '%s' needs a value",
                               option_name(argv[optind - 1], buf, sizeof buf));
        case '?':
            if (optopt != 0 && optopt < G_URL) {
                char shortopt[3] = {'-', (char)optopt, '\0'};
                return usage_error("unknown option '%s' (put '--' before an argument that starts "
                                   "with '-')",
                                   shortopt);
            }
            if (optopt >= G_CMD) /* a flag given a value: --jsonl=yes */
                return usage_error("option '%s' takes no value",
                                   option_name(argv[optind - 1], buf, sizeof buf));
            return usage_error("unknown or ambiguous option '%s'",
                               option_name(argv[optind - 1], buf, sizeof buf));
        default:
            if (ch >= G_CMD && ch < G_CMD + OPT_COUNT) {
                /* a flag (no_argument) is recorded with "" as its value */
                if (add_opt(a, (enum fnbox_opt)(ch - G_CMD), optarg ? optarg : "") != 0) {
                    fnbox_errf("out of memory");
                    return FNBOX_EXIT_ERROR;
                }
                continue;
            }
            return usage_error("cannot parse the command line");
        }
        if (*slot != NULL)
            return usage_error("option '%s' given more than once",
                               option_name(argv[optind - 1], buf, sizeof buf));
        *slot = optarg;
    }
    a->pos = argv + optind;
    a->npos = argc - optind;
    return 0;
}

/* Checks the command's positionals and options; 0 or an exit status. */
static int check_args(const struct command *c, const struct fnbox_args *a, const char *label)
{
    for (int o = 0; o < OPT_COUNT; o++) {
        if (a->opt[o].n == 0) continue;
        if (!(c->opts & O(o))) {
            fprintf(stderr, "fnbox: %s: option --%s does not apply to this command\n", label,
                    opt_names[o]);
            fputs("Usage:\n", stderr);
            print_command_usage(stderr, c);
            return FNBOX_EXIT_USAGE;
        }
        if (a->opt[o].n > 1 && !(c->repeat & O(o))) {
            fnbox_errf("%s: option --%s given more than once", label, opt_names[o]);
            return FNBOX_EXIT_USAGE;
        }
    }
    if (a->npos < c->min_pos || a->npos > c->max_pos) {
        if (a->npos > c->max_pos) {
            char shown[64];
            const char *extra = a->pos[c->max_pos];
            fnbox_errf("%s: unexpected argument '%s'", label,
                       fnbox_sanitize(shown, sizeof shown, extra, strlen(extra)));
        } else {
            fnbox_errf("%s: missing argument", label);
        }
        fputs("Usage:\n", stderr);
        print_command_usage(stderr, c);
        return FNBOX_EXIT_USAGE;
    }
    return 0;
}

/* The token: --token, --token-file, FNBOX_TOKEN, FNBOX_TOKEN_FILE, in that order (NULL: none).
 * 0, or an exit status. *to_free: a buffer to wipe and free afterwards. */
static int resolve_token(const struct globals *g, const char **token, char **to_free,
                         size_t *free_len)
{
    *token = NULL;
    *to_free = NULL;
    if (g->token != NULL && g->token_file != NULL)
        return usage_error("give --token or --token-file, not both");
    const char *file = g->token_file;
    if (g->token != NULL) {
        *token = g->token;
        return 0;
    }
    if (file == NULL) {
        const char *env = getenv("FNBOX_TOKEN");
        if (env != NULL && *env != '\0') {
            *token = env;
            return 0;
        }
        file = getenv("FNBOX_TOKEN_FILE");
        if (file == NULL || *file == '\0') return 0;
    }
    char *buf;
    size_t len;
    if (fnbox_read_file(file, TOKEN_FILE_MAX, &buf, &len) != 0) {
        fnbox_errf("token file %s: %s", file, strerror(errno));
        return FNBOX_EXIT_USAGE;
    }
    *to_free = buf;
    *free_len = len;
    /* the token is the file's first line, without surrounding whitespace */
    char *start = buf + strspn(buf, " \t\r\n");
    start[strcspn(start, "\r\n")] = '\0';
    size_t n = strlen(start);
    while (n > 0 && (start[n - 1] == ' ' || start[n - 1] == '\t'))
        start[--n] = '\0';
    if (n == 0) {
        fnbox_errf("token file %s is empty", file);
        return FNBOX_EXIT_USAGE;
    }
    *token = start;
    return 0;
}

static const char *env_or(const char *given, const char *env, const char *def)
{
    if (given != NULL) return given;
    const char *e = getenv(env);
    return e != NULL && *e != '\0' ? e : def;
}

static int run(const struct command *c, struct fnbox_args *a, const struct globals *g)
{
    long long timeout = DEFAULT_TIMEOUT_S;
    if (g->timeout != NULL &&
        (fnbox_parse_i64(g->timeout, &timeout) != 0 || timeout < 0 || timeout > 86400))
        return usage_error("--timeout must be a number of seconds from 0 to 86400");

    const char *token;
    char *token_buf;
    size_t token_len = 0;
    int ex = resolve_token(g, &token, &token_buf, &token_len);
    if (ex != 0) {
        fnbox_wipe_free(token_buf, token_len);
        return ex;
    }

    struct fnbox_client_config cfg = {
        .url = env_or(g->url, "FNBOX_URL", DEFAULT_URL),
        .token = token,
        .cacert = env_or(g->cacert, "FNBOX_CACERT", NULL),
        .timeout_s = (long)timeout,
    };
    char err[256];
    if (fnbox_http_global_init() != 0) {
        fnbox_wipe_free(token_buf, token_len);
        fnbox_errf("cannot initialise libcurl");
        return FNBOX_EXIT_ERROR;
    }
    int rc = fnbox_client_new(&cfg, &a->client, err, sizeof err);
    fnbox_wipe_free(token_buf, token_len); /* the client holds its own copy */
    if (rc != FNBOX_HTTP_OK) {
        fnbox_errf("%s", err);
        ex = rc == FNBOX_HTTP_EINVAL ? FNBOX_EXIT_USAGE : FNBOX_EXIT_ERROR;
    } else {
        ex = c->fn(a);
        fnbox_client_free(a->client);
        a->client = NULL;
    }
    fnbox_http_global_cleanup();
    return ex;
}

int main(int argc, char **argv)
{
    fnbox_json_use_cleansing_alloc();

    struct globals g = {0};
    struct fnbox_args a = {0};
    int ex = parse(argc, argv, &g, &a);
    if (ex != 0) goto out;

    if (g.version) {
        printf("fnbox %s\n", FNBOX_CLI_VERSION);
        goto out;
    }
    if (g.help) {
        ex = help(a.pos, a.npos);
        goto out;
    }
    if (a.npos == 0) {
        print_usage(stderr);
        ex = FNBOX_EXIT_USAGE;
        goto out;
    }
    if (strcmp(a.pos[0], "help") == 0) {
        ex = help(a.pos + 1, a.npos - 1);
        goto out;
    }

    int words;
    const struct command *c = find_command(a.pos, a.npos, &words);
    if (c == NULL) {
        if (words == 1) {
            char shown[64];
            if (a.npos > 1)
                fnbox_errf("%s: unknown subcommand '%s'", a.pos[0],
                           fnbox_sanitize(shown, sizeof shown, a.pos[1], strlen(a.pos[1])));
            else
                fnbox_errf("%s: missing subcommand", a.pos[0]);
            fputs("Usage:\n", stderr);
            print_family_help(stderr, a.pos[0]);
        } else {
            char shown[64];
            usage_error("unknown command '%s'",
                        fnbox_sanitize(shown, sizeof shown, a.pos[0], strlen(a.pos[0])));
        }
        ex = FNBOX_EXIT_USAGE;
        goto out;
    }
    char label[64];
    snprintf(label, sizeof label, "%s%s%s", c->w1, c->w2 ? " " : "", c->w2 ? c->w2 : "");
    a.cmd = label;
    a.pos += words;
    a.npos -= words;
    ex = check_args(c, &a, label);
    if (ex == 0) ex = run(c, &a, &g);

out:
    for (int o = 0; o < OPT_COUNT; o++)
        free(a.opt[o].v);
    if (fflush(stdout) != 0 || ferror(stdout)) {
        fnbox_errf("writing output: %s", strerror(errno));
        if (ex == FNBOX_EXIT_OK) ex = FNBOX_EXIT_ERROR;
    }
    return ex;
}
