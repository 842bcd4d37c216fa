/*
 * state.c - JSON documents in the state directory, written atomically, and
 * the directory lock.  It does not decide what is stored: the reconcilers
 * do.  Names are checked so that no document can be written outside DIR.
 */
#include "state.h"

#include "base/json.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define STATE_MAX_DOC ((size_t)64 << 20)

struct state {
	char *dir;
	int lock_fd;
};

int
state_default_dir(struct buf *out)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg == '/')
		buf_addf(out, "%s/ferry", xdg);
	else if (geteuid() == 0)
		buf_puts(out, "/var/lib/ferry");
	else if (home && *home)
		buf_addf(out, "%s/.local/state/ferry", home);
	else
		buf_puts(out, ".ferry-state");
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
state_open(struct state **out, const char *dir, struct err *err)
{
	struct state *st = NULL;
	struct buf path = BUF_INIT;
	int rc = 0;

	*out = NULL;
	if ((rc = dir_make_all(dir, 0700, err)) < 0)
		return err_prefix(err, "state directory");
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->dir = strdup(dir)) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	st->lock_fd = -1;
	buf_addf(&path, "%s/lock", dir);
	if (!buf_ok(&path)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	st->lock_fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		rc = err_set(err, ERR_INVALID, "%s: cannot open: %s", path.ptr,
		             strerror(errno));
		goto out;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = err_set(
		        err, ERR_CONFLICT,
		        "state directory '%s' is in use by another ferry process (give each one its own --state-dir)",
		        dir);
		goto out;
	}
	*out = st;
	st = NULL;
out:
	buf_release(&path);
	state_free(st);
	return rc;
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	free(st->dir);
	free(st);
}

const char *
state_dir(const struct state *st)
{
	return st->dir;
}

/* Kubernetes names and kinds: no '/', no leading '.', printable. */
static int
check_part(const char *what, const char *s, struct err *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.')
		return err_set(err, ERR_INVALID, "state: invalid %s '%s'", what,
		               s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c <= ' ' || c >= 0x7f)
			return err_set(err, ERR_INVALID,
			               "state: invalid %s '%s'", what, s);
	}
	return 0;
}

static int
doc_path(struct state *st, struct buf *out, const char *kind, const char *ns,
         const char *name, bool make_dirs, struct err *err)
{
	int rc;

	if ((rc = check_part("kind", kind, err)) < 0 ||
	    (rc = check_part("namespace", ns, err)) < 0 ||
	    (rc = check_part("name", name, err)) < 0)
		return rc;
	buf_addf(out, "%s/objects/%s/%s", st->dir, kind, ns);
	if (!buf_ok(out))
		return err_set(err, ERR_NOMEM, "out of memory");
	if (make_dirs && (rc = dir_make_all(out->ptr, 0700, err)) < 0)
		return rc;
	buf_addf(out, "/%s.json", name);
	return buf_ok(out) ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

int
state_get(struct state *st, const char *kind, const char *ns, const char *name,
          cJSON **out, struct err *err)
{
	struct buf path = BUF_INIT, data = BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = doc_path(st, &path, kind, ns, name, false, err)) < 0)
		goto out;
	data.max = STATE_MAX_DOC;
	if ((rc = file_read(&data, path.ptr, err)) < 0)
		goto out;
	rc = json_parse(out, data.ptr, data.len, path.ptr, err);
out:
	buf_release(&path);
	buf_release(&data);
	return rc;
}

int
state_put(struct state *st, const char *kind, const char *ns, const char *name,
          const cJSON *doc, struct err *err)
{
	struct buf path = BUF_INIT;
	char *text = NULL;
	int rc;

	if ((rc = doc_path(st, &path, kind, ns, name, true, err)) < 0)
		goto out;
	text = cJSON_Print(doc);
	if (text == NULL) {
		rc = err_set(err, ERR_NOMEM, "state: out of memory");
		goto out;
	}
	rc = file_write_atomic(path.ptr, text, strlen(text), 0600, err);
out:
	cJSON_free(text);
	buf_release(&path);
	return rc;
}
