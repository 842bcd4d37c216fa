/*
 * kustomize.c - `kustomize edit set image` semantics on the images: list
 * of a kustomization, as splices.  Each image argument is applied to the
 * bytes the previous one produced (and checked by yamledit each time), so
 * several arguments never fight over one insertion point.  It does not run
 * kustomize and does not sort the list.
 */
#include "kustomize.h"
#include "base/util.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static const char *const kust_files[] = { "kustomization.yaml",
	                                  "kustomization.yml", "Kustomization",
	                                  NULL };

static bool
is_star(const char *s)
{
	return s && strcmp(s, "*") == 0;
}

int
kustomize_image_parse(struct kustomize_image *out, char *arg, struct err *err)
{
	char *eq = strchr(arg, '='), *rest, *at, *slash, *colon;
	struct err e = ERR_INIT;

	memset(out, 0, sizeof(*out));
	if (eq) {
		*eq = '\0';
		rest = eq + 1;
		out->name = arg;
	} else {
		rest = arg;
	}
	at = strchr(rest, '@');
	if (at) {
		*at = '\0';
		out->digest = at + 1;
	}
	slash = strrchr(rest, '/');
	colon = strrchr(slash ? slash : rest, ':');
	if (colon) {
		*colon = '\0';
		out->new_tag = colon + 1;
	}
	if (eq)
		out->new_name = rest;
	else
		out->name = rest;
	if (!eq && !out->new_tag && !out->digest)
		return err_set(
		        err, ERR_INVALID,
		        "image '%s' sets nothing: use NAME:TAG, NAME@DIGEST or "
		        "NAME=NEWNAME[:TAG][@DIGEST]",
		        arg);
	/* "*" keeps what the entry has (kustomize's preserve marker) */
	if (yamledit_value_check(YAMLEDIT_VALUE_NAME, out->name,
	                         strlen(out->name), &e) < 0 ||
	    (out->new_name && !is_star(out->new_name) &&
	     yamledit_value_check(YAMLEDIT_VALUE_NAME, out->new_name,
	                          strlen(out->new_name), &e) < 0) ||
	    (out->new_tag && !is_star(out->new_tag) &&
	     yamledit_value_check(YAMLEDIT_VALUE_TAG, out->new_tag,
	                          strlen(out->new_tag), &e) < 0) ||
	    (out->digest && !is_star(out->digest) &&
	     yamledit_value_check(YAMLEDIT_VALUE_DIGEST, out->digest,
	                          strlen(out->digest), &e) < 0))
		return err_set(err, ERR_INVALID, "image argument: %s", e.msg);
	return 0;
}

static void
pad(struct buf *b, unsigned n)
{
	while (n--)
		buf_putc(b, ' ');
}

static int
field_line(struct buf *b, unsigned indent, const char *key, const char *val,
           const char *eol, struct err *err)
{
	pad(b, indent);
	buf_addf(b, "%s: ", key);
	if (yamledit_render(b, YAMLEDIT_PLAIN, val, err) < 0)
		return -ERR_INVALID;
	buf_puts(b, eol);
	return 0;
}

static const char *const fields[] = { "newName", "newTag", "digest" };

static const char *
want_of(const struct kustomize_image *im, int f)
{
	return f == 0 ? im->new_name : f == 1 ? im->new_tag : im->digest;
}

/* A whole new entry: "- name: N" then the fields given. */
static int
entry_text(struct buf *b, unsigned dash, unsigned off,
           const struct kustomize_image *im, const char *eol, struct err *err)
{
	pad(b, dash);
	buf_putc(b, '-');
	pad(b, off > 1 ? off - 1 : 1);
	buf_puts(b, "name: ");
	if (yamledit_render(b, YAMLEDIT_PLAIN, im->name, err) < 0)
		return -ERR_INVALID;
	buf_puts(b, eol);
	for (int f = 0; f < 3; f++)
		if (want_of(im, f) &&
		    field_line(b, dash + (off > 1 ? off : 2), fields[f],
		               want_of(im, f), eol, err) < 0)
			return -ERR_INVALID;
	return 0;
}

/* Dash column and item offset of a block sequence ("- " is 0, 2). */
static void
seq_layout(const struct yamledit_doc *doc, int seq, unsigned *dash,
           unsigned *off)
{
	const struct yamledit_node *s = &doc->nodes[seq];
	int first = s->first_child;

	if (s->start < doc->len && doc->src[s->start] == '-') {
		*dash = s->col;
		if (first >= 0 && doc->nodes[first].line == s->line &&
		    doc->nodes[first].col > s->col)
			*off = doc->nodes[first].col - s->col;
	}
}

/* The layout the file's other root-level block sequences use. */
static void
file_layout(const struct yamledit_doc *doc, int root, unsigned *dash,
            unsigned *off)
{
	for (int k = doc->nodes[root].first_child; k >= 0;) {
		int v = doc->nodes[k].next_sibling;
		if (v < 0)
			break;
		if (doc->nodes[v].type == YAMLEDIT_SEQUENCE &&
		    doc->nodes[v].style == YAMLEDIT_BLOCK) {
			seq_layout(doc, v, dash, off);
			*dash -= *dash >= doc->nodes[k].col ? doc->nodes[k].col
			                                    : *dash;
			return;
		}
		k = doc->nodes[v].next_sibling;
	}
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

static int
note(struct wb_changes *local, const struct yamledit_doc *doc,
     const char *label, unsigned line, const char *name, const char *field,
     const char *old, const char *new_)
{
	struct wb_change ch;
	struct buf setter = BUF_INIT;
	int rc;

	buf_addf(&setter, "images[%s].%s", name, field);
	if (!buf_ok(&setter))
		return -ERR_NOMEM;
	memset(&ch, 0, sizeof(ch));
	ch.file = (char *)label;
	ch.line = line;
	yamledit_doc_object(
	        doc, 0, (const char **)&ch.api_version, (const char **)&ch.kind,
	        (const char **)&ch.namespace_, (const char **)&ch.name);
	ch.old_value = (char *)old;
	ch.new_value = (char *)new_;
	ch.setter = setter.ptr;
	rc = wb_changes_add(local, &ch);
	buf_release(&setter);
	return rc;
}

/* Records the new entry's fields as changes (old ""). */
static int
note_entry(struct wb_changes *local, const struct yamledit_doc *doc,
           const char *label, unsigned line, const struct kustomize_image *im)
{
	int rc = 0;

	for (int f = 0; f < 3 && rc == 0; f++)
		if (want_of(im, f))
			rc = note(local, doc, label, line + 1, im->name,
			          fields[f], "", want_of(im, f));
	return rc;
}

/* Edits for one entry that exists: set, add or remove each field. */
static int
edit_entry(struct yamledit_edits *ed, const struct yamledit_doc *doc, int entry,
           const struct kustomize_image *im, const char *label,
           struct wb_changes *local, struct err *err)
{
	const struct yamledit_node *en = &doc->nodes[entry];
	struct buf add = BUF_INIT;
	bool need_eol;
	size_t at = yamledit_after(doc, entry, &need_eol);
	int rc = 0;

	if (need_eol)
		buf_puts(&add, doc->eol);
	for (int f = 0; f < 3 && rc == 0; f++) {
		const char *want = want_of(im, f);
		int v = yamledit_map_get(doc, entry, fields[f]);
		const struct yamledit_node *vn = v >= 0 ? &doc->nodes[v] : NULL;

		if (want && vn && vn->type == YAMLEDIT_SCALAR &&
		    strcmp(vn->value, want) == 0)
			continue;
		/* An empty (null) field already means "not set": leave its
		 * bytes alone rather than delete a line for nothing. */
		if (!want && (!vn || (vn->type == YAMLEDIT_SCALAR &&
		                      vn->style == YAMLEDIT_PLAIN &&
		                      vn->value_len == 0)))
			continue;
		if (en->style == YAMLEDIT_FLOW) {
			rc = err_set(
			        err, ERR_INVALID,
			        "%s:%u: images entry '%s' is a flow mapping; "
			        "write it in block style to edit it",
			        label, en->line + 1, im->name);
			break;
		}
		if (vn && vn->type != YAMLEDIT_SCALAR) {
			rc = err_set(err, ERR_INVALID,
			             "%s:%u: images[%s].%s is not a scalar",
			             label, vn->line + 1, im->name, fields[f]);
			break;
		}
		if (want && vn) {
			rc = yamledit_edits_replace(ed, doc, v, want, err);
			if (rc == 0)
				rc = note(local, doc, label, vn->line + 1,
				          im->name, fields[f], vn->value, want);
		} else if (want) {
			rc = field_line(&add, en->col, fields[f], want,
			                doc->eol, err);
			if (rc == 0)
				rc = note(local, doc, label,
				          line_of(doc->src, at) +
				                  (need_eol ? 1 : 0),
				          im->name, fields[f], "", want);
		} else {
			int k = yamledit_key_of(doc, v);
			size_t ls =
			        yamledit_line_start(doc, doc->nodes[k].start);
			bool alone = true;
			for (size_t i = ls; i < doc->nodes[k].start; i++)
				if (doc->src[i] != ' ' && doc->src[i] != '\t')
					alone = false;
			if (!alone || vn->line != doc->nodes[k].line ||
			    memchr(doc->src + vn->start, '\n',
			           vn->end - vn->start) != NULL) {
				rc = err_set(
				        err, ERR_INVALID,
				        "%s:%u: cannot remove images[%s].%s: it "
				        "is not on a line of its own",
				        label, vn->line + 1, im->name,
				        fields[f]);
				break;
			}
			rc = yamledit_edits_delete(
			        ed, ls, yamledit_line_next(doc, vn->end), k, v);
			if (rc == 0)
				rc = note(local, doc, label, vn->line + 1,
				          im->name, fields[f], vn->value, "");
		}
	}
	if (rc == 0 && add.len > (need_eol ? strlen(doc->eol) : 0))
		rc = yamledit_edits_insert(ed, at, add.ptr, add.len, en->col,
		                           -1, -1);
	if (rc == 0 && !buf_ok(&add))
		rc = err_set(err, ERR_NOMEM, "out of memory");
	buf_release(&add);
	return rc;
}

/* The scalar value of node; NULL when it is not a scalar or is null
 * (an empty plain scalar). */
static const char *
scalar_value(const struct yamledit_doc *d, int node)
{
	if (node < 0 || d->nodes[node].type != YAMLEDIT_SCALAR ||
	    (d->nodes[node].style == YAMLEDIT_PLAIN &&
	     d->nodes[node].value_len == 0))
		return NULL;
	return d->nodes[node].value;
}

static bool
same_or_both_null(const char *a, const char *b)
{
	return (a == NULL && b == NULL) ||
	       (a != NULL && b != NULL && strcmp(a, b) == 0);
}

/*
 * The splice checks keep every old node in place, but not where a new one
 * lands: an odd layout (an anchored empty key at the root, say) can put an
 * inserted images: inside another mapping.  So the result is read back and
 * must hold the entry as asked at the root; otherwise nothing is written.
 */
static int
verify_entry(const struct buf *out, const struct kustomize_image *im,
             const char *label, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	int images, found = 0, rc;

	rc = yamledit_parse(&d, out->ptr, out->len, label, err);
	if (rc < 0)
		return rc;
	images = d.ndocs == 1 ? yamledit_map_get(&d, d.roots[0], "images") : -1;
	for (int c = images >= 0 && d.nodes[images].type == YAMLEDIT_SEQUENCE
	                     ? d.nodes[images].first_child
	                     : -1;
	     c >= 0 && !found; c = d.nodes[c].next_sibling) {
		const char *nm =
		        scalar_value(&d, yamledit_map_get(&d, c, "name"));
		if (nm == NULL || strcmp(nm, im->name) != 0)
			continue;
		found = same_or_both_null(
		                scalar_value(&d,
		                             yamledit_map_get(&d, c, "newTag")),
		                im->new_tag) &&
		                        same_or_both_null(
		                                scalar_value(
		                                        &d, yamledit_map_get(
		                                                    &d, c,
		                                                    "newName")),
		                                im->new_name) &&
		                        same_or_both_null(
		                                scalar_value(&d,
		                                             yamledit_map_get(
		                                                     &d, c,
		                                                     "digest")),
		                                im->digest)
		                ? 1
		                : -1;
	}
	yamledit_release(&d);
	if (found != 1)
		return err_set(err, ERR_INVALID,
		               "%s: cannot place images entry '%s' safely in "
		               "this layout; edit it by hand once",
		               label, im->name);
	return 0;
}

static const char *scalar_value(const struct yamledit_doc *d, int node);

/* The value of field f of the images entry named name, or NULL. */
static const char *
entry_field(const struct yamledit_doc *doc, const char *name, const char *f)
{
	int images, nm;

	if (doc->ndocs != 1 || doc->roots[0] < 0)
		return NULL;
	images = yamledit_map_get(doc, doc->roots[0], "images");
	if (images < 0 || doc->nodes[images].type != YAMLEDIT_SEQUENCE)
		return NULL;
	for (int c = doc->nodes[images].first_child; c >= 0;
	     c = doc->nodes[c].next_sibling) {
		nm = yamledit_map_get(doc, c, "name");
		if (nm >= 0 && doc->nodes[nm].type == YAMLEDIT_SCALAR &&
		    strcmp(doc->nodes[nm].value, name) == 0)
			return scalar_value(doc, yamledit_map_get(doc, c, f));
	}
	return NULL;
}

static int
set_one(struct buf *cur, const struct kustomize_image *given, const char *label,
        struct wb_changes *local, struct err *err)
{
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct buf text = BUF_INIT, out = BUF_INIT;
	struct kustomize_image resolved = *given;
	const struct kustomize_image *im = &resolved;
	unsigned dash = 0, off = 2;
	int rc, root, images, entry = -1;
	bool need_eol = false;
	size_t at;

	rc = yamledit_parse(&doc, cur->ptr, cur->len, label, err);
	if (rc < 0)
		goto out;
	/* kustomize's "*": the entry's own value (none: the field goes),
	 * read from this document, which lives until the end of the call */
	if (is_star(resolved.new_name))
		resolved.new_name = entry_field(&doc, given->name, "newName");
	if (is_star(resolved.new_tag))
		resolved.new_tag = entry_field(&doc, given->name, "newTag");
	if (is_star(resolved.digest))
		resolved.digest = entry_field(&doc, given->name, "digest");
	if (doc.ndocs != 1 || (root = doc.roots[0]) < 0 ||
	    doc.nodes[root].type != YAMLEDIT_MAPPING ||
	    doc.nodes[root].style != YAMLEDIT_BLOCK) {
		rc = err_set(
		        err, ERR_INVALID,
		        "%s: a kustomization must be one document holding a "
		        "block mapping",
		        label);
		goto out;
	}
	images = yamledit_map_get(&doc, root, "images");
	file_layout(&doc, root, &dash, &off);
	if (images < 0) {
		at = yamledit_after(&doc, root, &need_eol);
		if (need_eol)
			buf_puts(&text, doc.eol);
		pad(&text, doc.nodes[root].col);
		buf_addf(&text, "images:%s", doc.eol);
		rc = entry_text(&text, doc.nodes[root].col + dash, off, im,
		                doc.eol, err);
		if (rc == 0)
			rc = yamledit_edits_insert(&ed, at, text.ptr, text.len,
			                           0, -1, -1);
		if (rc == 0)
			rc = note_entry(
			        local, &doc, label,
			        line_of(doc.src, at) + (need_eol ? 2 : 1), im);
		goto apply;
	}
	if (doc.nodes[images].type == YAMLEDIT_SCALAR &&
	    doc.nodes[images].value_len == 0 &&
	    doc.nodes[images].style == YAMLEDIT_PLAIN) {
		/* "images:" with nothing: the list goes on the next lines */
		int key = yamledit_key_of(&doc, images);
		at = yamledit_line_next(&doc, doc.nodes[key].start);
		if (at == doc.len && (at == 0 || doc.src[at - 1] != '\n'))
			buf_puts(&text, doc.eol);
		rc = entry_text(&text, doc.nodes[key].col + dash, off, im,
		                doc.eol, err);
		if (rc == 0)
			rc = yamledit_edits_insert(&ed, at, text.ptr, text.len,
			                           0, images, -1);
		if (rc == 0)
			rc = note_entry(local, &doc, label,
			                line_of(doc.src, at) + 1, im);
		goto apply;
	}
	if (doc.nodes[images].type != YAMLEDIT_SEQUENCE) {
		rc = err_set(err, ERR_INVALID, "%s:%u: images: is not a list",
		             label, doc.nodes[images].line + 1);
		goto out;
	}
	if (doc.nodes[images].style == YAMLEDIT_FLOW) {
		int key = yamledit_key_of(&doc, images);
		size_t ws = doc.nodes[images].start;
		if (doc.nodes[images].first_child >= 0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "%s:%u: images: is a flow sequence; write it "
			        "in block style to edit it",
			        label, doc.nodes[images].line + 1);
			goto out;
		}
		/* "images: []": remove the brackets, list on the next lines */
		while (ws > 0 &&
		       (doc.src[ws - 1] == ' ' || doc.src[ws - 1] == '\t'))
			ws--;
		rc = yamledit_edits_delete(&ed, ws, doc.nodes[images].end,
		                           images, -1);
		at = yamledit_line_next(&doc, doc.nodes[images].end);
		if (at == doc.len && (at == 0 || doc.src[at - 1] != '\n'))
			buf_puts(&text, doc.eol);
		if (rc == 0)
			rc = entry_text(&text, doc.nodes[key].col + dash, off,
			                im, doc.eol, err);
		if (rc == 0)
			rc = yamledit_edits_insert(&ed, at, text.ptr, text.len,
			                           0, -1, -1);
		if (rc == 0)
			rc = note_entry(local, &doc, label,
			                line_of(doc.src, at) + 1, im);
		goto apply;
	}
	for (int c = doc.nodes[images].first_child; c >= 0;
	     c = doc.nodes[c].next_sibling) {
		int nm = yamledit_map_get(&doc, c, "name");
		if (nm >= 0 && doc.nodes[nm].type == YAMLEDIT_SCALAR &&
		    strcmp(doc.nodes[nm].value, im->name) == 0) {
			entry = c;
			break;
		}
	}
	if (entry >= 0) {
		rc = edit_entry(&ed, &doc, entry, im, label, local, err);
		goto apply;
	}
	seq_layout(&doc, images, &dash, &off);
	at = yamledit_after(&doc, images, &need_eol);
	if (need_eol)
		buf_puts(&text, doc.eol);
	rc = entry_text(&text, dash, off, im, doc.eol, err);
	if (rc == 0)
		rc = yamledit_edits_insert(&ed, at, text.ptr, text.len, dash,
		                           -1, -1);
	if (rc == 0)
		rc = note_entry(local, &doc, label,
		                line_of(doc.src, at) + (need_eol ? 1 : 0), im);
apply:
	if (rc == 0 && !buf_ok(&text))
		rc = err_set(err, ERR_NOMEM, "out of memory");
	if (rc < 0 || ed.n == 0)
		goto out;
	rc = yamledit_edits_apply(&ed, &doc, &out, label, err);
	if (rc == 0)
		rc = verify_entry(&out, im, label, err);
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

/* Lines in changes are where each value ends up in the final bytes (the
 * entry's line for a removed key). */
static void
lines_final(struct wb_changes *local, const struct buf *cur,
            const struct kustomize_image *imgs, size_t n)
{
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;
	int images;

	if (yamledit_parse(&doc, cur->ptr, cur->len, "kustomization", &e) < 0)
		return;
	images = doc.ndocs == 1 ? yamledit_map_get(&doc, doc.roots[0], "images")
	                        : -1;
	for (size_t i = 0; i < local->n && images >= 0; i++) {
		struct wb_change *c = &local->v[i];
		for (size_t k = 0; k < n; k++) {
			size_t l = strlen(imgs[k].name);
			const char *f;
			if (strncmp(c->setter, "images[", 7) != 0 ||
			    strncmp(c->setter + 7, imgs[k].name, l) != 0 ||
			    strncmp(c->setter + 7 + l, "].", 2) != 0)
				continue;
			f = c->setter + 7 + l + 2;
			for (int en = doc.nodes[images].first_child; en >= 0;
			     en = doc.nodes[en].next_sibling) {
				int nm = yamledit_map_get(&doc, en, "name");
				int fv = yamledit_map_get(&doc, en, f);
				if (nm < 0 ||
				    doc.nodes[nm].type != YAMLEDIT_SCALAR ||
				    strcmp(doc.nodes[nm].value, imgs[k].name))
					continue;
				c->line = (fv >= 0 ? doc.nodes[fv].line
				                   : doc.nodes[nm].line) +
				          1;
				break;
			}
			break;
		}
	}
	yamledit_release(&doc);
}

/*
 * The kustomization of dir: its path relative to root (the directory's
 * real path, so labels and staged paths are the ones Git knows) into
 * path.  -ERR_NOTFOUND when there is none.
 */
static int
kustomization_find(struct buf *path, const struct fsroot *root, const char *dir,
                   struct err *err)
{
	struct buf real = BUF_INIT, p = BUF_INIT;
	struct err e = ERR_INIT;
	const char *found = NULL, *where;
	int rc;

	if (dir == NULL || *dir == '\0')
		dir = ".";
	/* messages name the directory as the caller knows it */
	where = strcmp(dir, ".") == 0 ? fsroot_dir(root) : dir;
	if ((rc = fsroot_realpath(root, dir, 0, &real, &e)) < 0) {
		rc = err_set(err, e.code, "kustomization directory '%s': %s",
		             dir, e.msg);
		goto out;
	}
	for (int i = 0; kust_files[i]; i++) {
		struct stat st;
		buf_reset(&p);
		if (real.len)
			buf_addf(&p, "%s/", real.ptr);
		buf_puts(&p, kust_files[i]);
		if (!buf_ok(&p)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (fsroot_lstat(root, p.ptr, FSROOT_NOFOLLOW, &st, &e) < 0 ||
		    !S_ISREG(st.st_mode))
			continue;
		if (found) {
			rc = err_set(err, ERR_INVALID,
			             "%s: both '%s' and '%s' exist", where,
			             found, kust_files[i]);
			goto out;
		}
		found = kust_files[i];
		buf_reset(path);
		buf_add(path, p.ptr, p.len);
	}
	if (!found)
		rc = err_set(err, ERR_NOTFOUND,
		             "%s: no kustomization.yaml, kustomization.yml or "
		             "Kustomization (or it is not a regular file)",
		             where);
	else if (!buf_ok(path))
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	buf_release(&real);
	buf_release(&p);
	return rc;
}

int
kustomize_image_entry(char **out, const struct fsroot *root, const char *dir,
                      const char *image, struct err *err)
{
	struct buf path = BUF_INIT, src = BUF_INIT;
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	int rc, images, item;

	*out = NULL;
	rc = kustomization_find(&path, root, dir, err);
	if (rc == -ERR_NOTFOUND) {
		rc = 0;
		goto out;
	}
	if (rc < 0 ||
	    (rc = yamledit_file_read(&src, root, path.ptr, FSROOT_NOFOLLOW,
	                             err)) < 0 ||
	    (rc = yamledit_parse(&doc, src.ptr, src.len, path.ptr, err)) < 0)
		goto out;
	images =
	        doc.ndocs ? yamledit_map_get(&doc, doc.roots[0], "images") : -1;
	for (size_t k = 0;
	     images >= 0 && (item = yamledit_seq_get(&doc, images, k)) >= 0;
	     k++) {
		const char *nv = scalar_value(
		        &doc, yamledit_map_get(&doc, item, "name"));
		const char *nnv = scalar_value(
		        &doc, yamledit_map_get(&doc, item, "newName"));
		if (nv && (strcmp(nv, image) == 0 ||
		           (nnv && strcmp(nnv, image) == 0))) {
			*out = strdup(nv);
			if (*out == NULL)
				rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
	}
out:
	yamledit_release(&doc);
	buf_release(&path);
	buf_release(&src);
	return rc;
}

int
kustomize_set_images(const struct fsroot *root, const char *dir,
                     const struct kustomize_image *imgs, size_t n,
                     const struct yamledit_opts *opts,
                     struct wb_changes *changes, struct err *err)
{
	struct buf path = BUF_INIT, src = BUF_INIT, cur = BUF_INIT;
	struct wb_changes local = WB_CHANGES_INIT;
	int rc = 0;

	for (size_t i = 0; i < n; i++)
		for (size_t j = i + 1; j < n; j++)
			if (strcmp(imgs[i].name, imgs[j].name) == 0)
				return err_set(err, ERR_INVALID,
				               "image '%s' given twice",
				               imgs[i].name);
	if ((rc = kustomization_find(&path, root, dir, err)) < 0)
		goto out;
	rc = yamledit_file_read(&src, root, path.ptr, FSROOT_NOFOLLOW, err);
	if (rc < 0)
		goto out;
	buf_add(&cur, src.ptr, src.len);
	if (!buf_ok(&cur)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = set_one(&cur, &imgs[i], path.ptr, &local, err);
	if (rc < 0)
		goto out;
	lines_final(&local, &cur, imgs, n);
	rc = yamledit_file_finish(root, path.ptr, path.ptr, src.ptr, src.len,
	                          &cur, opts, err);
	if (rc > 0) {
		rc = wb_changes_add_file(changes, path.ptr) < 0
		             ? err_set(err, ERR_NOMEM, "out of memory")
		             : 0;
	}
	for (size_t i = 0; i < local.n && rc == 0; i++)
		if (wb_changes_add(changes, &local.v[i]) < 0)
			rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	wb_changes_release(&local);
	buf_release(&path);
	buf_release(&src);
	buf_release(&cur);
	return rc;
}
