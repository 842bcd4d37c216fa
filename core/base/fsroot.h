/*
 * fsroot.h - a directory that paths cannot leave.
 *
 * An fsroot is an open handle on a directory, the root.  Every call takes
 * a path relative to the root and resolves it from that handle, never from
 * the working directory or from "/", so nothing a call opens, reads, lists,
 * writes or renames lies outside the root, whatever the tree holds (a
 * repository's files are untrusted input):
 *
 *   - A path is relative and has no ".." component (fsroot_path_check);
 *     "." and empty components are skipped, and "" or "." is the root.
 *   - A symlink met on the way is followed only while it stays beneath the
 *     root: its target is relative and its ".." components never climb
 *     above the root.  An absolute target, or one that climbs out (even to
 *     come back in), fails with -ERR_INVALID, as does a chain of more than
 *     FSROOT_MAX_LINKS links.  Links that stay inside are followed because
 *     they are the repository's own structure (a values file shared by two
 *     overlays); callers that want none pass FSROOT_NOFOLLOW, which refuses
 *     every symlink on the way.  Which directories a walk enters is the
 *     walker's rule: fsroot_list() reports a link as FSROOT_LINK and never
 *     looks through it.
 *   - A write, a rename or an lstat never goes through the last component:
 *     a link there is written over by nothing (fsroot_write() refuses it;
 *     resolve it first with fsroot_realpath() to write its target).
 *
 * With openat2() (Linux 5.6 and later) the kernel applies these rules
 * (RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS, and RESOLVE_NO_SYMLINKS for
 * FSROOT_NOFOLLOW).  Where openat2() fails with ENOSYS (seen once, in
 * fsroot_open()), the same rules are applied here, one component at a
 * time: openat(O_PATH | O_NOFOLLOW | O_DIRECTORY) per directory and
 * readlinkat() for each link, with a stack of directory handles for the
 * ".." a link target may hold.
 *
 * Messages name the path relative to the root ('deploy/app.yaml'), never
 * a symlink's target.
 *
 * Ownership: fsroot_open() gives the caller the root (fsroot_free);
 * descriptors from fsroot_openat() are the caller's to close; lists and
 * buffers are the caller's.
 * Thread safety: an fsroot does not change after fsroot_open(); any number
 * of threads may use one at once (fsroot_free() only when none does).
 * Two calls writing the same path at once both succeed, one after the
 * other: each write uses its own temporary name.
 */
#ifndef FERRY_BASE_FSROOT_H
#define FERRY_BASE_FSROOT_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Most components a path may have, the root's own excluded. */
#define FSROOT_MAX_DEPTH 256
/* Most symlinks one resolution follows (the kernel's own limit). */
#define FSROOT_MAX_LINKS 40

/* fsroot_open() flags. */
enum {
	/* Resolve component by component even where openat2() exists (the
	 * fallback for older kernels; tests run both). */
	FSROOT_NO_OPENAT2 = 1 << 0,
};

/* Resolution flags of the other calls. */
enum {
	FSROOT_NOFOLLOW = 1 << 0, /* refuse every symlink on the way */
};

enum fsroot_type {
	FSROOT_FILE,  /* regular file */
	FSROOT_DIR,   /* directory */
	FSROOT_LINK,  /* symlink (not looked through) */
	FSROOT_OTHER, /* device, fifo, socket */
};

struct fsroot;

struct fsroot_entry {
	char *name; /* owned */
	enum fsroot_type type;
};

/* A directory's entries, sorted by name (bytes); "." and ".." left out. */
struct fsroot_list {
	struct fsroot_entry *v;
	size_t n, cap;
};

#define FSROOT_LIST_INIT                                                       \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/*
 * 0 when rel is a path the calls accept: relative, no ".." component,
 * shorter than PATH_MAX, at most FSROOT_MAX_DEPTH components.
 * -ERR_INVALID with a message saying which rule it breaks ("path '../x'
 * must not contain '..'").  The configuration checks update.path with it,
 * so `ferry validate` and the editors agree.
 */
int fsroot_path_check(const char *rel, struct err *err);

/*
 * 0 unless rel's first component (after "." and empty ones) is ".git" in
 * any case: -ERR_INVALID then.  fsroot_write() applies it to the real
 * path it writes, so no editor writes into a clone's Git directory; the
 * configuration checks call it so `ferry validate` says so first.
 */
int fsroot_git_check(const char *rel, struct err *err);

/*
 * Opens dir (a path the caller trusts: its own clone, a directory named on
 * the command line) as a root.  -ERR_NOTFOUND when it does not exist,
 * -ERR_INVALID when it is not a directory or cannot be opened,
 * -ERR_NOMEM.
 */
int fsroot_open(struct fsroot **out, const char *dir, unsigned flags,
                struct err *err);

/* Closes the root; NULL is a no-op. */
void fsroot_free(struct fsroot *r);

/* The dir given to fsroot_open(), for messages; borrowed. */
const char *fsroot_dir(const struct fsroot *r);

/* true when the kernel resolves (openat2), false on the fallback. */
bool fsroot_uses_openat2(const struct fsroot *r);

/*
 * Opens rel with open(2) flags oflags (O_CLOEXEC is added; O_CREAT is
 * refused, use fsroot_write) and puts the descriptor in *fd_out.
 * -ERR_NOTFOUND when a component does not exist; -ERR_INVALID for a path
 * fsroot_path_check() refuses, a link that leads outside (or any link with
 * FSROOT_NOFOLLOW), a component that is not a directory, or another open
 * failure.
 */
int fsroot_openat(const struct fsroot *r, const char *rel, unsigned flags,
                  int oflags, int *fd_out, struct err *err);

/*
 * Appends the content of regular file rel (links followed as above) to
 * out.  -ERR_INVALID when it is not a regular file or is larger than max
 * bytes; errors of fsroot_openat() otherwise.
 */
int fsroot_read(const struct fsroot *r, const char *rel, unsigned flags,
                size_t max, struct buf *out, struct err *err);

/*
 * Replaces file rel with len bytes atomically: a temporary file with a
 * name unique to this call in the same directory (created O_EXCL), write,
 * fsync, renameat() over rel, fsync of the directory.  A crash leaves the
 * old or the new content.  An existing file keeps its mode; a new one gets
 * mode.  The directory part is resolved as above; the last component must
 * not be a symlink or a directory (-ERR_INVALID).  A path whose real
 * directory lies in ".git" at the root, or that names ".git" itself
 * (fsroot_git_check()), is refused with -ERR_INVALID: what the root holds
 * is a work tree, and its Git directory is not an editor's to change.
 */
int fsroot_write(const struct fsroot *r, const char *rel, unsigned flags,
                 const void *data, size_t len, mode_t mode, struct err *err);

/*
 * lstat of rel: the directory part resolved as above, the last component
 * not followed.  -ERR_NOTFOUND when it does not exist.
 */
int fsroot_lstat(const struct fsroot *r, const char *rel, unsigned flags,
                 struct stat *st, struct err *err);

/*
 * The path of what rel names, relative to the root, with every link on the
 * way followed (beneath the root, as above) and no "." or empty component:
 * "deploy/values.yaml" for a link "prod/values.yaml -> ../deploy/values.yaml".
 * "" for the root itself.  Replaces out's content.  Errors as
 * fsroot_openat().
 */
int fsroot_realpath(const struct fsroot *r, const char *rel, unsigned flags,
                    struct buf *out, struct err *err);

/*
 * Lists directory rel into out (replaced): names and types from the
 * directory itself (d_type; an lstat only where the file system gives
 * none).  Errors as fsroot_openat(); -ERR_NOMEM.
 */
int fsroot_list(const struct fsroot *r, const char *rel, unsigned flags,
                struct fsroot_list *out, struct err *err);

/* Frees the entries and returns l to FSROOT_LIST_INIT. */
void fsroot_list_release(struct fsroot_list *l);

#endif
