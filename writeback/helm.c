/*
 * helm.c - dotted-key edits of a Helm values file as splices.  Each
 * KEY=VALUE is applied to the bytes the previous one produced and checked
 * by yamledit each time.  It knows nothing of charts or templates: only
 * the values file's own structure.
 */
#include "helm.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Most parts a key may have. */
#define HELM_MAX_PARTS 64

struct part {
	char key[256]; /* "" for an index */
	long index;    /* -1 for a key */
};

static int
path_parse(const char *key, struct part *parts, size_t *n, struct err *err)
{
	const char *p = key;

	*n = 0;
	if (*p == '\0')
		return err_set(err, ERR_INVALID, "empty key");
	while (*p) {
		struct part *pt;
		size_t l = strcspn(p, ".[]");
		if (*n == HELM_MAX_PARTS)
			return err_set(err, ERR_INVALID,
			               "key '%s' has more than %d parts", key,
			               HELM_MAX_PARTS);
		if (l > 0) {
			if (l >= sizeof(parts[0].key))
				return err_set(err, ERR_INVALID,
				               "key '%s': a part is too long",
				               key);
			for (size_t i = 0; i < l; i++)
				if ((unsigned char)p[i] < 0x20 ||
				    (unsigned char)p[i] >= 0x7f)
					return err_set(
					        err, ERR_INVALID,
					        "key '%s': control or non-ASCII "
					        "character",
					        key);
			pt = &parts[(*n)++];
			memcpy(pt->key, p, l);
			pt->key[l] = '\0';
			pt->index = -1;
			p += l;
		} else if (*p != '[') {
			return err_set(err, ERR_INVALID,
			               "key '%s': empty part at offset %zu",
			               key, (size_t)(p - key));
		}
		while (*p == '[') {
			long v = 0;
			const char *q = p + 1;
			if (*q < '0' || *q > '9')
				return err_set(
				        err, ERR_INVALID,
				        "key '%s': '[' must hold an index",
				        key);
			while (*q >= '0' && *q <= '9') {
				v = v * 10 + (*q - '0');
				if (v > 1000000)
					return err_set(
					        err, ERR_INVALID,
					        "key '%s': index too large",
					        key);
				q++;
			}
			if (*q != ']')
				return err_set(err, ERR_INVALID,
				               "key '%s': missing ']'", key);
			if (*n == HELM_MAX_PARTS)
				return err_set(err, ERR_INVALID,
				               "key '%s' has too many parts",
				               key);
			pt = &parts[(*n)++];
			pt->key[0] = '\0';
			pt->index = v;
			p = q + 1;
		}
		if (*p == '.') {
			p++;
			if (*p == '\0')
				return err_set(err, ERR_INVALID,
				               "key '%s' ends with '.'", key);
		} else if (*p != '\0') {
			return err_set(err, ERR_INVALID,
			               "key '%s': unexpected '%c'", key, *p);
		}
	}
	return 0;
}

int
helm_value_parse(struct helm_value *out, char *arg, struct err *err)
{
	char *eq = strchr(arg, '=');
	struct part parts[HELM_MAX_PARTS];
	size_t n;
	struct err e = ERR_INIT;

	if (eq == NULL)
		return err_set(err, ERR_INVALID, "'%s' is not KEY=VALUE", arg);
	*eq = '\0';
	out->key = arg;
	out->value = eq + 1;
	if (path_parse(out->key, parts, &n, err) < 0)
		return -ERR_INVALID;
	if (yamledit_value_check(YAMLEDIT_VALUE_ANY, out->value,
	                         strlen(out->value), &e) < 0)
		return err_set(err, ERR_INVALID, "%s: %s", out->key, e.msg);
	return 0;
}

static unsigned
line_of(const char *s, size_t off)
{
	unsigned l = 1;

	for (size_t i = 0; i < off; i++)
		if (s[i] == '\n')
			l++;
	return l;
}

/* "key:" lines for parts[from..n), the last one holding value. */
static int
create_text(struct buf *b, unsigned indent, unsigned step,
            const struct part *parts, size_t from, size_t n, const char *value,
            const char *eol, struct err *err)
{
	for (size_t j = from; j < n; j++) {
		for (unsigned s = 0; s < indent + step * (unsigned)(j - from);
		     s++)
			buf_putc(b, ' ');
		if (yamledit_render(b, YAMLEDIT_PLAIN, parts[j].key, err) < 0)
			return -ERR_INVALID;
		buf_putc(b, ':');
		if (j + 1 == n) {
			buf_putc(b, ' ');
			if (yamledit_render(b, YAMLEDIT_PLAIN, value, err) < 0)
				return -ERR_INVALID;
		}
		buf_puts(b, eol);
	}
	return buf_ok(b) ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* The file's indentation step: first nested block mapping's offset. */
static unsigned
indent_step(const struct yamledit_doc *doc)
{
	for (size_t i = 0; i < doc->n; i++) {
		const struct yamledit_node *nd = &doc->nodes[i];
		int k;
		if (nd->type != YAMLEDIT_MAPPING ||
		    nd->style != YAMLEDIT_BLOCK || nd->parent < 0 ||
		    doc->nodes[nd->parent].type != YAMLEDIT_MAPPING)
			continue;
		k = yamledit_key_of(doc, (int)i);
		if (k >= 0 && nd->col > doc->nodes[k].col)
			return nd->col - doc->nodes[k].col;
	}
	return 2;
}

static int
note(struct wb_changes *local, const char *label, unsigned line,
     const char *key, const char *old, const char *new_)
{
	struct wb_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.file = (char *)label;
	ch.line = line;
	ch.old_value = (char *)old;
	ch.new_value = (char *)new_;
	ch.setter = (char *)key;
	return wb_changes_add(local, &ch);
}

static int path_find(const struct yamledit_doc *doc, const char *key);

/*
 * The splice checks keep every old node in place, but not where a new one
 * lands: an odd layout (an anchored empty key at the root, say) can put a
 * created key inside another mapping.  So the result is read back and the
 * key must name the value asked for; otherwise nothing is written.
 */
static int
verify_value(const struct buf *out, const struct helm_value *hv,
             const char *label, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	int node, rc;

	rc = yamledit_parse(&d, out->ptr, out->len, label, err);
	if (rc < 0)
		return rc;
	node = path_find(&d, hv->key);
	if (node < 0 || d.nodes[node].type != YAMLEDIT_SCALAR ||
	    strcmp(d.nodes[node].value, hv->value) != 0)
		rc = err_set(err, ERR_INVALID,
		             "%s: cannot set '%s' safely in this layout; edit "
		             "it by hand once",
		             label, hv->key);
	yamledit_release(&d);
	return rc;
}

static int
set_one(struct buf *cur, const struct helm_value *hv, const char *label,
        struct wb_changes *local, struct err *err)
{
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct buf text = BUF_INIT, out = BUF_INIT;
	struct part parts[HELM_MAX_PARTS];
	size_t n = 0, i;
	int rc, node;

	rc = path_parse(hv->key, parts, &n, err);
	if (rc < 0)
		goto out;
	rc = yamledit_parse(&doc, cur->ptr, cur->len, label, err);
	if (rc < 0)
		goto out;
	if (doc.ndocs != 1 || doc.roots[0] < 0) {
		rc = err_set(err, ERR_INVALID,
		             "%s: a values file must hold exactly one document",
		             label);
		goto out;
	}
	node = doc.roots[0];
	for (i = 0; i < n; i++) {
		const struct yamledit_node *nd = &doc.nodes[node];
		int next;
		if (parts[i].index >= 0) {
			if (nd->type != YAMLEDIT_SEQUENCE) {
				rc = err_set(
				        err, ERR_INVALID,
				        "%s:%u: %s: not a list before [%ld]",
				        label, nd->line + 1, hv->key,
				        parts[i].index);
				goto out;
			}
			next = yamledit_seq_get(&doc, node,
			                        (size_t)parts[i].index);
			if (next < 0) {
				rc = err_set(err, ERR_INVALID,
				             "%s:%u: %s: the list has no item "
				             "[%ld]",
				             label, nd->line + 1, hv->key,
				             parts[i].index);
				goto out;
			}
			node = next;
			continue;
		}
		if (nd->type == YAMLEDIT_MAPPING) {
			next = yamledit_map_get(&doc, node, parts[i].key);
			if (next >= 0) {
				node = next;
				continue;
			}
		} else if (!(nd->type == YAMLEDIT_SCALAR &&
		             nd->style == YAMLEDIT_PLAIN &&
		             nd->value_len == 0 &&
		             yamledit_key_of(&doc, node) >= 0)) {
			rc = err_set(
			        err, ERR_INVALID,
			        "%s:%u: %s: '%s' cannot be set inside a %s",
			        label, nd->line + 1, hv->key, parts[i].key,
			        nd->type == YAMLEDIT_SEQUENCE ? "list"
			                                      : "scalar");
			goto out;
		}
		break; /* create parts[i..n) under node */
	}
	if (i < n) {
		const struct yamledit_node *nd = &doc.nodes[node];
		unsigned indent, step = indent_step(&doc);
		size_t at;
		bool need_eol = false;
		int drop = -1;
		for (size_t j = i; j < n; j++)
			if (parts[j].index >= 0) {
				rc = err_set(
				        err, ERR_INVALID,
				        "%s: %s: cannot create list item [%ld] "
				        "(only mapping keys are created)",
				        label, hv->key, parts[j].index);
				goto out;
			}
		if (nd->type == YAMLEDIT_MAPPING) {
			if (nd->style == YAMLEDIT_FLOW) {
				rc = err_set(
				        err, ERR_INVALID,
				        "%s:%u: %s: flow mappings are not "
				        "extended; write it in block style",
				        label, nd->line + 1, hv->key);
				goto out;
			}
			indent = nd->col;
			at = yamledit_after(&doc, node, &need_eol);
		} else {
			/* "key:" with no value becomes a mapping */
			int k = yamledit_key_of(&doc, node);
			indent = doc.nodes[k].col + step;
			at = yamledit_line_next(&doc, doc.nodes[k].start);
			need_eol = at == doc.len &&
			           (at == 0 || doc.src[at - 1] != '\n');
			drop = node;
		}
		if (need_eol)
			buf_puts(&text, doc.eol);
		rc = create_text(&text, indent, step, parts, i, n, hv->value,
		                 doc.eol, err);
		if (rc == 0)
			rc = yamledit_edits_insert(&ed, at, text.ptr, text.len,
			                           indent, drop, -1);
		if (rc == 0)
			rc = note(local, label,
			          line_of(doc.src, at) + (need_eol ? 1 : 0) +
			                  (unsigned)(n - i - 1),
			          hv->key, "", hv->value);
	} else {
		const struct yamledit_node *nd = &doc.nodes[node];
		if (nd->type != YAMLEDIT_SCALAR) {
			rc = err_set(err, ERR_INVALID,
			             "%s:%u: %s is a %s, not a scalar", label,
			             nd->line + 1, hv->key,
			             nd->type == YAMLEDIT_MAPPING
			                     ? "mapping"
			                     : "list or alias");
			goto out;
		}
		if (strcmp(nd->value, hv->value) == 0)
			goto out;
		rc = yamledit_edits_replace(&ed, &doc, node, hv->value, err);
		if (rc < 0) {
			err_prefix(err, "%s: %s", label, hv->key);
			goto out;
		}
		rc = note(local, label, nd->line + 1, hv->key, nd->value,
		          hv->value);
	}
	if (rc < 0)
		goto out;
	rc = yamledit_edits_apply(&ed, &doc, &out, label, err);
	if (rc == 0)
		rc = verify_value(&out, hv, label, err);
	if (rc == 0) {
		buf_reset(cur);
		buf_add(cur, out.ptr, out.len);
		if (!buf_ok(cur))
			rc = err_set(err, ERR_NOMEM, "out of memory");
	}
out:
	yamledit_edits_release(&ed);
	yamledit_release(&doc);
	buf_release(&text);
	buf_release(&out);
	return rc;
}

/* The node key names in doc, or -1. */
static int
path_find(const struct yamledit_doc *doc, const char *key)
{
	struct part parts[HELM_MAX_PARTS];
	struct err e = ERR_INIT;
	size_t n;
	int node;

	if (doc->ndocs != 1 || path_parse(key, parts, &n, &e) < 0)
		return -1;
	node = doc->roots[0];
	for (size_t i = 0; i < n && node >= 0; i++)
		node = parts[i].index >= 0
		               ? yamledit_seq_get(doc, node,
		                                  (size_t)parts[i].index)
		               : yamledit_map_get(doc, node, parts[i].key);
	return node;
}

/* Lines in changes are where each value ends up in the final bytes. */
static void
lines_final(struct wb_changes *local, const struct buf *cur)
{
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;

	if (yamledit_parse(&doc, cur->ptr, cur->len, "values", &e) < 0)
		return;
	for (size_t i = 0; i < local->n; i++) {
		int node = path_find(&doc, local->v[i].setter);
		if (node >= 0)
			local->v[i].line = doc.nodes[node].line + 1;
	}
	yamledit_release(&doc);
}

int
helm_set_values(const struct fsroot *root, const char *file, const char *label,
                const struct helm_value *vals, size_t n,
                const struct yamledit_opts *opts, struct wb_changes *changes,
                struct err *err)
{
	struct buf real = BUF_INIT, src = BUF_INIT, cur = BUF_INIT;
	struct wb_changes local = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct stat st;
	int rc = 0;

	if (label == NULL)
		label = file;
	if ((rc = fsroot_realpath(root, file, 0, &real, &e)) < 0 ||
	    (rc = fsroot_lstat(root, real.ptr, FSROOT_NOFOLLOW, &st, &e)) < 0) {
		rc = err_set(err, e.code, "%s: %s", label,
		             e.code == ERR_NOTFOUND ? "no such file" : e.msg);
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		rc = err_set(err, ERR_INVALID, "%s: not a regular file", label);
		goto out;
	}
	rc = yamledit_file_read(&src, root, real.ptr, FSROOT_NOFOLLOW, err);
	if (rc < 0)
		goto out;
	buf_add(&cur, src.ptr, src.len);
	if (!buf_ok(&cur)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = set_one(&cur, &vals[i], label, &local, err);
	if (rc < 0)
		goto out;
	lines_final(&local, &cur);
	rc = yamledit_file_finish(root, real.ptr, label, src.ptr, src.len, &cur,
	                          opts, err);
	if (rc > 0)
		rc = wb_changes_add_file(changes, real.ptr) < 0
		             ? err_set(err, ERR_NOMEM, "out of memory")
		             : 0;
	for (size_t i = 0; i < local.n && rc == 0; i++)
		if (wb_changes_add(changes, &local.v[i]) < 0)
			rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	wb_changes_release(&local);
	buf_release(&real);
	buf_release(&src);
	buf_release(&cur);
	return rc;
}
