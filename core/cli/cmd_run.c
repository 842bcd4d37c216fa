/*
 * cmd_run.c - `ferry run --once` and `ferry plan`: one pass of the pipeline
 * (core/pipeline) over the objects in -f paths, pushing or only showing
 * what would be pushed.  The daemon (scheduled polling, webhooks) will
 * reuse the same pipeline stages; until it lands, `run` needs --once.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/pool.h"
#include "config/loader.h"
#include "pipeline/pipeline.h"
#include "state/state.h"

#define RUN_MAX_PATHS 256
/* Threads for the stages' fan-out: scans waiting on registries, file
 * writes waiting on fsync.  Neither needs a core each. */
#define RUN_THREADS 8

static const char run_help[] =
        "Usage: ferry run --once -f PATH [-f PATH ...] [--state-dir DIR] [-o text|json]\n"
        "\n"
        "Does one full pass of ferry's pipeline over the Flux objects in PATH:\n"
        "  1. lists the tags of every ImageRepository from its registry;\n"
        "  2. picks every ImagePolicy's latest image (semver, alphabetical,\n"
        "     numerical, with filterTags);\n"
        "  3. for every ImageUpdateAutomation: syncs a cached clone of its\n"
        "     GitRepository to the remote head, edits the values marked with\n"
        "     {\"$imagepolicy\": \"NS:NAME\"} under update.path (or, with ferry's\n"
        "     update.strategy Kustomization, the images: of the kustomization\n"
        "     file there), commits with the rendered messageTemplate and pushes.\n"
        "Suspended objects are skipped.  Nothing is committed when nothing changed.\n"
        "A push rejected because the branch moved is retried on top of it.\n"
        "\n"
        "Options:\n"
        "  --once                one pass, then exit (required for now)\n"
        "  -f, --file PATH       a file or directory of objects (repeatable)\n"
        "  --state-dir DIR       tag lists, policy results and Git clones\n"
        "                        (default $XDG_STATE_HOME/ferry, /var/lib/ferry as root)\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 every object succeeded, 1 some object failed (the others\n"
        "still ran), 2 bad arguments or configuration.\n"
        "\n"
        "Example:\n"
        "  ferry run --once -f clusters/production/\n"
        "  ImageUpdateAutomation flux-system/apps: pushed 3f2a9c1 to main (2 changes)\n";

static const char plan_help[] =
        "Usage: ferry plan -f PATH [-f PATH ...] [--state-dir DIR] [-o text|json]\n"
        "\n"
        "Shows what `ferry run --once` would do, without committing or pushing:\n"
        "for every ImageUpdateAutomation, the images chosen (with their previous\n"
        "values), the unified diff of the files it would edit, and the rendered\n"
        "commit message.  Registries are scanned and the Git clone is fetched, so\n"
        "the plan is made against the current remote head.\n"
        "\n"
        "Options:\n"
        "  -f, --file PATH       a file or directory of objects (repeatable)\n"
        "  --state-dir DIR       as for ferry run\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 planned, 1 some object failed, 2 bad arguments or\n"
        "configuration.\n";

/* Loads and checks the configuration; prints every problem.  CLI_* code. */
static int
load_config(const char *cmd, char **paths, size_t n, struct config **out)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf line = BUF_INIT;

	*out = NULL;
	if (config_new(&cfg) < 0) {
		fprintf(stderr, "ferry %s: out of memory\n", cmd);
		return CLI_FAILED;
	}
	for (size_t i = 0; i < n; i++) {
		if (config_add_path(cfg, paths[i], &err) < 0) {
			fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
			config_free(cfg);
			return CLI_FAILED;
		}
	}
	if (config_check(cfg, &err) < 0) {
		for (size_t i = 0; i < config_diag_count(cfg); i++) {
			buf_reset(&line);
			config_diag_format(&line, config_diag_get(cfg, i));
			fprintf(stderr, "%s\n", line.ptr);
		}
		fprintf(stderr,
		        "ferry %s: the configuration has errors (see 'ferry validate')\n",
		        cmd);
		buf_release(&line);
		config_free(cfg);
		return CLI_USAGE;
	}
	buf_release(&line);
	*out = cfg;
	return CLI_OK;
}

static const char *
ns_name(char *out, size_t sz, const struct config_object *o)
{
	snprintf(out, sz, "%s/%s", o->metadata.namespace, o->metadata.name);
	return out;
}

static char *
ref_str(const struct pipeline_policy *p)
{
	struct buf b = BUF_INIT;

	if (p->tag == NULL)
		return NULL;
	buf_addf(&b, "%s:%s", p->image, p->tag);
	if (p->digest)
		buf_addf(&b, "@%s", p->digest);
	return buf_detach(&b);
}

static void
print_text(const struct pipeline_report *r, bool plan)
{
	char nn[600];

	for (size_t i = 0; i < r->nrepos; i++) {
		const struct pipeline_repo *x = &r->repos[i];
		ns_name(nn, sizeof(nn), x->obj);
		if (x->suspended)
			printf("ImageRepository %s: suspended\n", nn);
		else if (x->rc < 0)
			printf("ImageRepository %s: scan failed: %s%s\n", nn,
			       x->err.msg,
			       x->ntags ? " (kept the last good tag list)"
			                : "");
		else
			printf("ImageRepository %s: %zu tags\n", nn, x->ntags);
	}
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct pipeline_policy *p = &r->policies[i];
		char *now = ref_str(p);
		ns_name(nn, sizeof(nn), p->obj);
		if (p->suspended)
			printf("ImagePolicy %s: suspended\n", nn);
		else if (p->rc < 0)
			printf("ImagePolicy %s: failed: %s\n", nn, p->err.msg);
		else if (p->previous && now && strcmp(p->previous, now) != 0)
			printf("ImagePolicy %s: %s (was %s)\n", nn, now,
			       p->previous);
		else
			printf("ImagePolicy %s: %s\n", nn, now ? now : "-");
		free(now);
	}
	for (size_t i = 0; i < r->nautomations; i++) {
		const struct pipeline_automation *a = &r->automations[i];
		ns_name(nn, sizeof(nn), a->obj);
		switch (a->status) {
		case PIPELINE_PUSHED:
			printf("ImageUpdateAutomation %s: pushed %.12s to %s (%zu change%s)\n",
			       nn, a->commit, a->branch, a->changes.n,
			       a->changes.n == 1 ? "" : "s");
			break;
		case PIPELINE_PLANNED:
			printf("ImageUpdateAutomation %s: would push %zu change%s to %s\n",
			       nn, a->changes.n, a->changes.n == 1 ? "" : "s",
			       a->branch);
			for (size_t k = 0; k < a->changes.n; k++) {
				const struct wb_change *c = &a->changes.v[k];
				printf("  %s:%u: %s %s -> %s\n", c->file,
				       c->line, c->setter, c->old_value,
				       c->new_value);
			}
			printf("--- diff\n%s", a->diff ? a->diff : "");
			printf("--- commit message\n%s%s", a->message,
			       a->message && *a->message &&
			                       a->message[strlen(a->message) -
			                                  1] != '\n'
			               ? "\n"
			               : "");
			break;
		case PIPELINE_FAILED:
			printf("ImageUpdateAutomation %s: failed: %s\n", nn,
			       a->err.msg);
			break;
		default:
			printf("ImageUpdateAutomation %s: %s\n", nn,
			       pipeline_status_name(a->status));
			break;
		}
	}
	(void)plan;
}

static void
add_obj(cJSON *o, const struct config_object *obj)
{
	cJSON_AddStringToObject(o, "namespace", obj->metadata.namespace);
	cJSON_AddStringToObject(o, "name", obj->metadata.name);
}

static int
print_json(const struct pipeline_report *r)
{
	cJSON *root = cJSON_CreateObject(), *arr, *o, *ch;
	char *text;

	arr = cJSON_AddArrayToObject(root, "imageRepositories");
	for (size_t i = 0; arr && i < r->nrepos; i++) {
		const struct pipeline_repo *x = &r->repos[i];
		o = cJSON_CreateObject();
		add_obj(o, x->obj);
		cJSON_AddStringToObject(o, "image",
		                        x->obj->u.imagerepository.image);
		cJSON_AddBoolToObject(o, "suspended", x->suspended);
		cJSON_AddBoolToObject(o, "scanned", x->scanned);
		cJSON_AddNumberToObject(o, "tagCount", (double)x->ntags);
		if (x->rc < 0)
			cJSON_AddStringToObject(o, "error", x->err.msg);
		cJSON_AddItemToArray(arr, o);
	}
	arr = cJSON_AddArrayToObject(root, "imagePolicies");
	for (size_t i = 0; arr && i < r->npolicies; i++) {
		const struct pipeline_policy *p = &r->policies[i];
		char *now = ref_str(p);
		o = cJSON_CreateObject();
		add_obj(o, p->obj);
		cJSON_AddBoolToObject(o, "suspended", p->suspended);
		if (now)
			cJSON_AddStringToObject(o, "latestRef", now);
		if (p->tag)
			cJSON_AddStringToObject(o, "tag", p->tag);
		if (p->digest)
			cJSON_AddStringToObject(o, "digest", p->digest);
		if (p->previous)
			cJSON_AddStringToObject(o, "previousRef", p->previous);
		if (p->rc < 0)
			cJSON_AddStringToObject(o, "error", p->err.msg);
		cJSON_AddItemToArray(arr, o);
		free(now);
	}
	arr = cJSON_AddArrayToObject(root, "imageUpdateAutomations");
	for (size_t i = 0; arr && i < r->nautomations; i++) {
		const struct pipeline_automation *a = &r->automations[i];
		o = cJSON_CreateObject();
		add_obj(o, a->obj);
		cJSON_AddStringToObject(o, "status",
		                        pipeline_status_name(a->status));
		if (a->status == PIPELINE_PUSHED)
			cJSON_AddStringToObject(o, "commit", a->commit);
		if (a->base[0])
			cJSON_AddStringToObject(o, "baseCommit", a->base);
		if (a->branch)
			cJSON_AddStringToObject(o, "branch", a->branch);
		if (a->message)
			cJSON_AddStringToObject(o, "message", a->message);
		if (a->diff)
			cJSON_AddStringToObject(o, "diff", a->diff);
		ch = cJSON_AddArrayToObject(o, "changes");
		for (size_t k = 0; ch && k < a->changes.n; k++) {
			const struct wb_change *c = &a->changes.v[k];
			cJSON *co = cJSON_CreateObject();
			cJSON_AddStringToObject(co, "file", c->file);
			cJSON_AddNumberToObject(co, "line", c->line);
			cJSON_AddStringToObject(co, "kind", c->kind);
			cJSON_AddStringToObject(co, "objectNamespace",
			                        c->namespace_);
			cJSON_AddStringToObject(co, "objectName", c->name);
			cJSON_AddStringToObject(co, "setter", c->setter);
			cJSON_AddStringToObject(co, "old", c->old_value);
			cJSON_AddStringToObject(co, "new", c->new_value);
			cJSON_AddItemToArray(ch, co);
		}
		if (a->rc < 0)
			cJSON_AddStringToObject(o, "error", a->err.msg);
		cJSON_AddItemToArray(arr, o);
	}
	text = cJSON_Print(root);
	cJSON_Delete(root);
	if (text == NULL)
		return -1;
	printf("%s\n", text);
	cJSON_free(text);
	return 0;
}

static int
run_or_plan(int argc, char **argv, bool plan)
{
	static const struct option opts[] = {
		{ "once", no_argument, NULL, 'O' },
		{ "file", required_argument, NULL, 'f' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = plan ? "plan" : "run";
	char *paths[RUN_MAX_PATHS];
	size_t npaths = 0;
	const char *state_arg = NULL;
	struct buf sdir = BUF_INIT;
	struct config *cfg = NULL;
	struct state *st = NULL;
	struct pipeline_report rep = PIPELINE_REPORT_INIT;
	struct pipeline_ctx ctx = PIPELINE_CTX_INIT;
	struct registry_client *registry = NULL;
	struct pool *pool = NULL;
	struct err err = ERR_INIT;
	int c, json = 0, once = 0, rc;

	while ((c = getopt_long(argc, argv, "f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'O':
			once = 1;
			break;
		case 'f':
			if (npaths == RUN_MAX_PATHS)
				return cli_usage_error(cmd,
				                       "at most %d -f paths",
				                       RUN_MAX_PATHS);
			paths[npaths++] = optarg;
			break;
		case 'S':
			state_arg = optarg;
			break;
		case 'o':
			if (cli_output_parse(cmd, optarg, &json) < 0)
				return CLI_USAGE;
			break;
		case 'h':
			fputs(plan ? plan_help : run_help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		                       argv[optind]);
	if (!plan && !once)
		return cli_usage_error(
		        cmd,
		        "give --once: ferry run does one pass and exits (the scheduling daemon is not part of this version)");
	if (plan && once)
		return cli_usage_error(cmd, "--once belongs to 'ferry run'");
	if (npaths == 0)
		return cli_usage_error(
		        cmd,
		        "no configuration: give -f PATH (a file or directory of Flux objects)");
	if ((rc = load_config(cmd, paths, npaths, &cfg)) != CLI_OK)
		return rc;
	if (state_arg)
		buf_puts(&sdir, state_arg);
	else
		state_default_dir(&sdir);
	if (!buf_ok(&sdir) || state_open(&st, sdir.ptr, &err) < 0) {
		fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	if (registry_client_new(&registry, NULL, &err) < 0 ||
	    pool_new(&pool, RUN_THREADS, &err) < 0) {
		fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	ctx.cfg = cfg;
	ctx.st = st;
	ctx.registry = registry;
	ctx.pool = pool;
	ctx.dry_run = plan;
	rc = pipeline_run(&rep, &ctx, &err);
	if (rc == -ERR_NOMEM) {
		fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	if (json)
		print_json(&rep);
	else
		print_text(&rep, plan);
	rc = rc < 0 ? CLI_FAILED : CLI_OK;
out:
	pipeline_report_release(&rep);
	pool_free(pool);
	registry_client_free(registry);
	state_free(st);
	config_free(cfg);
	buf_release(&sdir);
	return rc;
}

int
cmd_run(int argc, char **argv)
{
	return run_or_plan(argc, argv, false);
}

int
cmd_plan(int argc, char **argv)
{
	return run_or_plan(argc, argv, true);
}
