/* What travels inside frames between the gateway and a worker, and how a worker's exit
 * status is read. Both sides include this file; nothing else is shared across the socket. */
#ifndef FNBOX_PROTO_H
#define FNBOX_PROTO_H

/* FRAME_JOB TLV tags */
enum job_tag {
    JOB_MODE = 1,       /* u64: JOB_MODE_INVOKE or JOB_MODE_CHECK */
    JOB_CODE = 2,       /* function source */
    JOB_ENTRY = 3,      /* name of the global entry function */
    JOB_INPUT = 4,      /* JSON text of the first argument */
    JOB_CTX = 5,        /* JSON text of the second argument */
    JOB_MAX_OUTPUT = 6, /* u64: bytes of result JSON allowed */
    JOB_MAX_LOG_BYTES = 7,
    JOB_MAX_LOG_LINES = 8,
};

enum job_mode {
    JOB_MODE_INVOKE = 1,
    JOB_MODE_CHECK = 2, /* compile only: report a syntax error, run nothing */
};

/* FRAME_CALL TLV tags: a host API request from the worker. The worker names only the
 * operation and its arguments; which function is asking is known from the socket. */
enum call_tag {
    CALL_OP = 1,         /* string: "secrets.get" or "fetch" */
    CALL_NAME = 2,       /* secrets.get: the secret's name */
    CALL_URL = 3,        /* fetch: the URL as the function wrote it */
    CALL_METHOD = 4,     /* fetch: "GET" (default), "POST", ... */
    CALL_HEADERS = 5,    /* fetch: JSON object text, header name -> string value */
    CALL_BODY = 6,       /* fetch: request body bytes */
    CALL_TIMEOUT_MS = 7, /* fetch: u64, the function's own per-request timeout (0: none) */
};

#define CALL_OP_SECRETS_GET "secrets.get"
#define CALL_OP_FETCH "fetch"

/* FRAME_REPLY TLV tags */
enum reply_tag {
    REPLY_OK = 1,      /* u64: 1 success, 0 refused */
    REPLY_VALUE = 2,   /* bytes: the answer (secrets.get: the value; fetch: the body) */
    REPLY_ERROR = 3,   /* string: the message for a catchable JS Error (refused) */
    REPLY_STATUS = 4,  /* fetch: u64 HTTP status */
    REPLY_HEADERS = 5, /* fetch: JSON object text, lower-case header name -> value */
    REPLY_URL = 6,     /* fetch: the final URL */
    REPLY_CODE = 7,    /* refused: a machine-readable code, set as the Error's .code */
};

/* REPLY_CODE values of a refused fetch */
#define FETCH_ERR_HOST "host_not_allowed"        /* not in allow_hosts (or the operator's list) */
#define FETCH_ERR_ADDRESS "address_not_allowed"  /* resolved to a private/loopback/... address */
#define FETCH_ERR_SCHEME "scheme_not_allowed"    /* not https (or http for an http-allowed host) */
#define FETCH_ERR_INVALID "invalid_request"      /* bad URL, userinfo, CR/LF in a header, ... */
#define FETCH_ERR_SECRET "secret_egress_denied"  /* would carry a secret to a host it is not bound to */
#define FETCH_ERR_TOO_MANY "too_many_fetches"    /* over limits.max_fetches */
#define FETCH_ERR_TOO_LARGE "response_too_large" /* response body over the cap */
#define FETCH_ERR_TIMEOUT "timeout"              /* request timeout, low-speed limit, deadline */
#define FETCH_ERR_DNS "dns_failure"
#define FETCH_ERR_TLS "tls_failure"              /* incl. a pinned key that does not match */
#define FETCH_ERR_CONNECT "connect_failure"
#define FETCH_ERR_UPSTREAM "upstream_failure"    /* any other transfer error */

/* Exit codes of a worker that stopped itself; any signal is read from the wait status. */
enum worker_exit {
    WORKER_EXIT_OK = 0,
    WORKER_EXIT_CONFINE = 111,  /* confinement failed before user code was read */
    WORKER_EXIT_PROTOCOL = 112, /* the job frame was malformed or the socket failed */
    WORKER_EXIT_FATAL = 113,    /* Duktape fatal error (e.g. out of memory outside a pcall) */
    WORKER_EXIT_NOMEM = 114,    /* a host allocation failed */
};

/* Error codes of DESIGN.md that a worker can report itself in FRAME_ERROR. */
#define ERR_FUNCTION "function_error"
#define ERR_MEMORY "memory_limit"
#define ERR_OUTPUT "output_limit"
#define ERR_SYNTAX "syntax_error"

#endif
