/*
 * proc.c - posix_spawn with pipes and a poll loop that feeds stdin and fd 3
 * while draining stdout and stderr (so neither side can block the other),
 * with a deadline.  No shell is involved.
 */
#define _GNU_SOURCE /* pipe2 */
#include "proc.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <spawn.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static void
close_fd(int *fd)
{
	if (*fd >= 0)
		close(*fd);
	*fd = -1;
}

/* Builds environ + additions (additions win) into a NULL-terminated array. */
static char **
make_env(const char *const *add)
{
	size_t n = 0, k = 0, na = 0;
	char **env;

	while (environ[n])
		n++;
	while (add && add[na])
		na++;
	env = calloc(n + na + 1, sizeof(*env));
	if (env == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const char *eq = strchr(environ[i], '=');
		size_t klen =
		        eq ? (size_t)(eq - environ[i]) : strlen(environ[i]);
		int replaced = 0;
		for (size_t j = 0; j < na; j++)
			if (strncmp(add[j], environ[i], klen) == 0 &&
			    add[j][klen] == '=')
				replaced = 1;
		if (!replaced)
			env[k++] = environ[i];
	}
	for (size_t j = 0; j < na; j++)
		env[k++] = (char *)add[j];
	env[k] = NULL;
	return env;
}

/*
 * Moves a pipe end to a descriptor above 9 (close-on-exec), so that the
 * dup2 actions of the child can never clobber one end with another: a pipe
 * end may itself be fd 0..3.
 */
static int
fd_raise(int *fd)
{
	int hi = fcntl(*fd, F_DUPFD_CLOEXEC, 10);

	if (hi < 0)
		return -1;
	close(*fd);
	*fd = hi;
	return 0;
}

/*
 * write(2) to a child's pipe without SIGPIPE when the child has exited
 * before reading its input.  main() ignores SIGPIPE for the whole process,
 * but a library must not count on that nor change signal dispositions
 * under its caller's threads: the signal is blocked in this thread for the
 * write, and one it raised is taken off the thread's pending set.
 */
static ssize_t
write_nosigpipe(int fd, const void *p, size_t len)
{
	sigset_t pipe_set, old, pending;
	struct timespec zero = { 0, 0 };
	bool was_pending;
	ssize_t n;
	int saved;

	sigemptyset(&pipe_set);
	sigaddset(&pipe_set, SIGPIPE);
	sigpending(&pending);
	was_pending = sigismember(&pending, SIGPIPE);
	pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
	n = write(fd, p, len);
	saved = errno;
	/* The kernel raises SIGPIPE also when a write ends short because
	 * the reader went away, so look at the pending set, not at EPIPE. */
	sigpending(&pending);
	if (!was_pending && sigismember(&pending, SIGPIPE))
		while (sigtimedwait(&pipe_set, NULL, &zero) < 0 &&
		       errno == EINTR)
			;
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	errno = saved;
	return n;
}

/* Kills the child's process group (its own: POSIX_SPAWN_SETPGROUP), so
 * what it started dies with it, and reaps the child. */
static void
kill_and_reap(pid_t pid, int *status)
{
	kill(-pid, SIGKILL);
	kill(pid, SIGKILL);
	while (waitpid(pid, status, 0) < 0 && errno == EINTR)
		;
}

/* Waits for the child until deadline: 1 when it exited (*status set), 0
 * when the deadline passed first.  Its pipes are closed by then, so
 * there is nothing to poll: short sleeps, doubling to 20 ms. */
static int
wait_until(pid_t pid, long long deadline, int *status)
{
	long nap_us = 100;

	for (;;) {
		pid_t r = waitpid(pid, status, WNOHANG);
		struct timespec ts;

		if (r == pid || (r < 0 && errno != EINTR))
			return 1;
		if (mono_ms() >= deadline)
			return 0;
		ts.tv_sec = 0;
		ts.tv_nsec = nap_us * 1000;
		nanosleep(&ts, NULL);
		if (nap_us < 20000)
			nap_us *= 2;
	}
}

int
proc_run(const char *const *argv, const struct proc_io *io, int *status_out,
         struct err *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 },
	    f3[2] = { -1, -1 };
	char **env = NULL;
	pid_t pid = -1;
	size_t in_off = 0, f3_off = 0;
	long long deadline;
	int status = 0, rc = 0, spawn_rc;
	struct buf sink = BUF_INIT;
	posix_spawn_file_actions_t fa;
	posix_spawnattr_t attr;
	bool fa_ok = false, attr_ok = false;
	sigset_t none, defaults;

	*status_out = -1;
	env = make_env(io->env);
	if (env == NULL)
		return err_set(err, ERR_NOMEM, "%s: out of memory", argv[0]);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0 || pipe2(f3, O_CLOEXEC) < 0 ||
	    fd_raise(&in[0]) < 0 || fd_raise(&out[1]) < 0 ||
	    fd_raise(&errp[1]) < 0 || fd_raise(&f3[0]) < 0) {
		rc = err_set(err, ERR_INTERNAL, "%s: pipe: %s", argv[0],
		             strerror(errno));
		goto out;
	}
	/*
	 * posix_spawn, not fork: a fork of a process with many threads and a
	 * large heap copies its page tables for one exec, and only
	 * async-signal-safe calls are allowed in between.  glibc's
	 * posix_spawn uses CLONE_VFORK and reports an exec failure as its
	 * return value.  The child gets an empty signal mask and default
	 * handling of SIGPIPE (which ferry ignores; an ignored signal would
	 * stay ignored across exec).
	 */
	if (posix_spawn_file_actions_init(&fa) != 0 ||
	    posix_spawnattr_init(&attr) != 0) {
		rc = err_set(err, ERR_NOMEM, "%s: out of memory", argv[0]);
		goto out;
	}
	fa_ok = attr_ok = true;
	sigemptyset(&none);
	sigemptyset(&defaults);
	sigaddset(&defaults, SIGPIPE);
	if (posix_spawn_file_actions_adddup2(&fa, f3[0], 3) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, in[0], 0) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, out[1], 1) != 0 ||
	    posix_spawn_file_actions_adddup2(&fa, errp[1], 2) != 0 ||
	    posix_spawnattr_setsigmask(&attr, &none) != 0 ||
	    posix_spawnattr_setsigdefault(&attr, &defaults) != 0 ||
	    posix_spawnattr_setpgroup(&attr, 0) != 0 ||
	    posix_spawnattr_setflags(
	            &attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF |
	                           POSIX_SPAWN_SETPGROUP) != 0) {
		rc = err_set(err, ERR_NOMEM, "%s: out of memory", argv[0]);
		goto out;
	}
	spawn_rc = posix_spawnp(&pid, argv[0], &fa, &attr, (char *const *)argv,
	                        env);
	if (spawn_rc != 0) {
		pid = -1;
		rc = err_set(
		        err, spawn_rc == ENOENT ? ERR_NOTFOUND : ERR_INTERNAL,
		        "cannot run '%s': %s", argv[0], strerror(spawn_rc));
		goto out;
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&f3[0]);
	/* Non-blocking writes: a child that fills its stdout while we feed
	 * its stdin must not find us blocked in write(2). */
	if (fcntl(in[1], F_SETFL, O_NONBLOCK) < 0 ||
	    fcntl(f3[1], F_SETFL, O_NONBLOCK) < 0) {
		rc = err_set(err, ERR_INTERNAL, "%s: fcntl: %s", argv[0],
		             strerror(errno));
		goto out;
	}
	if (io->in_len == 0)
		close_fd(&in[1]);
	if (io->fd3_len == 0)
		close_fd(&f3[1]);
	deadline = mono_ms() + (io->timeout_ms > 0 ? io->timeout_ms : 60000);
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd p[4];
		int np = 0, left;
		char chunk[8192];

		left = (int)(deadline - mono_ms());
		if (left <= 0)
			goto timed_out;
		if (out[0] >= 0)
			p[np++] = (struct pollfd){ out[0], POLLIN, 0 };
		if (errp[0] >= 0)
			p[np++] = (struct pollfd){ errp[0], POLLIN, 0 };
		if (in[1] >= 0)
			p[np++] = (struct pollfd){ in[1], POLLOUT, 0 };
		if (f3[1] >= 0)
			p[np++] = (struct pollfd){ f3[1], POLLOUT, 0 };
		if (poll(p, (nfds_t)np, left) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		for (int i = 0; i < np; i++) {
			ssize_t n;
			if (!p[i].revents)
				continue;
			if (p[i].fd == in[1] || p[i].fd == f3[1]) {
				int *fd = p[i].fd == in[1] ? &in[1] : &f3[1];
				const char *src =
				        p[i].fd == in[1] ? io->in : io->fd3;
				size_t *off =
				        p[i].fd == in[1] ? &in_off : &f3_off;
				size_t len = p[i].fd == in[1] ? io->in_len
				                              : io->fd3_len;
				n = write_nosigpipe(*fd, src + *off,
				                    len - *off);
				if (n > 0)
					*off += (size_t)n;
				if ((n < 0 && errno != EAGAIN &&
				     errno != EINTR) ||
				    *off == len)
					close_fd(fd);
				continue;
			}
			n = read(p[i].fd, chunk, sizeof(chunk));
			if (n <= 0) {
				close_fd(p[i].fd == out[0] ? &out[0]
				                           : &errp[0]);
				continue;
			}
			{
				struct buf *dst = p[i].fd == out[0]
				                          ? io->out
				                          : io->errout;
				if (dst == NULL) {
					buf_reset(&sink);
					dst = &sink;
				}
				if (dst->len + (size_t)n <= PROC_MAX_OUTPUT)
					buf_add(dst, chunk, (size_t)n);
			}
		}
	}
	close_fd(&in[1]);
	close_fd(&f3[1]);
	/* A child that closed its output can still hang: the deadline
	 * holds until it has exited. */
	if (!wait_until(pid, deadline, &status))
		goto timed_out;
	pid = -1;
	*status_out = WIFEXITED(status) ? WEXITSTATUS(status)
	                                : 128 + WTERMSIG(status);
	goto out;
timed_out:
	kill_and_reap(pid, &status);
	pid = -1;
	rc = err_set(err, ERR_TRANSIENT, "'%s' did not finish in %d ms",
	             argv[0], io->timeout_ms > 0 ? io->timeout_ms : 60000);
out:
	if (pid > 0)
		kill_and_reap(pid, &status);
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&f3[0]);
	close_fd(&f3[1]);
	if (fa_ok)
		posix_spawn_file_actions_destroy(&fa);
	if (attr_ok)
		posix_spawnattr_destroy(&attr);
	buf_release(&sink);
	free(env);
	return rc;
}
