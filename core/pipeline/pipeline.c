/*
 * pipeline.c - scan, select, write back: the one place that knows the whole
 * pipeline.  It maps the Flux objects onto the components' plain options
 * (scanner/, policy/, writeback/ never see configuration types), keeps the
 * state directory up to date, and turns every failure into a report entry
 * instead of stopping the pass.  It does not schedule anything: the daemon
 * decides when a pass (or one object's stage) runs.
 */
#include "pipeline.h"

#include "base/fsroot.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "policy/policy.h"
#include "scanner/registry.h"
#include "writeback/git.h"
#include "writeback/kustomize.h"
#include "writeback/setters.h"
#include "writeback/sshsig.h"
#include "writeback/template.h"
#include "writeback/yamledit.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* The tags of one ImageRepository: from this pass's scan, or the last good
 * one in the state directory. */
struct tags {
	char **names;
	char **digests; /* may hold NULLs */
	size_t n;
};

static void
tags_release(struct tags *t)
{
	for (size_t i = 0; i < t->n; i++) {
		free(t->names[i]);
		if (t->digests)
			free(t->digests[i]);
	}
	free(t->names);
	free(t->digests);
	memset(t, 0, sizeof(*t));
}

static char *
xstrdup(const char *s)
{
	return s ? strdup(s) : NULL;
}

static void
now_rfc3339(char out[32])
{
	time_t t = time(NULL);
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static const char *
obj_ns(const struct config_object *o)
{
	return o->metadata.namespace;
}

static const char *
obj_name(const struct config_object *o)
{
	return o->metadata.name;
}

/* The bytes of a Secret key as a C string (Secret values are NUL-ended);
 * NULL when the Secret or the key is missing. */
static const struct secret *
secret_key(const struct config *cfg, const struct config_object *referrer,
           const struct config_local_ref *ref, const char *key)
{
	const struct config_object *s;

	if (ref == NULL || ref->name == NULL)
		return NULL;
	s = config_secret_for(cfg, referrer, ref);
	return s ? config_secret_value(s, key) : NULL;
}

/* ---- stage 1: ImageRepositories ---- */

static int
tags_from_scan(struct tags *out, const struct registry_scan *s)
{
	out->names = calloc(s->ntags ? s->ntags : 1, sizeof(char *));
	out->digests = calloc(s->ntags ? s->ntags : 1, sizeof(char *));
	if (out->names == NULL || out->digests == NULL)
		return -ERR_NOMEM;
	for (size_t i = 0; i < s->ntags; i++) {
		out->names[i] = strdup(s->tags[i].name);
		out->digests[i] = xstrdup(s->tags[i].digest);
		if (out->names[i] == NULL)
			return -ERR_NOMEM;
		out->n = i + 1;
	}
	return 0;
}

static int
tags_from_state(struct tags *out, struct state *st,
                const struct config_object *repo)
{
	cJSON *doc = NULL, *list, *digests, *item;
	struct err e = ERR_INIT;
	size_t n, i = 0;
	int rc;

	rc = state_get(st, "ImageRepository", obj_ns(repo), obj_name(repo),
	               &doc, &e);
	if (rc < 0) {
		if (rc != -ERR_NOTFOUND)
			log_warn("pipeline", "state_unreadable", "object",
			         obj_name(repo), "err", e.msg);
		return rc;
	}
	list = cJSON_GetObjectItemCaseSensitive(doc, "tags");
	digests = cJSON_GetObjectItemCaseSensitive(doc, "digests");
	/* The state belongs to the image it was scanned for. */
	if (!cJSON_IsArray(list) ||
	    strcmp(json_get_string(doc, "image") ? json_get_string(doc, "image")
	                                         : "",
	           repo->u.imagerepository.image) != 0) {
		cJSON_Delete(doc);
		return -ERR_NOTFOUND;
	}
	n = (size_t)cJSON_GetArraySize(list);
	out->names = calloc(n ? n : 1, sizeof(char *));
	out->digests = calloc(n ? n : 1, sizeof(char *));
	if (out->names == NULL || out->digests == NULL) {
		cJSON_Delete(doc);
		return -ERR_NOMEM;
	}
	cJSON_ArrayForEach(item, list)
	{
		if (!cJSON_IsString(item))
			continue;
		out->names[i] = strdup(item->valuestring);
		out->digests[i] =
		        xstrdup(json_get_string(digests, item->valuestring));
		if (out->names[i] == NULL) {
			cJSON_Delete(doc);
			return -ERR_NOMEM;
		}
		out->n = ++i;
	}
	cJSON_Delete(doc);
	return 0;
}

static void
save_repo_state(struct state *st, const struct config_object *repo,
                const struct registry_scan *s)
{
	cJSON *doc = cJSON_CreateObject(), *list, *digests;
	struct err e = ERR_INIT;
	char now[32];

	if (doc == NULL)
		return;
	now_rfc3339(now);
	cJSON_AddStringToObject(doc, "image", repo->u.imagerepository.image);
	cJSON_AddStringToObject(doc, "canonicalImageName",
	                        s->name ? s->name : "");
	cJSON_AddStringToObject(doc, "scanTime", now);
	cJSON_AddNumberToObject(doc, "tagCount", (double)s->ntags);
	list = cJSON_AddArrayToObject(doc, "tags");
	digests = cJSON_AddObjectToObject(doc, "digests");
	for (size_t i = 0; list && digests && i < s->ntags; i++) {
		cJSON_AddItemToArray(list, cJSON_CreateString(s->tags[i].name));
		if (s->tags[i].digest)
			cJSON_AddStringToObject(digests, s->tags[i].name,
			                        s->tags[i].digest);
	}
	if (state_put(st, "ImageRepository", obj_ns(repo), obj_name(repo), doc,
	              &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         obj_name(repo), "err", e.msg);
	cJSON_Delete(doc);
}

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

static int
stage_scan(struct pipeline_report *rep, struct tags *tags,
           const struct config *cfg, struct state *st)
{
	size_t n = rep->nrepos, k = 0;
	struct registry_client *client = NULL;
	struct registry_image *images = NULL;
	struct registry_scan *scans = NULL;
	size_t *which = NULL;
	struct err e = ERR_INIT;
	int rc = 0;

	images = calloc(n ? n : 1, sizeof(*images));
	scans = calloc(n ? n : 1, sizeof(*scans));
	which = calloc(n ? n : 1, sizeof(*which));
	if (images == NULL || scans == NULL || which == NULL) {
		rc = -ERR_NOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		struct pipeline_repo *r = &rep->repos[i];
		const struct config_imagerepository *ir =
		        &r->obj->u.imagerepository;
		const struct secret *dcj, *ca, *crt, *key;
		struct registry_image *im = &images[k];

		if (ir->suspend) {
			r->suspended = true;
			continue;
		}
		scans[k] = (struct registry_scan)REGISTRY_SCAN_INIT;
		im->image = ir->image;
		dcj = secret_key(cfg, r->obj, &ir->secret_ref,
		                 ".dockerconfigjson");
		if (dcj) {
			im->dockerconfig = (const char *)dcj->ptr;
			im->dockerconfig_len = dcj->len;
		}
		im->insecure = ir->insecure;
		im->exclusions = (const char *const *)ir->exclusion_list.items;
		im->n_exclusions = ir->exclusion_list.n;
		ca = secret_key(cfg, r->obj, &ir->cert_secret_ref, "ca.crt");
		crt = secret_key(cfg, r->obj, &ir->cert_secret_ref, "tls.crt");
		key = secret_key(cfg, r->obj, &ir->cert_secret_ref, "tls.key");
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
		if (repo_wants_digests(cfg, r->obj))
			im->want = REGISTRY_WANT_DIGEST;
		which[k++] = i;
	}
	if (k > 0) {
		if ((rc = registry_client_new(&client, NULL, &e)) < 0)
			goto out;
		registry_scan_all(client, images, scans, k, NULL, NULL);
	}
	for (size_t j = 0; j < k; j++) {
		struct pipeline_repo *r = &rep->repos[which[j]];
		struct tags *t = &tags[which[j]];

		if (scans[j].rc == 0) {
			r->scanned = true;
			if ((rc = tags_from_scan(t, &scans[j])) < 0)
				goto out;
			save_repo_state(st, r->obj, &scans[j]);
			log_info("scanner", "scan_done", "object",
			         obj_name(r->obj), "image",
			         r->obj->u.imagerepository.image);
		} else {
			r->rc = scans[j].rc;
			r->err = scans[j].err;
			log_warn("scanner", "scan_failed", "object",
			         obj_name(r->obj), "err", r->err.msg);
			/* Keep the last good list: never downgrade on a
			 * failed scan. */
			if (tags_from_state(t, st, r->obj) == -ERR_NOMEM) {
				rc = -ERR_NOMEM;
				goto out;
			}
		}
		r->ntags = t->n;
	}
	rc = 0;
out:
	for (size_t j = 0; scans && j < k; j++)
		registry_scan_release(&scans[j]);
	registry_client_free(client);
	free(images);
	free(scans);
	free(which);
	return rc;
}

/* ---- stage 2: ImagePolicies ---- */

static char *
ref_string(const char *image, const char *tag, const char *digest)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, image);
	if (tag && *tag)
		buf_addf(&b, ":%s", tag);
	if (digest && *digest)
		buf_addf(&b, "@%s", digest);
	return buf_detach(&b);
}

static int
select_one(struct pipeline_policy *p, const struct config_imagepolicy *ip,
           const struct tags *t, struct err *err)
{
	struct policy_options po = POLICY_OPTIONS_INIT;
	struct policy *pol = NULL;
	struct policy_tag *pts = NULL;
	size_t idx = 0;
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
	pts = calloc(t->n ? t->n : 1, sizeof(*pts));
	if (pts == NULL) {
		policy_free(pol);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < t->n; i++) {
		pts[i].name = t->names[i];
		pts[i].len = strlen(t->names[i]);
	}
	rc = policy_select(pol, pts, t->n, &idx, NULL, NULL, err);
	if (rc == 0) {
		p->tag = strdup(t->names[idx]);
		if (ip->digest_reflection_policy &&
		    strcmp(ip->digest_reflection_policy, "Never") != 0 &&
		    t->digests && t->digests[idx])
			p->digest = strdup(t->digests[idx]);
		if (p->tag == NULL)
			rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	free(pts);
	policy_free(pol);
	return rc;
}

static void
policy_state_update(struct state *st, struct pipeline_policy *p, bool dry_run)
{
	cJSON *old = NULL, *doc = NULL, *ref, *prev;
	struct err e = ERR_INIT;
	const char *otag = NULL, *oname = NULL, *odigest = NULL;

	if (state_get(st, "ImagePolicy", obj_ns(p->obj), obj_name(p->obj), &old,
	              &e) == 0) {
		ref = cJSON_GetObjectItemCaseSensitive(old, "latestRef");
		oname = json_get_string(ref, "name");
		otag = json_get_string(ref, "tag");
		odigest = json_get_string(ref, "digest");
		if (oname && otag)
			p->previous = ref_string(oname, otag, odigest);
	}
	if (p->tag == NULL)
		goto out;
	/* IfNotPresent: keep the digest already known for the same tag. */
	if (p->digest == NULL && odigest && *odigest && otag &&
	    strcmp(otag, p->tag) == 0 && oname &&
	    strcmp(oname, p->image) == 0 &&
	    p->obj->u.imagepolicy.digest_reflection_policy &&
	    strcmp(p->obj->u.imagepolicy.digest_reflection_policy,
	           "IfNotPresent") == 0)
		p->digest = strdup(odigest);
	/* A plan reads the last result but records nothing. */
	if (dry_run)
		goto out;
	doc = cJSON_CreateObject();
	ref = cJSON_AddObjectToObject(doc, "latestRef");
	cJSON_AddStringToObject(ref, "name", p->image);
	cJSON_AddStringToObject(ref, "tag", p->tag);
	if (p->digest)
		cJSON_AddStringToObject(ref, "digest", p->digest);
	if (p->previous) {
		char *now = ref_string(p->image, p->tag, p->digest);
		if (now && strcmp(now, p->previous) != 0) {
			prev = cJSON_AddObjectToObject(doc,
			                               "observedPreviousRef");
			cJSON_AddStringToObject(prev, "name", oname);
			cJSON_AddStringToObject(prev, "tag", otag);
			if (odigest)
				cJSON_AddStringToObject(prev, "digest",
				                        odigest);
		} else if ((prev = cJSON_GetObjectItemCaseSensitive(
		                    old, "observedPreviousRef"))) {
			cJSON_AddItemToObject(doc, "observedPreviousRef",
			                      cJSON_Duplicate(prev, 1));
		}
		free(now);
	}
	if (state_put(st, "ImagePolicy", obj_ns(p->obj), obj_name(p->obj), doc,
	              &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         obj_name(p->obj), "err", e.msg);
out:
	cJSON_Delete(old);
	cJSON_Delete(doc);
}

static int
stage_policies(struct pipeline_report *rep, const struct tags *tags,
               const struct config *cfg, struct state *st, bool dry_run)
{
	for (size_t i = 0; i < rep->npolicies; i++) {
		struct pipeline_policy *p = &rep->policies[i];
		const struct config_imagepolicy *ip = &p->obj->u.imagepolicy;
		const struct config_object *repo =
		        config_policy_repository(cfg, p->obj);
		size_t ri = 0;

		if (ip->suspend) {
			p->suspended = true;
			continue;
		}
		while (ri < rep->nrepos && rep->repos[ri].obj != repo)
			ri++;
		if (repo == NULL || ri == rep->nrepos) {
			p->rc = err_set(
			        &p->err, ERR_NOTFOUND,
			        "ImagePolicy %s/%s: its ImageRepository does not exist",
			        obj_ns(p->obj), obj_name(p->obj));
			continue;
		}
		p->image = strdup(repo->u.imagerepository.image);
		if (p->image == NULL)
			return -ERR_NOMEM;
		if (tags[ri].n == 0 && rep->repos[ri].rc < 0) {
			p->rc = err_set(
			        &p->err, ERR_TRANSIENT,
			        "ImagePolicy %s/%s: no tags known for '%s' (the scan failed: %s)",
			        obj_ns(p->obj), obj_name(p->obj),
			        repo->u.imagerepository.image,
			        rep->repos[ri].err.msg);
		} else if ((p->rc = select_one(p, ip, &tags[ri], &p->err)) <
		           0) {
			if (p->rc == -ERR_NOMEM)
				return -ERR_NOMEM;
			err_prefix(&p->err, "ImagePolicy %s/%s", obj_ns(p->obj),
			           obj_name(p->obj));
		}
		policy_state_update(st, p, dry_run);
		if (p->rc < 0)
			log_warn("policy", "select_failed", "object",
			         obj_name(p->obj), "err", p->err.msg);
		else
			log_info("policy", "selected", "object",
			         obj_name(p->obj), "tag", p->tag);
	}
	return 0;
}

/* ---- stage 3: ImageUpdateAutomations ---- */

/* Everything a run of one automation needs, resolved from the config. */
struct wb_ctx {
	const struct config *cfg;
	const struct config_object *auto_obj;
	const struct config_object *git_obj;
	struct git_auth auth;
	struct git_ref ref;
	const char *checkout_branch; /* NULL when the ref is not a branch */
	const char *push_branch;
	bool force;
	struct sshsig_key *ssh_key;
	const struct secret *gpg_key;
	const struct secret *gpg_passphrase;
	struct setters_policy *policies;
	size_t npolicies;
	const char *semver_range; /* checkout ref by semver range */
	char *semver_tag;         /* the tag it resolved to */
};

static void
wb_ctx_release(struct wb_ctx *c)
{
	sshsig_key_free(c->ssh_key);
	free(c->policies);
	free(c->semver_tag);
	memset(c, 0, sizeof(*c));
}

static const struct config_git_ref *
checkout_ref(const struct config_object *a, const struct config_object *g)
{
	const struct config_git_ref *r =
	        &a->u.imageupdateautomation.git.checkout.ref;

	if (r->branch || r->tag || r->semver || r->name || r->commit)
		return r;
	return &g->u.gitrepository.ref;
}

static int
wb_ctx_init(struct wb_ctx *c, const struct config *cfg,
            const struct config_object *a, const struct pipeline_report *rep,
            struct err *err)
{
	const struct config_imageupdateautomation *iua =
	        &a->u.imageupdateautomation;
	const struct config_gitrepository *gr;
	const struct config_git_ref *ref;
	const struct config_object **pols = NULL;
	size_t npols = 0;
	int rc;

	memset(c, 0, sizeof(*c));
	c->cfg = cfg;
	c->auto_obj = a;
	c->git_obj = config_source_gitrepository(cfg, a);
	if (c->git_obj == NULL)
		return err_set(err, ERR_NOTFOUND,
		               "its GitRepository '%s' does not exist",
		               iua->source_ref.name);
	gr = &c->git_obj->u.gitrepository;
	c->auth.username = NULL;
	{
		const struct secret *u = secret_key(
		        cfg, c->git_obj, &gr->secret_ref, "username");
		c->auth.username = u ? (const char *)u->ptr : NULL;
	}
	c->auth.password =
	        secret_key(cfg, c->git_obj, &gr->secret_ref, "password");
	c->auth.bearer_token =
	        secret_key(cfg, c->git_obj, &gr->secret_ref, "bearerToken");
	c->auth.ssh_identity =
	        secret_key(cfg, c->git_obj, &gr->secret_ref, "identity");
	if (c->auth.ssh_identity)
		c->auth.ssh_passphrase = c->auth.password;
	{
		const struct secret *kh = secret_key(
		        cfg, c->git_obj, &gr->secret_ref, "known_hosts");
		c->auth.known_hosts = kh ? (const char *)kh->ptr : NULL;
	}
	/* Flux's precedence: commit, name, semver, tag, branch. */
	ref = checkout_ref(a, c->git_obj);
	if (ref->commit) {
		c->ref.kind = GIT_REF_COMMIT;
		c->ref.value = ref->commit;
	} else if (ref->name) {
		c->ref.kind = GIT_REF_NAME;
		c->ref.value = ref->name;
	} else if (ref->semver) {
		/* Resolved to a tag after the first fetch (resolve_semver). */
		c->ref.kind = GIT_REF_TAG;
		c->ref.value = NULL;
		c->semver_range = ref->semver;
	} else if (ref->tag) {
		c->ref.kind = GIT_REF_TAG;
		c->ref.value = ref->tag;
	} else {
		c->ref.kind = GIT_REF_BRANCH;
		c->ref.value = ref->branch ? ref->branch : "master";
		c->checkout_branch = c->ref.value;
	}
	c->push_branch = iua->git.push.branch ? iua->git.push.branch
	                                      : c->checkout_branch;
	if (c->push_branch == NULL)
		return err_set(
		        err, ERR_INVALID,
		        "the checkout ref is not a branch: set spec.git.push.branch");
	/* Only a push branch other than the checkout branch is ferry's own
	 * and may be force-pushed, as Flux does. */
	c->force = iua->git.push.branch &&
	           (c->checkout_branch == NULL ||
	            strcmp(iua->git.push.branch, c->checkout_branch) != 0);
	if (iua->git.commit.signing_key.secret_ref.name) {
		const char *type = iua->git.commit.signing_key.type;
		const struct config_local_ref *sref =
		        &iua->git.commit.signing_key.secret_ref;
		if (type && strcmp(type, "ssh") == 0) {
			const struct secret *id =
			        secret_key(cfg, a, sref, "identity");
			if (id == NULL)
				return err_set(
				        err, ERR_INVALID,
				        "signing key Secret '%s' has no 'identity'",
				        sref->name);
			if ((rc = sshsig_key_parse(&c->ssh_key,
			                           (const char *)id->ptr,
			                           id->len, err)) < 0)
				return rc;
		} else {
			c->gpg_key = secret_key(cfg, a, sref, "git.asc");
			c->gpg_passphrase =
			        secret_key(cfg, a, sref, "passphrase");
			if (c->gpg_key == NULL)
				return err_set(
				        err, ERR_INVALID,
				        "signing key Secret '%s' has no 'git.asc'",
				        sref->name);
		}
	}
	if ((rc = config_automation_policies(&pols, &npols, cfg, a, err)) < 0)
		return rc;
	c->policies = calloc(npols ? npols : 1, sizeof(*c->policies));
	if (c->policies == NULL) {
		free(pols);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < npols; i++) {
		for (size_t j = 0; j < rep->npolicies; j++) {
			const struct pipeline_policy *p = &rep->policies[j];
			if (p->obj != pols[i] || p->tag == NULL)
				continue;
			/* Only policies with a latest image take part, as in
			 * Flux. */
			c->policies[c->npolicies].namespace_ = obj_ns(p->obj);
			c->policies[c->npolicies].name = obj_name(p->obj);
			c->policies[c->npolicies].image = p->image;
			c->policies[c->npolicies].tag = p->tag;
			c->policies[c->npolicies].digest = p->digest;
			c->npolicies++;
		}
	}
	free(pols);
	return 0;
}

/*
 * ferry's Kustomization strategy: the images[] entry whose name or newName
 * is the policy's image gets newTag (or digest); an entry named after the
 * image is added when none matches (kustomize_image_entry finds it).
 */
static int
apply_edits(struct pipeline_automation *ar, struct wb_ctx *c,
            const char *workdir, bool dry_run, struct buf *diff,
            struct err *err)
{
	const struct config_imageupdateautomation *iua =
	        &c->auto_obj->u.imageupdateautomation;
	const char *path = iua->update.path ? iua->update.path : ".";
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct fsroot *root = NULL;
	int rc = 0;

	yo.dry_run = dry_run;
	yo.diff = diff;
	wb_changes_release(&ar->changes);
	while (*path == '.' && path[1] == '/')
		path += 2;
	if (strcmp(path, ".") == 0 || strcmp(path, "./") == 0)
		path = "";
	/* every editor reads and writes through the clone's root only */
	if ((rc = fsroot_open(&root, workdir, 0, err)) < 0)
		return rc;
	if (iua->update.strategy &&
	    strcmp(iua->update.strategy, "Kustomization") == 0) {
		for (size_t i = 0; i < c->npolicies && rc == 0; i++) {
			struct kustomize_image ki = { 0 };
			char *entry = NULL;
			rc = kustomize_image_entry(&entry, root, path,
			                           c->policies[i].image, err);
			if (rc < 0)
				break;
			ki.name = entry ? entry : c->policies[i].image;
			ki.new_name = entry && strcmp(entry,
			                              c->policies[i].image) != 0
			                      ? c->policies[i].image
			                      : NULL;
			if (c->policies[i].digest && *c->policies[i].digest) {
				ki.digest = c->policies[i].digest;
				ki.new_tag = NULL;
			} else {
				ki.new_tag = c->policies[i].tag;
			}
			rc = kustomize_set_images(root, path, &ki, 1, &yo,
			                          &ar->changes, err);
			free(entry);
		}
	} else {
		rc = setters_apply(root, path, c->policies, c->npolicies, &yo,
		                   &ar->changes, err);
	}
	fsroot_free(root);
	return rc;
}

static int
render_message(struct pipeline_automation *ar, struct wb_ctx *c,
               struct err *err)
{
	const struct config_imageupdateautomation *iua =
	        &c->auto_obj->u.imageupdateautomation;
	const char *src = iua->git.commit.message_template;
	const struct config_strmap *vals =
	        &iua->git.commit.message_template_values;
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *v = NULL;
	struct template_kv *kv = NULL;
	struct buf out = BUF_INIT;
	int rc;

	free(ar->message);
	ar->message = NULL;
	if (src == NULL || *src == '\0') {
		ar->message = strdup(PIPELINE_DEFAULT_MESSAGE);
		return ar->message ? 0 : -ERR_NOMEM;
	}
	kv = calloc(vals->n ? vals->n : 1, sizeof(*kv));
	if (kv == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < vals->n; i++) {
		kv[i].key = vals->keys[i];
		kv[i].value = vals->values[i];
	}
	if ((rc = template_parse(&t, src, strlen(src), true, err)) < 0 ||
	    (rc = template_data_new(&d)) < 0 ||
	    (rc = template_model_flux(d, obj_ns(c->auto_obj),
	                              obj_name(c->auto_obj), &ar->changes, kv,
	                              vals->n, &v, err)) < 0 ||
	    (rc = template_execute(t, v, &out, err)) < 0) {
		err_prefix(err, "commit message template");
		goto out;
	}
	ar->message = buf_detach(&out);
	if (ar->message == NULL)
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&out);
	template_data_free(d);
	template_free(t);
	free(kv);
	return rc;
}

/*
 * What the outcome of a run depends on, besides the remote head: the
 * selected images and the automation's own settings.  When neither this
 * nor the remote head changed since a run that ended well, the run would
 * come to the same result, so it is skipped (as Flux does), and a pass with
 * nothing new costs a fetch.
 */
static void
fingerprint(char out[65], const struct wb_ctx *c)
{
	const struct config_imageupdateautomation *iua =
	        &c->auto_obj->u.imageupdateautomation;
	unsigned char h[crypto_hash_sha256_BYTES];
	struct buf b = BUF_INIT;

#define FP(s) buf_addf(&b, "%s\x1f", (s) ? (s) : "")
	buf_addf(&b, "%d\x1f", (int)c->ref.kind);
	FP(c->ref.value);
	FP(c->push_branch);
	FP(iua->git.push.refspec);
	FP(iua->update.strategy);
	FP(iua->update.path);
	FP(iua->git.commit.message_template);
	FP(iua->git.commit.author.name);
	FP(iua->git.commit.author.email);
	FP(iua->git.commit.signing_key.type);
	FP(iua->git.commit.signing_key.secret_ref.name);
	for (size_t i = 0; i < iua->git.commit.message_template_values.n; i++) {
		FP(iua->git.commit.message_template_values.keys[i]);
		FP(iua->git.commit.message_template_values.values[i]);
	}
	for (size_t i = 0; i < c->npolicies; i++) {
		FP(c->policies[i].namespace_);
		FP(c->policies[i].name);
		FP(c->policies[i].image);
		FP(c->policies[i].tag);
		FP(c->policies[i].digest);
	}
#undef FP
	crypto_hash_sha256(h, (const unsigned char *)b.ptr, b.len);
	sodium_bin2hex(out, 65, h, sizeof(h));
	if (!buf_ok(&b))
		out[0] = '\0'; /* never matches: the run is done in full */
	buf_release(&b);
}

static bool
unchanged_since_last_run(struct state *st, const struct config_object *a,
                         const char *head, const char *fp)
{
	cJSON *doc = NULL;
	struct err e = ERR_INIT;
	const char *rev, *ofp;
	bool same;

	if (*fp == '\0' ||
	    state_get(st, "ImageUpdateAutomation", a->metadata.namespace,
	              a->metadata.name, &doc, &e) < 0)
		return false;
	rev = json_get_string(doc, "observedSourceRevision");
	ofp = json_get_string(doc, "observedFingerprint");
	same = rev && ofp && strcmp(rev, head) == 0 && strcmp(ofp, fp) == 0;
	cJSON_Delete(doc);
	return same;
}

static void
backoff_sleep(long base_ms, int attempt)
{
	long ms = base_ms << (attempt < 6 ? attempt : 6);
	struct timespec ts;

	ms += (long)(random() % (base_ms > 0 ? base_ms : 1));
	ts.tv_sec = ms / 1000;
	ts.tv_nsec = (ms % 1000) * 1000000L;
	nanosleep(&ts, NULL);
}

static void
automation_state_update(struct state *st, struct pipeline_automation *ar,
                        const struct wb_ctx *c, const char *fp)
{
	cJSON *doc = NULL, *pols;
	struct err e = ERR_INIT;
	char now[32];

	if (state_get(st, "ImageUpdateAutomation", obj_ns(ar->obj),
	              obj_name(ar->obj), &doc, &e) < 0)
		doc = cJSON_CreateObject();
	if (doc == NULL)
		return;
	now_rfc3339(now);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastAutomationRunTime");
	cJSON_AddStringToObject(doc, "lastAutomationRunTime", now);
	if (ar->status == PIPELINE_PUSHED) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushCommit");
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushTime");
		cJSON_AddStringToObject(doc, "lastPushCommit", ar->commit);
		cJSON_AddStringToObject(doc, "lastPushTime", now);
	}
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "observedPolicies");
	pols = cJSON_AddObjectToObject(doc, "observedPolicies");
	for (size_t i = 0; pols && c && i < c->npolicies; i++) {
		cJSON *p = cJSON_AddObjectToObject(pols, c->policies[i].name);
		cJSON_AddStringToObject(p, "name", c->policies[i].image);
		cJSON_AddStringToObject(p, "tag", c->policies[i].tag);
		if (c->policies[i].digest)
			cJSON_AddStringToObject(p, "digest",
			                        c->policies[i].digest);
	}
	/* What the remote head is after this run, and what it was made
	 * from; only a run that ended well may let the next one be skipped. */
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "observedSourceRevision");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "observedFingerprint");
	if (c && (ar->status == PIPELINE_PUSHED ||
	          (ar->status == PIPELINE_NO_CHANGE && ar->base[0]))) {
		cJSON_AddStringToObject(
		        doc, "observedSourceRevision",
		        ar->status == PIPELINE_PUSHED ? ar->commit : ar->base);
		cJSON_AddStringToObject(doc, "observedFingerprint", fp);
	}
	if (state_put(st, "ImageUpdateAutomation", obj_ns(ar->obj),
	              obj_name(ar->obj), doc, &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         obj_name(ar->obj), "err", e.msg);
	cJSON_Delete(doc);
}

/*
 * A checkout ref given as a semver range (GitRepository spec.ref.semver):
 * the remote's highest tag in range, with the lenient parsing Flux's
 * source-controller uses for tags (v prefix, partial versions).
 */
static int
resolve_semver(struct wb_ctx *c, struct gitrepo *repo, struct err *err)
{
	struct policy_options po = POLICY_OPTIONS_INIT;
	struct policy *pol = NULL;
	struct policy_tag *pts = NULL;
	struct buf tags = BUF_INIT;
	size_t n = 0, idx = 0;
	char *p, *save = NULL;
	int rc;

	if ((rc = gitrepo_fetch(repo, &c->auth, err)) < 0 ||
	    (rc = gitrepo_tags(repo, &tags, err)) < 0)
		goto out;
	po.kind = POLICY_SEMVER;
	po.semver_range = c->semver_range;
	po.loose = true;
	if ((rc = policy_new(&pol, &po, err)) < 0) {
		err_prefix(err, "checkout ref semver '%s'", c->semver_range);
		goto out;
	}
	for (size_t i = 0; i < tags.len; i++)
		n += tags.ptr[i] == '\n';
	pts = calloc(n ? n : 1, sizeof(*pts));
	if (pts == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	n = 0;
	for (p = strtok_r(tags.ptr, "\n", &save); p;
	     p = strtok_r(NULL, "\n", &save)) {
		pts[n].name = p;
		pts[n].len = strlen(p);
		n++;
	}
	if ((rc = policy_select(pol, pts, n, &idx, NULL, NULL, err)) < 0) {
		err_prefix(err,
		           "no tag of the Git repository matches semver '%s'",
		           c->semver_range);
		goto out;
	}
	free(c->semver_tag);
	c->semver_tag = strdup(pts[idx].name);
	c->ref.value = c->semver_tag;
	if (c->semver_tag == NULL)
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	free(pts);
	policy_free(pol);
	buf_release(&tags);
	return rc;
}

static int
run_automation(struct pipeline_automation *ar, const struct config *cfg,
               struct state *st, const struct pipeline_report *rep,
               const struct pipeline_opts *opts, struct err *err)
{
	struct wb_ctx c;
	struct gitrepo *repo = NULL;
	struct buf diff = BUF_INIT;
	int max = opts->max_push_attempts > 0 ? opts->max_push_attempts
	                                      : PIPELINE_MAX_PUSH_ATTEMPTS;
	long backoff = opts->backoff_ms > 0 ? opts->backoff_ms : 250;
	char fp[65] = "";
	int rc;

	if ((rc = wb_ctx_init(&c, cfg, ar->obj, rep, err)) < 0)
		goto out;
	ar->branch = strdup(c.push_branch);
	if (ar->branch == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = gitrepo_open(&repo, state_dir(st),
	                       c.git_obj->u.gitrepository.url, &c.auth, err)) <
	    0)
		goto out;
	if (c.semver_range && (rc = resolve_semver(&c, repo, err)) < 0)
		goto out;
	fingerprint(fp, &c);

	for (ar->attempts = 1;; ar->attempts++) {
		struct git_commit_opts co = GIT_COMMIT_OPTS_INIT;
		struct git_push_opts po = GIT_PUSH_OPTS_INIT;
		const struct config_imageupdateautomation *iua =
		        &ar->obj->u.imageupdateautomation;

		if ((rc = gitrepo_fetch_ref(repo, &c.ref, &c.auth, ar->base,
		                            err)) < 0)
			goto out;
		if (ar->attempts == 1 &&
		    unchanged_since_last_run(st, ar->obj, ar->base, fp)) {
			ar->status = PIPELINE_NO_CHANGE;
			goto out;
		}
		if ((rc = gitrepo_reset(repo, ar->base, err)) < 0)
			goto out;
		buf_reset(&diff);
		if ((rc = apply_edits(ar, &c, gitrepo_workdir(repo),
		                      opts->dry_run, &diff, err)) < 0)
			goto out;
		if (ar->changes.n == 0) {
			ar->status = PIPELINE_NO_CHANGE;
			goto out;
		}
		if ((rc = render_message(ar, &c, err)) < 0)
			goto out;
		if (opts->dry_run) {
			ar->diff = buf_detach(&diff);
			ar->status = PIPELINE_PLANNED;
			goto out;
		}
		co.author_name = iua->git.commit.author.name;
		co.author_email = iua->git.commit.author.email;
		co.message = ar->message;
		co.ssh_signing_key = c.ssh_key;
		co.gpg_key = c.gpg_key;
		co.gpg_passphrase = c.gpg_passphrase;
		/* stage only what the editors wrote */
		co.paths = (const char *const *)ar->changes.files;
		co.npaths = ar->changes.nfiles;
		rc = gitrepo_commit(repo, &co, ar->commit, err);
		if (rc < 0)
			goto out;
		if (rc == 1) { /* the edits left the tree as it was */
			rc = 0;
			ar->status = PIPELINE_NO_CHANGE;
			goto out;
		}
		/* A separate push branch is rebuilt from the checkout branch
		 * each run: when it already holds this tree, there is nothing
		 * to push (and no commit to report). */
		if (c.force &&
		    gitrepo_remote_branch_has_head_tree(repo, c.push_branch)) {
			ar->status = PIPELINE_NO_CHANGE;
			ar->commit[0] = '\0';
			goto out;
		}
		po.branch = c.push_branch;
		po.force = c.force;
		po.refspec = iua->git.push.refspec;
		rc = gitrepo_push(repo, &po, &c.auth, err);
		if (rc == 0) {
			ar->status = PIPELINE_PUSHED;
			break;
		}
		if (rc != -ERR_CONFLICT || ar->attempts >= max) {
			if (rc == -ERR_CONFLICT)
				err_prefix(err,
				           "gave up after %d push attempts",
				           ar->attempts);
			goto out;
		}
		log_info("git", "push_conflict_retry", "object",
		         obj_name(ar->obj), "branch", c.push_branch);
		backoff_sleep(backoff, ar->attempts - 1);
	}
out:
	if (rc < 0)
		ar->status = PIPELINE_FAILED;
	if (!opts->dry_run)
		automation_state_update(st, ar, rc < 0 ? NULL : &c, fp);
	buf_release(&diff);
	gitrepo_free(repo);
	wb_ctx_release(&c);
	return rc;
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
	if (!r->repos || !r->policies || !r->automations)
		return -ERR_NOMEM;
	for (size_t i = 0; i < r->nrepos; i++)
		r->repos[i].obj = config_get(cfg, CONFIG_IMAGEREPOSITORY, i);
	for (size_t i = 0; i < r->npolicies; i++)
		r->policies[i].obj = config_get(cfg, CONFIG_IMAGEPOLICY, i);
	for (size_t i = 0; i < r->nautomations; i++)
		r->automations[i].obj =
		        config_get(cfg, CONFIG_IMAGEUPDATEAUTOMATION, i);
	return 0;
}

int
pipeline_run(struct pipeline_report *out, const struct config *cfg,
             struct state *st, const struct pipeline_opts *opts,
             struct err *err)
{
	struct tags *tags = NULL;
	int rc, first = 0;

	*out = (struct pipeline_report)PIPELINE_REPORT_INIT;
	if (report_init(out, cfg) < 0 ||
	    (tags = calloc(out->nrepos + 1, sizeof(*tags))) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	srandom((unsigned)time(NULL) ^ (unsigned)getpid());
	if ((rc = stage_scan(out, tags, cfg, st)) < 0 ||
	    (rc = stage_policies(out, tags, cfg, st, opts->dry_run)) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < out->nautomations; i++) {
		struct pipeline_automation *ar = &out->automations[i];
		if (ar->obj->u.imageupdateautomation.suspend) {
			ar->status = PIPELINE_SUSPENDED;
			continue;
		}
		ar->rc = run_automation(ar, cfg, st, out, opts, &ar->err);
		if (ar->rc < 0) {
			log_error("pipeline", "automation_failed", "object",
			          obj_name(ar->obj), "err", ar->err.msg);
			if (ar->rc == -ERR_NOMEM) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
	}
	/* The pass fails when any object did. */
	for (size_t i = 0; i < out->nrepos && !first; i++)
		first = out->repos[i].rc;
	for (size_t i = 0; i < out->npolicies && !first; i++)
		first = out->policies[i].rc;
	for (size_t i = 0; i < out->nautomations && !first; i++)
		first = out->automations[i].rc;
	rc = first;
	if (rc < 0)
		err_set(err, -rc, "some objects failed");
out:
	for (size_t i = 0; tags && i < out->nrepos; i++)
		tags_release(&tags[i]);
	free(tags);
	return rc;
}

void
pipeline_report_release(struct pipeline_report *r)
{
	for (size_t i = 0; i < r->npolicies && r->policies; i++) {
		free(r->policies[i].image);
		free(r->policies[i].tag);
		free(r->policies[i].digest);
		free(r->policies[i].previous);
	}
	for (size_t i = 0; i < r->nautomations && r->automations; i++) {
		free(r->automations[i].branch);
		free(r->automations[i].message);
		free(r->automations[i].diff);
		wb_changes_release(&r->automations[i].changes);
	}
	free(r->repos);
	free(r->policies);
	free(r->automations);
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
