/*
 * status.c - what the daemon says about one object, in one place, so that
 * `ferry get` (control.c) and the status page (ui.c) cannot disagree: the
 * document its stage stored in the state (conditions, latestRef, last
 * scan, last push, the histories) with the daemon's own view beside it
 * (suspended, next run, Reconciling while a worker runs it); and the
 * suspend/resume action both of them offer.  It reads and enqueues; it
 * never runs a stage.
 */
#include "daemon_int.h"

#include <stdio.h>
#include <string.h>

#include "base/json.h"

/*
 * The status is built for every object of a status page: the stored
 * document is read where it lies (state_read) and only the status's
 * fields are copied, keys are string literals added without a copy
 * (cJSON_AddItemToObjectCS).
 */
static void
put(cJSON *out, const char *key, cJSON *v)
{
	if (v && !cJSON_AddItemToObjectCS(out, key, v))
		cJSON_Delete(v);
}

static void
put_string(cJSON *out, const char *key, const char *s)
{
	put(out, key, cJSON_CreateString(s));
}

/* A copy of v under key; strings without copying v's own key. */
static void
put_copy(cJSON *out, const char *key, const cJSON *v)
{
	if (cJSON_IsString(v))
		put_string(out, key, v->valuestring);
	else if (v)
		put(out, key, cJSON_Duplicate(v, 1));
}

/* The Ready condition's status, reason, message and transition time. */
static void
ready_of(cJSON *out, const cJSON *doc)
{
	const cJSON *c;

	cJSON_ArrayForEach(c,
	                   cJSON_GetObjectItemCaseSensitive(doc, "conditions"))
	{
		const char *t = json_get_string(c, "type");
		const char *st = json_get_string(c, "status");
		if (t == NULL || strcmp(t, "Ready") != 0)
			continue;
		put_string(out, "ready", st ? st : "Unknown");
		put_copy(out, "reason",
		         cJSON_GetObjectItemCaseSensitive(c, "reason"));
		put_copy(out, "message",
		         cJSON_GetObjectItemCaseSensitive(c, "message"));
		put_copy(out, "lastTransitionTime",
		         cJSON_GetObjectItemCaseSensitive(
		                 c, "lastTransitionTime"));
		return;
	}
	put_string(out, "ready", "Unknown");
	put_string(out, "message", "not reconciled yet");
}

/* The fields of a stored document the status shows, in this order; the
 * ones a brief status keeps too. */
static const struct {
	const char *key;
	bool brief;
} fields[] = {
	{ "image", false },
	{ "canonicalImageName", false },
	{ "lastScanResult", false },
	{ "lastScanError", false },
	{ "lastScanErrorTime", false },
	{ "latestRef", false },
	{ "observedPreviousRef", false },
	{ "history", true },
	{ "lastPushCommit", false },
	{ "lastPushTime", false },
	{ "pushHistory", false },
	{ "lastAutomationRunTime", false },
	{ "observedPolicies", false },
	{ "lastHandledReconcileAt", false },
	/* Kustomization */
	{ "lastAppliedRevision", true },
	{ "lastAttemptedRevision", false },
	{ "lastAppliedTime", false },
	{ "lastFailure", false },
	{ "lastSync", false },
	{ "lastDrift", false },
	{ "healthPending", false },
	{ "failures", false },
	{ "targets", false },
	{ "inventory", false },
	{ "lastSuccessTime", true },
	/* Argo CD Application */
	{ "images", false },
	{ "target", false },
	{ "lastPushBranch", false },
	{ "conditions", false },
};
#define NFIELDS (sizeof(fields) / sizeof(*fields))

struct reading {
	cJSON *out;
	enum daemon_status_detail detail;
	bool found;
};

/* state_read's callback: copies the status's part of the stored doc. */
static void
read_doc(const cJSON *doc, void *payload)
{
	struct reading *r = payload;
	const cJSON *found[NFIELDS] = { NULL }, *c;

	if (doc == NULL)
		return;
	r->found = true;
	ready_of(r->out, doc);
	/* One walk over the document, then the fields in our order. */
	cJSON_ArrayForEach(c, doc)
	{
		for (size_t i = 0; c->string && i < NFIELDS; i++)
			if (found[i] == NULL &&
			    strcmp(c->string, fields[i].key) == 0) {
				found[i] = c;
				break;
			}
	}
	for (size_t i = 0; i < NFIELDS; i++) {
		const cJSON *v = found[i];
		int n = cJSON_GetArraySize(v);
		cJSON *list;
		if (v == NULL ||
		    (r->detail == DAEMON_STATUS_BRIEF && !fields[i].brief))
			continue;
		/* Other than whole, histories keep their newest entry. */
		if (r->detail != DAEMON_STATUS_FULL && cJSON_IsArray(v) &&
		    (strcmp(fields[i].key, "history") == 0 ||
		     strcmp(fields[i].key, "pushHistory") == 0)) {
			if ((list = cJSON_CreateArray()) == NULL)
				continue;
			if (n > 0)
				cJSON_AddItemToArray(
				        list,
				        cJSON_Duplicate(
				                cJSON_GetArrayItem(v, n - 1),
				                1));
			put(r->out, fields[i].key, list);
			continue;
		}
		put_copy(r->out, fields[i].key, v);
	}
}

static bool
spec_suspended(const struct config_object *o)
{
	switch (o->kind) {
	case CONFIG_IMAGEREPOSITORY:
		return o->u.imagerepository.suspend;
	case CONFIG_IMAGEPOLICY:
		return o->u.imagepolicy.suspend;
	case CONFIG_IMAGEUPDATEAUTOMATION:
		return o->u.imageupdateautomation.suspend;
	case CONFIG_KUSTOMIZATION:
		return o->u.kustomization.suspend;
	default:
		return false;
	}
}

cJSON *
daemon_object_status(struct daemon *d, const struct config_object *o,
                     enum daemon_status_detail detail)
{
	struct reading r = { cJSON_CreateObject(), detail, false };
	cJSON *out = r.out;
	struct err e = ERR_INIT;
	int64_t next;

	if (out == NULL)
		return NULL;
	put_string(out, "kind", config_kind_name(o->kind));
	put_string(out, "namespace", o->metadata.namespace);
	put_string(out, "name", o->metadata.name);
	put(out, "suspended",
	    cJSON_CreateBool(spec_suspended(o) ||
	                     daemon_suspended(d, o->kind, o->metadata.namespace,
	                                      o->metadata.name)));
	next = queue_next_due(d->q, (int)o->kind, o->metadata.namespace,
	                      o->metadata.name);
	if (next >= 0)
		put(out, "nextRunSeconds",
		    cJSON_CreateNumber((double)(next / 1000)));
	/* In a fleet: who owns it, and, for what another member owns, the
	 * shared copy of its status (policies and automations). */
	if (d->fleet) {
		struct snapshot *s = daemon_snapshot(d);
		char owner[64];
		cJSON *shared = NULL;
		daemon_owner(d, s, o, owner);
		snapshot_release(s);
		if (owner[0]) {
			put_string(out, "owner", owner);
			if (strcmp(owner, fleet_member(d->fleet)) != 0 &&
			    o->kind != CONFIG_IMAGEREPOSITORY &&
			    fleet_state_get(d->fleet, config_kind_name(o->kind),
			                    o->metadata.namespace,
			                    o->metadata.name, &shared, &e) == 0)
				read_doc(shared, &r);
			cJSON_Delete(shared);
		}
	}
	if ((!r.found &&
	     state_read(d->st, config_kind_name(o->kind), o->metadata.namespace,
	                o->metadata.name, read_doc, &r, &e) < 0) ||
	    !r.found) {
		put_string(out, "ready", "Unknown");
		put_string(out, "message", "not reconciled yet");
	}
	/* Flux's Reconciling condition while a worker runs it (not kept in
	 * the state: it only lasts as long as the run). */
	if (queue_is_running(d->q, (int)o->kind, o->metadata.namespace,
	                     o->metadata.name)) {
		cJSON *conds =
		        cJSON_GetObjectItemCaseSensitive(out, "conditions");
		cJSON *c = cJSON_CreateObject();
		if (conds == NULL && (conds = cJSON_CreateArray()) != NULL &&
		    !cJSON_AddItemToObjectCS(out, "conditions", conds)) {
			cJSON_Delete(conds);
			conds = NULL;
		}
		if (c && conds) {
			cJSON_AddStringToObject(c, "type", "Reconciling");
			cJSON_AddStringToObject(c, "status", "True");
			cJSON_AddStringToObject(c, "reason", "Progressing");
			cJSON_AddStringToObject(c, "message",
			                        "a worker is running it");
			cJSON_AddItemToArray(conds, c);
		} else {
			cJSON_Delete(c);
		}
	}
	/* The image the configuration names now; a repository that never
	 * scanned has none stored. */
	if (o->kind == CONFIG_IMAGEREPOSITORY) {
		cJSON_DeleteItemFromObjectCaseSensitive(out, "image");
		put_string(out, "image", o->u.imagerepository.image);
	}
	return out;
}

int
daemon_suspend_object(struct daemon *d, const struct config_object *o,
                      bool suspend, const char *how, struct err *err)
{
	char msg[128];
	int rc;

	if ((rc = daemon_suspend(d, o->kind, o->metadata.namespace,
	                         o->metadata.name, suspend, err)) < 0)
		return rc;
	snprintf(msg, sizeof(msg), "%s with %s",
	         suspend ? "suspended" : "resumed", how);
	events_record(d->events, EVENT_INFO, config_kind_name(o->kind),
	              o->metadata.namespace, o->metadata.name,
	              suspend ? "Suspended" : "Resumed", msg);
	if (!suspend)
		daemon_enqueue(d, o, 0, QUEUE_MANUAL, NULL, NULL);
	return 0;
}
