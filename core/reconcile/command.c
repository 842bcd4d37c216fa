/*
 * command.c - the commands of a Kustomization's annotations (apply
 * command, hooks, health command): split into words with the quoting
 * rules of a POSIX shell but none of its expansions, and run without a
 * shell (base/proc.h) with a deadline.  Also the small string list the
 * reconciler's results use.
 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/proc.h"

int
reconcile_names_add(struct reconcile_names *l, const char *s)
{
	char **v = reallocarray(l->v, l->n + 2, sizeof(*v));

	if (v == NULL)
		return -ERR_NOMEM;
	l->v = v;
	if ((v[l->n] = strdup(s)) == NULL)
		return -ERR_NOMEM;
	v[++l->n] = NULL;
	return 0;
}

bool
reconcile_names_has(const struct reconcile_names *l, const char *s)
{
	for (size_t i = 0; l && i < l->n; i++)
		if (strcmp(l->v[i], s) == 0)
			return true;
	return false;
}

void
reconcile_names_release(struct reconcile_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
reconcile_words_free(char **argv)
{
	for (size_t i = 0; argv && argv[i]; i++)
		free(argv[i]);
	free(argv);
}

static bool
blank(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

int
reconcile_words(char ***argv_out, const char *line, struct err *err)
{
	struct reconcile_names words = { 0 };
	struct buf w = BUF_INIT;
	const char *p = line;
	int rc = 0;

	*argv_out = NULL;
	if (strlen(line) > RECONCILE_MAX_COMMAND)
		return err_set(err, ERR_INVALID,
		               "the command is longer than %d bytes",
		               RECONCILE_MAX_COMMAND);
	for (;;) {
		bool in_word = false;

		while (blank(*p))
			p++;
		if (*p == '\0')
			break;
		buf_reset(&w);
		while (*p && !blank(*p)) {
			in_word = true;
			if (*p == '\'') {
				const char *end = strchr(p + 1, '\'');
				if (end == NULL) {
					rc = err_set(err, ERR_INVALID,
					             "unterminated ' in the "
					             "command");
					goto out;
				}
				buf_add(&w, p + 1, (size_t)(end - p - 1));
				p = end + 1;
			} else if (*p == '"') {
				for (p++; *p && *p != '"'; p++) {
					if (*p == '\\' && p[1] == '\n') {
						p++;
						continue;
					}
					if (*p == '\\' && p[1] &&
					    strchr("\"\\$`", p[1]))
						p++;
					buf_putc(&w, *p);
				}
				if (*p != '"') {
					rc = err_set(err, ERR_INVALID,
					             "unterminated \" in the "
					             "command");
					goto out;
				}
				p++;
			} else if (*p == '\\') {
				if (p[1] == '\0') {
					p++;
					break;
				}
				if (p[1] != '\n')
					buf_putc(&w, p[1]);
				p += 2;
			} else {
				buf_putc(&w, *p++);
			}
		}
		if (!in_word)
			continue;
		if (words.n == RECONCILE_MAX_WORDS) {
			rc = err_set(err, ERR_INVALID,
			             "the command has more than %d words",
			             RECONCILE_MAX_WORDS);
			goto out;
		}
		if (!buf_ok(&w) ||
		    reconcile_names_add(&words, w.ptr ? w.ptr : "") < 0) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (words.n == 0) {
		rc = err_set(err, ERR_INVALID, "the command is empty");
		goto out;
	}
	*argv_out = words.v;
	words.v = NULL;
	words.n = 0;
out:
	reconcile_names_release(&words);
	buf_release(&w);
	return rc;
}

/* The last non-empty line of b, at most 300 bytes, into out. */
static void
last_line(char out[320], const struct buf *b)
{
	size_t end = b->len, start;

	while (end > 0 && (b->ptr[end - 1] == '\n' || b->ptr[end - 1] == '\r' ||
	                   b->ptr[end - 1] == ' '))
		end--;
	start = end;
	while (start > 0 && b->ptr[start - 1] != '\n')
		start--;
	if (end - start > 300)
		start = end - 300;
	snprintf(out, 320, "%.*s", (int)(end - start),
	         b->ptr ? b->ptr + start : "");
}

int
reconcile_command_run(const char *what, const char *line,
                      const char *const *env, const void *in, size_t in_len,
                      int timeout_ms, struct buf *output, struct buf *errors,
                      struct err *err)
{
	struct proc_io io = PROC_IO_INIT;
	struct buf out = BUF_INIT, errout = BUF_INIT;
	char **argv = NULL, tail[320];
	int status = 0, rc;

	if ((rc = reconcile_words(&argv, line, err)) < 0) {
		err_prefix(err, "%s", what);
		return rc;
	}
	io.in = in;
	io.in_len = in_len;
	io.out = &out;
	io.errout = &errout;
	io.env = env;
	io.timeout_ms = timeout_ms > 0 ? timeout_ms : 1;
	rc = proc_run((const char *const *)argv, &io, &status, err);
	if (output)
		buf_add(output, out.ptr ? out.ptr : "", out.len);
	if (errors)
		buf_add(errors, errout.ptr ? errout.ptr : "", errout.len);
	if (rc == -ERR_NOTFOUND) {
		err_set(err, ERR_NOTFOUND, "%s: program '%s' not found on PATH",
		        what, argv[0]);
	} else if (rc == -ERR_TRANSIENT) {
		err_set(err, ERR_TRANSIENT, "%s '%s' did not finish in %d ms",
		        what, argv[0], timeout_ms);
	} else if (rc < 0) {
		err_prefix(err, "%s", what);
	} else if (status != 0) {
		last_line(tail, errout.len ? &errout : &out);
		rc = err_set(err, ERR_INVALID,
		             "%s '%s' exited with status %d%s%s", what, argv[0],
		             status, tail[0] ? ": " : "", tail);
	}
	reconcile_words_free(argv);
	buf_release(&out);
	buf_release(&errout);
	return rc;
}
