/*
 * member.c - the daemon as a member of a fleet (core/fleet/fleet.h):
 * which unit an object belongs to, whether this member may run it, the
 * shared documents pulled before and written after a run, the fence
 * before a push, and webhooks routed to the owner.  Without --etcd-
 * endpoints every call lets the daemon run everything itself, as before.
 */
#include "daemon_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "config/argocd.h"

#define MOD "fleet"
#define FLEET_WAIT_MS 1000        /* the previous owner has not let go */
#define FLEET_UNAVAILABLE_MS 2000 /* etcd cannot be reached */

int
daemon_unit(struct buf *out, const struct snapshot *s,
            const struct config_object *o)
{
	const struct config_object *r = o;

	switch (o->kind) {
	case CONFIG_IMAGEUPDATEAUTOMATION:
	case CONFIG_KUSTOMIZATION: {
		/* A Kustomization runs where the automations that push to
		 * its remote run: the push's sync follows it there, and the
		 * clone is warm. */
		const struct config_object *g =
		        config_source_gitrepository(s->cfg, o);
		if (g)
			return buf_addf(out, "git:%s", g->u.gitrepository.url);
		break;
	}
	case CONFIG_IMAGEPOLICY:
		/* A policy reads its repository's tags from the local state:
		 * it runs where the scan runs. */
		r = config_policy_repository(s->cfg, o);
		if (r == NULL)
			r = o;
		break;
	default:
		break;
	}
	return buf_addf(out, "%s:%s/%s",
	                r->kind == CONFIG_IMAGEREPOSITORY ? "repo" : "object",
	                r->metadata.namespace, r->metadata.name);
}

void
daemon_owner(struct daemon *d, const struct snapshot *s,
             const struct config_object *o, char out[64])
{
	struct buf u = BUF_INIT;

	out[0] = '\0';
	if (d->fleet == NULL)
		return;
	if (daemon_unit(&u, s, o) == 0 && buf_ok(&u)) {
		char id[FLEET_MAX_ID];
		fleet_owner_of(d->fleet, u.ptr, id);
		snprintf(out, 64, "%s", id);
	}
	buf_release(&u);
}

bool
daemon_fleet_gate(struct daemon *d, const struct snapshot *s,
                  const struct config_object *o, int64_t *next,
                  unsigned *next_reason)
{
	struct buf u = BUF_INIT;
	struct err e = ERR_INIT;
	bool run = false;

	if (d->fleet == NULL)
		return true;
	if (daemon_unit(&u, s, o) < 0 || !buf_ok(&u)) {
		buf_release(&u);
		*next = FLEET_UNAVAILABLE_MS;
		*next_reason = QUEUE_RETRY;
		return false;
	}
	switch (fleet_claim(d->fleet, u.ptr, &e)) {
	case FLEET_MINE:
		run = true;
		break;
	case FLEET_NOT_MINE:
		/* Someone else's: asked again at the interval, and at once
		 * when the members change. */
		break;
	case FLEET_WAIT:
		*next = FLEET_WAIT_MS;
		*next_reason = QUEUE_RETRY;
		break;
	case FLEET_UNAVAILABLE:
		*next = FLEET_UNAVAILABLE_MS;
		*next_reason = QUEUE_RETRY;
		break;
	}
	buf_release(&u);
	return run;
}

/* Copies the shared document of kind/ns/name into the local state. */
static void
pull_one(struct daemon *d, const char *kind, const char *ns, const char *name)
{
	struct err e = ERR_INIT;
	cJSON *doc = NULL;

	if (fleet_state_get(d->fleet, kind, ns, name, &doc, &e) == 0) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "writer");
		if (state_put(d->st, kind, ns, name, doc, &e) < 0)
			log_warn(MOD, "pull_failed", "object", name, "err",
			         e.msg);
	}
	cJSON_Delete(doc);
}

void
daemon_fleet_pull(struct daemon *d, const struct snapshot *s,
                  const struct config_object *o)
{
	size_t ai;

	if (d->fleet != NULL && o->kind == CONFIG_KUSTOMIZATION) {
		/* its inventory (a takeover must know what it wrote) and its
		 * dependencies' status, which other members may keep */
		const struct config_kustomization *k = &o->u.kustomization;
		pull_one(d, config_kind_name(o->kind), o->metadata.namespace,
		         o->metadata.name);
		for (size_t i = 0; i < k->n_depends_on; i++)
			pull_one(d, config_kind_name(o->kind),
			         k->depends_on[i].namespace,
			         k->depends_on[i].name);
		return;
	}
	if (d->fleet == NULL || o->kind != CONFIG_IMAGEUPDATEAUTOMATION)
		return;
	/* Its own last push (a takeover must not repeat it) ... */
	pull_one(d, config_kind_name(o->kind), o->metadata.namespace,
	         o->metadata.name);
	/* ... and the latest image of each policy it reads, which the
	 * policies' owners wrote. */
	ai = snapshot_index(s, o);
	for (size_t pi = 0; pi < config_count(s->cfg, CONFIG_IMAGEPOLICY);
	     pi++) {
		const struct idx_list *l = &s->policy_automations[pi];
		for (size_t k = 0; k < l->n; k++) {
			const struct config_object *p;
			if (l->v[k] != ai)
				continue;
			p = config_get(s->cfg, CONFIG_IMAGEPOLICY, pi);
			pull_one(d, "ImagePolicy", p->metadata.namespace,
			         p->metadata.name);
		}
	}
}

void
daemon_fleet_share(struct daemon *d, const struct snapshot *s,
                   const struct config_object *o)
{
	struct buf u = BUF_INIT;
	struct err e = ERR_INIT;
	cJSON *doc = NULL;

	if (d->fleet == NULL || (o->kind != CONFIG_IMAGEPOLICY &&
	                         o->kind != CONFIG_IMAGEUPDATEAUTOMATION &&
	                         o->kind != CONFIG_KUSTOMIZATION))
		return;
	if (state_get(d->st, config_kind_name(o->kind), o->metadata.namespace,
	              o->metadata.name, &doc, &e) < 0 ||
	    daemon_unit(&u, s, o) < 0 || !buf_ok(&u))
		goto out;
	/* Only while this member holds the unit: a record of a push made
	 * by a member that lost it meanwhile is not written. */
	if (fleet_state_put(d->fleet, config_kind_name(o->kind),
	                    o->metadata.namespace, o->metadata.name, doc, u.ptr,
	                    &e) < 0)
		log_warn(MOD, "share_refused", "object", o->metadata.name,
		         "err", e.msg);
out:
	cJSON_Delete(doc);
	buf_release(&u);
}

int
daemon_fleet_fence(void *payload, const struct config_object *automation,
                   struct err *err)
{
	struct fleet_fence_ctx *fc = payload;
	struct buf u = BUF_INIT;
	int rc;

	if (fc->d->fleet == NULL)
		return 0;
	if (daemon_unit(&u, fc->s, automation) < 0 || !buf_ok(&u)) {
		buf_release(&u);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	rc = fleet_fence(fc->d->fleet, u.ptr, err);
	if (rc < 0) {
		log_warn(MOD, "push_fenced", "member",
		         fleet_member(fc->d->fleet), "object",
		         automation->metadata.name, "unit", u.ptr, "reason",
		         err->msg);
		events_record(fc->d->events, EVENT_ERROR,
		              config_kind_name(automation->kind),
		              automation->metadata.namespace,
		              automation->metadata.name, "PushFenced",
		              err->msg);
	}
	buf_release(&u);
	return rc;
}

int
daemon_route(struct daemon *d, const struct snapshot *s,
             const struct config_object *o, unsigned reason, const char *hint)
{
	char owner[64];
	struct err e = ERR_INIT;
	cJSON *w;
	char *text;
	int rc;

	daemon_owner(d, s, o, owner);
	if (d->fleet == NULL || owner[0] == '\0' ||
	    strcmp(owner, fleet_member(d->fleet)) == 0)
		return daemon_enqueue(d, o, 0, reason, hint, NULL);
	/* Verified here, run there. */
	w = cJSON_CreateObject();
	cJSON_AddStringToObject(w, "kind", config_kind_name(o->kind));
	cJSON_AddStringToObject(w, "namespace", o->metadata.namespace);
	cJSON_AddStringToObject(w, "name", o->metadata.name);
	cJSON_AddNumberToObject(w, "reason", reason);
	if (hint)
		cJSON_AddStringToObject(w, "hint", hint);
	text = cJSON_PrintUnformatted(w);
	cJSON_Delete(w);
	if (text == NULL)
		return -ERR_NOMEM;
	rc = fleet_handoff(d->fleet, owner, text, &e);
	if (rc < 0)
		log_warn(MOD, "handoff_failed", "to", owner, "object",
		         o->metadata.name, "err", e.msg);
	else
		log_debug(MOD, "handed_off", "to", owner, "object",
		          o->metadata.name);
	cJSON_free(text);
	return rc;
}

/* ---- what the fleet tells the daemon ---- */

static void
on_members_changed(void *payload)
{
	struct daemon *d = payload;
	struct snapshot *s = daemon_snapshot(d);
	static const enum config_kind kinds[] = { CONFIG_IMAGEREPOSITORY,
		                                  CONFIG_IMAGEPOLICY,
		                                  CONFIG_IMAGEUPDATEAUTOMATION,
		                                  CONFIG_KUSTOMIZATION,
		                                  CONFIG_APPLICATION };

	/* Every object looks at its ownership again (claim or release);
	 * the ones that stay find nothing new to do.  Applications nothing
	 * updates are not run. */
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++)
		for (size_t i = 0; i < config_count(s->cfg, kinds[k]); i++) {
			const struct config_object *o =
			        config_get(s->cfg, kinds[k], i);

			if (o->kind != CONFIG_APPLICATION ||
			    config_argocd_unit_for(s->cfg, o))
				daemon_enqueue(d, o, 0, QUEUE_RELOAD, NULL,
				               NULL);
		}
	snapshot_release(s);
}

static void
on_state_changed(const char *kind, const char *ns, const char *name,
                 void *payload)
{
	struct daemon *d = payload;
	struct snapshot *s;
	const struct config_object *p;
	size_t pi;

	if (strcmp(kind, "ImagePolicy") != 0)
		return;
	/* Another member moved a policy's latest image: the automations
	 * that read it run (where they are owned). */
	s = daemon_snapshot(d);
	p = config_find(s->cfg, CONFIG_IMAGEPOLICY, ns, name);
	pi = p ? snapshot_index(s, p) : SIZE_MAX;
	for (size_t i = 0; pi != SIZE_MAX && i < s->policy_automations[pi].n;
	     i++)
		daemon_enqueue(d,
		               config_get(s->cfg, CONFIG_IMAGEUPDATEAUTOMATION,
		                          s->policy_automations[pi].v[i]),
		               0, QUEUE_DEPENDENCY, NULL, NULL);
	snapshot_release(s);
}

static void
on_handoff(const char *json, size_t len, void *payload)
{
	struct daemon *d = payload;
	struct err e = ERR_INIT;
	cJSON *w = NULL;
	const char *kind, *ns, *name;
	const cJSON *reason;
	struct snapshot *s;
	const struct config_object *o = NULL;

	if (json_parse(&w, json, len, "fleet hand-off", &e) < 0)
		return;
	kind = json_get_string(w, "kind");
	ns = json_get_string(w, "namespace");
	name = json_get_string(w, "name");
	reason = cJSON_GetObjectItemCaseSensitive(w, "reason");
	s = daemon_snapshot(d);
	for (int k = 0; kind && ns && name && k < CONFIG_KIND_COUNT; k++)
		if (strcmp(config_kind_name(k), kind) == 0)
			o = config_find(s->cfg, k, ns, name);
	if (o)
		daemon_enqueue(d, o, 0,
		               cJSON_IsNumber(reason)
		                       ? (unsigned)reason->valueint
		                       : QUEUE_WEBHOOK,
		               json_get_string(w, "hint"), NULL);
	snapshot_release(s);
	cJSON_Delete(w);
}

/*
 * This member has just taken unit over.  For an ImageRepository, its tag
 * list here is from before (another member scanned since, or this one is
 * new): it is forgotten, so the policies on it wait for this member's own
 * scan instead of selecting from old tags, and their documents come from
 * the fleet, so a policy's latest image is the one the fleet last shared.
 * Without this, a member restarted with an old list would move a policy
 * back to an older tag, and the automation would push it.
 */
static void
on_claimed(const char *unit, void *payload)
{
	struct daemon *d = payload;
	struct err e = ERR_INIT;
	struct snapshot *s;
	const struct config_object *r;
	const char *slash;
	char ns[256];

	if (strncmp(unit, "repo:", 5) != 0 ||
	    (slash = strchr(unit + 5, '/')) == NULL ||
	    (size_t)(slash - (unit + 5)) >= sizeof(ns))
		return;
	memcpy(ns, unit + 5, (size_t)(slash - (unit + 5)));
	ns[slash - (unit + 5)] = '\0';
	if (state_tags_forget(d->st, ns, slash + 1, &e) < 0)
		log_warn(MOD, "forget_failed", "unit", unit, "err", e.msg);
	s = daemon_snapshot(d);
	for (size_t i = 0; i < config_count(s->cfg, CONFIG_IMAGEPOLICY); i++) {
		const struct config_object *p =
		        config_get(s->cfg, CONFIG_IMAGEPOLICY, i);
		r = config_policy_repository(s->cfg, p);
		if (r && strcmp(r->metadata.namespace, ns) == 0 &&
		    strcmp(r->metadata.name, slash + 1) == 0)
			pull_one(d, "ImagePolicy", p->metadata.namespace,
			         p->metadata.name);
	}
	snapshot_release(s);
}

int
daemon_fleet_start(struct daemon *d, struct err *err)
{
	struct fleet_options fo = FLEET_OPTIONS_INIT;
	struct fleet_callbacks cb = { on_members_changed, on_state_changed,
		                      on_handoff,         NULL,
		                      on_claimed,         d };

	if (d->o.netcd_endpoints == 0)
		return 0;
	fo.etcd.endpoints = d->o.etcd_endpoints;
	fo.etcd.nendpoints = d->o.netcd_endpoints;
	fo.etcd.cacert = d->o.etcd_cacert;
	fo.etcd.cert = d->o.etcd_cert;
	fo.etcd.key = d->o.etcd_key;
	fo.etcd.user = d->o.etcd_user;
	fo.etcd.password = d->o.etcd_password;
	fo.cluster = d->o.cluster;
	fo.member_id = d->o.member_id;
	fo.advertise = d->o.listen;
	fo.ttl = d->o.lease_ttl;
	return fleet_start(&d->fleet, &fo, &cb, err);
}

void
daemon_fleet_stop(struct daemon *d)
{
	fleet_stop(d->fleet);
	d->fleet = NULL;
}
