/* Linux configfs-tsm (Documentation/ABI/testing/configfs-tsm-report): hardware quotes from
 * the TDX or SEV-SNP guest driver. Under ROOT (normally /sys/kernel/config/tsm) fnboxd owns
 * one entry, ROOT/report/fnboxd-<pid>, and for each quote:
 *   1. writes the 64 bytes of report data to `inblob` (configfs commits a write on close);
 *   2. reads `generation`, then `outblob` (the kernel makes the quote on that read), then
 *      `generation` again: a different value means another writer touched the entry in
 *      between, so the outblob may answer its data — read again;
 *   3. parses outblob for the platform `provider` names and compares its report data with
 *      what was written; not ours yet: read again, until a 2-second deadline.
 * The kernel creates the entry's attributes when the entry is made (mkdir); tsm_open waits
 * (up to 2 s) for them to appear, so a test directory with a helper that plays the kernel's
 * part works through this same code. Step 3's re-reads cost nothing on real configfs, where
 * the first read answers, and are what lets such a helper answer asynchronously.
 *
 * Privileges: making the entry needs root on real configfs, and its `inblob` is root's (mode
 * 0200). tsm_open therefore runs before fnboxd drops privileges and, when asked, hands the
 * entry and its `inblob` to the gateway's uid/gid, so that quotes work after the drop.
 * Quotes are serialised (one entry, one writer at a time). 0 or a negative errno, with a
 * reason in why. */
#ifndef FNBOX_TSM_H
#define FNBOX_TSM_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "attestation/quote.h"

struct tsm;

/* Opens (makes) the entry under root. chown_to_uid: hand it to uid/gid (when fnboxd runs as
 * root and will drop to them). -ENOENT: root/report does not exist (no configfs-tsm). */
int tsm_open(const char *root, int chown_to_uid, uid_t uid, gid_t gid, struct tsm **out,
             char *why, size_t whylen);
enum quote_platform tsm_platform(const struct tsm *t);
/* A quote carrying report_data: *quote malloc'd (*len bytes), the caller's to free. Only a
 * quote that parses for the entry's platform and carries exactly report_data is returned. */
int tsm_quote(struct tsm *t, const uint8_t report_data[QUOTE_REPORT_DATA_LEN], uint8_t **quote,
              size_t *len, char *why, size_t whylen);
/* Removes the entry when it can (after the privilege drop the parent may not be writable:
 * then it stays, and the next start makes another) and frees t. NULL is fine. */
void tsm_close(struct tsm *t);

#endif
