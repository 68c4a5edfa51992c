#include "gateway/outcome.h"

static const struct {
    const char *code;
    unsigned status;
} table[OUTCOME_COUNT] = {
    [OUTCOME_OK] = {"ok", 200},
    [OUTCOME_FUNCTION_ERROR] = {"function_error", 500},
    [OUTCOME_TIMEOUT] = {"timeout", 504},
    [OUTCOME_MEMORY_LIMIT] = {"memory_limit", 500},
    [OUTCOME_OUTPUT_LIMIT] = {"output_limit", 500},
    [OUTCOME_SANDBOX_VIOLATION] = {"sandbox_violation", 500},
    [OUTCOME_OVERLOADED] = {"overloaded", 503},
    [OUTCOME_WORKER_CRASHED] = {"worker_crashed", 500},
    [OUTCOME_INTERNAL] = {"internal", 500},
};

const char *outcome_code(enum outcome o)
{
    return (unsigned)o < OUTCOME_COUNT ? table[o].code : "internal";
}

unsigned outcome_http_status(enum outcome o)
{
    return (unsigned)o < OUTCOME_COUNT ? table[o].status : 500;
}
