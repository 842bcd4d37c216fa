/*
 * cmd_decrypt.c - `ferry decrypt FILE`: prints a SOPS-encrypted file
 * decrypted, as `sops -d FILE` does, with the keys ferry reads SOPS files
 * with (core/sops/sops.h): age identities and armored PGP secret keys.
 * It writes nothing to disk.
 */
#include "cli.h"

#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/secret.h"
#include "base/util.h"
#include "sops/sops.h"

static const char decrypt_help[] =
        "Usage: ferry decrypt [--sops-age-key-file FILE] [--sops-pgp-key-file FILE]\n"
        "                     FILE\n"
        "\n"
        "Prints a file encrypted with SOPS decrypted, as 'sops -d FILE' does:\n"
        "every encrypted value (and comment) in plain text and the 'sops'\n"
        "metadata removed.  Unlike sops, every other byte of the file is kept\n"
        "(order, indentation, comments, quoting); a value that spans lines is\n"
        "printed on one line in double quotes with \\n.  FILE may be - for\n"
        "standard input.  YAML and JSON files are read.\n"
        "\n"
        "The data key is taken from an age recipient of the file with the age\n"
        "identities given, or from a PGP recipient with the PGP secret keys\n"
        "given, through the system's gpg in a throw-away home (your keyrings\n"
        "are not used).  Every value is checked, and so is the file's MAC: a\n"
        "changed value, key or order is an error naming where.\n"
        "\n"
        "Options:\n"
        "  --sops-age-key-file FILE  age identities (AGE-SECRET-KEY-1..., as\n"
        "                            age-keygen writes them; repeatable); without\n"
        "                            one, $SOPS_AGE_KEY_FILE\n"
        "  --sops-pgp-key-file FILE  an armored PGP secret key without passphrase\n"
        "                            (gpg --export-secret-keys --armor; repeatable)\n"
        "  -h, --help                show this help\n"
        "\n"
        "Exit codes: 0 decrypted, 1 no key decrypts it or it was changed, 2 bad\n"
        "arguments or not a SOPS file.\n"
        "\n"
        "Example:\n"
        "  ferry decrypt --sops-age-key-file ~/.config/sops/age/keys.txt \\\n"
        "      clusters/prod/secrets/git-auth.yaml\n";

enum {
	OPT_AGE_KEY = 0x2000,
	OPT_PGP_KEY,
};

/* Reads all of standard input (at most SOPS_MAX_FILE bytes). */
static int
read_stdin(struct buf *out)
{
	char chunk[65536];
	int rc = 0;

	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = n < 0 ? -ERR_INVALID : 0;
			break;
		}
		if (out->len + (size_t)n > SOPS_MAX_FILE ||
		    buf_add(out, chunk, (size_t)n) < 0) {
			rc = -ERR_INVALID;
			break;
		}
	}
	secret_wipe(chunk, sizeof(chunk));
	return rc;
}

int
cmd_decrypt(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "sops-age-key-file", required_argument, NULL, OPT_AGE_KEY },
		{ "sops-pgp-key-file", required_argument, NULL, OPT_PGP_KEY },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct sops_keys *keys = NULL;
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err err = ERR_INIT;
	const char *path, *env;
	bool age_given = false;
	int c, rc = CLI_FAILED;

	if (sops_keys_new(&keys) < 0) {
		fprintf(stderr, "ferry decrypt: out of memory\n");
		return CLI_FAILED;
	}
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case OPT_AGE_KEY:
		case OPT_PGP_KEY:
			if (sops_keys_add_file(keys, optarg, c == OPT_PGP_KEY,
			                       &err) < 0) {
				rc = cli_usage_error("decrypt", "%s", err.msg);
				goto out;
			}
			age_given |= c == OPT_AGE_KEY;
			break;
		case 'h':
			fputs(decrypt_help, stdout);
			rc = CLI_OK;
			goto out;
		default:
			rc = cli_usage_error("decrypt", "unknown option");
			goto out;
		}
	}
	if (optind + 1 != argc) {
		rc = cli_usage_error("decrypt", "give one FILE (or - for "
		                                "standard input)");
		goto out;
	}
	env = getenv("SOPS_AGE_KEY_FILE");
	if (!age_given && env && *env &&
	    sops_keys_add_file(keys, env, false, &err) < 0) {
		fprintf(stderr, "ferry decrypt: SOPS_AGE_KEY_FILE: %s\n",
		        err.msg);
		rc = CLI_USAGE;
		goto out;
	}
	path = argv[optind];
	if (strcmp(path, "-") == 0) {
		if (read_stdin(&in) < 0) {
			fprintf(stderr,
			        "ferry decrypt: cannot read standard input (or "
			        "it is larger than %zu bytes)\n",
			        SOPS_MAX_FILE);
			goto out;
		}
		path = "<stdin>";
	} else if (file_read(&in, path, &err) < 0) {
		fprintf(stderr, "ferry decrypt: %s\n", err.msg);
		rc = CLI_USAGE;
		goto out;
	}
	if (sops_decrypt(&out, in.ptr, in.len, path, keys, 0, &err) < 0) {
		fprintf(stderr, "ferry decrypt: %s\n", err.msg);
		rc = err.code == ERR_INVALID && strstr(err.msg, "not a SOPS")
		             ? CLI_USAGE
		             : CLI_FAILED;
		goto out;
	}
	rc = fwrite(out.ptr, 1, out.len, stdout) == out.len ? CLI_OK
	                                                    : CLI_FAILED;
out:
	if (out.cap)
		secret_wipe(out.ptr, out.cap);
	if (in.cap)
		secret_wipe(in.ptr, in.cap);
	buf_release(&in);
	buf_release(&out);
	sops_keys_free(keys);
	return rc;
}
