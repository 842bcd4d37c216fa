/*
 * fsroot.c - path resolution that cannot leave a root directory, and the
 * reads, listings and atomic writes built on it.  The kernel resolves
 * where it can (openat2 with RESOLVE_BENEATH); otherwise walk() applies the
 * same rules one component at a time.  walk() also gives the canonical
 * path, which openat2 cannot.  Nothing here knows about YAML or Git.
 */
#define _GNU_SOURCE /* O_PATH, AT_EMPTY_PATH */
#include "fsroot.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <linux/openat2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <unistd.h>

/* openat2 retries: EAGAIN means a rename raced a ".." in a link target. */
#define FSROOT_EAGAIN_RETRIES 8
/* Temporary names tried before giving up (each is 64 random bits). */
#define FSROOT_TMP_TRIES 4

struct fsroot {
	int fd;
	bool openat2;
	char *dir;
};

static bool
is_dotdot(const char *p, size_t n)
{
	return n == 2 && p[0] == '.' && p[1] == '.';
}

static bool
is_dot_or_empty(const char *p, size_t n)
{
	return n == 0 || (n == 1 && p[0] == '.');
}

int
fsroot_path_check(const char *rel, struct err *err)
{
	size_t depth = 0;

	if (rel == NULL)
		return err_set(err, ERR_INVALID, "path is missing");
	if (rel[0] == '/')
		return err_set(err, ERR_INVALID, "path '%s' must be relative",
		               rel);
	if (strlen(rel) >= PATH_MAX)
		return err_set(err, ERR_INVALID, "path is longer than %d bytes",
		               PATH_MAX - 1);
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (is_dotdot(p, n))
			return err_set(err, ERR_INVALID,
			               "path '%s' must not contain '..'", rel);
		if (!is_dot_or_empty(p, n) && ++depth > FSROOT_MAX_DEPTH)
			return err_set(err, ERR_INVALID,
			               "path '%s' has more than %d components",
			               rel, FSROOT_MAX_DEPTH);
		p += n;
		while (*p == '/')
			p++;
	}
	return 0;
}

/* true when rel has only "." and empty components: the root itself. */
static bool
names_root(const char *rel)
{
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (!is_dot_or_empty(p, n))
			return false;
		p += n;
		while (*p == '/')
			p++;
	}
	return true;
}

/*
 * rel without "." and empty components, into out ("" for the root); *base
 * is the offset of the last component in out (out->len for the root).
 */
static int
normalize(struct buf *out, const char *rel, size_t *base)
{
	buf_reset(out);
	*base = 0;
	for (const char *p = rel; *p;) {
		size_t n = strcspn(p, "/");
		if (!is_dot_or_empty(p, n)) {
			if (out->len)
				buf_putc(out, '/');
			*base = out->len;
			buf_add(out, p, n);
		}
		p += n;
		while (*p == '/')
			p++;
	}
	if (out->len == 0)
		*base = 0;
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
fsroot_open(struct fsroot **out, const char *dir, unsigned flags,
            struct err *err)
{
	struct fsroot *r = NULL;
	struct stat st;

	*out = NULL;
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->dir = strdup(dir)) == NULL) {
		free(r);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	r->fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (r->fd < 0) {
		int e = errno;
		free(r->dir);
		free(r);
		return err_set(err, e == ENOENT ? ERR_NOTFOUND : ERR_INVALID,
		               "%s: cannot open directory: %s", dir,
		               strerror(e));
	}
	if (fstat(r->fd, &st) < 0 || !S_ISDIR(st.st_mode)) {
		fsroot_free(r);
		return err_set(err, ERR_INVALID, "%s: not a directory", dir);
	}
	if (!(flags & FSROOT_NO_OPENAT2)) {
		/* Probe once: ENOSYS on kernels before 5.6, and a seccomp
		 * filter may answer EPERM; either way, walk instead. */
		struct open_how how = { O_PATH | O_CLOEXEC, 0,
			                RESOLVE_BENEATH };
		long fd = syscall(SYS_openat2, r->fd, ".", &how, sizeof(how));
		if (fd >= 0) {
			close((int)fd);
			r->openat2 = true;
		}
	}
	*out = r;
	return 0;
}

void
fsroot_free(struct fsroot *r)
{
	if (r == NULL)
		return;
	if (r->fd >= 0)
		close(r->fd);
	free(r->dir);
	free(r);
}

const char *
fsroot_dir(const struct fsroot *r)
{
	return r->dir;
}

bool
fsroot_uses_openat2(const struct fsroot *r)
{
	return r->openat2;
}

static int
open_error(struct err *err, int e, const char *rel, unsigned flags)
{
	const char *shown = *rel ? rel : ".";

	switch (e) {
	case ENOENT:
		return err_set(err, ERR_NOTFOUND,
		               "'%s': no such file or directory", shown);
	case EXDEV:
		return err_set(
		        err, ERR_INVALID,
		        "'%s': a symlink on the way leads outside the root",
		        shown);
	case ELOOP:
		if (flags & FSROOT_NOFOLLOW)
			return err_set(err, ERR_INVALID,
			               "'%s': is or passes through a symlink",
			               shown);
		return err_set(err, ERR_INVALID,
		               "'%s': more than %d symlinks on the way", shown,
		               FSROOT_MAX_LINKS);
	case ENOTDIR:
		return err_set(err, ERR_INVALID,
		               "'%s': a component is not a directory", shown);
	case ENOMEM:
		return err_set(err, ERR_NOMEM, "'%s': out of memory", shown);
	default:
		return err_set(err, ERR_INVALID, "'%s': cannot open: %s", shown,
		               strerror(e));
	}
}

/* The walk's state: a stack of open directories from the root down. */
struct walk {
	int fds[FSROOT_MAX_DEPTH + 1]; /* fds[0] is the root's (not owned) */
	size_t ends[FSROOT_MAX_DEPTH + 1]; /* canon's length at each depth */
	size_t depth;
	struct buf canon;   /* names of the directories on the stack */
	struct buf pending; /* what is left to resolve */
	int links;
};

static void
walk_release(struct walk *w)
{
	while (w->depth > 0)
		close(w->fds[w->depth--]);
	buf_release(&w->canon);
	buf_release(&w->pending);
}

/* pending = target "/" rest, for a symlink met with rest left after it. */
static int
walk_splice(struct walk *w, const char *target, size_t tlen, const char *rest)
{
	struct buf next = BUF_INIT;

	buf_add(&next, target, tlen);
	buf_putc(&next, '/');
	buf_puts(&next, rest);
	if (!buf_ok(&next)) {
		buf_release(&next);
		return -ERR_NOMEM;
	}
	buf_release(&w->pending);
	w->pending = next;
	return 0;
}

/* Appends name to canon (the path of the directory on top of the stack). */
static void
canon_add(struct buf *canon, const char *name, size_t n)
{
	if (canon->len)
		buf_putc(canon, '/');
	buf_add(canon, name, n);
}

/*
 * Resolves rel beneath r one component at a time and opens the last one
 * with oflags (a link there is followed too).  canon (may be NULL) gets
 * the canonical path.  Every directory is opened O_NOFOLLOW; a link is
 * read with readlinkat and its target put in front of the rest.
 */
static int
walk(const struct fsroot *r, const char *rel, unsigned flags, int oflags,
     int *fd_out, struct buf *canon, struct err *err)
{
	struct walk w;
	size_t pos = 0;
	int rc = 0, fd = -1;
	char target[PATH_MAX];

	memset(&w, 0, sizeof(w));
	w.canon = (struct buf)BUF_INIT;
	w.pending = (struct buf)BUF_INIT;
	w.fds[0] = r->fd;
	if (buf_puts(&w.pending, rel) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (;;) {
		const char *p, *rest;
		size_t n;
		bool last;
		int cur = w.fds[w.depth], e;
		ssize_t tl;

		while (w.pending.ptr[pos] == '/')
			pos++;
		p = w.pending.ptr + pos;
		n = strcspn(p, "/");
		rest = p + n;
		while (*rest == '/')
			rest++;
		last = *rest == '\0';
		if (n == 1 && p[0] == '.' && !last) {
			pos = (size_t)(rest - w.pending.ptr);
			continue;
		}
		if (n == 0 || (n == 1 && p[0] == '.')) {
			/* the directory on top is the target */
			fd = openat(cur, ".", oflags | O_CLOEXEC);
			if (fd < 0)
				rc = open_error(err, errno, rel, flags);
			break;
		}
		if (is_dotdot(p, n)) {
			if (w.depth == 0) {
				rc = open_error(err, EXDEV, rel, flags);
				break;
			}
			close(w.fds[w.depth--]);
			buf_truncate(&w.canon, w.depth ? w.ends[w.depth] : 0);
			pos = (size_t)(rest - w.pending.ptr);
			if (last)
				pos = w.pending.len; /* the new top is it */
			continue;
		}
		if (n >= NAME_MAX + 1) {
			rc = open_error(err, ENAMETOOLONG, rel, flags);
			break;
		}
		{
			char name[NAME_MAX + 1];
			memcpy(name, p, n);
			name[n] = '\0';
			if (!last)
				fd = openat(cur, name,
				            O_PATH | O_DIRECTORY | O_NOFOLLOW |
				                    O_CLOEXEC);
			else
				fd = openat(cur, name,
				            oflags | O_NOFOLLOW | O_CLOEXEC);
			e = errno;
			if (fd >= 0 && last && (oflags & O_PATH)) {
				/* O_PATH | O_NOFOLLOW opens a link itself */
				struct stat st;
				if (fstat(fd, &st) == 0 &&
				    S_ISLNK(st.st_mode)) {
					close(fd);
					fd = -1;
					e = ELOOP;
				}
			}
			if (fd >= 0 && !last) {
				if (w.depth == FSROOT_MAX_DEPTH) {
					close(fd);
					fd = -1;
					rc = open_error(err, ENAMETOOLONG, rel,
					                flags);
					break;
				}
				w.fds[++w.depth] = fd;
				canon_add(&w.canon, p, n);
				w.ends[w.depth] = w.canon.len;
				fd = -1;
				pos = (size_t)(rest - w.pending.ptr);
				continue;
			}
			if (fd >= 0) {
				canon_add(&w.canon, p, n);
				break;
			}
			if (e != ELOOP && e != ENOTDIR) {
				rc = open_error(err, e, rel, flags);
				break;
			}
			tl = readlinkat(cur, name, target, sizeof(target));
		}
		if (tl < 0) {
			/* not a link: the error was about something else */
			rc = open_error(err, e, rel, flags);
			break;
		}
		if (flags & FSROOT_NOFOLLOW) {
			rc = open_error(err, ELOOP, rel, flags);
			break;
		}
		if (++w.links > FSROOT_MAX_LINKS) {
			rc = open_error(err, ELOOP, rel, flags);
			break;
		}
		if (tl == 0 || (size_t)tl >= sizeof(target) ||
		    target[0] == '/') {
			rc = open_error(err, tl == 0 ? ENOENT : EXDEV, rel,
			                flags);
			break;
		}
		if (walk_splice(&w, target, (size_t)tl, rest) < 0) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		pos = 0;
	}
	if (rc == 0 && canon) {
		buf_reset(canon);
		buf_add(canon, w.canon.ptr, w.canon.len);
		if (!buf_ok(canon) || !buf_ok(&w.canon))
			rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	if (rc < 0 && fd >= 0) {
		close(fd);
		fd = -1;
	}
	walk_release(&w);
	*fd_out = fd;
	return rc;
}

/* Opens rel (checked) with oflags: openat2 where the kernel has it. */
static int
resolve(const struct fsroot *r, const char *rel, unsigned flags, int oflags,
        int *fd_out, struct buf *canon, struct err *err)
{
	struct open_how how;
	long fd = -1;
	int rc;

	*fd_out = -1;
	if ((rc = fsroot_path_check(rel, err)) < 0)
		return rc;
	if (!r->openat2 || canon != NULL)
		return walk(r, rel, flags, oflags, fd_out, canon, err);
	memset(&how, 0, sizeof(how));
	how.flags = (uint64_t)(oflags | O_CLOEXEC);
	how.resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS;
	if (flags & FSROOT_NOFOLLOW)
		how.resolve |= RESOLVE_NO_SYMLINKS;
	for (int i = 0; i < FSROOT_EAGAIN_RETRIES; i++) {
		fd = syscall(SYS_openat2, r->fd, *rel ? rel : ".", &how,
		             sizeof(how));
		if (fd >= 0 || errno != EAGAIN)
			break;
	}
	if (fd < 0)
		return open_error(err, errno, rel, flags);
	*fd_out = (int)fd;
	return 0;
}

int
fsroot_openat(const struct fsroot *r, const char *rel, unsigned flags,
              int oflags, int *fd_out, struct err *err)
{
	*fd_out = -1;
	if (oflags & (O_CREAT | O_TMPFILE))
		return err_set(err, ERR_INTERNAL,
		               "'%s': fsroot_openat does not create files",
		               rel);
	return resolve(r, rel, flags, oflags, fd_out, NULL, err);
}

int
fsroot_realpath(const struct fsroot *r, const char *rel, unsigned flags,
                struct buf *out, struct err *err)
{
	int fd = -1, rc;

	rc = fsroot_path_check(rel, err);
	if (rc == 0)
		rc = walk(r, rel, flags, O_PATH, &fd, out, err);
	if (fd >= 0)
		close(fd);
	return rc;
}

int
fsroot_read(const struct fsroot *r, const char *rel, unsigned flags, size_t max,
            struct buf *out, struct err *err)
{
	struct stat st;
	size_t start = out->len;
	int fd = -1, rc;

	/* O_NONBLOCK: opening a fifo must not hang; it is refused below */
	rc = resolve(r, rel, flags, O_RDONLY | O_NOCTTY | O_NONBLOCK, &fd, NULL,
	             err);
	if (rc < 0)
		return rc;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		rc = err_set(err, ERR_INVALID, "'%s': not a regular file", rel);
		goto out;
	}
	if ((uintmax_t)st.st_size > max) {
		rc = err_set(err, ERR_INVALID, "'%s': larger than %zu bytes",
		             rel, max);
		goto out;
	}
	/* Room for one byte more than fstat gave: once the file's size is
	 * in, a read that comes back short has met the end, so one read is
	 * enough unless the file grew in between. */
	if (buf_grow(out, (size_t)st.st_size + 1) < 0) {
		rc = err_set(err, ERR_NOMEM, "'%s': out of memory", rel);
		goto out;
	}
	for (;;) {
		ssize_t n;
		size_t room;
		if (out->cap - out->len < 2 && buf_grow(out, 4096) < 0) {
			rc = err_set(err, ERR_NOMEM, "'%s': out of memory",
			             rel);
			break;
		}
		room = out->cap - out->len - 1;
		n = read(fd, out->ptr + out->len, room);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(err, ERR_INVALID, "'%s': read failed: %s",
			             rel, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (out->len - start + (size_t)n > max) {
			rc = err_set(err, ERR_INVALID,
			             "'%s': larger than %zu bytes", rel, max);
			break;
		}
		out->len += (size_t)n;
		out->ptr[out->len] = '\0';
		if ((size_t)n < room &&
		    out->len - start >= (uintmax_t)st.st_size)
			break;
	}
out:
	if (rc < 0)
		buf_truncate(out, start);
	close(fd);
	return rc;
}

/*
 * Opens the directory holding rel's last component (with dir_oflags) and
 * copies that component into base.  -ERR_INVALID when rel is the root.
 */
static int
open_parent(const struct fsroot *r, const char *rel, unsigned flags,
            int dir_oflags, int *dfd, char base[NAME_MAX + 1], struct err *err)
{
	struct buf norm = BUF_INIT;
	size_t at;
	int rc;

	*dfd = -1;
	if ((rc = fsroot_path_check(rel, err)) < 0)
		return rc;
	if (normalize(&norm, rel, &at) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (norm.len == 0) {
		rc = err_set(err, ERR_INVALID, "'%s': names the root itself",
		             rel);
		goto out;
	}
	if (norm.len - at > NAME_MAX) {
		rc = open_error(err, ENAMETOOLONG, rel, flags);
		goto out;
	}
	memcpy(base, norm.ptr + at, norm.len - at + 1);
	buf_truncate(&norm, at ? at - 1 : 0);
	rc = resolve(r, norm.ptr, flags, dir_oflags | O_DIRECTORY, dfd, NULL,
	             err);
out:
	buf_release(&norm);
	return rc;
}

int
fsroot_lstat(const struct fsroot *r, const char *rel, unsigned flags,
             struct stat *st, struct err *err)
{
	char base[NAME_MAX + 1];
	int dfd = -1, rc;

	if (names_root(rel)) {
		if (fstat(r->fd, st) < 0)
			return open_error(err, errno, rel, flags);
		return 0;
	}
	rc = open_parent(r, rel, flags, O_PATH, &dfd, base, err);
	if (rc < 0)
		return rc;
	if (fstatat(dfd, base, st, AT_SYMLINK_NOFOLLOW) < 0)
		rc = open_error(err, errno, rel, flags);
	close(dfd);
	return rc;
}

static int
write_all(int fd, const char *p, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

int
fsroot_git_check(const char *rel, struct err *err)
{
	const char *p = rel;
	size_t n;

	/* the first component that is not "." or empty */
	for (;;) {
		n = strcspn(p, "/");
		if (*p == '\0' || !is_dot_or_empty(p, n))
			break;
		p += n;
		while (*p == '/')
			p++;
	}
	/* case-insensitive: Git on a case-folding file system opens ".GIT" */
	if (n == 4 && strncasecmp(p, ".git", 4) == 0)
		return err_set(err, ERR_INVALID,
		               "'%s': is inside the repository's .git; "
		               "not written",
		               rel);
	return 0;
}

/*
 * fsroot_git_check() on what rel resolves to: the real path of its
 * directory (links followed as the write will follow them) and its last
 * component.
 */
static int
write_git_check(const struct fsroot *r, const char *rel, unsigned flags,
                struct err *err)
{
	struct buf norm = BUF_INIT, canon = BUF_INIT;
	size_t at;
	int rc;

	if ((rc = fsroot_git_check(rel, err)) < 0)
		return rc;
	if (normalize(&norm, rel, &at) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (at == 0) /* no directory part: rel itself was checked */
		goto out;
	buf_truncate(&norm, at - 1);
	if ((rc = fsroot_realpath(r, norm.ptr, flags, &canon, err)) < 0)
		goto out;
	if (fsroot_git_check(canon.len ? canon.ptr : ".", err) < 0)
		rc = err_set(err, ERR_INVALID,
		             "'%s': resolves to inside the repository's .git; "
		             "not written",
		             rel);
out:
	buf_release(&norm);
	buf_release(&canon);
	return rc;
}

int
fsroot_write(const struct fsroot *r, const char *rel, unsigned flags,
             const void *data, size_t len, mode_t mode, struct err *err)
{
	char base[NAME_MAX + 1], tmp[64];
	struct stat st;
	int dfd = -1, fd = -1, rc;
	bool made = false;

	if ((rc = fsroot_path_check(rel, err)) < 0 ||
	    (rc = write_git_check(r, rel, flags, err)) < 0)
		return rc;
	/* a real descriptor, not O_PATH: the directory is fsynced */
	rc = open_parent(r, rel, flags, O_RDONLY, &dfd, base, err);
	if (rc < 0)
		return rc;
	if (fstatat(dfd, base, &st, AT_SYMLINK_NOFOLLOW) == 0) {
		if (S_ISLNK(st.st_mode)) {
			rc = err_set(err, ERR_INVALID,
			             "'%s': is a symlink; not written through",
			             rel);
			goto out;
		}
		if (!S_ISREG(st.st_mode)) {
			rc = err_set(err, ERR_INVALID,
			             "'%s': not a regular file", rel);
			goto out;
		}
		mode = st.st_mode & 07777;
	} else if (errno != ENOENT) {
		rc = open_error(err, errno, rel, flags);
		goto out;
	}
	/* A name unique to this call (64 random bits, created O_EXCL), so
	 * two threads or processes writing one file never share it. */
	for (int i = 0; i < FSROOT_TMP_TRIES && fd < 0; i++) {
		uint64_t rnd;
		if (getrandom(&rnd, sizeof(rnd), 0) != sizeof(rnd)) {
			rc = err_set(err, ERR_INTERNAL,
			             "'%s': getrandom failed: %s", rel,
			             strerror(errno));
			goto out;
		}
		snprintf(tmp, sizeof(tmp), ".ferry-tmp-%016llx",
		         (unsigned long long)rnd);
		fd = openat(dfd, tmp,
		            O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW |
		                    O_CLOEXEC,
		            0600);
		if (fd < 0 && errno != EEXIST)
			break;
	}
	if (fd < 0) {
		rc = err_set(err, ERR_INVALID, "'%s': cannot create: %s", rel,
		             strerror(errno));
		goto out;
	}
	made = true;
	if (fchmod(fd, mode) < 0 || write_all(fd, data, len) < 0 ||
	    fsync(fd) < 0) {
		rc = err_set(err, ERR_INVALID, "'%s': write failed: %s", rel,
		             strerror(errno));
		goto out;
	}
	if (close(fd) < 0) {
		fd = -1;
		rc = err_set(err, ERR_INVALID, "'%s': write failed: %s", rel,
		             strerror(errno));
		goto out;
	}
	fd = -1;
	if (renameat(dfd, tmp, dfd, base) < 0) {
		rc = err_set(err, ERR_INVALID, "'%s': rename failed: %s", rel,
		             strerror(errno));
		goto out;
	}
	made = false;
	if (fsync(dfd) < 0)
		rc = err_set(err, ERR_INVALID, "'%s': directory fsync: %s", rel,
		             strerror(errno));
out:
	if (fd >= 0)
		close(fd);
	if (made)
		unlinkat(dfd, tmp, 0);
	close(dfd);
	return rc;
}

static int
entry_cmp(const void *a, const void *b)
{
	return strcmp(((const struct fsroot_entry *)a)->name,
	              ((const struct fsroot_entry *)b)->name);
}

static enum fsroot_type
type_of_mode(mode_t m)
{
	return S_ISREG(m)   ? FSROOT_FILE
	       : S_ISDIR(m) ? FSROOT_DIR
	       : S_ISLNK(m) ? FSROOT_LINK
	                    : FSROOT_OTHER;
}

int
fsroot_list(const struct fsroot *r, const char *rel, unsigned flags,
            struct fsroot_list *out, struct err *err)
{
	DIR *d = NULL;
	struct dirent *de;
	int fd = -1, rc;

	fsroot_list_release(out);
	rc = resolve(r, rel, flags, O_RDONLY | O_DIRECTORY, &fd, NULL, err);
	if (rc < 0)
		return rc;
	d = fdopendir(fd);
	if (d == NULL) {
		close(fd);
		return err_set(err, ERR_INVALID, "'%s': cannot list: %s", rel,
		               strerror(errno));
	}
	for (;;) {
		struct fsroot_entry *e;
		errno = 0;
		de = readdir(d);
		if (de == NULL) {
			if (errno)
				rc = err_set(err, ERR_INVALID,
				             "'%s': cannot list: %s", rel,
				             strerror(errno));
			break;
		}
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		if (out->n == out->cap) {
			size_t cap = out->cap ? out->cap * 2 : 32;
			struct fsroot_entry *v =
			        reallocarray(out->v, cap, sizeof(*v));
			if (v == NULL) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				break;
			}
			out->v = v;
			out->cap = cap;
		}
		e = &out->v[out->n];
		e->name = strdup(de->d_name);
		if (e->name == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		switch (de->d_type) {
		case DT_REG:
			e->type = FSROOT_FILE;
			break;
		case DT_DIR:
			e->type = FSROOT_DIR;
			break;
		case DT_LNK:
			e->type = FSROOT_LINK;
			break;
		case DT_UNKNOWN: {
			struct stat st;
			e->type = fstatat(dirfd(d), de->d_name, &st,
			                  AT_SYMLINK_NOFOLLOW) == 0
			                  ? type_of_mode(st.st_mode)
			                  : FSROOT_OTHER;
			break;
		}
		default:
			e->type = FSROOT_OTHER;
			break;
		}
		out->n++;
	}
	closedir(d);
	if (rc < 0) {
		fsroot_list_release(out);
		return rc;
	}
	if (out->n > 1)
		qsort(out->v, out->n, sizeof(*out->v), entry_cmp);
	return 0;
}

void
fsroot_list_release(struct fsroot_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i].name);
	free(l->v);
	l->v = NULL;
	l->n = l->cap = 0;
}
