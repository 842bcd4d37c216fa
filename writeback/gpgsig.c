/*
 * gpgsig.c - detached OpenPGP signatures by running gpg in a throw-away
 * home directory.  OpenPGP is not reimplemented here: gpg is the
 * well-kept implementation, and users who pick type gpg have it.
 */
#include "gpgsig.h"

#include "base/proc.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>

/* First line of gpg's stderr, for messages (gpg never echoes keys). */
static void
first_line(char *out, size_t outsz, const struct buf *b)
{
	size_t n = strcspn(b->ptr, "\n");

	if (n >= outsz)
		n = outsz - 1;
	memcpy(out, b->ptr, n);
	out[n] = '\0';
}

int
gpgsig_sign(struct buf *out, const struct secret *armored_key,
            const struct secret *passphrase, const void *msg, size_t len,
            struct err *err)
{
	char home[] = "/tmp/ferry-gnupg-XXXXXX";
	struct buf gerr = BUF_INIT, sig = BUF_INIT;
	struct proc_io io = PROC_IO_INIT;
	char line[256];
	int status = 0, rc = 0;
	const char *import[] = { "gpg", "--batch",  "--quiet", "--homedir",
		                 home,  "--import", NULL };
	const char *sign_nopw[] = {
		"gpg",   "--batch", "--quiet",       "--homedir", home,
		"--yes", "--armor", "--detach-sign", NULL
	};
	const char *sign_pw[] = { "gpg",
		                  "--batch",
		                  "--quiet",
		                  "--homedir",
		                  home,
		                  "--yes",
		                  "--armor",
		                  "--detach-sign",
		                  "--pinentry-mode",
		                  "loopback",
		                  "--passphrase-fd",
		                  "3",
		                  NULL };
	const char *kill_agent[] = { "gpgconf", "--homedir", home,
		                     "--kill",  "gpg-agent", NULL };
	bool have_pw = passphrase && passphrase->ptr && passphrase->len;

	if (armored_key == NULL || armored_key->ptr == NULL)
		return err_set(
		        err, ERR_INVALID,
		        "gpg signing: the signing key Secret has no 'git.asc'");
	if (mkdtemp(home) == NULL)
		return err_set(err, ERR_INTERNAL,
		               "gpg signing: cannot create a temporary home");
	io.in = armored_key->ptr;
	io.in_len = armored_key->len;
	io.errout = &gerr;
	rc = proc_run(import, &io, &status, err);
	if (rc == -ERR_NOTFOUND) {
		rc = err_set(
		        err, ERR_NOTFOUND,
		        "signingKey type gpg needs the gpg program: install gnupg (apt-get install gnupg), or use type: ssh");
		goto out;
	}
	if (rc < 0)
		goto out;
	if (status != 0) {
		first_line(line, sizeof(line), &gerr);
		rc = err_set(err, ERR_INVALID,
		             "gpg signing: gpg could not import 'git.asc': %s",
		             line);
		goto out;
	}
	buf_reset(&gerr);
	io = (struct proc_io)PROC_IO_INIT;
	io.in = msg;
	io.in_len = len;
	io.out = &sig;
	io.errout = &gerr;
	if (have_pw) {
		io.fd3 = passphrase->ptr;
		io.fd3_len = passphrase->len;
	}
	if ((rc = proc_run(have_pw ? sign_pw : sign_nopw, &io, &status, err)) <
	    0)
		goto out;
	if (status != 0 || sig.len == 0) {
		first_line(line, sizeof(line), &gerr);
		rc = err_set(
		        err, ERR_INVALID,
		        "gpg signing: gpg could not sign (wrong or missing passphrase?): %s",
		        line);
		goto out;
	}
	if (buf_add(out, sig.ptr, sig.len) < 0)
		rc = err_set(err, ERR_NOMEM, "gpg signing: out of memory");
out:
	io = (struct proc_io)PROC_IO_INIT;
	if (proc_run(kill_agent, &io, &status, NULL) < 0) {
		/* no agent was started, or gpgconf is missing: nothing to do */
	}
	dir_remove_all(home, NULL);
	buf_release(&gerr);
	buf_release(&sig);
	return rc;
}
