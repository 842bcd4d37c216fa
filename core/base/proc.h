/*
 * proc.h - run a helper program (gpg, docker-credential-*, kubectl) with
 * its input, output and error streams connected to memory, without a
 * shell, so no argument is ever interpreted.
 *
 * The child is started with posix_spawn (no fork of a large threaded
 * process), with an empty signal mask and SIGPIPE at its default, in a
 * process group of its own.  When it outlives its deadline (closing its
 * output does not stop the clock) the whole group is killed, so nothing
 * it started outlives it.  Writing to a child that exited early never raises
 * SIGPIPE in the caller.
 *
 * Thread safety: reentrant; any number of threads may run children at
 * once (every pipe is close-on-exec, so no child inherits another's).
 */
#ifndef FERRY_BASE_PROC_H
#define FERRY_BASE_PROC_H

#include <stddef.h>

#include "buf.h"
#include "err.h"

#define PROC_MAX_OUTPUT ((size_t)16 << 20) /* stdout or stderr kept */

struct proc_io {
	const void *in; /* written to stdin, then closed; may be NULL */
	size_t in_len;
	const void *fd3; /* written to fd 3 (gpg --passphrase-fd 3) */
	size_t fd3_len;
	struct buf *out;        /* stdout appended here; NULL: discarded */
	struct buf *errout;     /* stderr appended here; NULL: discarded */
	const char *const *env; /* "K=V" entries added to the environment */
	int timeout_ms;         /* 0: 60 s; the child is killed after it */
};

#define PROC_IO_INIT                                                           \
	{                                                                      \
		NULL, 0, NULL, 0, NULL, NULL, NULL, 0                          \
	}

/*
 * Runs argv[0] (looked up in PATH) with argv.  *status_out gets the exit
 * status (128 + signal when killed).  -ERR_NOTFOUND when the program does
 * not exist, -ERR_TRANSIENT on timeout, -ERR_INTERNAL when it cannot be
 * started.
 */
int proc_run(const char *const *argv, const struct proc_io *io, int *status_out,
             struct err *err);

#endif
