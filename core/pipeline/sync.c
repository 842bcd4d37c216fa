/*
 * sync.c - the Kustomization stage, ferry's built-in reconciler: one
 * Kustomization (kustomize.toolkit.fluxcd.io/v1) synced to the targets
 * its ferry.io/ annotations name.
 *
 * A run fetches the GitRepository's ref in the clone the automations
 * share, checks dependsOn, renders spec.path at that commit (holding the
 * clone's lock only that long), substitutes postBuild variables, and
 * compares what it got with what the targets hold: the digest of the last
 * sync, and for a directory target the files themselves (drift).  When
 * they differ, or the last run failed, or `ferry reconcile` asks, it
 * syncs: pre-sync hook, the target (a directory, or a command fed the
 * manifests on stdin), the notify URLs, the health check when wait is
 * true, the post-sync hook.  A failure runs the sync-fail hook and leaves
 * the last good state in place (a directory is swapped only when its new
 * set is complete; status keeps lastAppliedRevision).
 *
 * It never sleeps: a dependency that is not ready, or a health check that
 * has not passed yet, comes back as WAITING with retry_after_ms, and the
 * caller runs the stage again (attempt + 1).  What ferry cannot do with a
 * Flux field (targetNamespace, images, patches, ... which need the
 * cluster-side controller) is refused with Stalled, never ignored.
 */
#include "pipeline_int.h"

#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/log.h"
#include "notify/notify.h"
#include "reconcile/reconcile.h"

#define MOD "sync"
#define ANN "ferry.io/"
#define KIND "Kustomization"

/* ---- the annotations ---- */

struct hook_url {
	const char *url;
	const char *suffix;
	enum notify_hook_kind kind;
	const struct secret *token;
};

enum target { TARGET_NONE, TARGET_DIRECTORY, TARGET_COMMAND };

struct settings {
	enum target target;
	const char *directory;
	const char *apply_command;
	const char *pre_sync, *post_sync, *sync_fail;
	const char *health;
	struct hook_url *urls;
	size_t nurls;
};

static const char *const known_keys[] = {
	"target",    "apply-command",  "pre-sync", "post-sync",
	"sync-fail", "health-command", NULL,
};

/* key is ferry.io/<base><suffix> with suffix "" or "-..." or ".…". */
static const char *
suffix_of(const char *key, const char *base)
{
	size_t n = strlen(base);

	if (strncmp(key, base, n) != 0)
		return NULL;
	if (key[n] == '\0' || key[n] == '-' || key[n] == '.')
		return key + n;
	return NULL;
}

static int
settings_parse(struct settings *s, const struct config *cfg,
               const struct config_object *o, struct err *err)
{
	const struct config_strmap *a = &o->metadata.annotations;

	memset(s, 0, sizeof(*s));
	s->urls = calloc(a->n + 1, sizeof(*s->urls));
	if (s->urls == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < a->n; i++) {
		const char *k = a->keys[i], *v = a->values[i], *sfx;
		bool known = false;

		if (strncmp(k, ANN, strlen(ANN)) != 0)
			continue;
		k += strlen(ANN);
		for (size_t j = 0; known_keys[j]; j++)
			known |= strcmp(k, known_keys[j]) == 0;
		if ((sfx = suffix_of(k, "notify-url")) != NULL) {
			s->urls[s->nurls].url = v;
			s->urls[s->nurls].suffix = sfx;
			s->nurls++;
			continue;
		}
		if (!known && !suffix_of(k, "notify-secret") &&
		    !suffix_of(k, "notify-type"))
			return err_set(
			        err, ERR_INVALID,
			        "annotation '%s%s' is not one ferry knows (target, "
			        "apply-command, pre-sync, post-sync, sync-fail, "
			        "health-command, notify-url[-SUFFIX], "
			        "notify-secret[-SUFFIX], notify-type[-SUFFIX])",
			        ANN, k);
		if (*v == '\0' && known)
			return err_set(err, ERR_INVALID,
			               "annotation '%s%s' is empty", ANN, k);
		if (strcmp(k, "target") == 0) {
			if (strncmp(v, "directory:", 10) == 0) {
				s->target = TARGET_DIRECTORY;
				s->directory = v + 10;
				if (s->directory[0] != '/')
					return err_set(
					        err, ERR_INVALID,
					        "annotation '%starget': give an "
					        "absolute path (directory:/srv/app)",
					        ANN);
			} else if (strcmp(v, "command") == 0) {
				s->target = TARGET_COMMAND;
			} else {
				return err_set(
				        err, ERR_INVALID,
				        "annotation '%starget' is '%s': "
				        "give directory:/PATH or command",
				        ANN, v);
			}
		} else if (strcmp(k, "apply-command") == 0) {
			s->apply_command = v;
		} else if (strcmp(k, "pre-sync") == 0) {
			s->pre_sync = v;
		} else if (strcmp(k, "post-sync") == 0) {
			s->post_sync = v;
		} else if (strcmp(k, "sync-fail") == 0) {
			s->sync_fail = v;
		} else if (strcmp(k, "health-command") == 0) {
			s->health = v;
		}
	}
	if (s->target == TARGET_COMMAND && s->apply_command == NULL)
		return err_set(err, ERR_INVALID,
		               "annotation '%starget: command' needs "
		               "'%sapply-command'",
		               ANN, ANN);
	if (s->target != TARGET_COMMAND && s->apply_command)
		return err_set(err, ERR_INVALID,
		               "annotation '%sapply-command' is set, but "
		               "'%starget' is not 'command'",
		               ANN, ANN);
	/* the secret and type of each URL, by suffix */
	for (size_t i = 0; i < a->n; i++) {
		const char *k = a->keys[i], *sfx;
		bool secret;
		size_t u;

		if (strncmp(k, ANN, strlen(ANN)) != 0)
			continue;
		k += strlen(ANN);
		secret = (sfx = suffix_of(k, "notify-secret")) != NULL;
		if (!secret && (sfx = suffix_of(k, "notify-type")) == NULL)
			continue;
		for (u = 0; u < s->nurls; u++)
			if (strcmp(s->urls[u].suffix, sfx) == 0)
				break;
		if (u == s->nurls)
			return err_set(
			        err, ERR_INVALID,
			        "annotation '%s%s' has no '%snotify-url%s'",
			        ANN, k, ANN, sfx);
		if (secret) {
			struct config_local_ref ref = { { true, 0, 0 },
				                        a->values[i] };
			const struct config_object *sec =
			        config_secret_for(cfg, o, &ref);
			if (sec == NULL)
				return err_set(
				        err, ERR_INVALID,
				        "annotation '%s%s': Secret '%s/%s' "
				        "not found",
				        ANN, k, o->metadata.namespace,
				        a->values[i]);
			s->urls[u].token = config_secret_value(sec, "token");
			if (s->urls[u].token == NULL)
				return err_set(
				        err, ERR_INVALID,
				        "annotation '%s%s': Secret '%s/%s' "
				        "has no 'token' key",
				        ANN, k, o->metadata.namespace,
				        a->values[i]);
		}
	}
	for (size_t u = 0; u < s->nurls; u++) {
		char key[256];
		const char *type;
		snprintf(key, sizeof(key), "%snotify-type%s", ANN,
		         s->urls[u].suffix);
		type = config_strmap_get(a, key);
		if (strncmp(s->urls[u].url, "http://", 7) != 0 &&
		    strncmp(s->urls[u].url, "https://", 8) != 0)
			return err_set(err, ERR_INVALID,
			               "annotation '%snotify-url%s': give an "
			               "http:// or https:// URL",
			               ANN, s->urls[u].suffix);
		if (notify_hook_kind_parse(type, s->urls[u].url,
		                           &s->urls[u].kind) < 0)
			return err_set(err, ERR_INVALID,
			               "annotation '%s' is '%s': give flux or "
			               "argocd",
			               key, type);
	}
	return 0;
}

/* Flux fields whose work needs a cluster-side controller or a build step
 * ferry does not do: refused, never ignored. */
static int
unsupported(const struct config_kustomization *k, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc = 0;

#define U(cond, name)                                                          \
	do {                                                                   \
		if (cond)                                                      \
			buf_addf(&b, "%sspec.%s", b.len ? ", " : "", name);    \
	} while (0)
	U(k->target_namespace, "targetNamespace");
	U(k->name_prefix, "namePrefix");
	U(k->name_suffix, "nameSuffix");
	U(k->n_images, "images");
	U(k->n_patches, "patches");
	U(k->components.n, "components");
	U(k->common_metadata.pos.set, "commonMetadata");
	U(k->post_build.n_substitute_from, "postBuild.substituteFrom");
	U(k->decryption.pos.set, "decryption");
	U(k->kube_config.pos.set, "kubeConfig");
	U(k->n_health_checks, "healthChecks");
	U(k->n_health_check_exprs, "healthCheckExprs");
	U(k->n_ignore, "ignore");
	U(k->service_account_name, "serviceAccountName");
	U(k->force, "force");
	U(k->deletion_policy && strcmp(k->deletion_policy, "MirrorPrune") != 0,
	  "deletionPolicy");
	for (size_t i = 0; i < k->n_depends_on; i++)
		U(k->depends_on[i].ready_expr, "dependsOn[].readyExpr");
#undef U
	if (b.len > 0)
		rc = err_set(err, ERR_INVALID,
		             "ferry's reconciler does not apply %s: put them "
		             "in a kustomization.yaml under spec.path (or use "
		             "ferry.io/health-command for health), or remove "
		             "them",
		             buf_ok(&b) ? b.ptr : "fields");
	else if (k->source_ref.kind &&
	         strcmp(k->source_ref.kind, "GitRepository") != 0)
		rc = err_set(err, ERR_INVALID,
		             "spec.sourceRef.kind is %s: ferry's reconciler "
		             "reads GitRepository sources only",
		             k->source_ref.kind);
	buf_release(&b);
	return rc;
}

/* What a target's name in status, plan and logs is. */
static void
targets_list(struct reconcile_names *out, const struct settings *s)
{
	struct buf b = BUF_INIT;

	if (s->target == TARGET_DIRECTORY)
		buf_addf(&b, "directory:%s", s->directory);
	else if (s->target == TARGET_COMMAND)
		buf_addf(&b, "command: %s", s->apply_command);
	if (b.len && buf_ok(&b))
		reconcile_names_add(out, b.ptr);
	for (size_t i = 0; i < s->nurls; i++) {
		char url[512];
		buf_reset(&b);
		buf_addf(&b, "notify (%s): %s",
		         s->urls[i].kind == NOTIFY_HOOK_ARGOCD ? "argocd"
		                                               : "flux",
		         log_url(url, sizeof(url), s->urls[i].url));
		if (buf_ok(&b))
			reconcile_names_add(out, b.ptr);
	}
	buf_release(&b);
}

/* What decides whether the targets hold the render: the manifests and
 * the settings that change where they go. */
static void
fingerprint(char out[65], const struct reconcile_manifests *m,
            const struct settings *s, bool prune)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s\x1f%d\x1f%s\x1f%s\x1f%d", m->digest, (int)s->target,
	         s->directory ? s->directory : "",
	         s->apply_command ? s->apply_command : "", (int)prune);
	for (size_t i = 0; i < s->nurls; i++)
		buf_addf(&b, "\x1f%s\x1f%d", s->urls[i].url,
		         (int)s->urls[i].kind);
	crypto_hash_sha256(h, (const unsigned char *)(b.ptr ? b.ptr : ""),
	                   b.len);
	sodium_bin2hex(out, 65, h, sizeof(h));
	if (!buf_ok(&b))
		out[0] = '\0';
	buf_release(&b);
}

/* ---- the commands' environment ---- */

struct env {
	char *v[12];
	size_t n;
};

static void
env_add(struct env *e, const char *key, const char *value)
{
	struct buf b = BUF_INIT;

	if (e->n + 1 >= sizeof(e->v) / sizeof(*e->v) || value == NULL)
		return;
	buf_addf(&b, "%s=%s", key, value);
	if ((e->v[e->n] = buf_detach(&b)) != NULL)
		e->n++;
	e->v[e->n] = NULL;
}

static void
env_release(struct env *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i]);
	e->n = 0;
	e->v[0] = NULL;
}

/* ---- dependsOn ---- */

/* true when following dependsOn from o comes back to start. */
static bool
cycle_from(const struct config *cfg, const struct config_object *start,
           const struct config_object *o, int depth)
{
	const struct config_kustomization *k = &o->u.kustomization;

	if (depth > 64)
		return true;
	for (size_t i = 0; i < k->n_depends_on; i++) {
		const struct config_object *d = config_find(
		        cfg, CONFIG_KUSTOMIZATION, k->depends_on[i].namespace,
		        k->depends_on[i].name);
		if (d == NULL)
			continue;
		if (d == start || cycle_from(cfg, start, d, depth + 1))
			return true;
	}
	return false;
}

/*
 * 0 when every dependency is ready: its Ready condition True and, when it
 * reads the same GitRepository, its lastAppliedRevision this revision (as
 * Flux checks).  1 (err says which) when one is not.
 */
static int
dependencies_ready(struct pipeline_ctx *ctx, const struct config_object *o,
                   const char *revision, struct err *err)
{
	const struct config_kustomization *k = &o->u.kustomization;
	const struct config_object *git =
	        config_source_gitrepository(ctx->cfg, o);

	for (size_t i = 0; i < k->n_depends_on; i++) {
		const struct config_kustomization_dependency *dep =
		        &k->depends_on[i];
		const struct config_object *d =
		        config_find(ctx->cfg, CONFIG_KUSTOMIZATION,
		                    dep->namespace, dep->name);
		cJSON *doc = NULL;
		struct err e = ERR_INIT;
		bool ready = false, same_rev = true;
		const cJSON *c;

		if (d == NULL)
			return err_set(err, ERR_NOTFOUND,
			               "dependency '%s/%s' is not in the "
			               "configuration",
			               dep->namespace, dep->name),
			       1;
		if (!config_kustomization_managed(d))
			continue; /* Flux syncs it: ferry cannot tell when */
		if (state_get(ctx->st, KIND, dep->namespace, dep->name, &doc,
		              &e) == 0) {
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
			                              doc, "conditions"))
			{
				const char *t = json_get_string(c, "type");
				const char *st = json_get_string(c, "status");
				if (t && st && strcmp(t, "Ready") == 0)
					ready = strcmp(st, "True") == 0;
			}
			if (git &&
			    config_source_gitrepository(ctx->cfg, d) == git) {
				const char *applied = json_get_string(
				        doc, "lastAppliedRevision");
				same_rev = applied &&
				           strcmp(applied, revision) == 0;
			}
		}
		cJSON_Delete(doc);
		if (!ready || !same_rev)
			return err_set(err, ERR_TRANSIENT,
			               "dependency '%s/%s' is not ready%s",
			               dep->namespace, dep->name,
			               ready ? " at this revision" : ""),
			       1;
	}
	return 0;
}

/* ---- the state document ---- */

static void
put_string(cJSON *doc, const char *key, const char *value)
{
	cJSON_DeleteItemFromObjectCaseSensitive(doc, key);
	if (value)
		cJSON_AddStringToObject(doc, key, value);
}

static cJSON *
names_json(const struct pipeline_names *l)
{
	cJSON *a = cJSON_CreateArray();

	for (size_t i = 0; a && i < l->n; i++)
		cJSON_AddItemToArray(a, cJSON_CreateString(l->v[i]));
	return a;
}

static void
inventory_from(struct reconcile_inventory *inv, struct reconcile_names *keep,
               const cJSON *doc)
{
	const cJSON *e;

	cJSON_ArrayForEach(e,
	                   cJSON_GetObjectItemCaseSensitive(doc, "inventory"))
	{
		const char *f = json_get_string(e, "file");
		if (f)
			reconcile_inventory_add(inv, f,
			                        json_get_string(e, "id"),
			                        json_get_string(e, "sha256"));
	}
	cJSON_ArrayForEach(e,
	                   cJSON_GetObjectItemCaseSensitive(doc, "unmanaged"))
	{
		if (cJSON_IsString(e))
			reconcile_names_add(keep, e->valuestring);
	}
}

static void
inventory_to(cJSON *doc, const struct reconcile_manifests *m,
             const struct reconcile_dir_result *dir)
{
	cJSON *inv = cJSON_CreateArray(), *keep;

	cJSON_DeleteItemFromObjectCaseSensitive(doc, "inventory");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "unmanaged");
	for (size_t i = 0; inv && i < m->n; i++) {
		cJSON *e = cJSON_CreateObject();
		const char *slash = strrchr(m->v[i].api_version, '/');
		cJSON_AddStringToObject(e, "id", m->v[i].id);
		cJSON_AddStringToObject(
		        e, "v", slash ? slash + 1 : m->v[i].api_version);
		cJSON_AddStringToObject(e, "file", m->v[i].file);
		cJSON_AddStringToObject(e, "sha256", m->v[i].sha256);
		cJSON_AddItemToArray(inv, e);
	}
	cJSON_AddItemToObject(doc, "inventory", inv);
	if (dir && dir->keep.n > 0 &&
	    (keep = cJSON_AddArrayToObject(doc, "unmanaged")) != NULL)
		for (size_t i = 0; i < dir->keep.n; i++)
			cJSON_AddItemToArray(
			        keep, cJSON_CreateString(dir->keep.v[i]));
}

/* ---- the run ---- */

struct run {
	struct pipeline_ctx *ctx;
	const struct config_object *obj;
	const struct config_kustomization *k;
	struct pipeline_sync *out;
	struct settings set;
	struct pipeline_git_source src;
	struct reconcile_manifests m;
	struct reconcile_dir_result dir;
	struct buf stdin_text;
	struct env env;
	cJSON *doc; /* the state document being written */
	char digest[65];
	int timeout_ms;
};

static void
names_move(struct pipeline_names *to, struct reconcile_names *from)
{
	to->v = from->v;
	to->n = from->n;
	from->v = NULL;
	from->n = 0;
}

static int
run_hook(struct run *r, const char *what, const char *line, const char *phase)
{
	struct buf out = BUF_INIT, errs = BUF_INIT;
	struct env env = r->env;
	char *extra = NULL;
	struct err e = ERR_INIT;
	int rc;

	if (line == NULL)
		return 0;
	/* the hook's own phase (and, for sync-fail, why) */
	{
		struct buf b = BUF_INIT;
		buf_addf(&b, "FERRY_PHASE=%s", phase);
		extra = buf_detach(&b);
	}
	if (extra && env.n + 2 < sizeof(env.v) / sizeof(*env.v)) {
		env.v[env.n++] = extra;
		env.v[env.n] = NULL;
	}
	rc = reconcile_command_run(what, line, (const char *const *)env.v,
	                           r->stdin_text.ptr, r->stdin_text.len,
	                           r->timeout_ms, &out, &errs, &e);
	if (rc < 0)
		err_set(&r->out->err, -rc, "%s", e.msg);
	log_info(MOD, rc < 0 ? "hook_failed" : "hook_ran", "object",
	         r->obj->metadata.name, "hook", what, "err",
	         rc < 0 ? e.msg : NULL);
	buf_release(&out);
	buf_release(&errs);
	free(extra);
	return rc;
}

static int
health_check(struct run *r, int timeout_ms, struct err *err)
{
	const char *h = r->set.health;
	int rc;

	if (strncmp(h, "http://", 7) == 0 || strncmp(h, "https://", 8) == 0) {
		struct notify_request req = NOTIFY_REQUEST_INIT;
		snprintf(req.method, sizeof(req.method), "GET");
		snprintf(req.type, sizeof(req.type), "health");
		req.url = strdup(h);
		req.timeout_ms = timeout_ms;
		rc = req.url ? notify_request_send(&req, NULL, err)
		             : err_set(err, ERR_NOMEM, "out of memory");
		notify_request_release(&req);
		if (rc < 0)
			err_prefix(err, "health check");
		return rc;
	}
	return reconcile_command_run("health command", h,
	                             (const char *const *)r->env.v, NULL, 0,
	                             timeout_ms, NULL, NULL, err);
}

static int
notify_urls(struct run *r, struct err *err)
{
	for (size_t i = 0; i < r->set.nurls; i++) {
		struct notify_hook h = { 0 };
		struct notify_request req;
		int rc;

		h.url = r->set.urls[i].url;
		h.kind = r->set.urls[i].kind;
		h.token = r->set.urls[i].token;
		h.repo_url = r->src.git->u.gitrepository.url;
		h.branch = r->src.branch;
		h.commit = r->out->commit;
		h.revision = r->out->revision;
		h.namespace_ = r->obj->metadata.namespace;
		h.name = r->obj->metadata.name;
		h.timeout_ms = r->timeout_ms;
		if ((rc = notify_hook_request(&req, &h, err)) < 0)
			return rc;
		rc = notify_request_send(&req, NULL, err);
		notify_request_release(&req);
		if (rc < 0) {
			err_prefix(err, "notify-url%s", r->set.urls[i].suffix);
			return rc;
		}
	}
	return 0;
}

static const char *
reason_of(const char *phase)
{
	if (phase == NULL)
		return "ReconciliationFailed";
	if (strcmp(phase, "source") == 0)
		return "ArtifactFailed";
	if (strcmp(phase, "render") == 0)
		return "BuildFailed";
	if (strcmp(phase, "health") == 0)
		return "HealthCheckFailed";
	if (strcmp(phase, "dependency") == 0)
		return "DependencyNotReady";
	return "ReconciliationFailed";
}

static void
history(struct run *r, const char *result, const char *message)
{
	cJSON *h = cJSON_CreateObject();
	char now[32];

	if (h == NULL)
		return;
	pipeline_now(now);
	cJSON_AddStringToObject(h, "time", now);
	if (r->out->revision)
		cJSON_AddStringToObject(h, "revision", r->out->revision);
	cJSON_AddStringToObject(h, "result", result);
	cJSON_AddStringToObject(h, "message", message);
	pipeline_history_add(r->doc, NULL, "history", h);
}

/* The manifests of commit (which the clone has fetched), into m. */
static int
render_commit(struct run *r, const char *commit, struct reconcile_manifests *m,
              struct err *err)
{
	struct reconcile_render_opts ro = RECONCILE_RENDER_OPTS_INIT;
	struct gitrepo *repo = NULL;
	struct buf text = BUF_INIT;
	int rc;

	ro.kustomize = r->ctx->kustomize;
	ro.timeout_ms = r->timeout_ms;
	text.max = RECONCILE_MAX_RENDER;
	if ((rc = gitrepo_open(&repo, state_dir(r->ctx->st),
	                       r->src.git->u.gitrepository.url, &r->src.auth,
	                       err)) < 0 ||
	    (rc = gitrepo_reset(repo, commit, err)) < 0 ||
	    (rc = reconcile_render(&text, gitrepo_workdir(repo),
	                           r->k->path ? r->k->path : "", &ro, err)) <
	            0) {
		gitrepo_free(repo);
		buf_release(&text);
		return rc;
	}
	gitrepo_free(repo);
	rc = reconcile_manifests_parse(m, text.ptr ? text.ptr : "", text.len,
	                               &r->k->post_build.substitute, err);
	buf_release(&text);
	return rc;
}

/*
 * The health check failed after the targets got the new revision: they
 * get the last applied one back (rendered again from its commit), so the
 * last good state stays in place.  0, or the error of the attempt (the
 * targets then keep the new revision, and the status says so).
 */
static int
rollback(struct run *r, const char *previous, struct err *err)
{
	struct reconcile_manifests old = { 0 };
	struct reconcile_inventory now = { 0 };
	struct reconcile_dir_result res;
	struct buf in = BUF_INIT;
	struct env env = { { 0 }, 0 };
	const char *at = previous ? strstr(previous, "sha1:") : NULL;
	int rc = 0;

	if (at == NULL || strlen(at + 5) != 40 || r->set.target == TARGET_NONE)
		return 0;
	if ((rc = render_commit(r, at + 5, &old, err)) < 0)
		goto out;
	if (r->set.target == TARGET_DIRECTORY) {
		/* what the target holds now is what this run wrote */
		for (size_t i = 0; i < r->m.n && rc == 0; i++)
			rc = reconcile_inventory_add(&now, r->m.v[i].file,
			                             r->m.v[i].id,
			                             r->m.v[i].sha256);
		if (rc == 0)
			rc = reconcile_dir_sync(&res, r->set.directory, &old,
			                        &now, &r->dir.keep, r->k->prune,
			                        false, err);
		if (rc == 0)
			reconcile_dir_result_release(&res);
	} else {
		env_add(&env, "FERRY_REVISION", previous);
		env_add(&env, "FERRY_COMMIT", at + 5);
		env_add(&env, "FERRY_NAME", r->obj->metadata.name);
		env_add(&env, "FERRY_NAMESPACE", r->obj->metadata.namespace);
		env_add(&env, "FERRY_PATH", r->k->path ? r->k->path : "./");
		rc = reconcile_manifests_join(&in, &old);
		if (rc == 0)
			rc = reconcile_command_run(
			        "apply command", r->set.apply_command,
			        (const char *const *)env.v, in.ptr, in.len,
			        r->timeout_ms, NULL, NULL, err);
	}
out:
	if (rc == 0)
		log_info(MOD, "rolled_back", "object", r->obj->metadata.name,
		         "revision", previous);
	reconcile_manifests_release(&old);
	reconcile_inventory_release(&now);
	buf_release(&in);
	env_release(&env);
	return rc;
}

/* Status after a failure in phase: why, and the sync-fail hook. */
static int
failed(struct run *r, const char *phase, int rc)
{
	struct pipeline_sync *out = r->out;
	char now[32], msg[ERR_MSG_MAX + 64];
	const cJSON *f;
	cJSON *lf;

	out->phase = phase;
	out->status = PIPELINE_SYNC_FAILED;
	out->rc = rc;
	if (r->ctx->dry_run || r->doc == NULL)
		return rc;
	if (strcmp(phase, "health") == 0) {
		struct err e = ERR_INIT;
		size_t n = strlen(out->err.msg);
		if (rollback(r, out->previous, &e) < 0)
			snprintf(out->err.msg + n, sizeof(out->err.msg) - n,
			         "; rolling back failed: %s", e.msg);
		else if (out->previous && r->set.target != TARGET_NONE)
			snprintf(out->err.msg + n, sizeof(out->err.msg) - n,
			         "; the targets got %s back", out->previous);
	}
	/* the phases after the settings were read may run sync-fail */
	if (strcmp(phase, "config") != 0 && r->set.sync_fail) {
		struct err keep = out->err;
		env_add(&r->env, "FERRY_FAILED_PHASE", phase);
		env_add(&r->env, "FERRY_ERROR", keep.msg);
		if (run_hook(r, "sync-fail hook", r->set.sync_fail,
		             "sync-fail") < 0) {
			char hook[256];
			snprintf(hook, sizeof(hook), "%.200s", out->err.msg);
			snprintf(out->err.msg, sizeof(out->err.msg),
			         "%.700s (and the sync-fail hook failed: "
			         "%.200s)",
			         keep.msg, hook);
			out->err.code = keep.code;
		} else {
			out->err = keep;
		}
	}
	pipeline_now(now);
	if (out->revision)
		put_string(r->doc, "lastAttemptedRevision", out->revision);
	cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "lastFailure");
	lf = cJSON_AddObjectToObject(r->doc, "lastFailure");
	cJSON_AddStringToObject(lf, "time", now);
	if (out->revision)
		cJSON_AddStringToObject(lf, "revision", out->revision);
	cJSON_AddStringToObject(lf, "phase", phase);
	cJSON_AddStringToObject(lf, "message", out->err.msg);
	f = cJSON_GetObjectItemCaseSensitive(r->doc, "failures");
	{
		double n = cJSON_IsNumber(f) ? f->valuedouble + 1 : 1;
		cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "failures");
		cJSON_AddNumberToObject(r->doc, "failures", n);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "healthPending");
	snprintf(msg, sizeof(msg), "%s failed: %s", phase, out->err.msg);
	history(r, "failed", msg);
	pipeline_conditions_reason(r->doc, "False", reason_of(phase),
	                           out->err.msg, strcmp(phase, "config") == 0);
	log_error(MOD, "sync_failed", "object", r->obj->metadata.name, "phase",
	          phase, "err", out->err.msg);
	return rc;
}

static void
succeeded(struct run *r)
{
	struct pipeline_sync *out = r->out;
	char now[32], msg[600];
	cJSON *s;
	bool drift = out->modified.n || out->added.n || out->removed.n;

	if (r->ctx->dry_run)
		return;
	pipeline_now(now);
	put_string(r->doc, "lastAttemptedRevision", out->revision);
	put_string(r->doc, "lastAppliedRevision", out->revision);
	put_string(r->doc, "lastAppliedTime", now);
	put_string(r->doc, "appliedDigest", r->digest);
	cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "failures");
	cJSON_AddNumberToObject(r->doc, "failures", 0);
	cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "healthPending");
	inventory_to(r->doc, &r->m,
	             r->set.target == TARGET_DIRECTORY ? &r->dir : NULL);
	cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "lastSync");
	s = cJSON_AddObjectToObject(r->doc, "lastSync");
	cJSON_AddStringToObject(s, "time", now);
	cJSON_AddStringToObject(s, "revision", out->revision);
	cJSON_AddNumberToObject(s, "objects", (double)out->objects);
	cJSON_AddItemToObject(s, "created", names_json(&out->created));
	cJSON_AddItemToObject(s, "configured", names_json(&out->configured));
	cJSON_AddItemToObject(s, "deleted", names_json(&out->deleted));
	cJSON_AddItemToObject(s, "orphaned", names_json(&out->orphaned));
	if (drift) {
		cJSON *d;
		cJSON_DeleteItemFromObjectCaseSensitive(r->doc, "lastDrift");
		d = cJSON_AddObjectToObject(r->doc, "lastDrift");
		cJSON_AddStringToObject(d, "time", now);
		cJSON_AddStringToObject(d, "revision", out->revision);
		cJSON_AddItemToObject(d, "modified",
		                      names_json(&out->modified));
		cJSON_AddItemToObject(d, "added", names_json(&out->added));
		cJSON_AddItemToObject(d, "removed", names_json(&out->removed));
	}
	snprintf(msg, sizeof(msg),
	         "%s revision %.200s: %zu created, %zu configured, %zu "
	         "deleted%s",
	         out->status == PIPELINE_SYNC_CORRECTED ? "corrected drift at"
	                                                : "applied",
	         out->revision, out->created.n, out->configured.n,
	         out->deleted.n, drift ? " (drift corrected)" : "");
	history(r,
	        out->status == PIPELINE_SYNC_CORRECTED ? "corrected"
	                                               : "applied",
	        msg);
	snprintf(msg, sizeof(msg), "Applied revision: %.300s", out->revision);
	pipeline_conditions_reason(r->doc, "True", "ReconciliationSucceeded",
	                           msg, false);
	log_info(MOD,
	         out->status == PIPELINE_SYNC_CORRECTED ? "drift_corrected"
	                                                : "applied",
	         "object", r->obj->metadata.name, "revision", out->revision);
}

static void
up_to_date(struct run *r)
{
	char msg[400];

	r->out->status = PIPELINE_SYNC_UP_TO_DATE;
	if (r->ctx->dry_run)
		return;
	put_string(r->doc, "lastAttemptedRevision", r->out->revision);
	snprintf(msg, sizeof(msg), "Applied revision: %.300s",
	         r->out->revision);
	pipeline_conditions_reason(r->doc, "True", "ReconciliationSucceeded",
	                           msg, false);
}

/* The health check, once; WAITING while its deadline has not passed. */
static int
health(struct run *r, const cJSON *pending)
{
	struct pipeline_sync *out = r->out;
	const cJSON *since = cJSON_GetObjectItemCaseSensitive(pending, "since");
	double start =
	        cJSON_IsNumber(since) ? since->valuedouble : (double)time(NULL);
	double deadline = start + r->timeout_ms / 1000.0;
	double left = deadline - (double)time(NULL);
	struct err e = ERR_INIT;
	int rc;

	if (!r->k->wait || r->set.health == NULL)
		return 0;
	rc = health_check(r, left > 1 ? (int)(left * 1000) : 1000, &e);
	if (rc == 0)
		return 0;
	if ((double)time(NULL) + PIPELINE_HEALTH_POLL_MS / 1000.0 < deadline) {
		cJSON *hp;
		char msg[ERR_MSG_MAX + 40];
		out->status = PIPELINE_SYNC_WAITING;
		out->health_pending = true;
		out->phase = "health";
		out->retry_after_ms = PIPELINE_HEALTH_POLL_MS;
		err_set(&out->err, ERR_TRANSIENT, "%s", e.msg);
		if (r->ctx->dry_run)
			return 1;
		cJSON_DeleteItemFromObjectCaseSensitive(r->doc,
		                                        "healthPending");
		hp = cJSON_AddObjectToObject(r->doc, "healthPending");
		cJSON_AddNumberToObject(hp, "since", start);
		cJSON_AddStringToObject(hp, "digest", r->digest);
		cJSON_AddStringToObject(hp, "revision", out->revision);
		snprintf(msg, sizeof(msg), "health check pending: %s", e.msg);
		pipeline_conditions_reason(r->doc, "Unknown", "Progressing",
		                           msg, false);
		return 1;
	}
	err_set(&out->err, -rc, "health check did not pass within %ds: %s",
	        r->timeout_ms / 1000, e.msg);
	return rc;
}

static void
run_release(struct run *r)
{
	free(r->set.urls);
	pipeline_git_source_release(&r->src);
	reconcile_manifests_release(&r->m);
	reconcile_dir_result_release(&r->dir);
	buf_release(&r->stdin_text);
	env_release(&r->env);
	cJSON_Delete(r->doc);
}

static void
state_write(struct run *r)
{
	struct err e = ERR_INIT;

	if (r->ctx->dry_run || r->doc == NULL)
		return;
	put_string(r->doc, "targets", NULL);
	cJSON_AddItemToObject(r->doc, "targets", names_json(&r->out->targets));
	if (state_put(r->ctx->st, KIND, r->obj->metadata.namespace,
	              r->obj->metadata.name, r->doc, &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         r->obj->metadata.name, "err", e.msg);
}

/* Fetch, render and parse; the clone is held only here. */
static int
render(struct run *r, const char **phase)
{
	struct pipeline_sync *out = r->out;
	struct reconcile_render_opts ro = RECONCILE_RENDER_OPTS_INIT;
	struct gitrepo *repo = NULL;
	struct buf text = BUF_INIT;
	int rc;

	*phase = "source";
	if ((rc = gitrepo_open(&repo, state_dir(r->ctx->st),
	                       r->src.git->u.gitrepository.url, &r->src.auth,
	                       &out->err)) < 0 ||
	    (rc = pipeline_git_source_fetch(&r->src, repo, out->commit,
	                                    &out->err)) < 0)
		goto out;
	if ((out->revision = pipeline_git_revision(&r->src, out->commit)) ==
	    NULL) {
		rc = err_set(&out->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	env_add(&r->env, "FERRY_REVISION", out->revision);
	env_add(&r->env, "FERRY_COMMIT", out->commit);
	if (!r->ctx->dry_run) {
		*phase = "dependency";
		if (dependencies_ready(r->ctx, r->obj, out->revision,
		                       &out->err) != 0) {
			rc = 1;
			goto out;
		}
	}
	*phase = "source";
	if ((rc = gitrepo_reset(repo, out->commit, &out->err)) < 0)
		goto out;
	*phase = "render";
	ro.kustomize = r->ctx->kustomize;
	ro.timeout_ms = r->timeout_ms;
	text.max = RECONCILE_MAX_RENDER;
	rc = reconcile_render(&text, gitrepo_workdir(repo),
	                      r->k->path ? r->k->path : "", &ro, &out->err);
	gitrepo_free(repo);
	repo = NULL;
	if (rc < 0)
		goto out;
	rc = reconcile_manifests_parse(&r->m, text.ptr ? text.ptr : "",
	                               text.len, &r->k->post_build.substitute,
	                               &out->err);
	out->objects = r->m.n;
out:
	gitrepo_free(repo);
	buf_release(&text);
	return rc;
}

int
pipeline_sync(struct pipeline_ctx *ctx, const struct pipeline_key *key,
              const struct pipeline_sync_opts *opts, struct pipeline_sync *out)
{
	struct pipeline_sync_opts def = PIPELINE_SYNC_OPTS_INIT;
	struct run r;
	struct reconcile_inventory prev_inv = { 0 };
	struct reconcile_names prev_keep = { 0 }, targets = { 0 };
	const cJSON *pending = NULL, *fails;
	const char *phase = "config", *prev_digest;
	cJSON *prev = NULL;
	struct err e = ERR_INIT;
	bool needed, resume_health = false;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	if (opts == NULL)
		opts = &def;
	r.ctx = ctx;
	r.out = out;
	if ((r.obj = pipeline_find(ctx, key, &out->err)) == NULL)
		return out->rc = -ERR_NOTFOUND;
	out->obj = r.obj;
	r.k = &r.obj->u.kustomization;
	if (r.k->suspend) {
		out->status = PIPELINE_SYNC_SUSPENDED;
		return 0;
	}
	if (!config_kustomization_managed(r.obj)) {
		out->status = PIPELINE_SYNC_UNMANAGED;
		return 0;
	}
	r.timeout_ms = r.k->timeout > 0 ? (int)(r.k->timeout / 1000000) : 60000;
	if (state_get(ctx->st, KIND, r.obj->metadata.namespace,
	              r.obj->metadata.name, &prev, &e) == 0)
		r.doc = cJSON_Duplicate(prev, 1);
	else
		r.doc = cJSON_CreateObject();
	if (r.doc == NULL) {
		rc = err_set(&out->err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (json_get_string(prev, "lastAppliedRevision"))
		out->previous =
		        strdup(json_get_string(prev, "lastAppliedRevision"));
	/* settings ferry cannot honour: Stalled, retrying will not help */
	if ((rc = settings_parse(&r.set, ctx->cfg, r.obj, &out->err)) < 0 ||
	    (rc = unsupported(r.k, &out->err)) < 0 ||
	    (rc = reconcile_vars_check(&r.k->post_build.substitute,
	                               &out->err)) < 0) {
		rc = failed(&r, "config", rc);
		goto out;
	}
	targets_list(&targets, &r.set);
	names_move(&out->targets, &targets);
	env_add(&r.env, "FERRY_NAME", r.obj->metadata.name);
	env_add(&r.env, "FERRY_NAMESPACE", r.obj->metadata.namespace);
	env_add(&r.env, "FERRY_PATH", r.k->path ? r.k->path : "./");
	if (r.set.target == TARGET_DIRECTORY)
		env_add(&r.env, "FERRY_TARGET", r.set.directory);
	if (cycle_from(ctx->cfg, r.obj, r.obj, 0)) {
		rc = failed(&r, "config",
		            err_set(&out->err, ERR_INVALID,
		                    "dependsOn makes a cycle through '%s/%s'",
		                    r.obj->metadata.namespace,
		                    r.obj->metadata.name));
		goto out;
	}
	if (config_source_gitrepository(ctx->cfg, r.obj) == NULL) {
		rc = failed(&r, "config",
		            err_set(&out->err, ERR_INVALID,
		                    "its GitRepository '%s/%s' does not exist",
		                    r.k->source_ref.namespace,
		                    r.k->source_ref.name));
		goto out;
	}
	pipeline_git_source_init(&r.src, ctx->cfg,
	                         config_source_gitrepository(ctx->cfg, r.obj),
	                         NULL);
	if ((rc = render(&r, &phase)) == 1) {
		/* a dependency is not ready: not a failure, run again */
		out->status = PIPELINE_SYNC_WAITING;
		out->phase = "dependency";
		out->retry_after_ms = PIPELINE_DEPENDENCY_RETRY_MS;
		rc = 0;
		if (!ctx->dry_run)
			pipeline_conditions_reason(r.doc, "False",
			                           "DependencyNotReady",
			                           out->err.msg, false);
		log_debug(MOD, "waiting", "object", r.obj->metadata.name,
		          "reason", out->err.msg);
		goto out;
	}
	if (rc < 0) {
		rc = failed(&r, phase, rc);
		goto out;
	}
	fingerprint(r.digest, &r.m, &r.set, r.k->prune);
	if (reconcile_manifests_join(&r.stdin_text, &r.m) < 0) {
		rc = failed(&r, "render",
		            err_set(&out->err, ERR_NOMEM, "out of memory"));
		goto out;
	}
	/* what the targets hold */
	inventory_from(&prev_inv, &prev_keep, prev);
	prev_digest = json_get_string(prev, "appliedDigest");
	fails = cJSON_GetObjectItemCaseSensitive(prev, "failures");
	pending = cJSON_GetObjectItemCaseSensitive(prev, "healthPending");
	if (r.set.target == TARGET_DIRECTORY &&
	    (rc = reconcile_dir_sync(&r.dir, r.set.directory, &r.m, &prev_inv,
	                             &prev_keep, r.k->prune, true, &out->err)) <
	            0) {
		rc = failed(&r, "apply", rc);
		goto out;
	}
	resume_health =
	        !opts->force && pending && json_get_string(pending, "digest") &&
	        strcmp(json_get_string(pending, "digest"), r.digest) == 0 &&
	        !r.dir.changes;
	needed = opts->force || prev_digest == NULL ||
	         strcmp(prev_digest, r.digest) != 0 ||
	         (cJSON_IsNumber(fails) && fails->valuedouble > 0) ||
	         r.dir.changes;
	if (!needed && !resume_health) {
		up_to_date(&r);
		rc = 0;
		goto out;
	}
	if (ctx->dry_run) {
		names_move(&out->created, &r.dir.created);
		names_move(&out->configured, &r.dir.configured);
		names_move(&out->deleted, &r.dir.deleted);
		names_move(&out->orphaned, &r.dir.orphaned);
		names_move(&out->modified, &r.dir.modified);
		names_move(&out->added, &r.dir.added);
		names_move(&out->removed, &r.dir.removed);
		out->status = PIPELINE_SYNC_PLANNED;
		rc = 0;
		goto out;
	}
	if (!resume_health) {
		pending = NULL;
		if ((rc = run_hook(&r, "pre-sync hook", r.set.pre_sync,
		                   "pre-sync")) < 0) {
			rc = failed(&r, "pre-sync", rc);
			goto out;
		}
		if (r.set.target == TARGET_DIRECTORY) {
			reconcile_dir_result_release(&r.dir);
			rc = reconcile_dir_sync(&r.dir, r.set.directory, &r.m,
			                        &prev_inv, &prev_keep,
			                        r.k->prune, false, &out->err);
		} else if (r.set.target == TARGET_COMMAND) {
			rc = reconcile_command_run(
			        "apply command", r.set.apply_command,
			        (const char *const *)r.env.v, r.stdin_text.ptr,
			        r.stdin_text.len, r.timeout_ms, NULL, NULL,
			        &out->err);
		}
		if (rc < 0) {
			rc = failed(&r, "apply", rc);
			goto out;
		}
		if ((rc = notify_urls(&r, &out->err)) < 0) {
			rc = failed(&r, "notify", rc);
			goto out;
		}
	}
	names_move(&out->created, &r.dir.created);
	names_move(&out->configured, &r.dir.configured);
	names_move(&out->deleted, &r.dir.deleted);
	names_move(&out->orphaned, &r.dir.orphaned);
	names_move(&out->modified, &r.dir.modified);
	names_move(&out->added, &r.dir.added);
	names_move(&out->removed, &r.dir.removed);
	if ((rc = health(&r, pending)) == 1) {
		rc = 0; /* WAITING: run again soon */
		goto out;
	}
	if (rc < 0) {
		rc = failed(&r, "health", rc);
		goto out;
	}
	if ((rc = run_hook(&r, "post-sync hook", r.set.post_sync,
	                   "post-sync")) < 0) {
		rc = failed(&r, "post-sync", rc);
		goto out;
	}
	out->status = !resume_health && prev_digest &&
	                              strcmp(prev_digest, r.digest) == 0 &&
	                              !opts->force &&
	                              !(cJSON_IsNumber(fails) &&
	                                fails->valuedouble > 0)
	                      ? PIPELINE_SYNC_CORRECTED
	                      : PIPELINE_SYNC_APPLIED;
	succeeded(&r);
	rc = 0;
out:
	state_write(&r);
	cJSON_Delete(prev);
	reconcile_inventory_release(&prev_inv);
	reconcile_names_release(&prev_keep);
	reconcile_names_release(&targets);
	run_release(&r);
	out->rc = rc;
	return rc;
}

static void
names_release(struct pipeline_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

void
pipeline_sync_release(struct pipeline_sync *s)
{
	free(s->revision);
	free(s->previous);
	names_release(&s->targets);
	names_release(&s->created);
	names_release(&s->configured);
	names_release(&s->deleted);
	names_release(&s->orphaned);
	names_release(&s->modified);
	names_release(&s->added);
	names_release(&s->removed);
	memset(s, 0, sizeof(*s));
}

const char *
pipeline_sync_status_name(enum pipeline_sync_status s)
{
	switch (s) {
	case PIPELINE_SYNC_UP_TO_DATE:
		return "up to date";
	case PIPELINE_SYNC_APPLIED:
		return "applied";
	case PIPELINE_SYNC_CORRECTED:
		return "drift corrected";
	case PIPELINE_SYNC_PLANNED:
		return "planned";
	case PIPELINE_SYNC_WAITING:
		return "waiting";
	case PIPELINE_SYNC_FAILED:
		return "failed";
	case PIPELINE_SYNC_SUSPENDED:
		return "suspended";
	case PIPELINE_SYNC_UNMANAGED:
		return "unmanaged";
	}
	return "unknown";
}

const char *
pipeline_sync_branch(const struct config *cfg, const struct config_object *ks)
{
	const struct config_object *g = config_source_gitrepository(cfg, ks);
	const struct config_git_ref *r;

	if (g == NULL)
		return NULL;
	r = &g->u.gitrepository.ref;
	if (r->commit || r->name || r->semver || r->tag)
		return NULL;
	return r->branch ? r->branch : "master";
}

/* "a, b and 3 more" of a list, appended. */
static void
names_text(struct buf *b, const char *label, const struct pipeline_names *l)
{
	if (l->n == 0)
		return;
	buf_addf(b, "%s%s ", b->len ? "; " : "", label);
	for (size_t i = 0; i < l->n && i < 5; i++)
		buf_addf(b, "%s%s", i ? ", " : "", l->v[i]);
	if (l->n > 5)
		buf_addf(b, " and %zu more", l->n - 5);
}

const char *
pipeline_sync_event(char *out, size_t n, const struct pipeline_sync *s)
{
	struct buf b = BUF_INIT;
	const char *reason = NULL;

	out[0] = '\0';
	switch (s->status) {
	case PIPELINE_SYNC_APPLIED:
		reason = "ReconciliationSucceeded";
		names_text(&b, "created", &s->created);
		names_text(&b, "configured", &s->configured);
		names_text(&b, "deleted", &s->deleted);
		names_text(&b, "kept (prune: false)", &s->orphaned);
		names_text(&b, "drift corrected: modified", &s->modified);
		names_text(&b, "added by hand", &s->added);
		names_text(&b, "removed by hand", &s->removed);
		snprintf(out, n, "Applied revision: %s%s%s%s",
		         s->revision ? s->revision : "", b.len ? " (" : "",
		         b.len && buf_ok(&b) ? b.ptr : "", b.len ? ")" : "");
		break;
	case PIPELINE_SYNC_CORRECTED:
		reason = "DriftCorrected";
		names_text(&b, "modified by hand", &s->modified);
		names_text(&b, "added by hand", &s->added);
		names_text(&b, "removed by hand", &s->removed);
		snprintf(out, n, "Corrected drift at revision %s: %s",
		         s->revision ? s->revision : "",
		         buf_ok(&b) && b.ptr ? b.ptr : "");
		break;
	case PIPELINE_SYNC_FAILED:
		reason = reason_of(s->phase);
		snprintf(out, n, "%s failed%s%s: %s",
		         s->phase ? s->phase : "sync",
		         s->revision ? " at revision " : "",
		         s->revision ? s->revision : "", s->err.msg);
		break;
	default:
		break;
	}
	buf_release(&b);
	return reason;
}
