/*
 * pgp.c - the data key of a PGP recipient, decrypted by the system's gpg
 * in a throw-away home directory into which the secret keys are
 * imported (as writeback/gpgsig.c signs): OpenPGP is not reimplemented,
 * and the user's own keyrings are never touched.
 */
#include "sops_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/proc.h"
#include "base/util.h"

/* First line of gpg's stderr, for messages (gpg never prints keys). */
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
sops_pgp_decrypt(struct buf *out, size_t *which_out, const char *const *msgs,
                 const size_t *lens, size_t n, const struct sops_keys *keys,
                 struct err *err)
{
	char home[] = "/tmp/ferry-sops-gnupg-XXXXXX";
	struct buf gerr = BUF_INIT, plain = BUF_INIT;
	struct proc_io io = PROC_IO_INIT;
	char line[256];
	int status = 0, rc = 0;
	const char *import[] = { "gpg",       "--batch", "--quiet",  "--no-tty",
		                 "--homedir", home,      "--import", NULL };
	/* loopback without a passphrase: a protected key fails at once
	 * instead of waiting for a pinentry */
	const char *decrypt[] = {
		"gpg",          "--batch", "--quiet",         "--no-tty",
		"--homedir",    home,      "--pinentry-mode", "loopback",
		"--passphrase", "",        "--decrypt",       NULL
	};
	const char *kill_agent[] = { "gpgconf", "--homedir", home,
		                     "--kill",  "gpg-agent", NULL };

	if (keys == NULL || keys->npgp == 0)
		return err_set(err, ERR_AUTH, "no PGP key given");
	if (mkdtemp(home) == NULL)
		return err_set(err, ERR_INTERNAL,
		               "gpg: cannot create a temporary home");
	for (size_t i = 0; i < keys->npgp; i++) {
		buf_reset(&gerr);
		io = (struct proc_io)PROC_IO_INIT;
		io.in = keys->pgp[i].ptr;
		io.in_len = keys->pgp[i].len;
		io.errout = &gerr;
		rc = proc_run(import, &io, &status, err);
		if (rc == -ERR_NOTFOUND) {
			rc = err_set(err, ERR_NOTFOUND,
			             "a PGP-encrypted data key needs the gpg "
			             "program: install gnupg (apt-get install "
			             "gnupg), or encrypt for an age recipient");
			goto out;
		}
		if (rc < 0)
			goto out;
		if (status != 0) {
			first_line(line, sizeof(line), &gerr);
			rc = err_set(err, ERR_INVALID,
			             "gpg could not import PGP key %zu: %s",
			             i + 1, line);
			goto out;
		}
	}
	rc = -ERR_AUTH;
	for (size_t i = 0; i < n && rc == -ERR_AUTH; i++) {
		buf_reset(&gerr);
		buf_reset(&plain);
		io = (struct proc_io)PROC_IO_INIT;
		io.in = msgs[i];
		io.in_len = lens[i];
		io.out = &plain;
		io.errout = &gerr;
		if ((rc = proc_run(decrypt, &io, &status, err)) < 0)
			goto out;
		if (status == 0 && plain.len > 0) {
			if (buf_add(out, plain.ptr, plain.len) < 0) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
			*which_out = i;
			rc = 0;
		} else {
			rc = -ERR_AUTH;
		}
	}
	if (rc == -ERR_AUTH) {
		first_line(line, sizeof(line), &gerr);
		rc = err_set(err, ERR_AUTH,
		             "gpg decrypts no PGP data key with "
		             "the keys given: %s",
		             line);
	}
out:
	io = (struct proc_io)PROC_IO_INIT;
	if (proc_run(kill_agent, &io, &status, NULL) < 0) {
		/* no agent was started, or gpgconf is missing */
	}
	dir_remove_all(home, NULL);
	if (plain.cap)
		secret_wipe(plain.ptr, plain.cap);
	buf_release(&plain);
	buf_release(&gerr);
	return rc;
}
