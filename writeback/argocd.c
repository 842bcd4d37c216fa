/*
 * argocd.c - Argo CD's override files (.argocd-source-<app>.yaml) edited
 * as splices, the readers the pipeline asks what a target holds today,
 * application type discovery, and the template data of Argo CD Image
 * Updater's commit messages and branch names.  It does not talk to Git
 * or registries, and does not know where the values come from.
 */
#include "argocd.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "base/imageref.h"
#include "base/util.h"

/* Most parts a Helm value path may have (as helm.c). */
#define ARGOCD_MAX_KEY_PARTS 64

/* ---- image strings ---- */

void
argocd_image_ref_split(struct argocd_image_ref *out, const char *s)
{
	const char *rest = s, *eq = strchr(s, '='), *at, *end, *slash = NULL,
	           *colon = NULL;

	memset(out, 0, sizeof(*out));
	if (eq) {
		out->alias = s;
		out->alias_len = (size_t)(eq - s);
		rest = eq + 1;
	}
	at = strchr(rest, '@');
	end = at ? at : rest + strlen(rest);
	if (at) {
		out->digest = at + 1;
		out->digest_len = strlen(at + 1);
	}
	for (const char *p = rest; p < end; p++)
		if (*p == '/')
			slash = p;
	for (const char *p = slash ? slash : rest; p < end; p++)
		if (*p == ':')
			colon = p;
	out->name = rest;
	out->name_len = (size_t)((colon ? colon : end) - rest);
	if (colon) {
		out->tag = colon + 1;
		out->tag_len = (size_t)(end - colon - 1);
	}
}

/* name without a docker.io registry (and then without "library/"). */
static void
hub_strip(const char **s, size_t *len)
{
	static const char *const hubs[] = { "docker.io/", "index.docker.io/",
		                            NULL };

	for (size_t i = 0; hubs[i]; i++) {
		size_t l = strlen(hubs[i]);

		if (*len > l && memcmp(*s, hubs[i], l) == 0) {
			*s += l;
			*len -= l;
			if (*len > 8 && memcmp(*s, "library/", 8) == 0) {
				*s += 8;
				*len -= 8;
			}
			return;
		}
	}
}

bool
argocd_image_same(const char *a, size_t alen, const char *b, size_t blen)
{
	hub_strip(&a, &alen);
	hub_strip(&b, &blen);
	return alen == blen && memcmp(a, b, alen) == 0;
}

/*
 * true when two kustomize.images entries set the same image: `kustomize
 * edit set image` keys an entry on the name before '=' (ALIAS=NAME:TAG
 * replaces image ALIAS), else on its name.
 */
static bool
kustomize_same(const struct argocd_image_ref *a,
               const struct argocd_image_ref *b)
{
	return argocd_image_same(a->alias ? a->alias : a->name,
	                         a->alias ? a->alias_len : a->name_len,
	                         b->alias ? b->alias : b->name,
	                         b->alias ? b->alias_len : b->name_len);
}

/* A kustomize image string's parts against the reference grammar. */
static int
image_string_check(const char *s, struct err *err)
{
	struct argocd_image_ref r;

	argocd_image_ref_split(&r, s);
	if ((r.alias && !imageref_name_valid(r.alias, r.alias_len)) ||
	    !imageref_name_valid(r.name, r.name_len) ||
	    (r.tag && !imageref_tag_valid(r.tag, r.tag_len)) ||
	    (r.digest && !imageref_digest_valid(r.digest, r.digest_len)))
		return err_set(err, ERR_INVALID,
		               "'%s' is not a kustomize image "
		               "([ALIAS=]NAME[:TAG][@DIGEST])",
		               s);
	return 0;
}

/* Go's ImageTag.Equals over two image strings: digests first. */
static bool
same_version(const struct argocd_image_ref *a, const struct argocd_image_ref *b)
{
	if (a->digest || b->digest)
		return a->digest && b->digest &&
		       a->digest_len == b->digest_len &&
		       memcmp(a->digest, b->digest, a->digest_len) == 0;
	return a->tag_len == b->tag_len &&
	       (a->tag_len == 0 || memcmp(a->tag, b->tag, a->tag_len) == 0);
}

/* ---- the override file ---- */

static void
pad(struct buf *b, size_t n)
{
	while (n--)
		buf_putc(b, ' ');
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

static bool
empty_scalar(const struct yamledit_doc *d, int n)
{
	return n >= 0 && d->nodes[n].type == YAMLEDIT_SCALAR &&
	       d->nodes[n].style == YAMLEDIT_PLAIN &&
	       d->nodes[n].value_len == 0;
}

/* The text before item on its line ("  - ") when it is only blanks and
 * one '-'; else a layout of dash at col. */
static void
item_prefix(struct buf *out, const struct yamledit_doc *d, int item, size_t col)
{
	size_t ls = yamledit_line_start(d, d->nodes[item].start);
	bool ok = true, dash = false;

	for (size_t i = ls; i < d->nodes[item].start; i++) {
		if (d->src[i] == '-' && !dash)
			dash = true;
		else if (d->src[i] != ' ')
			ok = false;
	}
	if (ok && dash) {
		buf_add(out, d->src + ls, d->nodes[item].start - ls);
		return;
	}
	pad(out, col);
	buf_puts(out, "- ");
}

struct src_file {
	struct buf old;  /* the bytes read ("" when new) */
	struct buf real; /* canonical path (what is written) */
	bool exists;
	bool blank; /* no document at all: only comments or blanks */
	struct yamledit_doc doc;
	int root; /* block mapping, or -1 when blank */
};

static void
src_release(struct src_file *f)
{
	buf_release(&f->old);
	buf_release(&f->real);
	yamledit_release(&f->doc);
}

/* Reads and parses the override file; a missing one is blank. */
static int
src_open(struct src_file *f, const struct fsroot *root, const char *path,
         struct err *err)
{
	struct err e = ERR_INIT;
	const char *slash;
	int rc;

	memset(f, 0, sizeof(*f));
	f->doc = (struct yamledit_doc)YAMLEDIT_DOC_INIT;
	f->root = -1;
	rc = yamledit_file_read(&f->old, root, path, 0, &e);
	if (rc == -ERR_NOTFOUND) {
		/* a new file: its directory's real path and its name */
		struct buf dir = BUF_INIT;

		slash = strrchr(path, '/');
		if (slash)
			buf_add(&dir, path, (size_t)(slash - path));
		rc = fsroot_realpath(root, dir.len ? dir.ptr : "", 0, &f->real,
		                     err);
		buf_release(&dir);
		if (rc < 0)
			return rc;
		if (f->real.len)
			buf_putc(&f->real, '/');
		buf_puts(&f->real, slash ? slash + 1 : path);
		buf_puts(&f->old, "");
		f->blank = true;
		return buf_ok(&f->real) && buf_ok(&f->old)
		               ? 0
		               : err_set(err, ERR_NOMEM, "out of memory");
	}
	if (rc < 0)
		return err_set(err, e.code, "%s", e.msg);
	f->exists = true;
	if ((rc = fsroot_realpath(root, path, 0, &f->real, err)) < 0)
		return rc;
	if (f->old.len == 0 && !buf_ok(&f->old))
		return err_set(err, ERR_NOMEM, "out of memory");
	if (f->old.ptr == NULL)
		buf_puts(&f->old, "");
	if ((rc = yamledit_parse(&f->doc, f->old.ptr, f->old.len, path, err)) <
	    0)
		return rc;
	if (f->doc.ndocs == 0 ||
	    (f->doc.ndocs == 1 && empty_scalar(&f->doc, f->doc.roots[0]))) {
		f->blank = true;
		return 0;
	}
	if (f->doc.ndocs != 1 || f->doc.roots[0] < 0 ||
	    f->doc.nodes[f->doc.roots[0]].type != YAMLEDIT_MAPPING ||
	    f->doc.nodes[f->doc.roots[0]].style != YAMLEDIT_BLOCK)
		return err_set(err, ERR_INVALID,
		               "%s: an override file must be one document "
		               "holding a block mapping (not overwritten: edit "
		               "or remove it)",
		               path);
	f->root = f->doc.roots[0];
	return 0;
}

/* Appends text to a blank file's bytes (after a line break). */
static int
src_append(struct buf *out, const struct src_file *f, const char *text)
{
	buf_add(out, f->old.ptr, f->old.len);
	if (f->old.len && f->old.ptr[f->old.len - 1] != '\n')
		buf_putc(out, '\n');
	buf_puts(out, text);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

static int
src_note(struct wb_changes *changes, const char *file, unsigned line,
         const char *setter, const char *old, const char *new_)
{
	struct wb_change ch;

	memset(&ch, 0, sizeof(ch));
	ch.file = (char *)file;
	ch.line = line;
	ch.old_value = (char *)old;
	ch.new_value = (char *)new_;
	ch.setter = (char *)setter;
	return wb_changes_add(changes, &ch);
}

/* Writes (or, dry run, diffs) the new bytes; notes the file. */
static int
src_finish(struct src_file *f, const struct fsroot *root, const char *path,
           const struct buf *out, const struct yamledit_opts *opts,
           struct wb_changes *local, struct wb_changes *changes,
           struct err *err)
{
	int rc = yamledit_file_finish(root, f->real.ptr, path, f->old.ptr,
	                              f->old.len, out, opts, err);

	if (rc <= 0)
		return rc;
	for (size_t i = 0; i < local->n; i++)
		if (wb_changes_add(changes, &local->v[i]) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
	if (wb_changes_add_file(changes, f->real.ptr) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/* The value (block) node of key in map; -2 when map is not a block
 * mapping (an error), -1 when the key is absent. */
static int
block_get(const struct yamledit_doc *d, int map, const char *key)
{
	if (map < 0 || d->nodes[map].type != YAMLEDIT_MAPPING)
		return -2;
	return yamledit_map_get(d, map, key);
}

/*
 * The list node of sect.list ("kustomize.images") in f, and where to add
 * what is missing: *list >= 0 for a block sequence (items are added at
 * its end); else text to insert at *at (the missing keys, at their
 * indentation, ending with the list key line) and *item_col for the
 * items' dash, with *drop the node the insertion replaces (an empty
 * scalar or "[]").
 */
static int
locate_list(const struct src_file *f, const char *sect, const char *key,
            const char *path, int *list, size_t *at, struct buf *head,
            size_t *item_col, int *drop, size_t *del_start, size_t *del_end,
            struct err *err)
{
	const struct yamledit_doc *d = &f->doc;
	int s = yamledit_map_get(d, f->root, sect), l;
	bool need_eol;
	size_t col;

	*list = -1;
	*drop = -1;
	*del_start = *del_end = 0;
	if (s < 0) {
		col = d->nodes[f->root].col;
		*at = yamledit_after(d, f->root, &need_eol);
		if (need_eol)
			buf_puts(head, d->eol);
		pad(head, col);
		buf_addf(head, "%s:%s", sect, d->eol);
		pad(head, col + 2);
		buf_addf(head, "%s:%s", key, d->eol);
		*item_col = col + 2;
		return 0;
	}
	if (empty_scalar(d, s)) {
		int k = yamledit_key_of(d, s);

		col = d->nodes[k].col;
		*at = yamledit_line_next(d, d->nodes[k].start);
		if (*at == d->len && (*at == 0 || d->src[*at - 1] != '\n'))
			buf_puts(head, d->eol);
		pad(head, col + 2);
		buf_addf(head, "%s:%s", key, d->eol);
		*item_col = col + 2;
		*drop = s;
		return 0;
	}
	if ((l = block_get(d, s, key)) == -2 ||
	    d->nodes[s].style != YAMLEDIT_BLOCK)
		return err_set(err, ERR_INVALID,
		               "%s:%u: %s is not a block mapping", path,
		               d->nodes[s].line + 1, sect);
	if (l < 0) {
		col = d->nodes[d->nodes[s].first_child].col;
		*at = yamledit_after(d, s, &need_eol);
		if (need_eol)
			buf_puts(head, d->eol);
		pad(head, col);
		buf_addf(head, "%s:%s", key, d->eol);
		*item_col = col;
		return 0;
	}
	if (empty_scalar(d, l) || (d->nodes[l].type == YAMLEDIT_SEQUENCE &&
	                           d->nodes[l].style == YAMLEDIT_FLOW &&
	                           d->nodes[l].first_child < 0)) {
		int k = yamledit_key_of(d, l);

		*item_col = d->nodes[k].col;
		*drop = l;
		if (!empty_scalar(d, l)) {
			/* "key: []": the brackets go, the list follows */
			size_t ws = d->nodes[l].start;

			while (ws > 0 && (d->src[ws - 1] == ' ' ||
			                  d->src[ws - 1] == '\t'))
				ws--;
			*del_start = ws;
			*del_end = d->nodes[l].end;
		}
		*at = yamledit_line_next(d, d->nodes[k].start);
		if (*at == d->len && (*at == 0 || d->src[*at - 1] != '\n'))
			buf_puts(head, d->eol);
		return 0;
	}
	if (d->nodes[l].type != YAMLEDIT_SEQUENCE ||
	    d->nodes[l].style != YAMLEDIT_BLOCK)
		return err_set(
		        err, ERR_INVALID,
		        "%s:%u: %s.%s is not a block list (write it with "
		        "'- ' items to let it be edited)",
		        path, d->nodes[l].line + 1, sect, key);
	*list = l;
	return 0;
}

/* Applies ed (plus an insertion of text at at) to f into out. */
static int
src_apply(struct src_file *f, struct yamledit_edits *ed, const char *path,
          struct buf *out, struct err *err)
{
	if (ed->n == 0) {
		buf_add(out, f->old.ptr, f->old.len);
		return buf_ok(out) ? 0
		                   : err_set(err, ERR_NOMEM, "out of memory");
	}
	return yamledit_edits_apply(ed, &f->doc, out, path, err);
}

/*
 * The splice checks keep every old node in place, but not where a new one
 * lands; so the result is read back: sect.list must hold every value
 * asked for (kustomize: the image, at the version asked or one the merge
 * kept; helm: the parameter with the value and forcestring: true).  Lines
 * of the changes are taken from it.
 */
static int
verify_list(const struct buf *out, const char *sect, const char *key,
            const char *path, const char *const *images,
            const struct argocd_helm_param *params, size_t n,
            struct wb_changes *local, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	int rc, s, l;

	if ((rc = yamledit_parse(&d, out->ptr, out->len, path, err)) < 0)
		return rc;
	s = d.ndocs == 1 ? yamledit_map_get(&d, d.roots[0], sect) : -1;
	l = yamledit_map_get(&d, s, key);
	for (size_t i = 0; i < n && rc == 0; i++) {
		int hit = -1;

		for (int c = l >= 0 && d.nodes[l].type == YAMLEDIT_SEQUENCE
		                     ? d.nodes[l].first_child
		                     : -1;
		     c >= 0 && (images ? hit < 0 : hit != -2);
		     c = d.nodes[c].next_sibling) {
			if (images) {
				struct argocd_image_ref a, b;

				if (d.nodes[c].type != YAMLEDIT_SCALAR)
					continue;
				argocd_image_ref_split(&a, images[i]);
				argocd_image_ref_split(&b, d.nodes[c].value);
				if (kustomize_same(&a, &b))
					hit = c;
			} else {
				int nm = yamledit_map_get(&d, c, "name");
				int v = yamledit_map_get(&d, c, "value");
				int fs = yamledit_map_get(&d, c, "forcestring");

				if (nm < 0 ||
				    d.nodes[nm].type != YAMLEDIT_SCALAR ||
				    strcmp(d.nodes[nm].value, params[i].name))
					continue;
				hit = v >= 0 &&
				                      d.nodes[v].type ==
				                              YAMLEDIT_SCALAR &&
				                      strcmp(d.nodes[v].value,
				                             params[i].value) ==
				                              0 &&
				                      fs >= 0 &&
				                      d.nodes[fs].style ==
				                              YAMLEDIT_PLAIN &&
				                      strcmp(d.nodes[fs].value,
				                             "true") == 0
				              ? v
				              : -2;
			}
		}
		if (hit < 0)
			rc = err_set(
			        err, ERR_INVALID,
			        "%s: cannot place %s.%s entry '%s' safely in "
			        "this layout; edit it by hand once",
			        path, sect, key,
			        images ? images[i] : params[i].name);
		for (size_t k = 0; hit >= 0 && k < local->n; k++)
			if (local->v[k].line == 0 &&
			    strcmp(local->v[k].new_value,
			           images ? images[i] : params[i].value) == 0)
				local->v[k].line = d.nodes[hit].line + 1;
	}
	yamledit_release(&d);
	return rc;
}

int
argocd_source_kustomize(const struct fsroot *root, const char *path,
                        const char *const *images, size_t n,
                        const struct yamledit_opts *opts,
                        struct wb_changes *changes, struct err *err)
{
	struct src_file f;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct wb_changes local = WB_CHANGES_INIT;
	struct buf out = BUF_INIT, text = BUF_INIT, setter = BUF_INIT;
	size_t at = 0, item_col = 0, ds = 0, de = 0;
	int list = -1, drop = -1, rc;
	struct argocd_image_ref want;
	unsigned line;

	for (size_t i = 0; i < n; i++)
		if ((rc = image_string_check(images[i], err)) < 0)
			return err_prefix(err, "%s", path);
	if ((rc = src_open(&f, root, path, err)) < 0)
		goto out;
	if (f.blank) {
		buf_puts(&text, "kustomize:\n  images:\n");
		for (size_t i = 0; i < n; i++) {
			/* kustomize images are strings whatever they look
			 * like; plain unless that would read otherwise */
			buf_puts(&text, "  - ");
			if ((rc = yamledit_render(&text, YAMLEDIT_PLAIN,
			                          images[i], err)) < 0)
				goto out;
			buf_putc(&text, '\n');
			argocd_image_ref_split(&want, images[i]);
			buf_reset(&setter);
			buf_addf(&setter, "kustomize.images[%.*s]",
			         (int)want.name_len, want.name);
			line = line_of(f.old.ptr, f.old.len) +
			       (f.old.len && f.old.ptr[f.old.len - 1] != '\n') +
			       2 + (unsigned)i;
			if (src_note(&local, path, line, setter.ptr, "",
			             images[i]) < 0)
				goto nomem;
		}
		if (src_append(&out, &f, text.ptr) < 0)
			goto nomem;
		goto finish;
	}
	if ((rc = locate_list(&f, "kustomize", "images", path, &list, &at,
	                      &text, &item_col, &drop, &ds, &de, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		struct argocd_image_ref have;
		bool hit = false;

		argocd_image_ref_split(&want, images[i]);
		buf_reset(&setter);
		buf_addf(&setter, "kustomize.images[%.*s]", (int)want.name_len,
		         want.name);
		/* every entry of the image (a list written by hand may hold
		 * it twice, and a stale one would win) */
		for (int c = list >= 0 ? f.doc.nodes[list].first_child : -1;
		     c >= 0; c = f.doc.nodes[c].next_sibling) {
			if (f.doc.nodes[c].type != YAMLEDIT_SCALAR)
				continue;
			argocd_image_ref_split(&have, f.doc.nodes[c].value);
			if (!kustomize_same(&want, &have))
				continue;
			hit = true;
			/* mergeKustomizeOverride: replaced when it has no
			 * version, or the new one has another */
			if ((have.tag || have.digest) &&
			    (!(want.tag || want.digest) ||
			     same_version(&have, &want)))
				continue;
			if ((rc = yamledit_edits_replace(&ed, &f.doc, c,
			                                 images[i], err)) < 0)
				goto out;
			if (src_note(&local, path, f.doc.nodes[c].line + 1,
			             setter.ptr, f.doc.nodes[c].value,
			             images[i]) < 0)
				goto nomem;
		}
		if (hit)
			continue;
		if (list >= 0) {
			int last = f.doc.nodes[list].last_child;
			bool need_eol;

			if (text.len == 0) {
				at = yamledit_after(&f.doc, list, &need_eol);
				if (need_eol)
					buf_puts(&text, f.doc.eol);
			}
			item_prefix(&text, &f.doc, last, f.doc.nodes[list].col);
		} else {
			pad(&text, item_col);
			buf_puts(&text, "- ");
		}
		if ((rc = yamledit_render(&text, YAMLEDIT_PLAIN, images[i],
		                          err)) < 0)
			goto out;
		buf_puts(&text, f.doc.eol);
		if (src_note(&local, path, 0, setter.ptr, "", images[i]) < 0)
			goto nomem;
	}
	if (!buf_ok(&text) || !buf_ok(&setter))
		goto nomem;
	if (local.n > 0 && text.len > 0) {
		if (de > ds &&
		    (rc = yamledit_edits_delete(&ed, ds, de, drop, -1)) < 0)
			goto out;
		if ((rc = yamledit_edits_insert(&ed, at, text.ptr, text.len,
		                                (unsigned)item_col,
		                                de > ds ? -1 : drop, -1)) < 0)
			goto out;
	}
	if ((rc = src_apply(&f, &ed, path, &out, err)) < 0)
		goto out;
finish:
	if ((rc = verify_list(&out, "kustomize", "images", path, images, NULL,
	                      n, &local, err)) < 0)
		goto out;
	rc = src_finish(&f, root, path, &out, opts, &local, changes, err);
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	src_release(&f);
	yamledit_edits_release(&ed);
	wb_changes_release(&local);
	buf_release(&out);
	buf_release(&text);
	buf_release(&setter);
	return rc;
}

static int
param_cmp(const void *a, const void *b)
{
	return strcmp(((const struct argocd_helm_param *)a)->name,
	              ((const struct argocd_helm_param *)b)->name);
}

/* One parameter as new lines: prefix ("  - "), then its fields. */
static int
param_text(struct buf *b, const char *prefix, size_t prefix_len,
           const struct argocd_helm_param *p, const char *eol, struct err *err)
{
	buf_add(b, prefix, prefix_len);
	buf_puts(b, "name: ");
	if (yamledit_render(b, YAMLEDIT_PLAIN, p->name, err) < 0)
		return -ERR_INVALID;
	buf_puts(b, eol);
	pad(b, prefix_len);
	buf_puts(b, "value: ");
	if (yamledit_render(b, YAMLEDIT_PLAIN, p->value, err) < 0)
		return -ERR_INVALID;
	buf_puts(b, eol);
	pad(b, prefix_len);
	buf_addf(b, "forcestring: true%s", eol);
	return buf_ok(b) ? 0 : -ERR_NOMEM;
}

/* value and forcestring: true on the existing entry item. */
static int
param_edit(struct yamledit_edits *ed, const struct src_file *f, int item,
           const struct argocd_helm_param *p, const char *path,
           const char *setter, struct wb_changes *local, struct err *err)
{
	const struct yamledit_doc *d = &f->doc;
	int v = yamledit_map_get(d, item, "value");
	int fs = yamledit_map_get(d, item, "forcestring");
	const struct yamledit_node *in = &d->nodes[item];
	struct buf add = BUF_INIT;
	bool need_eol;
	size_t at = yamledit_after(d, item, &need_eol);
	int rc = 0;

	if (in->style != YAMLEDIT_BLOCK)
		return err_set(err, ERR_INVALID,
		               "%s:%u: helm.parameters entry '%s' is a flow "
		               "mapping; write it in block style to edit it",
		               path, in->line + 1, p->name);
	if (v >= 0 && (d->nodes[v].type != YAMLEDIT_SCALAR ||
	               (fs >= 0 && d->nodes[fs].type != YAMLEDIT_SCALAR)))
		return err_set(err, ERR_INVALID,
		               "%s:%u: helm.parameters entry '%s' holds a "
		               "value that is not a scalar",
		               path, in->line + 1, p->name);
	if (need_eol)
		buf_puts(&add, d->eol);
	if (v >= 0 && !empty_scalar(d, v) &&
	    strcmp(d->nodes[v].value, p->value) != 0) {
		rc = yamledit_edits_replace(ed, d, v, p->value, err);
		if (rc == 0 &&
		    src_note(local, path, d->nodes[v].line + 1, setter,
		             d->nodes[v].value, p->value) < 0)
			rc = err_set(err, ERR_NOMEM, "out of memory");
	} else if (v < 0 || empty_scalar(d, v)) {
		if (v >= 0) {
			/* "value:" with nothing: the value after the key */
			struct buf one = BUF_INIT;

			buf_putc(&one, ' ');
			rc = yamledit_render(&one, YAMLEDIT_PLAIN, p->value,
			                     err);
			if (rc == 0)
				rc = yamledit_edits_insert(
				        ed, d->nodes[v].start, one.ptr, one.len,
				        0, v, -1);
			buf_release(&one);
		} else {
			pad(&add, d->nodes[in->first_child].col);
			buf_puts(&add, "value: ");
			rc = yamledit_render(&add, YAMLEDIT_PLAIN, p->value,
			                     err);
			buf_puts(&add, d->eol);
		}
		if (rc == 0 &&
		    src_note(local, path, 0, setter, "", p->value) < 0)
			rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	if (rc == 0 && fs < 0) {
		pad(&add, d->nodes[in->first_child].col);
		buf_addf(&add, "forcestring: true%s", d->eol);
	} else if (rc == 0 && (d->nodes[fs].style != YAMLEDIT_PLAIN ||
	                       strcmp(d->nodes[fs].value, "true") != 0)) {
		/* the boolean true, not the string: raw bytes, not a
		 * rendered scalar (which would quote it) */
		rc = yamledit_edits_insert(ed, d->nodes[fs].start, "true", 4, 0,
		                           -1, -1);
		if (rc == 0)
			rc = yamledit_edits_delete(ed, d->nodes[fs].start,
			                           d->nodes[fs].end, fs, -1);
	}
	if (rc == 0 && add.len > (need_eol ? strlen(d->eol) : 0))
		rc = yamledit_edits_insert(ed, at, add.ptr, add.len, in->col,
		                           -1, -1);
	if (rc == 0 && !buf_ok(&add))
		rc = err_set(err, ERR_NOMEM, "out of memory");
	buf_release(&add);
	return rc;
}

int
argocd_source_helm(const struct fsroot *root, const char *path,
                   const struct argocd_helm_param *params, size_t n,
                   const struct yamledit_opts *opts, struct wb_changes *changes,
                   struct err *err)
{
	struct src_file f;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct wb_changes local = WB_CHANGES_INIT;
	struct buf out = BUF_INIT, text = BUF_INIT, setter = BUF_INIT,
	           prefix = BUF_INIT;
	struct argocd_helm_param *sorted = NULL;
	size_t at = 0, item_col = 0, ds = 0, de = 0;
	int list = -1, drop = -1, rc;
	struct err e = ERR_INIT;

	for (size_t i = 0; i < n; i++)
		if (yamledit_value_check(YAMLEDIT_VALUE_ANY, params[i].value,
		                         strlen(params[i].value), &e) < 0 &&
		    !(strchr(params[i].value, '@') &&
		      yamledit_value_check(YAMLEDIT_VALUE_REF, params[i].value,
		                           strlen(params[i].value), &e) == 0))
			return err_set(err, ERR_INVALID,
			               "%s: helm parameter '%s': %s", path,
			               params[i].name, e.msg);
	/* Argo CD Image Updater keeps the list sorted by name */
	if ((sorted = calloc(n ? n : 1, sizeof(*sorted))) == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	memcpy(sorted, params, n * sizeof(*sorted));
	qsort(sorted, n, sizeof(*sorted), param_cmp);
	if ((rc = src_open(&f, root, path, err)) < 0)
		goto out;
	if (f.blank) {
		buf_puts(&text, "helm:\n  parameters:\n");
		for (size_t i = 0; i < n; i++) {
			if ((rc = param_text(&text, "  - ", 4, &sorted[i], "\n",
			                     err)) < 0)
				goto out;
			buf_reset(&setter);
			buf_addf(&setter, "helm.parameters[%s]",
			         sorted[i].name);
			if (src_note(&local, path, 0, setter.ptr, "",
			             sorted[i].value) < 0)
				goto nomem;
		}
		if (src_append(&out, &f, text.ptr) < 0)
			goto nomem;
		goto finish;
	}
	if ((rc = locate_list(&f, "helm", "parameters", path, &list, &at, &text,
	                      &item_col, &drop, &ds, &de, err)) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		int hit = -1, before = -1;

		buf_reset(&setter);
		buf_addf(&setter, "helm.parameters[%s]", sorted[i].name);
		/* every entry of that name: Helm takes the last --set, so a
		 * stale duplicate would win */
		for (int c = list >= 0 ? f.doc.nodes[list].first_child : -1;
		     c >= 0; c = f.doc.nodes[c].next_sibling) {
			int nm = yamledit_map_get(&f.doc, c, "name");

			if (nm < 0 || f.doc.nodes[nm].type != YAMLEDIT_SCALAR)
				continue;
			if (strcmp(f.doc.nodes[nm].value, sorted[i].name) ==
			    0) {
				hit = c;
				if ((rc = param_edit(&ed, &f, c, &sorted[i],
				                     path, setter.ptr, &local,
				                     err)) < 0)
					goto out;
			} else if (before < 0 && strcmp(f.doc.nodes[nm].value,
			                                sorted[i].name) > 0) {
				before = c;
			}
		}
		if (hit >= 0)
			continue;
		if (list >= 0) {
			struct buf one = BUF_INIT;
			int ref = before >= 0 ? before
			                      : f.doc.nodes[list].last_child;
			size_t off;
			bool need_eol = false;

			buf_reset(&prefix);
			item_prefix(&prefix, &f.doc, ref,
			            f.doc.nodes[list].col);
			if (before >= 0) {
				/* in place of the item after it, which moves
				 * down behind a "- " of its own: the list and
				 * its first item keep where they start */
				struct buf tmp = BUF_INIT;

				off = f.doc.nodes[before].start;
				rc = param_text(&tmp, prefix.ptr, prefix.len,
				                &sorted[i], f.doc.eol, err);
				if (rc == 0 && tmp.len >= prefix.len) {
					buf_add(&one, tmp.ptr + prefix.len,
					        tmp.len - prefix.len);
					buf_add(&one, prefix.ptr, prefix.len);
				}
				buf_release(&tmp);
			} else {
				off = yamledit_after(&f.doc, list, &need_eol);
				if (need_eol)
					buf_puts(&one, f.doc.eol);
				rc = param_text(&one, prefix.ptr, prefix.len,
				                &sorted[i], f.doc.eol, err);
			}
			if (rc == 0)
				rc = yamledit_edits_insert(
				        &ed, off, one.ptr, one.len,
				        f.doc.nodes[list].col, -1, -1);
			buf_release(&one);
			if (rc < 0)
				goto out;
		} else {
			buf_reset(&prefix);
			pad(&prefix, item_col);
			buf_puts(&prefix, "- ");
			if ((rc = param_text(&text, prefix.ptr, prefix.len,
			                     &sorted[i], f.doc.eol, err)) < 0)
				goto out;
		}
		if (src_note(&local, path, 0, setter.ptr, "", sorted[i].value) <
		    0)
			goto nomem;
	}
	if (!buf_ok(&text) || !buf_ok(&setter) || !buf_ok(&prefix))
		goto nomem;
	if (list < 0 && local.n > 0) {
		if (de > ds &&
		    (rc = yamledit_edits_delete(&ed, ds, de, drop, -1)) < 0)
			goto out;
		if ((rc = yamledit_edits_insert(&ed, at, text.ptr, text.len,
		                                (unsigned)item_col,
		                                de > ds ? -1 : drop, -1)) < 0)
			goto out;
	}
	if ((rc = src_apply(&f, &ed, path, &out, err)) < 0)
		goto out;
finish:
	if ((rc = verify_list(&out, "helm", "parameters", path, NULL, sorted, n,
	                      &local, err)) < 0)
		goto out;
	rc = src_finish(&f, root, path, &out, opts, &local, changes, err);
	goto out;
nomem:
	rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	free(sorted);
	src_release(&f);
	yamledit_edits_release(&ed);
	wb_changes_release(&local);
	buf_release(&out);
	buf_release(&text);
	buf_release(&setter);
	buf_release(&prefix);
	return rc;
}

/* ---- readers ---- */

/* Parses path beneath root; *doc_out is released when absent (*found
 * false). */
static int
read_doc(struct yamledit_doc *doc, struct buf *bytes, bool *found,
         const struct fsroot *root, const char *path, struct err *err)
{
	struct err e = ERR_INIT;
	int rc;

	*found = false;
	rc = yamledit_file_read(bytes, root, path, 0, &e);
	if (rc == -ERR_NOTFOUND)
		return 0;
	if (rc < 0)
		return err_set(err, e.code, "%s", e.msg);
	if (bytes->ptr == NULL && buf_puts(bytes, "") < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	if ((rc = yamledit_parse(doc, bytes->ptr, bytes->len, path, err)) < 0)
		return rc;
	*found = doc->ndocs == 1 && doc->roots[0] >= 0 &&
	         doc->nodes[doc->roots[0]].type == YAMLEDIT_MAPPING;
	return 0;
}

static int
dup_out(char **out, const char *s, struct err *err)
{
	if ((*out = strdup(s)) == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int
argocd_source_kustomize_get(char **out, const struct fsroot *root,
                            const char *path, const char *name, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct buf bytes = BUF_INIT;
	bool found;
	int rc, l;

	*out = NULL;
	if ((rc = read_doc(&d, &bytes, &found, root, path, err)) < 0 || !found)
		goto out;
	l = yamledit_map_get(&d, yamledit_map_get(&d, d.roots[0], "kustomize"),
	                     "images");
	for (int c = l >= 0 && d.nodes[l].type == YAMLEDIT_SEQUENCE
	                     ? d.nodes[l].first_child
	                     : -1;
	     c >= 0 && *out == NULL; c = d.nodes[c].next_sibling) {
		struct argocd_image_ref r;

		if (d.nodes[c].type != YAMLEDIT_SCALAR)
			continue;
		argocd_image_ref_split(&r, d.nodes[c].value);
		if (argocd_image_same(r.name, r.name_len, name, strlen(name)))
			rc = dup_out(out, d.nodes[c].value, err);
	}
out:
	yamledit_release(&d);
	buf_release(&bytes);
	return rc;
}

int
argocd_source_helm_get(char **out, const struct fsroot *root, const char *path,
                       const char *param, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct buf bytes = BUF_INIT;
	bool found;
	int rc, l;

	*out = NULL;
	if ((rc = read_doc(&d, &bytes, &found, root, path, err)) < 0 || !found)
		goto out;
	l = yamledit_map_get(&d, yamledit_map_get(&d, d.roots[0], "helm"),
	                     "parameters");
	for (int c = l >= 0 && d.nodes[l].type == YAMLEDIT_SEQUENCE
	                     ? d.nodes[l].first_child
	                     : -1;
	     c >= 0 && *out == NULL; c = d.nodes[c].next_sibling) {
		int nm = yamledit_map_get(&d, c, "name");
		int v = yamledit_map_get(&d, c, "value");

		if (nm >= 0 && v >= 0 && d.nodes[nm].type == YAMLEDIT_SCALAR &&
		    d.nodes[v].type == YAMLEDIT_SCALAR &&
		    strcmp(d.nodes[nm].value, param) == 0)
			rc = dup_out(out, d.nodes[v].value, err);
	}
out:
	yamledit_release(&d);
	buf_release(&bytes);
	return rc;
}

/* The node at a Helm value path in d (nested keys and [N] indexes), or
 * -1.  Argo CD's resolveHelmScalarNode. */
static int
values_node(const struct yamledit_doc *d, int map, const char *key)
{
	const char *p = key;
	int node = map;

	while (*p && node >= 0) {
		size_t l = strcspn(p, ".[");
		char part[256];

		if (l >= sizeof(part))
			return -1;
		memcpy(part, p, l);
		part[l] = '\0';
		p += l;
		if (l > 0)
			node = yamledit_map_get(d, node, part);
		while (*p == '[' && node >= 0) {
			char *end;
			long idx = strtol(p + 1, &end, 10);

			if (end == p + 1 || *end != ']' || idx < 0 ||
			    d->nodes[node].type != YAMLEDIT_SEQUENCE)
				return -1;
			node = yamledit_seq_get(d, node, (size_t)idx);
			p = end + 1;
		}
		if (*p == '.')
			p++;
		else if (*p)
			return -1;
	}
	return node;
}

int
argocd_values_get(char **out, const struct fsroot *root, const char *path,
                  const char *key, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct buf bytes = BUF_INIT;
	bool found;
	int rc, n;

	*out = NULL;
	if ((rc = read_doc(&d, &bytes, &found, root, path, err)) < 0 || !found)
		goto out;
	n = values_node(&d, d.roots[0], key);
	if (n < 0 || d.nodes[n].type != YAMLEDIT_SCALAR)
		n = yamledit_map_get(&d, d.roots[0], key); /* a literal key */
	if (n >= 0 && d.nodes[n].type == YAMLEDIT_SCALAR &&
	    !empty_scalar(&d, n))
		rc = dup_out(out, d.nodes[n].value, err);
out:
	yamledit_release(&d);
	buf_release(&bytes);
	return rc;
}

static const char *const kust_files[] = { "kustomization.yaml",
	                                  "kustomization.yml", "Kustomization",
	                                  NULL };

void
argocd_kustomize_entry_release(struct argocd_kustomize_entry *e)
{
	free(e->new_name);
	free(e->new_tag);
	free(e->digest);
	memset(e, 0, sizeof(*e));
}

int
argocd_kustomization_get(struct argocd_kustomize_entry *out,
                         const struct fsroot *root, const char *dir,
                         const char *name, struct err *err)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct buf bytes = BUF_INIT, path = BUF_INIT;
	bool found = false;
	int rc = 0, l;

	memset(out, 0, sizeof(*out));
	for (size_t i = 0; kust_files[i] && !found; i++) {
		buf_reset(&path);
		buf_addf(&path, "%s%s%s", dir, *dir ? "/" : "", kust_files[i]);
		if (!buf_ok(&path)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		yamledit_release(&d);
		buf_reset(&bytes);
		if ((rc = read_doc(&d, &bytes, &found, root, path.ptr, err)) <
		    0)
			goto out;
		if (!found && bytes.len > 0)
			break; /* there, but not a mapping */
	}
	if (!found) {
		rc = err_set(err, ERR_NOTFOUND, "no kustomization in '%s'",
		             *dir ? dir : ".");
		goto out;
	}
	l = yamledit_map_get(&d, d.roots[0], "images");
	for (int c = l >= 0 && d.nodes[l].type == YAMLEDIT_SEQUENCE
	                     ? d.nodes[l].first_child
	                     : -1;
	     c >= 0; c = d.nodes[c].next_sibling) {
		int nm = yamledit_map_get(&d, c, "name");
		static const char *const f[] = { "newName", "newTag",
			                         "digest" };
		char **at[] = { &out->new_name, &out->new_tag, &out->digest };

		if (nm < 0 || d.nodes[nm].type != YAMLEDIT_SCALAR ||
		    strcmp(d.nodes[nm].value, name) != 0)
			continue;
		for (size_t k = 0; k < 3 && rc == 0; k++) {
			int v = yamledit_map_get(&d, c, f[k]);

			if (v >= 0 && d.nodes[v].type == YAMLEDIT_SCALAR &&
			    !empty_scalar(&d, v))
				rc = dup_out(at[k], d.nodes[v].value, err);
		}
		break;
	}
out:
	if (rc < 0)
		argocd_kustomize_entry_release(out);
	yamledit_release(&d);
	buf_release(&bytes);
	buf_release(&path);
	return rc;
}

int
argocd_manifests_image_get(char **out, const struct fsroot *root,
                           const char *dir, const char *name, struct err *err)
{
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct buf path = BUF_INIT;
	int rc;

	*out = NULL;
	if ((rc = fsroot_list(root, *dir ? dir : ".", 0, &l, err)) < 0)
		return rc == -ERR_NOTFOUND ? 0 : rc;
	for (size_t i = 0; i < l.n && *out == NULL && rc == 0; i++) {
		const char *nm = l.v[i].name;
		size_t len = strlen(nm);
		struct yamledit_doc d = YAMLEDIT_DOC_INIT;
		struct buf bytes = BUF_INIT;
		struct err e = ERR_INIT;
		bool skip = l.v[i].type != FSROOT_FILE || nm[0] == '.' ||
		            !(str_has_suffix(nm, len, ".yaml") ||
		              str_has_suffix(nm, len, ".yml"));

		for (size_t k = 0; kust_files[k] && !skip; k++)
			skip = strcmp(nm, kust_files[k]) == 0;
		if (skip)
			continue;
		buf_reset(&path);
		buf_addf(&path, "%s%s%s", dir, *dir ? "/" : "", nm);
		if (!buf_ok(&path)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		if (yamledit_file_read(&bytes, root, path.ptr, 0, &e) == 0 &&
		    bytes.ptr &&
		    yamledit_parse(&d, bytes.ptr, bytes.len, path.ptr, &e) ==
		            0) {
			for (size_t n = 0; n < d.n && *out == NULL; n++) {
				const struct yamledit_node *v = &d.nodes[n];
				struct argocd_image_ref r;
				int k;

				if (v->type != YAMLEDIT_SCALAR || v->is_key ||
				    (k = v->prev_sibling) < 0 ||
				    d.nodes[k].type != YAMLEDIT_SCALAR ||
				    strcmp(d.nodes[k].value, "image") != 0)
					continue;
				argocd_image_ref_split(&r, v->value);
				if (r.alias || !(r.tag || r.digest) ||
				    !argocd_image_same(r.name, r.name_len, name,
				                       strlen(name)))
					continue;
				if ((*out = strdup(
				             r.tag ? r.tag
				                   : r.name + r.name_len)) ==
				    NULL)
					rc = err_set(err, ERR_NOMEM,
					             "out of memory");
			}
		}
		yamledit_release(&d);
		buf_release(&bytes);
	}
	fsroot_list_release(&l);
	buf_release(&path);
	return rc;
}

int
argocd_app_type_detect(enum argocd_app_type *out, const struct fsroot *root,
                       const char *dir, struct err *err)
{
	struct fsroot_list l = FSROOT_LIST_INIT;
	bool helm = false, kust = false;
	int rc;

	*out = ARGOCD_APP_DIRECTORY;
	if ((rc = fsroot_list(root, *dir ? dir : ".", 0, &l, err)) < 0)
		return rc;
	for (size_t i = 0; i < l.n; i++) {
		const char *nm = l.v[i].name;
		size_t len = strlen(nm);

		if (l.v[i].type == FSROOT_DIR)
			continue;
		for (size_t k = 0; kust_files[k]; k++)
			kust |= strcmp(nm, kust_files[k]) == 0;
		/* discovery.Discover: a name ending in Chart.yaml */
		helm |= len >= 10 && strcmp(nm + len - 10, "Chart.yaml") == 0;
	}
	fsroot_list_release(&l);
	/* the walk meets the kustomization after Chart.yaml and keeps it */
	*out = kust   ? ARGOCD_APP_KUSTOMIZE
	       : helm ? ARGOCD_APP_HELM
	              : ARGOCD_APP_DIRECTORY;
	return 0;
}

/* ---- template data ---- */

int
argocd_message_data(struct template_data *d, const char *app_name,
                    const struct argocd_change *changes, size_t n,
                    struct template_value **out, struct err *err)
{
	struct template_value *root, *list;

	*out = NULL;
	root = template_value_struct(d, "argocd.commitMessageTemplate", NULL);
	list = template_value_list(d);
	for (size_t i = 0; i < n; i++) {
		struct template_value *e = template_value_struct(
		        d, "argocd.commitMessageChange", NULL);

		template_struct_set(d, e, "Image",
		                    template_value_cstr(d, changes[i].image));
		template_struct_set(d, e, "OldTag",
		                    template_value_cstr(d, changes[i].old_tag));
		template_struct_set(d, e, "NewTag",
		                    template_value_cstr(d, changes[i].new_tag));
		template_struct_set(
		        d, e, "Labels",
		        template_value_map_named(d, "map[string]string"));
		template_list_append(d, list, e);
	}
	template_struct_set(d, root, "AppName",
	                    template_value_cstr(d, app_name));
	template_struct_set(d, root, "AppChanges", list);
	if (!template_data_ok(d))
		return err_set(err, ERR_NOMEM, "template data: out of memory");
	*out = root;
	return 0;
}

int
argocd_branch_data(struct template_data *d, const char *app_ns,
                   const char *app_name, const char *target_key,
                   const struct argocd_change *changes, size_t n,
                   struct template_value **out, struct err *err)
{
	struct template_value *root, *list;
	crypto_hash_sha256_state h;
	unsigned char sum[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	struct buf id = BUF_INIT;

	*out = NULL;
	crypto_hash_sha256_init(&h);
	root = template_value_struct(d, "argocd.branchNameTemplate", NULL);
	list = template_value_list(d);
	for (size_t i = 0; i < n; i++) {
		struct template_value *e =
		        template_value_struct(d, "argocd.imageChange", NULL);

		template_struct_set(d, e, "Name",
		                    template_value_cstr(d, changes[i].image));
		template_struct_set(d, e, "Alias",
		                    template_value_cstr(d, changes[i].alias));
		template_struct_set(d, e, "OldTag",
		                    template_value_cstr(d, changes[i].old_tag));
		template_struct_set(d, e, "NewTag",
		                    template_value_cstr(d, changes[i].new_tag));
		template_list_append(d, list, e);
		buf_reset(&id);
		buf_addf(&id, "%s-%s-%s,", changes[i].image, changes[i].old_tag,
		         changes[i].new_tag);
		if (!buf_ok(&id)) {
			buf_release(&id);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		crypto_hash_sha256_update(&h, (const unsigned char *)id.ptr,
		                          id.len);
	}
	buf_release(&id);
	crypto_hash_sha256_final(&h, sum);
	sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
	template_struct_set(d, root, "AppNamespace",
	                    template_value_cstr(d, app_ns));
	template_struct_set(d, root, "AppName",
	                    template_value_cstr(d, app_name));
	template_struct_set(d, root, "TargetKey",
	                    template_value_cstr(d, target_key));
	template_struct_set(d, root, "Images", list);
	template_struct_set(d, root, "SHA256", template_value_cstr(d, hex));
	if (!template_data_ok(d))
		return err_set(err, ERR_NOMEM, "template data: out of memory");
	*out = root;
	return 0;
}

void
argocd_target_key(char out[9], const char *repo, const char *branch,
                  const char *target)
{
	unsigned char sum[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];
	crypto_hash_sha256_state h;

	crypto_hash_sha256_init(&h);
	crypto_hash_sha256_update(&h, (const unsigned char *)repo,
	                          strlen(repo));
	crypto_hash_sha256_update(&h, (const unsigned char *)"|", 1);
	crypto_hash_sha256_update(&h, (const unsigned char *)branch,
	                          strlen(branch));
	crypto_hash_sha256_update(&h, (const unsigned char *)"|", 1);
	crypto_hash_sha256_update(&h, (const unsigned char *)target,
	                          strlen(target));
	crypto_hash_sha256_final(&h, sum);
	sodium_bin2hex(hex, sizeof(hex), sum, sizeof(sum));
	memcpy(out, hex, 8);
	out[8] = '\0';
}
