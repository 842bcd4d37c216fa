/*
 * cmd_helm.c - `ferry helm set-values`: the manual, dry-runnable front end
 * of the Helm values editor (writeback/helm.h).
 */
#include "cli.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsroot.h"
#include "writeback/helm.h"

#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>

static const char helm_help[] =
        "Usage: ferry helm set-values [--dry-run] [-o text|json] FILE "
        "KEY=VALUE...\n"
        "\n"
        "Sets keys of a Helm values file, changing only the bytes it must:\n"
        "comments, blank lines, order and quoting stay as they are.  KEY is a\n"
        "dotted path with list indexes; missing mapping keys are created at\n"
        "the indentation of their siblings.  VALUE must be an image reference,\n"
        "name, tag or digest; a value that would read as a number or bool\n"
        "(1.10, 16, yes) is written double quoted.\n"
        "\n"
        "Prints one line per change, 'file:line: KEY old -> new'.\n"
        "\n"
        "Options:\n"
        "  -n, --dry-run         print a unified diff, write nothing\n"
        "  -o, --output FORMAT   text (default) or json (the change list)\n"
        "  -h, --help            show this help\n"
        "\n"
        "Examples:\n"
        "  ferry helm set-values values.yaml image.tag=1.4.2\n"
        "  ferry helm set-values values.yaml image.repository=ghcr.io/org/app \\\n"
        "      controller.image.digest=sha256:<64 hex> sidecars[1].image=envoy:1.30\n"
        "  ferry helm set-values --dry-run values.yaml image.tag=1.10\n"
        "\n"
        "Exit status: 0 done (changed or not), 1 the file could not be "
        "edited,\n"
        "2 bad arguments.\n";

int
cmd_helm(int argc, char **argv)
{
	struct helm_value *vals = NULL;
	char **copies = NULL;
	size_t n = 0;
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct wb_changes changes = WB_CHANGES_INIT;
	struct buf diff = BUF_INIT;
	struct err err = ERR_INIT;
	struct fsroot *root = NULL;
	char *dircopy = NULL, *namecopy = NULL;
	int json = 0, rc = CLI_OK;

	if ((rc = cli_edit_args(&argc, &argv, "helm", "set-values", helm_help,
	                        &yo.dry_run, &json)) >= 0)
		return rc;
	rc = CLI_OK;
	if (argc - optind < 2)
		return cli_usage_error("helm",
		                       "expected FILE and KEY=VALUE...");
	vals = calloc((size_t)argc, sizeof(*vals));
	copies = calloc((size_t)argc, sizeof(*copies));
	if (vals == NULL || copies == NULL) {
		rc = CLI_FAILED;
		goto out;
	}
	for (int i = optind + 1; i < argc; i++) {
		copies[n] = strdup(argv[i]);
		if (copies[n] == NULL) {
			rc = CLI_FAILED;
			goto out;
		}
		n++;
		if (helm_value_parse(&vals[n - 1], copies[n - 1], &err) < 0) {
			rc = cli_usage_error("helm", "%s", err.msg);
			goto out;
		}
	}
	yo.diff = &diff;
	/* FILE's directory is the root: the file may be a link to another
	 * file beside it, not to one anywhere on the machine */
	dircopy = strdup(argv[optind]);
	namecopy = strdup(argv[optind]);
	if (dircopy == NULL || namecopy == NULL) {
		rc = CLI_FAILED;
		goto out;
	}
	if (fsroot_open(&root, dirname(dircopy), 0, &err) < 0 ||
	    helm_set_values(root, basename(namecopy), argv[optind], vals, n,
	                    &yo, &changes, &err) < 0) {
		fprintf(stderr, "ferry helm: %s\n", err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	if (cli_edit_print(yo.dry_run, json, &diff, &changes) != CLI_OK)
		rc = CLI_FAILED;
out:
	fsroot_free(root);
	free(dircopy);
	free(namecopy);
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	free(copies);
	free(vals);
	wb_changes_release(&changes);
	buf_release(&diff);
	return rc;
}
