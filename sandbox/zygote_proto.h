/* Messages on the control socket between fnboxd and its zygote (SOCK_SEQPACKET, fixed-size
 * structs: both executables are built from the same tree; the hello carries
 * ZYG_PROTO_VERSION and fnboxd refuses a zygote built from another). ZYG_SPAWNED carries the gateway's end of the
 * new worker's socketpair as SCM_RIGHTS. Private to sandbox/. */
#ifndef FNBOX_ZYGOTE_PROTO_H
#define FNBOX_ZYGOTE_PROTO_H

#include <stdint.h>

enum zyg_op {
    ZYG_SPAWN = 1,        /* gateway -> zygote; a non-zero fn_key asks for a precompiled worker */
    ZYG_KILL = 2,         /* gateway -> zygote */
    ZYG_KILL_FORGET = 4,  /* gateway -> zygote: kill, and report no exit status (answered) */
    ZYG_LOAD = 3,         /* gateway -> zygote: start a function zygote for fn_key; the reply is
                           * ZYG_SPAWNED with the socket to send the code on (one FRAME_JOB) */
    ZYG_HELLO = 10,       /* zygote -> gateway, once, when ready */
    ZYG_SPAWNED = 11,     /* + fd */
    ZYG_SPAWN_FAILED = 12,
    ZYG_EXITED = 13,      /* value: wait status */
    ZYG_FN_READY = 20,    /* function zygote -> zygote: the code compiled */
};

#define ZYG_KEY_LEN 32

struct zyg_request {
    uint32_t op;
    uint32_t cpu_seconds;
    uint64_t job_id;
    uint64_t heap_bytes;
    uint8_t fn_key[ZYG_KEY_LEN]; /* all zero: any worker */
    uint32_t flags; /* ZYG_LOAD: ZYG_LOAD_SNAPSHOT */
    uint32_t pad;
};

/* ZYG_LOAD's flags: the function zygote builds the function's heap in a snapshot arena, and
 * its workers are snapshot workers (many invocations each, the heap reset between them) */
#define ZYG_LOAD_SNAPSHOT 1

/* A snapshot worker's RLIMIT_CPU hard limit, in seconds, for cpu-second jobs: the bound on
 * its whole life (it re-arms its own soft limit per job; fnboxd replaces it before its jobs
 * could reach this, so that only CPU burned outside its jobs meets it) */
#define ZYG_SNAPSHOT_CPU_LIFETIME(cpu) ((uint64_t)(cpu) * 4 + 10)

/* ZYG_SPAWNED's value: the worker holds the function already compiled (send no code) */
#define ZYG_PRECOMPILED 1
/* ... and it is a snapshot worker: it serves job after job until fnboxd closes its socket */
#define ZYG_SNAPSHOT 2

struct zyg_message {
    uint32_t op;
    int32_t value;
    uint64_t job_id;
    int64_t pid;
};

#define ZYG_PROTO_VERSION 6

struct zyg_hello {
    uint32_t op;
    uint32_t proto_version;
    uint8_t seccomp, no_new_privs, uid_switch, user_ns, net_ns, ipc_ns, bounding_dropped,
        zygote_seccomp;
    uint8_t uts_ns, fs_hidden, pid_ns, pad;
    uint32_t worker_uid;
    uint64_t baseline_vm;
};

#endif
