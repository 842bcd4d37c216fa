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
#include "config_int.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base/json.h"
#include "base/log.h"
#include "base/util.h"

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
	[CONFIG_IMAGEUPDATER] = { "ImageUpdater",
	                          "argocd-image-updater.argoproj.io",
	                          { "v1alpha1", NULL } },
	[CONFIG_APPLICATION] = { "Application",
	                         "argoproj.io",
	                         { "v1alpha1", NULL } },
};

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

static bool
reserve(struct config *cfg, void **v, size_t *cap, size_t n, size_t size)
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

/* The config's own copy of a file name (objects point at it). */
static const char *
intern_file(struct config *cfg, const char *file)
{
	char *copy;

	for (size_t i = cfg->n_files; i > 0; i--)
		if (strcmp(cfg->files[i - 1], file) == 0)
			return cfg->files[i - 1];
	if (!reserve(cfg, (void **)&cfg->files, &cfg->cap_files, cfg->n_files,
	             sizeof(char *)))
		return NULL;
	if ((copy = config_strdup(cfg, file, strlen(file))) == NULL)
		return NULL;
	cfg->files[cfg->n_files++] = copy;
	return copy;
}

void
config_diag_addv(struct config *cfg, const char *file, int line, int column,
                 const char *object, const char *path, const char *fmt,
                 va_list ap)
{
	struct config_diag *d;
	char text[2048];
	char *msg = NULL, *obj = NULL, *p = NULL;
	const char *f;
	va_list aq;
	int n;

	if (cfg->n_diags >= CONFIG_MAX_DIAGS) {
		cfg->dropped_diags++;
		return;
	}
	if (!reserve(cfg, (void **)&cfg->diags, &cfg->cap_diags, cfg->n_diags,
	             sizeof(*cfg->diags)))
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
	f = intern_file(cfg, file ? file : "");
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
	d = &cfg->diags[cfg->n_diags++];
	d->file = f;
	d->line = line;
	d->column = column;
	d->object = obj;
	d->path = p;
	d->message = msg;
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
	return cfg->n_diags;
}

const struct config_diag *
config_diag_get(const struct config *cfg, size_t i)
{
	return i < cfg->n_diags ? &cfg->diags[i] : NULL;
}

size_t
config_diag_dropped(const struct config *cfg)
{
	return cfg->dropped_diags;
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
	for (size_t i = 0; i < cfg->n_diags; i++) {
		free((char *)cfg->diags[i].object);
		free((char *)cfg->diags[i].path);
		free((char *)cfg->diags[i].message);
	}
	free(cfg->diags);
	for (size_t i = 0; i < cfg->n_skipped; i++) {
		free((char *)cfg->skipped[i].api_version);
		free((char *)cfg->skipped[i].kind);
	}
	free(cfg->skipped);
	for (size_t i = 0; i < cfg->n_files; i++)
		free(cfg->files[i]);
	free(cfg->files);
	free(cfg->index);
	argocd_release(cfg);
	free(cfg);
}

/* ---- documents ---- */

/* The scalar value of key in mapping n, or NULL. */
static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *n, const char *key)
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
	if (!reserve(cfg, (void **)&cfg->skipped, &cfg->cap_skipped,
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

static void
add_document(struct config *cfg, const char *file, yaml_document_t *doc)
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
		config_diag_add(
		        cfg, file, line, col, NULL, "",
		        "document is not a mapping (expected a Kubernetes object with apiVersion and kind)");
		return;
	}
	kn = map_get(doc, root, "kind");
	an = map_get(doc, root, "apiVersion");
	kind = scalar_str(kn);
	api = scalar_str(an);
	if (kind == NULL || api == NULL) {
		/* plain YAML (Helm values, a .sops.yaml) is not an object */
		skip_document(cfg, file, line, api ? api : "",
		              kind ? kind : "");
		return;
	}
	for (k = 0; k < CONFIG_KIND_COUNT; k++)
		if (strcmp(kinds[k].name, kind) == 0)
			break;
	slash = strrchr(api, '/');
	glen = slash ? (size_t)(slash - api) : 0;
	if (k == CONFIG_KIND_COUNT || strlen(kinds[k].group) != glen ||
	    memcmp(kinds[k].group, api, glen) != 0) {
		if (!argocd_document_take(cfg, file, doc, root, api, kind))
			skip_document(cfg, file, line, api, kind);
		return;
	}
	for (const char *const *v = kinds[k].versions; *v; v++)
		if (strcmp(*v, slash ? slash + 1 : api) == 0)
			known_version = true;
	meta = map_get(doc, root, "metadata");
	name = scalar_str(map_get(doc, meta, "name"));
	ns = scalar_str(map_get(doc, meta, "namespace"));
	buf_addf(&label, "%s %s/%s", kind, ns && *ns ? ns : "default",
	         name && *name ? name : "(no name)");
	if (!known_version) {
		struct buf want = BUF_INIT;

		for (const char *const *v = kinds[k].versions; *v; v++)
			buf_addf(&want, "%s%s%s%s",
			         v == kinds[k].versions ? "" : " or ",
			         kinds[k].group, glen ? "/" : "", *v);
		config_diag_add(cfg, file, (int)an->start_mark.line + 1,
		                (int)an->start_mark.column + 1,
		                buf_ok(&label) ? label.ptr : NULL, "apiVersion",
		                "%s '%s' is not supported (use %s)", kind, api,
		                buf_ok(&want) ? want.ptr : "");
		buf_release(&want);
		goto out;
	}
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
	if (!reserve(cfg, (void **)&cfg->kinds[k].v, &cfg->kinds[k].cap,
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
};

static void
prescan(struct prescan *ps, const char *data, size_t len)
{
	yaml_parser_t parser;
	size_t depth = 0, nodes = 0, anchors = 0, aliases = 0;
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

int
config_add_buffer(struct config *cfg, const char *name, const char *data,
                  size_t len, struct err *err)
{
	yaml_parser_t parser;
	struct prescan ps;
	const char *file;

	cfg->checked = false;
	if ((file = intern_file(cfg, name)) == NULL)
		goto nomem;
	prescan(&ps, data, len);
	if (!yaml_parser_initialize(&parser))
		goto nomem;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);
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
		if (!end)
			add_document(cfg, file, &doc);
		wipe_document(&doc);
		yaml_document_delete(&doc);
		if (end || cfg->nomem)
			break;
	}
	wipe_parser(&parser);
	yaml_parser_delete(&parser);
	if (cfg->nomem)
		goto nomem;
	return 0;
nomem:
	return err_set(err, ERR_NOMEM, "out of memory reading '%s'", name);
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

static int
add_dir(struct config *cfg, const char *path, const struct dir_chain *up,
        int depth, struct err *err)
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
		if (!reserve(cfg, (void **)&names, &cap, n, sizeof(char *)) ||
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

		buf_addf(&child, "%s%s%s", path,
		         str_has_suffix(path, strlen(path), "/") ? "" : "/",
		         names[i]);
		if (!buf_ok(&child)) {
			buf_release(&child);
			goto nomem;
		}
		if (stat(child.ptr, &st) < 0) {
			/* a dangling symlink: not a YAML file we can read */
		} else if (S_ISDIR(st.st_mode)) {
			rc = add_dir(cfg, child.ptr, &here, depth + 1, err);
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
	if (stat(path, &st) < 0) {
		config_diag_add(cfg, path, 0, 0, NULL, "", "%s",
		                errno == ENOENT ? "no such file or directory"
		                                : strerror(errno));
		return cfg->nomem ? err_set(err, ERR_NOMEM, "out of memory")
		                  : 0;
	}
	if (S_ISDIR(st.st_mode))
		return add_dir(cfg, path, NULL, 0, err);
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
                 const struct config_local_ref *ref, const char *path)
{
	if (!ref->pos.set || ref->name == NULL || o->metadata.namespace == NULL)
		return;
	if (config_find(cfg, CONFIG_SECRET, o->metadata.namespace, ref->name))
		return;
	obj_diag(
	        cfg, o, &ref->pos, path,
	        "Secret '%s/%s' not found (add it to the files given, or fix the name)",
	        o->metadata.namespace, ref->name);
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

static void
check_references(struct config *cfg)
{
	struct config_vec *v;

	v = &cfg->kinds[CONFIG_GITREPOSITORY];
	for (size_t i = 0; i < v->n; i++) {
		struct config_gitrepository *g = &v->v[i]->u.gitrepository;

		check_secret_ref(cfg, v->v[i], &g->secret_ref,
		                 "spec.secretRef.name");
		check_secret_ref(cfg, v->v[i], &g->proxy_secret_ref,
		                 "spec.proxySecretRef.name");
		check_secret_ref(cfg, v->v[i], &g->verify.secret_ref,
		                 "spec.verify.secretRef.name");
	}
	v = &cfg->kinds[CONFIG_IMAGEREPOSITORY];
	for (size_t i = 0; i < v->n; i++) {
		struct config_imagerepository *r = &v->v[i]->u.imagerepository;

		check_secret_ref(cfg, v->v[i], &r->secret_ref,
		                 "spec.secretRef.name");
		check_dockerconfig(cfg, v->v[i], &r->secret_ref,
		                   "spec.secretRef.name");
		check_secret_ref(cfg, v->v[i], &r->cert_secret_ref,
		                 "spec.certSecretRef.name");
		check_secret_ref(cfg, v->v[i], &r->proxy_secret_ref,
		                 "spec.proxySecretRef.name");
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
		struct config_imageupdateautomation *a =
		        &v->v[i]->u.imageupdateautomation;

		check_cross_ref(cfg, v->v[i], &a->source_ref,
		                CONFIG_GITREPOSITORY, "spec.sourceRef.name");
		check_secret_ref(cfg, v->v[i],
		                 &a->git.commit.signing_key.secret_ref,
		                 "spec.git.commit.signingKey.secretRef.name");
	}
	v = &cfg->kinds[CONFIG_RECEIVER];
	for (size_t i = 0; i < v->n; i++)
		check_secret_ref(cfg, v->v[i], &v->v[i]->u.receiver.secret_ref,
		                 "spec.secretRef.name");
	v = &cfg->kinds[CONFIG_KUSTOMIZATION];
	for (size_t i = 0; i < v->n; i++) {
		struct config_kustomization *k = &v->v[i]->u.kustomization;
		struct config_local_ref kube = {
			k->kube_config.secret_ref.pos,
			k->kube_config.secret_ref.name
		};

		if (k->source_ref.kind &&
		    strcmp(k->source_ref.kind, "GitRepository") == 0)
			check_cross_ref(cfg, v->v[i], &k->source_ref,
			                CONFIG_GITREPOSITORY,
			                "spec.sourceRef.name");
		check_secret_ref(cfg, v->v[i], &k->decryption.secret_ref,
		                 "spec.decryption.secretRef.name");
		check_secret_ref(cfg, v->v[i], &kube,
		                 "spec.kubeConfig.secretRef.name");
	}
}

int
config_check(struct config *cfg, struct err *err)
{
	if (build_index(cfg) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	cfg->checked = true;
	check_duplicates(cfg);
	check_references(cfg);
	argocd_check(cfg);
	if (cfg->nomem)
		return err_set(err, ERR_NOMEM, "out of memory");
	if (cfg->n_diags + cfg->dropped_diags > 0)
		return err_set(err, ERR_INVALID, "%zu configuration error%s",
		               cfg->n_diags + cfg->dropped_diags,
		               cfg->n_diags + cfg->dropped_diags == 1 ? ""
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
