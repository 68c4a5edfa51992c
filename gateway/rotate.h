/* Key rotation: a new DEK for new writes, then every secret still sealed under an older DEK is
 * rewrapped, one committed row at a time in bounded batches, and retired DEKs that no row
 * references any more are deleted. Each row moves atomically (compare-and-swap on its DEK
 * id), so a crash at any point leaves every secret readable by exactly one stored DEK; running
 * the rotation again finishes the job. Rotations are serialised. */
#ifndef FNBOX_ROTATE_H
#define FNBOX_ROTATE_H

#include <jansson.h>

#include "gateway/app.h"

#define ROTATE_BATCH 100

/* *out: {"active","rewrapped","failed","dropped","deks":[...]}. 0 or a negative errno. */
int keys_rotate(struct app *app, const char *actor, json_t **out);

/* The lock every rotation holds from start to end. Key migration holds it too: an export so
 * that its DEK list and its rows are one snapshot (a rotation in between would leave rows
 * under a DEK the bundle does not carry), an import so that the DEKs it adds to the keyring
 * after its commit cannot race a rotation's (keyring.h, keyring_room). Not recursive. */
void keys_rotation_lock(void);
void keys_rotation_unlock(void);

#endif
