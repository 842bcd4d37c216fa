/*
 * pipeline.c - what the stages share (finding objects by key, Secret
 * values, times) and the one-pass loop over them that `ferry run --once`
 * and `ferry plan` call: every scan at once on the context's pool, then
 * the policies, then the automations in load order (and each Argo CD
 * Application, a chain of its own), waiting out each push
 * conflict's "retry after" here, in the caller, never inside a stage.  It
 * does not schedule anything beyond that: the daemon decides when one
 * object's stage runs.
 */
#include "pipeline_int.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/buf.h"
#include "base/json.h"

const struct config_object *
pipeline_find(const struct pipeline_ctx *ctx, const struct pipeline_key *key,
              struct err *err)
{
	const struct config_object *o =
	        config_find(ctx->cfg, key->kind, key->namespace_, key->name);

	if (o == NULL)
		err_set(err, ERR_NOTFOUND,
		        "%s %s/%s is not in the configuration",
		        config_kind_name(key->kind), key->namespace_,
		        key->name);
	return o;
}

const struct secret *
pipeline_secret(const struct config *cfg, const struct config_object *referrer,
                const struct config_local_ref *ref, const char *key)
{
	const struct config_object *s;

	if (ref == NULL || ref->name == NULL)
		return NULL;
	s = config_secret_for(cfg, referrer, ref);
	return s ? config_secret_value(s, key) : NULL;
}

void
pipeline_now(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *
pipeline_ref_string(const char *image, const char *tag, const char *digest)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, image);
	if (tag && *tag)
		buf_addf(&b, ":%s", tag);
	if (digest && *digest)
		buf_addf(&b, "@%s", digest);
	return buf_detach(&b);
}

/* Replaces (or adds) condition type in list, keeping its transition time
 * when its status is the same. */
static void
condition_put(cJSON *list, const cJSON *old, const char *type,
              const char *status, const char *reason, const char *message,
              const char *now)
{
	const char *since = now;
	const cJSON *c;
	cJSON *n;

	cJSON_ArrayForEach(c, old)
	{
		const char *t = json_get_string(c, "type");
		const char *st = json_get_string(c, "status");
		const char *ltt = json_get_string(c, "lastTransitionTime");
		if (t && strcmp(t, type) == 0 && st &&
		    strcmp(st, status) == 0 && ltt)
			since = ltt;
	}
	if ((n = cJSON_CreateObject()) == NULL)
		return;
	cJSON_AddStringToObject(n, "type", type);
	cJSON_AddStringToObject(n, "status", status);
	cJSON_AddStringToObject(n, "reason", reason);
	cJSON_AddStringToObject(n, "message", message ? message : "");
	cJSON_AddStringToObject(n, "lastTransitionTime", since);
	cJSON_AddItemToArray(list, n);
}

void
pipeline_conditions(cJSON *doc, int rc, const char *message, bool stalled)
{
	const char *reason = rc == 0           ? "Succeeded"
	                     : rc == -ERR_AUTH ? "AuthenticationFailed"
	                                       : "ReconciliationFailed";

	pipeline_conditions_reason(doc, rc == 0 ? "True" : "False", reason,
	                           message, rc < 0 && stalled);
}

void
pipeline_conditions_reason(cJSON *doc, const char *status, const char *reason,
                           const char *message, bool stalled)
{
	cJSON *old = cJSON_DetachItemFromObjectCaseSensitive(doc, "conditions");
	cJSON *list = cJSON_AddArrayToObject(doc, "conditions");
	char now[32];

	pipeline_now(now);
	if (list != NULL) {
		condition_put(list, old, "Ready", status, reason, message, now);
		if (stalled)
			condition_put(list, old, "Stalled", "True", reason,
			              message, now);
	}
	/* How long a failing object has been without a good run: the
	 * status page's "last success", kept through failures. */
	if (strcmp(status, "True") == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastSuccessTime");
		cJSON_AddStringToObject(doc, "lastSuccessTime", now);
	}
	cJSON_Delete(old);
}

void
pipeline_history_add(cJSON *doc, const cJSON *old, const char *key,
                     cJSON *entry)
{
	const cJSON *prev = cJSON_GetObjectItemCaseSensitive(old, key);
	cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (entry == NULL)
		return;
	if (list == NULL) {
		list = cJSON_IsArray(prev) ? cJSON_Duplicate(prev, 1)
		                           : cJSON_CreateArray();
		if (list == NULL || !cJSON_AddItemToObject(doc, key, list)) {
			cJSON_Delete(list);
			cJSON_Delete(entry);
			return;
		}
	}
	cJSON_AddItemToArray(list, entry);
	while (cJSON_GetArraySize(list) > PIPELINE_HISTORY_MAX)
		cJSON_DeleteItemFromArray(list, 0);
}

char *
pipeline_strdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

/* ---- the pass ---- */

static int
report_init(struct pipeline_report *r, const struct config *cfg)
{
	r->nrepos = config_count(cfg, CONFIG_IMAGEREPOSITORY);
	r->npolicies = config_count(cfg, CONFIG_IMAGEPOLICY);
	r->nautomations = config_count(cfg, CONFIG_IMAGEUPDATEAUTOMATION);
	r->repos = calloc(r->nrepos + 1, sizeof(*r->repos));
	r->policies = calloc(r->npolicies + 1, sizeof(*r->policies));
	r->automations = calloc(r->nautomations + 1, sizeof(*r->automations));
	r->napps = config_count(cfg, CONFIG_APPLICATION);
	r->apps = calloc(r->napps + 1, sizeof(*r->apps));
	if (!r->repos || !r->policies || !r->automations || !r->apps)
		return -ERR_NOMEM;
	return 0;
}

static struct pipeline_key
key_of(const struct config_object *o)
{
	struct pipeline_key k = { o->kind, o->metadata.namespace,
		                  o->metadata.name };
	return k;
}

/*
 * Once-cells: in a pass, every object runs once, and whoever needs its
 * result first runs it while the others wait.  The pass is a batch of
 * chains on the pool, one per automation (its repositories' scans, its
 * policies, then itself) plus one per object no automation needs, so a
 * chain waits only for its own inputs: a registry that stalls holds up the
 * automations that read it, no other.
 */
enum cell_state { CELL_PENDING, CELL_RUNNING, CELL_DONE };

struct pass {
	struct pipeline_ctx *ctx;
	struct pipeline_report *rep;
	pthread_mutex_t mu;
	pthread_cond_t done;
	enum cell_state *repos, *policies;
	/* the chains: automations first, then lone policies and repos */
	size_t nchains;
	struct {
		enum config_kind kind;
		size_t i;
	} * chains;
};

/* Claims cell c for this thread (true), or waits until another thread
 * has run it (false). */
static bool
cell_claim(struct pass *p, enum cell_state *c)
{
	bool mine = false;

	pthread_mutex_lock(&p->mu);
	if (*c == CELL_PENDING) {
		*c = CELL_RUNNING;
		mine = true;
	}
	while (!mine && *c != CELL_DONE)
		pthread_cond_wait(&p->done, &p->mu);
	pthread_mutex_unlock(&p->mu);
	return mine;
}

static void
cell_done(struct pass *p, enum cell_state *c)
{
	pthread_mutex_lock(&p->mu);
	*c = CELL_DONE;
	pthread_cond_broadcast(&p->done);
	pthread_mutex_unlock(&p->mu);
}

static void
run_repo(struct pass *p, size_t i)
{
	struct pipeline_key k =
	        key_of(config_get(p->ctx->cfg, CONFIG_IMAGEREPOSITORY, i));

	if (!cell_claim(p, &p->repos[i]))
		return;
	pipeline_scan(p->ctx, &k, &p->rep->repos[i]);
	cell_done(p, &p->repos[i]);
}

static void
run_policy(struct pass *p, size_t i)
{
	const struct config_object *o =
	        config_get(p->ctx->cfg, CONFIG_IMAGEPOLICY, i);
	const struct config_object *r =
	        config_policy_repository(p->ctx->cfg, o);
	struct pipeline_key k = key_of(o);

	if (r != NULL)
		for (size_t ri = 0; ri < p->rep->nrepos; ri++)
			if (config_get(p->ctx->cfg, CONFIG_IMAGEREPOSITORY,
			               ri) == r)
				run_repo(p, ri);
	if (!cell_claim(p, &p->policies[i]))
		return;
	pipeline_select(p->ctx, &k, &p->rep->policies[i]);
	cell_done(p, &p->policies[i]);
}

static void
sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0)
		;
}

static void
run_automation(struct pass *p, size_t i)
{
	const struct config_object *o =
	        config_get(p->ctx->cfg, CONFIG_IMAGEUPDATEAUTOMATION, i);
	struct pipeline_automation *a = &p->rep->automations[i];
	const struct config_object **pols = NULL;
	struct pipeline_key k = key_of(o);
	struct err e = ERR_INIT;
	size_t n = 0;

	/* Its inputs first (a failure to list them is the automation's to
	 * report, when it reads them). */
	if (config_automation_policies(&pols, &n, p->ctx->cfg, o, &e) == 0)
		for (size_t k2 = 0; k2 < n; k2++)
			for (size_t pi = 0; pi < p->rep->npolicies; pi++)
				if (config_get(p->ctx->cfg, CONFIG_IMAGEPOLICY,
				               pi) == pols[k2])
					run_policy(p, pi);
	free(pols);
	for (int attempt = 1;; attempt++) {
		pipeline_automate(p->ctx, &k, attempt, a);
		if (a->retry_after_ms <= 0)
			break;
		sleep_ms(a->retry_after_ms);
		pipeline_automation_release(a);
	}
}

/* An Argo CD Application scans its own images: a chain of its own. */
static void
run_app(struct pass *p, size_t i)
{
	struct pipeline_key k =
	        key_of(config_get(p->ctx->cfg, CONFIG_APPLICATION, i));
	struct pipeline_app *a = &p->rep->apps[i];

	for (int attempt = 1;; attempt++) {
		pipeline_argocd(p->ctx, &k, attempt, a);
		if (a->retry_after_ms <= 0)
			break;
		sleep_ms(a->retry_after_ms);
		pipeline_app_release(a);
	}
}

static void
run_chain(size_t c, void *payload)
{
	struct pass *p = payload;

	switch (p->chains[c].kind) {
	case CONFIG_IMAGEUPDATEAUTOMATION:
		run_automation(p, p->chains[c].i);
		break;
	case CONFIG_APPLICATION:
		run_app(p, p->chains[c].i);
		break;
	case CONFIG_IMAGEPOLICY:
		run_policy(p, p->chains[c].i);
		break;
	default:
		run_repo(p, p->chains[c].i);
		break;
	}
}

/* Have every Kustomization o dependsOn (in the configuration) run? */
static bool
dependencies_ran(const struct config *cfg, const struct config_object *o,
                 const bool *ran)
{
	const struct config_kustomization *k = &o->u.kustomization;

	for (size_t i = 0; i < k->n_depends_on; i++) {
		const struct config_object *d = config_find(
		        cfg, CONFIG_KUSTOMIZATION, k->depends_on[i].namespace,
		        k->depends_on[i].name);
		for (size_t j = 0;
		     d && j < config_count(cfg, CONFIG_KUSTOMIZATION); j++)
			if (config_get(cfg, CONFIG_KUSTOMIZATION, j) == d &&
			    !ran[j])
				return false;
	}
	return true;
}

/*
 * Every Kustomization, after the automations (so a push reaches its
 * targets in the same pass), each after those it dependsOn; a cycle runs
 * in load order and fails there.  A pending health check is waited out
 * here, in the caller; a dependency that is not ready after its own run
 * failed, and so does this one.
 */
static int
run_syncs(struct pipeline_report *rep, struct pipeline_ctx *ctx)
{
	const struct config *cfg = ctx->cfg;
	size_t n = config_count(cfg, CONFIG_KUSTOMIZATION);
	bool *ran = calloc(n + 1, sizeof(*ran));

	rep->syncs = calloc(n + 1, sizeof(*rep->syncs));
	if (ran == NULL || rep->syncs == NULL) {
		free(ran);
		return -ERR_NOMEM;
	}
	for (size_t step = 0; step < n; step++) {
		struct pipeline_sync_opts opts = PIPELINE_SYNC_OPTS_INIT;
		struct pipeline_sync *s = &rep->syncs[rep->nsyncs];
		struct pipeline_key k;
		size_t pick = SIZE_MAX;

		for (size_t i = 0; i < n && pick == SIZE_MAX; i++)
			if (!ran[i] &&
			    dependencies_ran(
			            cfg,
			            config_get(cfg, CONFIG_KUSTOMIZATION, i),
			            ran))
				pick = i;
		for (size_t i = 0; i < n && pick == SIZE_MAX; i++)
			if (!ran[i])
				pick = i;
		ran[pick] = true;
		k = key_of(config_get(cfg, CONFIG_KUSTOMIZATION, pick));
		for (;;) {
			pipeline_sync(ctx, &k, &opts, s);
			if (!(s->status == PIPELINE_SYNC_WAITING &&
			      s->health_pending && s->retry_after_ms > 0))
				break;
			sleep_ms(s->retry_after_ms);
			pipeline_sync_release(s);
			opts.attempt++;
		}
		if (s->status == PIPELINE_SYNC_WAITING) {
			s->status = PIPELINE_SYNC_FAILED;
			s->rc = -ERR_TRANSIENT;
		}
		rep->nsyncs++;
	}
	free(ran);
	return 0;
}

static void
chains_add(struct pass *p, enum config_kind kind, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		p->chains[p->nchains].kind = kind;
		p->chains[p->nchains].i = i;
		p->nchains++;
	}
}

int
pipeline_run(struct pipeline_report *out, struct pipeline_ctx *ctx,
             struct err *err)
{
	const struct config *cfg = ctx->cfg;
	struct pass p = { 0 };
	size_t failed = 0;
	int first = 0;

	*out = (struct pipeline_report)PIPELINE_REPORT_INIT;
	if (report_init(out, cfg) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	p.ctx = ctx;
	p.rep = out;
	p.repos = calloc(out->nrepos + 1, sizeof(*p.repos));
	p.policies = calloc(out->npolicies + 1, sizeof(*p.policies));
	p.chains = calloc(out->nautomations + out->npolicies + out->nrepos +
	                          out->napps + 1,
	                  sizeof(*p.chains));
	if (p.repos == NULL || p.policies == NULL || p.chains == NULL) {
		free(p.repos);
		free(p.policies);
		free(p.chains);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	pthread_mutex_init(&p.mu, NULL);
	pthread_cond_init(&p.done, NULL);
	/* Automations first: they wait on the network longest.  Every
	 * policy and repository gets a chain too; one that an automation
	 * already ran finds its cell done. */
	chains_add(&p, CONFIG_IMAGEUPDATEAUTOMATION, out->nautomations);
	chains_add(&p, CONFIG_APPLICATION, out->napps);
	chains_add(&p, CONFIG_IMAGEPOLICY, out->npolicies);
	chains_add(&p, CONFIG_IMAGEREPOSITORY, out->nrepos);
	pool_run(ctx->pool, p.nchains, run_chain, &p);
	pthread_cond_destroy(&p.done);
	pthread_mutex_destroy(&p.mu);
	free(p.repos);
	free(p.policies);
	free(p.chains);
	if (run_syncs(out, ctx) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	/* The pass fails when any object did. */
	for (size_t i = 0; i < out->nrepos; i++)
		if (out->repos[i].rc < 0 && (failed++, first == 0))
			first = out->repos[i].rc;
	for (size_t i = 0; i < out->npolicies; i++)
		if (out->policies[i].rc < 0 && (failed++, first == 0))
			first = out->policies[i].rc;
	for (size_t i = 0; i < out->nautomations; i++)
		if (out->automations[i].rc < 0 && (failed++, first == 0))
			first = out->automations[i].rc;
	for (size_t i = 0; i < out->napps; i++)
		if (out->apps[i].rc < 0 && (failed++, first == 0))
			first = out->apps[i].rc;
	for (size_t i = 0; i < out->nsyncs; i++)
		if (out->syncs[i].rc < 0 && (failed++, first == 0))
			first = out->syncs[i].rc;
	if (first == -ERR_NOMEM)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (first < 0)
		err_set(err, -first, "%zu object%s failed", failed,
		        failed == 1 ? "" : "s");
	return first;
}

void
pipeline_report_release(struct pipeline_report *r)
{
	for (size_t i = 0; i < r->nrepos && r->repos; i++)
		pipeline_repo_release(&r->repos[i]);
	for (size_t i = 0; i < r->npolicies && r->policies; i++)
		pipeline_policy_release(&r->policies[i]);
	for (size_t i = 0; i < r->nautomations && r->automations; i++)
		pipeline_automation_release(&r->automations[i]);
	for (size_t i = 0; i < r->napps && r->apps; i++)
		pipeline_app_release(&r->apps[i]);
	for (size_t i = 0; i < r->nsyncs && r->syncs; i++)
		pipeline_sync_release(&r->syncs[i]);
	free(r->syncs);
	free(r->repos);
	free(r->policies);
	free(r->automations);
	free(r->apps);
	*r = (struct pipeline_report)PIPELINE_REPORT_INIT;
}

const char *
pipeline_status_name(enum pipeline_status s)
{
	switch (s) {
	case PIPELINE_NO_CHANGE:
		return "no change";
	case PIPELINE_PUSHED:
		return "pushed";
	case PIPELINE_PLANNED:
		return "planned";
	case PIPELINE_FAILED:
		return "failed";
	case PIPELINE_SUSPENDED:
		return "suspended";
	}
	return "unknown";
}
