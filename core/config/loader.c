/*
 * loader.c - reads YAML files and directories into a struct config:
 * walks directories, splits multi-document files with libyaml, sorts each
 * document into one of ferry's kinds (decoded by schema.c) or a skipped
 * one, then checks what involves several objects (duplicates, dangling
 * references) and answers lookups.
 *
 * It deliberately does not talk to a cluster: an object that refers to
 * something not in the files given is an error, as ferry has nowhere else
 * to find it.
 */
#define _GNU_SOURCE /* memmem */
#include "config_int.h"

#include <dirent.h>
#include <errno.h>
#include <fnmatch.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/log.h"
#include "config/argocd.h"
#include "base/utf8.h"
#include "base/util.h"
#include "writeback/setters.h"

struct kind_info {
	const char *name;
	const char *group;
	const char *const versions[3];
};

static const struct kind_info kinds[CONFIG_KIND_COUNT] = {
	[CONFIG_GITREPOSITORY] = { "GitRepository",
	                           "source.toolkit.fluxcd.io",
	                           { "v1", NULL } },
	[CONFIG_IMAGEREPOSITORY] = { "ImageRepository",
	                             "image.toolkit.fluxcd.io",
	                             { "v1", "v1beta2", NULL } },
	[CONFIG_IMAGEPOLICY] = { "ImagePolicy",
	                         "image.toolkit.fluxcd.io",
	                         { "v1", "v1beta2", NULL } },
	[CONFIG_IMAGEUPDATEAUTOMATION] = { "ImageUpdateAutomation",
	                                   "image.toolkit.fluxcd.io",
	                                   { "v1", "v1beta2", NULL } },
	[CONFIG_RECEIVER] = { "Receiver",
	                      "notification.toolkit.fluxcd.io",
	                      { "v1", NULL } },
	[CONFIG_KUSTOMIZATION] = { "Kustomization",
	                           "kustomize.toolkit.fluxcd.io",
	                           { "v1", NULL } },
	[CONFIG_SECRET] = { "Secret", "", { "v1", NULL } },
	[CONFIG_PROVIDER] = { "Provider",
	                      "notification.toolkit.fluxcd.io",
	                      { "v1beta3", NULL } },
	[CONFIG_ALERT] = { "Alert",
	                   "notification.toolkit.fluxcd.io",
	                   { "v1beta3", NULL } },
	[CONFIG_IMAGEUPDATER] = { "ImageUpdater",
	                          "argocd-image-updater.argoproj.io",
	                          { "v1alpha1", NULL } },
	[CONFIG_APPLICATION] = { "Application",
	                         "argoproj.io",
	                         { "v1alpha1", NULL } },
};

bool
config_kind_known(const char *kind, const char *api)
{
	const char *slash = api ? strrchr(api, '/') : NULL;
	size_t glen = slash ? (size_t)(slash - api) : 0;

	if (kind == NULL || api == NULL)
		return false;
	for (int k = 0; k < CONFIG_KIND_COUNT; k++)
		if (strcmp(kinds[k].name, kind) == 0 &&
		    strlen(kinds[k].group) == glen &&
		    memcmp(kinds[k].group, api, glen) == 0)
			return true;
	return false;
}

const char *
config_kind_name(enum config_kind kind)
{
	if ((unsigned)kind >= CONFIG_KIND_COUNT)
		return NULL;
	return kinds[kind].name;
}

/* ---- memory and diagnostics ---- */

char *
config_strdup(struct config *cfg, const char *s, size_t len)
{
	char *p = malloc(len + 1);

	if (p == NULL) {
		cfg->nomem = true;
		return NULL;
	}
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

bool
config_reserve(struct config *cfg, void **v, size_t *cap, size_t n, size_t size)
{
	size_t ncap;
	void *p;

	if (n < *cap)
		return true;
	ncap = *cap ? *cap * 2 : 16;
	p = reallocarray(*v, ncap, size);
	if (p == NULL) {
		cfg->nomem = true;
		return false;
	}
	*v = p;
	*cap = ncap;
	return true;
}

const char *
config_intern_file(struct config *cfg, const char *file)
{
	char *copy;

	for (size_t i = cfg->n_files; i > 0; i--)
		if (strcmp(cfg->files[i - 1], file) == 0)
			return cfg->files[i - 1];
	if (!config_reserve(cfg, (void **)&cfg->files, &cfg->cap_files,
	                    cfg->n_files, sizeof(char *)))
		return NULL;
	if ((copy = config_strdup(cfg, file, strlen(file))) == NULL)
		return NULL;
	cfg->files[cfg->n_files++] = copy;
	return copy;
}

static void
diags_addv(struct config *cfg, struct config_diags *list, const char *file,
           int line, int column, const char *object, const char *path,
           const char *fmt, va_list ap)
{
	struct config_diag *d;
	char text[2048];
	char *msg = NULL, *obj = NULL, *p = NULL;
	const char *f;
	va_list aq;
	int n;

	if (list->n >= CONFIG_MAX_DIAGS) {
		list->dropped++;
		return;
	}
	if (!config_reserve(cfg, (void **)&list->v, &list->cap, list->n,
	                    sizeof(*list->v)))
		return;
	va_copy(aq, ap);
	n = vsnprintf(text, sizeof(text), fmt, aq);
	va_end(aq);
	if (n < 0)
		text[0] = '\0';
	/* one diagnostic is one line: values quoted from the input must not
	 * start another (a too long message is cut by vsnprintf) */
	for (char *t = text; *t; t++)
		if ((unsigned char)*t < 0x20 || *t == 0x7f)
			*t = '?';
	msg = config_strdup(cfg, text, strlen(text));
	f = config_intern_file(cfg, file ? file : "");
	if (object)
		obj = config_strdup(cfg, object, strlen(object));
	p = config_strdup(cfg, path ? path : "", path ? strlen(path) : 0);
	if (msg == NULL || f == NULL || (object && obj == NULL) || p == NULL) {
		cfg->nomem = true;
		free(msg);
		free(obj);
		free(p);
		return;
	}
	d = &list->v[list->n++];
	d->file = f;
	d->line = line;
	d->column = column;
	d->object = obj;
	d->path = p;
	d->message = msg;
}

void
config_diag_addv(struct config *cfg, const char *file, int line, int column,
                 const char *object, const char *path, const char *fmt,
                 va_list ap)
{
	diags_addv(cfg, &cfg->errors, file, line, column, object, path, fmt,
	           ap);
}

void
config_diag_add(struct config *cfg, const char *file, int line, int column,
                const char *object, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_diag_addv(cfg, file, line, column, object, path, fmt, ap);
	va_end(ap);
}

void
config_notice_addv(struct config *cfg, const char *file, int line, int column,
                   const char *object, const char *path, const char *fmt,
                   va_list ap)
{
	diags_addv(cfg, &cfg->notices, file, line, column, object, path, fmt,
	           ap);
}

void
config_notice_add(struct config *cfg, const char *file, int line, int column,
                  const char *object, const char *path, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_notice_addv(cfg, file, line, column, object, path, fmt, ap);
	va_end(ap);
}

int
config_diag_format(struct buf *out, const struct config_diag *d)
{
	if (d->line > 0)
		buf_addf(out, "%s:%d:%d: ", d->file, d->line, d->column);
	else
		buf_addf(out, "%s: ", d->file);
	if (d->object)
		buf_addf(out, "%s: ", d->object);
	if (d->path && d->path[0])
		buf_addf(out, "%s: ", d->path);
	buf_puts(out, d->message);
	return buf_ok(out);
}

size_t
config_diag_count(const struct config *cfg)
{
	return cfg->errors.n;
}

const struct config_diag *
config_diag_get(const struct config *cfg, size_t i)
{
	return i < cfg->errors.n ? &cfg->errors.v[i] : NULL;
}

size_t
config_diag_dropped(const struct config *cfg)
{
	return cfg->errors.dropped;
}

size_t
config_notice_count(const struct config *cfg)
{
	return cfg->notices.n;
}

const struct config_diag *
config_notice_get(const struct config *cfg, size_t i)
{
	return i < cfg->notices.n ? &cfg->notices.v[i] : NULL;
}

size_t
config_skipped_count(const struct config *cfg)
{
	return cfg->n_skipped;
}

const struct config_skipped *
config_skipped_get(const struct config *cfg, size_t i)
{
	return i < cfg->n_skipped ? &cfg->skipped[i] : NULL;
}

/* ---- lifecycle ---- */

int
config_new(struct config **out)
{
	struct config *cfg = calloc(1, sizeof(*cfg));

	if (cfg == NULL)
		return -ERR_NOMEM;
	*out = cfg;
	return 0;
}

/* A namespace name: an RFC 1123 label. */
static bool
namespace_ok(const char *s)
{
	size_t len = strlen(s);

	if (len == 0 || len > 63)
		return false;
	for (size_t i = 0; i < len; i++) {
		bool alnum = (s[i] >= 'a' && s[i] <= 'z') ||
		             (s[i] >= '0' && s[i] <= '9');

		if (!alnum && (s[i] != '-' || i == 0 || i == len - 1))
			return false;
	}
	return true;
}

static void
options_release(struct config *cfg)
{
	free(cfg->opts.default_namespace);
	for (size_t i = 0; i < cfg->opts.nexclude; i++)
		free(cfg->opts.exclude[i]);
	free(cfg->opts.exclude);
	if (cfg->opts.stdin_data)
		secret_wipe(cfg->opts.stdin_data, cfg->opts.stdin_len);
	free(cfg->opts.stdin_data);
	free(cfg->opts.secrets_dir);
	for (size_t i = 0; i < cfg->opts.nage_key_files; i++)
		free(cfg->opts.age_key_files[i]);
	free(cfg->opts.age_key_files);
	for (size_t i = 0; i < cfg->opts.npgp_key_files; i++)
		free(cfg->opts.pgp_key_files[i]);
	free(cfg->opts.pgp_key_files);
	memset(&cfg->opts, 0, sizeof(cfg->opts));
}

static bool
copy_list(struct config *cfg, char ***out, size_t *n, const char *const *in,
          size_t nin)
{
	if (nin == 0)
		return true;
	if ((*out = calloc(nin, sizeof(char *))) == NULL)
		return false;
	for (size_t i = 0; i < nin; i++) {
		if (((*out)[i] = config_strdup(cfg, in[i], strlen(in[i]))) ==
		    NULL)
			return false;
		(*n)++;
	}
	return true;
}

int
config_set_options(struct config *cfg, const struct config_options *o,
                   struct err *err)
{
	const char *ns = o->default_namespace;

	options_release(cfg);
	if (ns && !namespace_ok(ns))
		return err_set(err, ERR_INVALID,
		               "namespace '%s' is not a valid name (lower-case "
		               "letters, digits and '-', at most 63)",
		               ns);
	if (ns && (cfg->opts.default_namespace =
	                   config_strdup(cfg, ns, strlen(ns))) == NULL)
		goto nomem;
	if (o->nexclude) {
		cfg->opts.exclude = calloc(o->nexclude, sizeof(char *));
		if (cfg->opts.exclude == NULL)
			goto nomem;
		for (size_t i = 0; i < o->nexclude; i++) {
			const char *p = o->exclude[i];

			while (p[0] == '.' && p[1] == '/')
				p += 2;
			if ((cfg->opts.exclude[i] =
			             config_strdup(cfg, p, strlen(p))) == NULL)
				goto nomem;
			cfg->opts.nexclude++;
		}
	}
	if (o->stdin_data) {
		if ((cfg->opts.stdin_data = config_strdup(
		             cfg, o->stdin_data, o->stdin_len)) == NULL)
			goto nomem;
		cfg->opts.stdin_len = o->stdin_len;
	}
	if (o->secrets_dir &&
	    (cfg->opts.secrets_dir = config_strdup(
	             cfg, o->secrets_dir, strlen(o->secrets_dir))) == NULL)
		goto nomem;
	if (!copy_list(cfg, &cfg->opts.age_key_files, &cfg->opts.nage_key_files,
	               o->sops_age_key_files, o->nsops_age_key_files) ||
	    !copy_list(cfg, &cfg->opts.pgp_key_files, &cfg->opts.npgp_key_files,
	               o->sops_pgp_key_files, o->nsops_pgp_key_files))
		goto nomem;
	if (config_argocd_annotations(cfg, o->argocd_annotations) < 0)
		goto nomem;
	return 0;
nomem:
	options_release(cfg);
	cfg->nomem = false;
	return err_set(err, ERR_NOMEM, "out of memory");
}

const char *
config_default_namespace(const struct config *cfg)
{
	return cfg->opts.default_namespace ? cfg->opts.default_namespace
	                                   : "default";
}

static void
diags_release(struct config_diags *list)
{
	for (size_t i = 0; i < list->n; i++) {
		free((char *)list->v[i].object);
		free((char *)list->v[i].path);
		free((char *)list->v[i].message);
	}
	free(list->v);
}

void
config_free(struct config *cfg)
{
	if (cfg == NULL)
		return;
	for (int k = 0; k < CONFIG_KIND_COUNT; k++) {
		for (size_t i = 0; i < cfg->kinds[k].n; i++) {
			schema_object_release(cfg->kinds[k].v[i]);
			free(cfg->kinds[k].v[i]);
		}
		free(cfg->kinds[k].v);
	}
	diags_release(&cfg->errors);
	diags_release(&cfg->notices);
	for (size_t i = 0; i < cfg->n_skipped; i++) {
		free((char *)cfg->skipped[i].api_version);
		free((char *)cfg->skipped[i].kind);
	}
	free(cfg->skipped);
	for (size_t i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	options_release(cfg);
	config_sealed_release(cfg);
	for (size_t i = 0; i < cfg->n_markers; i++)
		free(cfg->markers[i].setter);
	free(cfg->markers);
	free(cfg->index);
	argocd_release(cfg);
	free(cfg);
}

/* ---- documents ---- */

yaml_node_t *
config_map_get(yaml_document_t *doc, yaml_node_t *n, const char *key)
{
	if (n == NULL || n->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);

		if (k && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == strlen(key) &&
		    memcmp(k->data.scalar.value, key, strlen(key)) == 0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* A scalar's text; NULL unless it is one line of printable characters. */
static const char *
scalar_str(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE)
		return NULL;
	for (size_t i = 0; i < n->data.scalar.length; i++)
		if (n->data.scalar.value[i] < 0x20 ||
		    n->data.scalar.value[i] == 0x7f)
			return NULL;
	return (const char *)n->data.scalar.value;
}

static void
skip_document(struct config *cfg, const char *file, int line,
              const char *api_version, const char *kind)
{
	struct config_skipped *s;
	char num[32];

	log_info("config", "document_skipped", "file", file, "line",
	         log_num(num, line), "kind", kind, "apiVersion", api_version);
	if (!config_reserve(cfg, (void **)&cfg->skipped, &cfg->cap_skipped,
	                    cfg->n_skipped, sizeof(*cfg->skipped)))
		return;
	s = &cfg->skipped[cfg->n_skipped];
	s->file = file;
	s->line = line;
	s->api_version = config_strdup(cfg, api_version, strlen(api_version));
	s->kind = config_strdup(cfg, kind, strlen(kind));
	if (s->api_version == NULL || s->kind == NULL) {
		free((char *)s->api_version);
		free((char *)s->kind);
		return;
	}
	cfg->n_skipped++;
}

/* Levenshtein distance of a and b, capped at cap + 1 (names are short). */
static size_t
edit_distance(const char *a, const char *b, size_t cap)
{
	size_t la = strlen(a), lb = strlen(b), prev[64], cur[64];

	if (la >= 64 || lb >= 64)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		prev[j] = j;
	for (size_t i = 1; i <= la; i++) {
		cur[0] = i;
		for (size_t j = 1; j <= lb; j++) {
			size_t sub = prev[j - 1] + (a[i - 1] != b[j - 1]);
			size_t del = prev[j] + 1, ins = cur[j - 1] + 1;

			cur[j] = sub < del ? (sub < ins ? sub : ins)
			                   : (del < ins ? del : ins);
		}
		memcpy(prev, cur, (lb + 1) * sizeof(*cur));
	}
	return prev[lb] > cap ? cap + 1 : prev[lb];
}

/* "image.toolkit.fluxcd.io/v1 or .../v1beta2" for kind k. */
static void
kind_versions(struct buf *out, int k)
{
	size_t glen = strlen(kinds[k].group);

	for (const char *const *v = kinds[k].versions; *v; v++)
		buf_addf(out, "%s%s%s%s", v == kinds[k].versions ? "" : " or ",
		         kinds[k].group, glen ? "/" : "", *v);
}

/*
 * A document whose kind is one of ferry's but whose apiVersion is not
 * that kind's: a misspelled group, another Flux group, or none at all is
 * an error (the object would silently not exist); a group of its own
 * (kustomize.config.k8s.io's Kustomization) is another kind, skipped.  A
 * kustomization file may leave apiVersion out: it is kustomize's.
 */
static bool
wrong_api_version(const char *file, int k, const char *api)
{
	const char *slash, *base = strrchr(file, '/');
	char group[128];
	size_t glen;

	base = base ? base + 1 : file;
	if (api == NULL || *api == '\0')
		return !(k == CONFIG_KUSTOMIZATION &&
		         (strcmp(base, "kustomization.yaml") == 0 ||
		          strcmp(base, "kustomization.yml") == 0 ||
		          strcmp(base, "Kustomization") == 0));
	slash = strrchr(api, '/');
	glen = slash ? (size_t)(slash - api) : 0;
	if (glen >= sizeof(group))
		return false;
	memcpy(group, api, glen);
	group[glen] = '\0';
	if (strcmp(group, kinds[k].group) == 0)
		return false; /* the version is checked by the caller */
	return str_has_suffix(group, glen, ".fluxcd.io") ||
	       edit_distance(group, kinds[k].group, 3) <= 3;
}

static void
add_document(struct config *cfg, const char *file, struct config_file_state *fs,
             yaml_document_t *doc)
{
	yaml_node_t *root = yaml_document_get_root_node(doc);
	yaml_node_t *kn, *an, *meta;
	const char *kind, *api, *slash, *name, *ns;
	struct config_object *obj = NULL;
	struct buf label = BUF_INIT;
	size_t glen;
	int k, line, col;
	bool known_version = false;

	if (root == NULL)
		return;
	line = (int)root->start_mark.line + 1;
	col = (int)root->start_mark.column + 1;
	if (root->type == YAML_SCALAR_NODE && root->data.scalar.length == 0)
		return; /* an empty document, as between two '---' */
	if (root->type != YAML_MAPPING_NODE) {
		/* an Ansible task list, a bare value: YAML, but not objects */
		if (!fs->noted_not_objects)
			config_notice_add(
			        cfg, file, line, col, NULL, "",
			        "not Kubernetes objects (the document is %s, not "
			        "a mapping with apiVersion and kind); skipped",
			        root->type == YAML_SEQUENCE_NODE ? "a list"
			                                         : "a scalar");
		fs->noted_not_objects = true;
		return;
	}
	if (!fs->decrypted && config_sealed_is(doc, root)) {
		/* SOPS: read when something needs it (config_check) */
		config_sealed_add(cfg, file, fs, doc, root);
		return;
	}
	kn = config_map_get(doc, root, "kind");
	an = config_map_get(doc, root, "apiVersion");
	kind = scalar_str(kn);
	api = scalar_str(an);
	for (k = 0; kind && k < CONFIG_KIND_COUNT; k++)
		if (strcmp(kinds[k].name, kind) == 0)
			break;
	if (kind && k < CONFIG_KIND_COUNT && wrong_api_version(file, k, api)) {
		struct buf want = BUF_INIT;

		kind_versions(&want, k);
		if (api == NULL || *api == '\0')
			config_diag_add(cfg, file, line, col, NULL,
			                "apiVersion",
			                "%s without apiVersion (use %s)", kind,
			                buf_ok(&want) ? want.ptr : "");
		else
			config_diag_add(
			        cfg, file, (int)an->start_mark.line + 1,
			        (int)an->start_mark.column + 1, NULL,
			        "apiVersion",
			        "'%s' is not an apiVersion of %s (use %s)", api,
			        kind, buf_ok(&want) ? want.ptr : "");
		buf_release(&want);
		return;
	}
	if (kind == NULL || api == NULL) {
		/* plain YAML (Helm values, a .sops.yaml) is not an object */
		skip_document(cfg, file, line, api ? api : "",
		              kind ? kind : "");
		return;
	}
	slash = strrchr(api, '/');
	glen = slash ? (size_t)(slash - api) : 0;
	if (k == CONFIG_KIND_COUNT || strlen(kinds[k].group) != glen ||
	    memcmp(kinds[k].group, api, glen) != 0) {
		/* an ExternalSecret makes a Secret in the cluster: the
		 * message for a missing Secret names it; Argo CD's
		 * ConfigMap is taken by core/config/argocd.c */
		if (!argocd_document_take(cfg, file, doc, root, api, kind)) {
			config_creator_note(cfg, file, doc, root, api, kind);
			skip_document(cfg, file, line, api, kind);
		}
		return;
	}
	for (const char *const *v = kinds[k].versions; *v; v++)
		if (strcmp(*v, slash ? slash + 1 : api) == 0)
			known_version = true;
	meta = config_map_get(doc, root, "metadata");
	name = scalar_str(config_map_get(doc, meta, "name"));
	ns = scalar_str(config_map_get(doc, meta, "namespace"));
	buf_addf(&label, "%s %s/%s", kind,
	         ns && *ns ? ns : config_default_namespace(cfg),
	         name && *name ? name : "(no name)");
	if (!known_version) {
		/* the version Flux serves today: the first; older ones are
		 * read with a notice, never suggested */
		config_diag_add(cfg, file, (int)an->start_mark.line + 1,
		                (int)an->start_mark.column + 1,
		                buf_ok(&label) ? label.ptr : NULL, "apiVersion",
		                "%s '%s' is not supported (use %s%s%s)", kind,
		                api, kinds[k].group, glen ? "/" : "",
		                kinds[k].versions[0]);
		goto out;
	}
	if (strcmp(api, "image.toolkit.fluxcd.io/v1beta2") == 0)
		config_notice_add(
		        cfg, file, (int)an->start_mark.line + 1,
		        (int)an->start_mark.column + 1,
		        buf_ok(&label) ? label.ptr : NULL, "apiVersion",
		        "image.toolkit.fluxcd.io/v1beta2 is no longer served by "
		        "Flux (image-reflector-controller and "
		        "image-automation-controller v1.2 removed it); ferry "
		        "still reads it: change it to image.toolkit.fluxcd.io/v1, "
		        "the fields are the same");
	if (++cfg->n_documents > CONFIG_MAX_DOCUMENTS) {
		if (cfg->n_documents == CONFIG_MAX_DOCUMENTS + 1)
			config_diag_add(
			        cfg, file, line, col, NULL, "",
			        "more than %d objects; the rest are not read",
			        CONFIG_MAX_DOCUMENTS);
		goto out;
	}
	obj = calloc(1, sizeof(*obj));
	if (obj == NULL || !buf_ok(&label)) {
		cfg->nomem = true;
		goto out;
	}
	obj->kind = (enum config_kind)k;
	obj->file = file;
	obj->line = line;
	obj->column = col;
	obj->api_version = config_strdup(cfg, api, strlen(api));
	schema_decode(cfg, doc, root, obj, label.ptr);
	if (!config_reserve(cfg, (void **)&cfg->kinds[k].v, &cfg->kinds[k].cap,
	                    cfg->kinds[k].n, sizeof(obj)))
		goto out;
	cfg->kinds[k].v[cfg->kinds[k].n++] = obj;
	if (log_enabled(LOG_DEBUG)) {
		char num[32];

		log_debug("config", "object_loaded", "file", file, "line",
		          log_num(num, line), "kind", kind, "namespace",
		          obj->metadata.namespace, "name", obj->metadata.name);
	}
	obj = NULL;
out:
	if (obj) {
		schema_object_release(obj);
		free(obj);
	}
	buf_release(&label);
}

/* Overwrites every scalar of a document: Secret values must not linger. */
static void
wipe_document(yaml_document_t *doc)
{
	for (yaml_node_t *n = doc->nodes.start; n < doc->nodes.top; n++)
		if (n->type == YAML_SCALAR_NODE && n->data.scalar.value)
			secret_wipe(n->data.scalar.value,
			            n->data.scalar.length);
}

static void
wipe_parser(yaml_parser_t *p)
{
	if (p->buffer.start && p->buffer.end > p->buffer.start)
		secret_wipe(p->buffer.start,
		            (size_t)(p->buffer.end - p->buffer.start));
	if (p->raw_buffer.start && p->raw_buffer.end > p->raw_buffer.start)
		secret_wipe(p->raw_buffer.start,
		            (size_t)(p->raw_buffer.end - p->raw_buffer.start));
}

/*
 * libyaml builds a whole document in memory and has no nesting limit, so a
 * file of 16 MiB of '[' would become millions of nodes.  A first pass over
 * the events (constant memory) finds how many documents stay within
 * CONFIG_MAX_DEPTH and CONFIG_MAX_NODES; the loading pass stops there.
 */
struct prescan {
	size_t ok_documents; /* documents entirely within the limits */
	bool over;           /* a limit was hit in document ok_documents */
	yaml_mark_t mark;    /* where */
	const char *what;
	/* A mapping or list used as a mapping key: what "name: {{ .Name }}"
	 * parses to.  No Kubernetes object has one. */
	bool collection_key;
	yaml_mark_t key_mark;
};

/*
 * Where the event stream is inside each open collection: in a mapping,
 * whether the next node is a key.  Bits past CONFIG_MAX_DEPTH are not
 * needed: the prescan stops there.
 */
struct key_track {
	uint64_t is_map, want_key;
	size_t depth;
};

static void
key_track_node(struct key_track *t, struct prescan *ps, const yaml_event_t *ev,
               bool collection)
{
	uint64_t bit;

	if (t->depth == 0 || t->depth > 64)
		return;
	bit = (uint64_t)1 << (t->depth - 1);
	if (!(t->is_map & bit))
		return;
	if ((t->want_key & bit) && collection && !ps->collection_key) {
		ps->collection_key = true;
		ps->key_mark = ev->start_mark;
	}
	t->want_key ^= bit;
}

static void
prescan(struct prescan *ps, const char *data, size_t len)
{
	yaml_parser_t parser;
	size_t depth = 0, nodes = 0, anchors = 0, aliases = 0;
	struct key_track kt = { 0, 0, 0 };
	bool done = false;

	memset(ps, 0, sizeof(*ps));
	if (!yaml_parser_initialize(&parser))
		return;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	while (!done) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&parser, &ev))
			break; /* the loading pass reports the syntax error */
		/* libyaml's loader looks every anchor up by a linear search
		 * (to refuse duplicates, and for each alias): both counts are
		 * bounded so that a file of anchors and aliases costs
		 * milliseconds, not minutes. */
		if ((ev.type == YAML_SCALAR_EVENT && ev.data.scalar.anchor) ||
		    (ev.type == YAML_SEQUENCE_START_EVENT &&
		     ev.data.sequence_start.anchor) ||
		    (ev.type == YAML_MAPPING_START_EVENT &&
		     ev.data.mapping_start.anchor)) {
			if (++anchors > CONFIG_MAX_ANCHORS && !ps->over) {
				ps->what = "more YAML anchors than the limit";
				ps->over = true;
			}
		}
		if (ev.type == YAML_ALIAS_EVENT &&
		    ++aliases > CONFIG_MAX_ALIASES && !ps->over) {
			ps->what = "more YAML aliases than the limit";
			ps->over = true;
		}
		switch (ev.type) {
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			key_track_node(&kt, ps, &ev, false);
			break;
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			key_track_node(&kt, ps, &ev, true);
			if (++kt.depth <= 64) {
				uint64_t bit = (uint64_t)1 << (kt.depth - 1);

				kt.is_map &= ~bit;
				kt.want_key &= ~bit;
				if (ev.type == YAML_MAPPING_START_EVENT)
					kt.is_map |= bit, kt.want_key |= bit;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			if (kt.depth > 0)
				kt.depth--;
			break;
		default:
			break;
		}
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CONFIG_MAX_DEPTH) {
				ps->what = "nesting deeper than the limit";
				ps->over = true;
			}
			/* fall through */
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
			if (++nodes > CONFIG_MAX_NODES && !ps->over) {
				ps->what = "more YAML nodes than the limit";
				ps->over = true;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_DOCUMENT_END_EVENT:
			ps->ok_documents++;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		if (ps->over) {
			ps->mark = ev.start_mark;
			done = true;
		}
		yaml_event_delete(&ev);
	}
	wipe_parser(&parser);
	yaml_parser_delete(&parser);
}

size_t
config_byte_offset(const char *data, size_t len, size_t idx)
{
	struct utf8_index x;

	utf8_index_init(&x, data, len);
	return utf8_index_offset(&x, idx);
}

/* The line and column (0-based, columns in characters) of byte off. */
static void
offset_mark(yaml_mark_t *out, const char *data, size_t len, size_t off)
{
	size_t line = 0, col = 0;

	if (off > len)
		off = len;
	for (size_t i = 0; i < off; i++) {
		if (data[i] == '\n') {
			line++;
			col = 0;
		} else if (((unsigned char)data[i] & 0xC0) != 0x80) {
			col++;
		}
	}
	out->index = off;
	out->line = line;
	out->column = col;
}

/*
 * The setter markers of a file, by its bytes (libyaml drops comments):
 * a comment, at the start of a line or after a blank, that is exactly a
 * marker (writeback/setters.h's grammar).
 */
static void
find_markers(struct config *cfg, const char *file, const char *data, size_t len)
{
	const char *p = data, *end = data + len;

	while ((p = memmem(p, (size_t)(end - p), "\"$imagepolicy\"", 14))) {
		const char *ls = p, *le = p, *hash = NULL, *c, *ce;
		char setter[SETTERS_MAX_NAME];
		struct config_marker *m;
		int line = 1, col = 1;

		while (ls > data && ls[-1] != '\n')
			ls--;
		while (le < end && *le != '\n')
			le++;
		for (const char *q = p; q > ls; q--)
			if (q[-1] == '#' &&
			    (q - 1 == ls || q[-2] == ' ' || q[-2] == '\t')) {
				hash = q - 1;
				break;
			}
		p = le;
		if (hash == NULL)
			continue;
		c = hash + 1;
		ce = le;
		while (c < ce && (*c == ' ' || *c == '\t'))
			c++;
		while (ce > c &&
		       (ce[-1] == ' ' || ce[-1] == '\t' || ce[-1] == '\r'))
			ce--;
		if (!setters_marker_parse(c, (size_t)(ce - c), setter))
			continue;
		for (const char *q = data; q < ls; q++)
			line += *q == '\n';
		for (const char *q = ls; q < hash; q++)
			col += ((unsigned char)*q & 0xC0) != 0x80;
		if (!config_reserve(cfg, (void **)&cfg->markers,
		                    &cfg->cap_markers, cfg->n_markers,
		                    sizeof(*cfg->markers)))
			return;
		m = &cfg->markers[cfg->n_markers];
		m->file = file;
		m->line = line;
		m->column = col;
		if ((m->setter = config_strdup(cfg, setter, strlen(setter))) ==
		    NULL)
			return;
		cfg->n_markers++;
	}
}

/*
 * Reads the documents of data[0..len) as file: all of them, or (want set)
 * those want() accepts, from text SOPS decrypted.
 */
static int
read_buffer(struct config *cfg, const char *name, const char *data, size_t len,
            config_want_fn want, void *payload, struct err *err)
{
	yaml_parser_t parser;
	struct prescan ps;
	struct config_file_state fs;
	const char *file;

	memset(&fs, 0, sizeof(fs));
	fs.data = data;
	fs.len = len;
	fs.decrypted = want != NULL;
	cfg->checked = false;
	if ((file = config_intern_file(cfg, name)) == NULL)
		goto nomem;
	if (want == NULL)
		find_markers(cfg, file, data, len);
	prescan(&ps, data, len);
	if (!yaml_parser_initialize(&parser))
		goto nomem;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
	if (ps.collection_key && memmem(data, len, "{{", 2) != NULL) {
		/* "name: {{ .Name }}" is YAML, but a template's */
		config_notice_add(
		        cfg, file, (int)ps.key_mark.line + 1,
		        (int)ps.key_mark.column + 1, NULL, "",
		        "a template, not YAML objects ('{{' read as a "
		        "mapping key); not read");
		goto done;
	}
	for (size_t i = 0;; i++) {
		yaml_document_t doc;
		bool end;

		if (ps.over && i == ps.ok_documents) {
			config_diag_add(
			        cfg, file, (int)ps.mark.line + 1,
			        (int)ps.mark.column + 1, NULL, "",
			        "%s (%d levels, %d nodes, %d anchors, %d aliases per file); the rest of this file is not read",
			        ps.what, CONFIG_MAX_DEPTH, CONFIG_MAX_NODES,
			        CONFIG_MAX_ANCHORS, CONFIG_MAX_ALIASES);
			break;
		}
		if (!yaml_parser_load(&parser, &doc)) {
			char where[96] = "";

			/* libyaml's messages are fixed strings: no input */
			if (parser.context)
				snprintf(where, sizeof(where),
				         " %s at line %d column %d",
				         parser.context,
				         (int)parser.context_mark.line + 1,
				         (int)parser.context_mark.column + 1);
			yaml_mark_t at = parser.problem_mark;
			/* A reader error (bad UTF-8, a control character) has
			 * only a byte offset: find its line and column. */
			if (parser.error == YAML_READER_ERROR)
				offset_mark(&at, data, len,
				            parser.problem_offset);
			if (parser.error != YAML_MEMORY_ERROR &&
			    memmem(data, len, "{{", 2) != NULL) {
				/* Helm, Go or Jinja templates are not YAML
				 * until rendered: not ferry's to read */
				config_notice_add(
				        cfg, file, (int)at.line + 1,
				        (int)at.column + 1, NULL, "",
				        "a template, not YAML ('{{' and a YAML "
				        "syntax error: %s); not read",
				        parser.problem ? parser.problem
				                       : "unknown");
				break;
			}
			config_diag_add(
			        cfg, file, (int)at.line + 1, (int)at.column + 1,
			        NULL, "",
			        "YAML syntax error: %s%s (the rest of this file is not read)",
			        parser.problem ? parser.problem : "unknown",
			        where);
			if (parser.error == YAML_MEMORY_ERROR)
				cfg->nomem = true;
			break;
		}
		end = yaml_document_get_root_node(&doc) == NULL;
		fs.doc = i;
		fs.start = doc.start_mark.index;
		fs.end = doc.end_mark.index;
		fs.line = (int)doc.start_mark.line;
		if (!end && (want == NULL || want(cfg, i, &doc, payload)))
			add_document(cfg, file, &fs, &doc);
		wipe_document(&doc);
		yaml_document_delete(&doc);
		if (end || cfg->nomem)
			break;
	}
done:
	wipe_parser(&parser);
	yaml_parser_delete(&parser);
	if (cfg->nomem)
		goto nomem;
	return 0;
nomem:
	return err_set(err, ERR_NOMEM, "out of memory reading '%s'", name);
}

int
config_add_buffer(struct config *cfg, const char *name, const char *data,
                  size_t len, struct err *err)
{
	return read_buffer(cfg, name, data, len, NULL, NULL, err);
}

int
config_read_decrypted(struct config *cfg, const char *file, const char *data,
                      size_t len, config_want_fn want, void *payload,
                      struct err *err)
{
	return read_buffer(cfg, file, data, len, want, payload, err);
}

static int
add_file(struct config *cfg, const char *path, struct err *err)
{
	struct buf data = BUF_INIT;
	struct err e = ERR_INIT;
	int rc = 0;

	if (++cfg->n_files_read > CONFIG_MAX_FILES) {
		if (cfg->n_files_read == CONFIG_MAX_FILES + 1)
			config_diag_add(
			        cfg, path, 0, 0, NULL, "",
			        "more than %d files; the rest are not read",
			        CONFIG_MAX_FILES);
		return 0;
	}
	if (file_read(&data, path, &e) < 0) {
		if (e.code == ERR_NOMEM && !buf_ok(&data))
			rc = err_set(err, ERR_NOMEM,
			             "out of memory reading '%s'", path);
		else
			config_diag_add(cfg, path, 0, 0, NULL, "", "%s", e.msg);
		goto out;
	}
	if (data.len > CONFIG_MAX_FILE_SIZE) {
		config_diag_add(cfg, path, 0, 0, NULL, "",
		                "file is larger than %zu bytes; not read",
		                CONFIG_MAX_FILE_SIZE);
		goto out;
	}
	rc = config_add_buffer(cfg, path, data.ptr, data.len, err);
out:
	if (data.ptr)
		secret_wipe(data.ptr, data.len);
	buf_release(&data);
	return rc;
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The directories being walked, innermost first: a symlink to one of
 * them would loop. */
struct dir_chain {
	dev_t dev;
	ino_t ino;
	const struct dir_chain *up;
};

/*
 * Whether rel (the path below the directory given, "a/b/c.yaml") is
 * excluded: a pattern without '/' matches its last name, one with '/'
 * the whole relative path.
 */
static bool
excluded(const struct config *cfg, const char *rel, const char *name)
{
	for (size_t i = 0; i < cfg->opts.nexclude; i++) {
		const char *p = cfg->opts.exclude[i];

		if (strchr(p, '/') ? fnmatch(p, rel, FNM_PATHNAME) == 0
		                   : fnmatch(p, name, 0) == 0)
			return true;
	}
	return false;
}

/*
 * A Helm chart's templates/ (a directory of that name beside Chart.yaml)
 * holds Go templates, not YAML: one notice for the directory, nothing
 * read.  (A template that happens to parse would otherwise be read as
 * objects with '{{ .Values.x }}' for names.)
 */
static bool
helm_templates(struct config *cfg, const char *dir, const char *name,
               const char *path)
{
	struct buf chart = BUF_INIT;
	struct stat st;
	bool yes;

	if (strcmp(name, "templates") != 0)
		return false;
	buf_addf(&chart, "%s%sChart.yaml", dir,
	         str_has_suffix(dir, strlen(dir), "/") ? "" : "/");
	yes = buf_ok(&chart) && stat(chart.ptr, &st) == 0 &&
	      S_ISREG(st.st_mode);
	buf_release(&chart);
	if (yes)
		config_notice_add(
		        cfg, path, 0, 0, NULL, "",
		        "the templates of a Helm chart, not YAML until "
		        "rendered; not read");
	return yes;
}

static int
add_dir(struct config *cfg, const char *path, size_t root_len,
        const struct dir_chain *up, int depth, struct err *err)
{
	struct dir_chain here;
	struct stat self;
	DIR *d = NULL;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	if (depth > CONFIG_MAX_DIR_DEPTH) {
		config_diag_add(cfg, path, 0, 0, NULL, "",
		                "directories nested deeper than %d; not read",
		                CONFIG_MAX_DIR_DEPTH);
		return 0;
	}
	if (stat(path, &self) < 0 || (d = opendir(path)) == NULL) {
		config_diag_add(cfg, path, 0, 0, NULL, "",
		                "cannot read directory: %s", strerror(errno));
		return 0;
	}
	for (const struct dir_chain *c = up; c; c = c->up)
		if (c->dev == self.st_dev && c->ino == self.st_ino) {
			closedir(d);
			return 0; /* a symlink back up the tree */
		}
	here.dev = self.st_dev;
	here.ino = self.st_ino;
	here.up = up;
	while ((de = readdir(d)) != NULL) {
		char *copy;

		if (de->d_name[0] == '.')
			continue; /* ., .., .git, editor files */
		if (!config_reserve(cfg, (void **)&names, &cap, n,
		                    sizeof(char *)) ||
		    (copy = config_strdup(cfg, de->d_name,
		                          strlen(de->d_name))) == NULL)
			goto nomem;
		names[n++] = copy;
	}
	/* sorted, so that diagnostics come in the same order every run */
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct buf child = BUF_INIT;
		struct stat st;
		size_t nl = strlen(names[i]);
		const char *rel;

		buf_addf(&child, "%s%s%s", path,
		         str_has_suffix(path, strlen(path), "/") ? "" : "/",
		         names[i]);
		if (!buf_ok(&child)) {
			buf_release(&child);
			goto nomem;
		}
		rel = child.ptr + root_len;
		while (*rel == '/')
			rel++;
		if (excluded(cfg, rel, names[i])) {
			/* --exclude: as if it were not there */
		} else if (stat(child.ptr, &st) < 0) {
			/* a dangling symlink: not a YAML file we can read */
		} else if (S_ISDIR(st.st_mode)) {
			if (!helm_templates(cfg, path, names[i], child.ptr))
				rc = add_dir(cfg, child.ptr, root_len, &here,
				             depth + 1, err);
		} else if (S_ISREG(st.st_mode) &&
		           (str_has_suffix(names[i], nl, ".yaml") ||
		            str_has_suffix(names[i], nl, ".yml"))) {
			rc = add_file(cfg, child.ptr, err);
		}
		buf_release(&child);
	}
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory reading '%s'", path);
out:
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	closedir(d);
	return rc;
}

int
config_add_path(struct config *cfg, const char *path, struct err *err)
{
	struct stat st;

	cfg->checked = false;
	if (strcmp(path, "-") == 0 && cfg->opts.stdin_data)
		return config_add_buffer(cfg, "<stdin>", cfg->opts.stdin_data,
		                         cfg->opts.stdin_len, err);
	if (stat(path, &st) < 0) {
		config_diag_add(cfg, path, 0, 0, NULL, "", "%s",
		                errno == ENOENT ? "no such file or directory"
		                                : strerror(errno));
		return cfg->nomem ? err_set(err, ERR_NOMEM, "out of memory")
		                  : 0;
	}
	if (S_ISDIR(st.st_mode))
		return add_dir(cfg, path, strlen(path), NULL, 0, err);
	return add_file(cfg, path, err);
}

/* ---- the index and cross-object checks ---- */

static int
key_cmp(const struct config_object *a, enum config_kind kind, const char *ns,
        const char *name)
{
	int c;

	if (a->kind != kind)
		return a->kind < kind ? -1 : 1;
	if ((c = strcmp(a->metadata.namespace ? a->metadata.namespace : "",
	                ns)) != 0)
		return c;
	return strcmp(a->metadata.name ? a->metadata.name : "", name);
}

struct seq_obj {
	struct config_object *obj;
	size_t seq;
};

static int
obj_cmp(const void *pa, const void *pb)
{
	const struct seq_obj *a = pa, *b = pb;
	int c = key_cmp(a->obj, b->obj->kind,
	                b->obj->metadata.namespace ? b->obj->metadata.namespace
	                                           : "",
	                b->obj->metadata.name ? b->obj->metadata.name : "");

	if (c)
		return c;
	return a->seq < b->seq ? -1 : a->seq > b->seq;
}

static void
obj_label(struct buf *b, const struct config_object *o)
{
	buf_addf(b, "%s %s/%s", config_kind_name(o->kind),
	         o->metadata.namespace ? o->metadata.namespace : "",
	         o->metadata.name ? o->metadata.name : "(no name)");
}

static void __attribute__((format(printf, 5, 6)))
obj_diag(struct config *cfg, const struct config_object *o,
         const struct config_pos *pos, const char *path, const char *fmt, ...)
{
	struct buf label = BUF_INIT;
	va_list ap;

	obj_label(&label, o);
	va_start(ap, fmt);
	config_diag_addv(cfg, o->file, pos && pos->set ? pos->line : o->line,
	                 pos && pos->set ? pos->column : o->column,
	                 buf_ok(&label) ? label.ptr : NULL, path, fmt, ap);
	va_end(ap);
	buf_release(&label);
}

static int
build_index(struct config *cfg)
{
	struct seq_obj *tmp;
	size_t n = 0;

	for (int k = 0; k < CONFIG_KIND_COUNT; k++)
		n += cfg->kinds[k].n;
	free(cfg->index);
	cfg->index = NULL;
	cfg->n_index = 0;
	tmp = calloc(n ? n : 1, sizeof(*tmp));
	cfg->index = calloc(n ? n : 1, sizeof(*cfg->index));
	if (tmp == NULL || cfg->index == NULL) {
		free(tmp);
		cfg->nomem = true;
		return -ERR_NOMEM;
	}
	n = 0;
	for (int k = 0; k < CONFIG_KIND_COUNT; k++)
		for (size_t i = 0; i < cfg->kinds[k].n; i++, n++) {
			tmp[n].obj = cfg->kinds[k].v[i];
			tmp[n].seq = n;
		}
	qsort(tmp, n, sizeof(*tmp), obj_cmp);
	for (size_t i = 0; i < n; i++)
		cfg->index[i] = tmp[i].obj;
	cfg->n_index = n;
	free(tmp);
	return 0;
}

static void
check_duplicates(struct config *cfg)
{
	for (size_t i = 1; i < cfg->n_index; i++) {
		struct config_object *a = cfg->index[i - 1], *b = cfg->index[i];
		size_t first = i - 1;

		if (!a->metadata.name || !b->metadata.name ||
		    key_cmp(a, b->kind, b->metadata.namespace,
		            b->metadata.name) != 0)
			continue;
		/* report against the first definition of the run */
		while (first > 0 &&
		       key_cmp(cfg->index[first - 1], b->kind,
		               b->metadata.namespace, b->metadata.name) == 0)
			first--;
		a = cfg->index[first];
		obj_diag(cfg, b, NULL, "metadata.name",
		         "duplicate: %s %s/%s is already defined at %s:%d:%d",
		         config_kind_name(b->kind), b->metadata.namespace,
		         b->metadata.name, a->file, a->line, a->column);
	}
}

static void
check_secret_ref(struct config *cfg, const struct config_object *o,
                 const struct config_local_ref *ref, const char *path,
                 void *payload)
{
	struct buf hint = BUF_INIT;

	(void)payload;
	if (!ref->pos.set || ref->name == NULL || o->metadata.namespace == NULL)
		return;
	if (config_find(cfg, CONFIG_SECRET, o->metadata.namespace, ref->name))
		return;
	for (size_t i = 0; i < cfg->n_sealed; i++)
		if (cfg->sealed[i].state == CONFIG_SEALED_FAILED &&
		    cfg->sealed[i].name && cfg->sealed[i].namespace &&
		    strcmp(cfg->sealed[i].name, ref->name) == 0 &&
		    strcmp(cfg->sealed[i].namespace, o->metadata.namespace) ==
		            0)
			return; /* its decryption error says why */
	config_secret_missing_hint(&hint, cfg, o->metadata.namespace,
	                           ref->name);
	obj_diag(cfg, o, &ref->pos, path, "Secret '%s/%s' not found (%s)",
	         o->metadata.namespace, ref->name,
	         buf_ok(&hint) ? hint.ptr : "");
	buf_release(&hint);
}

/*
 * An ImageRepository's secretRef names a docker-registry Secret: its
 * .dockerconfigjson must be there and be a JSON object, or every scan
 * would fail with it.  The message never quotes the value.
 */
static void
check_dockerconfig(struct config *cfg, const struct config_object *o,
                   const struct config_local_ref *ref, const char *path)
{
	const struct config_object *sec;
	const struct secret *v;
	struct err e = ERR_INIT;
	cJSON *doc = NULL;

	if (!ref->pos.set || ref->name == NULL || o->metadata.namespace == NULL)
		return;
	sec = config_find(cfg, CONFIG_SECRET, o->metadata.namespace, ref->name);
	if (sec == NULL)
		return; /* check_secret_ref says so */
	v = config_secret_value(sec, ".dockerconfigjson");
	if (v == NULL) {
		obj_diag(
		        cfg, o, &ref->pos, path,
		        "Secret '%s/%s' has no '.dockerconfigjson' key (make it "
		        "with 'kubectl create secret docker-registry')",
		        o->metadata.namespace, ref->name);
		return;
	}
	if (json_parse(&doc, (const char *)v->ptr, v->len, ".dockerconfigjson",
	               &e) < 0 ||
	    !cJSON_IsObject(doc))
		obj_diag(cfg, o, &ref->pos, path,
		         "Secret '%s/%s': %s (a Docker config.json document is "
		         "expected: {\"auths\": {...}})",
		         o->metadata.namespace, ref->name,
		         doc ? ".dockerconfigjson is not a JSON object"
		             : e.msg);
	cJSON_Delete(doc);
}

static void
check_cross_ref(struct config *cfg, const struct config_object *o,
                const struct config_cross_ref *ref, enum config_kind kind,
                const char *path)
{
	if (!ref->pos.set || ref->name == NULL || ref->namespace == NULL)
		return;
	if (config_find(cfg, kind, ref->namespace, ref->name))
		return;
	obj_diag(
	        cfg, o, &ref->pos, path,
	        "%s '%s/%s' not found (add it to the files given, or fix the name)",
	        config_kind_name(kind), ref->namespace, ref->name);
}

/*
 * A GitRepository's provider aws, azure or github authenticates with a
 * cloud identity or a GitHub App, which ferry does not do.  When an
 * automation clones it, that is an error (the clone would fail to
 * authenticate); otherwise ferry never uses it, and a notice says so.
 */
static void
check_git_provider(struct config *cfg, const struct config_object *g)
{
	const struct config_gitrepository *gr = &g->u.gitrepository;
	const struct config_vec *a = &cfg->kinds[CONFIG_IMAGEUPDATEAUTOMATION];
	struct buf label = BUF_INIT;

	if (gr->provider == NULL || strcmp(gr->provider, "generic") == 0)
		return;
	obj_label(&label, g);
	for (size_t i = 0; i < a->n; i++) {
		if (config_source_gitrepository(cfg, a->v[i]) != g)
			continue;
		obj_diag(
		        cfg, g, &gr->pos, "spec.provider",
		        "provider '%s' is not supported, and ImageUpdateAutomation "
		        "'%s/%s' clones this repository: use provider: generic "
		        "with a secretRef holding username and password (a "
		        "token) or an SSH identity",
		        gr->provider, a->v[i]->metadata.namespace,
		        a->v[i]->metadata.name);
		buf_release(&label);
		return;
	}
	config_notice_add(cfg, g->file, gr->pos.set ? gr->pos.line : g->line,
	                  gr->pos.set ? gr->pos.column : g->column,
	                  buf_ok(&label) ? label.ptr : NULL, "spec.provider",
	                  "accepted, not acted on: ferry authenticates to Git "
	                  "with the secretRef only (no automation clones this "
	                  "repository)");
	buf_release(&label);
}

/* The Secret references of one object. */
static void
object_secret_refs(struct config *cfg, const struct config_object *o,
                   config_ref_fn fn, void *payload)
{
	switch (o->kind) {
	case CONFIG_GITREPOSITORY: {
		const struct config_gitrepository *g = &o->u.gitrepository;

		fn(cfg, o, &g->secret_ref, "spec.secretRef.name", payload);
		fn(cfg, o, &g->proxy_secret_ref, "spec.proxySecretRef.name",
		   payload);
		fn(cfg, o, &g->verify.secret_ref, "spec.verify.secretRef.name",
		   payload);
		break;
	}
	case CONFIG_IMAGEREPOSITORY: {
		const struct config_imagerepository *r = &o->u.imagerepository;

		fn(cfg, o, &r->secret_ref, "spec.secretRef.name", payload);
		fn(cfg, o, &r->cert_secret_ref, "spec.certSecretRef.name",
		   payload);
		fn(cfg, o, &r->proxy_secret_ref, "spec.proxySecretRef.name",
		   payload);
		break;
	}
	case CONFIG_IMAGEUPDATEAUTOMATION:
		fn(cfg, o,
		   &o->u.imageupdateautomation.git.commit.signing_key
		            .secret_ref,
		   "spec.git.commit.signingKey.secretRef.name", payload);
		break;
	case CONFIG_RECEIVER:
		fn(cfg, o, &o->u.receiver.secret_ref, "spec.secretRef.name",
		   payload);
		break;
	case CONFIG_PROVIDER: {
		const struct config_provider *p = &o->u.provider;

		fn(cfg, o, &p->secret_ref, "spec.secretRef.name", payload);
		fn(cfg, o, &p->cert_secret_ref, "spec.certSecretRef.name",
		   payload);
		fn(cfg, o, &p->proxy_secret_ref, "spec.proxySecretRef.name",
		   payload);
		break;
	}
	case CONFIG_KUSTOMIZATION: {
		const struct config_kustomization *k = &o->u.kustomization;
		struct config_local_ref kube = {
			k->kube_config.secret_ref.pos,
			k->kube_config.secret_ref.name
		};

		fn(cfg, o, &k->decryption.secret_ref,
		   "spec.decryption.secretRef.name", payload);
		fn(cfg, o, &kube, "spec.kubeConfig.secretRef.name", payload);
		break;
	}
	default:
		break;
	}
}

void
config_secret_refs(struct config *cfg, config_ref_fn fn, void *payload)
{
	for (int k = 0; k < CONFIG_KIND_COUNT; k++)
		for (size_t i = 0; i < cfg->kinds[k].n; i++)
			object_secret_refs(cfg, cfg->kinds[k].v[i], fn,
			                   payload);
}

/* A Provider's Secrets, and an Alert's Provider (same namespace). */
static void
check_notification_refs(struct config *cfg)
{
	struct config_vec *v = &cfg->kinds[CONFIG_PROVIDER];

	for (size_t i = 0; i < v->n; i++) {
		struct config_provider *p = &v->v[i]->u.provider;

		object_secret_refs(cfg, v->v[i], check_secret_ref, NULL);
		/* Flux sends nothing, silently, without an address. */
		if (p->address == NULL &&
		    config_secret_value(
		            config_secret_for(cfg, v->v[i], &p->secret_ref),
		            "address") == NULL)
			obj_diag(cfg, v->v[i], &p->pos, "spec.address",
			         "required: give spec.address, or an 'address' "
			         "key in the Secret of spec.secretRef");
	}
	v = &cfg->kinds[CONFIG_ALERT];
	for (size_t i = 0; i < v->n; i++) {
		const struct config_object *a = v->v[i];
		const struct config_local_ref *r = &a->u.alert.provider_ref;

		if (!r->pos.set || r->name == NULL ||
		    config_alert_provider(cfg, a) != NULL)
			continue;
		obj_diag(cfg, a, &r->pos, "spec.providerRef.name",
		         "Provider '%s/%s' not found (add it to the files "
		         "given, or fix the name)",
		         a->metadata.namespace, r->name);
	}
}

static void
check_references(struct config *cfg)
{
	struct config_vec *v;

	v = &cfg->kinds[CONFIG_GITREPOSITORY];
	for (size_t i = 0; i < v->n; i++) {
		check_git_provider(cfg, v->v[i]);
		object_secret_refs(cfg, v->v[i], check_secret_ref, NULL);
	}
	v = &cfg->kinds[CONFIG_IMAGEREPOSITORY];
	for (size_t i = 0; i < v->n; i++) {
		object_secret_refs(cfg, v->v[i], check_secret_ref, NULL);
		check_dockerconfig(cfg, v->v[i],
		                   &v->v[i]->u.imagerepository.secret_ref,
		                   "spec.secretRef.name");
	}
	v = &cfg->kinds[CONFIG_IMAGEPOLICY];
	for (size_t i = 0; i < v->n; i++) {
		const struct config_object *p = v->v[i], *r;
		const struct config_cross_ref *ref =
		        &p->u.imagepolicy.image_repository_ref;

		check_cross_ref(cfg, p, ref, CONFIG_IMAGEREPOSITORY,
		                "spec.imageRepositoryRef.name");
		/*
		 * Flux denies a policy in another namespace unless the
		 * repository opens itself with accessFrom.  Its namespace
		 * selectors match Namespace labels, which ferry does not
		 * have, so any accessFrom counts as allowing.
		 */
		r = config_policy_repository(cfg, p);
		if (r && p->metadata.namespace &&
		    strcmp(r->metadata.namespace, p->metadata.namespace) != 0 &&
		    !r->u.imagerepository.access_from.pos.set)
			obj_diag(
			        cfg, p, &ref->pos, "spec.imageRepositoryRef",
			        "ImageRepository '%s/%s' does not allow policies from namespace '%s' (set its spec.accessFrom.namespaceSelectors)",
			        r->metadata.namespace, r->metadata.name,
			        p->metadata.namespace);
	}
	v = &cfg->kinds[CONFIG_IMAGEUPDATEAUTOMATION];
	for (size_t i = 0; i < v->n; i++) {
		check_cross_ref(cfg, v->v[i],
		                &v->v[i]->u.imageupdateautomation.source_ref,
		                CONFIG_GITREPOSITORY, "spec.sourceRef.name");
		object_secret_refs(cfg, v->v[i], check_secret_ref, NULL);
	}
	v = &cfg->kinds[CONFIG_RECEIVER];
	for (size_t i = 0; i < v->n; i++)
		object_secret_refs(cfg, v->v[i], check_secret_ref, NULL);
	v = &cfg->kinds[CONFIG_KUSTOMIZATION];
	for (size_t i = 0; i < v->n; i++) {
		struct config_kustomization *k = &v->v[i]->u.kustomization;

		if (k->source_ref.kind &&
		    strcmp(k->source_ref.kind, "GitRepository") == 0)
			check_cross_ref(cfg, v->v[i], &k->source_ref,
			                CONFIG_GITREPOSITORY,
			                "spec.sourceRef.name");
		object_secret_refs(cfg, v->v[i], check_secret_ref, NULL);
	}
}

/*
 * A marker whose policy is not in the files is never updated: Flux
 * ignores it without a word.  Say so, with the policy it may have meant.
 */
static void
check_markers(struct config *cfg)
{
	const struct config_vec *pv = &cfg->kinds[CONFIG_IMAGEPOLICY];

	for (size_t i = 0; i < cfg->n_markers; i++) {
		const struct config_marker *m = &cfg->markers[i];
		char ns[SETTERS_MAX_NAME], *name, *suffix;
		const struct config_object *near = NULL;

		memcpy(ns, m->setter, strlen(m->setter) + 1);
		name = strchr(ns, ':');
		if (name == NULL) {
			config_notice_add(
			        cfg, m->file, m->line, m->column, NULL, "",
			        "setter '%s' is not NAMESPACE:NAME; Flux "
			        "ignores it and so does ferry",
			        m->setter);
			continue;
		}
		*name++ = '\0';
		suffix = strchr(name, ':');
		if (suffix)
			*suffix++ = '\0';
		if (suffix && strcmp(suffix, "tag") != 0 &&
		    strcmp(suffix, "name") != 0 &&
		    strcmp(suffix, "digest") != 0)
			config_notice_add(
			        cfg, m->file, m->line, m->column, NULL, "",
			        "setter '%s' has the suffix '%s'; only "
			        "tag, name and digest are set",
			        m->setter, suffix);
		if (config_find(cfg, CONFIG_IMAGEPOLICY, ns, name))
			continue;
		for (size_t k = 0; k < pv->n && near == NULL; k++) {
			const struct config_object *p = pv->v[k];

			if (strcmp(p->metadata.name, name) == 0 ||
			    (strcmp(p->metadata.namespace, ns) == 0 &&
			     edit_distance(p->metadata.name, name, 2) <= 2))
				near = p;
		}
		if (near)
			config_notice_add(
			        cfg, m->file, m->line, m->column, NULL, "",
			        "setter '%s' names ImagePolicy '%s/%s', which is "
			        "not in the files given: the value is never "
			        "updated (did you mean '%s:%s'?)",
			        m->setter, ns, name, near->metadata.namespace,
			        near->metadata.name);
		else
			config_notice_add(
			        cfg, m->file, m->line, m->column, NULL, "",
			        "setter '%s' names ImagePolicy '%s/%s', which is "
			        "not in the files given: the value is never "
			        "updated",
			        m->setter, ns, name);
	}
	check_notification_refs(cfg);
}

int
config_check(struct config *cfg, struct err *err)
{
	if (build_index(cfg) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	cfg->checked = true;
	/* Secrets from --secrets-dir and SOPS documents, now that every
	 * reference to them is known */
	if (config_resolve_secrets(cfg) < 0 || build_index(cfg) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	cfg->checked = true;
	check_duplicates(cfg);
	check_references(cfg);
	argocd_check(cfg);
	check_markers(cfg);
	if (cfg->nomem)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (cfg->errors.n + cfg->errors.dropped > 0)
		return err_set(err, ERR_INVALID, "%zu configuration error%s",
		               cfg->errors.n + cfg->errors.dropped,
		               cfg->errors.n + cfg->errors.dropped == 1 ? ""
		                                                        : "s");
	return 0;
}

/* ---- lookups ---- */

size_t
config_count(const struct config *cfg, enum config_kind kind)
{
	if ((unsigned)kind >= CONFIG_KIND_COUNT)
		return 0;
	return cfg->kinds[kind].n;
}

const struct config_object *
config_get(const struct config *cfg, enum config_kind kind, size_t i)
{
	if ((unsigned)kind >= CONFIG_KIND_COUNT || i >= cfg->kinds[kind].n)
		return NULL;
	return cfg->kinds[kind].v[i];
}

const struct config_object *
config_find(const struct config *cfg, enum config_kind kind,
            const char *namespace, const char *name)
{
	size_t lo = 0, hi;

	if ((unsigned)kind >= CONFIG_KIND_COUNT || !namespace || !name)
		return NULL;
	if (!cfg->checked) {
		const struct config_vec *v = &cfg->kinds[kind];

		for (size_t i = 0; i < v->n; i++)
			if (key_cmp(v->v[i], kind, namespace, name) == 0)
				return v->v[i];
		return NULL;
	}
	/* the first of equal keys, which is the first one read */
	hi = cfg->n_index;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (key_cmp(cfg->index[mid], kind, namespace, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (lo < cfg->n_index &&
	    key_cmp(cfg->index[lo], kind, namespace, name) == 0)
		return cfg->index[lo];
	return NULL;
}

const struct config_object *
config_secret_for(const struct config *cfg,
                  const struct config_object *referrer,
                  const struct config_local_ref *ref)
{
	if (referrer == NULL || ref == NULL || ref->name == NULL)
		return NULL;
	return config_find(cfg, CONFIG_SECRET, referrer->metadata.namespace,
	                   ref->name);
}

const struct secret *
config_secret_value(const struct config_object *secret, const char *key)
{
	const struct config_secret *s;

	if (secret == NULL || secret->kind != CONFIG_SECRET)
		return NULL;
	s = &secret->u.secret;
	for (size_t i = 0; i < s->n_string_data; i++)
		if (strcmp(s->string_data[i].key, key) == 0)
			return &s->string_data[i].value;
	for (size_t i = 0; i < s->n_data; i++)
		if (strcmp(s->data[i].key, key) == 0)
			return &s->data[i].value;
	return NULL;
}

const struct config_object *
config_policy_repository(const struct config *cfg,
                         const struct config_object *policy)
{
	const struct config_cross_ref *r;

	if (policy == NULL || policy->kind != CONFIG_IMAGEPOLICY)
		return NULL;
	r = &policy->u.imagepolicy.image_repository_ref;
	return config_find(cfg, CONFIG_IMAGEREPOSITORY, r->namespace, r->name);
}

bool
config_kustomization_managed(const struct config_object *ks)
{
	const struct config_strmap *a = &ks->metadata.annotations;

	for (size_t i = 0; i < a->n; i++)
		if (strncmp(a->keys[i], "ferry.io/", 9) == 0)
			return true;
	return false;
}

const struct config_object *
config_source_gitrepository(const struct config *cfg,
                            const struct config_object *obj)
{
	const struct config_cross_ref *r;

	if (obj == NULL)
		return NULL;
	if (obj->kind == CONFIG_IMAGEUPDATEAUTOMATION)
		r = &obj->u.imageupdateautomation.source_ref;
	else if (obj->kind == CONFIG_KUSTOMIZATION)
		r = &obj->u.kustomization.source_ref;
	else
		return NULL;
	if (r->kind && strcmp(r->kind, "GitRepository") != 0)
		return NULL;
	return config_find(cfg, CONFIG_GITREPOSITORY, r->namespace, r->name);
}

const struct config_object *
config_alert_provider(const struct config *cfg,
                      const struct config_object *alert)
{
	if (alert == NULL || alert->kind != CONFIG_ALERT)
		return NULL;
	return config_find(cfg, CONFIG_PROVIDER, alert->metadata.namespace,
	                   alert->u.alert.provider_ref.name);
}

const char *
config_strmap_get(const struct config_strmap *m, const char *key)
{
	for (size_t i = 0; i < m->n; i++)
		if (strcmp(m->keys[i], key) == 0)
			return m->values[i];
	return NULL;
}

bool
config_selector_matches(const struct config_label_selector *sel,
                        const struct config_strmap *labels)
{
	for (size_t i = 0; i < sel->match_labels.n; i++) {
		const char *v =
		        config_strmap_get(labels, sel->match_labels.keys[i]);

		if (v == NULL || strcmp(v, sel->match_labels.values[i]) != 0)
			return false;
	}
	for (size_t i = 0; i < sel->n_match_expressions; i++) {
		const struct config_label_requirement *r =
		        &sel->match_expressions[i];
		const char *v;
		bool in = false;

		if (r->key == NULL || r->operator== NULL)
			return false;
		v = config_strmap_get(labels, r->key);
		for (size_t j = 0; v && j < r->values.n; j++)
			if (strcmp(v, r->values.items[j]) == 0)
				in = true;
		if (strcmp(r->operator, "In") == 0 && !in)
			return false;
		if (strcmp(r->operator, "NotIn") == 0 && in)
			return false;
		if (strcmp(r->operator, "Exists") == 0 && v == NULL)
			return false;
		if (strcmp(r->operator, "DoesNotExist") == 0 && v != NULL)
			return false;
	}
	return true;
}

int
config_automation_policies(const struct config_object ***out, size_t *n_out,
                           const struct config *cfg,
                           const struct config_object *automation,
                           struct err *err)
{
	const struct config_vec *v = &cfg->kinds[CONFIG_IMAGEPOLICY];
	const struct config_object **list;
	size_t n = 0;

	*out = NULL;
	*n_out = 0;
	if (automation == NULL ||
	    automation->kind != CONFIG_IMAGEUPDATEAUTOMATION)
		return err_set(err, ERR_INVALID,
		               "not an ImageUpdateAutomation");
	list = calloc(v->n ? v->n : 1, sizeof(*list));
	if (list == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t i = 0; i < v->n; i++) {
		const struct config_object *p = v->v[i];

		if (!p->metadata.namespace || !automation->metadata.namespace ||
		    strcmp(p->metadata.namespace,
		           automation->metadata.namespace) != 0)
			continue;
		if (!config_selector_matches(
		            &automation->u.imageupdateautomation
		                     .policy_selector,
		            &p->metadata.labels))
			continue;
		list[n++] = p;
	}
	*out = list;
	*n_out = n;
	return 0;
}
