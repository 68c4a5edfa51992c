/* TEST BUILDS ONLY (FNBOX_TEST_HOOKS): a table of system calls a confined worker must not be
 * able to make, and a few it must, each performed raw (no libc wrapper) so that the attack
 * suite can check, through the real HTTP API, what the seccomp filter does with it.
 * test_syscall_run returns 0 with the raw result in *ret, or -1 for an unknown name. None of
 * this exists in build/fnboxd. */
#ifndef FNBOX_TEST_SYSCALLS_H
#define FNBOX_TEST_SYSCALLS_H

#ifdef FNBOX_TEST_HOOKS
int test_syscall_run(const char *name, long *ret);
#endif

#endif
