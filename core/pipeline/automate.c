/*
 * automate.c - the ImageUpdateAutomation stage: sync the remote's clone,
 * apply the policies' stored latestRefs to the files (setters, or ferry's
 * Kustomization strategy), commit with the rendered message, push.  A push
 * that loses a race returns "retry after" to the caller; the next attempt
 * fetches, re-applies on the new head and pushes again.
 */
#include "pipeline_int.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/fsroot.h"
#include "base/json.h"
#include "base/log.h"
#include "policy/policy.h"
#include "writeback/git.h"
#include "writeback/kustomize.h"
#include "writeback/setters.h"
#include "writeback/sshsig.h"
#include "writeback/template_model.h"
#include "writeback/yamledit.h"

/* Everything a run of one automation needs, resolved from the config. */
struct wb_ctx {
	const struct config *cfg;
	const struct config_object *auto_obj;
	const struct config_object *git_obj;
	struct gitrepo_auth auth;
	struct gitrepo_ref ref;
	const char *checkout_branch; /* NULL when the ref is not a branch */
	const char *push_branch;
	bool force;
	struct sshsig_key *ssh_key;
	const struct secret *gpg_key;
	const struct secret *gpg_passphrase;
	struct setters_policy *policies;
	size_t npolicies;
	char **strings; /* what policies point into (from the state) */
	size_t nstrings;
	const char *semver_range; /* checkout ref by semver range */
	char *semver_tag;         /* the tag it resolved to */
	/* why a selected policy has no latest image: "" when none failed */
	char policy_failed[ERR_MSG_MAX];
};

static void
wb_ctx_release(struct wb_ctx *c)
{
	sshsig_key_free(c->ssh_key);
	free(c->policies);
	for (size_t i = 0; i < c->nstrings; i++)
		free(c->strings[i]);
	free(c->strings);
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

/* Keeps s for the life of the context; NULL when out of memory. */
static const char *
wb_ctx_keep(struct wb_ctx *c, const char *s)
{
	char *copy, **grown;

	if (s == NULL)
		return NULL;
	grown = realloc(c->strings, (c->nstrings + 1) * sizeof(*grown));
	if (grown == NULL)
		return NULL;
	c->strings = grown;
	if ((copy = strdup(s)) == NULL)
		return NULL;
	return c->strings[c->nstrings++] = copy;
}

/* The message of a stored policy's Ready condition when it is False. */
static const char *
policy_failure(const cJSON *doc)
{
	const cJSON *list = cJSON_GetObjectItemCaseSensitive(doc, "conditions");
	const cJSON *cond;

	cJSON_ArrayForEach(cond, list)
	{
		const char *type = json_get_string(cond, "type");
		const char *status = json_get_string(cond, "status");

		if (type && status && strcmp(type, "Ready") == 0 &&
		    strcmp(status, "False") == 0)
			return json_get_string(cond, "message");
	}
	return NULL;
}

/*
 * The latestRef of each policy the automation selects, from the state
 * store (what the policy stage stored).  Only policies with a latest image
 * take part, as in Flux.
 */
static int
policies_from_state(struct wb_ctx *c, struct state *st,
                    const struct config_object **pols, size_t npols,
                    struct err *err)
{
	c->policies = calloc(npols ? npols : 1, sizeof(*c->policies));
	if (c->policies == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < npols; i++) {
		const struct config_object *p = pols[i];
		struct setters_policy *sp = &c->policies[c->npolicies];
		struct err e = ERR_INIT;
		const char *name, *tag, *digest;
		cJSON *doc = NULL, *ref;
		int rc;

		rc = state_get(st, "ImagePolicy", p->metadata.namespace,
		               p->metadata.name, &doc, &e);
		if (rc == -ERR_NOMEM)
			return err_set(err, ERR_NOMEM, "out of memory");
		ref = cJSON_GetObjectItemCaseSensitive(doc, "latestRef");
		name = json_get_string(ref, "name");
		tag = json_get_string(ref, "tag");
		digest = json_get_string(ref, "digest");
		if (rc < 0 || name == NULL || tag == NULL) {
			/* not run yet: it will run this automation when it has
			 * an image.  Failed: the run must say so, not "no
			 * change". */
			const char *why = rc == 0 ? policy_failure(doc) : NULL;

			if (why && c->policy_failed[0] == '\0')
				snprintf(
				        c->policy_failed,
				        sizeof(c->policy_failed),
				        "ImagePolicy '%s/%s' has no latest image, "
				        "so its values were not updated: %s",
				        p->metadata.namespace, p->metadata.name,
				        why);
			cJSON_Delete(doc);
			continue;
		}
		sp->namespace_ = p->metadata.namespace;
		sp->name = p->metadata.name;
		sp->image = wb_ctx_keep(c, name);
		sp->tag = wb_ctx_keep(c, tag);
		sp->digest = digest ? wb_ctx_keep(c, digest) : NULL;
		cJSON_Delete(doc);
		if (sp->image == NULL || sp->tag == NULL ||
		    (digest && sp->digest == NULL))
			return err_set(err, ERR_NOMEM, "out of memory");
		c->npolicies++;
	}
	return 0;
}

static int
wb_ctx_init(struct wb_ctx *c, const struct config *cfg, struct state *st,
            const struct config_object *a, struct err *err)
{
	const struct config_imageupdateautomation *iua =
	        &a->u.imageupdateautomation;
	struct pipeline_git_source src;
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
	/* Flux's precedence: commit, name, semver (resolved to a tag after
	 * the first fetch, resolve_semver), tag, branch. */
	pipeline_git_source_init(&src, cfg, c->git_obj,
	                         checkout_ref(a, c->git_obj));
	c->auth = src.auth;
	c->ref = src.ref;
	c->semver_range = src.semver;
	c->checkout_branch = src.branch;
	pipeline_git_source_release(&src);
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
			        pipeline_secret(cfg, a, sref, "identity");
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
			c->gpg_key = pipeline_secret(cfg, a, sref, "git.asc");
			c->gpg_passphrase =
			        pipeline_secret(cfg, a, sref, "passphrase");
			if (c->gpg_key == NULL)
				return err_set(
				        err, ERR_INVALID,
				        "signing key Secret '%s' has no 'git.asc'",
				        sref->name);
		}
	}
	if ((rc = config_automation_policies(&pols, &npols, cfg, a, err)) < 0)
		return rc;
	rc = policies_from_state(c, st, pols, npols, err);
	free(pols);
	return rc;
}

/*
 * ferry's Kustomization strategy: the images[] entry whose name or newName
 * is the policy's image gets newTag (or digest); an entry named after the
 * image is added when none matches (kustomize_image_entry finds it), then
 * the byte-exact kustomize editor writes it.
 */
static int
apply_edits(struct pipeline_automation *ar, struct wb_ctx *c,
            const char *workdir, bool dry_run, struct pool *pool,
            struct buf *diff, struct err *err)
{
	const struct config_imageupdateautomation *iua =
	        &c->auto_obj->u.imageupdateautomation;
	const char *path = iua->update.path ? iua->update.path : ".";
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct fsroot *root = NULL;
	struct buf notes = BUF_INIT;
	int rc = 0;

	yo.dry_run = dry_run;
	yo.diff = diff;
	yo.pool = pool;
	yo.notes = &notes;
	free(ar->notes);
	ar->notes = NULL;
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
	if (notes.len > 0)
		ar->notes = buf_detach(&notes);
	buf_release(&notes);
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
		ar->message = strdup(TEMPLATE_FLUX_DEFAULT_MESSAGE);
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
	    (rc = template_model_flux(d, c->auto_obj->metadata.namespace,
	                              c->auto_obj->metadata.name, &ar->changes,
	                              kv, vals->n, &v, err)) < 0 ||
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

/*
 * How long to wait before attempt `attempt` + 1 after a push conflict:
 * base doubling per attempt up to PIPELINE_MAX_BACKOFF_MS, plus up to base
 * of jitter (libsodium's generator: no process-global state) so that two
 * writers that collided do not collide again.
 */
long
pipeline_conflict_backoff(long base_ms, int attempt)
{
	int shift = attempt > 1 ? attempt - 1 : 0;
	long ms = base_ms << (shift < 6 ? shift : 6);

	if (ms > PIPELINE_MAX_BACKOFF_MS)
		ms = PIPELINE_MAX_BACKOFF_MS;
	return ms +
	       (long)randombytes_uniform((uint32_t)(base_ms > 0 ? base_ms : 1));
}

/* The pushes, newest last: commit, time, branch, the message's first
 * line and what changed, for `ferry get` and the status page. */
static void
push_history(cJSON *doc, const struct pipeline_automation *ar, const char *now)
{
	cJSON *h = cJSON_CreateObject(), *changes;
	const char *msg = ar->message ? ar->message : "";
	size_t subject = strcspn(msg, "\n");

	if (h == NULL)
		return;
	cJSON_AddStringToObject(h, "commit", ar->commit);
	cJSON_AddStringToObject(h, "time", now);
	cJSON_AddStringToObject(h, "branch", ar->branch ? ar->branch : "");
	{
		char *first = strndup(msg, subject);
		cJSON_AddStringToObject(h, "subject", first ? first : "");
		free(first);
	}
	cJSON_AddNumberToObject(h, "attempts", ar->attempts);
	changes = cJSON_AddArrayToObject(h, "changes");
	for (size_t i = 0; changes && i < ar->changes.n && i < 50; i++) {
		const struct wb_change *c = &ar->changes.v[i];
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "file", c->file);
		cJSON_AddNumberToObject(o, "line", c->line);
		cJSON_AddStringToObject(o, "old", c->old_value);
		cJSON_AddStringToObject(o, "new", c->new_value);
		cJSON_AddItemToArray(changes, o);
	}
	/* The stored document is both old and new here: its array grows. */
	pipeline_history_add(doc, NULL, "pushHistory", h);
}

static void
automation_state_update(struct state *st, struct pipeline_automation *ar,
                        const struct wb_ctx *c, const char *fp, int rc)
{
	cJSON *doc = NULL, *pols;
	struct err e = ERR_INIT;
	char now[32], msg[ERR_MSG_MAX + 100];

	if (state_get(st, "ImageUpdateAutomation", ar->obj->metadata.namespace,
	              ar->obj->metadata.name, &doc, &e) < 0)
		doc = cJSON_CreateObject();
	if (doc == NULL)
		return;
	pipeline_now(now);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastAutomationRunTime");
	cJSON_AddStringToObject(doc, "lastAutomationRunTime", now);
	if (ar->status == PIPELINE_PUSHED) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushCommit");
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushTime");
		cJSON_AddStringToObject(doc, "lastPushCommit", ar->commit);
		cJSON_AddStringToObject(doc, "lastPushTime", now);
		push_history(doc, ar, now);
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
	if (ar->status == PIPELINE_PUSHED)
		snprintf(msg, sizeof(msg),
		         "pushed commit '%.12s' to branch '%s'", ar->commit,
		         ar->branch ? ar->branch : "");
	else if (rc == -ERR_CONFLICT && ar->retry_after_ms > 0)
		snprintf(msg, sizeof(msg),
		         "push attempt %d lost a race; retrying in %ld ms: %s",
		         ar->attempts, ar->retry_after_ms, ar->err.msg);
	else if (rc < 0)
		snprintf(msg, sizeof(msg), "%s", ar->err.msg);
	else
		snprintf(msg, sizeof(msg), "repository up-to-date");
	pipeline_conditions(doc, rc, msg, rc == -ERR_INVALID);
	if (state_put(st, "ImageUpdateAutomation", ar->obj->metadata.namespace,
	              ar->obj->metadata.name, doc, &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         ar->obj->metadata.name, "err", e.msg);
	cJSON_Delete(doc);
}

/* A checkout ref given as a semver range (GitRepository spec.ref.semver):
 * the remote's highest tag in range. */
static int
resolve_semver(struct wb_ctx *c, struct gitrepo *repo, struct err *err)
{
	int rc = pipeline_git_semver_tag(repo, &c->auth, c->semver_range,
	                                 "checkout ref semver", &c->semver_tag,
	                                 err);

	c->ref.value = c->semver_tag;
	return rc;
}

int
pipeline_automate(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                  int attempt, struct pipeline_automation *out)
{
	const struct config_object *obj;
	const struct config_imageupdateautomation *iua;
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct wb_ctx c;
	struct gitrepo *repo = NULL;
	struct buf diff = BUF_INIT;
	struct err *err = &out->err;
	int max = ctx->max_push_attempts > 0 ? ctx->max_push_attempts
	                                     : PIPELINE_MAX_PUSH_ATTEMPTS;
	long backoff =
	        ctx->backoff_ms > 0 ? ctx->backoff_ms : PIPELINE_BACKOFF_MS;
	char fp[65] = "";
	bool ctx_ready = false;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&c, 0, sizeof(c));
	out->attempts = attempt > 0 ? attempt : 1;
	obj = pipeline_find(ctx, key, err);
	if (obj == NULL)
		return out->rc = -ERR_NOTFOUND;
	out->obj = obj;
	iua = &obj->u.imageupdateautomation;
	if (iua->suspend) {
		out->status = PIPELINE_SUSPENDED;
		return 0;
	}
	if ((rc = wb_ctx_init(&c, ctx->cfg, ctx->st, obj, err)) < 0)
		goto out;
	ctx_ready = true;
	out->branch = strdup(c.push_branch);
	if (out->branch == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if ((rc = gitrepo_open(&repo, state_dir(ctx->st),
	                       c.git_obj->u.gitrepository.url, &c.auth, err)) <
	    0)
		goto out;
	if (c.semver_range && (rc = resolve_semver(&c, repo, err)) < 0)
		goto out;
	fingerprint(fp, &c);
	if ((rc = gitrepo_fetch_ref(repo, &c.ref, &c.auth, out->base, err)) < 0)
		goto out;
	if (unchanged_since_last_run(ctx->st, obj, out->base, fp)) {
		out->status = PIPELINE_NO_CHANGE;
		goto out;
	}
	if ((rc = gitrepo_reset(repo, out->base, err)) < 0)
		goto out;
	if ((rc = apply_edits(out, &c, gitrepo_workdir(repo), ctx->dry_run,
	                      ctx->pool, &diff, err)) < 0)
		goto out;
	if (out->changes.n == 0) {
		out->status = PIPELINE_NO_CHANGE;
		goto out;
	}
	if ((rc = render_message(out, &c, err)) < 0)
		goto out;
	if (ctx->dry_run) {
		out->diff = buf_detach(&diff);
		out->status = PIPELINE_PLANNED;
		goto out;
	}
	co.author_name = iua->git.commit.author.name;
	co.author_email = iua->git.commit.author.email;
	co.message = out->message;
	co.ssh_signing_key = c.ssh_key;
	co.gpg_key = c.gpg_key;
	co.gpg_passphrase = c.gpg_passphrase;
	/* Stage only what the editors wrote. */
	co.paths = (const char *const *)out->changes.files;
	co.npaths = out->changes.nfiles;
	rc = gitrepo_commit(repo, &co, out->commit, err);
	if (rc < 0)
		goto out;
	if (rc == 1) { /* the edits left the tree as it was */
		rc = 0;
		out->status = PIPELINE_NO_CHANGE;
		goto out;
	}
	/* A separate push branch is rebuilt from the checkout branch each
	 * run: when it already holds this tree, there is nothing to push
	 * (and no commit to report). */
	if (c.force &&
	    gitrepo_remote_branch_has_head_tree(repo, c.push_branch)) {
		out->status = PIPELINE_NO_CHANGE;
		out->commit[0] = '\0';
		goto out;
	}
	po.branch = c.push_branch;
	po.force = c.force;
	po.refspec = iua->git.push.refspec;
	if (ctx->before_push &&
	    (rc = ctx->before_push(ctx->before_push_payload, obj, err)) < 0) {
		err_prefix(err, "not pushing");
		goto out;
	}
	rc = gitrepo_push(repo, &po, &c.auth, err);
	if (rc == 0) {
		out->status = PIPELINE_PUSHED;
		log_info("git", "pushed", "object", obj->metadata.name,
		         "branch", c.push_branch, "commit", out->commit);
	} else if (rc == -ERR_CONFLICT && out->attempts < max) {
		char na[32], nr[32];
		out->retry_after_ms =
		        pipeline_conflict_backoff(backoff, out->attempts);
		log_info("git", "push_conflict_retry", "object",
		         obj->metadata.name, "branch", c.push_branch, "attempt",
		         log_num(na, out->attempts), "retry_after_ms",
		         log_num(nr, out->retry_after_ms));
	} else if (rc == -ERR_CONFLICT) {
		err_prefix(err, "gave up after %d push attempts",
		           out->attempts);
	}
out:
	if (rc == 0 && out->status == PIPELINE_NO_CHANGE && ctx_ready &&
	    c.policy_failed[0] != '\0')
		rc = err_set(err, ERR_TRANSIENT, "%s", c.policy_failed);
	if (rc < 0)
		out->status = PIPELINE_FAILED;
	if (!ctx->dry_run)
		automation_state_update(
		        ctx->st, out, rc < 0 || !ctx_ready ? NULL : &c, fp, rc);
	buf_release(&diff);
	gitrepo_free(repo);
	wb_ctx_release(&c);
	out->rc = rc;
	if (rc < 0 && out->retry_after_ms == 0)
		log_error("pipeline", "automation_failed", "object",
		          obj->metadata.name, "err", err->msg);
	return rc;
}

void
pipeline_automation_release(struct pipeline_automation *a)
{
	free(a->branch);
	free(a->message);
	free(a->diff);
	free(a->notes);
	wb_changes_release(&a->changes);
	memset(a, 0, sizeof(*a));
}
