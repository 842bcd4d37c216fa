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
#include <errno.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "config/loader.h"

static const char validate_help[] =
        "Usage: ferry validate -f PATH [-f PATH ...] [--exclude GLOB ...]\n"
        "                      [-n NAMESPACE] [--secrets-dir DIR]\n"
        "                      [--sops-age-key-file FILE] [-o text|json]\n"
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
        "  A Secret encrypted with SOPS is decrypted when an object refers to\n"
        "  it (age or PGP keys: the options below, or *.agekey and *.asc of the\n"
        "  Secret a Kustomization's spec.decryption.secretRef names); a Secret\n"
        "  that is not in the files is read from --secrets-dir.\n"
        "\n"
        "What is skipped:\n"
        "  Every other document (Deployment, other ConfigMaps, HelmRelease, a kustomize\n"
        "  kustomization.yaml, YAML without a kind) is skipped with one log line\n"
        "  (event=document_skipped), so you can point ferry at a whole GitOps repo.\n"
        "  YAML that is not objects (an Ansible playbook), a template that is not\n"
        "  YAML until rendered ('{{' and a syntax error), a Helm chart's\n"
        "  templates/ and what --exclude matches are skipped with one notice.\n"
        "  A document of one of ferry's kinds without apiVersion, or with a\n"
        "  misspelled one, is an error: it would otherwise not exist.\n"
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
        "Notices:\n"
        "  What ferry reads but does not act on (a field of Flux's API it\n"
        "  ignores, an API version Flux no longer serves) is listed on stdout as\n"
        "    notice: FILE:LINE:COL: KIND NAMESPACE/NAME: FIELD.PATH: why\n"
        "  Notices do not change the exit code.\n"
        "\n"
        "Options:\n" CLI_CONFIG_HELP
        "  -o, --output FORMAT   text (default) or json:\n"
        "                        {\"ok\":..,\"objects\":N,\"kinds\":{..},\"skipped\":[..],\n"
        "                         \"errors\":[{\"file\",\"line\",\"column\",\"path\",\"message\"}],\n"
        "                         \"notices\":[...the same keys]}\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 valid, 2 configuration errors (or bad arguments, or a PATH\n"
        "that does not exist), 1 ferry itself failed (out of memory).\n"
        "\n"
        "Example:\n"
        "  ferry validate -f clusters/production/ -f flux-system/secrets.yaml\n"
        "  ok: 5 objects (1 GitRepository, 1 ImageRepository, 1 ImagePolicy, ...)\n";

/* ---- the configuration options validate, run and plan share ---- */

int
cli_config_option(struct cli_config *cc, const char *cmd, int c,
                  const char *arg)
{
	switch (c) {
	case 'f':
		if (cc->npaths == CLI_MAX_PATHS)
			return cli_usage_error(cmd, "at most %d -f paths",
			                       CLI_MAX_PATHS),
			       -1;
		cc->paths[cc->npaths++] = arg;
		return 1;
	case CLI_OPT_EXCLUDE:
		if (cc->nexclude == CLI_MAX_PATHS)
			return cli_usage_error(cmd,
			                       "at most %d --exclude patterns",
			                       CLI_MAX_PATHS),
			       -1;
		if (*arg == '\0')
			return cli_usage_error(cmd,
			                       "--exclude needs a pattern"),
			       -1;
		cc->exclude[cc->nexclude++] = arg;
		return 1;
	case 'n':
		cc->opts.default_namespace = arg;
		return 1;
	case CLI_OPT_SECRETS_DIR:
		cc->opts.secrets_dir = arg;
		return 1;
	case CLI_OPT_ARGOCD_ANNOTATIONS:
		cc->opts.argocd_annotations = true;
		return 1;
	case CLI_OPT_AGE_KEY:
	case CLI_OPT_PGP_KEY:
		if ((c == CLI_OPT_AGE_KEY ? cc->nage_keys : cc->npgp_keys) ==
		    CLI_MAX_KEY_FILES)
			return cli_usage_error(cmd,
			                       "at most %d key files of a "
			                       "kind",
			                       CLI_MAX_KEY_FILES),
			       -1;
		if (c == CLI_OPT_AGE_KEY)
			cc->age_keys[cc->nage_keys++] = arg;
		else
			cc->pgp_keys[cc->npgp_keys++] = arg;
		return 1;
	default:
		return 0;
	}
}

/* Reads all of standard input (at most CONFIG_MAX_FILE_SIZE bytes). */
static int
read_stdin(struct buf *out, const char *cmd)
{
	char chunk[65536];

	for (;;) {
		ssize_t n = read(0, chunk, sizeof(chunk));

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			fprintf(stderr,
			        "ferry %s: reading standard input: %s\n", cmd,
			        strerror(errno));
			return CLI_FAILED;
		}
		if (n == 0)
			break;
		if (out->len + (size_t)n > CONFIG_MAX_FILE_SIZE) {
			fprintf(stderr,
			        "ferry %s: standard input is larger than %zu "
			        "bytes\n",
			        cmd, CONFIG_MAX_FILE_SIZE);
			return CLI_USAGE;
		}
		if (buf_add(out, chunk, (size_t)n) < 0) {
			fprintf(stderr, "ferry %s: out of memory\n", cmd);
			return CLI_FAILED;
		}
	}
	secret_wipe(chunk, sizeof(chunk));
	return CLI_OK;
}

int
cli_config_ready(struct cli_config *cc, const char *cmd)
{
	bool stdin_seen = false;
	int rc;

	if (cc->npaths == 0)
		return cli_usage_error(
		        cmd,
		        "no path given (use -f FILE, -f DIRECTORY or -f -)");
	for (size_t i = 0; i < cc->npaths; i++) {
		if (strcmp(cc->paths[i], "-") != 0)
			continue;
		if (stdin_seen)
			return cli_usage_error(
			        cmd, "-f - (standard input) given twice");
		stdin_seen = true;
		if ((rc = read_stdin(&cc->stdin_data, cmd)) != CLI_OK)
			return rc;
		/* "" marks "-" as given even when the input was empty */
		cc->opts.stdin_data = cc->stdin_data.ptr;
		cc->opts.stdin_len = cc->stdin_data.len;
	}
	cc->opts.exclude = cc->exclude;
	cc->opts.nexclude = cc->nexclude;
	/* sops' own variable, when no key file was given */
	if (cc->nage_keys == 0 && getenv("SOPS_AGE_KEY_FILE") &&
	    *getenv("SOPS_AGE_KEY_FILE"))
		cc->age_keys[cc->nage_keys++] = getenv("SOPS_AGE_KEY_FILE");
	cc->opts.sops_age_key_files = cc->age_keys;
	cc->opts.nsops_age_key_files = cc->nage_keys;
	cc->opts.sops_pgp_key_files = cc->pgp_keys;
	cc->opts.nsops_pgp_key_files = cc->npgp_keys;
	return CLI_OK;
}

int
cli_config_read(struct config **out, const struct cli_config *cc,
                const char *cmd)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	int rc;

	*out = NULL;
	if (config_new(&cfg) < 0) {
		fprintf(stderr, "ferry %s: out of memory\n", cmd);
		return CLI_FAILED;
	}
	if ((rc = config_set_options(cfg, &cc->opts, &err)) < 0) {
		config_free(cfg);
		if (rc == -ERR_INVALID)
			return cli_usage_error(cmd, "%s", err.msg);
		fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
		return CLI_FAILED;
	}
	for (size_t i = 0; i < cc->npaths; i++)
		if (config_add_path(cfg, cc->paths[i], &err) < 0) {
			fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
			config_free(cfg);
			return CLI_FAILED;
		}
	*out = cfg;
	return CLI_OK;
}

void
cli_config_release(struct cli_config *cc)
{
	if (cc->stdin_data.cap > 0)
		secret_wipe(cc->stdin_data.ptr, cc->stdin_data.len);
	buf_release(&cc->stdin_data);
	cc->opts.stdin_data = NULL;
	cc->opts.stdin_len = 0;
}

/* ---- ferry validate ---- */

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

/* "notice: FILE:LINE:COL: ..." on stdout, one per line. */
static void
print_notices(const struct config *cfg)
{
	struct buf line = BUF_INIT;

	for (size_t i = 0; i < config_notice_count(cfg); i++) {
		buf_reset(&line);
		if (config_diag_format(&line, config_notice_get(cfg, i)))
			printf("notice: %s\n", line.ptr);
	}
	buf_release(&line);
}

static int
add_diag_json(cJSON *arr, const struct config_diag *d)
{
	cJSON *o = cJSON_CreateObject();

	if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
	    !cJSON_AddStringToObject(o, "file", d->file) ||
	    !cJSON_AddNumberToObject(o, "line", d->line) ||
	    !cJSON_AddNumberToObject(o, "column", d->column) ||
	    !(d->object ? cJSON_AddStringToObject(o, "object", d->object)
	                : cJSON_AddNullToObject(o, "object")) ||
	    !cJSON_AddStringToObject(o, "path", d->path) ||
	    !cJSON_AddStringToObject(o, "message", d->message))
		return -1;
	return 0;
}

static int
print_json(const struct config *cfg, size_t total, bool ok)
{
	cJSON *root = cJSON_CreateObject(), *kinds, *skipped, *errors, *notices;
	char *text = NULL;
	int rc = -1;

	if (root == NULL)
		return -1;
	if (!cJSON_AddBoolToObject(root, "ok", ok) ||
	    !cJSON_AddNumberToObject(root, "objects", (double)total) ||
	    !(kinds = cJSON_AddObjectToObject(root, "kinds")) ||
	    !(skipped = cJSON_AddArrayToObject(root, "skipped")) ||
	    !(errors = cJSON_AddArrayToObject(root, "errors")) ||
	    !(notices = cJSON_AddArrayToObject(root, "notices")))
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
	for (size_t i = 0; i < config_diag_count(cfg); i++)
		if (add_diag_json(errors, config_diag_get(cfg, i)) < 0)
			goto out;
	for (size_t i = 0; i < config_notice_count(cfg); i++)
		if (add_diag_json(notices, config_notice_get(cfg, i)) < 0)
			goto out;
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
		CLI_CONFIG_LONGOPTS,
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct cli_config cc = CLI_CONFIG_INIT;
	size_t total = 0;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf line = BUF_INIT;
	int c, json = 0, rc = CLI_FAILED, crc;

	while ((c = getopt_long(argc, argv, CLI_CONFIG_SHORTOPTS "o:h", opts,
	                        NULL)) != -1) {
		int took = cli_config_option(&cc, "validate", c, optarg);

		if (took < 0)
			return CLI_USAGE;
		if (took > 0)
			continue;
		switch (c) {
		case 'o':
			if (cli_output_parse("validate", optarg, &json) < 0)
				return CLI_USAGE;
			break;
		case 'h':
			fputs(validate_help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("validate", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error(
		        "validate",
		        "unexpected argument '%s' (give paths with -f)",
		        argv[optind]);
	if ((rc = cli_config_ready(&cc, "validate")) != CLI_OK ||
	    (rc = cli_config_read(&cfg, &cc, "validate")) != CLI_OK)
		goto out;
	rc = CLI_FAILED;
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
		print_notices(cfg);
	} else {
		print_notices(cfg);
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
	cli_config_release(&cc);
	return rc;
}
