/*
 * cmd_run.c - `ferry run` (the daemon, core/daemon), `ferry run --once`
 * and `ferry plan`: one pass of the pipeline (core/pipeline) over the
 * objects in -f paths, pushing or only showing what would be pushed.
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
#include "base/util.h"
#include "daemon/daemon.h"
#include "fleet/etcd.h"
#include "config/argocd.h"
#include "config/loader.h"
#include "notify/notify.h"
#include "pipeline/pipeline.h"
#include "state/state.h"

/* Threads for the stages' fan-out: scans waiting on registries, file
 * writes waiting on fsync.  Neither needs a core each. */
#define RUN_THREADS 8

static const char run_help[] =
        "Usage: ferry run -f PATH [-f PATH ...] [--state-dir DIR] [OPTIONS]\n"
        "       ferry run --once -f PATH [-f PATH ...] [--state-dir DIR] [-o text|json]\n"
        "\n"
        "Runs ferry's pipeline over the Flux objects in PATH:\n"
        "  1. lists the tags of every ImageRepository from its registry;\n"
        "  2. picks every ImagePolicy's latest image (semver, alphabetical,\n"
        "     numerical, with filterTags);\n"
        "  3. for every ImageUpdateAutomation: syncs a cached clone of its\n"
        "     GitRepository to the remote head, edits the values marked with\n"
        "     {\"$imagepolicy\": \"NS:NAME\"} under update.path (or, with ferry's\n"
        "     update.strategy Kustomization, the images: of the kustomization\n"
        "     file there), commits with the rendered messageTemplate and pushes;\n"
        "  4. for every Argo CD Application an ImageUpdater selects: its images'\n"
        "     tags picked with Argo CD Image Updater's strategies and written back\n"
        "     as its git write-back does, one commit per Application\n"
        "     (--argocd-annotations also runs Applications that only have the\n"
        "     v0.x annotations, argocd-image-updater.argoproj.io/image-list);\n"
        "  5. for every Kustomization (after those it dependsOn): renders its\n"
        "     spec.path at its GitRepository's head and syncs the targets its\n"
        "     ferry.io/ annotations name (a directory, a command, notify URLs),\n"
        "     with hooks and a health check; see README, \"The built-in\n"
        "     reconciler\".\n"
        "Suspended objects are skipped.  Nothing is committed when nothing changed.\n"
        "A push rejected because the branch moved is retried on top of it.\n"
        "\n"
        "With --once, ferry does one pass and exits (for cron or CI), printing per\n"
        "object what it did.  Without it, ferry runs as a daemon:\n"
        "  - every object runs on its spec.interval (plus up to 5% jitter); a\n"
        "    scan that finds new tags runs the policies on that repository at\n"
        "    once, and a policy whose latest image changed runs the automations\n"
        "    that select it, so a new tag is pushed without waiting for an\n"
        "    interval; a push syncs the Kustomizations on that GitRepository\n"
        "    and branch at once;\n"
        "  - a failed run is retried after 5 s, doubling up to 5 min, and back on\n"
        "    the interval after a success; a lost push race is retried sooner;\n"
        "    a failed Kustomization after its retryInterval, doubling up to its\n"
        "    interval;\n"
        "  - registry webhooks arrive on --listen: a Flux Receiver at the path\n"
        "    Flux publishes (/hook/ + sha256 of token, name and namespace; its\n"
        "    type may be generic, generic-hmac, github, harbor, dockerhub, quay,\n"
        "    gcr, nexus, acr, cdevents, or ferry's 'distribution' for the CNCF\n"
        "    registry's own notifications), and Argo CD Image Updater's\n"
        "    /webhook?type=docker.io|ghcr.io|harbor|quay.io|aliyun-acr|acr|cloudevents.\n"
        "    A pushed tag is confirmed with one request and written back at once;\n"
        "    the full tag listing follows.  An Argo CD Application with the\n"
        "    pushed image (Argo's endpoint) runs at once, listing its tags;\n"
        "  - an Argo CD Application runs on the ConfigMap\n"
        "    argocd-image-updater-config's interval (default 2m);\n"
        "  - /metrics (Prometheus), /healthz and /readyz on the same listener,\n"
        "    and a status page at / (what runs, what changed when, what fails\n"
        "    and why, live); open and read-only unless --ui-token-file;\n"
        "  - 'ferry get', 'ferry reconcile', 'ferry suspend', 'ferry resume' and\n"
        "    'ferry events' talk to it through a Unix socket in the state\n"
        "    directory (mode 0600);\n"
        "  - SIGHUP reloads PATH (a broken configuration is refused and the old\n"
        "    one keeps running); SIGTERM or SIGINT lets the runs in flight finish,\n"
        "    a push included, and exits 0 within --shutdown-timeout.\n"
        "Status (latestRef, last push, conditions) is kept in the state directory,\n"
        "so a restart resumes where the daemon stopped.\n"
        "\n"
        "Options:\n"
        "  --once                one pass, then exit\n" CLI_CONFIG_HELP
        "  --state-dir DIR       tag lists, policy results, status and Git clones\n"
        "                        (default $XDG_STATE_HOME/ferry, /var/lib/ferry as root)\n"
        "  -o, --output FORMAT   with --once: text (default) or json\n"
        "  --kustomize-command CMD  builds a kustomization, the directory appended\n"
        "                        (default: 'kustomize build', else 'kubectl\n"
        "                        kustomize'; FERRY_KUSTOMIZE)\n"
        "Daemon options:\n"
        "  --listen HOST:PORT    webhooks, /metrics, /healthz, /readyz, the\n"
        "                        status page\n"
        "                        (default 127.0.0.1:9292; 'off' for none;\n"
        "                        FERRY_LISTEN)\n"
        "  --tls-cert FILE       serve HTTPS with this PEM certificate ...\n"
        "  --tls-key FILE        ... and this PEM key\n"
        "  --workers N           objects run at once (default 4)\n"
        "  --shutdown-timeout D  how long SIGTERM waits for runs in flight\n"
        "                        (Go duration, default 30s)\n"
        "  --retry-min D         first retry after a failure (default 5s)\n"
        "  --retry-max D         longest retry after failures (default 5m)\n"
        "  --control-socket PATH where 'ferry get' and friends connect\n"
        "                        (default STATE_DIR/ferry.sock)\n"
        "  --ui-token-file FILE  the status page wants this token (Bearer, or\n"
        "                        the password of HTTP Basic) and offers\n"
        "                        reconcile, suspend and resume buttons\n"
        "Fleet options (several daemons sharing the work through etcd):\n"
        "  --etcd-endpoints URLS comma-separated etcd client URLs\n"
        "                        (FERRY_ETCD_ENDPOINTS); without them the daemon\n"
        "                        runs alone and owns everything\n"
        "  --cluster-name NAME   the fleet's key prefix /ferry/NAME/ (default ferry)\n"
        "  --member-id ID        this member's name (default HOSTNAME-PID)\n"
        "  --lease-ttl D         how long a silent member keeps its work (default\n"
        "                        10s); failover takes about this long\n"
        "  --etcd-cacert FILE, --etcd-cert FILE, --etcd-key FILE   TLS, as etcdctl\n"
        "  --etcd-user USER[:PASSWORD]   etcd authentication (FERRY_ETCD_PASSWORD)\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 every object succeeded (--once) or a clean shutdown,\n"
        "1 some object failed (the others still ran) or the daemon could not\n"
        "start, 2 bad arguments or configuration.\n"
        "\n"
        "Examples:\n"
        "  ferry run --once -f clusters/production/\n"
        "  ImageUpdateAutomation flux-system/apps: pushed 3f2a9c1 to main (2 changes)\n"
        "\n"
        "  ferry run -f clusters/production/ --listen 0.0.0.0:9292\n"
        "  ferry get                            # from another terminal\n"
        "  ferry reconcile imageupdateautomation apps -n flux-system --with-source\n";

static const char plan_help[] =
        "Usage: ferry plan -f PATH [-f PATH ...] [--state-dir DIR] [-o text|json]\n"
        "\n"
        "Shows what `ferry run --once` would do, without committing or pushing:\n"
        "for every ImageUpdateAutomation and Argo CD Application, the images\n"
        "chosen (with their previous values), the unified diff of the files it\n"
        "would edit, and the rendered commit message.  Registries are scanned and\n"
        "the Git clone is fetched, so the plan is made against the current remote\n"
        "head.  Under each automation, \"  note: FILE:LINE: ...\" lines say what\n"
        "the edit left alone or did with a caveat: a setter marker naming no\n"
        "ImagePolicy of the automation, a digest emptied because its policy\n"
        "reflects none.\n"
        "\n"
        "Options:\n" CLI_CONFIG_HELP
        "  --state-dir DIR       as for ferry run\n"
        "  --kustomize-command CMD  as for ferry run\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "  -h, --help            show this help\n"
        "\n"
        "For every Kustomization it shows the targets a run would touch and\n"
        "what they would get at the current head: the files of a directory\n"
        "target to create, change or delete (and the drift there), the command,\n"
        "the notify URLs; nothing is written, no hook or command runs.  A\n"
        "Kustomization on a branch an automation would push to syncs again after\n"
        "that push; the plan says so.\n"
        "\n"
        "Exit codes: 0 planned, 1 some object failed, 2 bad arguments or\n"
        "configuration.\n";

/* Loads and checks the configuration; prints every problem.  CLI_* code. */
static int
load_config(const char *cmd, const struct cli_config *cc, struct config **out)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf line = BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = cli_config_read(&cfg, cc, cmd)) != CLI_OK)
		return rc;
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
	/* what is read but not acted on, or skipped: as validate lists it */
	for (size_t i = 0; i < config_notice_count(cfg); i++) {
		buf_reset(&line);
		if (config_diag_format(&line, config_notice_get(cfg, i)))
			fprintf(stderr, "notice: %s\n", line.ptr);
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

/* An Argo CD Application's line, its images and, planned, the diff. */
static void
print_app(const struct pipeline_app *a)
{
	char nn[600];

	if (!a->managed)
		return;
	ns_name(nn, sizeof(nn), a->obj);
	switch (a->status) {
	case PIPELINE_PUSHED:
		printf("Application %s: pushed %.12s to %s (%zu change%s)\n",
		       nn, a->commit, a->branch, a->changes.n,
		       a->changes.n == 1 ? "" : "s");
		break;
	case PIPELINE_PLANNED:
		printf("Application %s: would push %zu change%s to %s\n", nn,
		       a->changes.n, a->changes.n == 1 ? "" : "s", a->branch);
		break;
	case PIPELINE_FAILED:
		printf("Application %s: failed: %s\n", nn, a->err.msg);
		break;
	default:
		printf("Application %s: %s\n", nn,
		       pipeline_status_name(a->status));
		break;
	}
	for (size_t k = 0; k < a->nimages; k++) {
		const struct pipeline_app_image *pi = &a->images[k];

		if (pi->rc < 0 && a->status != PIPELINE_FAILED)
			printf("  image %s: failed: %s\n", pi->image,
			       pi->err.msg);
		else if (pi->changed)
			printf("  image %s%s%s: %s%s%s -> %s%s%s\n",
			       *pi->alias ? pi->alias : "",
			       *pi->alias ? "=" : "", pi->image,
			       pi->old_tag ? pi->old_tag : "",
			       pi->old_digest ? "@" : "",
			       pi->old_digest ? pi->old_digest : "", pi->tag,
			       pi->digest ? "@" : "",
			       pi->digest ? pi->digest : "");
	}
	if (a->status != PIPELINE_PLANNED)
		return;
	for (size_t k = 0; k < a->changes.n; k++) {
		const struct wb_change *c = &a->changes.v[k];

		printf("  %s:%u: %s %s -> %s\n", c->file, c->line, c->setter,
		       c->old_value, c->new_value);
	}
	printf("--- diff\n%s", a->diff ? a->diff : "");
	printf("--- commit message\n%s%s", a->message,
	       a->message && *a->message &&
	                       a->message[strlen(a->message) - 1] != '\n'
	               ? "\n"
	               : "");
}

/* What the editors left alone or set with a caveat, one "  note:" each. */
static void
print_notes(const char *notes)
{
	for (const char *p = notes; p && *p;) {
		size_t n = strcspn(p, "\n");

		printf("  note: %.*s\n", (int)n, p);
		p += n + (p[n] == '\n');
	}
}

/* msg without a leading "KIND NS/NAME: " that the line already shows. */
static const char *
unprefixed(const char *msg, const char *kind, const char *nn)
{
	size_t k = strlen(kind), n = strlen(nn);

	if (strncmp(msg, kind, k) == 0 && msg[k] == ' ' &&
	    strncmp(msg + k + 1, nn, n) == 0 && msg[k + 1 + n] == ':' &&
	    msg[k + 2 + n] == ' ')
		return msg + k + n + 3;
	return msg;
}

static void
print_names(const char *label, const struct pipeline_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		printf("  %s %s\n", label, l->v[i]);
}

/* An automation of the pass that would push to ks's source and branch. */
static const struct pipeline_automation *
pushes_to(const struct pipeline_report *r, const struct config *cfg,
          const struct config_object *ks)
{
	const struct config_object *g = config_source_gitrepository(cfg, ks);
	const char *branch = pipeline_sync_branch(cfg, ks);

	for (size_t i = 0; g && branch && i < r->nautomations; i++) {
		const struct pipeline_automation *a = &r->automations[i];
		if ((a->status == PIPELINE_PLANNED ||
		     a->status == PIPELINE_PUSHED) &&
		    a->branch && strcmp(a->branch, branch) == 0 &&
		    config_source_gitrepository(cfg, a->obj) == g)
			return a;
	}
	return NULL;
}

static void
print_sync(const struct config *cfg, const struct pipeline_report *r,
           const struct pipeline_sync *s, bool plan)
{
	const struct pipeline_automation *a;
	char nn[600], msg[2048];
	const char *rev = s->revision ? s->revision : "-";

	ns_name(nn, sizeof(nn), s->obj);
	switch (s->status) {
	case PIPELINE_SYNC_SUSPENDED:
		printf("Kustomization %s: suspended\n", nn);
		return;
	case PIPELINE_SYNC_UNMANAGED:
		printf("Kustomization %s: left to Flux (no ferry.io/ "
		       "annotations)\n",
		       nn);
		return;
	case PIPELINE_SYNC_FAILED:
		printf("Kustomization %s: %s failed: %s\n", nn,
		       s->phase ? s->phase : "sync", s->err.msg);
		return;
	case PIPELINE_SYNC_UP_TO_DATE:
		printf("Kustomization %s: %s at %s (%zu objects)\n", nn,
		       plan ? "targets up to date" : "up to date", rev,
		       s->objects);
		break;
	case PIPELINE_SYNC_PLANNED:
		printf("Kustomization %s: would sync %s (%zu objects)\n", nn,
		       rev, s->objects);
		print_names("create", &s->created);
		print_names("change", &s->configured);
		print_names("delete", &s->deleted);
		print_names("keep (prune: false)", &s->orphaned);
		print_names("restore (modified by hand)", &s->modified);
		print_names("remove (added by hand)", &s->added);
		print_names("restore (deleted by hand)", &s->removed);
		break;
	default:
		pipeline_sync_event(msg, sizeof(msg), s);
		printf("Kustomization %s: %s\n", nn,
		       msg[0] ? msg : pipeline_sync_status_name(s->status));
		break;
	}
	if (!plan)
		return;
	if (s->targets.n == 0)
		printf("  targets: none (renders and validates only)\n");
	for (size_t i = 0; i < s->targets.n; i++)
		printf("  target: %s%s\n", s->targets.v[i],
		       s->status == PIPELINE_SYNC_PLANNED ? ""
		                                          : " (untouched)");
	if ((a = pushes_to(r, cfg, s->obj)) != NULL)
		printf("  then again at the commit ImageUpdateAutomation %s/%s "
		       "would push to %s\n",
		       a->obj->metadata.namespace, a->obj->metadata.name,
		       a->branch);
}

static void
print_text(const struct config *cfg, const struct pipeline_report *r, bool plan)
{
	char nn[600];

	for (size_t i = 0; i < r->nrepos; i++) {
		const struct pipeline_repo *x = &r->repos[i];
		ns_name(nn, sizeof(nn), x->obj);
		if (x->suspended)
			printf("ImageRepository %s: suspended\n", nn);
		else if (x->rc < 0)
			printf("ImageRepository %s: scan failed: %s%s\n", nn,
			       unprefixed(x->err.msg, "ImageRepository", nn),
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
			printf("ImagePolicy %s: failed: %s\n", nn,
			       unprefixed(p->err.msg, "ImagePolicy", nn));
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
			       unprefixed(a->err.msg, "ImageUpdateAutomation",
			                  nn));
			break;
		default:
			printf("ImageUpdateAutomation %s: %s\n", nn,
			       pipeline_status_name(a->status));
			break;
		}
		print_notes(a->notes);
	}
	for (size_t i = 0; i < r->napps; i++)
		print_app(&r->apps[i]);
	for (size_t i = 0; i < r->nsyncs; i++)
		print_sync(cfg, r, &r->syncs[i], plan);
}

static void
add_obj(cJSON *o, const struct config_object *obj)
{
	cJSON_AddStringToObject(o, "namespace", obj->metadata.namespace);
	cJSON_AddStringToObject(o, "name", obj->metadata.name);
}

/* What a write-back did: its status, commit, branch, message and diff;
 * target only for an Application. */
static void
push_json(cJSON *o, enum pipeline_status status, const char *commit,
          const char *base, const char *branch, const char *target,
          const char *message, const char *diff)
{
	cJSON_AddStringToObject(o, "status", pipeline_status_name(status));
	if (status == PIPELINE_PUSHED)
		cJSON_AddStringToObject(o, "commit", commit);
	if (base[0])
		cJSON_AddStringToObject(o, "baseCommit", base);
	if (branch)
		cJSON_AddStringToObject(o, "branch", branch);
	if (target)
		cJSON_AddStringToObject(o, "target", target);
	if (message)
		cJSON_AddStringToObject(o, "message", message);
	if (diff)
		cJSON_AddStringToObject(o, "diff", diff);
}

/* The edits of a write-back; objects: with the object each is in. */
static void
changes_json(cJSON *o, const struct wb_changes *changes, bool objects)
{
	cJSON *ch = cJSON_AddArrayToObject(o, "changes");

	for (size_t k = 0; ch && k < changes->n; k++) {
		const struct wb_change *c = &changes->v[k];
		cJSON *co = cJSON_CreateObject();

		cJSON_AddStringToObject(co, "file", c->file);
		cJSON_AddNumberToObject(co, "line", c->line);
		if (objects) {
			cJSON_AddStringToObject(co, "kind", c->kind);
			cJSON_AddStringToObject(co, "objectNamespace",
			                        c->namespace_);
			cJSON_AddStringToObject(co, "objectName", c->name);
		}
		cJSON_AddStringToObject(co, "setter", c->setter);
		cJSON_AddStringToObject(co, "old", c->old_value);
		cJSON_AddStringToObject(co, "new", c->new_value);
		cJSON_AddItemToArray(ch, co);
	}
}

static cJSON *
app_json(const struct pipeline_app *a)
{
	cJSON *o = cJSON_CreateObject(), *imgs;

	if (o == NULL)
		return NULL;
	add_obj(o, a->obj);
	push_json(o, a->status, a->commit, a->base, a->branch, a->target,
	          a->message, a->diff);
	imgs = cJSON_AddArrayToObject(o, "images");
	for (size_t k = 0; imgs && k < a->nimages; k++) {
		const struct pipeline_app_image *pi = &a->images[k];
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "alias", pi->alias);
		cJSON_AddStringToObject(j, "image", pi->image);
		cJSON_AddStringToObject(j, "strategy", pi->strategy);
		if (pi->old_tag)
			cJSON_AddStringToObject(j, "previousTag", pi->old_tag);
		if (pi->old_digest)
			cJSON_AddStringToObject(j, "previousDigest",
			                        pi->old_digest);
		if (pi->tag)
			cJSON_AddStringToObject(j, "tag", pi->tag);
		if (pi->digest)
			cJSON_AddStringToObject(j, "digest", pi->digest);
		cJSON_AddBoolToObject(j, "changed", pi->changed);
		if (pi->rc < 0)
			cJSON_AddStringToObject(j, "error", pi->err.msg);
		cJSON_AddItemToArray(imgs, j);
	}
	changes_json(o, &a->changes, false);
	if (a->rc < 0)
		cJSON_AddStringToObject(o, "error", a->err.msg);
	return o;
}

static cJSON *
names_json(const struct pipeline_names *l)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
	return a;
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
		push_json(o, a->status, a->commit, a->base, a->branch, NULL,
		          a->message, a->diff);
		changes_json(o, &a->changes, true);
		ch = cJSON_AddArrayToObject(o, "notes");
		for (const char *p = a->notes; ch && p && *p;) {
			size_t n = strcspn(p, "\n");
			char *line = strndup(p, n);

			if (line)
				cJSON_AddItemToArray(ch,
				                     cJSON_CreateString(line));
			free(line);
			p += n + (p[n] == '\n');
		}
		if (a->rc < 0)
			cJSON_AddStringToObject(o, "error", a->err.msg);
		cJSON_AddItemToArray(arr, o);
	}
	arr = cJSON_AddArrayToObject(root, "applications");
	for (size_t i = 0; arr && i < r->napps; i++)
		if (r->apps[i].managed)
			cJSON_AddItemToArray(arr, app_json(&r->apps[i]));
	arr = cJSON_AddArrayToObject(root, "kustomizations");
	for (size_t i = 0; arr && i < r->nsyncs; i++) {
		const struct pipeline_sync *x = &r->syncs[i];
		cJSON *d;
		o = cJSON_CreateObject();
		add_obj(o, x->obj);
		cJSON_AddStringToObject(o, "status",
		                        pipeline_sync_status_name(x->status));
		if (x->revision)
			cJSON_AddStringToObject(o, "revision", x->revision);
		if (x->previous)
			cJSON_AddStringToObject(o, "previousRevision",
			                        x->previous);
		cJSON_AddNumberToObject(o, "objects", (double)x->objects);
		cJSON_AddItemToObject(o, "targets", names_json(&x->targets));
		cJSON_AddItemToObject(o, "created", names_json(&x->created));
		cJSON_AddItemToObject(o, "configured",
		                      names_json(&x->configured));
		cJSON_AddItemToObject(o, "deleted", names_json(&x->deleted));
		cJSON_AddItemToObject(o, "orphaned", names_json(&x->orphaned));
		d = cJSON_AddObjectToObject(o, "drift");
		cJSON_AddItemToObject(d, "modified", names_json(&x->modified));
		cJSON_AddItemToObject(d, "added", names_json(&x->added));
		cJSON_AddItemToObject(d, "removed", names_json(&x->removed));
		if (x->phase)
			cJSON_AddStringToObject(o, "phase", x->phase);
		if (x->rc < 0 || x->status == PIPELINE_SYNC_WAITING)
			cJSON_AddStringToObject(o, "error", x->err.msg);
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

/* How long `run --once` waits for its notifications before it exits. */
#define RUN_NOTIFY_WAIT_MS 30000

/*
 * The pass's events, as the daemon records them, to the Alerts that ask
 * for them: scans that failed, latest images that moved, pushes and push
 * failures, syncs and sync failures.  Sent before ferry exits.
 */
static void
notify_report(const struct config *cfg, const struct pipeline_report *r)
{
	struct notify_options no = NOTIFY_OPTIONS_INIT;
	struct notifier *n = NULL;
	struct err e = ERR_INIT;
	char msg[2048], rev[300];

	if (config_count(cfg, CONFIG_ALERT) == 0)
		return;
	if (notify_new(&n, &no, &e) < 0) {
		log_warn("notify", "start_failed", "err", e.msg);
		return;
	}
	for (size_t i = 0; i < r->nrepos; i++) {
		const struct pipeline_repo *x = &r->repos[i];
		struct notify_event ev = { 0 };
		if (x->rc >= 0 || x->suspended)
			continue;
		ev.kind = "ImageRepository";
		ev.api_version = x->obj->api_version;
		ev.namespace_ = x->obj->metadata.namespace;
		ev.name = x->obj->metadata.name;
		ev.labels = &x->obj->metadata.labels;
		ev.error = true;
		ev.reason = "ScanFailed";
		ev.message = x->err.msg;
		notify_event(n, cfg, &ev);
	}
	for (size_t i = 0; i < r->npolicies; i++) {
		const struct pipeline_policy *p = &r->policies[i];
		struct notify_event ev = { 0 };
		char *now = ref_str(p);
		if (p->rc < 0 || !p->changed || now == NULL) {
			free(now);
			continue;
		}
		snprintf(msg, sizeof(msg), "latest image %s%s%s%s", now,
		         p->previous ? " (was " : "",
		         p->previous ? p->previous : "",
		         p->previous ? ")" : "");
		ev.kind = "ImagePolicy";
		ev.api_version = p->obj->api_version;
		ev.namespace_ = p->obj->metadata.namespace;
		ev.name = p->obj->metadata.name;
		ev.labels = &p->obj->metadata.labels;
		ev.reason = "LatestImageChanged";
		ev.message = msg;
		notify_event(n, cfg, &ev);
		free(now);
	}
	for (size_t i = 0; i < r->nautomations; i++) {
		const struct pipeline_automation *a = &r->automations[i];
		const char *meta[] = { "commit", a->commit, "revision", rev,
			               NULL };
		struct notify_event ev = { 0 };
		if (a->status != PIPELINE_PUSHED &&
		    a->status != PIPELINE_FAILED)
			continue;
		ev.kind = "ImageUpdateAutomation";
		ev.api_version = a->obj->api_version;
		ev.namespace_ = a->obj->metadata.namespace;
		ev.name = a->obj->metadata.name;
		ev.labels = &a->obj->metadata.labels;
		if (a->status == PIPELINE_PUSHED) {
			snprintf(rev, sizeof(rev), "%s@sha1:%s",
			         a->branch ? a->branch : "", a->commit);
			snprintf(msg, sizeof(msg),
			         "pushed %.12s to %s (%zu change%s): %s",
			         a->commit, a->branch ? a->branch : "",
			         a->changes.n, a->changes.n == 1 ? "" : "s",
			         a->message ? a->message : "");
			ev.reason = "Pushed";
			ev.message = msg;
			ev.metadata = meta;
		} else {
			ev.error = true;
			ev.reason = "AutomationFailed";
			ev.message = a->err.msg;
		}
		notify_event(n, cfg, &ev);
	}
	for (size_t i = 0; i < r->nsyncs; i++) {
		const struct pipeline_sync *s = &r->syncs[i];
		const char *meta[] = { "revision", s->revision, NULL };
		struct notify_event ev = { 0 };
		if ((ev.reason = pipeline_sync_event(msg, sizeof(msg), s)) ==
		    NULL)
			continue;
		ev.kind = "Kustomization";
		ev.api_version = s->obj->api_version;
		ev.namespace_ = s->obj->metadata.namespace;
		ev.name = s->obj->metadata.name;
		ev.labels = &s->obj->metadata.labels;
		ev.error = s->status == PIPELINE_SYNC_FAILED;
		ev.message = msg;
		ev.metadata = s->revision ? meta : NULL;
		notify_event(n, cfg, &ev);
	}
	notify_flush(n, RUN_NOTIFY_WAIT_MS);
	notify_free(n, 0);
}

/* --workers, --shutdown-timeout, --retry-min, --retry-max. */
static int
daemon_option(const char *cmd, int c, const char *arg, struct daemon_options *o)
{
	struct err e = ERR_INIT;
	long long n = 0;
	int64_t ns = 0;

	if (c == 'W') {
		if (parse_long(arg, strlen(arg), 1, DAEMON_MAX_WORKERS, &n,
		               "--workers", &e) < 0)
			return cli_usage_error(cmd, "%s", e.msg), -1;
		o->workers = (int)n;
		return 0;
	}
	if (parse_duration(arg, strlen(arg), &ns, &e) < 0 || ns <= 0)
		return cli_usage_error(
		               cmd,
		               "%s: give a positive Go duration such as "
		               "30s or 5m",
		               arg),
		       -1;
	if (c == 'l') {
		if (ns < 1000000000LL)
			return cli_usage_error(cmd, "--lease-ttl: at least 1s"),
			       -1;
		o->lease_ttl = ns / 1000000000LL;
	} else if (c == 'T')
		o->shutdown_timeout_ms = ns / 1000000;
	else if (c == 'r')
		o->backoff_min_ms = ns / 1000000;
	else
		o->backoff_max_ms = ns / 1000000;
	return 0;
}

/*
 * --etcd-endpoints (or FERRY_ETCD_ENDPOINTS) split at commas into eps,
 * and --etcd-user NAME[:PASSWORD] (FERRY_ETCD_PASSWORD) split, into the
 * daemon's options.  The strings live in the caller's buffers.
 */
static int
etcd_fleet(const char *cmd, const char *arg, struct daemon_options *o,
           const char **eps, char *buf, size_t bufsz, char *ubuf, size_t ubufsz)
{
	const char *env = getenv("FERRY_ETCD_ENDPOINTS");
	size_t n = 0;
	char *p, *save = NULL;

	if (arg == NULL && env && *env)
		arg = env;
	if (o->etcd_user) {
		char *colon;
		if (snprintf(ubuf, ubufsz, "%s", o->etcd_user) >= (int)ubufsz)
			return cli_usage_error(cmd, "--etcd-user is too long"),
			       -1;
		if ((colon = strchr(ubuf, ':')) != NULL) {
			*colon = '\0';
			o->etcd_password = colon + 1;
		} else {
			o->etcd_password = getenv("FERRY_ETCD_PASSWORD");
		}
		o->etcd_user = ubuf;
	}
	if (arg == NULL) {
		if (o->cluster || o->member_id || o->lease_ttl || o->etcd_user)
			return cli_usage_error(cmd, "the fleet options need "
			                            "--etcd-endpoints"),
			       -1;
		return 0;
	}
	if (snprintf(buf, bufsz, "%s", arg) >= (int)bufsz)
		return cli_usage_error(cmd, "--etcd-endpoints is too long"), -1;
	for (p = strtok_r(buf, ",", &save); p; p = strtok_r(NULL, ",", &save)) {
		if (n == ETCD_MAX_ENDPOINTS)
			return cli_usage_error(cmd, "at most %d etcd endpoints",
			                       ETCD_MAX_ENDPOINTS),
			       -1;
		eps[n++] = p;
	}
	if (n == 0)
		return cli_usage_error(cmd, "--etcd-endpoints: give URLs such "
		                            "as http://127.0.0.1:2379"),
		       -1;
	o->etcd_endpoints = eps;
	o->netcd_endpoints = n;
	return 0;
}

/* ferry run without --once. */
static int
run_daemon(const struct cli_config *cc, const char *state_arg,
           struct daemon_options *o)
{
	struct buf sdir = BUF_INIT;
	struct err err = ERR_INIT;
	const char *env = getenv("FERRY_LISTEN");
	int rc;

	if (o->listen == NULL && env && *env)
		o->listen = env;
	if (state_arg)
		buf_puts(&sdir, state_arg);
	else
		state_default_dir(&sdir);
	if (!buf_ok(&sdir)) {
		fprintf(stderr, "ferry run: out of memory\n");
		return CLI_FAILED;
	}
	o->paths = cc->paths;
	o->npaths = cc->npaths;
	o->config = &cc->opts;
	o->state_dir = sdir.ptr;
	rc = daemon_run(o, &err);
	buf_release(&sdir);
	if (rc == 0)
		return CLI_OK;
	fprintf(stderr, "ferry run: %s\n", err.msg);
	return rc == -ERR_INVALID ? CLI_USAGE : CLI_FAILED;
}

static int
run_or_plan(int argc, char **argv, bool plan)
{
	static const struct option opts[] = {
		CLI_CONFIG_LONGOPTS,
		{ "once", no_argument, NULL, 'O' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ "listen", required_argument, NULL, 'L' },
		{ "tls-cert", required_argument, NULL, 'C' },
		{ "tls-key", required_argument, NULL, 'K' },
		{ "workers", required_argument, NULL, 'W' },
		{ "shutdown-timeout", required_argument, NULL, 'T' },
		{ "retry-min", required_argument, NULL, 'r' },
		{ "retry-max", required_argument, NULL, 'R' },
		{ "control-socket", required_argument, NULL, 'U' },
		{ "etcd-endpoints", required_argument, NULL, 'E' },
		{ "cluster-name", required_argument, NULL, 'N' },
		{ "member-id", required_argument, NULL, 'M' },
		{ "lease-ttl", required_argument, NULL, 'l' },
		{ "etcd-cacert", required_argument, NULL, 'a' },
		{ "etcd-cert", required_argument, NULL, 'c' },
		{ "etcd-key", required_argument, NULL, 'k' },
		{ "etcd-user", required_argument, NULL, 'u' },
		{ "ui-token-file", required_argument, NULL, 'G' },
		{ "kustomize-command", required_argument, NULL, 'Z' },
		{ NULL, 0, NULL, 0 },
	};
	const char *cmd = plan ? "plan" : "run";
	struct cli_config cc = CLI_CONFIG_INIT;
	const char *state_arg = NULL;
	struct buf sdir = BUF_INIT;
	struct config *cfg = NULL;
	struct state *st = NULL;
	struct pipeline_report rep = PIPELINE_REPORT_INIT;
	struct pipeline_ctx ctx = PIPELINE_CTX_INIT;
	struct registry_client *registry = NULL;
	struct pool *pool = NULL;
	struct err err = ERR_INIT;
	struct daemon_options dopts = DAEMON_OPTIONS_INIT;
	const char *etcd_arg = NULL, *endpoints[ETCD_MAX_ENDPOINTS];
	char ep_buf[4096], user_buf[512];
	bool daemon_opt = false;
	const char *kustomize = NULL;
	int c, json = 0, once = 0, rc;

	while ((c = getopt_long(argc, argv, CLI_CONFIG_SHORTOPTS "o:h", opts,
	                        NULL)) != -1) {
		int took = cli_config_option(&cc, cmd, c, optarg);

		if (took < 0)
			return CLI_USAGE;
		if (took > 0)
			continue;
		switch (c) {
		case 'O':
			once = 1;
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
		case 'L':
			dopts.listen = optarg;
			daemon_opt = true;
			break;
		case 'C':
			dopts.tls_cert = optarg;
			daemon_opt = true;
			break;
		case 'K':
			dopts.tls_key = optarg;
			daemon_opt = true;
			break;
		case 'U':
			dopts.control_socket = optarg;
			daemon_opt = true;
			break;
		case 'E':
			etcd_arg = optarg;
			daemon_opt = true;
			break;
		case 'N':
			dopts.cluster = optarg;
			daemon_opt = true;
			break;
		case 'M':
			dopts.member_id = optarg;
			daemon_opt = true;
			break;
		case 'a':
			dopts.etcd_cacert = optarg;
			daemon_opt = true;
			break;
		case 'c':
			dopts.etcd_cert = optarg;
			daemon_opt = true;
			break;
		case 'k':
			dopts.etcd_key = optarg;
			daemon_opt = true;
			break;
		case 'u':
			dopts.etcd_user = optarg;
			daemon_opt = true;
			break;
		case 'G':
			dopts.ui_token_file = optarg;
			daemon_opt = true;
			break;
		case 'Z':
			kustomize = optarg;
			break;
		case 'W':
		case 'T':
		case 'r':
		case 'R':
		case 'l':
			if (daemon_option(cmd, c, optarg, &dopts) < 0)
				return CLI_USAGE;
			daemon_opt = true;
			break;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		                       argv[optind]);
	if (plan && once)
		return cli_usage_error(cmd, "--once belongs to 'ferry run'");
	if (cc.npaths == 0)
		return cli_usage_error(
		        cmd,
		        "no configuration: give -f PATH (a file or directory of Flux objects)");
	if (daemon_opt && (plan || once))
		return cli_usage_error(
		        cmd, "--listen, --workers and the other daemon "
		             "options belong to 'ferry run' without "
		             "--once");
	if (!plan && !once && json)
		return cli_usage_error(cmd, "-o belongs to --once");
	if ((rc = cli_config_ready(&cc, cmd)) != CLI_OK)
		goto out;
	if (kustomize == NULL && getenv("FERRY_KUSTOMIZE") &&
	    *getenv("FERRY_KUSTOMIZE"))
		kustomize = getenv("FERRY_KUSTOMIZE");
	if (!plan && !once) {
		dopts.kustomize = kustomize;
		if (etcd_fleet(cmd, etcd_arg, &dopts, endpoints, ep_buf,
		               sizeof(ep_buf), user_buf,
		               sizeof(user_buf)) < 0) {
			rc = CLI_USAGE;
			goto out;
		}
		rc = run_daemon(&cc, state_arg, &dopts);
		goto out;
	}
	if ((rc = load_config(cmd, &cc, &cfg)) != CLI_OK)
		goto out;
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
	ctx.kustomize = kustomize;
	rc = pipeline_run(&rep, &ctx, &err);
	if (rc == -ERR_NOMEM) {
		fprintf(stderr, "ferry %s: %s\n", cmd, err.msg);
		rc = CLI_FAILED;
		goto out;
	}
	if (!plan)
		notify_report(cfg, &rep);
	if (json)
		print_json(&rep);
	else
		print_text(cfg, &rep, plan);
	rc = rc < 0 ? CLI_FAILED : CLI_OK;
out:
	pipeline_report_release(&rep);
	pool_free(pool);
	registry_client_free(registry);
	state_free(st);
	config_free(cfg);
	buf_release(&sdir);
	cli_config_release(&cc);
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
