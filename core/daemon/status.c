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

/* Copies doc[key] into out when present. */
static void
copy_field(cJSON *out, const cJSON *doc, const char *key)
{
	const cJSON *v = cJSON_GetObjectItemCaseSensitive(doc, key);

	if (v)
		cJSON_AddItemToObject(out, key, cJSON_Duplicate(v, 1));
}

/* The Ready condition's status, reason and message, when stored. */
static void
copy_ready(cJSON *out, const cJSON *doc)
{
	const cJSON *c;

	cJSON_ArrayForEach(c,
	                   cJSON_GetObjectItemCaseSensitive(doc, "conditions"))
	{
		const char *t = json_get_string(c, "type");
		if (t == NULL || strcmp(t, "Ready") != 0)
			continue;
		cJSON_AddStringToObject(out, "ready",
		                        json_get_string(c, "status")
		                                ? json_get_string(c, "status")
		                                : "Unknown");
		copy_field(out, c, "reason");
		copy_field(out, c, "message");
		copy_field(out, c, "lastTransitionTime");
		return;
	}
	cJSON_AddStringToObject(out, "ready", "Unknown");
	cJSON_AddStringToObject(out, "message", "not reconciled yet");
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
	default:
		return false;
	}
}

cJSON *
daemon_object_status(struct daemon *d, const struct config_object *o)
{
	static const char *const fields[] = {
		"image",
		"canonicalImageName",
		"lastScanResult",
		"lastScanError",
		"latestRef",
		"observedPreviousRef",
		"lastPushCommit",
		"lastPushTime",
		"lastAutomationRunTime",
		"observedPolicies",
		"lastHandledReconcileAt",
		"conditions",
	};
	cJSON *out = cJSON_CreateObject(), *doc = NULL;
	struct err e = ERR_INIT;
	int64_t next;

	if (out == NULL)
		return NULL;
	cJSON_AddStringToObject(out, "kind", config_kind_name(o->kind));
	cJSON_AddStringToObject(out, "namespace", o->metadata.namespace);
	cJSON_AddStringToObject(out, "name", o->metadata.name);
	cJSON_AddBoolToObject(out, "suspended",
	                      spec_suspended(o) ||
	                              daemon_suspended(d, o->kind,
	                                               o->metadata.namespace,
	                                               o->metadata.name));
	next = queue_next_due(d->q, (int)o->kind, o->metadata.namespace,
	                      o->metadata.name);
	if (next >= 0)
		cJSON_AddNumberToObject(out, "nextRunSeconds",
		                        (double)(next / 1000));
	if (state_get(d->st, config_kind_name(o->kind), o->metadata.namespace,
	              o->metadata.name, &doc, &e) == 0) {
		copy_ready(out, doc);
		for (size_t i = 0; i < sizeof(fields) / sizeof(*fields); i++)
			copy_field(out, doc, fields[i]);
	} else {
		cJSON_AddStringToObject(out, "ready", "Unknown");
		cJSON_AddStringToObject(out, "message", "not reconciled yet");
	}
	/* Flux's Reconciling condition while a worker runs it (not kept in
	 * the state: it only lasts as long as the run). */
	if (queue_is_running(d->q, (int)o->kind, o->metadata.namespace,
	                     o->metadata.name)) {
		cJSON *conds =
		        cJSON_GetObjectItemCaseSensitive(out, "conditions");
		cJSON *c = cJSON_CreateObject();
		if (conds == NULL)
			conds = cJSON_AddArrayToObject(out, "conditions");
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
	 * scanned has none stored (replacing would leak the new string). */
	if (o->kind == CONFIG_IMAGEREPOSITORY) {
		cJSON_DeleteItemFromObjectCaseSensitive(out, "image");
		cJSON_AddStringToObject(out, "image",
		                        o->u.imagerepository.image);
	}
	cJSON_Delete(doc);
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
