/*
 * argocd.c - Argo CD Image Updater's configuration beyond the field
 * tables (argocd_tables.h): the v0.x annotations of an Application, the
 * checks Argo CD's CRDs and Image Updater make on values (strategies,
 * allow/ignore tags, pull secrets, methods, branches, targets, manifest
 * targets), the ConfigMap argocd-image-updater-config, and the units of
 * write-back that tie ImageUpdaters to Applications (argocd.h).
 *
 * It does not look at Git: an Application's type, when its source does
 * not say it, is found in the files at its path by the pipeline.
 *
 * Where Argo CD Image Updater only logs a bad value and skips the image
 * (an allow-tags that is not a regexp, a malformed pull secret), ferry
 * reports a configuration error with the value's position.  An unknown
 * update strategy stays a warning, as Argo CD falls back to semver: the
 * log line says so, with the position.
 */
#include "config_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base/buf.h"
#include "base/fsroot.h"
#include "base/imageref.h"
#include "base/log.h"
#include "base/util.h"
#include "config/argocd.h"
#include "policy/filter.h"
#include "policy/policy.h"
#include "policy/semver.h"
#include "writeback/git.h"
#include "writeback/template/template.h"

struct argocd_state {
	bool annotations; /* config_argocd_annotations() */
	struct config_argocd_config cm;
	struct config_argocd_unit *units;
	size_t n_units;
};

static struct argocd_state *
state_of(struct config *cfg)
{
	if (cfg->argocd == NULL &&
	    (cfg->argocd = calloc(1, sizeof(*cfg->argocd))) == NULL)
		cfg->nomem = true;
	return cfg->argocd;
}

static void
units_free(struct argocd_state *st)
{
	for (size_t i = 0; i < st->n_units; i++)
		free(st->units[i].images);
	free(st->units);
	st->units = NULL;
	st->n_units = 0;
}

void
argocd_release(struct config *cfg)
{
	struct argocd_state *st = cfg->argocd;

	if (st == NULL)
		return;
	units_free(st);
	free(st->cm.git_user);
	free(st->cm.git_email);
	free(st->cm.commit_template);
	free(st->cm.argocd_namespace);
	free(st->cm.interval);
	for (size_t i = 0; i < st->cm.n_registries; i++) {
		struct config_argocd_registry *r = &st->cm.registries[i];

		free(r->name);
		free(r->prefix);
		free(r->api_url);
		free(r->credentials);
		free(r->defaultns);
	}
	free(st->cm.registries);
	free(st);
	cfg->argocd = NULL;
}

int
config_argocd_annotations(struct config *cfg, bool on)
{
	struct argocd_state *st = state_of(cfg);

	if (st == NULL)
		return -ERR_NOMEM;
	st->annotations = on;
	return 0;
}

const struct config_argocd_config *
config_argocd_config(const struct config *cfg)
{
	static const struct config_argocd_config none = {
		NULL,
		0,
		0,
		(char *)CONFIG_ARGOCD_GIT_USER,
		(char *)CONFIG_ARGOCD_GIT_EMAIL,
		NULL,
		(char *)CONFIG_ARGOCD_NAMESPACE,
		NULL,
		NULL,
		0,
	};
	const struct argocd_state *st = cfg->argocd;

	if (st == NULL || st->cm.file == NULL)
		return &none;
	return &st->cm;
}

size_t
config_argocd_unit_count(const struct config *cfg)
{
	return cfg->argocd ? cfg->argocd->n_units : 0;
}

const struct config_argocd_unit *
config_argocd_unit_get(const struct config *cfg, size_t i)
{
	if (cfg->argocd == NULL || i >= cfg->argocd->n_units)
		return NULL;
	return &cfg->argocd->units[i];
}

const struct config_argocd_unit *
config_argocd_unit_for(const struct config *cfg,
                       const struct config_object *app)
{
	for (size_t i = 0; cfg->argocd && i < cfg->argocd->n_units; i++)
		if (cfg->argocd->units[i].app == app)
			return &cfg->argocd->units[i];
	return NULL;
}

const struct config_argocd_registry *
config_argocd_registry_for(const struct config *cfg, const char *name,
                           size_t len)
{
	const struct config_argocd_config *cm = config_argocd_config(cfg);
	const char *slash = memchr(name, '/', len);
	size_t hl = slash ? (size_t)(slash - name) : 0;
	bool host = slash && (memchr(name, '.', hl) || memchr(name, ':', hl) ||
	                      (hl == 9 && memcmp(name, "localhost", 9) == 0));

	for (size_t i = 0; i < cm->n_registries; i++) {
		const struct config_argocd_registry *r = &cm->registries[i];

		if (host && r->prefix && strlen(r->prefix) == hl &&
		    memcmp(r->prefix, name, hl) == 0)
			return r;
	}
	for (size_t i = 0; !host && i < cm->n_registries; i++)
		if (cm->registries[i].is_default)
			return &cm->registries[i];
	return NULL;
}

/* ---- the grammars ---- */

const char *
config_argocd_strategy_name(enum config_argocd_strategy s)
{
	switch (s) {
	case CONFIG_ARGOCD_SEMVER:
		return "semver";
	case CONFIG_ARGOCD_NEWEST_BUILD:
		return "newest-build";
	case CONFIG_ARGOCD_ALPHABETICAL:
		return "alphabetical";
	case CONFIG_ARGOCD_DIGEST:
		return "digest";
	}
	return "semver";
}

int
config_argocd_strategy_parse(enum config_argocd_strategy *out, const char *s,
                             struct err *err)
{
	enum policy_kind k;
	int rc;

	/* the policy engine's reading of the words (any case, old names) */
	if ((rc = policy_argocd_strategy_parse(&k, s, strlen(s), err)) < 0)
		return rc;
	switch (k) {
	case POLICY_NEWEST_BUILD:
		*out = CONFIG_ARGOCD_NEWEST_BUILD;
		break;
	case POLICY_ALPHABETICAL:
		*out = CONFIG_ARGOCD_ALPHABETICAL;
		break;
	case POLICY_DIGEST:
		*out = CONFIG_ARGOCD_DIGEST;
		break;
	default:
		*out = CONFIG_ARGOCD_SEMVER;
		break;
	}
	return 0;
}

/* A Kubernetes name part (DNS subdomain characters), not empty. */
static bool
k8s_name_ok(const char *s, size_t len)
{
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i < len; i++) {
		char ch = s[i];
		bool alnum =
		        (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum &&
		    ((ch != '-' && ch != '.') || i == 0 || i == len - 1))
			return false;
	}
	return true;
}

static int
cred_ns_name(struct config_argocd_cred *out, const char *def, size_t len,
             const char *orig, struct err *err)
{
	const char *slash = memchr(def, '/', len);

	if (slash == NULL || slash == def || (size_t)(slash - def) + 1 >= len ||
	    memchr(slash + 1, '/', len - (size_t)(slash - def) - 1))
		return err_set(err, ERR_INVALID,
		               "pull secret '%s': expected NAMESPACE/NAME",
		               orig);
	out->ns = def;
	out->ns_len = (size_t)(slash - def);
	out->name = slash + 1;
	out->name_len = len - out->ns_len - 1;
	if (!k8s_name_ok(out->ns, out->ns_len) ||
	    !k8s_name_ok(out->name, out->name_len))
		return err_set(
		        err, ERR_INVALID,
		        "pull secret '%s': '%.*s/%.*s' is not a namespace "
		        "and Secret name",
		        orig, (int)out->ns_len, out->ns, (int)out->name_len,
		        out->name);
	return 0;
}

int
config_argocd_cred_parse(struct config_argocd_cred *out, const char *s,
                         struct err *err)
{
	const char *def = s, *eq = strchr(s, '='), *colon, *rest;
	size_t tlen;

	memset(out, 0, sizeof(*out));
	/* registry-scanner ParseCredentialSource: "REGISTRY=" may come
	 * first; a pull secret is for its image, so the registry is moot */
	if (eq && eq != s && eq[1])
		def = eq + 1;
	colon = strchr(def, ':');
	if (colon == NULL || colon == def || colon[1] == '\0' ||
	    strchr(colon + 1, ':'))
		return err_set(err, ERR_INVALID,
		               "pull secret '%s': expected pullsecret:NS/NAME, "
		               "secret:NS/NAME#FIELD, env:VAR or ext:/PATH",
		               s);
	tlen = (size_t)(colon - def);
	rest = colon + 1;
	if (policy_lower_equal(def, tlen, "pullsecret")) {
		out->kind = CONFIG_ARGOCD_CRED_PULLSECRET;
		return cred_ns_name(out, rest, strlen(rest), s, err);
	}
	if (policy_lower_equal(def, tlen, "secret")) {
		const char *hash = strchr(rest, '#');

		out->kind = CONFIG_ARGOCD_CRED_SECRET;
		if (hash == NULL || hash == rest || hash[1] == '\0' ||
		    strchr(hash + 1, '#'))
			return err_set(err, ERR_INVALID,
			               "pull secret '%s': expected "
			               "secret:NAMESPACE/NAME#FIELD",
			               s);
		out->field = hash + 1;
		return cred_ns_name(out, rest, (size_t)(hash - rest), s, err);
	}
	if (policy_lower_equal(def, tlen, "env")) {
		out->kind = CONFIG_ARGOCD_CRED_ENV;
		out->env = rest;
		return 0;
	}
	if (policy_lower_equal(def, tlen, "ext")) {
		out->kind = CONFIG_ARGOCD_CRED_EXT;
		out->path = rest;
		if (rest[0] != '/')
			return err_set(
			        err, ERR_INVALID,
			        "pull secret '%s': the script's path must "
			        "be absolute",
			        s);
		return 0;
	}
	return err_set(err, ERR_INVALID,
	               "pull secret '%s': unknown source '%.*s' (use "
	               "pullsecret, secret, env or ext)",
	               s, (int)tlen, def);
}

int
config_argocd_method_parse(struct config_argocd_method *out, const char *method,
                           struct err *err)
{
	const char *creds, *slash;

	memset(out, 0, sizeof(*out));
	if (strcmp(method, "argocd") == 0)
		return err_set(
		        err, ERR_INVALID,
		        "write-back method 'argocd' patches the Application "
		        "through the Argo CD API, which needs a cluster; ferry "
		        "writes to Git: use method 'git' (or git:secret:NAME "
		        "for credentials from a Secret)");
	if (strcmp(method, "git") == 0) {
		out->repocreds = true;
		return 0;
	}
	if (strncmp(method, "git:", 4) != 0)
		return err_set(err, ERR_INVALID,
		               "write-back method '%s': use git, "
		               "git:repocreds or git:secret:[NAMESPACE/]NAME",
		               method);
	creds = method + 4;
	if (strcmp(creds, "repocreds") == 0) {
		out->repocreds = true;
		return 0;
	}
	if (strncmp(creds, "secret:", 7) != 0 || creds[7] == '\0')
		return err_set(err, ERR_INVALID,
		               "write-back method '%s': credentials must be "
		               "'repocreds' or 'secret:[NAMESPACE/]NAME'",
		               method);
	creds += 7;
	slash = strchr(creds, '/');
	if (slash) {
		out->secret_ns = creds;
		out->secret_ns_len = (size_t)(slash - creds);
		out->secret_name = slash + 1;
	} else {
		out->secret_name = creds;
	}
	out->secret_name_len = strlen(out->secret_name);
	if ((out->secret_ns &&
	     !k8s_name_ok(out->secret_ns, out->secret_ns_len)) ||
	    !k8s_name_ok(out->secret_name, out->secret_name_len))
		return err_set(err, ERR_INVALID,
		               "write-back method '%s': '%s' is not a Secret "
		               "name (NAME or NAMESPACE/NAME)",
		               method, creds);
	return 0;
}

int
config_argocd_branch_parse(struct config_argocd_branch *out, const char *s,
                           struct err *err)
{
	const char *colon = strchr(s, ':');

	memset(out, 0, sizeof(*out));
	/* parseGitConfig: strings.Split(TrimSpace(branch), ":"), at most 2 */
	if (colon && strchr(colon + 1, ':'))
		return err_set(err, ERR_INVALID,
		               "git-branch '%s': use BRANCH, BASE:TARGET or "
		               ":TARGET",
		               s);
	if (colon == NULL) {
		if (*s == '\0')
			return err_set(err, ERR_INVALID, "git-branch is empty");
		out->base = s;
		out->base_len = strlen(s);
	} else {
		if (colon != s) {
			out->base = s;
			out->base_len = (size_t)(colon - s);
		}
		if (colon[1] == '\0')
			return err_set(err, ERR_INVALID,
			               "git-branch '%s': the target after ':' "
			               "is empty",
			               s);
		out->target = colon + 1;
		out->target_len = strlen(colon + 1);
	}
	if (out->base && !gitrepo_branch_name_valid(out->base, out->base_len))
		return err_set(err, ERR_INVALID,
		               "git-branch '%s': '%.*s' is not a branch name "
		               "Git accepts",
		               s, (int)out->base_len, out->base);
	/* a template is checked once rendered; a plain name now */
	if (out->target && strstr(out->target, "{{") == NULL &&
	    !gitrepo_branch_name_valid(out->target, out->target_len))
		return err_set(err, ERR_INVALID,
		               "git-branch '%s': '%s' is not a branch name Git "
		               "accepts",
		               s, out->target);
	return 0;
}

/* filepath.Join(a, b) for relative paths, cleaned as Go's Clean. */
static int
path_join_clean(struct buf *out, const char *a, const char *b)
{
	struct buf in = BUF_INIT;
	const char *p;
	int rc = 0;

	if (a && *a)
		buf_addf(&in, "%s/", a);
	buf_puts(&in, b ? b : "");
	if (!buf_ok(&in)) {
		buf_release(&in);
		return -ERR_NOMEM;
	}
	/* components: drop "" and "."; ".." pops (a path out of the
	 * repository is refused later, by fsroot's rule) */
	p = in.ptr;
	while (*p) {
		size_t n = strcspn(p, "/");

		if (n == 0 || (n == 1 && p[0] == '.')) {
		} else if (n == 2 && p[0] == '.' && p[1] == '.') {
			char *last = out->len ? strrchr(out->ptr, '/') : NULL;

			if (out->len == 0 ||
			    strcmp(last ? last + 1 : out->ptr, "..") == 0) {
				buf_addf(out, "%s..", out->len ? "/" : "");
			} else {
				buf_truncate(out,
				             last ? (size_t)(last - out->ptr)
				                  : 0);
			}
		} else {
			if (out->len)
				buf_putc(out, '/');
			buf_add(out, p, n);
		}
		p += n;
		if (*p == '/')
			p++;
	}
	if (!buf_ok(out))
		rc = -ERR_NOMEM;
	buf_release(&in);
	return rc;
}

int
config_argocd_default_file(struct buf *out, const char *argocd_ns,
                           const char *app_ns, const char *app_name)
{
	/* parseDefaultTarget: no namespace in the name for Argo CD's own
	 * namespace, or when that is "default" */
	if (app_ns == NULL || *app_ns == '\0' ||
	    strcmp(app_ns, argocd_ns) == 0 || strcmp(argocd_ns, "default") == 0)
		buf_addf(out, ".argocd-source-%s.yaml", app_name);
	else
		buf_addf(out, ".argocd-source-%s_%s.yaml", app_ns, app_name);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* true when a component of path is ".git" in any case: Git's own
 * directory, never a place to write (core.ignorecase clones see ".GIT"). */
static bool
has_git_component(const char *path)
{
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");

		if (n == 4 && strncasecmp(p, ".git", 4) == 0)
			return true;
		p += n;
		while (*p == '/')
			p++;
	}
	return false;
}

int
config_argocd_target_parse(enum config_argocd_target_kind *kind_out,
                           char **path_out, const char *target,
                           const char *source_path, const char *argocd_ns,
                           const char *app_ns, const char *app_name,
                           struct err *err)
{
	static const char kpre[] = "kustomization", hpre[] = "helmvalues";
	struct buf path = BUF_INIT, file = BUF_INIT;
	struct err e = ERR_INIT;
	const char *base = NULL, *slash;
	int rc = 0;

	*path_out = NULL;
	*kind_out = CONFIG_ARGOCD_TARGET_DEFAULT;
	if (source_path && has_git_component(source_path))
		return err_set(err, ERR_INVALID,
		               "source path '%s' is inside the repository's "
		               ".git: ferry writes only to the work tree",
		               source_path);
	if (target == NULL || *target == '\0') {
		if ((rc = config_argocd_default_file(&file, argocd_ns, app_ns,
		                                     app_name)) < 0 ||
		    (rc = path_join_clean(&path, source_path, file.ptr)) < 0)
			goto nomem;
	} else if (strncmp(target, kpre, sizeof(kpre) - 1) == 0 &&
	           (target[sizeof(kpre) - 1] == '\0' ||
	            target[sizeof(kpre) - 1] == ':')) {
		/* parseKustomizeBase: a directory, from the root with '/' */
		*kind_out = CONFIG_ARGOCD_TARGET_KUSTOMIZATION;
		base = target[sizeof(kpre) - 1] ? target + sizeof(kpre) : ".";
		rc = *base == '/' ? path_join_clean(&path, NULL, base + 1)
		                  : path_join_clean(&path, source_path, base);
	} else if (strncmp(target, hpre, sizeof(hpre) - 1) == 0 &&
	           (target[sizeof(hpre) - 1] == '\0' ||
	            target[sizeof(hpre) - 1] == ':')) {
		/* parseTarget: a values file, values.yaml by default */
		*kind_out = CONFIG_ARGOCD_TARGET_HELMVALUES;
		base = target[sizeof(hpre) - 1] ? target + sizeof(hpre)
		                                : "values.yaml";
		if (*base == '\0')
			return err_set(
			        err, ERR_INVALID,
			        "write-back target '%s': name the values "
			        "file after ':'",
			        target);
		rc = *base == '/' ? path_join_clean(&path, NULL, base + 1)
		                  : path_join_clean(&path, source_path, base);
	} else {
		*kind_out = CONFIG_ARGOCD_TARGET_FILE;
		slash = strrchr(target, '/');
		base = slash ? slash + 1 : target;
		if (strcmp(base, "kustomization.yaml") == 0 ||
		    strcmp(base, "kustomization.yml") == 0 ||
		    strcmp(base, "Kustomization") == 0)
			return err_set(
			        err, ERR_INVALID,
			        "write-back target '%s' looks like a kustomization "
			        "file; writing parameter overrides into it would "
			        "discard what it holds: use "
			        "'kustomization:DIRECTORY' to edit its images",
			        target);
		/* a plain target is taken as given, from the root */
		rc = path_join_clean(&path, NULL, target);
	}
	if (rc < 0)
		goto nomem;
	if (path.len == 0 && *kind_out != CONFIG_ARGOCD_TARGET_KUSTOMIZATION) {
		/* "a/..": the cleaned path is empty, but was allocated */
		rc = err_set(err, ERR_INVALID,
		             "write-back target '%s' names no file", target);
		goto out;
	}
	if (fsroot_path_check(path.len ? path.ptr : ".", &e) < 0) {
		rc = err_set(err, ERR_INVALID,
		             "write-back target '%s': %s; it names a path "
		             "inside the repository",
		             target ? target : "", e.msg);
		goto out;
	}
	if (has_git_component(path.ptr ? path.ptr : "")) {
		rc = err_set(err, ERR_INVALID,
		             "write-back target '%s' names '%s', inside the "
		             "repository's .git: ferry writes only to the work "
		             "tree",
		             target ? target : "", path.ptr);
		goto out;
	}
	/* the repository's root is ".", also where cleaning emptied an
	 * allocated path ("kustomization:a/..") */
	*path_out = path.len ? buf_detach(&path) : NULL;
	if (*path_out == NULL) {
		*path_out = strdup(".");
		if (*path_out == NULL)
			goto nomem;
	}
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&path);
	buf_release(&file);
	return rc;
}

/* ---- checks on one object ---- */

struct actx {
	struct config *cfg;
	yaml_document_t *doc;
	const char *file;
	const char *object; /* "Application ns/name" */
	const struct config_object *obj;
	size_t ndiags;
};

static void __attribute__((format(printf, 4, 5)))
adiag(struct actx *c, const yaml_node_t *n, const char *path, const char *fmt,
      ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_diag_addv(c->cfg, c->file,
	                 n ? (int)n->start_mark.line + 1 : c->obj->line,
	                 n ? (int)n->start_mark.column + 1 : c->obj->column,
	                 c->object, path, fmt, ap);
	va_end(ap);
	c->ndiags++;
}

/* A warning with the value's position: a log line (validate shows it). */
static void
awarn(struct actx *c, const yaml_node_t *n, const char *path, const char *event,
      const char *what, const char *advice)
{
	char at[600];

	snprintf(at, sizeof(at), "%s:%d:%d", c->file,
	         n ? (int)n->start_mark.line + 1 : c->obj->line,
	         n ? (int)n->start_mark.column + 1 : c->obj->column);
	log_warn("config", event, "at", at, "object", c->object, "path", path,
	         "warning", what, "advice", advice);
}

static yaml_node_t *
ymap(struct actx *c, const yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == strlen(key) &&
		    memcmp(k->data.scalar.value, key, strlen(key)) == 0)
			return yaml_document_get_node(c->doc, p->value);
	}
	return NULL;
}

/* The key node of key in map, or NULL. */
static yaml_node_t *
ykey(struct actx *c, const yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return k;
	}
	return NULL;
}

static yaml_node_t *
yseq(struct actx *c, const yaml_node_t *seq, size_t i)
{
	if (seq == NULL || seq->type != YAML_SEQUENCE_NODE ||
	    i >= (size_t)(seq->data.sequence.items.top -
	                  seq->data.sequence.items.start))
		return NULL;
	return yaml_document_get_node(c->doc,
	                              seq->data.sequence.items.start[i]);
}

/* A mapping with at least one key (Argo CD's !IsZero, near enough). */
static bool
ynonempty(const yaml_node_t *n)
{
	return n && n->type == YAML_MAPPING_NODE &&
	       n->data.mapping.pairs.top > n->data.mapping.pairs.start;
}

/* Builds "prefix.name" (or "prefix[i]") into a small buffer. */
static const char *
subpath(char *out, size_t sz, const char *prefix, const char *name)
{
	snprintf(out, sz, "%s%s%s", prefix, *prefix ? "." : "", name);
	return out;
}

/*
 * One value checked by building the policy the pipeline will build from
 * it, so that validate and run agree on every allow-tags, ignore-tags
 * glob and semver constraint.
 */
static void
check_policy(struct actx *c, const yaml_node_t *n, const char *path,
             const struct policy_options *po, const char *what)
{
	struct policy *p = NULL;
	struct err e = ERR_INIT;

	if (policy_new(&p, po, &e) < 0) {
		if (e.code == ERR_NOMEM)
			c->cfg->nomem = true;
		else
			adiag(c, n, path, "%s: %s", what, e.msg);
	}
	policy_free(p);
}

static void
check_strategy(struct actx *c, const yaml_node_t *n, const char *path,
               const char *s)
{
	enum config_argocd_strategy k;
	struct err e = ERR_INIT;
	char what[300];

	if (s == NULL || config_argocd_strategy_parse(&k, s, &e) == 0)
		return;
	snprintf(what, sizeof(what),
	         "unknown update strategy '%.200s'; using semver", s);
	awarn(c, n, path, "argocd_strategy_unknown", what,
	      "use semver, newest-build, alphabetical or digest (Argo CD "
	      "Image Updater also falls back to semver)");
}

static void
check_allow(struct actx *c, const yaml_node_t *n, const char *path,
            const char *s)
{
	struct policy_options po = POLICY_OPTIONS_INIT;

	if (s == NULL)
		return;
	po.kind = POLICY_ALPHABETICAL;
	po.allow_tags = s;
	check_policy(c, n, path, &po, "allow-tags");
}

static void
check_ignore(struct actx *c, const yaml_node_t *n, const char *path,
             const char *glob)
{
	struct policy_options po = POLICY_OPTIONS_INIT;
	const char *g[1] = { glob };

	po.kind = POLICY_ALPHABETICAL;
	po.ignore_tags = g;
	po.ignore_tags_len = 1;
	check_policy(c, n, path, &po, "ignore-tags");
}

static void
check_platform(struct actx *c, const yaml_node_t *n, const char *path,
               const char *p)
{
	size_t parts = 1, len = 0;
	bool ok = *p != '\0';

	for (const char *s = p; *s && ok; s++) {
		if (*s == '/') {
			ok = len > 0;
			parts++;
			len = 0;
		} else if ((*s >= 'a' && *s <= 'z') ||
		           (*s >= '0' && *s <= '9') || *s == '_' || *s == '-' ||
		           *s == '.') {
			len++;
		} else {
			ok = false;
		}
	}
	if (!ok || len == 0 || parts < 2 || parts > 3)
		adiag(c, n, path,
		      "platform '%s' is not OS/ARCH[/VARIANT] (for example "
		      "linux/amd64 or linux/arm/v7)",
		      p);
}

/* A pull secret; ns (may be NULL) is the namespace it must be in. */
static void
check_pull_secret(struct actx *c, const yaml_node_t *n, const char *path,
                  const char *s, const char *ns)
{
	struct config_argocd_cred cr;
	struct err e = ERR_INIT;

	if (s == NULL)
		return;
	if (config_argocd_cred_parse(&cr, s, &e) < 0) {
		adiag(c, n, path, "%s", e.msg);
		return;
	}
	if (ns && cr.ns &&
	    (strlen(ns) != cr.ns_len || memcmp(ns, cr.ns, cr.ns_len) != 0))
		adiag(c, n, path,
		      "pull secret '%s' is in namespace '%.*s'; an ImageUpdater "
		      "may only read Secrets of its own namespace '%s'",
		      s, (int)cr.ns_len, cr.ns, ns);
}

/* commonUpdateSettings at node (its mapping), as decoded into s. */
static void
check_settings(struct actx *c, const struct config_argocd_settings *s,
               const yaml_node_t *node, const char *path, const char *ns)
{
	char p[512];

	if (!s->pos.set)
		return;
	check_strategy(c, ymap(c, node, "updateStrategy"),
	               subpath(p, sizeof(p), path, "updateStrategy"),
	               s->update_strategy);
	check_allow(c, ymap(c, node, "allowTags"),
	            subpath(p, sizeof(p), path, "allowTags"), s->allow_tags);
	for (size_t i = 0; i < s->ignore_tags.n; i++) {
		snprintf(p, sizeof(p), "%s.ignoreTags[%zu]", path, i);
		check_ignore(c, yseq(c, ymap(c, node, "ignoreTags"), i), p,
		             s->ignore_tags.items[i]);
	}
	check_pull_secret(c, ymap(c, node, "pullSecret"),
	                  subpath(p, sizeof(p), path, "pullSecret"),
	                  s->pull_secret, ns);
	for (size_t i = 0; i < s->platforms.n; i++) {
		snprintf(p, sizeof(p), "%s.platforms[%zu]", path, i);
		check_platform(c, yseq(c, ymap(c, node, "platforms"), i), p,
		               s->platforms.items[i]);
	}
}

static void
check_verification(struct actx *c, const struct config_argocd_verification *v,
                   const yaml_node_t *node, const char *path)
{
	if (!v->pos.set || v->enabled == CONFIG_FALSE)
		return;
	adiag(c, node, path,
	      "ferry does not verify cosign signatures, so it cannot honour "
	      "imagesVerification (enabled, the CRD's default when the block "
	      "is given); remove it or set enabled: false");
}

/* A method, branch and target where they are written (all optional). */
static void
check_writeback(struct actx *c, const struct config_argocd_writeback *w,
                const yaml_node_t *node, const char *path)
{
	const yaml_node_t *git = ymap(c, node, "gitConfig");
	struct config_argocd_method m;
	struct config_argocd_branch b;
	enum config_argocd_target_kind tk;
	struct err e = ERR_INIT;
	char p[512];
	char *tp = NULL;

	if (!w->pos.set)
		return;
	/* 'argocd' itself is reported where it takes effect (a ref) */
	if (w->method && strcmp(w->method, "argocd") != 0 &&
	    config_argocd_method_parse(&m, w->method, &e) < 0)
		adiag(c, ymap(c, node, "method"),
		      subpath(p, sizeof(p), path, "method"), "%s", e.msg);
	if (w->git.branch &&
	    config_argocd_branch_parse(&b, w->git.branch, &e) < 0)
		adiag(c, ymap(c, git, "branch"),
		      subpath(p, sizeof(p), path, "gitConfig.branch"), "%s",
		      e.msg);
	if (w->git.write_back_target &&
	    config_argocd_target_parse(&tk, &tp, w->git.write_back_target, "",
	                               CONFIG_ARGOCD_NAMESPACE, "", "app",
	                               &e) < 0)
		adiag(c, ymap(c, git, "writeBackTarget"),
		      subpath(p, sizeof(p), path, "gitConfig.writeBackTarget"),
		      "%s", e.msg);
	free(tp);
	if (w->git.pull_request.pos.set)
		adiag(c, ymap(c, git, "pullRequest"),
		      subpath(p, sizeof(p), path, "gitConfig.pullRequest"),
		      "ferry does not open pull requests; it pushes to a "
		      "branch: use gitConfig.branch 'BASE:TARGET' to push to a "
		      "branch of its own and open the request from it");
}

/* Splits image_name at the constraint's ':' (after the last '/'). */
static void
split_image_name(struct config_argocd_image *img)
{
	const char *s = img->image_name, *slash, *colon;

	img->name_len = s ? strlen(s) : 0;
	img->constraint = NULL;
	if (s == NULL)
		return;
	slash = strrchr(s, '/');
	colon = strrchr(slash ? slash : s, ':');
	if (colon) {
		img->name_len = (size_t)(colon - s);
		img->constraint = colon + 1;
	}
}

static bool
alias_ok(const char *a)
{
	/* the CRD's pattern ^[a-zA-Z0-9][a-zA-Z0-9-._]*$ */
	for (size_t i = 0; a[i]; i++) {
		char ch = a[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
		             (ch >= 'A' && ch <= 'Z') ||
		             (ch >= '0' && ch <= '9');

		if (!alnum && (i == 0 || (ch != '-' && ch != '.' && ch != '_')))
			return false;
	}
	return a[0] != '\0';
}

static void
check_helm_key(struct actx *c, const yaml_node_t *n, const char *path,
               const char *key)
{
	size_t len = key ? strlen(key) : 0;
	bool ok = len > 0 && key[0] != '.' && key[len - 1] != '.' &&
	          !strstr(key, "..");

	for (size_t i = 0; ok && i < len; i++)
		if ((unsigned char)key[i] <= ' ' || key[i] == '=' ||
		    key[i] == '#')
			ok = false;
	if (key && !ok)
		adiag(c, n, path,
		      "'%s' is not a Helm value path (dotted keys with list "
		      "indexes, such as image.tag or sidecars[1].image)",
		      key);
}

/* One image's name and constraint (at name_node, path name_path). */
static void
check_image_name(struct actx *c, struct config_argocd_image *img,
                 const yaml_node_t *name_node, const char *name_path,
                 enum config_argocd_strategy strategy)
{
	if (img->image_name == NULL)
		return;
	split_image_name(img);
	if (strchr(img->image_name, '@'))
		adiag(c, name_node, name_path,
		      "image '%s' must not hold a digest: the strategy picks "
		      "the tag (for digest, write NAME:TAG and the tag's "
		      "digest is followed)",
		      img->image_name);
	else if (!imageref_name_valid(img->image_name, img->name_len))
		adiag(c, name_node, name_path,
		      "image '%.*s' is not an image name (REGISTRY/PATH, "
		      "lower-case)",
		      (int)img->name_len, img->image_name);
	if (strategy == CONFIG_ARGOCD_DIGEST) {
		if (img->constraint == NULL || *img->constraint == '\0')
			adiag(c, name_node, name_path,
			      "the digest strategy follows one tag: write the "
			      "image '%.*s' as NAME:TAG",
			      (int)img->name_len, img->image_name);
		else if (!imageref_tag_valid(img->constraint,
		                             strlen(img->constraint)))
			adiag(c, name_node, name_path,
			      "'%s' is not a tag (the digest strategy follows "
			      "one tag)",
			      img->constraint);
	} else if (strategy == CONFIG_ARGOCD_SEMVER && img->constraint &&
	           *img->constraint) {
		struct policy_options po = POLICY_OPTIONS_INIT;

		po.kind = POLICY_SEMVER;
		po.loose = true;
		po.semver_range = img->constraint;
		check_policy(c, name_node, name_path, &po, "semver constraint");
	}
}

/* An images[] entry of an ImageUpdater: alias, name, manifestTargets. */
static void
check_crd_image(struct actx *c, struct config_argocd_image *img,
                const yaml_node_t *node, const char *path,
                enum config_argocd_strategy strategy)
{
	const yaml_node_t *t = ymap(c, node, "manifestTargets");
	const yaml_node_t *h = ymap(c, t, "helm");
	char p[600];
	int n;

	if (img->alias && !alias_ok(img->alias))
		adiag(c, ymap(c, node, "alias"),
		      subpath(p, sizeof(p), path, "alias"),
		      "alias '%s' must start with a letter or digit and hold "
		      "only letters, digits, '-', '.' and '_'",
		      img->alias);
	check_image_name(c, img, ymap(c, node, "imageName"),
	                 subpath(p, sizeof(p), path, "imageName"), strategy);
	n = img->targets.helm.pos.set + img->targets.kustomize.pos.set +
	    img->targets.plugin.pos.set;
	if (n > 1)
		adiag(c, t, subpath(p, sizeof(p), path, "manifestTargets"),
		      "exactly one of helm, kustomize or plugin may be given");
	if (img->targets.plugin.pos.set)
		adiag(c, ymap(c, t, "plugin"),
		      subpath(p, sizeof(p), path, "manifestTargets.plugin"),
		      "plugin targets (a Config Management Plugin's env) are "
		      "not supported by ferry; use helm or kustomize");
	check_helm_key(c, ymap(c, h, "name"),
	               subpath(p, sizeof(p), path, "manifestTargets.helm.name"),
	               img->targets.helm.name);
	check_helm_key(c, ymap(c, h, "tag"),
	               subpath(p, sizeof(p), path, "manifestTargets.helm.tag"),
	               img->targets.helm.tag);
	check_helm_key(c, ymap(c, h, "spec"),
	               subpath(p, sizeof(p), path, "manifestTargets.helm.spec"),
	               img->targets.helm.spec);
	if (img->targets.kustomize.name &&
	    !imageref_name_valid(img->targets.kustomize.name,
	                         strlen(img->targets.kustomize.name)))
		adiag(c, ymap(c, ymap(c, t, "kustomize"), "name"),
		      subpath(p, sizeof(p), path,
		              "manifestTargets.kustomize.name"),
		      "'%s' is not an image name", img->targets.kustomize.name);
}

static enum config_argocd_strategy
strategy_of(const char *const *words, size_t n)
{
	enum config_argocd_strategy k = CONFIG_ARGOCD_SEMVER;
	struct err e = ERR_INIT;

	/* the first word given wins; an unknown one means semver */
	for (size_t i = 0; i < n; i++)
		if (words[i])
			return config_argocd_strategy_parse(&k, words[i], &e) ==
			                       0
			               ? k
			               : CONFIG_ARGOCD_SEMVER;
	return k;
}

static void
finish_imageupdater(struct actx *c, struct config_object *o,
                    const yaml_node_t *root)
{
	struct config_imageupdater *u = &o->u.imageupdater;
	const yaml_node_t *spec = ymap(c, root, "spec");
	const yaml_node_t *refs = ymap(c, spec, "applicationRefs");
	const char *ns = o->metadata.namespace;
	char p[64], q[256];

	check_settings(c, &u->settings, ymap(c, spec, "commonUpdateSettings"),
	               "spec.commonUpdateSettings", ns);
	check_writeback(c, &u->write_back, ymap(c, spec, "writeBackConfig"),
	                "spec.writeBackConfig");
	check_verification(c, &u->verification,
	                   ymap(c, spec, "imagesVerification"),
	                   "spec.imagesVerification");
	if (u->app_refs && u->n_app_refs == 0)
		adiag(c, refs, "spec.applicationRefs",
		      "at least one applicationRef is required");
	for (size_t i = 0; i < u->n_app_refs; i++) {
		struct config_argocd_appref *r = &u->app_refs[i];
		const yaml_node_t *rn = yseq(c, refs, i);
		const yaml_node_t *imgs = ymap(c, rn, "images");
		const char *method = r->write_back.method
		                             ? r->write_back.method
		                             : u->write_back.method;
		struct err e = ERR_INIT;
		struct glob *g = NULL;

		snprintf(p, sizeof(p), "spec.applicationRefs[%zu]", i);
		if (r->name_pattern &&
		    glob_new(&g, r->name_pattern, strlen(r->name_pattern), &e) <
		            0)
			adiag(c, ymap(c, rn, "namePattern"),
			      subpath(q, sizeof(q), p, "namePattern"),
			      "namePattern: %s", e.msg);
		glob_free(g);
		check_settings(
		        c, &r->settings, ymap(c, rn, "commonUpdateSettings"),
		        subpath(q, sizeof(q), p, "commonUpdateSettings"), ns);
		check_writeback(c, &r->write_back,
		                ymap(c, rn, "writeBackConfig"),
		                subpath(q, sizeof(q), p, "writeBackConfig"));
		check_verification(
		        c, &r->verification, ymap(c, rn, "imagesVerification"),
		        subpath(q, sizeof(q), p, "imagesVerification"));
		if (r->use_annotations == CONFIG_TRUE) {
			if (r->n_images > 0 || r->settings.pos.set ||
			    r->write_back.pos.set)
				awarn(c, rn, p, "argocd_ref_ignored",
				      "with useAnnotations: true the "
				      "Application's annotations give the images "
				      "and the write-back; this ref's images, "
				      "commonUpdateSettings and writeBackConfig "
				      "are not read",
				      "move them into the annotations, or drop "
				      "useAnnotations");
			continue;
		}
		if (r->n_images == 0)
			adiag(c, rn, subpath(q, sizeof(q), p, "images"),
			      "give images, or set useAnnotations: true");
		if (method == NULL || strcmp(method, "argocd") == 0) {
			struct config_argocd_method m;

			config_argocd_method_parse(&m, "argocd", &e);
			adiag(c,
			      r->write_back.method
			              ? ymap(c, ymap(c, rn, "writeBackConfig"),
			                     "method")
			              : rn,
			      subpath(q, sizeof(q), p,
			              "writeBackConfig.method"),
			      "%s%s", method ? "" : "(the default) ", e.msg);
		}
		for (size_t j = 0; j < r->n_images; j++) {
			struct config_argocd_image *img = &r->images[j];
			const yaml_node_t *in = yseq(c, imgs, j);
			const char *words[3] = { img->settings.update_strategy,
				                 r->settings.update_strategy,
				                 u->settings.update_strategy };
			char ip[512];

			snprintf(q, sizeof(q), "%s.images[%zu]", p, j);
			check_settings(c, &img->settings,
			               ymap(c, in, "commonUpdateSettings"),
			               subpath(ip, sizeof(ip), q,
			                       "commonUpdateSettings"),
			               ns);
			check_verification(c, &img->verification,
			                   ymap(c, in, "imagesVerification"),
			                   subpath(ip, sizeof(ip), q,
			                           "imagesVerification"));
			check_crd_image(c, img, in, q, strategy_of(words, 3));
		}
	}
}

/* ---- Application: sources and the v0.x annotations ---- */

/* Argo CD's ApplicationSource.ExplicitType: the one non-empty block. */
static void
source_type(struct actx *c, struct config_argocd_source *s,
            const yaml_node_t *node, const char *path)
{
	static const struct {
		const char *key;
		enum config_argocd_type type;
	} blocks[] = {
		{ "helm", CONFIG_ARGOCD_TYPE_HELM },
		{ "kustomize", CONFIG_ARGOCD_TYPE_KUSTOMIZE },
		{ "directory", CONFIG_ARGOCD_TYPE_DIRECTORY },
		{ "plugin", CONFIG_ARGOCD_TYPE_PLUGIN },
	};
	int n = 0;

	for (size_t i = 0; i < sizeof(blocks) / sizeof(*blocks); i++)
		if (ynonempty(ymap(c, node, blocks[i].key))) {
			n++;
			s->type = blocks[i].type;
		}
	if (n > 1) {
		adiag(c, node, path,
		      "multiple application sources defined (give at most one "
		      "of helm, kustomize, directory and plugin)");
		s->type = CONFIG_ARGOCD_TYPE_DETECT;
	}
}

static char *
dup_trim(struct actx *c, const char *s, size_t len)
{
	while (len > 0 && (*s == ' ' || *s == '\t' || *s == '\n'))
		s++, len--;
	while (len > 0 &&
	       (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\n'))
		len--;
	return config_strdup(c->cfg, s, len);
}

/* A boolean as gopkg.in/yaml.v2 reads one into a bool (YAML 1.1, which
 * Image Updater's registries.conf is read with: its own documentation
 * writes "insecure: yes"). */
static int
parse_yaml11_bool(const char *s, bool *out)
{
	static const char *const t[] = { "y",    "Y",    "yes",  "Yes",
		                         "YES",  "on",   "On",   "ON",
		                         "true", "True", "TRUE", NULL };
	static const char *const f[] = { "n",     "N",     "no",    "No",
		                         "NO",    "off",   "Off",   "OFF",
		                         "false", "False", "FALSE", NULL };

	for (size_t i = 0; t[i]; i++)
		if (strcmp(s, t[i]) == 0)
			return *out = true, 0;
	for (size_t i = 0; f[i]; i++)
		if (strcmp(s, f[i]) == 0)
			return *out = false, 0;
	return -1;
}

/* Go's strconv.ParseBool. */
static int
parse_go_bool(const char *s, bool *out)
{
	static const char *const t[] = { "1",    "t",    "T", "TRUE",
		                         "true", "True", NULL };
	static const char *const f[] = { "0",     "f",     "F", "FALSE",
		                         "false", "False", NULL };

	for (size_t i = 0; t[i]; i++)
		if (strcmp(s, t[i]) == 0)
			return *out = true, 0;
	for (size_t i = 0; f[i]; i++)
		if (strcmp(s, f[i]) == 0)
			return *out = false, 0;
	return -1;
}

/* Splits a comma list (items trimmed; empty ones kept or dropped). */
static void
split_list(struct actx *c, struct config_strlist *out, const char *s,
           bool keep_empty)
{
	size_t n = 1;

	for (const char *p = s; *p; p++)
		n += *p == ',';
	out->items = calloc(n, sizeof(char *));
	if (out->items == NULL) {
		c->cfg->nomem = true;
		return;
	}
	for (const char *p = s;;) {
		size_t len = strcspn(p, ",");
		char *item = dup_trim(c, p, len);

		if (item && (*item || keep_empty))
			out->items[out->n++] = item;
		else
			free(item);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
}

/* Levenshtein distance, capped: for "did you mean" hints. */
static size_t
distance(const char *a, const char *b)
{
	size_t la = strlen(a), lb = strlen(b), row[64];

	if (la >= 63 || lb >= 63)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = j;
	for (size_t i = 1; i <= la; i++) {
		size_t diag = row[0], tmp;

		row[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t best = diag + (a[i - 1] != b[j - 1]);

			if (row[j] + 1 < best)
				best = row[j] + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			tmp = row[j];
			row[j] = best;
			diag = tmp;
		}
	}
	return row[lb];
}

static const char *const app_keys[] = {
	"image-list",        "update-strategy",   "allow-tags",
	"ignore-tags",       "force-update",      "pull-secret",
	"write-back-method", "write-back-target", "git-branch",
	"git-repository",    "tag-match",         NULL,
};

static const char *const alias_keys[] = {
	"update-strategy",      "allow-tags",     "ignore-tags",
	"force-update",         "pull-secret",    "platforms",
	"helm.image-name",      "helm.image-tag", "helm.image-spec",
	"kustomize.image-name", "tag-match",      NULL,
};

static bool
in_list(const char *const *list, const char *s)
{
	for (; *list; list++)
		if (strcmp(*list, s) == 0)
			return true;
	return false;
}

/* The closest known key to what (app-wide or per alias), or NULL. */
static const char *
closest(const char *what, const char *const *list)
{
	const char *best = NULL;
	size_t bd = 4;

	for (; *list; list++) {
		size_t d = distance(what, *list);

		if (d < bd) {
			bd = d;
			best = *list;
		}
	}
	return best;
}

/* One settings key (app-wide or per alias) into s. */
static void
ann_setting(struct actx *c, struct config_argocd_settings *s, const char *key,
            const char *value, const yaml_node_t *vn, const char *path)
{
	s->pos.set = true;
	if (s->pos.line == 0) {
		s->pos.line = (int)vn->start_mark.line + 1;
		s->pos.column = (int)vn->start_mark.column + 1;
	}
	if (strcmp(key, "update-strategy") == 0) {
		s->update_strategy = dup_trim(c, value, strlen(value));
		check_strategy(c, vn, path, s->update_strategy);
	} else if (strcmp(key, "allow-tags") == 0 ||
	           strcmp(key, "tag-match") == 0) {
		if (strcmp(key, "tag-match") == 0) {
			awarn(c, vn, path, "argocd_tag_match_deprecated",
			      "tag-match is deprecated (Argo CD Image Updater "
			      "0.7) and not read by 1.x; ferry reads it as "
			      "allow-tags unless that is given",
			      "rename it allow-tags");
			if (s->allow_tags)
				return;
		} else {
			free(s->allow_tags);
		}
		s->allow_tags = dup_trim(c, value, strlen(value));
		check_allow(c, vn, path, s->allow_tags);
	} else if (strcmp(key, "ignore-tags") == 0) {
		split_list(c, &s->ignore_tags, value, true);
		for (size_t i = 0; i < s->ignore_tags.n; i++)
			check_ignore(c, vn, path, s->ignore_tags.items[i]);
	} else if (strcmp(key, "force-update") == 0) {
		char *v = dup_trim(c, value, strlen(value));
		bool b = false;

		if (v && parse_go_bool(v, &b) < 0)
			adiag(c, vn, path,
			      "'%s' is not a boolean (true, false, 1, 0, t, f, "
			      "in Go's spellings)",
			      v);
		s->force_update = b ? CONFIG_TRUE : CONFIG_FALSE;
		free(v);
	} else if (strcmp(key, "pull-secret") == 0) {
		s->pull_secret = dup_trim(c, value, strlen(value));
		check_pull_secret(c, vn, path, s->pull_secret, NULL);
	} else if (strcmp(key, "platforms") == 0) {
		split_list(c, &s->platforms, value, false);
		for (size_t i = 0; i < s->platforms.n; i++)
			check_platform(c, vn, path, s->platforms.items[i]);
	}
}

/* The image-list annotation into a->images. */
static void
ann_image_list(struct actx *c, struct config_argocd_annotations *a,
               const char *value, const yaml_node_t *vn, const char *path)
{
	size_t n = 1;

	a->present = true;
	a->pos.set = true;
	a->pos.line = (int)vn->start_mark.line + 1;
	a->pos.column = (int)vn->start_mark.column + 1;
	for (const char *p = value; *p; p++)
		n += *p == ',';
	if ((a->images = calloc(n, sizeof(*a->images))) == NULL) {
		c->cfg->nomem = true;
		return;
	}
	for (const char *p = value;;) {
		size_t len = strcspn(p, ",");
		char *entry = dup_trim(c, p, len);
		char *eq = entry ? strchr(entry, '=') : NULL;
		struct config_argocd_image *img = &a->images[a->n_images];

		if (entry && *entry) {
			img->pos = a->pos;
			if (eq) {
				*eq = '\0';
				img->alias = dup_trim(c, entry, strlen(entry));
				img->image_name =
				        dup_trim(c, eq + 1, strlen(eq + 1));
			} else {
				img->alias = config_strdup(c->cfg, "", 0);
				img->image_name = entry;
				entry = NULL;
			}
			if (img->image_name && *img->image_name == '\0') {
				adiag(c, vn, path,
				      "empty image name after '%s='",
				      img->alias ? img->alias : "");
				free(img->image_name);
				img->image_name = NULL;
			}
			a->n_images++;
		}
		free(entry);
		if (p[len] == '\0')
			break;
		p += len + 1;
	}
	if (a->n_images == 0)
		adiag(c, vn, path, "image-list names no image");
}

/* The image whose alias (with '/' written '_') is alias[0..len). */
static struct config_argocd_image *
ann_alias(struct config_argocd_annotations *a, const char *alias, size_t len)
{
	for (size_t i = 0; i < a->n_images; i++) {
		const char *x = a->images[i].alias;

		if (x == NULL || *x == '\0' || strlen(x) != len)
			continue;
		for (size_t k = 0; k <= len; k++) {
			char ch = k < len && x[k] == '/' ? '_' : x[k];

			if (k == len)
				return &a->images[i];
			if (ch != alias[k])
				break;
		}
	}
	return NULL;
}

static void
ann_unknown(struct actx *c, const yaml_node_t *kn, const char *path,
            const char *rest)
{
	const char *hint = closest(rest, app_keys);
	char more[300] = "";

	/* ALIAS.KEY with KEY misspelled: try each dot as the alias' end */
	for (const char *d = strchr(rest, '.'); hint == NULL && d;
	     d = strchr(d + 1, '.')) {
		const char *k = closest(d + 1, alias_keys);

		if (k)
			snprintf(more, sizeof(more),
			         " (did you mean '%.*s.%s'?)", (int)(d - rest),
			         rest, k);
		if (k)
			break;
	}
	if (hint)
		snprintf(more, sizeof(more), " (did you mean '%s'?)", hint);
	adiag(c, kn, path, "unknown Argo CD Image Updater annotation '%s'%s",
	      rest, more);
}

/* true when a pair before p has key: the strmap decoder reports the
 * duplicate, the first one counts */
static bool
key_seen(struct actx *c, const yaml_node_t *map, const yaml_node_pair_t *p,
         const char *key)
{
	for (const yaml_node_pair_t *q = map->data.mapping.pairs.start; q < p;
	     q++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, q->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    strcmp((const char *)k->data.scalar.value, key) == 0)
			return true;
	}
	return false;
}

static void
parse_annotations(struct actx *c, struct config_application *app,
                  const yaml_node_t *node)
{
	static const size_t plen = sizeof(CONFIG_ARGOCD_ANNOTATION_PREFIX) - 1;
	struct config_argocd_annotations *a = &app->annotations;
	char path[600];

	if (node == NULL || node->type != YAML_MAPPING_NODE)
		return;
	/* image-list first: the aliases it names decide the other keys */
	for (int pass = 0; pass < 2; pass++) {
		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     p < node->data.mapping.pairs.top; p++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
			yaml_node_t *v =
			        yaml_document_get_node(c->doc, p->value);
			const char *key, *rest, *value;
			struct config_argocd_image *img = NULL;
			const char *dot;

			if (k == NULL || v == NULL ||
			    k->type != YAML_SCALAR_NODE ||
			    v->type != YAML_SCALAR_NODE)
				continue; /* the strmap decoder said so */
			key = (const char *)k->data.scalar.value;
			value = (const char *)v->data.scalar.value;
			if (strncmp(key, CONFIG_ARGOCD_ANNOTATION_PREFIX,
			            plen) != 0 ||
			    key_seen(c, node, p, key))
				continue;
			rest = key + plen;
			snprintf(path, sizeof(path), "metadata.annotations.%s",
			         key);
			if ((strcmp(rest, "image-list") == 0) != (pass == 0))
				continue;
			if (pass == 0) {
				ann_image_list(c, a, value, v, path);
				continue;
			}
			if (in_list(app_keys, rest)) {
				if (strcmp(rest, "write-back-method") == 0 ||
				    strcmp(rest, "write-back-target") == 0 ||
				    strcmp(rest, "git-branch") == 0 ||
				    strcmp(rest, "git-repository") == 0) {
					struct config_argocd_writeback *w =
					        &a->write_back;
					char *val = dup_trim(c, value,
					                     strlen(value));
					char **at = &w->git.repository;

					if (strcmp(rest, "write-back-method") ==
					    0)
						at = &w->method;
					else if (strcmp(rest,
					                "write-back-target") ==
					         0)
						at = &w->git.write_back_target;
					else if (strcmp(rest, "git-branch") ==
					         0)
						at = &w->git.branch;
					if (!w->pos.set) {
						w->pos.set = true;
						w->pos.line = (int)v->start_mark
						                      .line +
						              1;
						w->pos.column =
						        (int)v->start_mark
						                .column +
						        1;
					}
					free(*at);
					*at = val;
				} else {
					ann_setting(c, &a->settings, rest,
					            value, v, path);
				}
				continue;
			}
			/* ALIAS.KEY: the longest known KEY that ends it */
			for (const char *const *ak = alias_keys; *ak; ak++) {
				size_t kl = strlen(*ak), rl = strlen(rest);

				if (rl > kl + 1 &&
				    strcmp(rest + rl - kl, *ak) == 0 &&
				    rest[rl - kl - 1] == '.') {
					img = ann_alias(a, rest, rl - kl - 1);
					if (img == NULL) {
						adiag(c, k, path,
						      "annotation for alias "
						      "'%.*s', which image-list "
						      "does not name",
						      (int)(rl - kl - 1), rest);
						img = NULL;
						rest = NULL;
						break;
					}
					rest = *ak;
					break;
				}
			}
			if (rest == NULL)
				continue;
			if (img == NULL) {
				dot = strrchr(rest, '.');
				if (in_list(alias_keys, rest))
					adiag(c, k, path,
					      "'%s' is only read per image: "
					      "write it as ALIAS.%s for an "
					      "alias of image-list",
					      rest, rest);
				else if (dot && in_list(app_keys, dot + 1))
					adiag(c, k, path,
					      "'%s' is only read for the whole "
					      "application (write it without "
					      "the alias)",
					      dot + 1);
				else
					ann_unknown(c, k, path, rest);
				continue;
			}
			if (strncmp(rest, "helm.", 5) == 0 ||
			    strncmp(rest, "kustomize.", 10) == 0) {
				bool helm = rest[0] == 'h';
				char *val = dup_trim(c, value, strlen(value));

				if ((helm && img->targets.kustomize.pos.set) ||
				    (!helm && img->targets.helm.pos.set)) {
					adiag(c, k, path,
					      "alias '%s' has both helm and "
					      "kustomize keys; give one kind "
					      "(as Argo CD Image Updater "
					      "requires)",
					      img->alias);
					free(val);
					continue;
				}
				if (helm) {
					char **at =
					        strcmp(rest,
					               "helm.image-name") == 0
					                ? &img->targets.helm
					                           .name
					        : strcmp(rest,
					                 "helm.image-tag") == 0
					                ? &img->targets.helm.tag
					                : &img->targets.helm
					                           .spec;
					img->targets.helm.pos.set = true;
					*at = val;
					check_helm_key(c, v, path, val);
				} else {
					img->targets.kustomize.pos.set = true;
					img->targets.kustomize.name = val;
					if (val && !imageref_name_valid(
					                   val, strlen(val)))
						adiag(c, v, path,
						      "'%s' is not an image "
						      "name",
						      val);
				}
				continue;
			}
			ann_setting(c, &img->settings, rest, value, v, path);
		}
	}
	if (!a->present)
		return;
	snprintf(path, sizeof(path), "metadata.annotations.%simage-list",
	         CONFIG_ARGOCD_ANNOTATION_PREFIX);
	for (size_t i = 0; i < a->n_images; i++) {
		const char *words[2] = { a->images[i].settings.update_strategy,
			                 a->settings.update_strategy };
		yaml_node_t *vn = NULL;

		for (yaml_node_pair_t *p = node->data.mapping.pairs.start;
		     p < node->data.mapping.pairs.top && vn == NULL; p++) {
			yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

			if (k && k->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)k->data.scalar.value,
			           path + strlen("metadata.annotations.")) == 0)
				vn = yaml_document_get_node(c->doc, p->value);
		}
		/* an entry without alias gets the application-wide settings
		 * only (so words[0] is unset for it) */
		check_image_name(c, &a->images[i], vn, path,
		                 strategy_of(words, 2));
	}
	if (a->write_back.method &&
	    strcmp(a->write_back.method, "argocd") != 0) {
		struct config_argocd_method m;
		struct err e = ERR_INIT;

		if (config_argocd_method_parse(&m, a->write_back.method, &e) <
		    0)
			config_diag_add(c->cfg, c->file, a->write_back.pos.line,
			                a->write_back.pos.column, c->object,
			                "metadata.annotations", "%s", e.msg),
			        c->ndiags++;
	}
	if (a->write_back.git.branch) {
		struct config_argocd_branch b;
		struct err e = ERR_INIT;

		if (config_argocd_branch_parse(&b, a->write_back.git.branch,
		                               &e) < 0)
			config_diag_add(c->cfg, c->file, a->write_back.pos.line,
			                a->write_back.pos.column, c->object,
			                "metadata.annotations", "%s", e.msg),
			        c->ndiags++;
	}
}

static void
finish_application(struct actx *c, struct config_object *o,
                   const yaml_node_t *root)
{
	struct config_application *app = &o->u.application;
	const yaml_node_t *spec = ymap(c, root, "spec");
	const yaml_node_t *sources = ymap(c, spec, "sources");
	char p[64];

	source_type(c, &app->source, ymap(c, spec, "source"), "spec.source");
	for (size_t i = 0; i < app->n_sources; i++) {
		snprintf(p, sizeof(p), "spec.sources[%zu]", i);
		source_type(c, &app->sources[i], yseq(c, sources, i), p);
	}
	source_type(c, &app->source_hydrator.dry_source,
	            ymap(c, ymap(c, spec, "sourceHydrator"), "drySource"),
	            "spec.sourceHydrator.drySource");
	parse_annotations(c, app,
	                  ymap(c, ymap(c, root, "metadata"), "annotations"));
}

size_t
argocd_finish(struct config *cfg, yaml_document_t *doc, yaml_node_t *root,
              struct config_object *obj, const char *object)
{
	struct actx c = { cfg, doc, obj->file, object, obj, 0 };

	if (obj->kind == CONFIG_IMAGEUPDATER)
		finish_imageupdater(&c, obj, root);
	else if (obj->kind == CONFIG_APPLICATION)
		finish_application(&c, obj, root);
	return c.ndiags;
}

static void
strlist_free(struct config_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void
settings_free(struct config_argocd_settings *s)
{
	free(s->update_strategy);
	free(s->allow_tags);
	free(s->pull_secret);
	strlist_free(&s->ignore_tags);
	strlist_free(&s->platforms);
	memset(s, 0, sizeof(*s));
}

void
argocd_object_release(struct config_object *obj)
{
	struct config_argocd_annotations *a;

	if (obj->kind != CONFIG_APPLICATION)
		return;
	a = &obj->u.application.annotations;
	for (size_t i = 0; i < a->n_images; i++) {
		struct config_argocd_image *img = &a->images[i];

		free(img->alias);
		free(img->image_name);
		settings_free(&img->settings);
		free(img->targets.helm.name);
		free(img->targets.helm.tag);
		free(img->targets.helm.spec);
		free(img->targets.kustomize.name);
	}
	free(a->images);
	settings_free(&a->settings);
	free(a->write_back.method);
	free(a->write_back.git.repository);
	free(a->write_back.git.branch);
	free(a->write_back.git.write_back_target);
	memset(a, 0, sizeof(*a));
}

/* ---- ConfigMap argocd-image-updater-config ---- */

/*
 * registries.conf, a YAML document inside the ConfigMap's string: its
 * own positions are made file positions by the string's first line (a
 * block scalar's text starts on the line after its '|').
 */
struct inner {
	struct actx *c;
	yaml_document_t *doc;
	int line0; /* file line of the text's first line, 0-based */
	int col0;
};

static void __attribute__((format(printf, 4, 5)))
idiag(struct inner *in, const yaml_node_t *n, const char *path, const char *fmt,
      ...)
{
	va_list ap;
	int line = in->line0 + (n ? (int)n->start_mark.line : 0);
	int col = (n ? (int)n->start_mark.column : 0) + in->col0;

	va_start(ap, fmt);
	config_diag_addv(in->c->cfg, in->c->file, line + 1, col + 1,
	                 in->c->object, path, fmt, ap);
	va_end(ap);
	in->c->ndiags++;
}

static void
parse_registry(struct inner *in, struct config_argocd_registry *r,
               const yaml_node_t *m, const char *path)
{
	static const struct {
		const char *key;
		size_t off; /* of a char *, or 0 for the booleans below */
	} strs[] = {
		{ "name", offsetof(struct config_argocd_registry, name) },
		{ "prefix", offsetof(struct config_argocd_registry, prefix) },
		{ "api_url", offsetof(struct config_argocd_registry, api_url) },
		{ "credentials",
		  offsetof(struct config_argocd_registry, credentials) },
		{ "defaultns",
		  offsetof(struct config_argocd_registry, defaultns) },
	};
	/* read by registry-scanner, not by ferry */
	static const char *const others[] = { "ping",        "credsexpire",
		                              "tagsortmode", "ca_file",
		                              "ca_data",     "limit",
		                              NULL };
	char p[128];

	if (m->type != YAML_MAPPING_NODE) {
		idiag(in, m, path, "expected a mapping");
		return;
	}
	for (yaml_node_pair_t *pr = m->data.mapping.pairs.start;
	     pr < m->data.mapping.pairs.top; pr++) {
		yaml_node_t *k = yaml_document_get_node(in->doc, pr->key);
		yaml_node_t *v = yaml_document_get_node(in->doc, pr->value);
		const char *key;
		bool known = false;

		if (k == NULL || v == NULL || k->type != YAML_SCALAR_NODE)
			continue;
		key = (const char *)k->data.scalar.value;
		snprintf(p, sizeof(p), "%s.%s", path, key);
		for (size_t i = 0; i < sizeof(strs) / sizeof(*strs); i++) {
			char **at;

			if (strcmp(key, strs[i].key) != 0)
				continue;
			known = true;
			at = (char **)((char *)r + strs[i].off);
			if (v->type != YAML_SCALAR_NODE)
				idiag(in, v, p, "expected a string");
			else if (*at == NULL)
				*at = config_strdup(
				        in->c->cfg,
				        (const char *)v->data.scalar.value,
				        v->data.scalar.length);
		}
		if (strcmp(key, "insecure") == 0 ||
		    strcmp(key, "default") == 0) {
			bool b = false;

			known = true;
			if (v->type != YAML_SCALAR_NODE ||
			    parse_yaml11_bool(
			            (const char *)v->data.scalar.value, &b) < 0)
				idiag(in, v, p,
				      "expected true or false (or yes, no, on, "
				      "off)");
			if (key[0] == 'i')
				r->insecure = b;
			else
				r->is_default = b;
		}
		if (!known && !in_list(others, key))
			idiag(in, k, p, "unknown field '%s'", key);
	}
	if (r->prefix == NULL)
		idiag(in, m, path,
		      "prefix is missing (the registry host, such "
		      "as ghcr.io)");
	if (r->api_url && strncmp(r->api_url, "http://", 7) == 0)
		r->plain_http = true;
	else if (r->api_url && strncmp(r->api_url, "https://", 8) != 0)
		idiag(in, m, path,
		      "api_url '%s' must start with http:// or "
		      "https://",
		      r->api_url);
	if (r->insecure && !r->plain_http) {
		char what[300];

		snprintf(
		        what, sizeof(what),
		        "registry '%.100s': insecure skips TLS verification in "
		        "Argo CD Image Updater; ferry verifies certificates",
		        r->prefix ? r->prefix : "");
		awarn(in->c, NULL, path, "argocd_insecure_ignored", what,
		      "use an http:// api_url for a registry without TLS");
	}
	if (r->credentials) {
		struct config_argocd_cred cr;
		struct err e = ERR_INIT;

		if (config_argocd_cred_parse(&cr, r->credentials, &e) < 0)
			idiag(in, m, path, "credentials: %s", e.msg);
	}
}

static void
parse_registries(struct actx *c, struct argocd_state *st,
                 const yaml_node_t *key, const yaml_node_t *v)
{
	yaml_parser_t parser;
	yaml_document_t doc;
	struct inner in = { c, &doc, 0, 0 };
	const yaml_node_t *root, *list;

	if (v->type != YAML_SCALAR_NODE)
		return; /* said by the loop over keys */
	in.line0 = (int)v->start_mark.line;
	in.col0 = (int)v->start_mark.column;
	if (v->data.scalar.style == YAML_LITERAL_SCALAR_STYLE ||
	    v->data.scalar.style == YAML_FOLDED_SCALAR_STYLE) {
		/* the text starts on the next line, indented (by the usual
		 * two spaces: libyaml does not say by how much) */
		in.line0++;
		in.col0 = (int)key->start_mark.column + 2;
	}
	if (!yaml_parser_initialize(&parser)) {
		c->cfg->nomem = true;
		return;
	}
	yaml_parser_set_input_string(&parser, v->data.scalar.value,
	                             v->data.scalar.length);
	if (!yaml_parser_load(&parser, &doc)) {
		in.line0 += (int)parser.problem_mark.line;
		adiag(c, v, "data.registries.conf",
		      "registries.conf: YAML syntax error: %s (its line %d)",
		      parser.problem ? parser.problem : "unknown",
		      (int)parser.problem_mark.line + 1);
		yaml_parser_delete(&parser);
		return;
	}
	root = yaml_document_get_root_node(&doc);
	list = NULL;
	if (root && root->type == YAML_MAPPING_NODE) {
		for (yaml_node_pair_t *pr = root->data.mapping.pairs.start;
		     pr < root->data.mapping.pairs.top; pr++) {
			yaml_node_t *k = yaml_document_get_node(&doc, pr->key);

			if (k && k->type == YAML_SCALAR_NODE &&
			    strcmp((const char *)k->data.scalar.value,
			           "registries") == 0)
				list = yaml_document_get_node(&doc, pr->value);
			else if (k)
				idiag(&in, k, "data.registries.conf",
				      "unknown field '%s' (expected registries)",
				      k->type == YAML_SCALAR_NODE
				              ? (const char *)
				                        k->data.scalar.value
				              : "?");
		}
	} else if (root) {
		idiag(&in, root, "data.registries.conf",
		      "expected a mapping with registries:");
	}
	if (list && list->type == YAML_SEQUENCE_NODE) {
		size_t n = (size_t)(list->data.sequence.items.top -
		                    list->data.sequence.items.start);

		st->cm.registries =
		        calloc(n ? n : 1, sizeof(*st->cm.registries));
		if (st->cm.registries == NULL)
			c->cfg->nomem = true;
		for (size_t i = 0; st->cm.registries && i < n; i++) {
			char p[64];

			snprintf(p, sizeof(p), "registries.conf[%zu]", i);
			parse_registry(
			        &in, &st->cm.registries[i],
			        yaml_document_get_node(
			                &doc,
			                list->data.sequence.items.start[i]),
			        p);
			st->cm.n_registries++;
		}
	} else if (list) {
		idiag(&in, list, "data.registries.conf",
		      "registries: expected a list");
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
}

bool
argocd_document_take(struct config *cfg, const char *file, yaml_document_t *doc,
                     yaml_node_t *root, const char *api_version,
                     const char *kind)
{
	struct actx c = { cfg, doc, file, NULL, NULL, 0 };
	struct config_object pseudo;
	struct argocd_state *st;
	const yaml_node_t *meta, *name, *ns, *data;
	char label[600];
	static const struct {
		const char *key;
		size_t off;
	} keys[] = {
		{ "git.user", offsetof(struct config_argocd_config, git_user) },
		{ "git.email",
		  offsetof(struct config_argocd_config, git_email) },
		{ "git.commit-message-template",
		  offsetof(struct config_argocd_config, commit_template) },
		{ "argocd.namespace",
		  offsetof(struct config_argocd_config, argocd_namespace) },
		{ "interval", offsetof(struct config_argocd_config, interval) },
	};

	if (strcmp(kind, "ConfigMap") != 0 || strcmp(api_version, "v1") != 0)
		return false;
	memset(&pseudo, 0, sizeof(pseudo));
	pseudo.file = file;
	pseudo.line = (int)root->start_mark.line + 1;
	pseudo.column = (int)root->start_mark.column + 1;
	c.obj = &pseudo;
	meta = ymap(&c, root, "metadata");
	name = ymap(&c, meta, "name");
	ns = ymap(&c, meta, "namespace");
	if (name == NULL || name->type != YAML_SCALAR_NODE ||
	    strcmp((const char *)name->data.scalar.value,
	           CONFIG_ARGOCD_CONFIGMAP) != 0)
		return false;
	snprintf(label, sizeof(label), "ConfigMap %s/%s",
	         ns && ns->type == YAML_SCALAR_NODE
	                 ? (const char *)ns->data.scalar.value
	                 : "default",
	         CONFIG_ARGOCD_CONFIGMAP);
	c.object = label;
	if ((st = state_of(cfg)) == NULL)
		return true;
	if (st->cm.file) {
		adiag(&c, root, "metadata.name",
		      "duplicate: the ConfigMap %s is already defined at "
		      "%s:%d:%d",
		      CONFIG_ARGOCD_CONFIGMAP, st->cm.file, st->cm.line,
		      st->cm.column);
		return true;
	}
	st->cm.file = file;
	st->cm.line = pseudo.line;
	st->cm.column = pseudo.column;
	data = ymap(&c, root, "data");
	if (data && data->type != YAML_MAPPING_NODE) {
		adiag(&c, data, "data", "expected a mapping of strings");
		data = NULL;
	}
	for (size_t i = 0; i < sizeof(keys) / sizeof(*keys); i++) {
		const yaml_node_t *v = ymap(&c, data, keys[i].key);
		char path[64], **at = (char **)((char *)&st->cm + keys[i].off);

		snprintf(path, sizeof(path), "data.%s", keys[i].key);
		if (v == NULL)
			continue;
		if (v->type != YAML_SCALAR_NODE) {
			adiag(&c, v, path, "expected a string");
			continue;
		}
		*at = config_strdup(cfg, (const char *)v->data.scalar.value,
		                    v->data.scalar.length);
	}
	if (st->cm.interval) {
		struct err e = ERR_INIT;
		int64_t ns_ = 0;

		if (parse_duration(st->cm.interval, strlen(st->cm.interval),
		                   &ns_, &e) < 0 ||
		    ns_ <= 0)
			adiag(&c, ymap(&c, data, "interval"), "data.interval",
			      "'%s' is not a positive Go duration (such as 2m)",
			      st->cm.interval);
	}
	if (st->cm.commit_template) {
		struct template *t = NULL;
		struct err e = ERR_INIT;

		if (template_parse(&t, st->cm.commit_template,
		                   strlen(st->cm.commit_template), false,
		                   &e) < 0)
			adiag(&c, ymap(&c, data, "git.commit-message-template"),
			      "data.git.commit-message-template", "%s", e.msg);
		template_free(t);
	}
	if (ymap(&c, data, "registries.conf"))
		parse_registries(&c, st, ykey(&c, data, "registries.conf"),
		                 ymap(&c, data, "registries.conf"));
	if (ymap(&c, data, "git.commit-signing-key"))
		awarn(&c, ymap(&c, data, "git.commit-signing-key"),
		      "data.git.commit-signing-key", "argocd_signing_ignored",
		      "commits are not signed: the key names a file or key id "
		      "inside Argo CD Image Updater's pod",
		      "sign with a Flux ImageUpdateAutomation's signingKey, or "
		      "leave commits unsigned");
	if (st->cm.git_user == NULL)
		st->cm.git_user = config_strdup(cfg, CONFIG_ARGOCD_GIT_USER,
		                                strlen(CONFIG_ARGOCD_GIT_USER));
	if (st->cm.git_email == NULL)
		st->cm.git_email =
		        config_strdup(cfg, CONFIG_ARGOCD_GIT_EMAIL,
		                      strlen(CONFIG_ARGOCD_GIT_EMAIL));
	if (st->cm.argocd_namespace == NULL)
		st->cm.argocd_namespace =
		        config_strdup(cfg, CONFIG_ARGOCD_NAMESPACE,
		                      strlen(CONFIG_ARGOCD_NAMESPACE));
	return true;
}

/* ---- units: which Applications, with what ---- */

/* Argo CD Image Updater's calculateSpecificity. */
static long
specificity(const struct config_argocd_appref *r)
{
	const char *p = r->name_pattern ? r->name_pattern : "";
	long score = 0;

	if (strpbrk(p, "*?[]") == NULL)
		score += 1000000;
	/* literal characters: without [...] sets, '*' and '?' */
	for (size_t i = 0; p[i]; i++) {
		const char *close = p[i] == '[' ? strchr(p + i + 1, ']') : NULL;

		if (close)
			i = (size_t)(close - p);
		else if (p[i] != '*' && p[i] != '?')
			score++;
	}
	if (r->label_selectors.pos.set) {
		score += 10000;
		score += (long)r->label_selectors.match_labels.n * 100;
		score += (long)r->label_selectors.n_match_expressions * 100;
	}
	return score;
}

/* The ref of u that selects app (the most specific), or NULL. */
static const struct config_argocd_appref *
best_ref(const struct config_object *u, const struct config_object *app)
{
	const struct config_imageupdater *iu = &u->u.imageupdater;
	const struct config_argocd_appref *best = NULL;
	long best_score = -1;

	for (size_t i = 0; i < iu->n_app_refs; i++) {
		const struct config_argocd_appref *r = &iu->app_refs[i];
		struct glob *g = NULL;
		struct err e = ERR_INIT;
		bool match;
		long sc;

		if (r->name_pattern == NULL ||
		    glob_new(&g, r->name_pattern, strlen(r->name_pattern), &e) <
		            0)
			continue;
		match = glob_match(g, app->metadata.name,
		                   strlen(app->metadata.name)) &&
		        config_selector_matches(&r->label_selectors,
		                                &app->metadata.labels);
		glob_free(g);
		/* a stable sort by score, then the first match: the highest
		 * score wins, the earlier ref among equals */
		if (match && (sc = specificity(r)) > best_score) {
			best = r;
			best_score = sc;
		}
	}
	return best;
}

static const char *
first_of(const char *a, const char *b, const char *c)
{
	return a ? a : b ? b : c;
}

static const struct config_strlist *
first_list(const struct config_strlist *a, const struct config_strlist *b,
           const struct config_strlist *c)
{
	if (a && a->items)
		return a;
	if (b && b->items)
		return b;
	if (c && c->items)
		return c;
	return NULL;
}

static void
merge_image(struct config_argocd_unit_image *out,
            const struct config_argocd_image *img,
            const struct config_argocd_settings *ref,
            const struct config_argocd_settings *global)
{
	const char *words[3] = { img->settings.update_strategy,
		                 ref ? ref->update_strategy : NULL,
		                 global ? global->update_strategy : NULL };
	enum config_optbool f = img->settings.force_update;

	out->image = img;
	out->strategy = strategy_of(words, 3);
	out->allow_tags =
	        first_of(img->settings.allow_tags, ref ? ref->allow_tags : NULL,
	                 global ? global->allow_tags : NULL);
	out->ignore_tags = first_list(&img->settings.ignore_tags,
	                              ref ? &ref->ignore_tags : NULL,
	                              global ? &global->ignore_tags : NULL);
	out->pull_secret = first_of(img->settings.pull_secret,
	                            ref ? ref->pull_secret : NULL,
	                            global ? global->pull_secret : NULL);
	out->platforms = first_list(&img->settings.platforms,
	                            ref ? &ref->platforms : NULL,
	                            global ? &global->platforms : NULL);
	if (f == CONFIG_UNSET && ref)
		f = ref->force_update;
	if (f == CONFIG_UNSET && global)
		f = global->force_update;
	out->force_update = f == CONFIG_TRUE;
}

/* getApplicationSource, with what ferry knows without a cluster. */
static const struct config_argocd_source *
choose_source(const struct config_application *app,
              enum config_argocd_target_kind tk, const char *repository)
{
	if (app->source_hydrator.pos.set)
		return &app->source_hydrator.dry_source;
	if (app->n_sources == 0)
		return app->source.pos.set ? &app->source : NULL;
	for (size_t i = 0; i < app->n_sources; i++) {
		const struct config_argocd_source *s = &app->sources[i];

		if ((tk == CONFIG_ARGOCD_TARGET_KUSTOMIZATION &&
		     s->kustomize.pos.set) ||
		    (tk == CONFIG_ARGOCD_TARGET_HELMVALUES && s->helm.pos.set))
			return s;
	}
	for (size_t i = 0; repository && i < app->n_sources; i++)
		if (app->sources[i].repo_url &&
		    strcmp(app->sources[i].repo_url, repository) == 0)
			return &app->sources[i];
	for (size_t i = 0; i < app->n_sources; i++)
		if (app->sources[i].helm.pos.set ||
		    app->sources[i].kustomize.pos.set ||
		    app->sources[i].plugin.pos.set)
			return &app->sources[i];
	return &app->sources[0];
}

static void __attribute__((format(printf, 4, 5)))
unit_diag(struct config *cfg, const struct config_object *o,
          const struct config_pos *pos, const char *fmt, ...)
{
	char label[600];
	va_list ap;

	snprintf(label, sizeof(label), "%s %s/%s", config_kind_name(o->kind),
	         o->metadata.namespace, o->metadata.name);
	va_start(ap, fmt);
	config_diag_addv(cfg, o->file, pos && pos->set ? pos->line : o->line,
	                 pos && pos->set ? pos->column : o->column, label, "",
	                 fmt, ap);
	va_end(ap);
}

/* A pull secret's Secret, in the files given, with the key it needs. */
static void
check_pull_secret_ref(struct config *cfg, const struct config_argocd_unit *u,
                      const struct config_argocd_unit_image *im)
{
	const struct config_object *sec;
	struct config_argocd_cred cr;
	struct err e = ERR_INIT;
	char ns[254], name[254];
	const char *key;

	if (im->pull_secret == NULL ||
	    config_argocd_cred_parse(&cr, im->pull_secret, &e) < 0 ||
	    cr.ns == NULL)
		return; /* reported where it is written */
	snprintf(ns, sizeof(ns), "%.*s", (int)cr.ns_len, cr.ns);
	snprintf(name, sizeof(name), "%.*s", (int)cr.name_len, cr.name);
	if (u->updater && strcmp(ns, u->app->metadata.namespace) != 0) {
		unit_diag(
		        cfg, u->app, NULL,
		        "pull secret '%s' of image '%s' is in namespace '%s'; "
		        "Argo CD Image Updater reads only Secrets of the "
		        "Application's namespace '%s'",
		        im->pull_secret, im->image->image_name, ns,
		        u->app->metadata.namespace);
		return;
	}
	sec = config_find(cfg, CONFIG_SECRET, ns, name);
	key = cr.kind == CONFIG_ARGOCD_CRED_PULLSECRET ? ".dockerconfigjson"
	                                               : cr.field;
	if (sec == NULL)
		unit_diag(cfg, u->app, NULL,
		          "pull secret '%s' of image '%s': Secret '%s/%s' not "
		          "found (add it to the files given, or fix the name)",
		          im->pull_secret, im->image->image_name, ns, name);
	else if (config_secret_value(sec, key) == NULL)
		unit_diag(cfg, u->app, NULL,
		          "pull secret '%s' of image '%s': Secret '%s/%s' has "
		          "no '%s' key",
		          im->pull_secret, im->image->image_name, ns, name,
		          key);
}

static void
check_unit(struct config *cfg, const struct config_argocd_unit *u)
{
	const struct config_object *app = u->app;
	const struct config_argocd_annotations *a =
	        &app->u.application.annotations;
	const struct config_pos *wpos =
	        u->annotations
	                ? (a->write_back.pos.set ? &a->write_back.pos : &a->pos)
	                : &u->ref->pos;
	struct config_argocd_method m;
	enum config_argocd_target_kind tk;
	struct err e = ERR_INIT;
	char *tp = NULL;

	if (u->annotations &&
	    (u->method == NULL || strcmp(u->method, "argocd") == 0)) {
		config_argocd_method_parse(&m, "argocd", &e);
		unit_diag(cfg, app, wpos,
		          "annotation %swrite-back-method%s: %s",
		          CONFIG_ARGOCD_ANNOTATION_PREFIX,
		          u->method ? "" : " (not given: argocd)", e.msg);
	}
	if (u->source == NULL) {
		unit_diag(cfg, app, NULL,
		          "the Application has no source (spec.source, "
		          "spec.sources or spec.sourceHydrator) to write to");
		return;
	}
	if (u->source->chart && u->repository == NULL)
		unit_diag(
		        cfg, app, &u->source->pos,
		        "the source is Helm chart '%s' of a chart repository, "
		        "not Git: name the Git repository to write to with "
		        "git-repository (gitConfig.repository)",
		        u->source->chart);
	else if (u->source->repo_url == NULL && u->repository == NULL)
		unit_diag(cfg, app, &u->source->pos,
		          "the source has no repoURL to write to");
	if (config_argocd_target_parse(
	            &tk, &tp, u->target, u->source->path ? u->source->path : "",
	            config_argocd_config(cfg)->argocd_namespace,
	            app->metadata.namespace, app->metadata.name, &e) < 0 &&
	    e.code != ERR_NOMEM)
		unit_diag(cfg, app, wpos, "%s", e.msg);
	free(tp);
	/* targetRevision is the base branch unless git-branch names one */
	{
		struct config_argocd_branch b = { 0 };
		const char *rev = u->source->target_revision;

		if ((u->branch == NULL ||
		     config_argocd_branch_parse(&b, u->branch, &e) == 0) &&
		    b.base == NULL && rev && *rev && strcmp(rev, "HEAD") != 0 &&
		    !gitrepo_branch_name_valid(rev, strlen(rev)))
			unit_diag(cfg, app, &u->source->pos,
			          "targetRevision '%s' is the branch written "
			          "to, and is not a branch name Git accepts",
			          rev);
	}
	if (u->method && config_argocd_method_parse(&m, u->method, &e) == 0 &&
	    m.secret_name) {
		char ns[254], name[254];
		const struct config_object *sec;

		snprintf(ns, sizeof(ns), "%.*s", (int)m.secret_ns_len,
		         m.secret_ns ? m.secret_ns : "");
		snprintf(name, sizeof(name), "%.*s", (int)m.secret_name_len,
		         m.secret_name);
		if (m.secret_ns && strcmp(ns, app->metadata.namespace) != 0)
			unit_diag(
			        cfg, app, wpos,
			        "write-back method '%s': the Secret's namespace "
			        "'%s' is not the Application's '%s' (Argo CD "
			        "Image Updater refuses it)",
			        u->method, ns, app->metadata.namespace);
		else if ((sec = config_find(cfg, CONFIG_SECRET,
		                            app->metadata.namespace, name)) ==
		         NULL)
			unit_diag(
			        cfg, app, wpos,
			        "write-back method '%s': Secret '%s/%s' not "
			        "found (add it to the files given, or fix the "
			        "name)",
			        u->method, app->metadata.namespace, name);
		else if (config_secret_value(sec, "username") == NULL &&
		         config_secret_value(sec, "sshPrivateKey") == NULL)
			unit_diag(cfg, app, wpos,
			          "write-back method '%s': Secret '%s/%s' has "
			          "neither 'username' and 'password' nor "
			          "'sshPrivateKey'",
			          u->method, app->metadata.namespace, name);
	}
	for (size_t i = 0; i < u->n_images; i++)
		check_pull_secret_ref(cfg, u, &u->images[i]);
}

static int
make_unit(struct config_argocd_unit *u, const struct config_object *app,
          const struct config_object *upd,
          const struct config_argocd_appref *ref)
{
	const struct config_application *a = &app->u.application;
	const struct config_argocd_writeback *w1, *w2;
	enum config_argocd_target_kind tk = CONFIG_ARGOCD_TARGET_DEFAULT;
	char *tp = NULL;
	struct err e = ERR_INIT;
	size_t n;

	memset(u, 0, sizeof(*u));
	u->app = app;
	u->updater = upd;
	u->ref = ref;
	u->annotations = upd == NULL || ref->use_annotations == CONFIG_TRUE;
	n = u->annotations ? a->annotations.n_images : ref->n_images;
	if ((u->images = calloc(n ? n : 1, sizeof(*u->images))) == NULL)
		return -ERR_NOMEM;
	u->n_images = n;
	for (size_t i = 0; i < n; i++) {
		if (u->annotations)
			merge_image(&u->images[i], &a->annotations.images[i],
			            &a->annotations.settings, NULL);
		else
			merge_image(&u->images[i], &ref->images[i],
			            &ref->settings,
			            &upd->u.imageupdater.settings);
	}
	w1 = u->annotations ? &a->annotations.write_back : &ref->write_back;
	w2 = u->annotations ? NULL : &upd->u.imageupdater.write_back;
	u->method = first_of(w1->method, w2 ? w2->method : NULL, NULL);
	u->repository = first_of(w1->git.repository,
	                         w2 ? w2->git.repository : NULL, NULL);
	u->branch = first_of(w1->git.branch, w2 ? w2->git.branch : NULL, NULL);
	u->target = first_of(w1->git.write_back_target,
	                     w2 ? w2->git.write_back_target : NULL, NULL);
	if (u->target && config_argocd_target_parse(&tk, &tp, u->target, "",
	                                            "argocd", "", "x", &e) < 0)
		tk = CONFIG_ARGOCD_TARGET_DEFAULT;
	free(tp);
	u->source = choose_source(a, tk, u->repository);
	return 0;
}

void
argocd_check(struct config *cfg)
{
	const struct config_vec *apps = &cfg->kinds[CONFIG_APPLICATION];
	const struct config_vec *ups = &cfg->kinds[CONFIG_IMAGEUPDATER];
	struct argocd_state *st;
	size_t ignored = 0;

	if (apps->n == 0 && cfg->argocd == NULL)
		return;
	if ((st = state_of(cfg)) == NULL)
		return;
	units_free(st);
	if ((st->units = calloc(apps->n ? apps->n : 1, sizeof(*st->units))) ==
	    NULL) {
		cfg->nomem = true;
		return;
	}
	for (size_t i = 0; i < apps->n; i++) {
		const struct config_object *app = apps->v[i], *found = NULL;
		const struct config_argocd_appref *fref = NULL;
		const struct config_argocd_annotations *an =
		        &app->u.application.annotations;
		struct config_argocd_unit *u = &st->units[st->n_units];

		/* one without a name is an error already */
		if (app->metadata.name == NULL ||
		    app->metadata.namespace == NULL)
			continue;
		/* an ImageUpdater reads the Applications of its namespace */
		for (size_t k = 0; k < ups->n; k++) {
			const struct config_object *up = ups->v[k];
			const struct config_argocd_appref *r;

			if (up->metadata.name == NULL ||
			    up->metadata.namespace == NULL ||
			    strcmp(up->metadata.namespace,
			           app->metadata.namespace) != 0 ||
			    (r = best_ref(up, app)) == NULL)
				continue;
			if (found) {
				unit_diag(
				        cfg, app, NULL,
				        "selected by ImageUpdater '%s' and by "
				        "ImageUpdater '%s'; ferry runs an "
				        "Application under one (Argo CD Image "
				        "Updater would run both, and their "
				        "commits would race): narrow the "
				        "namePattern or labelSelectors",
				        found->metadata.name,
				        up->metadata.name);
				continue;
			}
			found = up;
			fref = r;
		}
		if (found && fref->use_annotations == CONFIG_TRUE &&
		    !an->present) {
			char at[600];

			snprintf(at, sizeof(at), "%s:%d:%d", app->file,
			         app->line, app->column);
			log_warn(
			        "config", "argocd_no_image_list", "at", at,
			        "application", app->metadata.name, "updater",
			        found->metadata.name, "warning",
			        "useAnnotations is true but the Application has "
			        "no image-list annotation; it is skipped, as "
			        "Argo CD Image Updater skips it");
			continue;
		}
		if (found == NULL && !(st->annotations && an->present)) {
			ignored += an->present;
			continue;
		}
		if (make_unit(u, app, found, fref) < 0) {
			cfg->nomem = true;
			return;
		}
		st->n_units++;
		check_unit(cfg, u);
	}
	if (ignored > 0) {
		char n[32];

		log_info(
		        "config", "argocd_annotations_not_read", "applications",
		        log_num(n, (long long)ignored), "advice",
		        "these Applications have image-list annotations but no "
		        "ImageUpdater selects them; run with "
		        "--argocd-annotations to update them from their "
		        "annotations (Argo CD Image Updater 0.x)");
	}
}
