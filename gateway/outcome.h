/* How an invocation ended: the error code callers see, its HTTP status, and its metric label. */
#ifndef FNBOX_OUTCOME_H
#define FNBOX_OUTCOME_H

enum outcome {
    OUTCOME_OK,
    OUTCOME_FUNCTION_ERROR,
    OUTCOME_TIMEOUT,
    OUTCOME_MEMORY_LIMIT,
    OUTCOME_OUTPUT_LIMIT,
    OUTCOME_SANDBOX_VIOLATION,
    OUTCOME_OVERLOADED,
    OUTCOME_WORKER_CRASHED,
    OUTCOME_INTERNAL,
    OUTCOME_COUNT
};

const char *outcome_code(enum outcome o); /* "ok", "function_error", ... */
unsigned outcome_http_status(enum outcome o);

#endif
