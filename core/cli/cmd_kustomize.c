/*
 * cmd_kustomize.c - `ferry kustomize set-image`: the manual, dry-runnable
 * front end of the kustomization images editor (writeback/kustomize.h).
 */
#include "cli.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsroot.h"
#include "writeback/kustomize.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>

static const char kustomize_help[] =
        "Usage: ferry kustomize set-image [--dry-run] [-o text|json] DIR "
        "IMAGE...\n"
        "\n"
        "Sets images in the kustomization of DIR (kustomization.yaml,\n"
        "kustomization.yml or Kustomization) like 'kustomize edit set image',\n"
        "changing only the bytes it must: comments, blank lines, order and\n"
        "quoting stay as they are.  IMAGE is NAME[=NEWNAME][:TAG][@DIGEST]:\n"
        "\n"
        "  NAME:TAG               newTag: TAG (newName and digest removed)\n"
        "  NAME@DIGEST            digest: DIGEST\n"
        "  NAME=NEWNAME:TAG       newName and newTag\n"
        "  NAME=NEWNAME@DIGEST    newName and digest\n"
        "  NAME=NEWNAME           newName only\n"
        "  NAME=*:TAG             newTag; '*' keeps the entry's newName (also\n"
        "                         for TAG and DIGEST, as kustomize does)\n"
        "\n"
        "As with kustomize, the argument is the whole entry: a part not given\n"
        "is removed.  The entry whose name is NAME is updated, or appended\n"
        "to images: (which is created when missing).\n"
        "\n"
        "Prints one line per change, 'file:line: images[NAME].field old -> "
        "new'.\n"
        "\n"
        "Options:\n"
        "  -n, --dry-run         print a unified diff, write nothing\n"
        "  -o, --output FORMAT   text (default) or json (the change list)\n"
        "  -h, --help            show this help\n"
        "\n"
        "Examples:\n"
        "  ferry kustomize set-image overlays/prod ghcr.io/org/app:1.4.2\n"
        "  ferry kustomize set-image --dry-run overlays/prod \\\n"
        "      app=127.0.0.1:5000/team/app:1.1.0 sidecar@sha256:<64 hex>\n"
        "\n"
        "Exit status: 0 done (changed or not), 1 the file could not be "
        "edited,\n"
        "2 bad arguments.\n";

int
cmd_kustomize(int argc, char **argv)
{
	struct kustomize_image *imgs = NULL;
	char **copies = NULL;
	size_t n = 0;
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct wb_changes changes = WB_CHANGES_INIT;
	struct buf diff = BUF_INIT;
	struct err err = ERR_INIT;
	struct fsroot *root = NULL;
	int json = 0, rc = CLI_OK;

	if ((rc = cli_edit_args(&argc, &argv, "kustomize", "set-image",
	                        kustomize_help, &yo.dry_run, &json)) >= 0)
		return rc;
	rc = CLI_OK;
	if (argc - optind < 2)
		return cli_usage_error("kustomize",
		                       "expected DIR and IMAGE...");
	imgs = calloc((size_t)argc, sizeof(*imgs));
	copies = calloc((size_t)argc, sizeof(*copies));
	if (imgs == NULL || copies == NULL) {
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
		if (kustomize_image_parse(&imgs[n - 1], copies[n - 1], &err) <
		    0) {
			rc = cli_usage_error("kustomize", "%s", err.msg);
			goto out;
		}
	}
	yo.diff = &diff;
	/* DIR is the root: nothing outside it is read or written */
	if (fsroot_open(&root, argv[optind], 0, &err) < 0 ||
	    kustomize_set_images(root, ".", imgs, n, &yo, &changes, &err) < 0) {
		fprintf(stderr, "ferry kustomize: %s\n", err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	if (cli_edit_print(yo.dry_run, json, &diff, &changes) != CLI_OK)
		rc = CLI_FAILED;
out:
	fsroot_free(root);
	for (size_t i = 0; i < n; i++)
		free(copies[i]);
	free(copies);
	free(imgs);
	wb_changes_release(&changes);
	buf_release(&diff);
	return rc;
}
