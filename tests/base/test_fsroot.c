/*
 * Unit tests for core/base/fsroot: a root that no path, link or ".." can
 * leave.  Every test runs twice: with the kernel resolving (openat2) and
 * with the component-by-component fallback for kernels without it.
 *
 * The tree every test starts with (D is a fresh directory in /dev/shm):
 *   D/outside/secret                      "private line"
 *   D/root/deploy/app.yaml                "image: app:1.0.0"
 *   D/root/deploy/linkdir -> ../../outside          (climbs out)
 *   D/root/deploy/abslink -> D/outside              (absolute)
 *   D/root/nested/inner -> ../deploy                (inside, but its
 *                                                   linkdir climbs out)
 *   D/root/shared/values.yaml             "tag: 1.0.0"
 *   D/root/prod/values.yaml -> ../shared/values.yaml (stays inside)
 *   D/root/prod/dirlink -> ../shared                 (stays inside)
 *   D/root/prod/absin -> D/root/shared/values.yaml   (absolute, inside)
 *   D/root/loop -> loop;  D/root/l1 -> l2;  D/root/l2 -> l1
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsroot.h"
#include "base/util.h"

struct fixture {
	char dir[64];
	char path[512];
	struct fsroot *root;
	unsigned open_flags;
};

static unsigned mode_kernel = 0;
static unsigned mode_walk = FSROOT_NO_OPENAT2;

static void
put(const char *dir, const char *rel, const char *text)
{
	char p[512];
	struct err e = ERR_INIT;

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(file_write_atomic(p, text, strlen(text), 0644, &e), 0);
}

static void
link_(const char *dir, const char *target, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(symlink(target, p), 0);
}

static void
mkdir_(const char *dir, const char *rel)
{
	char p[512];

	snprintf(p, sizeof(p), "%s/%s", dir, rel);
	assert_int_equal(mkdir(p, 0755), 0);
}

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	char root[256], t[512];
	struct err e = ERR_INIT;

	assert_non_null(f);
	f->open_flags = *(unsigned *)*state;
	snprintf(f->dir, sizeof(f->dir), "/dev/shm/ferry-fsroot-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	mkdir_(f->dir, "outside");
	put(f->dir, "outside/secret", "private line\n");
	snprintf(root, sizeof(root), "%s/root", f->dir);
	assert_int_equal(mkdir(root, 0755), 0);
	mkdir_(root, "deploy");
	put(root, "deploy/app.yaml", "image: app:1.0.0\n");
	link_(root, "../../outside", "deploy/linkdir");
	snprintf(t, sizeof(t), "%s/outside", f->dir);
	link_(root, t, "deploy/abslink");
	mkdir_(root, "nested");
	link_(root, "../deploy", "nested/inner");
	mkdir_(root, "shared");
	put(root, "shared/values.yaml", "tag: 1.0.0\n");
	mkdir_(root, "prod");
	link_(root, "../shared/values.yaml", "prod/values.yaml");
	link_(root, "../shared", "prod/dirlink");
	snprintf(t, sizeof(t), "%s/shared/values.yaml", root);
	link_(root, t, "prod/absin");
	link_(root, "loop", "loop");
	link_(root, "l2", "l1");
	link_(root, "l1", "l2");
	assert_int_equal(fsroot_open(&f->root, root, f->open_flags, &e), 0);
	if (f->open_flags & FSROOT_NO_OPENAT2)
		assert_false(fsroot_uses_openat2(f->root));
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	fsroot_free(f->root);
	dir_remove_all(f->dir, NULL);
	free(f);
	return 0;
}

/* The file outside the root still holds what setup wrote. */
static void
assert_outside_untouched(struct fixture *f)
{
	struct buf b = BUF_INIT;
	char p[512];
	struct err e = ERR_INIT;

	snprintf(p, sizeof(p), "%s/outside/secret", f->dir);
	assert_int_equal(file_read(&b, p, &e), 0);
	assert_string_equal(b.ptr, "private line\n");
	buf_release(&b);
}

/* rel is refused for reading, listing, writing and realpath alike, and
 * nothing outside changes. */
static void
assert_refused(struct fixture *f, const char *rel, unsigned flags)
{
	struct buf b = BUF_INIT;
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct err e = ERR_INIT;
	int fd = -1;

	assert_int_equal(fsroot_read(f->root, rel, flags, 1 << 20, &b, &e),
	                 -ERR_INVALID);
	assert_null(strstr(e.msg, "private"));
	assert_string_equal(b.ptr, "");
	assert_int_equal(fsroot_openat(f->root, rel, flags, O_RDONLY, &fd, &e),
	                 -ERR_INVALID);
	assert_int_equal(fd, -1);
	assert_int_equal(
	        fsroot_write(f->root, rel, flags, "owned\n", 6, 0644, &e),
	        -ERR_INVALID);
	assert_int_equal(fsroot_realpath(f->root, rel, flags, &b, &e),
	                 -ERR_INVALID);
	fsroot_list(f->root, rel, flags, &l, &e);
	assert_int_equal(l.n, 0);
	assert_outside_untouched(f);
	buf_release(&b);
}

static void
test_fsroot__a_symlinked_directory_leading_outside_is_refused(void **state)
{
	struct fixture *f = *state;
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct err e = ERR_INIT;
	struct stat st;

	assert_refused(f, "deploy/linkdir/secret", 0);
	assert_refused(f, "deploy/abslink/secret", 0);
	assert_int_equal(fsroot_list(f->root, "deploy/linkdir", 0, &l, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "outside the root"));
	/* the link itself can be looked at, not through */
	assert_int_equal(fsroot_lstat(f->root, "deploy/linkdir", 0, &st, &e),
	                 0);
	assert_true(S_ISLNK(st.st_mode));
}

static void
test_fsroot__a_nested_symlink_leading_outside_is_refused(void **state)
{
	struct fixture *f = *state;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	/* nested/inner stays inside; the link under it does not */
	assert_int_equal(fsroot_read(f->root, "nested/inner/app.yaml", 0,
	                             1 << 20, &b, &e),
	                 0);
	assert_string_equal(b.ptr, "image: app:1.0.0\n");
	assert_refused(f, "nested/inner/linkdir/secret", 0);
	assert_refused(f, "nested/./inner//linkdir/secret", 0);
	buf_release(&b);
}

static void
test_fsroot__dotdot_is_refused_even_when_it_stays_inside(void **state)
{
	struct fixture *f = *state;
	struct err e = ERR_INIT;

	assert_refused(f, "../outside/secret", 0);
	assert_refused(f, "deploy/../../outside/secret", 0);
	assert_refused(f, "deploy/../deploy/app.yaml", 0);
	assert_int_equal(fsroot_path_check("deploy/..", &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "must not contain '..'"));
	/* a name made of three dots is a name */
	assert_int_equal(fsroot_path_check("deploy/.../x", &e), 0);
	assert_int_equal(fsroot_path_check("./deploy//", &e), 0);
	assert_int_equal(fsroot_path_check("", &e), 0);
}

static void
test_fsroot__absolute_paths_and_absolute_links_are_refused(void **state)
{
	struct fixture *f = *state;
	char abs[512];
	struct err e = ERR_INIT;

	snprintf(abs, sizeof(abs), "%s/outside/secret", f->dir);
	assert_refused(f, abs, 0);
	assert_int_equal(fsroot_path_check("/etc", &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "must be relative"));
	/* absolute even though it points back into the root */
	assert_refused(f, "prod/absin", 0);
}

static void
test_fsroot__a_symlink_loop_is_an_error_not_a_hang(void **state)
{
	struct fixture *f = *state;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(fsroot_read(f->root, "loop", 0, 1 << 20, &b, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "symlinks"));
	assert_int_equal(fsroot_read(f->root, "l1/x", 0, 1 << 20, &b, &e),
	                 -ERR_INVALID);
	assert_int_equal(fsroot_realpath(f->root, "l2", 0, &b, &e),
	                 -ERR_INVALID);
	buf_release(&b);
}

static void
test_fsroot__a_symlink_that_stays_inside_is_followed_unless_nofollow(
        void **state)
{
	struct fixture *f = *state;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(
	        fsroot_read(f->root, "prod/values.yaml", 0, 1 << 20, &b, &e),
	        0);
	assert_string_equal(b.ptr, "tag: 1.0.0\n");
	assert_int_equal(
	        fsroot_realpath(f->root, "prod/values.yaml", 0, &b, &e), 0);
	assert_string_equal(b.ptr, "shared/values.yaml");
	assert_int_equal(fsroot_realpath(f->root, "./prod/dirlink//values.yaml",
	                                 0, &b, &e),
	                 0);
	assert_string_equal(b.ptr, "shared/values.yaml");
	assert_int_equal(fsroot_realpath(f->root, ".", 0, &b, &e), 0);
	assert_string_equal(b.ptr, "");
	assert_int_equal(fsroot_realpath(f->root, "prod/dirlink", 0, &b, &e),
	                 0);
	assert_string_equal(b.ptr, "shared");
	buf_reset(&b);
	assert_int_equal(fsroot_read(f->root, "prod/values.yaml",
	                             FSROOT_NOFOLLOW, 1 << 20, &b, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "symlink"));
	assert_int_equal(fsroot_read(f->root, "prod/dirlink/values.yaml",
	                             FSROOT_NOFOLLOW, 1 << 20, &b, &e),
	                 -ERR_INVALID);
	/* a write never replaces the link; its target is written instead */
	assert_int_equal(fsroot_write(f->root, "prod/values.yaml", 0, "x\n", 2,
	                              0644, &e),
	                 -ERR_INVALID);
	assert_int_equal(fsroot_write(f->root, "prod/dirlink/values.yaml", 0,
	                              "tag: 1.1.0\n", 11, 0644, &e),
	                 0);
	buf_reset(&b);
	assert_int_equal(
	        fsroot_read(f->root, "shared/values.yaml", 0, 1 << 20, &b, &e),
	        0);
	assert_string_equal(b.ptr, "tag: 1.1.0\n");
	buf_release(&b);
}

static void
test_fsroot__write_is_atomic_keeps_the_mode_and_leaves_no_temporary(
        void **state)
{
	struct fixture *f = *state;
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	struct stat st;

	assert_int_equal(fsroot_write(f->root, "deploy/new.yaml", 0, "a: 1\n",
	                              5, 0640, &e),
	                 0);
	assert_int_equal(fsroot_lstat(f->root, "deploy/new.yaml", 0, &st, &e),
	                 0);
	assert_int_equal(st.st_mode & 0777, 0640);
	snprintf(f->path, sizeof(f->path), "%s/root/deploy/app.yaml", f->dir);
	assert_int_equal(chmod(f->path, 0600), 0);
	assert_int_equal(fsroot_write(f->root, "./deploy//app.yaml", 0,
	                              "image: app:1.1.0\n", 17, 0644, &e),
	                 0);
	assert_int_equal(fsroot_lstat(f->root, "deploy/app.yaml", 0, &st, &e),
	                 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(
	        fsroot_read(f->root, "deploy/app.yaml", 0, 1 << 20, &b, &e), 0);
	assert_string_equal(b.ptr, "image: app:1.1.0\n");
	assert_int_equal(fsroot_list(f->root, "deploy", 0, &l, &e), 0);
	for (size_t i = 0; i < l.n; i++)
		assert_null(strstr(l.v[i].name, "tmp"));
	assert_int_equal(fsroot_write(f->root, "deploy", 0, "x", 1, 0644, &e),
	                 -ERR_INVALID);
	assert_int_equal(fsroot_write(f->root, ".", 0, "x", 1, 0644, &e),
	                 -ERR_INVALID);
	fsroot_list_release(&l);
	buf_release(&b);
}

static void
test_fsroot__list_is_sorted_and_does_not_look_through_links(void **state)
{
	struct fixture *f = *state;
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(fsroot_list(f->root, "prod", 0, &l, &e), 0);
	assert_int_equal(l.n, 3);
	assert_string_equal(l.v[0].name, "absin");
	assert_string_equal(l.v[1].name, "dirlink");
	assert_int_equal(l.v[1].type, FSROOT_LINK);
	assert_string_equal(l.v[2].name, "values.yaml");
	assert_int_equal(l.v[2].type, FSROOT_LINK);
	assert_int_equal(fsroot_list(f->root, "", 0, &l, &e), 0);
	assert_int_equal(l.n, 7);
	assert_string_equal(l.v[0].name, "deploy");
	assert_int_equal(l.v[0].type, FSROOT_DIR);
	/* a link to a directory inside is listed through, as a path */
	assert_int_equal(fsroot_list(f->root, "prod/dirlink", 0, &l, &e), 0);
	assert_int_equal(l.n, 1);
	assert_int_equal(l.v[0].type, FSROOT_FILE);
	assert_int_equal(fsroot_list(f->root, "deploy/app.yaml", 0, &l, &e),
	                 -ERR_INVALID);
	assert_int_equal(fsroot_list(f->root, "nope", 0, &l, &e),
	                 -ERR_NOTFOUND);
	fsroot_list_release(&l);
}

static void
test_fsroot__read_refuses_a_fifo_without_blocking(void **state)
{
	struct fixture *f = *state;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	snprintf(f->path, sizeof(f->path), "%s/root/deploy/fifo.yaml", f->dir);
	assert_int_equal(mkfifo(f->path, 0644), 0);
	assert_int_equal(
	        fsroot_read(f->root, "deploy/fifo.yaml", 0, 1 << 20, &b, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not a regular file"));
	assert_int_equal(fsroot_read(f->root, "deploy/app.yaml", 0, 4, &b, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "larger than 4 bytes"));
	buf_release(&b);
}

static void
test_fsroot__read_returns_empty_and_large_files_whole(void **state)
{
	struct fixture *f = *state;
	struct buf big = BUF_INIT, b = BUF_INIT;
	struct err e = ERR_INIT;

	for (int i = 0; i < 20000; i++)
		buf_addf(&big, "line %d\n", i);
	assert_int_equal(fsroot_write(f->root, "deploy/big.yaml", 0, big.ptr,
	                              big.len, 0644, &e),
	                 0);
	assert_int_equal(
	        fsroot_write(f->root, "deploy/empty.yaml", 0, "", 0, 0644, &e),
	        0);
	buf_puts(&b, "kept: ");
	assert_int_equal(
	        fsroot_read(f->root, "deploy/big.yaml", 0, 1 << 20, &b, &e), 0);
	assert_int_equal(b.len, 6 + big.len);
	assert_memory_equal(b.ptr + 6, big.ptr, big.len);
	buf_reset(&b);
	assert_int_equal(
	        fsroot_read(f->root, "deploy/empty.yaml", 0, 1 << 20, &b, &e),
	        0);
	assert_int_equal(b.len, 0);
	buf_release(&big);
	buf_release(&b);
}

#define WRITERS 8
#define WRITES 25

struct writer {
	struct fsroot *root;
	int id;
	int failures;
};

static void *
writer(void *arg)
{
	struct writer *w = arg;
	char text[32];

	snprintf(text, sizeof(text), "writer: %d\n", w->id);
	for (int i = 0; i < WRITES; i++) {
		struct err e = ERR_INIT;
		if (fsroot_write(w->root, "deploy/app.yaml", 0, text,
		                 strlen(text), 0644, &e) < 0)
			w->failures++;
	}
	return NULL;
}

static void
test_fsroot__writers_of_one_file_never_share_a_temporary_name(void **state)
{
	struct fixture *f = *state;
	struct writer w[WRITERS];
	pthread_t th[WRITERS];
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	for (int i = 0; i < WRITERS; i++) {
		w[i].root = f->root;
		w[i].id = i;
		w[i].failures = 0;
		assert_int_equal(pthread_create(&th[i], NULL, writer, &w[i]),
		                 0);
	}
	for (int i = 0; i < WRITERS; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	assert_int_equal(
	        fsroot_read(f->root, "deploy/app.yaml", 0, 1 << 20, &b, &e), 0);
	assert_memory_equal(b.ptr, "writer: ", 8);
	assert_int_equal(fsroot_list(f->root, "deploy", 0, &l, &e), 0);
	assert_int_equal(l.n, 3); /* abslink, app.yaml, linkdir */
	fsroot_list_release(&l);
	buf_release(&b);
}

/* The work tree's Git directory is never written, by name in any case or
 * through a link that stays inside the root. */
static void
test_fsroot__a_write_into_the_git_directory_is_refused(void **state)
{
	struct fixture *f = *state;
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	char root[512];
	static const char *const refused[] = {
		".git/HEAD",          "./.git/HEAD",
		".GIT/HEAD",          ".git/refs/x",
		"deploy/gitdir/HEAD", "deploy/gitdir/refs/x",
		"deploy/gitdir2/x",
	};

	snprintf(root, sizeof(root), "%s/root", f->dir);
	mkdir_(root, ".git");
	mkdir_(root, ".git/refs");
	put(root, ".git/HEAD", "ref: refs/heads/main\n");
	link_(root, "../.git", "deploy/gitdir");
	link_(root, "../.git/refs", "deploy/gitdir2");
	for (size_t i = 0; i < sizeof(refused) / sizeof(refused[0]); i++) {
		assert_int_equal(fsroot_write(f->root, refused[i], 0, "x\n", 2,
		                              0644, &e),
		                 -ERR_INVALID);
		assert_non_null(strstr(e.msg, ".git"));
	}
	assert_int_equal(fsroot_write(f->root, ".git", 0, "x\n", 2, 0644, &e),
	                 -ERR_INVALID);
	assert_int_equal(fsroot_read(f->root, ".git/HEAD", 0, 1 << 20, &b, &e),
	                 0);
	assert_string_equal(b.ptr, "ref: refs/heads/main\n");
	/* a name that only starts like it is an ordinary file */
	assert_int_equal(
	        fsroot_write(f->root, ".gitignore", 0, "x\n", 2, 0644, &e), 0);
	assert_int_equal(
	        fsroot_write(f->root, "deploy/.git", 0, "x\n", 2, 0644, &e), 0);
	assert_int_equal(fsroot_git_check("deploy/.git/x", &e), 0);
	assert_int_equal(fsroot_git_check(".Git", &e), -ERR_INVALID);
	buf_release(&b);
}

#define BOTH(t)                                                                \
	cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,           \
	                                         &mode_kernel),                \
	        cmocka_unit_test_prestate_setup_teardown(t, setup, teardown,   \
	                                                 &mode_walk)

int
main(void)
{
	const struct CMUnitTest tests[] = {
		BOTH(test_fsroot__a_symlinked_directory_leading_outside_is_refused),
		BOTH(test_fsroot__a_nested_symlink_leading_outside_is_refused),
		BOTH(test_fsroot__dotdot_is_refused_even_when_it_stays_inside),
		BOTH(test_fsroot__absolute_paths_and_absolute_links_are_refused),
		BOTH(test_fsroot__a_symlink_loop_is_an_error_not_a_hang),
		BOTH(test_fsroot__a_symlink_that_stays_inside_is_followed_unless_nofollow),
		BOTH(test_fsroot__write_is_atomic_keeps_the_mode_and_leaves_no_temporary),
		BOTH(test_fsroot__list_is_sorted_and_does_not_look_through_links),
		BOTH(test_fsroot__read_refuses_a_fifo_without_blocking),
		BOTH(test_fsroot__read_returns_empty_and_large_files_whole),
		BOTH(test_fsroot__writers_of_one_file_never_share_a_temporary_name),
		BOTH(test_fsroot__a_write_into_the_git_directory_is_refused),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
