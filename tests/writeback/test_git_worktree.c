/*
 * test_git_worktree.c - what write-back's commit stages and what its reset
 * restores, over file:// remotes made and inspected with the git CLI:
 * a commit of the files the editors name holds exactly those, and a reset
 * after such a commit checks out only what changed upstream, while a reset
 * after anything else (edits never committed, a failed commit) restores
 * the whole tree.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "writeback/git.h"

struct fixture {
	char dir[64];
	char remote[128];
	char url[160];
	char state[128];
	struct gitrepo *repo;
	char head[41];
};

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[4096];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static char *capture(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

/* A command's stdout, without the trailing newlines. */
static char *
capture(const char *fmt, ...)
{
	char cmd[4096], chunk[4096];
	struct buf out = BUF_INIT;
	size_t n;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	assert_non_null(p);
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_add(&out, chunk, n);
	pclose(p);
	while (out.len && out.ptr[out.len - 1] == '\n')
		buf_truncate(&out, out.len - 1);
	return buf_detach(&out);
}

#define GITENV                                                                 \
	"GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t GIT_AUTHOR_EMAIL=t@x "        \
	"GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x "

static const struct gitrepo_ref main_ref = { GITREPO_REF_BRANCH, "main" };

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err e = ERR_INIT;

	if (f == NULL)
		return -1;
	snprintf(f->dir, sizeof(f->dir), "/dev/shm/ferry-worktree-XXXXXX");
	if (mkdtemp(f->dir) == NULL)
		return -1;
	snprintf(f->remote, sizeof(f->remote), "%s/remote.git", f->dir);
	snprintf(f->url, sizeof(f->url), "file://%s", f->remote);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	if (sh(GITENV
	       "git init -q --bare -b main %s && "
	       "git clone -q %s %s/other 2>/dev/null && cd %s/other && "
	       "mkdir -p deploy && printf 'image: app:1.0.0\\n' > deploy/app.yaml && "
	       "printf 'keep\\n' > README && printf 'a\\n' > deploy/other.yaml && "
	       "git add -A && git commit -qm init && git push -q origin main",
	       f->remote, f->remote, f->dir, f->dir) != 0)
		return -1;
	if (gitrepo_open(&f->repo, f->state, f->url, &auth, &e) < 0 ||
	    gitrepo_sync(f->repo, &main_ref, &auth, f->head, &e) < 0) {
		print_error("%s\n", e.msg);
		return -1;
	}
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	gitrepo_free(f->repo);
	dir_remove_all(f->dir, NULL);
	free(f);
	return 0;
}

static void
put(struct fixture *f, const char *rel, const char *text)
{
	struct buf p = BUF_INIT;
	struct err e = ERR_INIT;

	buf_addf(&p, "%s%s", gitrepo_workdir(f->repo), rel);
	assert_int_equal(file_write_atomic(p.ptr, text, strlen(text), 0644, &e),
	                 0);
	buf_release(&p);
}

static char *
get(struct fixture *f, const char *rel)
{
	struct buf p = BUF_INIT, d = BUF_INIT;
	struct err e = ERR_INIT;

	buf_addf(&p, "%s%s", gitrepo_workdir(f->repo), rel);
	if (file_read(&d, p.ptr, &e) < 0) {
		buf_release(&p);
		buf_release(&d);
		return NULL;
	}
	buf_release(&p);
	return buf_detach(&d);
}

static void
assert_file(struct fixture *f, const char *rel, const char *want)
{
	char *got = get(f, rel);

	if (want == NULL) {
		assert_null(got);
		return;
	}
	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

static void
assert_clean_at(struct fixture *f, const char *commit)
{
	char *st = capture("git -C %s status --porcelain --ignored",
	                   gitrepo_workdir(f->repo));
	char *head =
	        capture("git -C %s rev-parse HEAD", gitrepo_workdir(f->repo));

	assert_string_equal(st, "");
	assert_string_equal(head, commit);
	free(st);
	free(head);
}

static int
commit(struct fixture *f, const char *const *paths, size_t n, char out[41])
{
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct err e = ERR_INIT;

	co.author_email = "bot@example.invalid";
	co.message = "update";
	co.paths = paths;
	co.npaths = n;
	return gitrepo_commit(f->repo, &co, out, &e);
}

static void
reset(struct fixture *f, char head[41])
{
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(gitrepo_fetch_ref(f->repo, &main_ref, &auth, head, &e),
	                 0);
	assert_int_equal(gitrepo_reset(f->repo, head, &e), 0);
}

static void
test_git_worktree__commit_holds_exactly_the_files_named(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "deploy/app.yaml", "README" };
	char c[41], *names;
	struct buf p = BUF_INIT;

	put(f, "deploy/app.yaml", "image: app:1.1.0\n");
	buf_addf(&p, "%sREADME", gitrepo_workdir(f->repo));
	assert_int_equal(unlink(p.ptr), 0);
	assert_int_equal(commit(f, paths, 2, c), 0);
	names = capture("git -C %s show --name-status --format= HEAD",
	                gitrepo_workdir(f->repo));
	assert_string_equal(names, "D\tREADME\nM\tdeploy/app.yaml");
	assert_clean_at(f, c);
	free(names);
	buf_release(&p);
}

static void
test_git_worktree__named_files_that_did_not_change_make_no_commit(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "deploy/app.yaml" };
	char c[41] = "";

	put(f, "deploy/app.yaml", "image: app:1.0.0\n");
	assert_int_equal(commit(f, paths, 1, c), 1);
	assert_clean_at(f, f->head);
}

static void
test_git_worktree__reset_after_a_commit_to_the_same_commit_writes_nothing(
        void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "deploy/app.yaml" };
	char c[41], head[41];
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err e = ERR_INIT;
	struct buf p = BUF_INIT;
	struct stat before, after;

	put(f, "deploy/app.yaml", "image: app:1.1.0\n");
	assert_int_equal(commit(f, paths, 1, c), 0);
	po.branch = "main";
	assert_int_equal(gitrepo_push(f->repo, &po, &auth, &e), 0);
	buf_addf(&p, "%sdeploy/other.yaml", gitrepo_workdir(f->repo));
	assert_int_equal(stat(p.ptr, &before), 0);
	reset(f, head);
	assert_string_equal(head, c);
	assert_int_equal(stat(p.ptr, &after), 0);
	assert_int_equal(before.st_ino, after.st_ino);
	assert_int_equal(before.st_mtim.tv_nsec, after.st_mtim.tv_nsec);
	assert_clean_at(f, c);
	buf_release(&p);
}

static void
test_git_worktree__reset_after_a_commit_follows_every_upstream_change(
        void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "deploy/app.yaml" };
	char c[41], head[41];
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err e = ERR_INIT;

	put(f, "deploy/app.yaml", "image: app:1.1.0\n");
	assert_int_equal(commit(f, paths, 1, c), 0);
	po.branch = "main";
	assert_int_equal(gitrepo_push(f->repo, &po, &auth, &e), 0);
	/* someone else edits, adds, deletes and makes a file executable */
	assert_int_equal(
	        sh(GITENV
	           "cd %s/other && git pull -q && "
	           "printf 'image: app:1.2.0\\n' > deploy/app.yaml && "
	           "mkdir -p new/dir && printf 'n\\n' > new/dir/x.yaml && "
	           "git rm -q README && chmod +x deploy/other.yaml && "
	           "git add -A && git commit -qm theirs && "
	           "git push -q origin main",
	           f->dir),
	        0);
	reset(f, head);
	assert_string_not_equal(head, c);
	assert_file(f, "deploy/app.yaml", "image: app:1.2.0\n");
	assert_file(f, "new/dir/x.yaml", "n\n");
	assert_file(f, "README", NULL);
	assert_clean_at(f, head);
	/* and then turns a file into a directory and a directory into a
	 * file */
	assert_int_equal(sh(GITENV
	                    "cd %s/other && git rm -q deploy/other.yaml && "
	                    "mkdir deploy/other.yaml && "
	                    "printf 'y\\n' > deploy/other.yaml/y.yaml && "
	                    "git rm -rq new && printf 'f\\n' > new && "
	                    "git add -A && git commit -qm again && "
	                    "git push -q origin main",
	                    f->dir),
	                 0);
	reset(f, head);
	assert_file(f, "deploy/other.yaml/y.yaml", "y\n");
	assert_file(f, "new", "f\n");
	assert_clean_at(f, head);
}

static void
test_git_worktree__reset_after_edits_never_committed_restores_the_tree(
        void **state)
{
	struct fixture *f = *state;
	char head[41];

	/* a dry run, or a run that failed between edit and commit */
	put(f, "deploy/app.yaml", "image: half-done\n");
	put(f, "deploy/.ferry-tmp-0123456789abcdef", "stray\n");
	reset(f, head);
	assert_file(f, "deploy/app.yaml", "image: app:1.0.0\n");
	assert_file(f, "deploy/.ferry-tmp-0123456789abcdef", NULL);
	assert_clean_at(f, f->head);
}

static void
test_git_worktree__reset_after_a_failed_commit_restores_the_tree(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "deploy/app.yaml" };
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct err e = ERR_INIT;
	char c[41], head[41];

	/* first a good commit, so the next reset could take the short way */
	put(f, "deploy/app.yaml", "image: app:1.1.0\n");
	assert_int_equal(commit(f, paths, 1, c), 0);
	reset(f, head);
	put(f, "deploy/app.yaml", "image: app:1.2.0\n");
	co.paths = paths;
	co.npaths = 1;
	assert_int_equal(gitrepo_commit(f->repo, &co, c, &e), -ERR_INVALID);
	reset(f, head);
	assert_file(f, "deploy/app.yaml", "image: app:1.0.0\n");
	assert_clean_at(f, f->head);
}

static void
test_git_worktree__a_mark_that_does_not_name_head_is_not_trusted(void **state)
{
	struct fixture *f = *state;
	static const char *const paths[] = { "deploy/app.yaml" };
	char c[41], head[41];
	struct buf mark = BUF_INIT;
	struct err e = ERR_INIT;

	put(f, "deploy/app.yaml", "image: app:1.1.0\n");
	assert_int_equal(commit(f, paths, 1, c), 0);
	/* HEAD moved behind ferry's back, and a file changed with it */
	assert_int_equal(sh("git -C %s checkout -q --detach HEAD~1",
	                    gitrepo_workdir(f->repo)),
	                 0);
	put(f, "deploy/other.yaml", "changed by hand\n");
	reset(f, head);
	assert_file(f, "deploy/other.yaml", "a\n");
	assert_file(f, "deploy/app.yaml", "image: app:1.0.0\n");
	assert_clean_at(f, f->head);
	/* and a mark holding junk is no mark */
	buf_addf(&mark, "%s/.git/ferry-clean", gitrepo_workdir(f->repo));
	assert_int_equal(file_write_atomic(mark.ptr, "junk", 4, 0644, &e), 0);
	put(f, "deploy/other.yaml", "changed by hand\n");
	reset(f, head);
	assert_file(f, "deploy/other.yaml", "a\n");
	buf_release(&mark);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__commit_holds_exactly_the_files_named,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__named_files_that_did_not_change_make_no_commit,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__reset_after_a_commit_to_the_same_commit_writes_nothing,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__reset_after_a_commit_follows_every_upstream_change,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__reset_after_edits_never_committed_restores_the_tree,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__reset_after_a_failed_commit_restores_the_tree,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git_worktree__a_mark_that_does_not_name_head_is_not_trusted,
		        setup, teardown),
	};
	int rc;

	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
