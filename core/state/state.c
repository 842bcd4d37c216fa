/*
 * state.c - JSON documents in the state directory, written atomically, the
 * directory lock, and the in-memory copy of everything read or written.
 * It does not decide what is stored: the stages do.  Names are checked so
 * that no document can be written outside DIR.
 *
 * The memory side is one hash table of entries keyed "kind/ns/name" under
 * one mutex, held only to look up or swap an entry: disk reads, parses and
 * atomic writes happen outside it, so a slow fsync of one object never
 * holds up a stage reading another.
 */
#include "state.h"

#include "base/json.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#define STATE_MAX_DOC ((size_t)64 << 20)
#define STATE_NO_DIGEST UINT32_MAX

struct state_tags {
	atomic_uint refs;
	size_t n;
	uint32_t *name_off;   /* into blob */
	uint32_t *digest_off; /* into blob, or STATE_NO_DIGEST */
	char *image;          /* into blob */
	char *blob;
};

struct entry {
	char *key;               /* "kind/ns/name" */
	cJSON *doc;              /* NULL: known to be absent */
	struct state_tags *tags; /* ImageRepository only; may be NULL */
	bool memory_only;
	struct entry *next;
};

static void entry_free(struct entry *e);

struct state {
	char *dir;
	int lock_fd;
	pthread_mutex_t mu; /* guards the table */
	struct entry **table;
	size_t cap, n; /* cap is a power of two */
};

int
state_default_dir(struct buf *out)
{
	const char *xdg = getenv("XDG_STATE_HOME");
	const char *home = getenv("HOME");

	if (xdg && *xdg == '/')
		buf_addf(out, "%s/ferry", xdg);
	else if (geteuid() == 0)
		buf_puts(out, "/var/lib/ferry");
	else if (home && *home)
		buf_addf(out, "%s/.local/state/ferry", home);
	else
		buf_puts(out, ".ferry-state");
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
state_open(struct state **out, const char *dir, struct err *err)
{
	struct state *st = NULL;
	struct buf path = BUF_INIT;
	int rc = 0;

	*out = NULL;
	if ((rc = dir_make_all(dir, 0700, err)) < 0)
		return err_prefix(err, "state directory");
	st = calloc(1, sizeof(*st));
	if (st == NULL || (st->dir = strdup(dir)) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	st->lock_fd = -1;
	pthread_mutex_init(&st->mu, NULL);
	buf_addf(&path, "%s/lock", dir);
	if (!buf_ok(&path)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	st->lock_fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (st->lock_fd < 0) {
		rc = err_set(err, ERR_INVALID, "%s: cannot open: %s", path.ptr,
		             strerror(errno));
		goto out;
	}
	if (flock(st->lock_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = err_set(
		        err, ERR_CONFLICT,
		        "state directory '%s' is in use by another ferry process (give each one its own --state-dir)",
		        dir);
		goto out;
	}
	*out = st;
	st = NULL;
out:
	buf_release(&path);
	state_free(st);
	return rc;
}

void
state_free(struct state *st)
{
	if (st == NULL)
		return;
	if (st->lock_fd >= 0)
		close(st->lock_fd); /* releases the flock */
	for (size_t i = 0; i < st->cap; i++) {
		struct entry *e = st->table[i], *next;
		for (; e; e = next) {
			next = e->next;
			entry_free(e);
		}
	}
	free(st->table);
	pthread_mutex_destroy(&st->mu);
	free(st->dir);
	free(st);
}

const char *
state_dir(const struct state *st)
{
	return st->dir;
}

/* Kubernetes names and kinds: no '/', no leading '.', printable. */
static int
check_part(const char *what, const char *s, struct err *err)
{
	size_t n = strlen(s);

	if (n == 0 || n > 253 || s[0] == '.')
		return err_set(err, ERR_INVALID, "state: invalid %s '%s'", what,
		               s);
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '/' || c <= ' ' || c >= 0x7f)
			return err_set(err, ERR_INVALID,
			               "state: invalid %s '%s'", what, s);
	}
	return 0;
}

static int
doc_path(struct state *st, struct buf *out, const char *kind, const char *ns,
         const char *name, bool make_dirs, struct err *err)
{
	int rc;

	if ((rc = check_part("kind", kind, err)) < 0 ||
	    (rc = check_part("namespace", ns, err)) < 0 ||
	    (rc = check_part("name", name, err)) < 0)
		return rc;
	/* Without printf: a status page looks up thousands of documents
	 * per request. */
	buf_puts(out, st->dir);
	buf_puts(out, "/objects/");
	buf_puts(out, kind);
	buf_putc(out, '/');
	buf_puts(out, ns);
	if (!buf_ok(out))
		return err_set(err, ERR_NOMEM, "out of memory");
	if (make_dirs && (rc = dir_make_all(out->ptr, 0700, err)) < 0)
		return rc;
	buf_putc(out, '/');
	buf_puts(out, name);
	buf_puts(out, ".json");
	return buf_ok(out) ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* ---- tag lists ---- */

static struct state_tags *
tags_pack(const char *image, const char *const *names,
          const char *const *digests, size_t n)
{
	struct state_tags *t = calloc(1, sizeof(*t));
	size_t len = strlen(image) + 1, off = 0;

	if (t == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		len += strlen(names[i]) + 1;
		if (digests && digests[i])
			len += strlen(digests[i]) + 1;
	}
	if (len >= STATE_NO_DIGEST)
		goto fail;
	t->blob = malloc(len);
	t->name_off = calloc(n ? n : 1, sizeof(*t->name_off));
	t->digest_off = calloc(n ? n : 1, sizeof(*t->digest_off));
	if (t->blob == NULL || t->name_off == NULL || t->digest_off == NULL)
		goto fail;
	for (size_t i = 0; i < n; i++) {
		size_t k = strlen(names[i]) + 1;
		t->name_off[i] = (uint32_t)off;
		memcpy(t->blob + off, names[i], k);
		off += k;
		t->digest_off[i] = STATE_NO_DIGEST;
		if (digests && digests[i]) {
			k = strlen(digests[i]) + 1;
			t->digest_off[i] = (uint32_t)off;
			memcpy(t->blob + off, digests[i], k);
			off += k;
		}
	}
	t->image = t->blob + off;
	memcpy(t->image, image, strlen(image) + 1);
	t->n = n;
	atomic_init(&t->refs, 1);
	return t;
fail:
	free(t->blob);
	free(t->name_off);
	free(t->digest_off);
	free(t);
	return NULL;
}

static struct state_tags *
tags_ref(struct state_tags *t)
{
	if (t)
		atomic_fetch_add(&t->refs, 1);
	return t;
}

void
state_tags_unref(struct state_tags *t)
{
	if (t == NULL || atomic_fetch_sub(&t->refs, 1) != 1)
		return;
	free(t->blob);
	free(t->name_off);
	free(t->digest_off);
	free(t);
}

size_t
state_tags_count(const struct state_tags *t)
{
	return t->n;
}

const char *
state_tags_name(const struct state_tags *t, size_t i)
{
	return t->blob + t->name_off[i];
}

const char *
state_tags_digest(const struct state_tags *t, size_t i)
{
	return t->digest_off[i] == STATE_NO_DIGEST ? NULL
	                                           : t->blob + t->digest_off[i];
}

const char *
state_tags_image(const struct state_tags *t)
{
	return t->image;
}

static bool
tags_equal(const struct state_tags *a, const struct state_tags *b)
{
	if (a == NULL || b == NULL)
		return a == b;
	if (a->n != b->n || strcmp(a->image, b->image) != 0)
		return false;
	for (size_t i = 0; i < a->n; i++) {
		const char *da = state_tags_digest(a, i);
		const char *db = state_tags_digest(b, i);
		if (strcmp(state_tags_name(a, i), state_tags_name(b, i)) != 0 ||
		    (da == NULL) != (db == NULL) || (da && strcmp(da, db) != 0))
			return false;
	}
	return true;
}

/*
 * Splits an ImageRepository document as stored ("tags": [...], "digests":
 * {tag: digest}) into the packed list and the rest (doc keeps the rest).
 * A document without a tag list gives NULL tags.
 */
static int
tags_from_doc(struct state_tags **out, cJSON *doc)
{
	cJSON *list = cJSON_DetachItemFromObjectCaseSensitive(doc, "tags");
	cJSON *digests =
	        cJSON_DetachItemFromObjectCaseSensitive(doc, "digests");
	const char *image = json_get_string(doc, "image");
	const char **names = NULL, **ds = NULL;
	size_t n = 0;
	cJSON *item;
	int rc = 0;

	*out = NULL;
	if (!cJSON_IsArray(list))
		goto out;
	n = (size_t)cJSON_GetArraySize(list);
	names = calloc(n ? n : 1, sizeof(*names));
	ds = calloc(n ? n : 1, sizeof(*ds));
	if (names == NULL || ds == NULL) {
		rc = -ERR_NOMEM;
		goto out;
	}
	n = 0;
	cJSON_ArrayForEach(item, list)
	{
		if (!cJSON_IsString(item))
			continue;
		names[n] = item->valuestring;
		ds[n] = json_get_string(digests, item->valuestring);
		n++;
	}
	*out = tags_pack(image ? image : "", names, ds, n);
	if (*out == NULL)
		rc = -ERR_NOMEM;
out:
	free(names);
	free(ds);
	cJSON_Delete(list);
	cJSON_Delete(digests);
	return rc;
}

/* The stored form: the document with "tags" and "digests" added. */
static cJSON *
doc_with_tags(const cJSON *doc, const struct state_tags *t)
{
	cJSON *full = doc ? cJSON_Duplicate(doc, 1) : cJSON_CreateObject();
	cJSON *list, *digests;

	if (full == NULL)
		return NULL;
	cJSON_DeleteItemFromObjectCaseSensitive(full, "tags");
	cJSON_DeleteItemFromObjectCaseSensitive(full, "digests");
	list = cJSON_AddArrayToObject(full, "tags");
	digests = cJSON_AddObjectToObject(full, "digests");
	if (list == NULL || digests == NULL)
		goto fail;
	for (size_t i = 0; i < t->n; i++) {
		const char *d = state_tags_digest(t, i);
		cJSON *s = cJSON_CreateString(state_tags_name(t, i));
		if (s == NULL || !cJSON_AddItemToArray(list, s))
			goto fail;
		if (d && cJSON_AddStringToObject(digests, state_tags_name(t, i),
		                                 d) == NULL)
			goto fail;
	}
	return full;
fail:
	cJSON_Delete(full);
	return NULL;
}

/* ---- the table ---- */

static void
entry_free(struct entry *e)
{
	free(e->key);
	cJSON_Delete(e->doc);
	state_tags_unref(e->tags);
	free(e);
}

static size_t
key_hash(const char *k)
{
	size_t h = 14695981039346656037ULL;

	for (; *k; k++)
		h = (h ^ (unsigned char)*k) * 1099511628211ULL;
	return h;
}

/* Called with mu held. */
static struct entry *
table_find(struct state *st, const char *key)
{
	struct entry *e;

	if (st->cap == 0)
		return NULL;
	for (e = st->table[key_hash(key) & (st->cap - 1)]; e; e = e->next)
		if (strcmp(e->key, key) == 0)
			return e;
	return NULL;
}

/*
 * Puts e in the table, replacing (and freeing) an entry of the same key;
 * with keep_existing, an existing entry wins and e is freed instead.
 * Called with mu held.  -ERR_NOMEM (e freed).
 */
static int
table_put(struct state *st, struct entry *e, bool keep_existing)
{
	struct entry **pp;

	if (st->n + 1 > st->cap) {
		size_t cap = st->cap ? st->cap * 2 : 64;
		struct entry **t = calloc(cap, sizeof(*t));
		if (t == NULL) {
			entry_free(e);
			return -ERR_NOMEM;
		}
		for (size_t i = 0; i < st->cap; i++) {
			struct entry *x = st->table[i], *next;
			for (; x; x = next) {
				next = x->next;
				x->next = t[key_hash(x->key) & (cap - 1)];
				t[key_hash(x->key) & (cap - 1)] = x;
			}
		}
		free(st->table);
		st->table = t;
		st->cap = cap;
	}
	for (pp = &st->table[key_hash(e->key) & (st->cap - 1)]; *pp;
	     pp = &(*pp)->next) {
		if (strcmp((*pp)->key, e->key) != 0)
			continue;
		if (keep_existing) {
			entry_free(e);
			return 0;
		}
		e->next = (*pp)->next;
		entry_free(*pp);
		*pp = e;
		return 0;
	}
	e->next = NULL;
	*pp = e;
	st->n++;
	return 0;
}

static struct entry *
entry_new(const char *key, cJSON *doc, struct state_tags *tags,
          bool memory_only)
{
	struct entry *e = calloc(1, sizeof(*e));

	if (e == NULL || (e->key = strdup(key)) == NULL) {
		free(e);
		cJSON_Delete(doc);
		state_tags_unref(tags);
		return NULL;
	}
	e->doc = doc;
	e->tags = tags;
	e->memory_only = memory_only;
	return e;
}

static bool
is_repo(const char *kind)
{
	return strcmp(kind, STATE_KIND_IMAGEREPOSITORY) == 0;
}

/*
 * Copies what the table holds for key into *doc_out / *tags_out (either
 * may be NULL).  1 when the table has an entry (its doc may be absent:
 * *doc_out NULL), 0 when it has none, -ERR_NOMEM.
 */
static int
table_copy(struct state *st, const char *key, cJSON **doc_out,
           struct state_tags **tags_out)
{
	struct entry *e;
	int rc = 0;

	pthread_mutex_lock(&st->mu);
	if ((e = table_find(st, key)) != NULL) {
		rc = 1;
		if (doc_out && e->doc &&
		    (*doc_out = cJSON_Duplicate(e->doc, 1)) == NULL)
			rc = -ERR_NOMEM;
		if (tags_out)
			*tags_out = tags_ref(e->tags);
	}
	pthread_mutex_unlock(&st->mu);
	return rc;
}

/* Reads key's document from disk into the table (absent as "none"). */
static int
load(struct state *st, const char *kind, const char *key, const char *path,
     struct err *err)
{
	struct buf data = BUF_INIT;
	struct state_tags *tags = NULL;
	struct entry *e;
	cJSON *doc = NULL;
	int rc;

	data.max = STATE_MAX_DOC;
	rc = file_read(&data, path, err);
	if (rc == -ERR_NOTFOUND) {
		err_clear(err);
		rc = 0;
	} else if (rc == 0) {
		rc = json_parse(&doc, data.ptr, data.len, path, err);
		if (rc == 0 && is_repo(kind) && tags_from_doc(&tags, doc) < 0)
			rc = err_set(err, ERR_NOMEM, "state: out of memory");
	}
	buf_release(&data);
	if (rc < 0) {
		cJSON_Delete(doc);
		state_tags_unref(tags);
		return rc;
	}
	if ((e = entry_new(key, doc, tags, false)) == NULL)
		return err_set(err, ERR_NOMEM, "state: out of memory");
	pthread_mutex_lock(&st->mu);
	/* A put that raced this read is newer: it wins. */
	rc = table_put(st, e, true);
	pthread_mutex_unlock(&st->mu);
	return rc < 0 ? err_set(err, ERR_NOMEM, "state: out of memory") : 0;
}

static int
lookup(struct state *st, const char *kind, const char *ns, const char *name,
       cJSON **doc_out, struct state_tags **tags_out, struct err *err)
{
	struct buf path = BUF_INIT;
	int rc;

	if (doc_out)
		*doc_out = NULL;
	if (tags_out)
		*tags_out = NULL;
	if ((rc = doc_path(st, &path, kind, ns, name, false, err)) < 0)
		goto out;
	rc = table_copy(st, path.ptr + strlen(st->dir), doc_out, tags_out);
	if (rc == 0) {
		if ((rc = load(st, kind, path.ptr + strlen(st->dir), path.ptr,
		               err)) < 0)
			goto out;
		rc = table_copy(st, path.ptr + strlen(st->dir), doc_out,
		                tags_out);
	}
	if (rc < 0) {
		rc = err_set(err, ERR_NOMEM, "state: out of memory");
		goto out;
	}
	rc = 0;
out:
	buf_release(&path);
	return rc;
}

int
state_get(struct state *st, const char *kind, const char *ns, const char *name,
          cJSON **out, struct err *err)
{
	int rc = lookup(st, kind, ns, name, out, NULL, err);

	if (rc == 0 && *out == NULL)
		return -ERR_NOTFOUND;
	return rc;
}

int
state_read(struct state *st, const char *kind, const char *ns, const char *name,
           void (*fn)(const cJSON *doc, void *payload), void *payload,
           struct err *err)
{
	struct buf path = BUF_INIT;
	struct entry *e;
	const char *key;
	int rc;

	if ((rc = doc_path(st, &path, kind, ns, name, false, err)) < 0)
		goto out;
	key = path.ptr + strlen(st->dir);
	for (int pass = 0; pass < 2; pass++) {
		pthread_mutex_lock(&st->mu);
		if ((e = table_find(st, key)) != NULL) {
			/* Borrowed under the lock: fn copies what it needs. */
			fn(e->doc, payload);
			pthread_mutex_unlock(&st->mu);
			goto out;
		}
		pthread_mutex_unlock(&st->mu);
		if (pass == 0 && (rc = load(st, kind, key, path.ptr, err)) < 0)
			goto out;
	}
	rc = err_set(err, ERR_INTERNAL, "state: '%s' vanished", key);
out:
	buf_release(&path);
	return rc;
}

int
state_tags_get(struct state *st, const char *ns, const char *name,
               struct state_tags **out, struct err *err)
{
	int rc = lookup(st, STATE_KIND_IMAGEREPOSITORY, ns, name, NULL, out,
	                err);

	if (rc == 0 && *out == NULL)
		return -ERR_NOTFOUND;
	return rc;
}

/*
 * Writes doc (+ tags) to disk unless memory_only, then makes it the
 * table's entry.  Takes ownership of doc and tags.
 */
static int
store(struct state *st, const char *kind, const char *ns, const char *name,
      cJSON *doc, struct state_tags *tags, bool memory_only, struct err *err)
{
	struct buf path = BUF_INIT;
	struct entry *e;
	cJSON *full = NULL;
	char *text = NULL;
	int rc;

	if ((rc = doc_path(st, &path, kind, ns, name, !memory_only, err)) < 0)
		goto out;
	if (!memory_only) {
		full = tags ? doc_with_tags(doc, tags) : NULL;
		text = cJSON_Print(full ? full : doc);
		if (text == NULL || (tags && full == NULL)) {
			rc = err_set(err, ERR_NOMEM, "state: out of memory");
			goto out;
		}
		if ((rc = file_write_atomic(path.ptr, text, strlen(text), 0600,
		                            err)) < 0)
			goto out;
	}
	e = entry_new(path.ptr + strlen(st->dir), doc, tags, memory_only);
	doc = NULL;
	tags = NULL;
	if (e == NULL) {
		rc = err_set(err, ERR_NOMEM, "state: out of memory");
		goto out;
	}
	pthread_mutex_lock(&st->mu);
	rc = table_put(st, e, false);
	pthread_mutex_unlock(&st->mu);
	if (rc < 0)
		rc = err_set(err, ERR_NOMEM, "state: out of memory");
out:
	cJSON_Delete(doc);
	cJSON_Delete(full);
	state_tags_unref(tags);
	cJSON_free(text);
	buf_release(&path);
	return rc;
}

static int
put_doc(struct state *st, const char *kind, const char *ns, const char *name,
        const cJSON *doc, bool memory_only, struct err *err)
{
	struct state_tags *tags = NULL;
	cJSON *copy = cJSON_Duplicate(doc, 1);
	int rc;

	if (copy == NULL)
		return err_set(err, ERR_NOMEM, "state: out of memory");
	/* An ImageRepository document keeps the tag list it had unless it
	 * brings one. */
	if (is_repo(kind)) {
		if (cJSON_HasObjectItem(copy, "tags")) {
			if (tags_from_doc(&tags, copy) < 0) {
				cJSON_Delete(copy);
				return err_set(err, ERR_NOMEM,
				               "state: out of memory");
			}
		} else if ((rc = lookup(st, kind, ns, name, NULL, &tags, err)) <
		           0) {
			cJSON_Delete(copy);
			return rc;
		}
	}
	return store(st, kind, ns, name, copy, tags, memory_only, err);
}

int
state_put(struct state *st, const char *kind, const char *ns, const char *name,
          const cJSON *doc, struct err *err)
{
	return put_doc(st, kind, ns, name, doc, false, err);
}

int
state_put_memory(struct state *st, const char *kind, const char *ns,
                 const char *name, const cJSON *doc, struct err *err)
{
	return put_doc(st, kind, ns, name, doc, true, err);
}

int
state_tags_put(struct state *st, const char *ns, const char *name,
               const cJSON *doc, const char *const *names,
               const char *const *digests, size_t n, bool *changed_out,
               struct err *err)
{
	struct state_tags *tags = NULL, *old = NULL;
	cJSON *copy = NULL;
	const char *image;
	int rc;

	copy = doc ? cJSON_Duplicate(doc, 1) : cJSON_CreateObject();
	if (copy == NULL)
		return err_set(err, ERR_NOMEM, "state: out of memory");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "tags");
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "digests");
	image = json_get_string(copy, "image");
	tags = tags_pack(image ? image : "", names, digests, n);
	if (tags == NULL) {
		cJSON_Delete(copy);
		return err_set(err, ERR_NOMEM, "state: out of memory");
	}
	if (changed_out) {
		if ((rc = lookup(st, STATE_KIND_IMAGEREPOSITORY, ns, name, NULL,
		                 &old, err)) < 0) {
			cJSON_Delete(copy);
			state_tags_unref(tags);
			return rc;
		}
		*changed_out = !tags_equal(old, tags);
		state_tags_unref(old);
	}
	return store(st, STATE_KIND_IMAGEREPOSITORY, ns, name, copy, tags,
	             false, err);
}

int
state_tags_forget(struct state *st, const char *ns, const char *name,
                  struct err *err)
{
	cJSON *doc = NULL;
	int rc;

	if ((rc = lookup(st, STATE_KIND_IMAGEREPOSITORY, ns, name, &doc, NULL,
	                 err)) < 0)
		return rc;
	if (doc == NULL)
		return 0;
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "image");
	cJSON_DeleteItemFromObjectCaseSensitive(doc, "lastScanError");
	rc = state_tags_put(st, ns, name, doc, NULL, NULL, 0, NULL, err);
	cJSON_Delete(doc);
	return rc;
}
