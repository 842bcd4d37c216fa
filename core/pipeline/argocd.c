/*
 * argocd.c - the Argo CD Application stage: what Argo CD Image Updater's
 * git write-back does for one application (pkg/argocd UpdateApplication
 * and commitChangesGit), over ferry's registry client, cached clone and
 * byte-exact editors.
 *
 *   1. each image's tags, through the context's registry client, with
 *      its pull secret (read again, and the scan retried once, on 401);
 *   2. the tag its strategy and filters pick (policy/policy.h);
 *   3. the clone synced to the base branch, and what the write-back
 *      target holds for each image today: an image whose version differs
 *      is a change (Argo CD compares with the running image, which ferry
 *      cannot see: the target, then the Application's own parameters,
 *      then the kustomization or values at its path stand for it);
 *   4. for BASE:TARGET, the branch name rendered from the changes (with
 *      .AppName, .AppNamespace and .TargetKey filled in, which Argo CD
 *      Image Updater leaves empty there); an existing target branch is
 *      built on, as Argo CD does;
 *   5. the target written, committed with the commit message template
 *      (ConfigMap argocd-image-updater-config) and pushed; a push that
 *      lost a race comes back as "retry after".
 * Its status is kept in the state store as document kind "Application".
 */
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/fsroot.h"
#include "base/json.h"
#include "base/log.h"
#include "base/proc.h"
#include "config/argocd.h"
#include "policy/policy.h"
#include "writeback/argocd.h"
#include "writeback/git.h"
#include "writeback/helm.h"
#include "writeback/kustomize.h"
#include "writeback/template_model.h"

#define ARGOCD_EXT_TIMEOUT_MS 10000 /* ext: scripts, as registry-scanner */
#define ARGOCD_DEFAULT_PLATFORM "linux/amd64"
#define ARGOCD_MAX_PLATFORMS 16

/* Credentials of one image, owned here. */
struct creds {
	struct buf user;
	struct secret pass;
};

struct run {
	struct pipeline_ctx *ctx;
	const struct config_argocd_unit *u;
	const struct config_object *app;
	struct pipeline_app *out;
	enum config_argocd_target_kind tk;
	char *target; /* relative to the repository root */
	enum argocd_app_type type;
	const char *url;
	struct gitrepo_auth auth;
	struct buf user; /* Git user name storage */
	struct buf base_branch;
	struct buf push_branch;
};

/* ---- credentials ---- */

static void
creds_release(struct creds *c)
{
	if (c->user.ptr)
		secret_wipe(c->user.ptr, c->user.len);
	buf_release(&c->user);
	secret_release(&c->pass);
}

/* "user:pass" into c.  -ERR_INVALID (never quoting the value). */
static int
creds_split(struct creds *c, const char *s, size_t len, const char *what,
            struct err *err)
{
	const char *colon = memchr(s, ':', len);

	while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == '\r'))
		len--;
	if (colon == NULL || colon == s || (size_t)(colon - s) + 1 > len)
		return err_set(err, ERR_INVALID,
		               "%s: expected USER:PASSWORD (not shown)", what);
	buf_reset(&c->user);
	buf_add(&c->user, s, (size_t)(colon - s));
	if (!buf_ok(&c->user) ||
	    secret_set(&c->pass, colon + 1, len - (size_t)(colon - s) - 1) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * Credentials of spec (a pull secret) into im: a .dockerconfigjson
 * (borrowed from the configuration) or a user and password (in c).
 * Environment variables and scripts are read again on every call.
 */
static int
creds_fetch(struct creds *c, struct registry_image *im, const char *spec,
            const struct config *cfg, struct err *err)
{
	struct config_argocd_cred cr;
	const struct config_object *sec;
	const struct secret *v;
	char ns[254], name[254];
	int rc;

	if ((rc = config_argocd_cred_parse(&cr, spec, err)) < 0)
		return rc;
	switch (cr.kind) {
	case CONFIG_ARGOCD_CRED_PULLSECRET:
	case CONFIG_ARGOCD_CRED_SECRET:
		snprintf(ns, sizeof(ns), "%.*s", (int)cr.ns_len, cr.ns);
		snprintf(name, sizeof(name), "%.*s", (int)cr.name_len, cr.name);
		sec = config_find(cfg, CONFIG_SECRET, ns, name);
		v = config_secret_value(sec,
		                        cr.kind == CONFIG_ARGOCD_CRED_SECRET
		                                ? cr.field
		                                : ".dockerconfigjson");
		if (v == NULL)
			return err_set(
			        err, ERR_AUTH,
			        "pull secret '%s': Secret '%s/%s' or its "
			        "key is missing",
			        spec, ns, name);
		if (cr.kind == CONFIG_ARGOCD_CRED_PULLSECRET) {
			im->dockerconfig = (const char *)v->ptr;
			im->dockerconfig_len = v->len;
			return 0;
		}
		rc = creds_split(c, (const char *)v->ptr, v->len, spec, err);
		break;
	case CONFIG_ARGOCD_CRED_ENV: {
		const char *e = getenv(cr.env);

		if (e == NULL || *e == '\0')
			return err_set(
			        err, ERR_AUTH,
			        "pull secret '%s': the variable is not set",
			        spec);
		rc = creds_split(c, e, strlen(e), spec, err);
		break;
	}
	case CONFIG_ARGOCD_CRED_EXT: {
		const char *argv[2] = { cr.path, NULL };
		struct proc_io io = PROC_IO_INIT;
		struct buf outb = BUF_INIT;
		int status = 0;

		io.out = &outb;
		io.timeout_ms = ARGOCD_EXT_TIMEOUT_MS;
		rc = proc_run(argv, &io, &status, err);
		if (rc == 0 && status != 0)
			rc = err_set(err, ERR_AUTH,
			             "pull secret '%s': the script exited with "
			             "status %d",
			             spec, status);
		if (rc == 0)
			rc = creds_split(c, outb.ptr ? outb.ptr : "", outb.len,
			                 spec, err);
		if (outb.ptr)
			secret_wipe(outb.ptr, outb.len);
		buf_release(&outb);
		break;
	}
	}
	if (rc == 0) {
		im->username = c->user.ptr;
		im->password = &c->pass;
	}
	return rc;
}

/* ---- the registry and the strategy ---- */

struct scan_job {
	struct registry_image im[ARGOCD_MAX_PLATFORMS];
	struct registry_scan scan[ARGOCD_MAX_PLATFORMS];
	size_t n;
	struct creds creds;
	const char *only[1];
	const char *none[1];
};

static void
job_release(struct scan_job *j)
{
	for (size_t i = 0; i < j->n; i++)
		registry_scan_release(&j->scan[i]);
	creds_release(&j->creds);
}

/* The pull secret of an image: its own, else its registries.conf
 * entry's credentials, else NULL (anonymous). */
static const char *
cred_spec(const struct config_argocd_unit_image *ui, const char *name,
          const struct config *cfg)
{
	const struct config_argocd_registry *reg =
	        config_argocd_registry_for(cfg, name, strlen(name));

	return ui->pull_secret ? ui->pull_secret
	       : reg           ? reg->credentials
	                       : NULL;
}

/* The registry_images of one image: one per platform for newest-build. */
static int
job_init(struct scan_job *j, const struct config_argocd_unit_image *ui,
         const char *name, const struct config *cfg, struct err *err)
{
	const struct config_argocd_registry *reg =
	        config_argocd_registry_for(cfg, name, strlen(name));
	const char *spec = cred_spec(ui, name, cfg);
	const struct config_strlist *pl = ui->platforms;
	size_t np =
	        ui->strategy == CONFIG_ARGOCD_NEWEST_BUILD && pl ? pl->n : 1;
	struct registry_image base = { 0 };
	int rc;

	if (np > ARGOCD_MAX_PLATFORMS)
		np = ARGOCD_MAX_PLATFORMS;
	if (np == 0)
		np = 1;
	base.image = name;
	/* Argo CD lists every tag: no exclusion list */
	base.exclusions = j->none;
	base.n_exclusions = 0;
	base.insecure = reg && reg->plain_http;
	if (ui->strategy == CONFIG_ARGOCD_DIGEST) {
		/* only the followed tag, with its digest (never cached) */
		j->only[0] = ui->image->constraint;
		base.only_tags = j->only;
		base.n_only_tags = 1;
		base.want = REGISTRY_WANT_DIGEST;
	} else if (ui->strategy == CONFIG_ARGOCD_NEWEST_BUILD) {
		base.want = REGISTRY_WANT_CREATED;
	}
	if (spec && (rc = creds_fetch(&j->creds, &base, spec, cfg, err)) < 0)
		return rc;
	for (size_t i = 0; i < np; i++) {
		j->im[i] = base;
		if (pl && ui->strategy == CONFIG_ARGOCD_NEWEST_BUILD)
			j->im[i].platform = pl->items[i];
		else
			j->im[i].platform = ARGOCD_DEFAULT_PLATFORM;
		j->scan[i] = (struct registry_scan)REGISTRY_SCAN_INIT;
	}
	j->n = np;
	return 0;
}

/* Runs the scans; on a 401 or 403 reads the credentials again (the
 * image's or its registries.conf entry's), scans again, once. */
static int
job_scan(struct scan_job *j, const struct config_argocd_unit_image *ui,
         const struct config *cfg, struct registry_client *rc_, struct err *err)
{
	const char *spec = cred_spec(ui, j->im[0].image, cfg);
	int rc;

	registry_scan_all(rc_, j->im, j->scan, j->n, NULL, NULL);
	for (size_t i = 0; i < j->n; i++)
		if (j->scan[i].rc == -ERR_AUTH && spec) {
			log_info("argocd", "credentials_refetch", "image",
			         j->im[0].image, "reason", "401 or 403");
			creds_release(&j->creds);
			j->creds.user = (struct buf)BUF_INIT;
			for (size_t k = 0; k < j->n; k++) {
				j->im[k].dockerconfig = NULL;
				j->im[k].username = NULL;
				j->im[k].password = NULL;
			}
			/* once for every platform: each fetch refills
			 * j->creds, which every im[k] points into, and a
			 * script is run once per refetch */
			if ((rc = creds_fetch(&j->creds, &j->im[0], spec, cfg,
			                      err)) < 0)
				return rc;
			for (size_t k = 0; k < j->n; k++) {
				j->im[k].dockerconfig = j->im[0].dockerconfig;
				j->im[k].dockerconfig_len =
				        j->im[0].dockerconfig_len;
				j->im[k].username = j->im[0].username;
				j->im[k].password = j->im[0].password;
				registry_scan_release(&j->scan[k]);
				j->scan[k] = (struct registry_scan)
				        REGISTRY_SCAN_INIT;
			}
			registry_scan_all(rc_, j->im, j->scan, j->n, NULL,
			                  NULL);
			break;
		}
	for (size_t i = 0; i < j->n; i++)
		if (j->scan[i].rc < 0) {
			*err = j->scan[i].err;
			return j->scan[i].rc;
		}
	return 0;
}

int64_t
pipeline_argocd_created_ns(int64_t created_unix)
{
	int64_t ns;

	/* a hostile registry's config blob may say 9999-12-31 */
	if (__builtin_mul_overflow(created_unix, (int64_t)1000000000, &ns))
		return created_unix < 0 ? INT64_MIN : INT64_MAX;
	return ns;
}

static enum policy_kind
policy_kind_of(enum config_argocd_strategy s)
{
	switch (s) {
	case CONFIG_ARGOCD_NEWEST_BUILD:
		return POLICY_NEWEST_BUILD;
	case CONFIG_ARGOCD_ALPHABETICAL:
		return POLICY_ALPHABETICAL;
	case CONFIG_ARGOCD_DIGEST:
		return POLICY_DIGEST;
	default:
		return POLICY_SEMVER;
	}
}

/* The tag (and digest) the strategy picks from the scans. */
static int
pick(struct pipeline_app_image *pi, const struct config_argocd_unit_image *ui,
     const struct scan_job *j, struct err *err)
{
	struct policy_options po = POLICY_OPTIONS_INIT;
	const struct registry_scan *s0 = &j->scan[0];
	struct policy *pol = NULL;
	struct policy_tag *pts = NULL;
	size_t idx = 0;
	int rc;

	po.kind = policy_kind_of(ui->strategy);
	po.loose = true;
	po.semver_range = ui->image->constraint && *ui->image->constraint
	                          ? ui->image->constraint
	                          : "*";
	po.digest_tag = ui->image->constraint;
	po.allow_tags = ui->allow_tags;
	if (ui->ignore_tags) {
		po.ignore_tags = (const char *const *)ui->ignore_tags->items;
		po.ignore_tags_len = ui->ignore_tags->n;
	}
	if (po.kind != POLICY_SEMVER)
		po.semver_range = NULL;
	if ((rc = policy_new(&pol, &po, err)) < 0)
		return rc;
	pts = calloc(s0->ntags ? s0->ntags : 1, sizeof(*pts));
	if (pts == NULL) {
		policy_free(pol);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	for (size_t i = 0; i < s0->ntags; i++) {
		const struct registry_tag *t = &s0->tags[i];

		pts[i].name = t->name;
		pts[i].len = strlen(t->name);
		pts[i].has_created = t->created_unix != INT64_MIN;
		pts[i].created_ns =
		        pts[i].has_created
		                ? pipeline_argocd_created_ns(t->created_unix)
		                : 0;
		/* the newest image of any platform asked for (sorted alike) */
		for (size_t k = 1; k < j->n; k++) {
			const struct registry_scan *sk = &j->scan[k];

			for (size_t m = 0; m < sk->ntags; m++)
				if (strcmp(sk->tags[m].name, t->name) == 0 &&
				    sk->tags[m].created_unix != INT64_MIN &&
				    (!pts[i].has_created ||
				     pipeline_argocd_created_ns(
				             sk->tags[m].created_unix) >
				             pts[i].created_ns)) {
					pts[i].has_created = true;
					pts[i].created_ns =
					        pipeline_argocd_created_ns(
					                sk->tags[m]
					                        .created_unix);
				}
		}
	}
	rc = policy_select(pol, pts, s0->ntags, &idx, NULL, NULL, err);
	if (rc == 0) {
		pi->tag = strdup(s0->tags[idx].name);
		if (ui->strategy == CONFIG_ARGOCD_DIGEST) {
			if (s0->tags[idx].digest == NULL)
				rc = err_set(err, ERR_TRANSIENT,
				             "no digest for tag '%s'",
				             s0->tags[idx].name);
			else
				pi->digest = strdup(s0->tags[idx].digest);
		}
		if (pi->tag == NULL ||
		    (rc == 0 && ui->strategy == CONFIG_ARGOCD_DIGEST &&
		     pi->digest == NULL))
			rc = rc < 0 ? rc
			            : err_set(err, ERR_NOMEM, "out of memory");
	}
	free(pts);
	policy_free(pol);
	return rc;
}

/* Every image's latest, at once over the registry client. */
static void
resolve_images(struct run *r)
{
	const struct config_argocd_unit *u = r->u;
	struct pipeline_app *out = r->out;

	for (size_t i = 0; i < u->n_images; i++) {
		const struct config_argocd_unit_image *ui = &u->images[i];
		struct pipeline_app_image *pi = &out->images[i];
		struct scan_job j;
		int rc;

		memset(&j, 0, sizeof(j));
		j.creds.user = (struct buf)BUF_INIT;
		if ((rc = job_init(&j, ui, pi->image, r->ctx->cfg, &pi->err)) ==
		            0 &&
		    (rc = job_scan(&j, ui, r->ctx->cfg, r->ctx->registry,
		                   &pi->err)) == 0)
			rc = pick(pi, ui, &j, &pi->err);
		/* the registry's messages name the image already */
		if (rc < 0 && rc != -ERR_NOMEM &&
		    strncmp(pi->err.msg, "image '", 7) != 0)
			err_prefix(&pi->err, "image '%s'", pi->image);
		pi->rc = rc;
		if (rc < 0)
			log_warn("argocd", "image_failed", "application",
			         r->app->metadata.name, "image", pi->image,
			         "err", pi->err.msg);
		job_release(&j);
	}
}

/* ---- Git: where, with what, which branch ---- */

/* A repository URL without a trailing '/' or ".git", for comparing. */
static size_t
url_core(const char *u)
{
	size_t n = strlen(u);

	while (n > 0 && u[n - 1] == '/')
		n--;
	if (n > 4 && memcmp(u + n - 4, ".git", 4) == 0)
		n -= 4;
	return n;
}

/*
 * Argo CD's repository credentials, from its Secrets in the files given
 * (label argocd.argoproj.io/secret-type): "repository" for this URL, else
 * the "repo-creds" template whose url is the longest prefix of it.
 */
static const struct config_object *
repo_creds(const struct config *cfg, const char *url)
{
	const struct config_object *best = NULL;
	size_t n = config_count(cfg, CONFIG_SECRET), ul = url_core(url),
	       best_len = 0;

	for (size_t i = 0; i < n; i++) {
		const struct config_object *s =
		        config_get(cfg, CONFIG_SECRET, i);
		const char *type = config_strmap_get(
		        &s->metadata.labels, "argocd.argoproj.io/secret-type");
		const struct secret *v = config_secret_value(s, "url");
		size_t vl;

		if (type == NULL || v == NULL)
			continue;
		vl = url_core((const char *)v->ptr);
		if (strcmp(type, "repository") == 0 && vl == ul &&
		    memcmp(v->ptr, url, ul) == 0)
			return s;
		if (strcmp(type, "repo-creds") == 0 && vl <= ul &&
		    memcmp(v->ptr, url, vl) == 0 && vl > best_len) {
			best = s;
			best_len = vl;
		}
	}
	return best;
}

static bool
secret_true(const struct config_object *s, const char *key)
{
	const struct secret *v = config_secret_value(s, key);

	return v && (strcmp((const char *)v->ptr, "true") == 0 ||
	             strcmp((const char *)v->ptr, "True") == 0 ||
	             strcmp((const char *)v->ptr, "1") == 0);
}

static int
setup_git(struct run *r, struct err *err)
{
	const struct config_argocd_unit *u = r->u;
	const struct config_object *sec = NULL;
	struct config_argocd_method m;
	const struct secret *v;
	int rc;

	r->url = u->repository ? u->repository : u->source->repo_url;
	if (r->url == NULL)
		return err_set(err, ERR_INVALID,
		               "no Git repository to write to");
	if ((rc = config_argocd_method_parse(
	             &m, u->method ? u->method : "argocd", err)) < 0)
		return rc;
	if (m.secret_name) {
		char name[254];

		snprintf(name, sizeof(name), "%.*s", (int)m.secret_name_len,
		         m.secret_name);
		sec = config_find(r->ctx->cfg, CONFIG_SECRET,
		                  r->app->metadata.namespace, name);
		if (sec == NULL)
			return err_set(
			        err, ERR_AUTH,
			        "Git credentials: Secret '%s/%s' not found",
			        r->app->metadata.namespace, name);
	} else {
		sec = repo_creds(r->ctx->cfg, r->url);
	}
	if (sec == NULL)
		return 0; /* anonymous (a public or local repository) */
	if ((v = config_secret_value(sec, "username")) != NULL) {
		buf_add(&r->user, v->ptr, v->len);
		if (!buf_ok(&r->user))
			return err_set(err, ERR_NOMEM, "out of memory");
		r->auth.username = r->user.ptr;
	}
	r->auth.password = config_secret_value(sec, "password");
	r->auth.ssh_identity = config_secret_value(sec, "sshPrivateKey");
	if ((v = config_secret_value(sec, "known_hosts")) != NULL)
		r->auth.known_hosts = (const char *)v->ptr;
	/* git:secret: Argo CD Image Updater does not check SSH host keys
	 * (NewSSHCreds(..., insecure true)); repository Secrets say so
	 * with insecure.  A known_hosts key (ferry's) checks them. */
	if (r->auth.ssh_identity && r->auth.known_hosts == NULL &&
	    (m.secret_name || secret_true(sec, "insecure"))) {
		r->auth.insecure_ignore_host_key = true;
		log_warn("argocd", "ssh_host_key_unchecked", "application",
		         r->app->metadata.name, "secret", sec->metadata.name,
		         "advice",
		         "add a known_hosts key to the Secret to check the "
		         "server's host key");
	}
	return 0;
}

/* ---- what the target holds ---- */

static const char *
last_slash_path(const char *name, size_t len)
{
	/* the image's repository path, without a registry host */
	const char *slash = memchr(name, '/', len);
	size_t hl = slash ? (size_t)(slash - name) : 0;

	if (slash && (memchr(name, '.', hl) || memchr(name, ':', hl) ||
	              (hl == 9 && memcmp(name, "localhost", 9) == 0)))
		return slash + 1;
	return name;
}

/* The helm parameter names of an image: spec, or name and tag. */
static void
helm_keys(const struct config_argocd_unit_image *ui, const char **name,
          const char **tag, const char **spec)
{
	const struct config_argocd_image *img = ui->image;

	*spec = NULL;
	*name = "image.name";
	*tag = "image.tag";
	if (img->alias == NULL || *img->alias == '\0')
		return; /* getHelmParamNames: the defaults */
	if (img->targets.helm.spec) {
		*spec = img->targets.helm.spec;
		*name = *tag = NULL;
		return;
	}
	if (img->targets.helm.name)
		*name = img->targets.helm.name;
	if (img->targets.helm.tag)
		*tag = img->targets.helm.tag;
}

/* Sets old_tag/old_digest from "TAG[@DIGEST]" or "[A=]NAME:TAG@D". */
static int
old_from(struct pipeline_app_image *pi, const char *s, bool reference)
{
	const char *at;
	size_t tl;

	if (s == NULL)
		return 0;
	if (reference) {
		struct argocd_image_ref ref;

		argocd_image_ref_split(&ref, s);
		pi->old_tag = ref.tag ? strndup(ref.tag, ref.tag_len) : NULL;
		pi->old_digest =
		        ref.digest ? strndup(ref.digest, ref.digest_len) : NULL;
		return (ref.tag && !pi->old_tag) ||
		                       (ref.digest && !pi->old_digest)
		               ? -ERR_NOMEM
		               : 0;
	}
	at = strchr(s, '@');
	tl = at ? (size_t)(at - s) : strlen(s);
	pi->old_tag = tl ? strndup(s, tl) : NULL;
	pi->old_digest = at ? strdup(at + 1) : NULL;
	return (tl && !pi->old_tag) || (at && !pi->old_digest) ? -ERR_NOMEM : 0;
}

/* The Application's own kustomize image or helm parameter. */
static const char *
spec_image(const struct config_argocd_source *s, const char *name)
{
	for (size_t i = 0; i < s->kustomize.images.n; i++) {
		struct argocd_image_ref ref;

		argocd_image_ref_split(&ref, s->kustomize.images.items[i]);
		if (argocd_image_same(ref.name, ref.name_len, name,
		                      strlen(name)))
			return s->kustomize.images.items[i];
	}
	return NULL;
}

static const char *
spec_param(const struct config_argocd_source *s, const char *name)
{
	for (size_t i = 0; name && i < s->helm.n_parameters; i++)
		if (s->helm.parameters[i].name &&
		    strcmp(s->helm.parameters[i].name, name) == 0)
			return s->helm.parameters[i].value;
	return NULL;
}

/* What the target holds for image i today (old_tag, old_digest). */
static int
read_old(struct run *r, const struct fsroot *root, size_t i, struct err *err)
{
	const struct config_argocd_unit_image *ui = &r->u->images[i];
	struct pipeline_app_image *pi = &r->out->images[i];
	const struct config_argocd_source *src = r->u->source;
	const char *dir = src->path && *src->path ? src->path : "";
	const char *kname = ui->image->targets.kustomize.name;
	const char *hn, *ht, *hs;
	char *v = NULL;
	int rc = 0;

	helm_keys(ui, &hn, &ht, &hs);
	switch (r->tk) {
	case CONFIG_ARGOCD_TARGET_KUSTOMIZATION: {
		struct argocd_kustomize_entry e;

		rc = argocd_kustomization_get(&e, root, r->target,
		                              kname ? kname : pi->image, err);
		if (rc == 0) {
			pi->old_tag = e.new_tag;
			pi->old_digest = e.digest;
			e.new_tag = e.digest = NULL;
			argocd_kustomize_entry_release(&e);
		}
		return rc;
	}
	case CONFIG_ARGOCD_TARGET_HELMVALUES:
		rc = argocd_values_get(&v, root, r->target, hs ? hs : ht, err);
		if (rc == 0)
			rc = old_from(pi, v, hs != NULL);
		free(v);
		return rc;
	default:
		break;
	}
	if (r->type == ARGOCD_APP_KUSTOMIZE) {
		const char *s;
		struct argocd_kustomize_entry e;

		if ((rc = argocd_source_kustomize_get(&v, root, r->target,
		                                      pi->image, err)) < 0)
			return rc;
		if (v) {
			rc = old_from(pi, v, true);
			free(v);
			return rc;
		}
		if ((s = spec_image(src, pi->image)) != NULL)
			return old_from(pi, s, true);
		/* the kustomization at the path stands for the running
		 * one, then what its manifests name */
		rc = argocd_kustomization_get(&e, root, dir,
		                              kname ? kname : pi->image, err);
		if (rc == 0) {
			pi->old_tag = e.new_tag;
			pi->old_digest = e.digest;
			e.new_tag = e.digest = NULL;
			argocd_kustomize_entry_release(&e);
		}
		if ((rc == 0 || rc == -ERR_NOTFOUND) && !pi->old_tag &&
		    !pi->old_digest) {
			if ((rc = argocd_manifests_image_get(
			             &v, root, dir, pi->image, err)) == 0)
				rc = old_from(pi, v, false);
			free(v);
		}
		return rc;
	}
	/* Helm: the override file, the Application's parameters, then the
	 * chart's values.yaml at the path */
	if ((rc = argocd_source_helm_get(&v, root, r->target, hs ? hs : ht,
	                                 err)) < 0)
		return rc;
	if (v == NULL && spec_param(src, hs ? hs : ht))
		v = strdup(spec_param(src, hs ? hs : ht));
	if (v == NULL) {
		struct buf vf = BUF_INIT;

		buf_addf(&vf, "%s%svalues.yaml", dir, *dir ? "/" : "");
		rc = buf_ok(&vf) ? argocd_values_get(&v, root, vf.ptr,
		                                     hs ? hs : ht, err)
		                 : err_set(err, ERR_NOMEM, "out of memory");
		buf_release(&vf);
		if (rc < 0)
			return rc;
	}
	rc = old_from(pi, v, hs != NULL);
	free(v);
	return rc;
}

static bool
str_eq(const char *a, const char *b)
{
	return (a == NULL && b == NULL) || (a && b && strcmp(a, b) == 0);
}

/* Argo CD's needsUpdate: digests first, then tags. */
static bool
needs_update(const struct pipeline_app_image *pi, bool digest_strategy)
{
	if (pi->tag == NULL)
		return false;
	if (digest_strategy)
		return pi->old_digest == NULL ||
		       !str_eq(pi->old_digest, pi->digest);
	if (pi->old_digest || pi->digest)
		return !str_eq(pi->old_digest, pi->digest);
	return !str_eq(pi->old_tag, pi->tag);
}

/* ---- what is written ---- */

/* GetFullNameWithTag, with kustomize.image-name in front when given. */
static char *
image_string(const struct config_argocd_unit_image *ui,
             const struct pipeline_app_image *pi)
{
	const char *kname = ui->image->targets.kustomize.name;
	struct buf b = BUF_INIT;

	if (kname)
		buf_addf(&b, "%s=", kname);
	buf_puts(&b, pi->image);
	if (pi->tag && *pi->tag)
		buf_addf(&b, ":%s", pi->tag);
	if (pi->digest)
		buf_addf(&b, "@%s", pi->digest);
	return buf_detach(&b);
}

/* GetTagWithDigest: TAG, TAG@DIGEST, or latest@DIGEST. */
static char *
tag_with_digest(const struct pipeline_app_image *pi)
{
	struct buf b = BUF_INIT;

	if (pi->tag && *pi->tag)
		buf_puts(&b, pi->tag);
	if (pi->digest)
		buf_addf(&b, "%s@%s", b.len ? "" : "latest", pi->digest);
	if (b.ptr == NULL)
		buf_puts(&b, "");
	return buf_detach(&b);
}

/* Strings made for one write, freed together. */
struct strs {
	char **v;
	size_t n, cap;
};

/* Keeps p (a string just made, or NULL when making it failed) until the
 * write is done; p, or NULL when p was NULL or could not be kept (then
 * freed): the caller's out of memory. */
static const char *
keep(struct strs *s, char *p)
{
	char **g;

	if (p == NULL)
		return NULL;
	if (s->n == s->cap) {
		g = reallocarray(s->v, s->cap ? s->cap * 2 : 16, sizeof(*g));
		if (g == NULL) {
			free(p);
			return NULL;
		}
		s->v = g;
		s->cap = s->cap ? s->cap * 2 : 16;
	}
	return s->v[s->n++] = p;
}

static void
strs_release(struct strs *s)
{
	for (size_t i = 0; i < s->n; i++)
		free(s->v[i]);
	free(s->v);
	memset(s, 0, sizeof(*s));
}

/* Argo CD's ExtractShortForm: the name without its registry, when the
 * values file held it so. */
static const char *
short_form(const char *name, const char *old)
{
	const char *p = last_slash_path(name, strlen(name));

	if (old && p != name &&
	    strcmp(last_slash_path(old, strlen(old)), old) == 0)
		return p;
	return name;
}

/* A values file that does not exist yet, for helmvalues (Argo CD writes
 * one): nested mappings of the keys, which must hold no index. */
static int
values_new(const struct fsroot *root, const char *path,
           const struct helm_value *vals, size_t n,
           const struct yamledit_opts *opts, struct wb_changes *changes,
           struct err *err)
{
	struct buf out = BUF_INIT, real = BUF_INIT, dir = BUF_INIT;
	const char *slash = strrchr(path, '/');
	int rc = 0;

	buf_puts(&out, "# auto generated by argocd image updater\n");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *k = vals[i].key, *prev = i ? vals[i - 1].key : "";
		size_t depth = 0, common = 0;

		if (strchr(k, '['))
			return err_set(err, ERR_NOTFOUND,
			               "values file '%s' does not exist, and "
			               "'%s' has an index: create the file",
			               path, k);
		/* keys are written in order; shared leading parts once */
		while (k[common] && k[common] == prev[common])
			common++;
		while (common > 0 && k[common - 1] != '.')
			common--;
		for (const char *p = k; *p; depth++) {
			size_t l = strcspn(p, ".");

			if ((size_t)(p - k) >= common) {
				for (size_t s = 0; s < depth * 2; s++)
					buf_putc(&out, ' ');
				buf_add(&out, p, l);
				buf_putc(&out, ':');
				if (p[l] == '\0') {
					buf_putc(&out, ' ');
					rc = yamledit_render(
					        &out, YAMLEDIT_PLAIN,
					        vals[i].value, err);
				}
				buf_putc(&out, '\n');
			}
			p += l + (p[l] == '.');
		}
	}
	if (rc == 0 && slash)
		buf_add(&dir, path, (size_t)(slash - path));
	if (rc == 0 && (rc = fsroot_realpath(root, dir.len ? dir.ptr : "", 0,
	                                     &real, err)) == 0) {
		buf_addf(&real, "%s%s", real.len ? "/" : "",
		         slash ? slash + 1 : path);
		if (!buf_ok(&out) || !buf_ok(&real))
			rc = err_set(err, ERR_NOMEM, "out of memory");
		else if ((rc = yamledit_file_finish(root, real.ptr, path, "", 0,
		                                    &out, opts, err)) > 0) {
			rc = 0;
			for (size_t i = 0; i < n && rc == 0; i++) {
				struct wb_change ch = { 0 };

				ch.file = (char *)path;
				ch.line = (unsigned)i + 2;
				ch.old_value = (char *)"";
				ch.new_value = (char *)vals[i].value;
				ch.setter = (char *)vals[i].key;
				rc = wb_changes_add(changes, &ch);
			}
			if (rc == 0)
				rc = wb_changes_add_file(changes, real.ptr);
		}
	}
	buf_release(&out);
	buf_release(&real);
	buf_release(&dir);
	return rc;
}

/* Writes every image that has a version into the target. */
static int
write_target(struct run *r, const struct fsroot *root,
             const struct yamledit_opts *yo, struct err *err)
{
	const struct config_argocd_unit *u = r->u;
	struct pipeline_app *out = r->out;
	const struct config_argocd_source *src = u->source;
	struct strs keepers = { 0 };
	size_t cap = 2 * u->n_images + src->kustomize.images.n + 1, n = 0;
	const char **strs = calloc(cap, sizeof(*strs));
	struct argocd_helm_param *params = calloc(cap, sizeof(*params));
	struct kustomize_image *kimgs = calloc(cap, sizeof(*kimgs));
	struct helm_value *vals = calloc(cap, sizeof(*vals));
	int rc = 0;

	if (!strs || !params || !kimgs || !vals) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < u->n_images; i++) {
		const struct config_argocd_unit_image *ui = &u->images[i];
		const struct pipeline_app_image *pi = &out->images[i];
		const char *kname = ui->image->targets.kustomize.name;
		const char *hn, *ht, *hs, *s, *tv;

		if (pi->tag == NULL)
			continue;
		helm_keys(ui, &hn, &ht, &hs);
		switch (r->tk) {
		case CONFIG_ARGOCD_TARGET_KUSTOMIZATION:
			kimgs[n].name = kname ? kname : pi->image;
			kimgs[n].new_name = kname ? pi->image : NULL;
			kimgs[n].new_tag = pi->tag && *pi->tag ? pi->tag : NULL;
			kimgs[n].digest = pi->digest;
			n++;
			break;
		case CONFIG_ARGOCD_TARGET_HELMVALUES:
			/* only images with an alias (Argo CD skips the others)
			 */
			if (ui->image->alias == NULL ||
			    *ui->image->alias == '\0')
				break;
			if (hs) {
				vals[n].key = hs;
				if ((vals[n++].value = keep(
				             &keepers, image_string(ui, pi))) ==
				    NULL)
					goto nomem;
				break;
			}
			if ((tv = keep(&keepers, tag_with_digest(pi))) == NULL)
				goto nomem;
			if (*tv) {
				vals[n].key = ht;
				vals[n++].value = tv;
			}
			{
				struct err e = ERR_INIT;
				char *old = NULL;

				/* the name as the file writes it, when it has
				 * one; a missing key is no error here */
				if (argocd_values_get(&old, root, r->target, hn,
				                      &e) < 0)
					old = NULL;
				vals[n].key = hn;
				vals[n++].value = keep(
				        &keepers,
				        strdup(short_form(pi->image, old)));
				free(old);
				if (vals[n - 1].value == NULL)
					goto nomem;
			}
			break;
		default:
			if (r->type == ARGOCD_APP_KUSTOMIZE) {
				if ((strs[n++] = keep(&keepers,
				                      image_string(ui, pi))) ==
				    NULL)
					goto nomem;
			} else if (hs) {
				params[n].name = hs;
				if ((params[n++].value = keep(
				             &keepers, image_string(ui, pi))) ==
				    NULL)
					goto nomem;
			} else {
				params[n].name = hn;
				params[n++].value = pi->image;
				/* a NULL here would drop the tag and commit
				 * half an update */
				if ((s = keep(&keepers, tag_with_digest(pi))) ==
				    NULL)
					goto nomem;
				if (*s) {
					params[n].name = ht;
					params[n++].value = s;
				}
			}
			break;
		}
	}
	/* the Application's own kustomize images go along, as Argo CD
	 * writes appSource.Kustomize.Images */
	for (size_t i = 0; i < src->kustomize.images.n &&
	                   (r->tk == CONFIG_ARGOCD_TARGET_KUSTOMIZATION ||
	                    (r->tk != CONFIG_ARGOCD_TARGET_HELMVALUES &&
	                     r->type == ARGOCD_APP_KUSTOMIZE));
	     i++) {
		const char *s = src->kustomize.images.items[i];
		struct argocd_image_ref ref;
		bool managed = false;

		argocd_image_ref_split(&ref, s);
		for (size_t k = 0; k < u->n_images && !managed; k++)
			managed =
			        out->images[k].tag &&
			        argocd_image_same(ref.name, ref.name_len,
			                          out->images[k].image,
			                          strlen(out->images[k].image));
		if (managed)
			continue;
		if (r->tk == CONFIG_ARGOCD_TARGET_KUSTOMIZATION) {
			char *copy = (char *)keep(&keepers, strdup(s));

			if (copy == NULL)
				goto nomem;
			if ((rc = kustomize_image_parse(&kimgs[n], copy, err)) <
			    0)
				goto out;
			n++;
		} else {
			strs[n++] = s;
		}
	}
	if (n == 0)
		goto out;
	/* one parameter per name: the last image given wins (two images
	 * without alias both mean image.name and image.tag) */
	for (size_t i = 0; r->tk != CONFIG_ARGOCD_TARGET_KUSTOMIZATION &&
	                   r->tk != CONFIG_ARGOCD_TARGET_HELMVALUES &&
	                   r->type == ARGOCD_APP_HELM && i < n;
	     i++)
		for (size_t k = i + 1; k < n; k++)
			if (strcmp(params[i].name, params[k].name) == 0) {
				memmove(&params[i], &params[i + 1],
				        (n - i - 1) * sizeof(*params));
				n--;
				i--;
				break;
			}
	switch (r->tk) {
	case CONFIG_ARGOCD_TARGET_KUSTOMIZATION:
		rc = kustomize_set_images(
		        root, strcmp(r->target, ".") ? r->target : "", kimgs, n,
		        yo, &out->changes, err);
		break;
	case CONFIG_ARGOCD_TARGET_HELMVALUES: {
		struct stat st;
		struct err e = ERR_INIT;

		if (fsroot_lstat(root, r->target, 0, &st, &e) == -ERR_NOTFOUND)
			rc = values_new(root, r->target, vals, n, yo,
			                &out->changes, err);
		else
			rc = helm_set_values(root, r->target, NULL, vals, n, yo,
			                     &out->changes, err);
		break;
	}
	default:
		if (r->type == ARGOCD_APP_KUSTOMIZE)
			rc = argocd_source_kustomize(root, r->target, strs, n,
			                             yo, &out->changes, err);
		else
			rc = argocd_source_helm(root, r->target, params, n, yo,
			                        &out->changes, err);
		break;
	}
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	strs_release(&keepers);
	free(strs);
	free(params);
	free(kimgs);
	free(vals);
	return rc;
}

/* ---- message, branch, status ---- */

/* The changes as Argo CD's ChangeEntry; strings borrow from out. */
static struct argocd_change *
change_list(const struct pipeline_app *out, size_t *n)
{
	struct argocd_change *c = calloc(out->nimages + 1, sizeof(*c));

	*n = 0;
	for (size_t i = 0; c && i < out->nimages; i++) {
		const struct pipeline_app_image *pi = &out->images[i];

		if (!pi->changed)
			continue;
		c[*n].image = last_slash_path(pi->image, strlen(pi->image));
		c[*n].alias = pi->alias;
		/* ImageTag.String(): the digest when there is one */
		c[*n].old_tag = pi->old_digest ? pi->old_digest
		                : pi->old_tag  ? pi->old_tag
		                               : "";
		c[*n].new_tag = pi->digest ? pi->digest : pi->tag;
		(*n)++;
	}
	return c;
}

static int
render_message(struct run *r, struct err *err)
{
	const char *src = config_argocd_config(r->ctx->cfg)->commit_template;
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *v = NULL;
	struct argocd_change *c;
	struct buf out = BUF_INIT;
	size_t n;
	int rc;

	if (src == NULL)
		src = TEMPLATE_ARGOCD_DEFAULT_TEMPLATE;
	if ((c = change_list(r->out, &n)) == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	if ((rc = template_parse(&t, src, strlen(src), false, err)) < 0 ||
	    (rc = template_data_new(&d)) < 0 ||
	    (rc = argocd_message_data(d, r->app->metadata.name, c, n, &v,
	                              err)) < 0)
		goto out;
	if (template_execute(t, v, &out, err) < 0) {
		/* TemplateCommitMessage's fallback */
		log_warn("argocd", "commit_template_failed", "application",
		         r->app->metadata.name, "err", err->msg);
		err_clear(err);
		buf_reset(&out);
		buf_addf(&out, "build: update of application %s",
		         r->app->metadata.name);
	}
	free(r->out->message);
	r->out->message = buf_detach(&out);
	if (r->out->message == NULL)
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&out);
	template_data_free(d);
	template_free(t);
	free(c);
	return rc;
}

/*
 * The push branch of a BASE:TARGET (or :TARGET) git-branch: TARGET
 * rendered as Argo CD Image Updater's TemplateBranchName, truncated to
 * 255 bytes, with the application's name, namespace and target key
 * (which Argo CD Image Updater passes empty in this mode, a bug).
 */
static int
render_branch(struct run *r, const char *tmpl, size_t len,
              const char *git_branch_base, struct err *err)
{
	const struct config_argocd_config *cm =
	        config_argocd_config(r->ctx->cfg);
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *v = NULL;
	struct argocd_change *c;
	struct buf file = BUF_INIT, key_target = BUF_INIT;
	char key[9];
	size_t n;
	int rc;

	if ((c = change_list(r->out, &n)) == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	/* WriteBackTargetKey: the override file's path, also in
	 * kustomization mode (where wbc.Target keeps the default) */
	if (r->tk == CONFIG_ARGOCD_TARGET_KUSTOMIZATION) {
		char *dp = NULL;
		enum config_argocd_target_kind tk;

		if (config_argocd_target_parse(
		            &tk, &dp, NULL,
		            r->u->source->path ? r->u->source->path : "",
		            cm->argocd_namespace, r->app->metadata.namespace,
		            r->app->metadata.name, err) < 0) {
			rc = -ERR_INVALID;
			goto out;
		}
		buf_puts(&key_target, dp);
		free(dp);
	} else {
		buf_puts(&key_target, r->target);
	}
	argocd_target_key(key, r->url, git_branch_base ? git_branch_base : "",
	                  key_target.ptr ? key_target.ptr : "");
	if ((rc = template_parse(&t, tmpl, len, false, err)) < 0 ||
	    (rc = template_data_new(&d)) < 0 ||
	    (rc = argocd_branch_data(d, r->app->metadata.namespace,
	                             r->app->metadata.name, key, c, n, &v,
	                             err)) < 0 ||
	    (rc = template_execute(t, v, &r->push_branch, err)) < 0) {
		err_prefix(err, "git-branch template");
		goto out;
	}
	if (r->push_branch.len > CONFIG_ARGOCD_MAX_BRANCH)
		buf_truncate(&r->push_branch, CONFIG_ARGOCD_MAX_BRANCH);
	if (!buf_ok(&r->push_branch))
		rc = err_set(err, ERR_NOMEM, "out of memory");
	else if (!gitrepo_branch_name_valid(
	                 r->push_branch.ptr ? r->push_branch.ptr : "",
	                 r->push_branch.len))
		rc = err_set(
		        err, ERR_INVALID,
		        "git-branch template rendered '%s', which is not a "
		        "branch name",
		        r->push_branch.ptr ? r->push_branch.ptr : "");
out:
	buf_release(&file);
	buf_release(&key_target);
	template_data_free(d);
	template_free(t);
	free(c);
	return rc;
}

static void
state_update(struct pipeline_ctx *ctx, struct pipeline_app *out, int rc)
{
	cJSON *doc = NULL, *imgs;
	struct err e = ERR_INIT;
	char now[32], msg[ERR_MSG_MAX + 100];
	const struct config_object *o = out->obj;

	if (state_get(ctx->st, "Application", o->metadata.namespace,
	              o->metadata.name, &doc, &e) < 0)
		doc = cJSON_CreateObject();
	if (doc == NULL)
		return;
	pipeline_now(now);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastRunTime");
	cJSON_AddStringToObject(doc, "lastRunTime", now);
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "images");
	imgs = cJSON_AddArrayToObject(doc, "images");
	for (size_t i = 0; imgs && i < out->nimages; i++) {
		const struct pipeline_app_image *pi = &out->images[i];
		cJSON *j = cJSON_CreateObject();

		cJSON_AddStringToObject(j, "alias", pi->alias);
		cJSON_AddStringToObject(j, "image", pi->image);
		cJSON_AddStringToObject(j, "strategy", pi->strategy);
		if (pi->tag)
			cJSON_AddStringToObject(j, "tag", pi->tag);
		if (pi->digest)
			cJSON_AddStringToObject(j, "digest", pi->digest);
		if (pi->old_tag)
			cJSON_AddStringToObject(j, "previousTag", pi->old_tag);
		if (pi->rc < 0)
			cJSON_AddStringToObject(j, "error", pi->err.msg);
		cJSON_AddItemToArray(imgs, j);
	}
	if (out->target) {
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "target");
		cJSON_AddStringToObject(doc, "target", out->target);
	}
	if (out->status == PIPELINE_PUSHED) {
		cJSON *h = cJSON_CreateObject();

		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushCommit");
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushTime");
		cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastPushBranch");
		cJSON_AddStringToObject(doc, "lastPushCommit", out->commit);
		cJSON_AddStringToObject(doc, "lastPushTime", now);
		cJSON_AddStringToObject(doc, "lastPushBranch",
		                        out->branch ? out->branch : "");
		if (h) {
			cJSON_AddStringToObject(h, "commit", out->commit);
			cJSON_AddStringToObject(h, "time", now);
			cJSON_AddStringToObject(h, "branch",
			                        out->branch ? out->branch : "");
		}
		pipeline_history_add(doc, NULL, "pushHistory", h);
	}
	if (out->status == PIPELINE_PUSHED)
		snprintf(msg, sizeof(msg),
		         "pushed commit '%.12s' to branch '%s'", out->commit,
		         out->branch ? out->branch : "");
	else if (rc == -ERR_CONFLICT && out->retry_after_ms > 0)
		snprintf(msg, sizeof(msg),
		         "push attempt %d lost a race; retrying in %ld ms",
		         out->attempts, out->retry_after_ms);
	else if (rc < 0)
		snprintf(msg, sizeof(msg), "%s", out->err.msg);
	else
		snprintf(msg, sizeof(msg), "repository up-to-date");
	pipeline_conditions(doc, rc, msg, rc == -ERR_INVALID);
	if (state_put(ctx->st, "Application", o->metadata.namespace,
	              o->metadata.name, doc, &e) < 0)
		log_warn("pipeline", "state_write_failed", "object",
		         o->metadata.name, "err", e.msg);
	cJSON_Delete(doc);
}

/* ---- the stage ---- */

static int
images_init(struct pipeline_app *out, const struct config_argocd_unit *u)
{
	out->images = calloc(u->n_images + 1, sizeof(*out->images));
	if (out->images == NULL)
		return -ERR_NOMEM;
	out->nimages = u->n_images;
	for (size_t i = 0; i < u->n_images; i++) {
		const struct config_argocd_image *img = u->images[i].image;

		out->images[i].alias = strdup(img->alias ? img->alias : "");
		out->images[i].image = strndup(img->image_name, img->name_len);
		out->images[i].strategy =
		        config_argocd_strategy_name(u->images[i].strategy);
		if (!out->images[i].alias || !out->images[i].image)
			return -ERR_NOMEM;
	}
	return 0;
}

/* The application's type: what the target or the source says, else
 * what is in the files at its path. */
static int
app_type(struct run *r, const struct fsroot *root, struct err *err)
{
	const struct config_argocd_source *s = r->u->source;
	const char *dir = s->path && *s->path ? s->path : "";
	int rc;

	if (r->tk == CONFIG_ARGOCD_TARGET_KUSTOMIZATION) {
		r->type = ARGOCD_APP_KUSTOMIZE;
		return 0;
	}
	if (r->tk == CONFIG_ARGOCD_TARGET_HELMVALUES) {
		r->type = ARGOCD_APP_HELM;
		return 0;
	}
	switch (s->type) {
	case CONFIG_ARGOCD_TYPE_KUSTOMIZE:
		r->type = ARGOCD_APP_KUSTOMIZE;
		return 0;
	case CONFIG_ARGOCD_TYPE_HELM:
		r->type = ARGOCD_APP_HELM;
		return 0;
	case CONFIG_ARGOCD_TYPE_PLUGIN:
		return err_set(err, ERR_INVALID,
		               "plugin applications are not supported by "
		               "ferry: write to a kustomization or Helm values "
		               "file with write-back-target");
	case CONFIG_ARGOCD_TYPE_DIRECTORY:
		r->type = ARGOCD_APP_DIRECTORY;
		break;
	case CONFIG_ARGOCD_TYPE_DETECT:
		if ((rc = argocd_app_type_detect(&r->type, root, dir, err)) < 0)
			return err_prefix(err, "path '%s' of the source",
			                  *dir ? dir : ".");
		break;
	}
	if (r->type == ARGOCD_APP_DIRECTORY)
		return err_set(
		        err, ERR_INVALID,
		        "'%s' is a plain directory (no kustomization, no "
		        "Chart.yaml), which Argo CD Image Updater does not "
		        "update: set write-back-target to "
		        "kustomization:DIR or helmvalues:FILE",
		        *dir ? dir : ".");
	return 0;
}

/* The base branch: git-branch's, else targetRevision, else the remote's
 * default branch for HEAD or none. */
static int
base_branch(struct run *r, struct gitrepo *repo,
            const struct config_argocd_branch *b, struct err *err)
{
	const char *rev = r->u->source->target_revision;
	int rc;

	if (b->base) {
		buf_add(&r->base_branch, b->base, b->base_len);
	} else if (rev && *rev && strcmp(rev, "HEAD") != 0) {
		buf_puts(&r->base_branch, rev);
	} else if ((rc = gitrepo_fetch(repo, &r->auth, err)) < 0 ||
	           (rc = gitrepo_default_branch(repo, &r->base_branch, err)) <
	                   0) {
		return rc;
	}
	if (!buf_ok(&r->base_branch))
		return err_set(err, ERR_NOMEM, "out of memory");
	/* validate checks it too; the run does not trust that it ran */
	if (!gitrepo_branch_name_valid(r->base_branch.ptr, r->base_branch.len))
		return err_set(err, ERR_INVALID,
		               "base branch '%s' is not a branch name Git "
		               "accepts",
		               r->base_branch.ptr);
	return 0;
}

int
pipeline_argocd(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                int attempt, struct pipeline_app *out)
{
	const struct config_argocd_config *cm;
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct config_argocd_branch b = { 0 };
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, NULL };
	struct gitrepo *repo = NULL;
	struct fsroot *root = NULL;
	struct buf diff = BUF_INIT;
	struct err *err = &out->err;
	struct run r;
	int max = ctx->max_push_attempts > 0 ? ctx->max_push_attempts
	                                     : PIPELINE_MAX_PUSH_ATTEMPTS;
	long backoff =
	        ctx->backoff_ms > 0 ? ctx->backoff_ms : PIPELINE_BACKOFF_MS;
	size_t nchanged = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&r, 0, sizeof(r));
	r.user = (struct buf)BUF_INIT;
	r.base_branch = (struct buf)BUF_INIT;
	r.push_branch = (struct buf)BUF_INIT;
	out->attempts = attempt > 0 ? attempt : 1;
	if ((out->obj = pipeline_find(ctx, key, err)) == NULL)
		return out->rc = -ERR_NOTFOUND;
	r.u = config_argocd_unit_for(ctx->cfg, out->obj);
	if (r.u == NULL)
		return 0; /* nothing updates it */
	out->managed = true;
	r.ctx = ctx;
	r.app = out->obj;
	r.out = out;
	cm = config_argocd_config(ctx->cfg);
	if (images_init(out, r.u) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (r.u->branch &&
	    (rc = config_argocd_branch_parse(&b, r.u->branch, err)) < 0)
		goto out;
	if ((rc = config_argocd_target_parse(
	             &r.tk, &r.target, r.u->target,
	             r.u->source->path ? r.u->source->path : "",
	             cm->argocd_namespace, r.app->metadata.namespace,
	             r.app->metadata.name, err)) < 0)
		goto out;
	if ((out->target = strdup(r.target)) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	resolve_images(&r);
	if ((rc = setup_git(&r, err)) < 0 ||
	    (rc = gitrepo_open(&repo, state_dir(ctx->st), r.url, &r.auth,
	                       err)) < 0 ||
	    (rc = base_branch(&r, repo, &b, err)) < 0)
		goto out;
	ref.value = r.base_branch.ptr;
	if ((rc = gitrepo_fetch_ref(repo, &ref, &r.auth, out->base, err)) < 0 ||
	    (rc = gitrepo_reset(repo, out->base, err)) < 0 ||
	    (rc = fsroot_open(&root, gitrepo_workdir(repo), 0, err)) < 0 ||
	    (rc = app_type(&r, root, err)) < 0)
		goto out;
	for (size_t i = 0; i < out->nimages; i++) {
		struct pipeline_app_image *pi = &out->images[i];

		if (pi->tag == NULL)
			continue;
		if ((rc = read_old(&r, root, i, err)) < 0)
			goto out;
		pi->changed = needs_update(pi, r.u->images[i].strategy ==
		                                       CONFIG_ARGOCD_DIGEST);
		nchanged += pi->changed;
	}
	if (nchanged == 0) {
		out->status = PIPELINE_NO_CHANGE;
		out->branch = strdup(r.base_branch.ptr);
		goto out;
	}
	/* the push branch, and the commit to build on */
	if (b.target) {
		if ((rc = render_branch(&r, b.target, b.target_len,
		                        b.base ? r.base_branch.ptr : "", err)) <
		    0)
			goto out;
	} else {
		buf_puts(&r.push_branch, r.base_branch.ptr);
	}
	if (!buf_ok(&r.push_branch) ||
	    (out->branch = strdup(r.push_branch.ptr)) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(r.push_branch.ptr, r.base_branch.ptr) != 0) {
		struct gitrepo_ref pref = { GITREPO_REF_BRANCH,
			                    r.push_branch.ptr };
		struct err e = ERR_INIT;
		char head[41];

		/* an existing target branch is built on, as Argo CD does */
		rc = gitrepo_fetch_ref(repo, &pref, &r.auth, head, &e);
		if (rc == -ERR_NOTFOUND)
			rc = 0; /* a new branch: built on the base */
		else if (rc < 0)
			*err = e;
		/* the reset's own error, even -ERR_NOTFOUND, is a failure */
		else if ((rc = gitrepo_reset(repo, head, err)) == 0)
			memcpy(out->base, head, sizeof(head));
		if (rc < 0)
			goto out;
	}
	yo.dry_run = ctx->dry_run;
	yo.diff = &diff;
	yo.pool = ctx->pool;
	if ((rc = write_target(&r, root, &yo, err)) < 0) {
		if (rc != -ERR_NOMEM)
			err_prefix(err, "write-back target '%s'", r.target);
		goto out;
	}
	if (out->changes.n == 0) {
		out->status = PIPELINE_NO_CHANGE;
		goto out;
	}
	if ((rc = render_message(&r, err)) < 0)
		goto out;
	if (ctx->dry_run) {
		out->diff = buf_detach(&diff);
		out->status = PIPELINE_PLANNED;
		goto out;
	}
	co.author_name = cm->git_user;
	co.author_email = cm->git_email;
	co.message = out->message;
	co.paths = (const char *const *)out->changes.files;
	co.npaths = out->changes.nfiles;
	if ((rc = gitrepo_commit(repo, &co, out->commit, err)) < 0)
		goto out;
	if (rc == 1) {
		rc = 0;
		out->status = PIPELINE_NO_CHANGE;
		goto out;
	}
	po.branch = r.push_branch.ptr;
	if (ctx->before_push &&
	    (rc = ctx->before_push(ctx->before_push_payload, r.app, err)) < 0) {
		err_prefix(err, "not pushing");
		goto out;
	}
	rc = gitrepo_push(repo, &po, &r.auth, err);
	if (rc == 0) {
		out->status = PIPELINE_PUSHED;
		log_info("git", "pushed", "application", r.app->metadata.name,
		         "branch", r.push_branch.ptr, "commit", out->commit);
	} else if (rc == -ERR_CONFLICT && out->attempts < max) {
		out->retry_after_ms =
		        pipeline_conflict_backoff(backoff, out->attempts);
	} else if (rc == -ERR_CONFLICT) {
		err_prefix(err, "gave up after %d push attempts",
		           out->attempts);
	}
out:
	/* an image the registry failed on fails the run, after the rest
	 * were written */
	for (size_t i = 0; rc == 0 && i < out->nimages; i++)
		if (out->images[i].rc < 0) {
			rc = out->images[i].rc;
			*err = out->images[i].err;
		}
	if (rc < 0 && out->status != PIPELINE_PUSHED &&
	    out->status != PIPELINE_PLANNED)
		out->status = PIPELINE_FAILED;
	if (!ctx->dry_run && out->managed)
		state_update(ctx, out, rc);
	if (rc < 0 && out->retry_after_ms == 0)
		log_error("pipeline", "application_failed", "object",
		          out->obj->metadata.name, "err", err->msg);
	fsroot_free(root);
	gitrepo_free(repo);
	buf_release(&diff);
	buf_release(&r.user);
	buf_release(&r.base_branch);
	buf_release(&r.push_branch);
	free(r.target);
	out->rc = rc;
	return rc;
}

void
pipeline_app_release(struct pipeline_app *a)
{
	for (size_t i = 0; a->images && i < a->nimages; i++) {
		struct pipeline_app_image *pi = &a->images[i];

		free(pi->alias);
		free(pi->image);
		free(pi->old_tag);
		free(pi->old_digest);
		free(pi->tag);
		free(pi->digest);
	}
	free(a->images);
	free(a->branch);
	free(a->target);
	free(a->message);
	free(a->diff);
	wb_changes_release(&a->changes);
	memset(a, 0, sizeof(*a));
}
