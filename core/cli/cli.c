/*
 * cli.c - the subcommand table and helpers shared by the cmd_* front ends.
 * Subcommands are listed only when they work: there are no placeholders.
 */
#include "cli.h"

#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "writeback/change.h"
#include "writeback/yamledit.h"

const struct cli_command cli_commands[] = {
	{ "run", "run the pipeline: scan, select, edit, commit, push",
	  cmd_run },
	{ "plan", "show what a run would change, commit and push", cmd_plan },
	{ "validate", "check Flux and Argo CD objects in files and directories",
	  cmd_validate },
	{ "decrypt", "print a SOPS-encrypted file decrypted, as sops -d does",
	  cmd_decrypt },
	{ "get", "show the status a running daemon keeps", cmd_get },
	{ "reconcile", "ask a running daemon to run an object now",
	  cmd_reconcile },
	{ "suspend", "suspend an object in a running daemon", cmd_suspend },
	{ "resume", "resume a suspended object in a running daemon",
	  cmd_resume },
	{ "events", "show what a running daemon did, newest last", cmd_events },
	{ "scan", "list the tags of images from their registries", cmd_scan },
	{ "policy", "test a tag policy: which tag would win", cmd_policy },
	{ "setters", "apply image-policy setter markers to YAML files",
	  cmd_setters },
	{ "kustomize", "set images in a kustomization, byte for byte",
	  cmd_kustomize },
	{ "helm", "set keys in a Helm values file, byte for byte", cmd_helm },
	{ "template", "render a commit message template with JSON data",
	  cmd_template },
	{ "version", "print the version and the libraries ferry runs on",
	  cmd_version },
	{ NULL, NULL, NULL },
};

int
cli_output_parse(const char *cmd, const char *arg, int *json_out)
{
	if (strcmp(arg, "json") == 0)
		*json_out = 1;
	else if (strcmp(arg, "text") == 0)
		*json_out = 0;
	else {
		cli_usage_error(cmd, "-o takes 'text' or 'json', not '%s'",
		                arg);
		return -1;
	}
	return 0;
}

int
cli_usage_error(const char *cmd, const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "ferry %s: ", cmd);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'ferry %s --help'.\n", cmd);
	return CLI_USAGE;
}

int
cli_verb(int *argc, char ***argv, const char *cmd, const char *verb,
         const char *help)
{
	char **av = *argv;

	if (*argc >= 2 && strcmp(av[1], verb) == 0) {
		(*argc)--;
		(*argv)++;
		return -1;
	}
	if (*argc >= 2 &&
	    (strcmp(av[1], "--help") == 0 || strcmp(av[1], "-h") == 0)) {
		fputs(help, stdout);
		return CLI_OK;
	}
	return cli_usage_error(cmd, "expected '%s'", verb);
}

int
cli_edit_args(int *argc, char ***argv, const char *cmd, const char *verb,
              const char *help, bool *dry_run, int *json)
{
	static const struct option opts[] = {
		{ "dry-run", no_argument, NULL, 'n' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, rc;

	if ((rc = cli_verb(argc, argv, cmd, verb, help)) >= 0)
		return rc;
	optind = 1;
	while ((c = getopt_long(*argc, *argv, "no:h", opts, NULL)) != -1) {
		switch (c) {
		case 'n':
			*dry_run = true;
			break;
		case 'o':
			if (cli_output_parse(cmd, optarg, json) < 0)
				return CLI_USAGE;
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	return -1;
}

int
cli_edit_print(bool dry_run, bool json, const struct buf *diff,
               const struct wb_changes *changes)
{
	struct buf text = BUF_INIT;
	int rc = CLI_OK;

	if (dry_run && !json)
		fwrite(diff->ptr, 1, diff->len, stdout);
	else if (yamledit_changes_format(&text, changes, json) == 0)
		fwrite(text.ptr, 1, text.len, stdout);
	else
		rc = CLI_FAILED;
	buf_release(&text);
	return rc;
}
