/*
 * proc.c - fork/exec with pipes and a poll loop that feeds stdin and fd 3
 * while draining stdout and stderr (so neither side can block the other),
 * with a deadline.  No shell is involved.
 */
#define _GNU_SOURCE /* pipe2, execvpe */
#include "proc.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

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

int
proc_run(const char *const *argv, const struct proc_io *io, int *status_out,
         struct err *err)
{
	int in[2] = { -1, -1 }, out[2] = { -1, -1 }, errp[2] = { -1, -1 },
	    f3[2] = { -1, -1 }, exe[2] = { -1, -1 };
	char **env = NULL;
	pid_t pid = -1;
	size_t in_off = 0, f3_off = 0;
	long long deadline;
	int status = 0, rc = 0, exec_errno = 0;
	struct buf sink = BUF_INIT;

	*status_out = -1;
	env = make_env(io->env);
	if (env == NULL)
		return err_set(err, ERR_NOMEM, "%s: out of memory", argv[0]);
	if (pipe2(in, O_CLOEXEC) < 0 || pipe2(out, O_CLOEXEC) < 0 ||
	    pipe2(errp, O_CLOEXEC) < 0 || pipe2(f3, O_CLOEXEC) < 0 ||
	    pipe2(exe, O_CLOEXEC) < 0) {
		rc = err_set(err, ERR_INTERNAL, "%s: pipe: %s", argv[0],
		             strerror(errno));
		goto out;
	}
	pid = fork();
	if (pid < 0) {
		rc = err_set(err, ERR_INTERNAL, "%s: fork: %s", argv[0],
		             strerror(errno));
		goto out;
	}
	if (pid == 0) {
		int e, hi[4];
		/* Move the ends above fd 9 first: a pipe end may itself be
		 * fd 3, which the dup2 below would otherwise clobber. */
		hi[0] = fcntl(f3[0], F_DUPFD_CLOEXEC, 10);
		hi[1] = fcntl(in[0], F_DUPFD_CLOEXEC, 10);
		hi[2] = fcntl(out[1], F_DUPFD_CLOEXEC, 10);
		hi[3] = fcntl(errp[1], F_DUPFD_CLOEXEC, 10);
		if (hi[0] < 0 || hi[1] < 0 || hi[2] < 0 || hi[3] < 0 ||
		    dup2(hi[0], 3) < 0 || dup2(hi[1], 0) < 0 ||
		    dup2(hi[2], 1) < 0 || dup2(hi[3], 2) < 0)
			_exit(127);
		execvpe(argv[0], (char *const *)argv, env);
		e = errno;
		if (write(exe[1], &e, sizeof(e)) < 0)
			_exit(127);
		_exit(127);
	}
	close_fd(&in[0]);
	close_fd(&out[1]);
	close_fd(&errp[1]);
	close_fd(&f3[0]);
	close_fd(&exe[1]);
	/* An exec failure arrives as an errno on this pipe; EOF means the
	 * program is running. */
	if (read(exe[0], &exec_errno, sizeof(exec_errno)) ==
	    (ssize_t)sizeof(exec_errno)) {
		waitpid(pid, &status, 0);
		pid = -1;
		rc = err_set(
		        err, exec_errno == ENOENT ? ERR_NOTFOUND : ERR_INTERNAL,
		        "cannot run '%s': %s", argv[0], strerror(exec_errno));
		goto out;
	}
	/* A child that exits before reading its input must not kill us;
	 * main() ignores SIGPIPE too, this covers library users. */
	signal(SIGPIPE, SIG_IGN);
	if (io->in_len == 0)
		close_fd(&in[1]);
	if (io->fd3_len == 0)
		close_fd(&f3[1]);
	deadline = now_ms() + (io->timeout_ms > 0 ? io->timeout_ms : 60000);
	while (out[0] >= 0 || errp[0] >= 0) {
		struct pollfd p[4];
		int np = 0, left;
		char chunk[8192];

		left = (int)(deadline - now_ms());
		if (left <= 0) {
			kill(pid, SIGKILL);
			waitpid(pid, &status, 0);
			pid = -1;
			rc = err_set(err, ERR_TRANSIENT,
			             "'%s' did not finish in %d ms", argv[0],
			             io->timeout_ms > 0 ? io->timeout_ms
			                                : 60000);
			goto out;
		}
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
				n = write(*fd, src + *off, len - *off);
				if (n > 0)
					*off += (size_t)n;
				if (n < 0 || *off == len)
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
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	pid = -1;
	*status_out = WIFEXITED(status) ? WEXITSTATUS(status)
	                                : 128 + WTERMSIG(status);
out:
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, &status, 0);
	}
	close_fd(&in[0]);
	close_fd(&in[1]);
	close_fd(&out[0]);
	close_fd(&out[1]);
	close_fd(&errp[0]);
	close_fd(&errp[1]);
	close_fd(&f3[0]);
	close_fd(&f3[1]);
	close_fd(&exe[0]);
	close_fd(&exe[1]);
	buf_release(&sink);
	free(env);
	return rc;
}
