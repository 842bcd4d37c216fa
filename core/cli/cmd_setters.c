/*
 * cmd_setters.c - `ferry setters apply`: the manual, dry-runnable front end
 * of the setter write-back (writeback/setters.h).  Policies come from the
 * command line, not from a cluster or config.
 */
#include "cli.h"
#include "base/buf.h"
#include "base/err.h"
#include "base/fsroot.h"
#include "base/pool.h"
#include "writeback/setters.h"

#include <getopt.h>
#include <libgen.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Threads that read, edit and write files beside the calling one. */
#define SETTERS_CLI_THREADS 4

static const char setters_help[] =
        "Usage: ferry setters apply --policy NS:NAME=IMAGE[:TAG][@DIGEST]\n"
        "                           [--policy ...] [--dry-run] [-o text|json] "
        "PATH\n"
        "\n"
        "Updates every value marked with a Flux image-policy setter comment\n"
        "under PATH (a directory, or one YAML file), changing only the bytes\n"
        "of those values.  A marker is a line (or head) comment that is\n"
        "exactly a JSON object such as\n"
        "\n"
        "  image: ghcr.io/org/app:1.0.0 # {\"$imagepolicy\": \"flux-system:app\"}\n"
        "  tag: 1.0.0 # {\"$imagepolicy\": \"flux-system:app:tag\"}\n"
        "\n"
        "NS:NAME gets the full reference, NS:NAME:tag the tag, NS:NAME:name the\n"
        "image name and NS:NAME:digest the digest, which is emptied when the\n"
        "policy has none, as in Flux (the old digest would pin the old image;\n"
        "a warning is logged).  Files searched: *.yaml, *.yml and Kustomization\n"
        "files containing \"$imagepolicy\".  Markers of policies not given are\n"
        "left alone; unchanged files are not written.\n"
        "\n"
        "Prints one line per change, 'file:line: setter old -> new'.\n"
        "\n"
        "Options:\n"
        "  -p, --policy NS:NAME=REF  a policy and its latest image (repeatable)\n"
        "  -n, --dry-run             print a unified diff, write nothing\n"
        "  -o, --output FORMAT       text (default) or json (the change list)\n"
        "  -h, --help                show this help\n"
        "\n"
        "Examples:\n"
        "  ferry setters apply --policy flux-system:app=ghcr.io/org/app:1.2.0 "
        "./clusters\n"
        "  ferry setters apply --dry-run \\\n"
        "      --policy apps:web=nginx:1.27.1@sha256:<64 hex digits> .\n"
        "\n"
        "Exit status: 0 done (changed or not), 1 a file could not be edited,\n"
        "2 bad arguments.\n";

int
cmd_setters(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "policy", required_argument, NULL, 'p' },
		{ "dry-run", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct setters_policy *pol = NULL;
	char **copies = NULL;
	size_t npol = 0;
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct wb_changes changes = WB_CHANGES_INIT;
	struct buf diff = BUF_INIT;
	struct err err = ERR_INIT;
	struct fsroot *root = NULL;
	struct pool *pool = NULL;
	char *dircopy = NULL, *namecopy = NULL;
	const char *dir, *sub = ".";
	struct stat st;
	int c, json = 0, rc = CLI_OK, r;

	if ((rc = cli_verb(&argc, &argv, "setters", "apply", setters_help)) >=
	    0)
		return rc;
	rc = CLI_OK;
	pol = calloc((size_t)argc, sizeof(*pol));
	copies = calloc((size_t)argc, sizeof(*copies));
	if (pol == NULL || copies == NULL) {
		rc = CLI_FAILED;
		goto out;
	}
	optind = 1;
	while ((c = getopt_long(argc, argv, "p:no:h", opts, NULL)) != -1) {
		switch (c) {
		case 'p':
			copies[npol] = strdup(optarg);
			if (copies[npol] == NULL) {
				rc = CLI_FAILED;
				goto out;
			}
			if (setters_policy_parse(&pol[npol], copies[npol],
			                         &err) < 0) {
				npol++;
				rc = cli_usage_error("setters", "%s", err.msg);
				goto out;
			}
			npol++;
			break;
		case 'n':
			yo.dry_run = true;
			break;
		case 'o':
			if (cli_output_parse("setters", optarg, &json) < 0) {
				rc = CLI_USAGE;
				goto out;
			}
			break;
		case 'h':
			fputs(setters_help, stdout);
			goto out;
		default:
			rc = cli_usage_error("setters", "unknown option");
			goto out;
		}
	}
	if (optind + 1 != argc) {
		rc = cli_usage_error("setters", "expected one PATH");
		goto out;
	}
	if (npol == 0) {
		rc = cli_usage_error("setters", "give at least one --policy");
		goto out;
	}
	dir = argv[optind];
	yo.diff = &diff;
	/* PATH is the root nothing is edited outside of; a single file is
	 * edited beneath its own directory */
	if (stat(argv[optind], &st) == 0 && !S_ISDIR(st.st_mode)) {
		dircopy = strdup(argv[optind]);
		namecopy = strdup(argv[optind]);
		if (dircopy == NULL || namecopy == NULL) {
			rc = CLI_FAILED;
			goto out;
		}
		dir = dirname(dircopy);
		sub = basename(namecopy);
	}
	if (fsroot_open(&root, dir, 0, &err) < 0 ||
	    pool_new(&pool, SETTERS_CLI_THREADS, &err) < 0) {
		fprintf(stderr, "ferry setters: %s\n", err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	yo.pool = pool;
	r = setters_apply(root, sub, pol, npol, &yo, &changes, &err);
	if (r < 0) {
		fprintf(stderr, "ferry setters: %s\n", err.msg);
		rc = CLI_FAILED;
	}
	if (cli_edit_print(yo.dry_run, json, &diff, &changes) != CLI_OK)
		rc = CLI_FAILED;
out:
	pool_free(pool);
	fsroot_free(root);
	free(dircopy);
	free(namecopy);
	for (size_t i = 0; i < npol; i++)
		free(copies[i]);
	free(copies);
	free(pol);
	wb_changes_release(&changes);
	buf_release(&diff);
	return rc;
}
