/*
 * scan.c - the ImageRepository stage: one repository's tags (and digests,
 * when one of its policies reflects them) from the registry, through the
 * context's long-lived client, into the state store.  A failed scan leaves
 * the stored list alone and records why beside it.
 */
#include "pipeline_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "base/util.h"

/* Does any policy on this repository reflect digests? */
static bool
repo_wants_digests(const struct config *cfg, const struct config_object *repo)
{
	size_t n = config_count(cfg, CONFIG_IMAGEPOLICY);

	for (size_t i = 0; i < n; i++) {
		const struct config_object *p =
		        config_get(cfg, CONFIG_IMAGEPOLICY, i);
		const char *d = p->u.imagepolicy.digest_reflection_policy;
		if (config_policy_repository(cfg, p) == repo && d &&
		    strcmp(d, "Never") != 0)
			return true;
	}
	return false;
}

/* The registry_image of an ImageRepository; pointers borrow from cfg. */
static void
image_of(struct registry_image *im, const struct config *cfg,
         const struct config_object *obj)
{
	const struct config_imagerepository *ir = &obj->u.imagerepository;
	const struct secret *dcj, *ca, *crt, *key;

	im->image = ir->image;
	dcj = pipeline_secret(cfg, obj, &ir->secret_ref, ".dockerconfigjson");
	if (dcj) {
		im->dockerconfig = (const char *)dcj->ptr;
		im->dockerconfig_len = dcj->len;
	}
	im->insecure = ir->insecure;
	im->exclusions = (const char *const *)ir->exclusion_list.items;
	im->n_exclusions = ir->exclusion_list.n;
	ca = pipeline_secret(cfg, obj, &ir->cert_secret_ref, "ca.crt");
	crt = pipeline_secret(cfg, obj, &ir->cert_secret_ref, "tls.crt");
	key = pipeline_secret(cfg, obj, &ir->cert_secret_ref, "tls.key");
	if (ca) {
		im->ca_pem = (const char *)ca->ptr;
		im->ca_pem_len = ca->len;
	}
	if (crt && key) {
		im->cert_pem = (const char *)crt->ptr;
		im->cert_pem_len = crt->len;
		im->key_pem = (const char *)key->ptr;
		im->key_pem_len = key->len;
	}
	if (repo_wants_digests(cfg, obj))
		im->want = REGISTRY_WANT_DIGEST;
	/* spec.timeout bounds the whole scan, as in Flux (it defaults to
	 * the interval); a stalled registry fails then. */
	im->scan_timeout_ms =
	        ir->timeout > 0 ? (long)(ir->timeout / 1000000) : 0;
}

static int
store_scan(struct pipeline_ctx *ctx, const struct config_object *obj,
           const struct registry_scan *s, int64_t took_ms, bool *changed,
           struct err *err)
{
	const char **names = calloc(s->ntags ? s->ntags : 1, sizeof(char *));
	const char **digests = calloc(s->ntags ? s->ntags : 1, sizeof(char *));
	cJSON *doc = cJSON_CreateObject(), *result, *latest;
	char now[32], msg[80];
	int rc;

	if (names == NULL || digests == NULL || doc == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < s->ntags; i++) {
		names[i] = s->tags[i].name;
		digests[i] = s->tags[i].digest;
	}
	pipeline_now(now);
	cJSON_AddStringToObject(doc, "image", obj->u.imagerepository.image);
	cJSON_AddStringToObject(doc, "canonicalImageName",
	                        s->name ? s->name : "");
	cJSON_AddStringToObject(doc, "scanTime", now);
	cJSON_AddNumberToObject(doc, "tagCount", (double)s->ntags);
	/* Flux's lastScanResult: the count, the time and the ten tags
	 * that sort last. */
	result = cJSON_AddObjectToObject(doc, "lastScanResult");
	cJSON_AddNumberToObject(result, "tagCount", (double)s->ntags);
	cJSON_AddStringToObject(result, "scanTime", now);
	cJSON_AddNumberToObject(result, "scanDurationMs", (double)took_ms);
	latest = cJSON_AddArrayToObject(result, "latestTags");
	for (size_t i = s->ntags; latest && i > 0 && i + 10 > s->ntags; i--)
		cJSON_AddItemToArray(latest,
		                     cJSON_CreateString(s->tags[i - 1].name));
	snprintf(msg, sizeof(msg), "successful scan: found %zu tags", s->ntags);
	pipeline_conditions(doc, 0, msg, false);
	rc = state_tags_put(ctx->st, obj->metadata.namespace,
	                    obj->metadata.name, doc, names, digests, s->ntags,
	                    changed, err);
out:
	cJSON_Delete(doc);
	free(names);
	free(digests);
	return rc;
}

/* Records why the scan failed beside the stored list (which stays). */
static void
store_failure(struct pipeline_ctx *ctx, const struct config_object *obj,
              const struct err *why)
{
	struct err e = ERR_INIT;
	cJSON *doc = NULL;
	char now[32];

	if (state_get(ctx->st, STATE_KIND_IMAGEREPOSITORY,
	              obj->metadata.namespace, obj->metadata.name, &doc,
	              &e) < 0)
		doc = cJSON_CreateObject();
	if (doc == NULL)
		return;
	pipeline_now(now);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastScanError");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastScanErrorTime");
	cJSON_AddStringToObject(doc, "lastScanError", why->msg);
	cJSON_AddStringToObject(doc, "lastScanErrorTime", now);
	pipeline_conditions(doc, -why->code, why->msg, false);
	if (state_put(ctx->st, STATE_KIND_IMAGEREPOSITORY,
	              obj->metadata.namespace, obj->metadata.name, doc, &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         obj->metadata.name, "err", e.msg);
	cJSON_Delete(doc);
}

/* The number of tags the last good scan stored for obj's image. */
static size_t
stored_count(struct pipeline_ctx *ctx, const struct config_object *obj)
{
	struct state_tags *t = NULL;
	struct err e = ERR_INIT;
	size_t n = 0;

	if (state_tags_get(ctx->st, obj->metadata.namespace, obj->metadata.name,
	                   &t, &e) == 0 &&
	    strcmp(state_tags_image(t), obj->u.imagerepository.image) == 0)
		n = state_tags_count(t);
	state_tags_unref(t);
	return n;
}

int
pipeline_scan(struct pipeline_ctx *ctx, const struct pipeline_key *key,
              struct pipeline_repo *out)
{
	struct registry_image im = { 0 };
	struct registry_scan scan = REGISTRY_SCAN_INIT;
	const struct config_object *obj;
	int64_t t0;

	memset(out, 0, sizeof(*out));
	obj = pipeline_find(ctx, key, &out->err);
	if (obj == NULL)
		return out->rc = -ERR_NOTFOUND;
	out->obj = obj;
	if (obj->u.imagerepository.suspend) {
		out->suspended = true;
		return 0;
	}
	image_of(&im, ctx->cfg, obj);
	t0 = mono_ms();
	registry_scan_all(ctx->registry, &im, &scan, 1, NULL, NULL);
	if (scan.rc == 0) {
		out->scanned = true;
		out->ntags = scan.ntags;
		out->rc = store_scan(ctx, obj, &scan, mono_ms() - t0,
		                     &out->changed, &out->err);
		if (out->rc == 0)
			log_info("scanner", "scan_done", "object",
			         obj->metadata.name, "image",
			         obj->u.imagerepository.image);
	} else {
		out->rc = scan.rc;
		out->err = scan.err;
		log_warn("scanner", "scan_failed", "object", obj->metadata.name,
		         "err", out->err.msg);
		/* Keep the last good list: never downgrade on a failed
		 * scan. */
		store_failure(ctx, obj, &out->err);
		out->ntags = stored_count(ctx, obj);
	}
	registry_scan_release(&scan);
	return out->rc;
}

/*
 * The stored list of obj (for its current image) with the confirmed tags
 * of s added, both sorted byte-wise as the scanner sorts, into names[] and
 * digests[] (borrowed from old and s; *n_out entries).
 */
static int
merge_confirmed(const char ***names_out, const char ***digests_out,
                size_t *n_out, const struct state_tags *old,
                const struct registry_scan *s, bool with_digests)
{
	size_t no = old ? state_tags_count(old) : 0, i = 0, k = 0, n = 0;
	const char **names = calloc(no + s->ntags + 1, sizeof(char *));
	const char **digests = calloc(no + s->ntags + 1, sizeof(char *));

	if (names == NULL || digests == NULL) {
		free(names);
		free(digests);
		return -ERR_NOMEM;
	}
	while (i < no || k < s->ntags) {
		int c = i == no         ? 1
		        : k == s->ntags ? -1
		                        : strcmp(state_tags_name(old, i),
		                                 s->tags[k].name);
		if (c < 0) {
			names[n] = state_tags_name(old, i);
			digests[n++] = state_tags_digest(old, i);
			i++;
		} else {
			/* A confirmed tag brings its digest as of now, kept
			 * only when a full scan would keep it too. */
			names[n] = s->tags[k].name;
			digests[n++] = with_digests ? s->tags[k].digest : NULL;
			i += c == 0;
			k++;
		}
	}
	*names_out = names;
	*digests_out = digests;
	*n_out = n;
	return 0;
}

int
pipeline_scan_tags(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                   const char *const *tags, size_t n, struct pipeline_repo *out)
{
	struct registry_image im = { 0 };
	struct registry_scan scan = REGISTRY_SCAN_INIT;
	const struct config_object *obj;
	struct state_tags *old = NULL;
	const char **names = NULL, **digests = NULL;
	struct err e = ERR_INIT;
	cJSON *doc = NULL;
	size_t nm = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	obj = pipeline_find(ctx, key, &out->err);
	if (obj == NULL)
		return out->rc = -ERR_NOTFOUND;
	out->obj = obj;
	if (obj->u.imagerepository.suspend) {
		out->suspended = true;
		return 0;
	}
	image_of(&im, ctx->cfg, obj);
	im.only_tags = tags;
	im.n_only_tags = n;
	registry_scan_all(ctx->registry, &im, &scan, 1, NULL, NULL);
	if (scan.rc < 0) {
		out->rc = scan.rc;
		out->err = scan.err;
		out->ntags = stored_count(ctx, obj);
		goto out;
	}
	rc = state_tags_get(ctx->st, obj->metadata.namespace,
	                    obj->metadata.name, &old, &e);
	if (rc == -ERR_NOMEM)
		goto nomem;
	/* A list stored for another image is not added to. */
	if (old && strcmp(state_tags_image(old), obj->u.imagerepository.image))
		out->rc = err_set(&out->err, ERR_NOTFOUND,
		                  "no full scan of '%s' stored yet",
		                  obj->u.imagerepository.image);
	if (old == NULL && rc == -ERR_NOTFOUND)
		out->rc = err_set(&out->err, ERR_NOTFOUND,
		                  "no full scan of '%s' stored yet",
		                  obj->u.imagerepository.image);
	if (out->rc < 0)
		goto out;
	if (merge_confirmed(&names, &digests, &nm, old, &scan,
	                    (im.want & REGISTRY_WANT_DIGEST) != 0) < 0)
		goto nomem;
	if (state_get(ctx->st, STATE_KIND_IMAGEREPOSITORY,
	              obj->metadata.namespace, obj->metadata.name, &doc,
	              &e) == -ERR_NOMEM)
		goto nomem;
	if (doc)
		cJSON_ReplaceItemInObjectCaseSensitive(
		        doc, "tagCount", cJSON_CreateNumber((double)nm));
	out->rc = state_tags_put(ctx->st, obj->metadata.namespace,
	                         obj->metadata.name, doc, names, digests, nm,
	                         &out->changed, &out->err);
	out->ntags = nm;
	out->scanned = false;
	goto out;
nomem:
	out->rc = err_set(&out->err, ERR_NOMEM, "out of memory");
out:
	cJSON_Delete(doc);
	free(names);
	free(digests);
	state_tags_unref(old);
	registry_scan_release(&scan);
	return out->rc;
}

void
pipeline_repo_release(struct pipeline_repo *r)
{
	memset(r, 0, sizeof(*r));
}
