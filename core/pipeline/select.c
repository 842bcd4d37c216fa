/*
 * select.c - the ImagePolicy stage: the latest image of one policy, from
 * its repository's tags in the state store, stored as the policy's
 * latestRef (with observedPreviousRef when it moved), as Flux's
 * image-reflector-controller keeps them in the policy's status.
 */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "base/log.h"
#include "policy/policy.h"

static int
select_one(struct pipeline_policy *p, const struct config_imagepolicy *ip,
           const struct state_tags *t, struct err *err)
{
	struct policy_options po = POLICY_OPTIONS_INIT;
	struct policy *pol = NULL;
	struct policy_tag *pts = NULL;
	size_t idx = 0, n = state_tags_count(t);
	int rc;

	if (ip->policy.semver.range) {
		po.kind = POLICY_SEMVER;
		po.semver_range = ip->policy.semver.range;
	} else if (ip->policy.alphabetical.pos.set) {
		po.kind = POLICY_ALPHABETICAL;
		po.order = ip->policy.alphabetical.order &&
		                           strcmp(ip->policy.alphabetical.order,
		                                  "desc") == 0
		                   ? POLICY_DESC
		                   : POLICY_ASC;
	} else {
		po.kind = POLICY_NUMERICAL;
		po.order = ip->policy.numerical.order &&
		                           strcmp(ip->policy.numerical.order,
		                                  "desc") == 0
		                   ? POLICY_DESC
		                   : POLICY_ASC;
	}
	po.pattern = ip->filter_tags.pattern;
	po.extract = ip->filter_tags.extract;
	if ((rc = policy_new(&pol, &po, err)) < 0)
		return rc;
	pts = calloc(n ? n : 1, sizeof(*pts));
	if (pts == NULL) {
		policy_free(pol);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < n; i++) {
		pts[i].name = state_tags_name(t, i);
		pts[i].len = strlen(pts[i].name);
	}
	rc = policy_select(pol, pts, n, &idx, NULL, NULL, err);
	if (rc == 0) {
		p->tag = strdup(state_tags_name(t, idx));
		if (ip->digest_reflection_policy &&
		    strcmp(ip->digest_reflection_policy, "Never") != 0 &&
		    state_tags_digest(t, idx))
			p->digest = strdup(state_tags_digest(t, idx));
		if (p->tag == NULL)
			rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	free(pts);
	policy_free(pol);
	return rc;
}

/*
 * Reads the stored latestRef into p->previous and, when p has a new tag,
 * stores the new one (with observedPreviousRef when it moved).  A dry run
 * stores in memory only, so the automation stage of the same plan sees it
 * and nothing is recorded.
 */
static int
store_result(struct pipeline_ctx *ctx, struct pipeline_policy *p)
{
	const struct config_object *o = p->obj;
	const char *ns = o->metadata.namespace, *name = o->metadata.name;
	cJSON *old = NULL, *doc = NULL, *ref, *prev;
	struct err e = ERR_INIT;
	const char *otag = NULL, *oname = NULL, *odigest = NULL;
	const char *drp = o->u.imagepolicy.digest_reflection_policy;
	char *now = NULL, msg[ERR_MSG_MAX];
	int rc = 0;

	if (state_get(ctx->st, "ImagePolicy", ns, name, &old, &e) == 0) {
		ref = cJSON_GetObjectItemCaseSensitive(old, "latestRef");
		oname = json_get_string(ref, "name");
		otag = json_get_string(ref, "tag");
		odigest = json_get_string(ref, "digest");
		if (oname && otag &&
		    (p->previous = pipeline_ref_string(oname, otag, odigest)) ==
		            NULL)
			goto nomem;
	}
	if (p->tag == NULL) {
		/* Failed: the stored latestRef stays (as Flux keeps
		 * status.latestRef); the conditions say why. */
		doc = old ? cJSON_Duplicate(old, 1) : cJSON_CreateObject();
		if (doc == NULL)
			goto nomem;
		pipeline_conditions(doc, p->rc, p->err.msg,
		                    p->rc == -ERR_INVALID);
		goto put;
	}
	/* IfNotPresent: keep the digest already known for the same tag. */
	if (p->digest == NULL && odigest && *odigest && otag &&
	    strcmp(otag, p->tag) == 0 && oname &&
	    strcmp(oname, p->image) == 0 && drp &&
	    strcmp(drp, "IfNotPresent") == 0 &&
	    (p->digest = strdup(odigest)) == NULL)
		goto nomem;
	if ((now = pipeline_ref_string(p->image, p->tag, p->digest)) == NULL)
		goto nomem;
	p->changed = p->previous == NULL || strcmp(now, p->previous) != 0;
	doc = cJSON_CreateObject();
	ref = cJSON_AddObjectToObject(doc, "latestRef");
	cJSON_AddStringToObject(ref, "name", p->image);
	cJSON_AddStringToObject(ref, "tag", p->tag);
	if (p->digest)
		cJSON_AddStringToObject(ref, "digest", p->digest);
	if (p->previous && p->changed) {
		prev = cJSON_AddObjectToObject(doc, "observedPreviousRef");
		cJSON_AddStringToObject(prev, "name", oname);
		cJSON_AddStringToObject(prev, "tag", otag);
		if (odigest)
			cJSON_AddStringToObject(prev, "digest", odigest);
	} else if ((prev = cJSON_GetObjectItemCaseSensitive(
	                    old, "observedPreviousRef"))) {
		cJSON_AddItemToObject(doc, "observedPreviousRef",
		                      cJSON_Duplicate(prev, 1));
	}
	/* What moved when: every change of the latest image, newest last. */
	if (p->changed) {
		cJSON *h = cJSON_CreateObject();
		char when[32];
		pipeline_now(when);
		cJSON_AddStringToObject(h, "time", when);
		cJSON_AddStringToObject(h, "tag", p->tag);
		if (p->digest)
			cJSON_AddStringToObject(h, "digest", p->digest);
		if (otag)
			cJSON_AddStringToObject(h, "previousTag", otag);
		pipeline_history_add(doc, old, "history", h);
	} else {
		const cJSON *h =
		        cJSON_GetObjectItemCaseSensitive(old, "history");
		if (h)
			cJSON_AddItemToObject(doc, "history",
			                      cJSON_Duplicate(h, 1));
	}
	if (p->previous && p->changed)
		snprintf(msg, sizeof(msg),
		         "Latest image tag for '%s' updated from %s to %s",
		         p->image, otag, p->tag);
	else
		snprintf(msg, sizeof(msg),
		         "Latest image tag for '%s' resolved to %s", p->image,
		         p->tag);
	pipeline_conditions(doc, 0, msg, false);
put:
	rc = ctx->dry_run
	             ? state_put_memory(ctx->st, "ImagePolicy", ns, name, doc,
	                                &e)
	             : state_put(ctx->st, "ImagePolicy", ns, name, doc, &e);
	if (rc == -ERR_NOMEM)
		goto nomem;
	if (rc < 0)
		log_warn("pipeline", "state_write_failed", "object", name,
		         "err", e.msg);
	rc = 0;
	goto out;
nomem:
	rc = err_set(&p->err, ERR_NOMEM, "out of memory");
out:
	free(now);
	cJSON_Delete(old);
	cJSON_Delete(doc);
	return rc;
}

/*
 * Why a repository has no tags: "the scan failed: ..." (returns false) or
 * "its ImageRepository has not been scanned" (returns true: nothing says
 * the list is wrong, only that there is none).
 */
static bool
why_no_tags(char *out, size_t sz, struct pipeline_ctx *ctx,
            const struct config_object *repo)
{
	cJSON *doc = NULL;
	struct err e = ERR_INIT;
	const char *msg = NULL;
	bool ok;

	if (state_get(ctx->st, STATE_KIND_IMAGEREPOSITORY,
	              repo->metadata.namespace, repo->metadata.name, &doc,
	              &e) == 0)
		msg = json_get_string(doc, "lastScanError");
	ok = msg == NULL;
	if (msg)
		snprintf(out, sz, "the scan failed: %s", msg);
	else
		snprintf(out, sz, "its ImageRepository has not been scanned");
	cJSON_Delete(doc);
	return ok;
}

int
pipeline_select(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                struct pipeline_policy *out)
{
	const struct config_object *obj, *repo;
	struct state_tags *tags = NULL;
	struct err e = ERR_INIT;
	char why[ERR_MSG_MAX];
	bool none;
	int rc;

	memset(out, 0, sizeof(*out));
	obj = pipeline_find(ctx, key, &out->err);
	if (obj == NULL)
		return out->rc = -ERR_NOTFOUND;
	out->obj = obj;
	if (obj->u.imagepolicy.suspend) {
		out->suspended = true;
		return 0;
	}
	repo = config_policy_repository(ctx->cfg, obj);
	if (repo == NULL)
		return out->rc = err_set(
		               &out->err, ERR_NOTFOUND,
		               "ImagePolicy %s/%s: its ImageRepository does not exist",
		               obj->metadata.namespace, obj->metadata.name);
	out->image = strdup(repo->u.imagerepository.image);
	if (out->image == NULL)
		return out->rc = err_set(&out->err, ERR_NOMEM, "out of memory");
	rc = state_tags_get(ctx->st, repo->metadata.namespace,
	                    repo->metadata.name, &tags, &e);
	if (rc == -ERR_NOMEM)
		return out->rc = err_set(&out->err, ERR_NOMEM, "out of memory");
	/* A list stored for another image (spec.image changed) is none;
	 * an empty one counts as none when the last scan failed. */
	none = rc < 0 || strcmp(state_tags_image(tags), out->image) != 0;
	if (none || state_tags_count(tags) == 0) {
		bool unscanned = why_no_tags(why, sizeof(why), ctx, repo);
		out->waiting = none && unscanned;
		none = !unscanned || none;
	}
	if (none) {
		out->rc = err_set(
		        &out->err, ERR_TRANSIENT,
		        "ImagePolicy %s/%s: no tags known for '%s' (%s)",
		        obj->metadata.namespace, obj->metadata.name, out->image,
		        why);
	} else if ((out->rc = select_one(out, &obj->u.imagepolicy, tags,
	                                 &out->err)) < 0 &&
	           out->rc != -ERR_NOMEM) {
		err_prefix(&out->err, "ImagePolicy %s/%s",
		           obj->metadata.namespace, obj->metadata.name);
	}
	state_tags_unref(tags);
	if (out->rc == -ERR_NOMEM)
		return out->rc;
	if ((rc = store_result(ctx, out)) < 0)
		return out->rc = rc;
	if (out->rc < 0)
		log_warn("policy", "select_failed", "object",
		         obj->metadata.name, "err", out->err.msg);
	else
		log_info("policy", "selected", "object", obj->metadata.name,
		         "tag", out->tag);
	return out->rc;
}

void
pipeline_policy_release(struct pipeline_policy *p)
{
	free(p->image);
	free(p->tag);
	free(p->digest);
	free(p->previous);
	memset(p, 0, sizeof(*p));
}
