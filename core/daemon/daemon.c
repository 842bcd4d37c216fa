/*
 * daemon.c - the long-running process: configuration snapshots, the
 * worker threads that take objects from the queue and run their stage,
 * what a run's result sets in motion (the next run, the objects that
 * depend on it, metrics, events), reloads and shutdown.  The listeners
 * (server.c, control.c) only enqueue work and read status.
 *
 * A worker never sleeps on behalf of an object: a failure or a lost push
 * race comes back as "next due in N ms" to the queue.
 */
#define _GNU_SOURCE /* pthread_timedjoin_np */
#include "daemon_int.h"

#include <errno.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "config/argocd.h"
#include "ferry_version.h"
#include "server.h"

#define MOD "daemon"
#define DAEMON_NOTIFY_DRAIN_MS 5000 /* notifications sent at shutdown */

/* ---- snapshots ---- */

static void
idx_lists_free(struct idx_list *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		free(v[i].v);
	free(v);
}

static void
snapshot_free(struct snapshot *s)
{
	size_t nr, np, nrec;

	if (s == NULL)
		return;
	nr = s->cfg ? config_count(s->cfg, CONFIG_IMAGEREPOSITORY) : 0;
	np = s->cfg ? config_count(s->cfg, CONFIG_IMAGEPOLICY) : 0;
	nrec = s->cfg ? config_count(s->cfg, CONFIG_RECEIVER) : 0;
	for (size_t i = 0; s->repo_refs && i < nr; i++)
		reference_release(&s->repo_refs[i]);
	free(s->repo_refs);
	free(s->repo_ref_ok);
	idx_lists_free(s->repo_policies, nr);
	idx_lists_free(s->policy_automations, np);
	for (size_t i = 0; s->receiver_paths && i < nrec; i++)
		free(s->receiver_paths[i]);
	free(s->receiver_paths);
	config_free(s->cfg);
	free(s);
}

void
snapshot_release(struct snapshot *s)
{
	if (s && atomic_fetch_sub(&s->refs, 1) == 1)
		snapshot_free(s);
}

struct snapshot *
daemon_snapshot(struct daemon *d)
{
	struct snapshot *s;

	pthread_mutex_lock(&d->snap_mu);
	s = d->snap;
	atomic_fetch_add(&s->refs, 1);
	pthread_mutex_unlock(&d->snap_mu);
	return s;
}

size_t
snapshot_index(const struct snapshot *s, const struct config_object *obj)
{
	size_t n = config_count(s->cfg, obj->kind);

	for (size_t i = 0; i < n; i++)
		if (config_get(s->cfg, obj->kind, i) == obj)
			return i;
	return SIZE_MAX;
}

static int
idx_push(struct idx_list *l, size_t i)
{
	size_t *v = realloc(l->v, (l->n + 1) * sizeof(*v));

	if (v == NULL)
		return -ERR_NOMEM;
	l->v = v;
	l->v[l->n++] = i;
	return 0;
}

/* A Receiver's published path (receiver_hook_path), from its Secret. */
static char *
hook_path(const struct config *cfg, const struct config_object *rec)
{
	const struct config_receiver *r = &rec->u.receiver;
	const struct config_object *sec =
	        r->secret_ref.name ? config_secret_for(cfg, rec, &r->secret_ref)
	                           : NULL;
	struct buf out = BUF_INIT;

	if (receiver_hook_path(
	            &out, sec ? config_secret_value(sec, "token") : NULL,
	            rec->metadata.name, rec->metadata.namespace) < 0) {
		buf_release(&out);
		return NULL;
	}
	return buf_detach(&out);
}

static int
snapshot_index_build(struct snapshot *s)
{
	const struct config *cfg = s->cfg;
	size_t nr = config_count(cfg, CONFIG_IMAGEREPOSITORY);
	size_t np = config_count(cfg, CONFIG_IMAGEPOLICY);
	size_t na = config_count(cfg, CONFIG_IMAGEUPDATEAUTOMATION);
	size_t nrec = config_count(cfg, CONFIG_RECEIVER);

	s->repo_refs = calloc(nr + 1, sizeof(*s->repo_refs));
	s->repo_ref_ok = calloc(nr + 1, sizeof(*s->repo_ref_ok));
	s->repo_policies = calloc(nr + 1, sizeof(*s->repo_policies));
	s->policy_automations = calloc(np + 1, sizeof(*s->policy_automations));
	s->receiver_paths = calloc(nrec + 1, sizeof(*s->receiver_paths));
	if (!s->repo_refs || !s->repo_ref_ok || !s->repo_policies ||
	    !s->policy_automations || !s->receiver_paths)
		return -ERR_NOMEM;
	for (size_t i = 0; i < nr; i++) {
		const struct config_object *r =
		        config_get(cfg, CONFIG_IMAGEREPOSITORY, i);
		struct err e = ERR_INIT;
		const char *img = r->u.imagerepository.image;
		s->repo_ref_ok[i] = reference_parse(&s->repo_refs[i], img,
		                                    strlen(img), &e) == 0;
	}
	for (size_t i = 0; i < np; i++) {
		const struct config_object *p =
		        config_get(cfg, CONFIG_IMAGEPOLICY, i);
		const struct config_object *r =
		        config_policy_repository(cfg, p);
		size_t ri = r ? snapshot_index(s, r) : SIZE_MAX;
		if (ri != SIZE_MAX && idx_push(&s->repo_policies[ri], i) < 0)
			return -ERR_NOMEM;
	}
	for (size_t i = 0; i < na; i++) {
		const struct config_object *a =
		        config_get(cfg, CONFIG_IMAGEUPDATEAUTOMATION, i);
		const struct config_object **pols = NULL;
		size_t n = 0;
		struct err e = ERR_INIT;
		if (config_automation_policies(&pols, &n, cfg, a, &e) < 0)
			return -ERR_NOMEM;
		for (size_t k = 0; k < n; k++) {
			size_t pi = snapshot_index(s, pols[k]);
			if (pi != SIZE_MAX &&
			    idx_push(&s->policy_automations[pi], i) < 0) {
				free(pols);
				return -ERR_NOMEM;
			}
		}
		free(pols);
	}
	for (size_t i = 0; i < nrec; i++) {
		s->receiver_paths[i] =
		        hook_path(cfg, config_get(cfg, CONFIG_RECEIVER, i));
		if (s->receiver_paths[i] == NULL)
			return -ERR_NOMEM;
	}
	return 0;
}

/*
 * Loads the configuration into a new snapshot.  Every problem is logged
 * (and recorded as an event); -ERR_INVALID when there was one.
 */
static int
snapshot_load(struct snapshot **out, struct daemon *d, struct err *err)
{
	struct snapshot *s = calloc(1, sizeof(*s));
	struct buf line = BUF_INIT;
	int rc;

	*out = NULL;
	if (s == NULL || config_new(&s->cfg) < 0) {
		free(s);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	atomic_init(&s->refs, 1);
	if (d->o.config &&
	    (rc = config_set_options(s->cfg, d->o.config, err)) < 0)
		goto fail;
	for (size_t i = 0; i < d->o.npaths; i++)
		if ((rc = config_add_path(s->cfg, d->o.paths[i], err)) < 0)
			goto fail;
	if ((rc = config_check(s->cfg, err)) < 0) {
		for (size_t i = 0; i < config_diag_count(s->cfg); i++) {
			buf_reset(&line);
			config_diag_format(&line, config_diag_get(s->cfg, i));
			log_error(MOD, "config_error", "err", line.ptr);
			if (d->events)
				events_record(d->events, EVENT_ERROR, "Config",
				              "", "", "ConfigurationInvalid",
				              line.ptr);
		}
		if (rc != -ERR_NOMEM)
			rc = err_set(err, ERR_INVALID,
			             "the configuration has %zu error%s (see "
			             "'ferry validate')",
			             config_diag_count(s->cfg),
			             config_diag_count(s->cfg) == 1 ? "" : "s");
		goto fail;
	}
	for (size_t i = 0; i < config_notice_count(s->cfg); i++) {
		buf_reset(&line);
		config_diag_format(&line, config_notice_get(s->cfg, i));
		log_info(MOD, "config_notice", "notice", line.ptr);
	}
	if ((rc = snapshot_index_build(s)) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	s->generation = ++d->generations;
	buf_release(&line);
	*out = s;
	return 0;
fail:
	buf_release(&line);
	snapshot_free(s);
	return rc;
}

/* ---- scheduling ---- */

const char *
daemon_kind_name(enum config_kind kind)
{
	return config_kind_name(kind);
}

/* The kinds the queue runs. */
static bool
queued_kind(enum config_kind k)
{
	return k == CONFIG_IMAGEREPOSITORY || k == CONFIG_IMAGEPOLICY ||
	       k == CONFIG_IMAGEUPDATEAUTOMATION || k == CONFIG_KUSTOMIZATION ||
	       k == CONFIG_APPLICATION;
}

/* An object's interval in ms; -1 when it runs only when asked. */
static int64_t
interval_ms(const struct config *cfg, const struct config_object *o)
{
	int64_t ns = 0;

	switch (o->kind) {
	case CONFIG_APPLICATION: {
		/* Argo CD Image Updater's --interval (ConfigMap key interval),
		 * for the Applications something updates */
		const char *iv = config_argocd_config(cfg)->interval;
		struct err e = ERR_INIT;

		if (config_argocd_unit_for(cfg, o) == NULL)
			return -1;
		if (iv == NULL || parse_duration(iv, strlen(iv), &ns, &e) < 0 ||
		    ns <= 0)
			ns = DAEMON_ARGOCD_INTERVAL_NS;
		break;
	}
	case CONFIG_IMAGEREPOSITORY:
		ns = o->u.imagerepository.interval;
		break;
	case CONFIG_IMAGEPOLICY:
		ns = o->u.imagepolicy.interval;
		break;
	case CONFIG_IMAGEUPDATEAUTOMATION:
		ns = o->u.imageupdateautomation.interval;
		break;
	case CONFIG_KUSTOMIZATION:
		ns = o->u.kustomization.interval;
		break;
	default:
		break;
	}
	return ns > 0 ? ns / 1000000 : -1;
}

/*
 * A failed Kustomization comes back after its retryInterval (Flux's
 * default: its interval), doubling with each failure in a row, never
 * later than the larger of interval and retryInterval.
 */
static int64_t
sync_backoff_ms(const struct config_object *o, int failures)
{
	const struct config_kustomization *k = &o->u.kustomization;
	int64_t ms = k->retry_interval > 0 ? k->retry_interval / 1000000
	                                   : k->interval / 1000000;
	int64_t max = k->interval / 1000000 > ms ? k->interval / 1000000 : ms;

	if (ms <= 0)
		ms = DAEMON_DEFAULT_BACKOFF_MIN_MS;
	for (int i = 1; i < failures && ms < max; i++)
		ms *= 2;
	return ms < max ? ms : max;
}

/* The interval plus up to DAEMON_JITTER_PERCENT of it, so that objects
 * loaded together do not stay in lock step. */
static int64_t
with_jitter(int64_t ms)
{
	uint64_t span = (uint64_t)ms * DAEMON_JITTER_PERCENT / 100;

	if (ms < 0 || span == 0)
		return ms;
	if (span > UINT32_MAX)
		span = UINT32_MAX;
	return ms + (int64_t)randombytes_uniform((uint32_t)span);
}

/* Exponential backoff after `failures` failed runs in a row. */
static int64_t
backoff_ms(const struct daemon *d, int failures)
{
	int64_t ms = d->o.backoff_min_ms;

	for (int i = 1; i < failures && ms < d->o.backoff_max_ms; i++)
		ms *= 2;
	return ms < d->o.backoff_max_ms ? ms : d->o.backoff_max_ms;
}

int
daemon_enqueue(struct daemon *d, const struct config_object *obj,
               int64_t delay_ms, unsigned reason, const char *hint,
               uint64_t *ticket)
{
	return queue_add(d->q, (int)obj->kind, obj->metadata.namespace,
	                 obj->metadata.name, delay_ms, reason, hint, ticket);
}

/* Enqueues every object the queue runs, now. */
static void
enqueue_all(struct daemon *d, const struct snapshot *s, unsigned reason)
{
	/* Repositories first: at equal due times the queue serves in
	 * arrival order, so policies see fresh tags when they can. */
	static const enum config_kind order[] = { CONFIG_IMAGEREPOSITORY,
		                                  CONFIG_IMAGEPOLICY,
		                                  CONFIG_IMAGEUPDATEAUTOMATION,
		                                  CONFIG_KUSTOMIZATION,
		                                  CONFIG_APPLICATION };

	for (size_t k = 0; k < sizeof(order) / sizeof(*order); k++)
		for (size_t i = 0; i < config_count(s->cfg, order[k]); i++) {
			const struct config_object *o =
			        config_get(s->cfg, order[k], i);

			/* Applications nothing updates are not run */
			if (o->kind != CONFIG_APPLICATION ||
			    config_argocd_unit_for(s->cfg, o))
				daemon_enqueue(d, o, 0, reason, NULL, NULL);
		}
}

/* ---- runtime suspension ---- */

#define SUSPEND_KIND "Suspension"

static int
suspend_key(char *out, size_t n, enum config_kind kind, const char *ns)
{
	/* One document per object: the kind goes into the namespace part,
	 * which the state checks like any name. */
	int w = snprintf(out, n, "%s.%s", config_kind_name(kind), ns);
	return w > 0 && (size_t)w < n ? 0 : -ERR_INVALID;
}

bool
daemon_suspended(struct daemon *d, enum config_kind kind, const char *ns,
                 const char *name)
{
	char key[600];
	cJSON *doc = NULL;
	struct err e = ERR_INIT;
	bool on = false;

	if (suspend_key(key, sizeof(key), kind, ns) < 0 ||
	    state_get(d->st, SUSPEND_KIND, key, name, &doc, &e) < 0)
		return false;
	on = cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(doc, "suspended"));
	cJSON_Delete(doc);
	return on;
}

int
daemon_suspend(struct daemon *d, enum config_kind kind, const char *ns,
               const char *name, bool suspend, struct err *err)
{
	char key[600], now[32];
	cJSON *doc = cJSON_CreateObject();
	time_t t = time(NULL);
	struct tm tm;
	int rc;

	if (doc == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (suspend_key(key, sizeof(key), kind, ns) < 0) {
		cJSON_Delete(doc);
		return err_set(err, ERR_INVALID, "namespace too long");
	}
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_AddBoolToObject(doc, "suspended", suspend);
	cJSON_AddStringToObject(doc, "since", now);
	rc = state_put(d->st, SUSPEND_KIND, key, name, doc, err);
	cJSON_Delete(doc);
	return rc;
}

/* ---- webhooks ---- */

/* Does image r hold the image a webhook names (as below)? */
static bool
ref_matches(const struct reference *r, const char *host, const char *repository)
{
	struct reference ev = REFERENCE_INIT;
	struct err e = ERR_INIT;
	struct buf full = BUF_INIT;
	bool match = false;

	/* Parse the event's name the way the image is parsed, so that
	 * "nginx" and "library/nginx" on Docker Hub are one. */
	if (host && *host)
		buf_addf(&full, "%s/%s", host, repository);
	else
		buf_addf(&full, "%s/%s", r->domain, repository);
	if (buf_ok(&full) && reference_parse(&ev, full.ptr, full.len, &e) == 0)
		match = strcmp(ev.path, r->path) == 0 &&
		        (host == NULL || *host == '\0' ||
		         strcmp(ev.domain, r->domain) == 0 ||
		         strcmp(ev.api_host, r->api_host) == 0);
	/* A payload may name the repository with its host already. */
	if (!match && host == NULL && strchr(repository, '/')) {
		reference_release(&ev);
		if (reference_parse(&ev, repository, strlen(repository), &e) ==
		    0)
			match = strcmp(ev.path, r->path) == 0 &&
			        strcmp(ev.domain, r->domain) == 0;
	}
	reference_release(&ev);
	buf_release(&full);
	return match;
}

bool
daemon_repo_matches(const struct snapshot *s, size_t i, const char *host,
                    const char *repository)
{
	return s->repo_ref_ok[i] &&
	       ref_matches(&s->repo_refs[i], host, repository);
}

bool
daemon_image_matches(const char *image, size_t len, const char *host,
                     const char *repository)
{
	struct reference r = REFERENCE_INIT;
	struct err e = ERR_INIT;
	bool match = reference_parse(&r, image, len, &e) == 0 &&
	             ref_matches(&r, host, repository);

	reference_release(&r);
	return match;
}

/* ---- the workers ---- */

/* An event: into the ring (ferry events, the status page) and to the
 * Alerts that ask for it, with metadata (key, value, ..., NULL). */
static void
record_meta(struct daemon *d, enum event_severity sev,
            const struct config_object *o, const char *reason, const char *msg,
            const char *const *meta)
{
	struct notify_event ev = { 0 };
	struct snapshot *s;

	events_record(d->events, sev, config_kind_name(o->kind),
	              o->metadata.namespace, o->metadata.name, reason, msg);
	if (d->notify == NULL)
		return;
	s = daemon_snapshot(d);
	ev.kind = config_kind_name(o->kind);
	ev.api_version = o->api_version;
	ev.namespace_ = o->metadata.namespace;
	ev.name = o->metadata.name;
	ev.labels = &o->metadata.labels;
	ev.error = sev == EVENT_ERROR;
	ev.reason = reason;
	ev.message = msg;
	ev.metadata = meta;
	notify_event(d->notify, s->cfg, &ev);
	snapshot_release(s);
}

static void
record(struct daemon *d, enum event_severity sev, const struct config_object *o,
       const char *reason, const char *msg)
{
	record_meta(d, sev, o, reason, msg, NULL);
}

/* The Kustomizations that read GitRepository git at branch: a push there
 * syncs them at once, with the pushed commit as a hint. */
static void
enqueue_syncs_of(struct daemon *d, const struct snapshot *s,
                 const struct config_object *git, const char *branch,
                 const char *commit)
{
	for (size_t i = 0;
	     git && branch && i < config_count(s->cfg, CONFIG_KUSTOMIZATION);
	     i++) {
		const struct config_object *k =
		        config_get(s->cfg, CONFIG_KUSTOMIZATION, i);
		const char *b = pipeline_sync_branch(s->cfg, k);
		if (config_source_gitrepository(s->cfg, k) == git && b &&
		    strcmp(b, branch) == 0)
			daemon_route(d, s, k, QUEUE_DEPENDENCY, commit);
	}
}

/* The Kustomizations whose dependsOn names o: they may go on now. */
static void
enqueue_dependents(struct daemon *d, const struct snapshot *s,
                   const struct config_object *o)
{
	for (size_t i = 0; i < config_count(s->cfg, CONFIG_KUSTOMIZATION);
	     i++) {
		const struct config_object *k =
		        config_get(s->cfg, CONFIG_KUSTOMIZATION, i);
		const struct config_kustomization *ks = &k->u.kustomization;
		for (size_t j = 0; j < ks->n_depends_on; j++)
			if (strcmp(ks->depends_on[j].name, o->metadata.name) ==
			            0 &&
			    strcmp(ks->depends_on[j].namespace,
			           o->metadata.namespace) == 0)
				daemon_route(d, s, k, QUEUE_DEPENDENCY, NULL);
	}
}

/* "ns/name", for metric labels. */
static void
obj_label(char *out, size_t n, const struct config_object *o)
{
	snprintf(out, n, "%s/%s", o->metadata.namespace, o->metadata.name);
}

/* Runs the ImageRepository's stage; returns its rc and whether the tags
 * changed. */
static int
run_repository(struct daemon *d, struct pipeline_ctx *ctx,
               const struct snapshot *s, const struct config_object *o,
               struct queue_item *it, int64_t *next)
{
	struct pipeline_key k = { o->kind, o->metadata.namespace,
		                  o->metadata.name };
	struct pipeline_repo r;
	int64_t t0 = queue_now_ms();
	char label[600], n[32], msg[ERR_MSG_MAX + 64];
	bool fast = it->nhints > 0;
	int rc;

	obj_label(label, sizeof(label), o);
	if (fast)
		rc = pipeline_scan_tags(ctx, &k, (const char *const *)it->hints,
		                        it->nhints, &r);
	else
		rc = pipeline_scan(ctx, &k, &r);
	metrics_observe(d->metrics, "ferry_scan_duration_seconds",
	                (double)(queue_now_ms() - t0) / 1000.0, label, NULL);
	metrics_add(d->metrics, "ferry_scans_total", 1, label,
	            r.suspended ? "suspended"
	            : rc < 0    ? "error"
	            : fast      ? "webhook"
	                        : "ok",
	            NULL);
	if (rc == 0 && !r.suspended)
		metrics_set(d->metrics, "ferry_tags", (double)r.ntags, label,
		            NULL);
	if (rc < 0 && !(fast && rc == -ERR_NOTFOUND)) {
		record(d, EVENT_ERROR, o,
		       fast ? "TagConfirmFailed" : "ScanFailed", r.err.msg);
	} else if (r.changed) {
		snprintf(msg, sizeof(msg), "%s tag list changed: %s tags",
		         fast ? "webhook:" : "scan:",
		         log_num(n, (long long)r.ntags));
		record(d, EVENT_INFO, o, "TagsChanged", msg);
		/* Its policies run now. */
		size_t ri = snapshot_index(s, o);
		for (size_t i = 0; ri != SIZE_MAX && i < s->repo_policies[ri].n;
		     i++)
			daemon_enqueue(d,
			               config_get(s->cfg, CONFIG_IMAGEPOLICY,
			                          s->repo_policies[ri].v[i]),
			               0, QUEUE_DEPENDENCY, NULL, NULL);
	}
	/* After a webhook's confirmation, the full listing follows at once
	 * (in the background of the policy and the write-back, which were
	 * queued first) and wins if it disagrees. */
	if (fast)
		*next = 0;
	pipeline_repo_release(&r);
	return fast && rc == -ERR_NOTFOUND ? 0 : rc;
}

static int
run_policy(struct daemon *d, struct pipeline_ctx *ctx, const struct snapshot *s,
           const struct config_object *o)
{
	struct pipeline_key k = { o->kind, o->metadata.namespace,
		                  o->metadata.name };
	struct pipeline_policy p;
	char label[600], msg[ERR_MSG_MAX + 64];
	int rc = pipeline_select(ctx, &k, &p);

	obj_label(label, sizeof(label), o);
	if (rc < 0 && p.waiting) {
		/* Its repository's first scan will run it: not a failure. */
		rc = 0;
	} else if (rc < 0) {
		record(d, EVENT_ERROR, o, "SelectFailed", p.err.msg);
	} else if (p.changed && p.tag) {
		snprintf(msg, sizeof(msg), "latest image %s:%s%s%s%s%s",
		         p.image, p.tag, p.digest ? "@" : "",
		         p.digest ? p.digest : "", p.previous ? " (was " : "",
		         p.previous ? p.previous : "");
		if (p.previous)
			strncat(msg, ")", sizeof(msg) - strlen(msg) - 1);
		record(d, EVENT_INFO, o, "LatestImageChanged", msg);
		metrics_add(d->metrics, "ferry_policy_changes_total", 1, label,
		            NULL);
		size_t pi = snapshot_index(s, o);
		for (size_t i = 0;
		     pi != SIZE_MAX && i < s->policy_automations[pi].n; i++)
			daemon_enqueue(
			        d,
			        config_get(s->cfg, CONFIG_IMAGEUPDATEAUTOMATION,
			                   s->policy_automations[pi].v[i]),
			        0, QUEUE_DEPENDENCY, NULL, NULL);
	}
	pipeline_policy_release(&p);
	return rc;
}

static int
run_automation(struct daemon *d, struct pipeline_ctx *ctx,
               const struct snapshot *s, const struct config_object *o,
               struct queue_item *it, int64_t *next, unsigned *next_reason)
{
	struct pipeline_key k = { o->kind, o->metadata.namespace,
		                  o->metadata.name };
	struct pipeline_automation a;
	char label[600], msg[ERR_MSG_MAX + 128];
	int rc = pipeline_automate(ctx, &k, it->attempt + 1, &a);

	obj_label(label, sizeof(label), o);
	if (a.retry_after_ms > 0) {
		/* Lost a push race: the queue brings it back soon, apart
		 * from the failure backoff. */
		it->attempt++;
		*next = a.retry_after_ms;
		*next_reason = QUEUE_RETRY;
		metrics_add(d->metrics, "ferry_pushes_total", 1, label,
		            "conflict", NULL);
		snprintf(msg, sizeof(msg),
		         "push lost a race (attempt %d); "
		         "retrying in %ld ms",
		         a.attempts, a.retry_after_ms);
		record(d, EVENT_INFO, o, "PushConflict", msg);
		pipeline_automation_release(&a);
		return 0; /* not a failure: no backoff */
	}
	it->attempt = 0;
	switch (a.status) {
	case PIPELINE_PUSHED:
		metrics_add(d->metrics, "ferry_commits_total", 1, label, NULL);
		metrics_add(d->metrics, "ferry_pushes_total", 1, label,
		            "pushed", NULL);
		snprintf(msg, sizeof(msg), "pushed %.12s to %s (%zu change%s)",
		         a.commit, a.branch ? a.branch : "", a.changes.n,
		         a.changes.n == 1 ? "" : "s");
		{
			char rev[300];
			const char *meta[] = { "commit", a.commit, "revision",
				               rev,      "branch", a.branch,
				               NULL };
			snprintf(rev, sizeof(rev), "%s@sha1:%s",
			         a.branch ? a.branch : "", a.commit);
			record_meta(d, EVENT_INFO, o, "Pushed", msg, meta);
		}
		/* the commit reaches its targets now, not on an interval */
		enqueue_syncs_of(d, s, config_source_gitrepository(s->cfg, o),
		                 a.branch, a.commit);
		break;
	case PIPELINE_FAILED:
		metrics_add(d->metrics, "ferry_pushes_total", 1, label,
		            "failed", NULL);
		record(d, EVENT_ERROR, o, "AutomationFailed", a.err.msg);
		break;
	default:
		break;
	}
	pipeline_automation_release(&a);
	return rc;
}

static int
run_app(struct daemon *d, struct pipeline_ctx *ctx,
        const struct config_object *o, struct queue_item *it, int64_t *next,
        unsigned *next_reason)
{
	struct pipeline_key k = { o->kind, o->metadata.namespace,
		                  o->metadata.name };
	struct pipeline_app a;
	char msg[ERR_MSG_MAX + 128];
	int rc = pipeline_argocd(ctx, &k, it->attempt + 1, &a);

	if (a.retry_after_ms > 0) {
		it->attempt++;
		*next = a.retry_after_ms;
		*next_reason = QUEUE_RETRY;
		snprintf(msg, sizeof(msg),
		         "push lost a race (attempt %d); retrying in %ld ms",
		         a.attempts, a.retry_after_ms);
		record(d, EVENT_INFO, o, "PushConflict", msg);
		pipeline_app_release(&a);
		return 0;
	}
	it->attempt = 0;
	if (a.status == PIPELINE_PUSHED) {
		snprintf(msg, sizeof(msg), "pushed %.12s to %s (%zu change%s)",
		         a.commit, a.branch ? a.branch : "", a.changes.n,
		         a.changes.n == 1 ? "" : "s");
		record(d, EVENT_INFO, o, "Pushed", msg);
	}
	if (rc < 0)
		record(d, EVENT_ERROR, o, "ApplicationFailed", a.err.msg);
	pipeline_app_release(&a);
	return rc;
}

static int
run_kustomization(struct daemon *d, struct pipeline_ctx *ctx,
                  const struct snapshot *s, const struct config_object *o,
                  struct queue_item *it, int64_t *next, unsigned *next_reason)
{
	struct pipeline_key k = { o->kind, o->metadata.namespace,
		                  o->metadata.name };
	struct pipeline_sync_opts opts = PIPELINE_SYNC_OPTS_INIT;
	struct pipeline_sync r;
	char label[600], msg[ERR_MSG_MAX + 1024];
	const char *reason;
	int rc;

	opts.attempt = it->attempt + 1;
	opts.force = (it->reasons & QUEUE_MANUAL) != 0;
	rc = pipeline_sync(ctx, &k, &opts, &r);
	obj_label(label, sizeof(label), o);
	if (r.status == PIPELINE_SYNC_UNMANAGED) {
		pipeline_sync_release(&r);
		return rc; /* Flux's: on its interval only to notice a reload */
	}
	if (r.status == PIPELINE_SYNC_WAITING) {
		/* a dependency or the health check: soon, no backoff */
		it->attempt++;
		*next = r.retry_after_ms;
		*next_reason = QUEUE_RETRY;
		pipeline_sync_release(&r);
		return 0;
	}
	it->attempt = 0;
	reason = pipeline_sync_event(msg, sizeof(msg), &r);
	metrics_add(d->metrics, "ferry_syncs_total", 1, label,
	            reason == NULL                        ? "unchanged"
	            : r.status == PIPELINE_SYNC_FAILED    ? "failed"
	            : r.status == PIPELINE_SYNC_CORRECTED ? "corrected"
	                                                  : "applied",
	            NULL);
	if (reason) {
		const char *meta[] = { "revision", r.revision, NULL };
		record_meta(d,
		            r.status == PIPELINE_SYNC_FAILED ? EVENT_ERROR
		                                             : EVENT_INFO,
		            o, reason, msg, r.revision ? meta : NULL);
	}
	if (rc == 0 && (r.status == PIPELINE_SYNC_APPLIED ||
	                r.status == PIPELINE_SYNC_CORRECTED ||
	                r.status == PIPELINE_SYNC_UP_TO_DATE))
		enqueue_dependents(d, s, o);
	pipeline_sync_release(&r);
	return rc;
}

/* A manual reconcile is recorded as handled, as Flux's
 * lastHandledReconcileAt. */
static void
mark_handled(struct daemon *d, const struct config_object *o)
{
	cJSON *doc = NULL;
	struct err e = ERR_INIT;
	time_t t = time(NULL);
	struct tm tm;
	char now[32];

	if (state_get(d->st, config_kind_name(o->kind), o->metadata.namespace,
	              o->metadata.name, &doc, &e) < 0)
		doc = cJSON_CreateObject();
	if (doc == NULL)
		return;
	gmtime_r(&t, &tm);
	strftime(now, sizeof(now), "%Y-%m-%dT%H:%M:%SZ", &tm);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastHandledReconcileAt");
	cJSON_AddStringToObject(doc, "lastHandledReconcileAt", now);
	state_put(d->st, config_kind_name(o->kind), o->metadata.namespace,
	          o->metadata.name, doc, &e);
	cJSON_Delete(doc);
}

static void
run_item(struct daemon *d, struct queue_item *it)
{
	struct snapshot *s = daemon_snapshot(d);
	const struct config_object *o = config_find(
	        s->cfg, (enum config_kind)it->kind, it->namespace_, it->name);
	struct pipeline_ctx ctx = PIPELINE_CTX_INIT;
	struct fleet_fence_ctx fence = { d, s };
	int64_t next, t0 = queue_now_ms();
	unsigned next_reason = QUEUE_INTERVAL;
	int rc = 0;

	if (o == NULL || !queued_kind(o->kind)) {
		/* Removed by a reload since it was queued. */
		snapshot_release(s);
		queue_done(d->q, it, -1, 0);
		return;
	}
	next = with_jitter(interval_ms(s->cfg, o));
	if (daemon_suspended(d, o->kind, it->namespace_, it->name)) {
		log_debug(MOD, "suspended", "object", it->name);
		goto done;
	}
	/* In a fleet, only the member that owns the object runs it. */
	if (!daemon_fleet_gate(d, s, o, &next, &next_reason))
		goto done;
	daemon_fleet_pull(d, s, o);
	atomic_fetch_add(&d->busy, 1);
	ctx.cfg = s->cfg;
	ctx.st = d->st;
	ctx.registry = d->registry;
	ctx.pool = d->pool;
	ctx.before_push = daemon_fleet_fence;
	ctx.before_push_payload = &fence;
	ctx.kustomize = d->o.kustomize;
	switch (o->kind) {
	case CONFIG_IMAGEREPOSITORY:
		rc = run_repository(d, &ctx, s, o, it, &next);
		break;
	case CONFIG_IMAGEPOLICY:
		rc = run_policy(d, &ctx, s, o);
		break;
	case CONFIG_IMAGEUPDATEAUTOMATION:
		rc = run_automation(d, &ctx, s, o, it, &next, &next_reason);
		break;
	case CONFIG_KUSTOMIZATION:
		rc = run_kustomization(d, &ctx, s, o, it, &next, &next_reason);
		break;
	case CONFIG_APPLICATION:
		rc = run_app(d, &ctx, o, it, &next, &next_reason);
		break;
	default:
		break;
	}
	atomic_fetch_sub(&d->busy, 1);
	daemon_fleet_share(d, s, o);
	metrics_observe(d->metrics, "ferry_reconcile_duration_seconds",
	                (double)(queue_now_ms() - t0) / 1000.0,
	                config_kind_name(o->kind), NULL);
	if (it->reasons & QUEUE_MANUAL)
		mark_handled(d, o);
	if (rc < 0) {
		char n[32];
		it->failures++;
		next = o->kind == CONFIG_KUSTOMIZATION
		               ? sync_backoff_ms(o, it->failures)
		               : backoff_ms(d, it->failures);
		next_reason = QUEUE_RETRY;
		log_warn(MOD, "retry_scheduled", "kind",
		         config_kind_name(o->kind), "object", it->name,
		         "after_ms", log_num(n, next));
	} else {
		it->failures = 0;
	}
done:
	snapshot_release(s);
	queue_done(d->q, it, next, next_reason);
}

static void *
worker(void *arg)
{
	struct daemon *d = arg;
	struct queue_item *it;

	while (queue_take(d->q, &it) == 0)
		run_item(d, it);
	return NULL;
}

/* ---- reload ---- */

static void
reload(struct daemon *d)
{
	struct snapshot *fresh = NULL, *old;
	struct err err = ERR_INIT;

	log_info(MOD, "reload_started");
	if (snapshot_load(&fresh, d, &err) < 0) {
		log_error(MOD, "reload_refused", "err", err.msg, "advice",
		          "fix the files and send SIGHUP again; the previous "
		          "configuration keeps running");
		events_record(d->events, EVENT_ERROR, "Config", "", "",
		              "ReloadRefused", err.msg);
		return;
	}
	pthread_mutex_lock(&d->snap_mu);
	old = d->snap;
	d->snap = fresh;
	pthread_mutex_unlock(&d->snap_mu);
	/* Objects gone from the configuration leave the queue. */
	for (int k = 0; k < CONFIG_KIND_COUNT; k++) {
		if (!queued_kind((enum config_kind)k))
			continue;
		for (size_t i = 0; i < config_count(old->cfg, k); i++) {
			const struct config_object *o =
			        config_get(old->cfg, k, i);
			if (config_find(fresh->cfg, k, o->metadata.namespace,
			                o->metadata.name))
				continue;
			queue_remove(d->q, k, o->metadata.namespace,
			             o->metadata.name);
			log_info(MOD, "object_removed", "kind",
			         config_kind_name(k), "object",
			         o->metadata.name);
		}
	}
	/* Added and changed objects take effect now; unchanged ones find
	 * nothing to do (an automation skips a run whose inputs and remote
	 * head are those of its last good run). */
	enqueue_all(d, fresh, QUEUE_RELOAD);
	snapshot_release(old);
	log_info(MOD, "reloaded");
	events_record(d->events, EVENT_INFO, "Config", "", "", "Reloaded",
	              "configuration reloaded");
}

/* ---- metrics ---- */

static double
gauge_depth(void *payload)
{
	return (double)queue_depth(((struct daemon *)payload)->q);
}

static double
gauge_running(void *payload)
{
	return (double)queue_running(((struct daemon *)payload)->q);
}

static double
gauge_etcd_requests(void *payload)
{
	struct daemon *d = payload;

	return d->fleet ? (double)fleet_requests(d->fleet) : 0;
}

static int
metrics_declare(struct daemon *d)
{
	struct metrics *m = d->metrics;
	int rc = 0;

#define F(...)                                                                 \
	do {                                                                   \
		if (rc == 0)                                                   \
			rc = metrics_family(m, __VA_ARGS__);                   \
	} while (0)
	F("ferry_build_info", METRIC_GAUGE, "ferry's version.", "version",
	  NULL);
	F("ferry_scans_total", METRIC_COUNTER,
	  "Registry scans by ImageRepository and result (ok, webhook: a "
	  "webhook's tag confirmed, error, suspended).",
	  "repository", "result", NULL);
	F("ferry_scan_duration_seconds", METRIC_HISTOGRAM,
	  "Time a scan took, by ImageRepository.", "repository", NULL);
	F("ferry_tags", METRIC_GAUGE, "Tags known per ImageRepository.",
	  "repository", NULL);
	F("ferry_policy_changes_total", METRIC_COUNTER,
	  "Times an ImagePolicy's latest image changed.", "policy", NULL);
	F("ferry_commits_total", METRIC_COUNTER,
	  "Commits pushed by ImageUpdateAutomation.", "automation", NULL);
	F("ferry_pushes_total", METRIC_COUNTER,
	  "Push attempts by ImageUpdateAutomation and result (pushed, "
	  "conflict, failed).",
	  "automation", "result", NULL);
	F("ferry_webhook_requests_total", METRIC_COUNTER,
	  "Webhook requests by receiver type and HTTP status.", "type", "code",
	  NULL);
	F("ferry_reconcile_duration_seconds", METRIC_HISTOGRAM,
	  "Time a run of one object took, by kind.", "kind", NULL);
	F("ferry_registry_requests_total", METRIC_COUNTER,
	  "Requests to registries by host and HTTP status (0: no answer).",
	  "registry", "code", NULL);
	F("ferry_registry_throttled_total", METRIC_COUNTER,
	  "Requests a registry answered with 429 Too Many Requests.",
	  "registry", NULL);
	F("ferry_syncs_total", METRIC_COUNTER,
	  "Runs of a Kustomization by result (applied, corrected: drift, "
	  "unchanged, failed).",
	  "kustomization", "result", NULL);
	F("ferry_notifications_total", METRIC_COUNTER,
	  "Alert notifications by Provider type and result (sent, failed).",
	  "type", "result", NULL);
#undef F
	if (rc == 0)
		rc = metrics_gauge_fn(m, "ferry_queue_depth",
		                      "Objects due now that no worker has "
		                      "taken yet.",
		                      gauge_depth, d);
	if (rc == 0)
		rc = metrics_gauge_fn(m, "ferry_queue_running",
		                      "Objects being run now.", gauge_running,
		                      d);
	if (rc == 0)
		rc = metrics_gauge_fn(m, "ferry_fleet_etcd_requests",
		                      "etcd requests made since the start (0 "
		                      "without a fleet).",
		                      gauge_etcd_requests, d);
	if (rc == 0)
		metrics_set(m, "ferry_build_info", 1, FERRY_VERSION, NULL);
	return rc;
}

/* Every Alert request the notifier sent, for the metrics. */
static void
observe_notification(const char *type, const char *result, void *payload)
{
	struct daemon *d = payload;

	metrics_add(d->metrics, "ferry_notifications_total", 1, type, result,
	            NULL);
}

/* Every request the registry client makes, for the registry metrics. */
static void
observe_request(const char *host, long status, void *payload)
{
	struct daemon *d = payload;
	char code[16];

	snprintf(code, sizeof(code), "%ld", status);
	metrics_add(d->metrics, "ferry_registry_requests_total", 1, host, code,
	            NULL);
	if (status == 429)
		metrics_add(d->metrics, "ferry_registry_throttled_total", 1,
		            host, NULL);
}

/* ---- running ---- */

static void
options_defaults(struct daemon_options *o)
{
	if (o->workers <= 0)
		o->workers = DAEMON_DEFAULT_WORKERS;
	if (o->workers > DAEMON_MAX_WORKERS)
		o->workers = DAEMON_MAX_WORKERS;
	if (o->shutdown_timeout_ms <= 0)
		o->shutdown_timeout_ms = DAEMON_DEFAULT_SHUTDOWN_MS;
	if (o->backoff_min_ms <= 0)
		o->backoff_min_ms = DAEMON_DEFAULT_BACKOFF_MIN_MS;
	if (o->backoff_max_ms <= 0)
		o->backoff_max_ms = DAEMON_DEFAULT_BACKOFF_MAX_MS;
	if (o->backoff_max_ms < o->backoff_min_ms)
		o->backoff_max_ms = o->backoff_min_ms;
	if (o->listen == NULL)
		o->listen = DAEMON_DEFAULT_LISTEN;
}

/* Waits for the workers at most until deadline_ms; true when all ended. */
static bool
join_workers(struct daemon *d, int64_t deadline_ms)
{
	for (int i = 0; i < d->nworkers; i++) {
		for (;;) {
			struct timespec ts;
			int64_t left = deadline_ms - queue_now_ms();
			clock_gettime(CLOCK_REALTIME, &ts);
			if (left < 0)
				left = 0;
			ts.tv_sec += (time_t)(left / 1000);
			ts.tv_nsec += (long)(left % 1000) * 1000000L;
			if (ts.tv_nsec >= 1000000000L) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000000000L;
			}
			int rc = pthread_timedjoin_np(d->workers[i], NULL, &ts);
			if (rc == 0)
				break;
			if (rc == ETIMEDOUT)
				return false;
		}
	}
	d->nworkers = 0;
	return true;
}

int
daemon_run(const struct daemon_options *opts, struct err *err)
{
	struct daemon *d = calloc(1, sizeof(*d));
	struct registry_options ro = REGISTRY_OPTIONS_INIT;
	sigset_t sigs;
	char n[32];
	int rc = 0, sig;

	if (d == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	d->o = *opts;
	options_defaults(&d->o);
	d->started_ms = queue_now_ms();
	pthread_mutex_init(&d->snap_mu, NULL);
	/* Signals go to this thread only, through sigwait: every thread
	 * started below inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGHUP);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);
	if ((rc = events_new(&d->events, err)) < 0 ||
	    (rc = metrics_new(&d->metrics, err)) < 0 ||
	    (rc = queue_new(&d->q, err)) < 0)
		goto out;
	if (receiver_dedup_new(&d->dedup, DAEMON_DEDUP_WINDOW_MS, 0) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (metrics_declare(d) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = snapshot_load(&d->snap, d, err)) < 0)
		goto out;
	if ((rc = state_open(&d->st, d->o.state_dir, err)) < 0)
		goto out;
	ro.observe = observe_request;
	ro.observe_payload = d;
	if ((rc = registry_client_new(&d->registry, &ro, err)) < 0 ||
	    (rc = pool_new(&d->pool, (unsigned)d->o.workers, err)) < 0)
		goto out;
	{
		struct notify_options no = NOTIFY_OPTIONS_INIT;
		no.observe = observe_notification;
		no.payload = d;
		if ((rc = notify_new(&d->notify, &no, err)) < 0)
			goto out;
	}
	if ((rc = daemon_fleet_start(d, err)) < 0)
		goto out;
	if ((rc = control_start(&d->control, d, err)) < 0 ||
	    (rc = server_start(&d->http, d, err)) < 0)
		goto out;
	for (int i = 0; i < d->o.workers; i++) {
		if (pthread_create(&d->workers[i], NULL, worker, d) != 0) {
			rc = err_set(err, ERR_NOMEM,
			             "cannot start worker thread %d", i + 1);
			goto out;
		}
		d->nworkers++;
	}
	enqueue_all(d, d->snap, QUEUE_RELOAD);
	atomic_store(&d->ready, true);
	log_info(MOD, "started", "version", FERRY_VERSION, "workers",
	         log_num(n, d->o.workers), "listen", d->o.listen, "state_dir",
	         d->o.state_dir, "member",
	         d->fleet ? fleet_member(d->fleet) : "alone");
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig == SIGHUP) {
			reload(d);
			continue;
		}
		log_info(MOD, "stopping", "signal",
		         sig == SIGTERM ? "SIGTERM" : "SIGINT");
		break;
	}
out:
	atomic_store(&d->ready, false);
	atomic_store(&d->stopping, true);
	/* No new work: the listeners go first, then the queue; the runs in
	 * flight finish (a push included), each writing its state. */
	server_stop(d->http);
	d->http = NULL;
	if (d->q)
		queue_shutdown(d->q);
	if (d->events)
		events_wake(d->events);
	control_stop(d->control);
	d->control = NULL;
	if (d->nworkers > 0 &&
	    !join_workers(d, queue_now_ms() + d->o.shutdown_timeout_ms)) {
		log_error(MOD, "shutdown_timeout", "running",
		          log_num(n, atomic_load(&d->busy)), "advice",
		          "runs still in flight were cut off; their next run "
		          "picks up from the remote head");
		/* The threads still hold the daemon: leave it to the exit. */
		return rc;
	}
	/* The runs are over: leave the fleet (the lease goes, and with it
	 * every unit, so the other members take over at once). */
	daemon_fleet_stop(d);
	/* what the last runs had to say gets a few seconds to go out */
	notify_free(d->notify, DAEMON_NOTIFY_DRAIN_MS);
	d->notify = NULL;
	pool_free(d->pool);
	registry_client_free(d->registry);
	state_free(d->st);
	snapshot_release(d->snap);
	queue_free(d->q);
	metrics_free(d->metrics);
	events_free(d->events);
	receiver_dedup_free(d->dedup);
	pthread_mutex_destroy(&d->snap_mu);
	free(d);
	if (rc == 0)
		log_info(MOD, "stopped");
	return rc;
}
