/* The audit log's hash chain: how one record is encoded canonically and hashed, and how a
 * sequence of records is checked. Pure functions, no I/O; the store appends and reads rows.
 *
 * hash = SHA-256(canonical(record)), where canonical() is the ASCII tag "fnbox-audit-v1"
 * followed by every field in a fixed order, each as a 4-byte big-endian length and its
 * bytes: seq and time and version as decimal text (version "" when absent), then actor,
 * action, function, invocation_id, secret, outcome (each "" when absent) and prev_hash
 * (64 hex digits; the first record's is 64 zeros). A record therefore commits to every
 * record before it. Secret values are never part of a record. */
#ifndef FNBOX_AUDIT_H
#define FNBOX_AUDIT_H

#include <stdint.h>

#define AUDIT_HASH_HEX 65
#define AUDIT_GENESIS "0000000000000000000000000000000000000000000000000000000000000000"

struct audit_record {
    int64_t seq;
    int64_t time;
    const char *actor;
    const char *action;
    const char *function; /* NULL: none */
    int64_t version;      /* 0: none */
    const char *invocation_id;
    const char *secret;
    const char *outcome;
    char prev_hash[AUDIT_HASH_HEX];
    char hash[AUDIT_HASH_HEX];
};

/* Fills r->hash from the other fields. 0, or -EIO when the digest failed. */
int audit_hash(struct audit_record *r);

/* Checks that r follows prev (NULL: r is the first record): consecutive seq, prev_hash equal
 * to prev's hash (genesis for the first) and r->hash correct. 1: good, 0: broken. */
int audit_follows(const struct audit_record *prev, const struct audit_record *r);

#endif
