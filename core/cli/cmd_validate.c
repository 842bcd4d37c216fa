/*
 * cmd_validate.c - `ferry validate -f PATH...`: loads the Flux objects the
 * way the daemon does at start (config/loader.h) and reports either the
 * counts per kind or every problem found, with file:line:column.
 *
 * It does not contact registries or Git: a reference is checked against
 * the files given, not against a cluster.
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/json.h"
#include "config/argocd.h"
#include "config/loader.h"

static const char validate_help[] =
        "Usage: ferry validate -f PATH [-f PATH ...] [-o text|json]\n"
        "\n"
        "Checks Flux and Argo CD objects the way ferry reads them at start,\n"
        "without touching a registry or a Git server.\n"
        "\n"
        "What is read:\n"
        "  Each PATH is a YAML file, or a directory read recursively for *.yaml\n"
        "  and *.yml (names starting with '.' are skipped).  Files may hold several\n"
        "  documents separated by '---'.  ferry reads GitRepository\n"
        "  (source.toolkit.fluxcd.io/v1), ImageRepository, ImagePolicy and\n"
        "  ImageUpdateAutomation (image.toolkit.fluxcd.io/v1 or v1beta2), Receiver\n"
        "  (notification.toolkit.fluxcd.io/v1), Kustomization\n"
        "  (kustomize.toolkit.fluxcd.io/v1) and Secret (v1); for Argo CD users,\n"
        "  ImageUpdater (argocd-image-updater.argoproj.io/v1alpha1), Application\n"
        "  (argoproj.io/v1alpha1) with its image-updater annotations, and the\n"
        "  ConfigMap argocd-image-updater-config.\n"
        "\n"
        "What is skipped:\n"
        "  Every other document (Deployment, other ConfigMaps, HelmRelease, a kustomize\n"
        "  kustomization.yaml, YAML without a kind) is skipped with one log line\n"
        "  (event=document_skipped), so you can point ferry at a whole GitOps repo.\n"
        "\n"
        "What is checked:\n"
        "  Unknown fields, wrong types, durations (1m30s, 500ms, 2h), regexes\n"
        "  (as Go's RE2 would take them), semver ranges, enum values, required\n"
        "  fields, one strategy per ImagePolicy, duplicate objects, and\n"
        "  references: policy to ImageRepository (and its accessFrom), automation\n"
        "  to GitRepository, every secretRef to a Secret in the same namespace.\n"
        "  For Argo CD: every ImageUpdater field and image-updater annotation\n"
        "  (a misspelt key is reported), helm and kustomize keys on one alias,\n"
        "  pull secrets, git-branch, write-back targets, and write-back method\n"
        "  'argocd' (it patches the cluster's Application: refused, use 'git').\n"
        "  An unknown update strategy is a warning naming the one used (semver).\n"
        "  Every problem is reported, one per line:\n"
        "    FILE:LINE:COL: KIND NAMESPACE/NAME: FIELD.PATH: what is wrong\n"
        "  Secret values are never printed.\n"
        "\n"
        "Options:\n"
        "  -f, --file PATH       a file or directory to read (repeatable)\n"
        "  --argocd-annotations  also check Applications that only have the v0.x\n"
        "                        image-updater annotations, as 'run' would use them\n"
        "  -o, --output FORMAT   text (default) or json:\n"
        "                        {\"ok\":..,\"objects\":N,\"kinds\":{..},\"skipped\":[..],\n"
        "                         \"errors\":[{\"file\",\"line\",\"column\",\"path\",\"message\"}]}\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 valid, 2 configuration errors (or bad arguments, or a PATH\n"
        "that does not exist), 1 ferry itself failed (out of memory).\n"
        "\n"
        "Example:\n"
        "  ferry validate -f clusters/production/ -f flux-system/secrets.yaml\n"
        "  ok: 5 objects (1 GitRepository, 1 ImageRepository, 1 ImagePolicy, ...)\n";

#define VALIDATE_MAX_PATHS 256

static void
print_text(const struct config *cfg, size_t total)
{
	struct buf line = BUF_INIT;
	bool first = true;

	buf_addf(&line, "ok: %zu object%s", total, total == 1 ? "" : "s");
	for (int k = 0; k < CONFIG_KIND_COUNT; k++) {
		size_t n = config_count(cfg, (enum config_kind)k);

		if (n == 0)
			continue;
		buf_addf(&line, "%s%zu %s", first ? " (" : ", ", n,
		         config_kind_name((enum config_kind)k));
		first = false;
	}
	if (!first)
		buf_putc(&line, ')');
	if (buf_ok(&line))
		printf("%s\n", line.ptr);
	buf_reset(&line);
	if (config_skipped_count(cfg) > 0) {
		/* counts per skipped kind, in the order first seen */
		size_t n = config_skipped_count(cfg);

		buf_addf(&line, "skipped: %zu document%s of other kinds (", n,
		         n == 1 ? "" : "s");
		for (size_t i = 0; i < n; i++) {
			const struct config_skipped *s =
			        config_skipped_get(cfg, i);
			size_t count = 0;
			bool seen = false;

			for (size_t j = 0; j < i && !seen; j++)
				seen = strcmp(config_skipped_get(cfg, j)->kind,
				              s->kind) == 0;
			if (seen)
				continue;
			for (size_t j = i; j < n; j++)
				count +=
				        strcmp(config_skipped_get(cfg, j)->kind,
				               s->kind) == 0;
			buf_addf(&line, "%s%zu %s", i ? ", " : "", count,
			         s->kind[0] ? s->kind : "without kind");
		}
		buf_putc(&line, ')');
		if (buf_ok(&line))
			printf("%s\n", line.ptr);
	}
	buf_release(&line);
}

static int
print_json(const struct config *cfg, size_t total, bool ok)
{
	cJSON *root = cJSON_CreateObject(), *kinds, *skipped, *errors;
	char *text = NULL;
	int rc = -1;

	if (root == NULL)
		return -1;
	if (!cJSON_AddBoolToObject(root, "ok", ok) ||
	    !cJSON_AddNumberToObject(root, "objects", (double)total) ||
	    !(kinds = cJSON_AddObjectToObject(root, "kinds")) ||
	    !(skipped = cJSON_AddArrayToObject(root, "skipped")) ||
	    !(errors = cJSON_AddArrayToObject(root, "errors")))
		goto out;
	for (int k = 0; k < CONFIG_KIND_COUNT; k++) {
		size_t n = config_count(cfg, (enum config_kind)k);

		if (n && !cJSON_AddNumberToObject(
		                 kinds, config_kind_name((enum config_kind)k),
		                 (double)n))
			goto out;
	}
	for (size_t i = 0; i < config_skipped_count(cfg); i++) {
		const struct config_skipped *s = config_skipped_get(cfg, i);
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(skipped, o) ||
		    !cJSON_AddStringToObject(o, "file", s->file) ||
		    !cJSON_AddNumberToObject(o, "line", s->line) ||
		    !cJSON_AddStringToObject(o, "apiVersion", s->api_version) ||
		    !cJSON_AddStringToObject(o, "kind", s->kind))
			goto out;
	}
	for (size_t i = 0; i < config_diag_count(cfg); i++) {
		const struct config_diag *d = config_diag_get(cfg, i);
		cJSON *o = cJSON_CreateObject();

		if (o == NULL || !cJSON_AddItemToArray(errors, o) ||
		    !cJSON_AddStringToObject(o, "file", d->file) ||
		    !cJSON_AddNumberToObject(o, "line", d->line) ||
		    !cJSON_AddNumberToObject(o, "column", d->column) ||
		    !(d->object
		              ? cJSON_AddStringToObject(o, "object", d->object)
		              : cJSON_AddNullToObject(o, "object")) ||
		    !cJSON_AddStringToObject(o, "path", d->path) ||
		    !cJSON_AddStringToObject(o, "message", d->message))
			goto out;
	}
	if (config_diag_dropped(cfg) &&
	    !cJSON_AddNumberToObject(root, "errors_not_shown",
	                             (double)config_diag_dropped(cfg)))
		goto out;
	if ((text = json_print(root)) == NULL)
		goto out;
	printf("%s\n", text);
	rc = 0;
out:
	cJSON_free(text);
	cJSON_Delete(root);
	return rc;
}

int
cmd_validate(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "file", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "argocd-annotations", no_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	const char *paths[VALIDATE_MAX_PATHS];
	bool argocd_annotations = false;
	size_t npaths = 0, total = 0;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf line = BUF_INIT;
	int c, json = 0, rc = CLI_FAILED, crc;

	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (npaths == VALIDATE_MAX_PATHS)
				return cli_usage_error("validate",
				                       "at most %d -f options",
				                       VALIDATE_MAX_PATHS);
			paths[npaths++] = optarg;
			break;
		case 'o':
			if (cli_output_parse("validate", optarg, &json) < 0)
				return CLI_USAGE;
			break;
		case 'h':
			fputs(validate_help, stdout);
			return CLI_OK;
		case 'A':
			argocd_annotations = true;
			break;
		default:
			return cli_usage_error("validate", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error(
		        "validate",
		        "unexpected argument '%s' (give paths with -f)",
		        argv[optind]);
	if (npaths == 0)
		return cli_usage_error(
		        "validate",
		        "no path given (use -f FILE or -f DIRECTORY)");
	if (config_new(&cfg) < 0 ||
	    config_argocd_annotations(cfg, argocd_annotations) < 0) {
		config_free(cfg);
		fprintf(stderr, "ferry validate: out of memory\n");
		return CLI_FAILED;
	}
	for (size_t i = 0; i < npaths; i++)
		if (config_add_path(cfg, paths[i], &err) < 0)
			goto fail;
	crc = config_check(cfg, &err);
	if (crc == -ERR_NOMEM)
		goto fail;
	for (int k = 0; k < CONFIG_KIND_COUNT; k++)
		total += config_count(cfg, (enum config_kind)k);
	if (json) {
		if (print_json(cfg, total, crc == 0) < 0) {
			fprintf(stderr, "ferry validate: out of memory\n");
			goto out;
		}
	} else if (crc == 0) {
		print_text(cfg, total);
	} else {
		for (size_t i = 0; i < config_diag_count(cfg); i++) {
			buf_reset(&line);
			if (config_diag_format(&line, config_diag_get(cfg, i)))
				fprintf(stderr, "%s\n", line.ptr);
		}
		if (config_diag_dropped(cfg))
			fprintf(stderr, "... and %zu more errors not shown\n",
			        config_diag_dropped(cfg));
		fprintf(stderr, "ferry validate: %s\n", err.msg);
	}
	rc = crc == 0 ? CLI_OK : CLI_USAGE;
	goto out;
fail:
	fprintf(stderr, "ferry validate: %s\n", err.msg);
out:
	buf_release(&line);
	config_free(cfg);
	return rc;
}
