/*
 * setters.c - Flux's "$imagepolicy" setter markers over a directory tree.
 * The walk, the marker grammar and the value each suffix gets live here;
 * the byte-exact splicing is yamledit's and every file access is
 * fsroot's.  It does not resolve policies: the caller passes each
 * policy's latest image.
 *
 * A call has two phases: the walk lists directories (names and types
 * from readdir, no stat per file) and collects the candidate files in
 * walk order; then each file is read, edited and written as one item of a
 * pool batch, and the results are reported in walk order.
 */
#define _GNU_SOURCE /* memmem */
#include "setters.h"
#include "base/util.h"
#include "base/json.h"
#include "base/log.h"
#include "base/pool.h"

#include <cjson/cJSON.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Deepest directory nesting walked under the update path. */
#define SETTERS_MAX_DEPTH 64

/* A file the walk found, and what editing it gave. */
struct item {
	char *path;    /* canonical, relative to root: read and written */
	char *label;   /* the path the walk found (a link's own path) */
	bool via_link; /* found as a symlink */
	bool skip;     /* a link to a file the walk reaches otherwise */
	bool written;  /* written (or, in a dry run, would be) */
	int rc;
	struct err err;
	struct wb_changes changes;
	struct buf diff;
	struct buf notes; /* for opts->notes, in walk order */
};

struct walk {
	const struct fsroot *root;
	struct item *items;
	size_t nitems, capitems;
	const struct setters_policy *pol;
	size_t npol;
	const struct yamledit_opts *opts;
	struct wb_changes *changes;
	size_t problems;
	struct err first; /* the first problem */
	int fatal;        /* -ERR_NOMEM stops the walk */
};

int
setters_policy_parse(struct setters_policy *out, char *arg, struct err *err)
{
	char *eq = strchr(arg, '='), *colon, *at, *slash, *tagc;
	struct err e = ERR_INIT;

	memset(out, 0, sizeof(*out));
	if (eq == NULL)
		return err_set(err, ERR_INVALID,
		               "policy '%s' is not NS:NAME=IMAGE:TAG", arg);
	*eq = '\0';
	colon = strchr(arg, ':');
	if (colon == NULL || colon == arg || colon[1] == '\0' ||
	    strchr(colon + 1, ':') != NULL)
		return err_set(err, ERR_INVALID,
		               "policy name '%s' is not NAMESPACE:NAME", arg);
	*colon = '\0';
	out->namespace_ = arg;
	out->name = colon + 1;
	if (yamledit_value_check(YAMLEDIT_VALUE_REF, eq + 1, strlen(eq + 1),
	                         &e) < 0)
		return err_set(err, ERR_INVALID, "policy %s:%s: %s",
		               out->namespace_, out->name, e.msg);
	out->image = eq + 1;
	out->tag = "";
	out->digest = "";
	at = strchr(eq + 1, '@');
	if (at) {
		*at = '\0';
		out->digest = at + 1;
	}
	slash = strrchr(eq + 1, '/');
	tagc = strrchr(slash ? slash : eq + 1, ':');
	if (tagc) {
		*tagc = '\0';
		out->tag = tagc + 1;
	}
	return 0;
}

/* The JSON object must be the whole comment: nothing after its '}'. */
static bool
one_object(const char *p, size_t n)
{
	int depth = 0, in_str = 0, esc = 0;

	if (n < 2 || p[0] != '{' || p[n - 1] != '}')
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = p[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '{' || c == '[')
			depth++;
		else if ((c == '}' || c == ']') && --depth == 0)
			return i == n - 1;
	}
	return false;
}

/* Copies the setter name of a marker comment into name; 0 if none. */
static int
marker_parse(const char *p, size_t n, char name[SETTERS_MAX_NAME])
{
	struct err e = ERR_INIT;
	cJSON *root = NULL, *it;
	const char *v = NULL;
	int found = 0;

	if (!one_object(p, n) || memmem(p, n, "\"$imagepolicy\"", 14) == NULL)
		return 0;
	if (json_parse(&root, p, n, "marker", &e) < 0)
		return 0;
	if (!cJSON_IsObject(root))
		goto out;
	/* Flux reads the comment as an object of strings */
	cJSON_ArrayForEach(it, root) if (!cJSON_IsString(it)) goto out;
	v = json_get_string(root, "$imagepolicy");
	if (v && strlen(v) < SETTERS_MAX_NAME) {
		memcpy(name, v, strlen(v) + 1);
		found = 1;
	}
out:
	cJSON_Delete(root);
	return found;
}

bool
setters_marker_parse(const char *comment, size_t len,
                     char name[SETTERS_MAX_NAME])
{
	return marker_parse(comment, len, name) == 1;
}

/* Why setter_value() gave no value, or a caveat with the one it gave. */
enum setter_why {
	SETTER_OK,
	SETTER_NO_POLICY,    /* no policy given has that name */
	SETTER_UNKNOWN,      /* a suffix other than tag, name, digest */
	SETTER_NO_TAG,       /* the policy has no tag */
	SETTER_DIGEST_EMPTY, /* :digest of a policy that reflects none */
};

/* The value setter name gives, or NULL when it is not one of ours. */
static const char *
setter_value(const struct walk *w, const char *setter, struct buf *full,
             enum setter_why *why)
{
	const char *c1 = strchr(setter, ':'), *c2;
	size_t nslen, nlen;

	*why = SETTER_NO_POLICY;
	if (c1 == NULL)
		return NULL;
	nslen = (size_t)(c1 - setter);
	c2 = strchr(c1 + 1, ':');
	nlen = c2 ? (size_t)(c2 - c1 - 1) : strlen(c1 + 1);
	for (size_t i = 0; i < w->npol; i++) {
		const struct setters_policy *p = &w->pol[i];
		const char *tag = p->tag ? p->tag : "";
		const char *dig = p->digest ? p->digest : "";
		if (strlen(p->namespace_) != nslen ||
		    memcmp(p->namespace_, setter, nslen) != 0 ||
		    strlen(p->name) != nlen ||
		    memcmp(p->name, c1 + 1, nlen) != 0)
			continue;
		*why = SETTER_OK;
		if (c2 == NULL) {
			buf_reset(full);
			buf_puts(full, p->image);
			if (*tag)
				buf_addf(full, ":%s", tag);
			if (*dig)
				buf_addf(full, "@%s", dig);
			return buf_ok(full) ? full->ptr : NULL;
		}
		if (strcmp(c2 + 1, "tag") == 0) {
			if (*tag == '\0')
				*why = SETTER_NO_TAG;
			return *tag ? tag : NULL;
		}
		if (strcmp(c2 + 1, "name") == 0)
			return p->image;
		if (strcmp(c2 + 1, "digest") == 0) {
			/* Flux sets the reflected digest, empty when there is
			 * none: an old digest next to a new tag would pin the
			 * old image */
			if (*dig == '\0')
				*why = SETTER_DIGEST_EMPTY;
			return dig;
		}
		*why = SETTER_UNKNOWN;
		return NULL;
	}
	return NULL;
}

/*
 * What a marker did not get, or got with a caveat: logged, and noted on
 * the item for the caller (plan shows it), in walk order.  A marker of a
 * policy not given is only noted: `ferry setters apply` leaves those
 * alone by design.
 */
static void
note(const struct walk *w, struct item *it, unsigned line, const char *setter,
     enum setter_why why, const char *old)
{
	static const char *const text[] = {
		[SETTER_NO_POLICY] = "names no ImagePolicy of this update; "
		                     "left alone",
		[SETTER_UNKNOWN] = "has a suffix other than tag, name or "
		                   "digest; left alone",
		[SETTER_NO_TAG] = "its policy selects by digest, with no tag; "
		                  "left alone",
		[SETTER_DIGEST_EMPTY] =
		        "emptied: its policy reflects no digest "
		        "(spec.digestReflectionPolicy), and the "
		        "old one beside a new tag would run the "
		        "old image",
	};
	char num[32];

	if (why == SETTER_DIGEST_EMPTY)
		log_warn("setters", "digest_emptied", "file", it->label, "line",
		         log_num(num, line), "setter", setter, "old", old);
	if (w->opts == NULL || w->opts->notes == NULL)
		return;
	buf_addf(&it->notes, "%s:%u: setter '%s' %s\n", it->label, line, setter,
	         text[why]);
}

static void
problem(struct walk *w, const char *label, const struct err *e)
{
	log_warn("setters", "file_skipped", "file", label, "err", e->msg);
	if (w->problems++ == 0)
		w->first = *e;
	if (e->code == ERR_NOMEM)
		w->fatal = -ERR_NOMEM;
}

static void
nomem(struct walk *w, const char *label)
{
	struct err e = ERR_INIT;

	err_set(&e, ERR_NOMEM, "out of memory");
	problem(w, label, &e);
}

/* Queues a file for the edit phase. */
static int
item_add(struct walk *w, const char *path, const char *label, bool via_link)
{
	struct item *it;

	if (w->nitems == w->capitems) {
		size_t cap = w->capitems ? w->capitems * 2 : 256;
		struct item *v = reallocarray(w->items, cap, sizeof(*v));
		if (v == NULL)
			return -ERR_NOMEM;
		w->items = v;
		w->capitems = cap;
	}
	it = &w->items[w->nitems];
	memset(it, 0, sizeof(*it));
	it->changes = (struct wb_changes)WB_CHANGES_INIT;
	it->diff = (struct buf)BUF_INIT;
	it->err = (struct err)ERR_INIT;
	it->path = strdup(path);
	it->label = strdup(label);
	if (it->path == NULL || it->label == NULL) {
		free(it->path);
		free(it->label);
		return -ERR_NOMEM;
	}
	it->via_link = via_link;
	w->nitems++;
	return 0;
}

static void
items_release(struct walk *w)
{
	for (size_t i = 0; i < w->nitems; i++) {
		free(w->items[i].path);
		free(w->items[i].label);
		wb_changes_release(&w->items[i].changes);
		buf_release(&w->items[i].diff);
		buf_release(&w->items[i].notes);
	}
	free(w->items);
	w->items = NULL;
	w->nitems = w->capitems = 0;
}

/*
 * Edits one file: runs on a pool thread or the caller's.  It touches only
 * its own item and reads the walk's policies and options.
 */
static int
setters_file(const struct walk *w, struct item *it)
{
	struct buf src = BUF_INIT, out = BUF_INIT, full = BUF_INIT;
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct err *e = &it->err;
	char setter[SETTERS_MAX_NAME];
	const char *obj[4] = { "", "", "", "" };
	enum setter_why why;
	int rc = 0, obj_doc = -1;

	/* the path is canonical, so a link on the way is a race: refuse */
	rc = yamledit_file_read(&src, w->root, it->path, FSROOT_NOFOLLOW, e);
	if (rc < 0)
		goto out;
	if (memmem(src.ptr, src.len, "\"$imagepolicy\"", 14) == NULL)
		goto out;
	rc = yamledit_parse(&doc, src.ptr, src.len, it->label, e);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < doc.n; i++) {
		const struct yamledit_node *nd = &doc.nodes[i];
		const char *c, *val;
		size_t cn;
		int found = 0;
		struct wb_change ch;

		if (nd->type != YAMLEDIT_SCALAR || nd->is_key)
			continue;
		if (yamledit_line_comment(&doc, (int)i, &c, &cn))
			found = marker_parse(c, cn, setter);
		if (!found && yamledit_head_comment(&doc, (int)i, &c, &cn))
			found = marker_parse(c, cn, setter);
		if (!found)
			continue;
		val = setter_value(w, setter, &full, &why);
		if (why != SETTER_OK && why != SETTER_DIGEST_EMPTY)
			note(w, it, nd->line + 1, setter, why, nd->value);
		if (val == NULL || strcmp(val, nd->value) == 0)
			continue;
		if (why == SETTER_DIGEST_EMPTY)
			note(w, it, nd->line + 1, setter, why, nd->value);
		rc = yamledit_edits_replace(&ed, &doc, (int)i, val, e);
		if (rc < 0) {
			err_prefix(e, "%s: setter '%s'", it->label, setter);
			goto out;
		}
		memset(&ch, 0, sizeof(ch));
		ch.file = it->label;
		ch.line = nd->line + 1;
		/* One lookup per document, not per change: each lookup
		 * walks the document's root mapping. */
		if (nd->doc != obj_doc) {
			yamledit_doc_object(&doc, nd->doc, &obj[0], &obj[1],
			                    &obj[2], &obj[3]);
			obj_doc = nd->doc;
		}
		ch.api_version = (char *)obj[0];
		ch.kind = (char *)obj[1];
		ch.namespace_ = (char *)obj[2];
		ch.name = (char *)obj[3];
		ch.old_value = nd->value;
		ch.new_value = (char *)val;
		ch.setter = setter;
		if (wb_changes_add(&it->changes, &ch) < 0) {
			rc = err_set(e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ed.n == 0)
		goto out;
	rc = yamledit_edits_apply(&ed, &doc, &out, it->label, e);
	if (rc < 0)
		goto out;
	if (w->opts)
		o = *w->opts;
	o.diff = &it->diff; /* appended to the caller's in walk order */
	rc = yamledit_file_finish(w->root, it->path, it->label, src.ptr,
	                          src.len, &out, &o, e);
	if (rc > 0) {
		it->written = true;
		rc = 0;
	}
out:
	yamledit_edits_release(&ed);
	yamledit_release(&doc);
	buf_release(&src);
	buf_release(&out);
	buf_release(&full);
	return rc;
}

static void
item_run(size_t i, void *payload)
{
	struct walk *w = payload;
	struct item *it = &w->items[i];

	if (!it->skip)
		it->rc = setters_file(w, it);
}

/*
 * A symlink resolving to a file the walk also reached directly (or
 * through an earlier link) is dropped: the other path carries the same
 * edit, and writing one file twice would report it twice.
 */
static void
items_dedupe(struct walk *w)
{
	for (size_t i = 0; i < w->nitems; i++) {
		if (!w->items[i].via_link)
			continue;
		for (size_t k = 0; k < w->nitems; k++)
			if (k != i &&
			    strcmp(w->items[k].path, w->items[i].path) == 0 &&
			    (!w->items[k].via_link || k < i)) {
				w->items[i].skip = true;
				break;
			}
	}
}

/* Reports the items in walk order: problems, changes, files, diffs. */
static void
items_report(struct walk *w)
{
	for (size_t i = 0; i < w->nitems && !w->fatal; i++) {
		struct item *it = &w->items[i];
		if (it->skip)
			continue;
		if (it->notes.len &&
		    buf_add(w->opts->notes, it->notes.ptr, it->notes.len) < 0)
			nomem(w, it->label);
		if (it->rc < 0) {
			problem(w, it->label, &it->err);
			continue;
		}
		if (!it->written)
			continue;
		for (size_t k = 0; k < it->changes.n; k++)
			if (wb_changes_add(w->changes, &it->changes.v[k]) < 0) {
				nomem(w, it->label);
				break;
			}
		if (wb_changes_add_file(w->changes, it->path) < 0)
			nomem(w, it->label);
		if (w->opts && w->opts->diff && it->diff.len &&
		    buf_add(w->opts->diff, it->diff.ptr, it->diff.len) < 0)
			nomem(w, it->label);
	}
}

static bool
wanted_name(const char *n)
{
	size_t l = strlen(n);

	return strcmp(n, "Kustomization") == 0 ||
	       str_has_suffix(n, l, ".yaml") || str_has_suffix(n, l, ".yml");
}

/*
 * Collects the wanted files under rel (a canonical path: no link on it),
 * in name order.  Types come from the directory listing; only a symlink
 * with a wanted name costs more (its resolution beneath the root).
 */
static void
walk_dir(struct walk *w, const char *rel, int depth)
{
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct buf path = BUF_INIT, real = BUF_INIT;
	struct err e = ERR_INIT;

	if (depth > SETTERS_MAX_DEPTH) {
		err_set(&e, ERR_INVALID,
		        "%s: directories nested deeper than %d", rel,
		        SETTERS_MAX_DEPTH);
		problem(w, rel, &e);
		return;
	}
	if (fsroot_list(w->root, rel, FSROOT_NOFOLLOW, &l, &e) < 0) {
		problem(w, *rel ? rel : ".", &e);
		return;
	}
	for (size_t i = 0; i < l.n && !w->fatal; i++) {
		const struct fsroot_entry *en = &l.v[i];
		struct stat st;

		if (strcmp(en->name, ".git") == 0)
			continue;
		buf_reset(&path);
		if (*rel)
			buf_addf(&path, "%s/", rel);
		buf_puts(&path, en->name);
		if (!buf_ok(&path)) {
			nomem(w, rel);
			break;
		}
		if (en->type == FSROOT_DIR) {
			walk_dir(w, path.ptr, depth + 1);
		} else if (en->type == FSROOT_FILE) {
			if (wanted_name(en->name) &&
			    item_add(w, path.ptr, path.ptr, false) < 0)
				nomem(w, path.ptr);
		} else if (en->type == FSROOT_LINK && wanted_name(en->name)) {
			/* like filepath.Walk: a link to a file is read, a link
			 * to a directory is not entered; never outside root */
			if (fsroot_realpath(w->root, path.ptr, 0, &real, &e) <
			    0) {
				if (e.code == ERR_NOMEM) {
					nomem(w, path.ptr);
					break;
				}
				log_warn("setters", "symlink_skipped", "file",
				         path.ptr, "err", e.msg);
				continue;
			}
			if (fsroot_lstat(w->root, real.ptr, FSROOT_NOFOLLOW,
			                 &st, &e) == 0 &&
			    S_ISREG(st.st_mode) &&
			    item_add(w, real.ptr, path.ptr, true) < 0)
				nomem(w, path.ptr);
		}
	}
	fsroot_list_release(&l);
	buf_release(&path);
	buf_release(&real);
}

int
setters_apply(const struct fsroot *root, const char *subpath,
              const struct setters_policy *policies, size_t npolicies,
              const struct yamledit_opts *opts, struct wb_changes *changes,
              struct err *err)
{
	struct walk w;
	struct buf rel = BUF_INIT;
	struct err e = ERR_INIT;
	struct stat st;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	w.root = root;
	w.pol = policies;
	w.npol = npolicies;
	w.opts = opts;
	w.changes = changes;
	if (subpath == NULL || *subpath == '\0')
		subpath = ".";
	if (fsroot_path_check(subpath, &e) < 0)
		return err_set(err, ERR_INVALID, "update %s", e.msg);
	/* the walk starts at the real directory, so every path below it is
	 * free of links and labels are the paths Git knows */
	if ((rc = fsroot_realpath(root, subpath, 0, &rel, &e)) < 0 ||
	    (rc = fsroot_lstat(root, rel.ptr, FSROOT_NOFOLLOW, &st, &e)) < 0) {
		rc = err_set(err, e.code, "update path '%s': %s", subpath,
		             e.msg);
		goto out;
	}
	if (S_ISREG(st.st_mode)) {
		const char *base = strrchr(rel.ptr, '/');
		if (!wanted_name(base ? base + 1 : rel.ptr)) {
			rc = err_set(
			        err, ERR_INVALID,
			        "'%s' is a file, and setters are read from "
			        "*.yaml, *.yml and Kustomization files only "
			        "(give one of those, or a directory)",
			        rel.ptr);
			goto out;
		}
		if (item_add(&w, rel.ptr, rel.ptr, false) < 0)
			nomem(&w, rel.ptr);
	} else if (S_ISDIR(st.st_mode)) {
		walk_dir(&w, rel.ptr, 0);
	}
	if (!w.fatal) {
		items_dedupe(&w);
		pool_run(opts ? opts->pool : NULL, w.nitems, item_run, &w);
		items_report(&w);
	}
	if (w.fatal)
		rc = err_set(err, ERR_NOMEM, "%s", w.first.msg);
	else if (w.problems)
		rc = err_set(err, ERR_INVALID, "%zu file(s) not edited: %s",
		             w.problems, w.first.msg);
out:
	items_release(&w);
	buf_release(&rel);
	return rc;
}
