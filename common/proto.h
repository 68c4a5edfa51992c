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
    CALL_OP = 1,   /* string: "secrets.get" */
    CALL_NAME = 2, /* string: the secret's name */
};

#define CALL_OP_SECRETS_GET "secrets.get"

/* FRAME_REPLY TLV tags */
enum reply_tag {
    REPLY_OK = 1,    /* u64: 1 success, 0 refused */
    REPLY_VALUE = 2, /* bytes: the answer (success) */
    REPLY_ERROR = 3, /* string: the message for a catchable JS Error (refused) */
};

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
