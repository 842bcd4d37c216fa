/*
 * manifests.c - a render's text as Kubernetes objects: split at the
 * "---" lines, each document parsed with libyaml, Flux's post-build
 * substitution applied to each object that does not opt out, then
 * checked (a mapping with apiVersion, kind and metadata.name), named
 * (the file a directory target holds it in; Flux's inventory id) and
 * hashed.  The bytes of a document are kept as rendered: nothing is
 * re-serialised.
 *
 * It does not know Kubernetes' schemas: an object with a wrong field is
 * the target's to refuse (kubectl apply, the cluster).
 */
#include "reconcile.h"

#include <ctype.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define SUBSTITUTE_KEY "kustomize.toolkit.fluxcd.io/substitute"

static void
object_release(struct reconcile_object *o)
{
	free(o->api_version);
	free(o->kind);
	free(o->namespace_);
	free(o->name);
	free(o->id);
	free(o->file);
	free(o->text);
	memset(o, 0, sizeof(*o));
}

void
reconcile_manifests_release(struct reconcile_manifests *m)
{
	for (size_t i = 0; i < m->n; i++)
		object_release(&m->v[i]);
	free(m->v);
	memset(m, 0, sizeof(*m));
}

int
reconcile_manifests_join(struct buf *out, const struct reconcile_manifests *m)
{
	for (size_t i = 0; i < m->n; i++) {
		buf_puts(out, "---\n");
		buf_add(out, m->v[i].text, m->v[i].len);
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* ---- one document ---- */

static yaml_node_t *
map_get(yaml_document_t *doc, yaml_node_t *map, const char *key)
{
	if (map == NULL || map->type != YAML_MAPPING_NODE)
		return NULL;
	for (yaml_node_pair_t *p = map->data.mapping.pairs.start;
	     p < map->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(doc, p->key);
		if (k && k->type == YAML_SCALAR_NODE &&
		    k->data.scalar.length == strlen(key) &&
		    memcmp(k->data.scalar.value, key, k->data.scalar.length) ==
		            0)
			return yaml_document_get_node(doc, p->value);
	}
	return NULL;
}

/* A non-empty scalar's text (malloc'ed), or NULL. */
static char *
scalar_dup(yaml_node_t *n)
{
	if (n == NULL || n->type != YAML_SCALAR_NODE ||
	    n->data.scalar.length == 0)
		return NULL;
	return strndup((const char *)n->data.scalar.value,
	               n->data.scalar.length);
}

static bool
scalar_is(yaml_node_t *n, const char *s)
{
	return n && n->type == YAML_SCALAR_NODE &&
	       n->data.scalar.length == strlen(s) &&
	       memcmp(n->data.scalar.value, s, n->data.scalar.length) == 0;
}

/* A part of a file name: letters, digits and . _ : - (Kubernetes names
 * and a few RBAC ones), not starting with '.'. */
static bool
file_part_ok(const char *s)
{
	if (s == NULL || *s == '\0' || *s == '.' || strlen(s) > 253)
		return false;
	for (; *s; s++)
		if (!isalnum((unsigned char)*s) && !strchr("._:-", *s))
			return false;
	return true;
}

struct doc {
	yaml_parser_t parser;
	yaml_document_t doc;
	bool parser_ok, doc_ok;
	yaml_node_t *root;
};

static void
doc_release(struct doc *d)
{
	if (d->doc_ok)
		yaml_document_delete(&d->doc);
	if (d->parser_ok)
		yaml_parser_delete(&d->parser);
	memset(d, 0, sizeof(*d));
}

/* Parses text as one document; d->root NULL for an empty one. */
static int
doc_load(struct doc *d, const char *text, size_t len, size_t index, int line,
         struct err *err)
{
	yaml_document_t extra;

	memset(d, 0, sizeof(*d));
	if (!yaml_parser_initialize(&d->parser))
		return err_set(err, ERR_NOMEM, "out of memory");
	d->parser_ok = true;
	yaml_parser_set_input_string(&d->parser, (const unsigned char *)text,
	                             len);
	if (!yaml_parser_load(&d->parser, &d->doc))
		return err_set(
		        err, ERR_INVALID,
		        "document %zu (line %d): not YAML: %s at line %d",
		        index, line + (int)d->parser.problem_mark.line,
		        d->parser.problem ? d->parser.problem : "error",
		        line + (int)d->parser.problem_mark.line);
	d->doc_ok = true;
	d->root = yaml_document_get_root_node(&d->doc);
	/* what follows the document must be nothing: neither a second
	 * document nor text libyaml cannot read */
	if (d->root) {
		bool more;
		if (!yaml_parser_load(&d->parser, &extra))
			return err_set(
			        err, ERR_INVALID,
			        "document %zu (line %d): not YAML: %s at "
			        "line %d",
			        index, line,
			        d->parser.problem ? d->parser.problem : "error",
			        line + (int)d->parser.problem_mark.line);
		more = yaml_document_get_root_node(&extra) != NULL;
		yaml_document_delete(&extra);
		if (more)
			return err_set(err, ERR_INVALID,
			               "document %zu (line %d): two documents "
			               "where one was expected",
			               index, line);
	}
	return 0;
}

/* Is substitution switched off for this object (label or annotation)? */
static bool
substitute_disabled(struct doc *d)
{
	yaml_node_t *meta = map_get(&d->doc, d->root, "metadata");

	return scalar_is(map_get(&d->doc, map_get(&d->doc, meta, "labels"),
	                         SUBSTITUTE_KEY),
	                 "disabled") ||
	       scalar_is(map_get(&d->doc, map_get(&d->doc, meta, "annotations"),
	                         SUBSTITUTE_KEY),
	                 "disabled");
}

static void
sha256_hex(char out[65], const char *p, size_t n)
{
	unsigned char h[crypto_hash_sha256_BYTES];

	crypto_hash_sha256(h, (const unsigned char *)p, n);
	sodium_bin2hex(out, 65, h, sizeof(h));
}

/* Fills o from a parsed object whose text is o->text. */
static int
object_fill(struct reconcile_object *o, struct doc *d, size_t index, int line,
            struct err *err)
{
	yaml_node_t *meta = map_get(&d->doc, d->root, "metadata");
	struct buf b = BUF_INIT;
	const char *slash;

	if (d->root->type != YAML_MAPPING_NODE)
		return err_set(err, ERR_INVALID,
		               "document %zu (line %d) is not a Kubernetes "
		               "object (a mapping with apiVersion and kind)",
		               index, line);
	o->api_version = scalar_dup(map_get(&d->doc, d->root, "apiVersion"));
	o->kind = scalar_dup(map_get(&d->doc, d->root, "kind"));
	o->name = scalar_dup(map_get(&d->doc, meta, "name"));
	o->namespace_ = scalar_dup(map_get(&d->doc, meta, "namespace"));
	if (o->api_version == NULL || o->kind == NULL)
		return err_set(err, ERR_INVALID,
		               "document %zu (line %d) has no %s", index, line,
		               o->api_version ? "kind" : "apiVersion");
	if (strcmp(o->kind, "List") == 0)
		return err_set(err, ERR_INVALID,
		               "document %zu (line %d) is a List: write its "
		               "items as documents of their own",
		               index, line);
	if (o->name == NULL)
		return err_set(
		        err, ERR_INVALID,
		        "document %zu (line %d): %s has no metadata.name",
		        index, line, o->kind);
	if (!file_part_ok(o->kind) || strchr(o->kind, '.') ||
	    !file_part_ok(o->name) ||
	    (o->namespace_ && !file_part_ok(o->namespace_)))
		return err_set(
		        err, ERR_INVALID,
		        "document %zu (line %d): %s '%s' has a kind, "
		        "name or namespace that is not a Kubernetes name",
		        index, line, o->kind, o->name);
	for (const char *k = o->kind; *k; k++)
		buf_putc(&b, (char)tolower((unsigned char)*k));
	if (o->namespace_)
		buf_addf(&b, "_%s", o->namespace_);
	buf_addf(&b, "_%s.yaml", o->name);
	if (!buf_ok(&b)) {
		buf_release(&b);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	o->file = buf_detach(&b);
	slash = strrchr(o->api_version, '/');
	buf_addf(&b, "%s_%s_%.*s_%s", o->namespace_ ? o->namespace_ : "",
	         o->name, slash ? (int)(slash - o->api_version) : 0,
	         o->api_version, o->kind);
	if (!buf_ok(&b)) {
		buf_release(&b);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	o->id = buf_detach(&b);
	sha256_hex(o->sha256, o->text, o->len);
	return 0;
}

/* One chunk: parse, substitute, parse again, fill.  1 when empty. */
static int
one_document(struct reconcile_object *o, const char *text, size_t len,
             const struct config_strmap *vars, size_t index, int line,
             struct err *err)
{
	struct doc d;
	struct buf sub = BUF_INIT;
	int rc;

	memset(o, 0, sizeof(*o));
	if ((rc = doc_load(&d, text, len, index, line, err)) < 0)
		goto out;
	if (d.root == NULL) {
		rc = 1;
		goto out;
	}
	if (vars && vars->n > 0 && !substitute_disabled(&d)) {
		if ((rc = reconcile_substitute(&sub, text, len, vars, err)) <
		    0) {
			err_prefix(err, "document %zu (line %d)", index, line);
			goto out;
		}
		doc_release(&d);
		if ((rc = doc_load(&d, sub.ptr ? sub.ptr : "", sub.len, index,
		                   line, err)) < 0) {
			err_prefix(err, "after substitution");
			goto out;
		}
		if (d.root == NULL) {
			rc = 1;
			goto out;
		}
		o->len = sub.len;
		o->text = buf_detach(&sub);
	} else {
		o->text = strndup(text, len);
		o->len = len;
	}
	if (o->text == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = object_fill(o, &d, index, line, err);
out:
	doc_release(&d);
	buf_release(&sub);
	if (rc != 0)
		object_release(o);
	return rc;
}

/* Is the line at p (up to eol) a document marker: "---" or "..." alone
 * or followed by a blank? *rest gets what follows "--- " on the line. */
static bool
marker(const char *p, const char *eol, const char **rest)
{
	size_t n = (size_t)(eol - p);

	*rest = eol;
	if (n < 3 || (memcmp(p, "---", 3) != 0 && memcmp(p, "...", 3) != 0))
		return false;
	if (n > 3 && p[3] != ' ' && p[3] != '\t' && p[3] != '\r')
		return false;
	if (p[0] == '-') {
		const char *q = p + 3;
		for (;;) {
			while (q < eol &&
			       (*q == ' ' || *q == '\t' || *q == '\r'))
				q++;
			/* "--- --- x": one marker is enough */
			if (eol - q >= 3 && memcmp(q, "---", 3) == 0 &&
			    (eol - q == 3 || q[3] == ' ' || q[3] == '\t' ||
			     q[3] == '\r')) {
				q += 3;
				continue;
			}
			break;
		}
		if (q < eol && *q != '#')
			*rest = q;
	}
	return true;
}

static int
cmp_file(const void *a, const void *b)
{
	return strcmp(((const struct reconcile_object *)a)->file,
	              ((const struct reconcile_object *)b)->file);
}

int
reconcile_manifests_parse(struct reconcile_manifests *out, const char *yaml,
                          size_t len, const struct config_strmap *vars,
                          struct err *err)
{
	const char *p = yaml, *end = yaml + len;
	struct buf chunk = BUF_INIT, all = BUF_INIT;
	size_t cap = 0, index = 0;
	int line = 1, start_line = 1, rc = 0;

	memset(out, 0, sizeof(*out));
	if (len > RECONCILE_MAX_RENDER)
		return err_set(err, ERR_INVALID,
		               "the render is %zu bytes (at most %zu)", len,
		               (size_t)RECONCILE_MAX_RENDER);
	if ((rc = reconcile_vars_check(vars, err)) < 0)
		return rc;
	for (;;) {
		const char *eol = p < end ? memchr(p, '\n', (size_t)(end - p))
		                          : NULL,
		           *rest;
		bool last = p >= end;
		bool is_marker;

		if (eol == NULL)
			eol = end;
		is_marker = !last && marker(p, eol, &rest);
		if (last || is_marker) {
			if (chunk.len > 0) {
				struct reconcile_object o;
				if (chunk.ptr[chunk.len - 1] != '\n')
					buf_putc(&chunk, '\n');
				if (!buf_ok(&chunk)) {
					rc = err_set(err, ERR_NOMEM,
					             "out of memory");
					goto out;
				}
				index++;
				rc = one_document(&o, chunk.ptr, chunk.len,
				                  vars, index, start_line, err);
				if (rc < 0)
					goto out;
				if (rc == 0) {
					if (out->n == RECONCILE_MAX_OBJECTS) {
						object_release(&o);
						rc = err_set(
						        err, ERR_INVALID,
						        "more than %d objects",
						        RECONCILE_MAX_OBJECTS);
						goto out;
					}
					if (out->n == cap) {
						size_t nc = cap ? cap * 2 : 16;
						struct reconcile_object *v =
						        reallocarray(
						                out->v, nc,
						                sizeof(*v));
						if (v == NULL) {
							object_release(&o);
							rc = err_set(
							        err, ERR_NOMEM,
							        "out of memory");
							goto out;
						}
						out->v = v;
						cap = nc;
					}
					out->v[out->n++] = o;
				}
				rc = 0;
			}
			buf_reset(&chunk);
			if (last)
				break;
			start_line = line + 1;
			/* "--- content" starts the document on this line */
			if (rest < eol) {
				buf_add(&chunk, rest, (size_t)(eol - rest));
				buf_putc(&chunk, '\n');
				start_line = line;
			}
		} else {
			buf_add(&chunk, p, (size_t)(eol - p));
			buf_putc(&chunk, '\n');
		}
		line++;
		p = eol < end ? eol + 1 : end;
	}
	qsort(out->v, out->n, sizeof(*out->v), cmp_file);
	for (size_t i = 0; i + 1 < out->n; i++)
		if (strcmp(out->v[i].file, out->v[i + 1].file) == 0) {
			rc = err_set(err, ERR_INVALID,
			             "%s '%s'%s%s is rendered twice",
			             out->v[i].kind, out->v[i].name,
			             out->v[i].namespace_ ? " in namespace "
			                                  : "",
			             out->v[i].namespace_ ? out->v[i].namespace_
			                                  : "");
			goto out;
		}
	for (size_t i = 0; i < out->n; i++) {
		buf_puts(&all, out->v[i].file);
		buf_putc(&all, '\0');
		buf_add(&all, out->v[i].text, out->v[i].len);
	}
	if (!buf_ok(&all)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	sha256_hex(out->digest, all.ptr ? all.ptr : "", all.len);
out:
	buf_release(&chunk);
	buf_release(&all);
	if (rc < 0)
		reconcile_manifests_release(out);
	return rc;
}
