/*
 * dirtarget.c - ferry.io/target: directory:/path.  The directory holds
 * exactly the files of the last sync: one per object.  Each sync reads
 * what is there, compares it with what ferry wrote last time (the
 * inventory: file name and SHA-256) and with what the revision renders,
 * and, when anything differs, writes the whole new set into a fresh
 * directory beside the target and swaps the two with one
 * renameat2(RENAME_EXCHANGE): a reader opening files by path sees the old
 * set or the new one, never half of each.  The old set is removed after.
 *
 * Drift is what changed by hand since ferry last wrote: a file edited
 * (its hash is not the inventory's), deleted (in the inventory, gone) or
 * added (in neither the render nor the inventory).  Each sync corrects
 * it, and says so.
 *
 * It does not merge: the target is ferry's, as a namespace is Flux's.
 */
#define _GNU_SOURCE /* renameat2 */
#include "reconcile.h"

#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/fsroot.h"
#include "base/log.h"
#include "base/util.h"

int
reconcile_inventory_add(struct reconcile_inventory *inv, const char *file,
                        const char *id, const char *sha256)
{
	struct reconcile_entry *v =
	        reallocarray(inv->v, inv->n + 1, sizeof(*v));

	if (v == NULL)
		return -ERR_NOMEM;
	inv->v = v;
	memset(&v[inv->n], 0, sizeof(v[inv->n]));
	v[inv->n].file = strdup(file);
	v[inv->n].id = strdup(id ? id : "");
	snprintf(v[inv->n].sha256, sizeof(v[inv->n].sha256), "%s",
	         sha256 ? sha256 : "");
	if (v[inv->n].file == NULL || v[inv->n].id == NULL) {
		free(v[inv->n].file);
		free(v[inv->n].id);
		return -ERR_NOMEM;
	}
	inv->n++;
	return 0;
}

const struct reconcile_entry *
reconcile_inventory_find(const struct reconcile_inventory *inv,
                         const char *file)
{
	for (size_t i = 0; inv && i < inv->n; i++)
		if (strcmp(inv->v[i].file, file) == 0)
			return &inv->v[i];
	return NULL;
}

void
reconcile_inventory_release(struct reconcile_inventory *inv)
{
	for (size_t i = 0; i < inv->n; i++) {
		free(inv->v[i].file);
		free(inv->v[i].id);
	}
	free(inv->v);
	inv->v = NULL;
	inv->n = 0;
}

void
reconcile_dir_result_release(struct reconcile_dir_result *r)
{
	reconcile_names_release(&r->created);
	reconcile_names_release(&r->configured);
	reconcile_names_release(&r->deleted);
	reconcile_names_release(&r->orphaned);
	reconcile_names_release(&r->modified);
	reconcile_names_release(&r->added);
	reconcile_names_release(&r->removed);
	reconcile_inventory_release(&r->inventory);
	reconcile_names_release(&r->keep);
	memset(r, 0, sizeof(*r));
}

/* What the target holds now: each entry, and a regular file's bytes. */
struct current {
	char *name;
	bool file; /* a regular file (else a directory, link, ...) */
	struct buf text;
	char sha256[65];
};

struct currents {
	struct current *v;
	size_t n;
};

static void
currents_release(struct currents *c)
{
	for (size_t i = 0; i < c->n; i++) {
		free(c->v[i].name);
		buf_release(&c->v[i].text);
	}
	free(c->v);
	memset(c, 0, sizeof(*c));
}

static struct current *
current_find(const struct currents *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->v[i].name, name) == 0)
			return &c->v[i];
	return NULL;
}

static int
read_target(struct currents *out, const char *target, struct err *err)
{
	struct fsroot *root = NULL;
	struct fsroot_list l = FSROOT_LIST_INIT;
	int rc;

	if ((rc = fsroot_open(&root, target, 0, err)) < 0)
		return rc;
	if ((rc = fsroot_list(root, "", FSROOT_NOFOLLOW, &l, err)) < 0)
		goto out;
	out->v = calloc(l.n + 1, sizeof(*out->v));
	if (out->v == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i < l.n; i++) {
		struct current *c = &out->v[out->n];
		unsigned char h[crypto_hash_sha256_BYTES];

		c->name = strdup(l.v[i].name);
		c->text = (struct buf)BUF_INIT;
		if (c->name == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		out->n++;
		c->file = l.v[i].type == FSROOT_FILE;
		if (!c->file)
			continue;
		if ((rc = fsroot_read(root, c->name, FSROOT_NOFOLLOW,
		                      FILE_MAX_SIZE, &c->text, err)) < 0) {
			err_prefix(err, "directory target '%s'", target);
			goto out;
		}
		crypto_hash_sha256(
		        h,
		        (const unsigned char *)(c->text.ptr ? c->text.ptr : ""),
		        c->text.len);
		sodium_bin2hex(c->sha256, sizeof(c->sha256), h, sizeof(h));
	}
out:
	fsroot_list_release(&l);
	fsroot_free(root);
	return rc;
}

static int
add(struct reconcile_names *l, const char *s, struct err *err)
{
	return reconcile_names_add(l, s) < 0
	               ? err_set(err, ERR_NOMEM, "out of memory")
	               : 0;
}

/* Compares render, inventory and the target; fills out's lists. */
static int
compare(struct reconcile_dir_result *out, const struct currents *cur,
        const struct reconcile_manifests *m,
        const struct reconcile_inventory *prev,
        const struct reconcile_names *kept, bool prune, struct err *err)
{
	int rc = 0;

	for (size_t i = 0; i < m->n && rc == 0; i++) {
		const struct reconcile_object *o = &m->v[i];
		const struct current *c = current_find(cur, o->file);
		const struct reconcile_entry *was =
		        reconcile_inventory_find(prev, o->file);

		if (reconcile_inventory_add(&out->inventory, o->file, o->id,
		                            o->sha256) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		if (c == NULL)
			rc = add(was ? &out->removed : &out->created, o->file,
			         err);
		else if (!c->file)
			rc = add(&out->modified, o->file, err);
		else if (strcmp(c->sha256, o->sha256) == 0)
			continue;
		else if (was && strcmp(was->sha256, c->sha256) != 0)
			rc = add(&out->modified, o->file, err);
		else
			rc = add(&out->configured, o->file, err);
	}
	for (size_t i = 0; i < cur->n && rc == 0; i++) {
		const struct current *c = &cur->v[i];
		bool rendered = false;

		for (size_t k = 0; k < m->n && !rendered; k++)
			rendered = strcmp(m->v[k].file, c->name) == 0;
		if (rendered)
			continue;
		if (c->file && reconcile_inventory_find(prev, c->name)) {
			if (prune) {
				rc = add(&out->deleted, c->name, err);
			} else {
				/* prune: false leaves it, unmanaged */
				rc = add(&out->orphaned, c->name, err);
				if (rc == 0)
					rc = add(&out->keep, c->name, err);
			}
		} else if (c->file && reconcile_names_has(kept, c->name)) {
			rc = add(&out->keep, c->name, err);
		} else {
			rc = add(&out->added, c->name, err);
		}
	}
	out->changes = out->created.n || out->configured.n || out->deleted.n ||
	               out->modified.n || out->added.n || out->removed.n;
	return rc;
}

static int
fsync_dir(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0)
		return -1;
	if (fsync(fd) < 0)
		rc = -1;
	close(fd);
	return rc;
}

/* Writes the new set into tmp (an empty directory). */
static int
write_set(const char *tmp, const struct currents *cur,
          const struct reconcile_manifests *m,
          const struct reconcile_names *keep, struct err *err)
{
	struct fsroot *root = NULL;
	int rc;

	if ((rc = fsroot_open(&root, tmp, 0, err)) < 0)
		return rc;
	for (size_t i = 0; i < m->n && rc == 0; i++)
		rc = fsroot_write(root, m->v[i].file, FSROOT_NOFOLLOW,
		                  m->v[i].text, m->v[i].len,
		                  RECONCILE_FILE_MODE, err);
	for (size_t i = 0; i < keep->n && rc == 0; i++) {
		const struct current *c = current_find(cur, keep->v[i]);
		if (c && c->file)
			rc = fsroot_write(root, c->name, FSROOT_NOFOLLOW,
			                  c->text.ptr ? c->text.ptr : "",
			                  c->text.len, RECONCILE_FILE_MODE,
			                  err);
	}
	fsroot_free(root);
	return rc;
}

/* Puts tmp in target's place; what target held ends up at tmp. */
static int
swap_in(const char *tmp, const char *target, bool exists, struct err *err)
{
	struct buf old = BUF_INIT;
	int rc = 0;

	if (!exists) {
		if (rename(tmp, target) < 0)
			return err_set(err, ERR_INVALID,
			               "directory target '%s': rename: %s",
			               target, strerror(errno));
		return 0;
	}
	if (renameat2(AT_FDCWD, tmp, AT_FDCWD, target, RENAME_EXCHANGE) == 0)
		return 0;
	if (errno != EINVAL && errno != ENOSYS && errno != EOPNOTSUPP)
		return err_set(err, ERR_INVALID,
		               "directory target '%s': exchange: %s", target,
		               strerror(errno));
	/* A file system without RENAME_EXCHANGE: two renames, and a
	 * moment without the target in between. */
	log_warn("reconcile", "no_rename_exchange", "target", target);
	buf_addf(&old, "%s.old", tmp);
	if (!buf_ok(&old))
		return err_set(err, ERR_NOMEM, "out of memory");
	if (rename(target, old.ptr) < 0 || rename(tmp, target) < 0 ||
	    rename(old.ptr, tmp) < 0)
		rc = err_set(err, ERR_INVALID,
		             "directory target '%s': rename: %s", target,
		             strerror(errno));
	buf_release(&old);
	return rc;
}

int
reconcile_dir_sync(struct reconcile_dir_result *out, const char *target,
                   const struct reconcile_manifests *m,
                   const struct reconcile_inventory *prev,
                   const struct reconcile_names *kept, bool prune, bool dry_run,
                   struct err *err)
{
	struct currents cur = { 0 };
	struct buf parent = BUF_INIT, tmp = BUF_INIT;
	struct stat st;
	bool exists = false, made = false;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (target == NULL || target[0] != '/' || strcmp(target, "/") == 0 ||
	    strstr(target, "/../") || strstr(target, "/./") ||
	    str_has_suffix(target, strlen(target), "/..") ||
	    str_has_suffix(target, strlen(target), "/."))
		return err_set(err, ERR_INVALID,
		               "directory target '%s': give an absolute path "
		               "without '.' or '..' (not /)",
		               target ? target : "");
	if (lstat(target, &st) == 0) {
		if (S_ISLNK(st.st_mode))
			return err_set(err, ERR_INVALID,
			               "directory target '%s' is a symlink: "
			               "name the directory itself",
			               target);
		if (!S_ISDIR(st.st_mode))
			return err_set(err, ERR_INVALID,
			               "directory target '%s' is not a "
			               "directory",
			               target);
		exists = true;
	} else if (errno != ENOENT) {
		return err_set(err, ERR_INVALID, "directory target '%s': %s",
		               target, strerror(errno));
	}
	if (exists && (rc = read_target(&cur, target, err)) < 0)
		goto out;
	if ((rc = compare(out, &cur, m, prev, kept, prune, err)) < 0)
		goto out;
	/* a target that does not exist yet is made even for no objects */
	if (!exists)
		out->changes = true;
	if (dry_run || !out->changes)
		goto out;
	{
		const char *slash = strrchr(target, '/');
		buf_add(&parent, target,
		        slash == target ? 1 : (size_t)(slash - target));
	}
	if (!buf_ok(&parent) ||
	    (rc = dir_make_all(parent.ptr, RECONCILE_DIR_MODE, err)) < 0 ||
	    (rc = tmp_name(&tmp, target, err)) < 0)
		goto out;
	if (mkdir(tmp.ptr, RECONCILE_DIR_MODE) < 0) {
		rc = err_set(err, ERR_INVALID, "directory target '%s': %s: %s",
		             target, tmp.ptr, strerror(errno));
		goto out;
	}
	made = true;
	if ((rc = write_set(tmp.ptr, &cur, m, &out->keep, err)) < 0 ||
	    (rc = swap_in(tmp.ptr, target, exists, err)) < 0)
		goto out;
	/* the set is in place: what tmp holds now is the old one */
	made = exists;
	fsync_dir(parent.ptr);
	out->written = true;
out:
	if (made) {
		struct err e = ERR_INIT;
		if (dir_remove_all(tmp.ptr, &e) < 0)
			log_warn("reconcile", "cleanup_failed", "dir", tmp.ptr,
			         "err", e.msg);
	}
	currents_release(&cur);
	buf_release(&parent);
	buf_release(&tmp);
	if (rc < 0)
		reconcile_dir_result_release(out);
	return rc;
}
