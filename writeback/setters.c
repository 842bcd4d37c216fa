/*
 * setters.c - Flux's "$imagepolicy" setter markers over a directory tree.
 * The walk, the marker grammar and the value each suffix gets live here;
 * the byte-exact splicing is yamledit's.  It does not resolve policies:
 * the caller passes each policy's latest image.
 */
#define _GNU_SOURCE /* memmem */
#include "setters.h"
#include "base/util.h"
#include "base/json.h"
#include "base/log.h"

#include <cjson/cJSON.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Deepest directory nesting walked under the update path. */
#define SETTERS_MAX_DEPTH 64
/* Threads writing edited files: their fsyncs overlap in the journal. */
#define SETTERS_WRITERS 8

/* An edited file waiting to be written, with the changes it carries. */
struct job {
	char *path;
	char *label;
	struct buf data;
	struct wb_changes changes;
	dev_t dev;
	ino_t ino;
	bool via_link;
	int rc;
	struct err err;
};

struct walk {
	struct job *jobs;
	size_t njobs, capjobs, next;
	pthread_mutex_t lock;
	const struct setters_policy *pol;
	size_t npol;
	const struct yamledit_opts *opts;
	struct wb_changes *changes;
	char *rroot; /* realpath of root */
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
setter_value(struct walk *w, const char *setter, struct buf *full,
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
 * What a marker did not get, or got with a caveat: logged, and noted for
 * the caller (plan shows it).  A marker of a policy not given is only
 * noted: `ferry setters apply` leaves those alone by design.
 */
static void
note(struct walk *w, const char *label, unsigned line, const char *setter,
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
		log_warn("setters", "digest_emptied", "file", label, "line",
		         log_num(num, line), "setter", setter, "old", old);
	if (w->opts == NULL || w->opts->notes == NULL)
		return;
	pthread_mutex_lock(&w->lock);
	buf_addf(w->opts->notes, "%s:%u: setter '%s' %s\n", label, line, setter,
	         text[why]);
	pthread_mutex_unlock(&w->lock);
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

/* Queues path's new bytes (taken from *data) and changes (moved). */
static int
job_add(struct walk *w, const char *path, const char *label, struct buf *data,
        struct wb_changes *changes, bool via_link)
{
	struct job *j;
	struct stat st;

	if (w->njobs == w->capjobs) {
		size_t cap = w->capjobs ? w->capjobs * 2 : 64;
		struct job *v = reallocarray(w->jobs, cap, sizeof(*v));
		if (v == NULL)
			return -ERR_NOMEM;
		w->jobs = v;
		w->capjobs = cap;
	}
	j = &w->jobs[w->njobs];
	memset(j, 0, sizeof(*j));
	j->path = strdup(path);
	j->label = strdup(label);
	if (j->path == NULL || j->label == NULL) {
		free(j->path);
		free(j->label);
		return -ERR_NOMEM;
	}
	if (stat(path, &st) == 0) {
		j->dev = st.st_dev;
		j->ino = st.st_ino;
	}
	j->via_link = via_link;
	j->data = *data;
	*data = (struct buf)BUF_INIT;
	j->changes = *changes;
	*changes = (struct wb_changes)WB_CHANGES_INIT;
	w->njobs++;
	return 0;
}

static void *
writer(void *arg)
{
	struct walk *w = arg;

	for (;;) {
		struct job *j;
		pthread_mutex_lock(&w->lock);
		j = w->next < w->njobs ? &w->jobs[w->next++] : NULL;
		pthread_mutex_unlock(&w->lock);
		if (j == NULL)
			return NULL;
		if (j->rc == 1) /* a duplicate, see jobs_run */
			continue;
		j->rc = file_write_atomic(j->path, j->data.ptr, j->data.len,
		                          0644, &j->err);
	}
}

/*
 * Writes the queued files, several at a time (each is still written with
 * file_write_atomic: temp file, fsync, rename, directory fsync), then
 * reports them in walk order.  A symlink resolving to a file the walk also
 * reached directly is dropped: the direct path carries the same edit.
 */
static void
jobs_run(struct walk *w)
{
	pthread_t th[SETTERS_WRITERS];
	size_t nth = 0;

	for (size_t i = 0; i < w->njobs; i++) {
		if (!w->jobs[i].via_link)
			continue;
		for (size_t k = 0; k < w->njobs; k++)
			if (k != i && w->jobs[k].dev == w->jobs[i].dev &&
			    w->jobs[k].ino == w->jobs[i].ino &&
			    (!w->jobs[k].via_link || k < i)) {
				w->jobs[i].rc = 1; /* skipped */
				break;
			}
	}
	w->next = 0;
	while (nth < SETTERS_WRITERS && nth < w->njobs) {
		if (pthread_create(&th[nth], NULL, writer, w) != 0)
			break;
		nth++;
	}
	if (nth == 0)
		writer(w);
	for (size_t i = 0; i < nth; i++)
		pthread_join(th[i], NULL);
	for (size_t i = 0; i < w->njobs; i++) {
		struct job *j = &w->jobs[i];
		if (j->rc == 1)
			continue;
		if (j->rc < 0) {
			problem(w, j->label, &j->err);
			continue;
		}
		for (size_t k = 0; k < j->changes.n; k++)
			if (wb_changes_add(w->changes, &j->changes.v[k]) < 0) {
				struct err e = ERR_INIT;
				err_set(&e, ERR_NOMEM, "out of memory");
				problem(w, j->label, &e);
				break;
			}
	}
}

static void
jobs_release(struct walk *w)
{
	for (size_t i = 0; i < w->njobs; i++) {
		free(w->jobs[i].path);
		free(w->jobs[i].label);
		buf_release(&w->jobs[i].data);
		wb_changes_release(&w->jobs[i].changes);
	}
	free(w->jobs);
	w->jobs = NULL;
	w->njobs = w->capjobs = 0;
}

static int
setters_file(struct walk *w, const char *path, const char *label, bool via_link)
{
	struct buf src = BUF_INIT, out = BUF_INIT, full = BUF_INIT;
	struct yamledit_doc doc = YAMLEDIT_DOC_INIT;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct wb_changes local = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	char setter[SETTERS_MAX_NAME];
	enum setter_why why;
	int rc = 0;

	rc = yamledit_file_read(&src, path, &e);
	if (rc < 0)
		goto out;
	if (memmem(src.ptr, src.len, "\"$imagepolicy\"", 14) == NULL)
		goto out;
	rc = yamledit_parse(&doc, src.ptr, src.len, label, &e);
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
			note(w, label, nd->line + 1, setter, why, nd->value);
		if (val == NULL || strcmp(val, nd->value) == 0)
			continue;
		if (why == SETTER_DIGEST_EMPTY)
			note(w, label, nd->line + 1, setter, why, nd->value);
		rc = yamledit_edits_replace(&ed, &doc, (int)i, val, &e);
		if (rc < 0) {
			err_prefix(&e, "%s: setter '%s'", label, setter);
			goto out;
		}
		memset(&ch, 0, sizeof(ch));
		ch.file = (char *)label;
		ch.line = nd->line + 1;
		yamledit_doc_object(
		        &doc, nd->doc, (const char **)&ch.api_version,
		        (const char **)&ch.kind, (const char **)&ch.namespace_,
		        (const char **)&ch.name);
		ch.old_value = nd->value;
		ch.new_value = (char *)val;
		ch.setter = setter;
		if (wb_changes_add(&local, &ch) < 0) {
			rc = err_set(&e, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	if (ed.n == 0)
		goto out;
	rc = yamledit_edits_apply(&ed, &doc, &out, label, &e);
	if (rc < 0)
		goto out;
	if (!(w->opts && w->opts->dry_run)) {
		rc = job_add(w, path, label, &out, &local, via_link);
		if (rc < 0)
			err_set(&e, ERR_NOMEM, "out of memory");
		goto out;
	}
	rc = yamledit_file_finish(path, label, src.ptr, src.len, &out, w->opts,
	                          &e);
	if (rc < 0)
		goto out;
	for (size_t i = 0; i < local.n; i++)
		if (wb_changes_add(w->changes, &local.v[i]) < 0) {
			rc = err_set(&e, ERR_NOMEM, "out of memory");
			goto out;
		}
out:
	if (rc < 0)
		problem(w, label, &e);
	wb_changes_release(&local);
	yamledit_edits_release(&ed);
	yamledit_release(&doc);
	buf_release(&src);
	buf_release(&out);
	buf_release(&full);
	return rc;
}

static bool
wanted_name(const char *n)
{
	size_t l = strlen(n);

	return strcmp(n, "Kustomization") == 0 ||
	       str_has_suffix(n, l, ".yaml") || str_has_suffix(n, l, ".yml");
}

static bool
inside(const char *rroot, const char *real)
{
	size_t l = strlen(rroot);

	if (strcmp(rroot, "/") == 0)
		return true;
	return strncmp(real, rroot, l) == 0 &&
	       (real[l] == '\0' || real[l] == '/');
}

static int
name_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
walk_dir(struct walk *w, const char *dir, const char *rel, int depth)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	struct buf path = BUF_INIT, label = BUF_INIT;
	struct err e = ERR_INIT;

	if (depth > SETTERS_MAX_DEPTH) {
		err_set(&e, ERR_INVALID,
		        "%s: directories nested deeper than %d", rel,
		        SETTERS_MAX_DEPTH);
		problem(w, rel, &e);
		return;
	}
	d = opendir(dir);
	if (d == NULL) {
		err_set(&e, ERR_INVALID, "%s: cannot open directory: %s", rel,
		        strerror(errno));
		problem(w, rel, &e);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0 ||
		    strcmp(de->d_name, ".git") == 0)
			continue;
		if (n == cap) {
			char **v = reallocarray(names, cap ? cap * 2 : 32,
			                        sizeof(*v));
			if (v == NULL)
				goto nomem;
			names = v;
			cap = cap ? cap * 2 : 32;
		}
		names[n] = strdup(de->d_name);
		if (names[n] == NULL)
			goto nomem;
		n++;
	}
	closedir(d);
	d = NULL;
	if (n > 1)
		qsort(names, n, sizeof(*names), name_cmp);
	for (size_t i = 0; i < n && !w->fatal; i++) {
		struct stat st;
		buf_reset(&path);
		buf_reset(&label);
		buf_addf(&path, "%s/%s", dir, names[i]);
		if (*rel)
			buf_addf(&label, "%s/%s", rel, names[i]);
		else
			buf_puts(&label, names[i]);
		if (!buf_ok(&path) || !buf_ok(&label))
			goto nomem;
		if (lstat(path.ptr, &st) < 0)
			continue;
		if (S_ISDIR(st.st_mode)) {
			walk_dir(w, path.ptr, label.ptr, depth + 1);
		} else if (S_ISREG(st.st_mode)) {
			if (wanted_name(names[i]))
				setters_file(w, path.ptr, label.ptr, false);
		} else if (S_ISLNK(st.st_mode) && wanted_name(names[i])) {
			/* like filepath.Walk: a link to a file is read, a link
			 * to a directory is not entered; never outside root */
			char *real = realpath(path.ptr, NULL);
			struct stat rst;
			if (real && inside(w->rroot, real) &&
			    stat(real, &rst) == 0 && S_ISREG(rst.st_mode))
				setters_file(w, real, label.ptr, true);
			else if (real)
				log_warn("setters", "symlink_skipped", "file",
				         label.ptr, "err",
				         "points outside the update path root");
			free(real);
		}
	}
	goto out;
nomem:
	err_set(&e, ERR_NOMEM, "out of memory");
	problem(w, rel, &e);
out:
	if (d)
		closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	buf_release(&path);
	buf_release(&label);
}

static int
subpath_ok(const char *sub, struct err *err)
{
	const char *p = sub;

	if (*sub == '/')
		return err_set(err, ERR_INVALID,
		               "update path '%s' must be relative", sub);
	while (*p) {
		size_t l = strcspn(p, "/");
		if (l == 2 && p[0] == '.' && p[1] == '.')
			return err_set(err, ERR_INVALID,
			               "update path '%s' must not contain '..'",
			               sub);
		p += l;
		while (*p == '/')
			p++;
	}
	return 0;
}

int
setters_apply(const char *root, const char *subpath,
              const struct setters_policy *policies, size_t npolicies,
              const struct yamledit_opts *opts, struct wb_changes *changes,
              struct err *err)
{
	struct walk w;
	struct buf dir = BUF_INIT, rel = BUF_INIT, fileroot = BUF_INIT;
	char *rdir = NULL;
	struct stat st;
	int rc = 0;

	memset(&w, 0, sizeof(w));
	pthread_mutex_init(&w.lock, NULL);
	w.pol = policies;
	w.npol = npolicies;
	w.opts = opts;
	w.changes = changes;
	if (subpath == NULL || *subpath == '\0')
		subpath = ".";
	rc = subpath_ok(subpath, err);
	if (rc < 0)
		goto out;
	if (stat(root, &st) == 0 && S_ISREG(st.st_mode) &&
	    strcmp(subpath, ".") == 0) {
		/* one file: its directory is the root, the file the path */
		const char *slash = strrchr(root, '/');

		buf_add(&fileroot, root, slash ? (size_t)(slash - root) : 0);
		if (slash == root)
			buf_putc(&fileroot, '/');
		if (fileroot.len == 0)
			buf_putc(&fileroot, '.');
		subpath = slash ? slash + 1 : root;
		if (!buf_ok(&fileroot)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		root = fileroot.ptr;
	}
	w.rroot = realpath(root, NULL);
	if (w.rroot == NULL) {
		rc = err_set(err, ERR_INVALID, "%s: %s", root, strerror(errno));
		goto out;
	}
	buf_addf(&dir, "%s/%s", root, subpath);
	/* labels are relative to root, without "./" */
	for (const char *p = subpath; *p;) {
		size_t l = strcspn(p, "/");
		if (!(l == 1 && p[0] == '.') && l > 0) {
			if (rel.len)
				buf_putc(&rel, '/');
			buf_add(&rel, p, l);
		}
		p += l;
		while (*p == '/')
			p++;
	}
	if (!buf_ok(&dir) || !buf_ok(&rel)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	rdir = realpath(dir.ptr, NULL);
	if (rdir == NULL || !inside(w.rroot, rdir)) {
		rc = err_set(err, ERR_INVALID,
		             "update path '%s' is missing or outside '%s'",
		             subpath, root);
		goto out;
	}
	if (stat(rdir, &st) == 0 && S_ISREG(st.st_mode)) {
		const char *base = strrchr(rel.ptr, '/');
		if (wanted_name(base ? base + 1 : rel.ptr))
			setters_file(&w, rdir, rel.ptr, false);
		else
			rc = err_set(
			        err, ERR_INVALID,
			        "'%s' is a file, and setters are read from "
			        "*.yaml, *.yml and Kustomization files only "
			        "(give one of those, or a directory)",
			        rel.ptr);
	} else {
		walk_dir(&w, dir.ptr, rel.ptr, 0);
	}
	if (!w.fatal)
		jobs_run(&w);
	if (w.fatal)
		rc = err_set(err, ERR_NOMEM, "%s", w.first.msg);
	else if (w.problems)
		rc = err_set(err, ERR_INVALID, "%zu file(s) not edited: %s",
		             w.problems, w.first.msg);
out:
	jobs_release(&w);
	pthread_mutex_destroy(&w.lock);
	free(rdir);
	free(w.rroot);
	buf_release(&dir);
	buf_release(&rel);
	buf_release(&fileroot);
	return rc;
}
