/*
 * Tests for writeback/git over file:// remotes: real bare repositories made
 * and inspected with the git CLI.  HTTP and SSH transports are covered by
 * the integration suite (tests/git/test_git_remote.py).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "writeback/git.h"
#include "writeback/sshsig.h"

struct fixture {
	char dir[64];
	char remote[128]; /* bare repo path */
	char url[160];
	char state[128];
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

/* Runs a command and returns its stdout (trailing newline removed). */
static char *capture(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

static char *
capture(const char *fmt, ...)
{
	char cmd[4096];
	struct buf out = BUF_INIT;
	char chunk[4096];
	size_t n;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
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

static int
setup(void **state)
{
	struct fixture *f = calloc(1, sizeof(*f));
	struct stat sb;

	if (f == NULL)
		return -1;
	/* tmpfs: these tests write many small files */
	snprintf(f->dir, sizeof(f->dir), "%s/ferry-git-XXXXXX",
	         stat("/dev/shm", &sb) == 0 && S_ISDIR(sb.st_mode) ? "/dev/shm"
	                                                           : "/tmp");
	if (mkdtemp(f->dir) == NULL) {
		free(f);
		return -1;
	}
	snprintf(f->remote, sizeof(f->remote), "%s/remote.git", f->dir);
	snprintf(f->url, sizeof(f->url), "file://%s", f->remote);
	snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
	if (sh(GITENV
	       "git init -q --bare -b main %s && "
	       "git clone -q %s %s/seed 2>/dev/null && cd %s/seed && "
	       "mkdir -p deploy && printf 'image: app:1.0.0\\n' > deploy/app.yaml && "
	       "printf 'keep\\n' > README && git add -A && "
	       "git commit -qm init && git tag v1 && git push -q origin main v1",
	       f->remote, f->remote, f->dir, f->dir) != 0)
		return -1;
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fixture *f = *state;

	dir_remove_all(f->dir, NULL);
	free(f);
	return 0;
}

static struct gitrepo *
open_synced(struct fixture *f, char head[41])
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;

	if (gitrepo_open(&r, f->state, f->url, &auth, &err) < 0) {
		print_error("open: %s\n", err.msg);
		return NULL;
	}
	if (gitrepo_sync(r, &ref, &auth, head, &err) < 0) {
		print_error("sync: %s\n", err.msg);
		gitrepo_free(r);
		return NULL;
	}
	return r;
}

static void
write_file(struct gitrepo *r, const char *rel, const char *content)
{
	char path[1024];
	struct err err = ERR_INIT;

	snprintf(path, sizeof(path), "%s%s", gitrepo_workdir(r), rel);
	assert_int_equal(
	        file_write_atomic(path, content, strlen(content), 0644, &err),
	        0);
}

static void
test_git__sync_checks_out_the_remote_branch_head(void **state)
{
	struct fixture *f = *state;
	char head[41];
	struct gitrepo *r = open_synced(f, head);
	char *want = capture("git -C %s rev-parse main", f->remote);
	struct buf content = BUF_INIT;
	struct err err = ERR_INIT;
	char path[512];

	assert_non_null(r);
	assert_string_equal(head, want);
	snprintf(path, sizeof(path), "%sdeploy/app.yaml", gitrepo_workdir(r));
	assert_int_equal(file_read(&content, path, &err), 0);
	assert_string_equal(content.ptr, "image: app:1.0.0\n");
	buf_release(&content);
	free(want);
	gitrepo_free(r);
}

static void
test_git__commit_and_push_land_one_commit_with_author_and_message(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *remote_head, *author, *msg, *files;

	assert_non_null(r);
	write_file(r, "deploy/app.yaml", "image: app:1.1.0\n");
	co.author_name = "ferry-bot";
	co.author_email = "bot@example.invalid";
	co.message = "chore: update app to 1.1.0\n";
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 0);
	po.branch = "main";
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), 0);
	remote_head = capture("git -C %s rev-parse main", f->remote);
	assert_string_equal(remote_head, commit);
	author = capture("git -C %s log -1 --format='%%an <%%ae>|%%cn' main",
	                 f->remote);
	assert_string_equal(author,
	                    "ferry-bot <bot@example.invalid>|ferry-bot");
	msg = capture("git -C %s log -1 --format=%%B main", f->remote);
	assert_string_equal(msg, "chore: update app to 1.1.0");
	files = capture("git -C %s diff --name-only main~1 main", f->remote);
	assert_string_equal(files, "deploy/app.yaml");
	free(remote_head);
	free(author);
	free(msg);
	free(files);
	gitrepo_free(r);
}

static void
test_git__commit_without_changes_makes_no_commit(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41] = "";
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct err err = ERR_INIT;
	char *after;

	assert_non_null(r);
	/* Rewriting a file with the same bytes is no change either. */
	write_file(r, "deploy/app.yaml", "image: app:1.0.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "x";
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 1);
	after = capture("git -C %s rev-parse HEAD", gitrepo_workdir(r));
	assert_string_equal(after, head);
	free(after);
	gitrepo_free(r);
}

static void
test_git__sync_discards_local_edits_and_untracked_files(void **state)
{
	struct fixture *f = *state;
	char head[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char path[512];
	struct stat st;
	char *status;

	assert_non_null(r);
	write_file(r, "deploy/app.yaml", "image: half-done\n");
	write_file(r, "stray.yaml", "x: 1\n");
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	snprintf(path, sizeof(path), "%sstray.yaml", gitrepo_workdir(r));
	assert_int_not_equal(stat(path, &st), 0);
	status = capture("git -C %s status --porcelain", gitrepo_workdir(r));
	assert_string_equal(status, "");
	free(status);
	gitrepo_free(r);
}

static void
test_git__push_after_someone_else_pushed_is_a_conflict_and_retry_lands(
        void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *log;

	assert_non_null(r);
	/* Another client pushes between our fetch and our push. */
	assert_int_equal(sh(GITENV
	                    "cd %s/seed && git pull -q && "
	                    "printf 'other\\n' > OTHER && git add OTHER && "
	                    "git commit -qm other && git push -q origin main",
	                    f->dir),
	                 0);
	write_file(r, "deploy/app.yaml", "image: app:1.2.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "ours";
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 0);
	po.branch = "main";
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), -ERR_CONFLICT);
	assert_int_equal(err.code, ERR_CONFLICT);
	/* What the pipeline does next: sync, re-apply, commit, push. */
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	write_file(r, "deploy/app.yaml", "image: app:1.2.0\n");
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 0);
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), 0);
	log = capture("git -C %s log --format=%%s main", f->remote);
	assert_string_equal(log, "ours\nother\ninit");
	free(log);
	gitrepo_free(r);
}

static void
test_git__push_to_a_new_branch_creates_it_from_the_checkout(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *main_head, *branch_head;

	assert_non_null(r);
	write_file(r, "deploy/app.yaml", "image: app:2.0.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "to branch";
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 0);
	po.branch = "image-updates";
	po.force = true;
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), 0);
	main_head = capture("git -C %s rev-parse main", f->remote);
	branch_head = capture("git -C %s rev-parse image-updates", f->remote);
	assert_string_equal(main_head, head);
	assert_string_equal(branch_head, commit);
	free(main_head);
	free(branch_head);
	gitrepo_free(r);
}

static void
test_git__sync_to_a_tag_and_to_a_commit(void **state)
{
	struct fixture *f = *state;
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref tag = { GITREPO_REF_TAG, "v1" };
	struct gitrepo_ref missing = { GITREPO_REF_TAG, "v9" };
	struct gitrepo_ref commit = { GITREPO_REF_COMMIT, NULL };
	char head[41];
	char *v1 = capture("git -C %s rev-parse v1^{commit}", f->remote);
	struct buf tags = BUF_INIT;

	assert_int_equal(gitrepo_open(&r, f->state, f->url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &tag, &auth, head, &err), 0);
	assert_string_equal(head, v1);
	commit.value = v1;
	assert_int_equal(gitrepo_sync(r, &commit, &auth, head, &err), 0);
	assert_string_equal(head, v1);
	assert_int_equal(gitrepo_sync(r, &missing, &auth, head, &err),
	                 -ERR_NOTFOUND);
	assert_non_null(strstr(err.msg, "'v9' does not exist"));
	assert_int_equal(gitrepo_tags(r, &tags, &err), 0);
	assert_string_equal(tags.ptr, "v1\n");
	buf_release(&tags);
	free(v1);
	gitrepo_free(r);
}

static void
test_git__reopen_reuses_the_cached_clone(void **state)
{
	struct fixture *f = *state;
	char head[41];
	struct gitrepo *a = open_synced(f, head), *b;
	char *dir_a;

	assert_non_null(a);
	dir_a = strdup(gitrepo_workdir(a));
	gitrepo_free(a);
	b = open_synced(f, head);
	assert_non_null(b);
	assert_string_equal(gitrepo_workdir(b), dir_a);
	assert_int_equal(strncmp(dir_a, f->state, strlen(f->state)), 0);
	free(dir_a);
	gitrepo_free(b);
}

static void
test_git__missing_remote_fails_and_leaves_no_clone_behind(void **state)
{
	struct fixture *f = *state;
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	char url[256];
	char *left;

	snprintf(url, sizeof(url), "file://%s/gone.git", f->dir);
	assert_true(gitrepo_open(&r, f->state, url, &auth, &err) < 0);
	assert_null(r);
	assert_non_null(strstr(err.msg, "git clone"));
	/* The clone's lock file stays (it is never removed); no clone. */
	left = capture("ls %s/git 2>/dev/null | grep -v '[.]lock$' | wc -l",
	               f->state);
	assert_string_equal(left, "0");
	free(left);
}

static void
test_git__ssh_signed_commit_passes_verify_commit(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct err err = ERR_INIT;
	struct buf key = BUF_INIT, pub = BUF_INIT, signers = BUF_INIT;
	struct sshsig_key *sk = NULL;
	char path[512];
	const char *wd;

	assert_non_null(r);
	wd = gitrepo_workdir(r);
	assert_int_equal(
	        sh("ssh-keygen -q -t ed25519 -N '' -C bot -f %s/sign", f->dir),
	        0);
	snprintf(path, sizeof(path), "%s/sign", f->dir);
	assert_int_equal(file_read(&key, path, &err), 0);
	assert_int_equal(sshsig_key_parse(&sk, key.ptr, key.len, &err), 0);
	sshsig_key_public(&pub, sk);
	buf_addf(&signers, "bot@example.invalid namespaces=\"git\" %s\n",
	         pub.ptr);
	snprintf(path, sizeof(path), "%s/allowed", f->dir);
	assert_int_equal(
	        file_write_atomic(path, signers.ptr, signers.len, 0644, &err),
	        0);
	write_file(r, "deploy/app.yaml", "image: app:3.0.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "signed update\n";
	co.ssh_signing_key = sk;
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 0);
	assert_int_equal(
	        sh("git -C %s -c gpg.ssh.allowedSignersFile=%s/allowed "
	           "verify-commit %s 2>/dev/null",
	           wd, f->dir, commit),
	        0);
	/* Tamper: same object with another message, signature kept. */
	assert_int_equal(
	        sh("cd %s && git cat-file commit %s | "
	           "sed 's/signed update/forged update/' > %s/forged && "
	           "git hash-object -t commit -w %s/forged > %s/forged.id",
	           wd, commit, f->dir, f->dir, f->dir),
	        0);
	assert_int_not_equal(
	        sh("git -C %s -c gpg.ssh.allowedSignersFile=%s/allowed "
	           "verify-commit $(cat %s/forged.id) 2>/dev/null",
	           wd, f->dir, f->dir),
	        0);
	buf_release(&key);
	buf_release(&pub);
	buf_release(&signers);
	sshsig_key_free(sk);
	gitrepo_free(r);
}

/* Makes a gpg key in DIR/gnupg (passphrase pw, or none) and returns its
 * armored secret key. */
static void
make_gpg_key(struct fixture *f, const char *pw, struct secret *out)
{
	char *armored;

	assert_int_equal(sh("mkdir -p -m 700 %s/gnupg && GNUPGHOME=%s/gnupg "
	                    "gpg --batch --quiet --pinentry-mode loopback "
	                    "--passphrase '%s' --quick-gen-key "
	                    "'bot <bot@example.invalid>' ed25519 sign never "
	                    "2>/dev/null",
	                    f->dir, f->dir, pw),
	                 0);
	armored = capture("GNUPGHOME=%s/gnupg gpg --batch --quiet "
	                  "--pinentry-mode loopback --passphrase '%s' --armor "
	                  "--export-secret-keys 2>/dev/null",
	                  f->dir, pw);
	assert_non_null(strstr(armored, "BEGIN PGP PRIVATE KEY BLOCK"));
	secret_set(out, armored, strlen(armored));
	free(armored);
}

static void
test_git__gpg_signed_commit_passes_verify_commit(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct secret key = SECRET_INIT, pw = SECRET_INIT;
	struct err err = ERR_INIT;

	assert_non_null(r);
	make_gpg_key(f, "s3cret-pw", &key);
	secret_set(&pw, "s3cret-pw", 9);
	write_file(r, "deploy/app.yaml", "image: app:4.0.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "gpg signed";
	co.gpg_key = &key;
	co.gpg_passphrase = &pw;
	if (gitrepo_commit(r, &co, commit, &err) != 0)
		print_error("%s\n", err.msg);
	assert_int_equal(sh("GNUPGHOME=%s/gnupg git -C %s verify-commit %s "
	                    "2>/dev/null",
	                    f->dir, gitrepo_workdir(r), commit),
	                 0);
	secret_release(&key);
	secret_release(&pw);
	gitrepo_free(r);
}

static void
test_git__gpg_wrong_passphrase_fails_and_makes_no_commit(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41] = "";
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct secret key = SECRET_INIT, pw = SECRET_INIT;
	struct err err = ERR_INIT;
	char *after;

	assert_non_null(r);
	make_gpg_key(f, "right-pw", &key);
	secret_set(&pw, "wrong-pw", 8);
	write_file(r, "deploy/app.yaml", "image: app:4.1.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "x";
	co.gpg_key = &key;
	co.gpg_passphrase = &pw;
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), -ERR_INVALID);
	assert_null(strstr(err.msg, "wrong-pw"));
	after = capture("git -C %s rev-parse HEAD", gitrepo_workdir(r));
	assert_string_equal(after, head);
	free(after);
	secret_release(&key);
	secret_release(&pw);
	gitrepo_free(r);
}

static void
test_git__gpg_signing_without_gpg_says_what_to_install(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct secret key = SECRET_INIT;
	struct err err = ERR_INIT;
	char *path = strdup(getenv("PATH"));

	assert_non_null(r);
	secret_set(&key, "-----BEGIN PGP PRIVATE KEY BLOCK-----\n", 37);
	write_file(r, "deploy/app.yaml", "image: app:4.2.0\n");
	co.author_email = "bot@example.invalid";
	co.message = "x";
	co.gpg_key = &key;
	setenv("PATH", "/nonexistent", 1);
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), -ERR_NOTFOUND);
	setenv("PATH", path, 1);
	assert_non_null(strstr(err.msg, "install gnupg"));
	free(path);
	secret_release(&key);
	gitrepo_free(r);
}

static void
test_git__unknown_ssh_host_is_refused_before_any_credential(void **state)
{
	struct fixture *f = *state;
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	int rc;

	/* Nothing listens on port 1: the failure must still be clean. */
	rc = gitrepo_open(&r, f->state, "ssh://git@127.0.0.1:1/repo.git", &auth,
	                  &err);
	assert_true(rc < 0);
	assert_null(r);
	assert_null(strstr(err.msg, "(null)"));
}

struct opener {
	struct fixture *f;
	struct gitrepo *r;
	int rc;
	int done; /* atomic */
};

static void *
open_thread(void *p)
{
	struct opener *o = p;
	struct err err = ERR_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;

	o->rc = gitrepo_open(&o->r, o->f->state, o->f->url, &auth, &err);
	if (o->rc < 0)
		print_error("open: %s\n", err.msg);
	__atomic_store_n(&o->done, 1, __ATOMIC_SEQ_CST);
	return NULL;
}

static void
test_git__second_open_of_a_clone_waits_until_the_first_is_freed(void **state)
{
	struct fixture *f = *state;
	char head[41];
	struct gitrepo *a = open_synced(f, head);
	struct opener b = { f, NULL, 0, 0 };
	pthread_t t;
	char *dir_a;

	assert_non_null(a);
	dir_a = strdup(gitrepo_workdir(a));
	assert_int_equal(pthread_create(&t, NULL, open_thread, &b), 0);
	usleep(300 * 1000);
	assert_int_equal(__atomic_load_n(&b.done, __ATOMIC_SEQ_CST), 0);
	gitrepo_free(a);
	assert_int_equal(pthread_join(t, NULL), 0);
	assert_int_equal(b.rc, 0);
	assert_string_equal(gitrepo_workdir(b.r), dir_a);
	gitrepo_free(b.r);
	free(dir_a);
}

static void
test_git__two_threads_opening_a_new_url_clone_it_once(void **state)
{
	struct fixture *f = *state;
	struct opener o[2] = { { f, NULL, 0, 0 }, { f, NULL, 0, 0 } };
	bool freed[2] = { false, false };
	pthread_t t[2];
	char *left;
	int i, k;

	for (i = 0; i < 2; i++)
		assert_int_equal(
		        pthread_create(&t[i], NULL, open_thread, &o[i]), 0);
	/* The second one returns only after the first is freed. */
	for (i = 0; i < 2; i++) {
		for (;;) {
			for (k = 0; k < 2; k++)
				if (!freed[k] &&
				    __atomic_load_n(&o[k].done,
				                    __ATOMIC_SEQ_CST))
					break;
			if (k < 2)
				break;
			usleep(10 * 1000);
		}
		assert_int_equal(o[k].rc, 0);
		gitrepo_free(o[k].r);
		freed[k] = true;
	}
	for (i = 0; i < 2; i++)
		assert_int_equal(pthread_join(t[i], NULL), 0);
	/* One clone and its lock file; no temporary directory left. */
	left = capture("ls %s/git | sed 's/^[0-9a-f]*//' | tr '\\n' ' '",
	               f->state);
	assert_string_equal(left, " .lock ");
	free(left);
}

/* The clone's directory (no trailing '/'), malloc'd. */
static char *
clone_path(struct gitrepo *r)
{
	char *p = strdup(gitrepo_workdir(r));

	p[strlen(p) - 1] = '\0';
	return p;
}

/* Commits an edit and pushes it to main; asserts both worked. */
static void
commit_and_push(struct gitrepo *r, const char *content)
{
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char commit[41];

	write_file(r, "deploy/app.yaml", content);
	co.author_email = "bot@example.invalid";
	co.message = content;
	if (gitrepo_commit(r, &co, commit, &err) != 0 ||
	    (po.branch = "main", gitrepo_push(r, &po, &auth, &err)) != 0)
		print_error("%s\n", err.msg);
	assert_int_equal(err.code, 0);
}

static void
test_git__lock_files_left_by_a_crash_do_not_block_the_next_run(void **state)
{
	struct fixture *f = *state;
	static const char *const locks[] = {
		".git/index.lock",
		".git/HEAD.lock",
		".git/config.lock",
		".git/packed-refs.lock",
		".git/refs/heads/main.lock",
		".git/refs/remotes/origin/main.lock",
		".git/logs/HEAD.lock",
	};
	char head[41];
	struct gitrepo *r = open_synced(f, head);
	char *dir, *left;
	size_t i;

	assert_non_null(r);
	commit_and_push(r, "image: app:5.0.0\n");
	dir = clone_path(r);
	gitrepo_free(r);
	/* What a SIGKILL in the middle of libgit2 calls leaves behind. */
	for (i = 0; i < sizeof(locks) / sizeof(locks[0]); i++)
		assert_int_equal(sh("echo x > %s/%s", dir, locks[i]), 0);
	/* The remote moves on, so the fetch has a tracking ref to update. */
	assert_int_equal(sh(GITENV "cd %s/seed && git pull -q && "
	                           "echo o > OTHER && git add OTHER && "
	                           "git commit -qm other && git push -q",
	                    f->dir),
	                 0);
	r = open_synced(f, head);
	assert_non_null(r);
	commit_and_push(r, "image: app:5.0.1\n");
	left = capture("cd %s && find . -name '*.lock' | wc -l", dir);
	assert_string_equal(left, "0");
	free(left);
	left = capture("git -C %s log --format=%%s -3 main", f->remote);
	assert_string_equal(left, "image: app:5.0.1\nother\nimage: app:5.0.0");
	free(left);
	free(dir);
	gitrepo_free(r);
}

static void
test_git__libgit2_temporary_files_left_by_a_crash_are_removed(void **state)
{
	struct fixture *f = *state;
	char head[41];
	struct gitrepo *r = open_synced(f, head);
	char *dir, *left;

	assert_non_null(r);
	dir = clone_path(r);
	gitrepo_free(r);
	assert_int_equal(sh("echo x > %s/.git/objects/tmp_object_git2_a1B2c3 "
	                    "&& echo x > %s/.git/objects/pack/pack_git2_Zz9",
	                    dir, dir),
	                 0);
	r = open_synced(f, head);
	assert_non_null(r);
	commit_and_push(r, "image: app:6.0.0\n");
	left = capture("cd %s/.git/objects && ls tmp_* pack/pack_git2_* "
	               "2>/dev/null | wc -l",
	               dir);
	assert_string_equal(left, "0");
	free(left);
	free(dir);
	gitrepo_free(r);
}

static void
test_git__partial_clone_of_a_dead_process_is_removed_a_live_one_kept(
        void **state)
{
	struct fixture *f = *state;
	char head[41], path[512];
	struct gitrepo *r = open_synced(f, head);
	char *dir, *left;
	int live;

	assert_non_null(r);
	dir = clone_path(r);
	gitrepo_free(r);
	/* Dead: one from an older ferry (pid name) and one of ours. */
	assert_int_equal(sh("mkdir -p %s.tmp-4242/.git %s.tmp-Ab12Cd/.git %s"
	                    ".tmp-LIVE01/.git && touch %s.tmp-Ab12Cd/.git/x",
	                    dir, dir, dir, dir),
	                 0);
	/* Live: a clone in progress holds a flock on its directory. */
	snprintf(path, sizeof(path), "%s.tmp-LIVE01", dir);
	live = open(path, O_RDONLY | O_DIRECTORY);
	assert_true(live >= 0);
	assert_int_equal(flock(live, LOCK_EX), 0);
	r = open_synced(f, head);
	assert_non_null(r);
	commit_and_push(r, "image: app:7.0.0\n");
	left = capture("ls -d %s.tmp-* | sed 's/.*[.]tmp-//'", dir);
	assert_string_equal(left, "LIVE01");
	free(left);
	close(live);
	free(dir);
	gitrepo_free(r);
}

/* Lines in DIR/cli-pushed: how many pushes the git CLI writer made. */
static int
cli_pushes(struct fixture *f)
{
	struct buf text = BUF_INIT;
	char path[256];
	int n = 0;

	snprintf(path, sizeof(path), "%s/cli-pushed", f->dir);
	if (file_read(&text, path, NULL) == 0)
		for (size_t i = 0; i < text.len; i++)
			n += text.ptr[i] == '\n';
	buf_release(&text);
	return n;
}

/* One ferry writer: its own state directory, as a second process would
 * have; pushes at least `rounds` commits to main (more, up to 40, until
 * the git CLI writer has pushed 3), retrying conflicts as the pipeline
 * does, and lists each commit it was told was pushed. */
struct pusher {
	struct fixture *f;
	int id;
	int rounds;
	struct buf pushed;
	char failure[ERR_MSG_MAX + 32];
};

static void *
ferry_push_loop(void *p)
{
	struct pusher *w = p;
	struct gitrepo *r = NULL;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct err err = ERR_INIT;
	char state[256], path[512], content[64], head[41], commit[41];
	int i, attempt, rc = 0;

	snprintf(state, sizeof(state), "%s/state-%d", w->f->dir, w->id);
	if (gitrepo_open(&r, state, w->f->url, &auth, &err) < 0)
		goto fail;
	co.author_email = "bot@example.invalid";
	po.branch = "main";
	for (i = 0; i < w->rounds || (i < 40 && cli_pushes(w->f) < 3); i++) {
		for (attempt = 0; attempt < 100; attempt++) {
			snprintf(path, sizeof(path), "%sferry-%d",
			         gitrepo_workdir(r), w->id);
			snprintf(content, sizeof(content), "round %d\n", i);
			co.message = content;
			if (gitrepo_sync(r, &ref, &auth, head, &err) < 0 ||
			    file_write_atomic(path, content, strlen(content),
			                      0644, &err) < 0 ||
			    gitrepo_commit(r, &co, commit, &err) < 0)
				goto fail;
			rc = gitrepo_push(r, &po, &auth, &err);
			if (rc == 0) {
				buf_addf(&w->pushed, "%s\n", commit);
				/* Leave the git CLI writer, much slower
				 * (a pull and a push are a dozen processes),
				 * gaps of varied length to push in. */
				usleep((useconds_t)(200 +
				                    (i * 337 + w->id * 611) %
				                            800) *
				       1000);
				break;
			}
			if (rc != -ERR_CONFLICT)
				goto fail;
		}
		if (rc != 0)
			goto fail;
	}
	gitrepo_free(r);
	return NULL;
fail:
	snprintf(w->failure, sizeof(w->failure), "writer %d: %s", w->id,
	         err.msg[0] ? err.msg : "gave up after 100 conflicts");
	gitrepo_free(r);
	return NULL;
}

/* A git CLI writer pushing to main in a loop until DIR/stop exists,
 * listing in DIR/cli-pushed each commit git said it pushed. */
static void *
cli_push_loop(void *p)
{
	struct fixture *f = p;

	sh("export GIT_CONFIG_NOSYSTEM=1 GIT_AUTHOR_NAME=t "
	   "GIT_AUTHOR_EMAIL=t@x GIT_COMMITTER_NAME=t GIT_COMMITTER_EMAIL=t@x; "
	   "cd %s && git clone -q %s cli && cd cli && i=0 && "
	   "while [ ! -e %s/stop ] && [ $i -lt 500 ]; do i=$((i+1)); "
	   "echo $i > cli.txt && git add cli.txt && git commit -qm cli-$i "
	   "|| exit 1; n=0; "
	   "until git push -q origin HEAD:main 2>/dev/null; do "
	   "n=$((n+1)); [ $n -gt 100 ] && exit 1; "
	   "git pull -q --rebase origin main 2>/dev/null || exit 1; done; "
	   "git rev-parse HEAD >> %s/cli-pushed; done",
	   f->dir, f->remote, f->dir, f->dir);
	return NULL;
}

static void
test_git__concurrent_pushes_to_a_local_remote_never_lose_a_commit(void **state)
{
	struct fixture *f = *state;
	struct pusher w[2];
	pthread_t tw[2], tc;
	char *lost, *count;
	int i;

	memset(w, 0, sizeof(w));
	assert_int_equal(pthread_create(&tc, NULL, cli_push_loop, f), 0);
	for (i = 0; i < 2; i++) {
		w[i].f = f;
		w[i].id = i;
		w[i].rounds = 10;
		w[i].pushed = (struct buf)BUF_INIT;
		assert_int_equal(
		        pthread_create(&tw[i], NULL, ferry_push_loop, &w[i]),
		        0);
	}
	for (i = 0; i < 2; i++) {
		assert_int_equal(pthread_join(tw[i], NULL), 0);
		if (w[i].failure[0])
			print_error("%s\n", w[i].failure);
		assert_string_equal(w[i].failure, "");
	}
	/* It pushed while the ferry writers did. */
	assert_true(cli_pushes(f) >= 3);
	assert_int_equal(sh("touch %s/stop", f->dir), 0);
	assert_int_equal(pthread_join(tc, NULL), 0);
	for (i = 0; i < 2; i++) {
		char path[256];
		struct err err = ERR_INIT;
		snprintf(path, sizeof(path), "%s/ferry-pushed-%d", f->dir, i);
		assert_int_equal(file_write_atomic(path, w[i].pushed.ptr,
		                                   w[i].pushed.len, 0644, &err),
		                 0);
		buf_release(&w[i].pushed);
	}
	/* Every commit either side was told was pushed is on main. */
	lost = capture("cd %s && cat cli-pushed ferry-pushed-* | while read "
	               "c; do git -C %s merge-base --is-ancestor $c main || "
	               "echo $c; done",
	               f->dir, f->remote);
	assert_string_equal(lost, "");
	count = capture("git -C %s fsck --connectivity-only 2>&1 >/dev/null "
	                "&& echo ok",
	                f->remote);
	assert_string_equal(count, "ok");
	free(count);
	free(lost);
}

/* Commits content to app.yaml on top of the clone's HEAD. */
static void
commit_file(struct gitrepo *r, const char *content, char commit[41])
{
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct err err = ERR_INIT;

	write_file(r, "deploy/app.yaml", content);
	co.author_email = "bot@example.invalid";
	co.message = content;
	assert_int_equal(gitrepo_commit(r, &co, commit, &err), 0);
}

static void
test_git__forced_rewrite_refused_by_deny_non_fast_forwards_is_not_a_conflict(
        void **state)
{
	struct fixture *f = *state;
	char head[41], first[41], second[41];
	struct gitrepo *r = NULL;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *branch;

	assert_int_equal(sh("git -C %s config receive.denyNonFastForwards "
	                    "true",
	                    f->remote),
	                 0);
	r = open_synced(f, head);
	assert_non_null(r);
	commit_file(r, "image: app:8.0.0\n", first);
	po.branch = "image-updates";
	po.force = true;
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), 0);
	/* The next run rebuilds the branch from main: not a fast-forward. */
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	commit_file(r, "image: app:8.0.1\n", second);
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), -ERR_INVALID);
	assert_non_null(strstr(err.msg, "receive.denyNonFastForwards"));
	branch = capture("git -C %s rev-parse image-updates", f->remote);
	assert_string_equal(branch, first);
	free(branch);
	/* A fast-forward of main is still fine there. */
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	commit_and_push(r, "image: app:8.1.0\n");
	gitrepo_free(r);
}

static void
test_git__forced_push_leaves_a_branch_that_moved_since_the_fetch(void **state)
{
	struct fixture *f = *state;
	char head[41], first[41], second[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *theirs, *after;

	assert_non_null(r);
	commit_file(r, "image: app:9.0.0\n", first);
	po.branch = "image-updates";
	po.force = true;
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	/* Someone adds a commit to the branch after that fetch. */
	assert_int_equal(sh(GITENV
	                    "cd %s/seed && git fetch -q && "
	                    "git checkout -q -b iu origin/image-updates && "
	                    "echo x > THEIRS && git add THEIRS && "
	                    "git commit -qm theirs && git push -q origin "
	                    "iu:image-updates",
	                    f->dir),
	                 0);
	theirs = capture("git -C %s rev-parse image-updates", f->remote);
	commit_file(r, "image: app:9.0.1\n", second);
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), -ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "since the last fetch"));
	after = capture("git -C %s rev-parse image-updates", f->remote);
	assert_string_equal(after, theirs);
	free(after);
	/* After a fetch the caller decides again, knowing their commit. */
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	commit_file(r, "image: app:9.0.1\n", second);
	assert_int_equal(gitrepo_push(r, &po, &auth, &err), 0);
	after = capture("git -C %s rev-parse image-updates", f->remote);
	assert_string_equal(after, second);
	free(after);
	free(theirs);
	gitrepo_free(r);
}

static void
test_git__push_refspec_updates_a_second_ref_on_a_local_remote(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *main_head, *mirror;

	assert_non_null(r);
	commit_file(r, "image: app:10.0.0\n", commit);
	po.branch = "main";
	po.refspec = "refs/heads/main:refs/heads/mirror";
	if (gitrepo_push(r, &po, &auth, &err) != 0)
		print_error("%s\n", err.msg);
	assert_int_equal(err.code, 0);
	main_head = capture("git -C %s rev-parse main", f->remote);
	mirror = capture("git -C %s rev-parse mirror", f->remote);
	assert_string_equal(main_head, commit);
	assert_string_equal(mirror, commit);
	free(main_head);
	free(mirror);
	gitrepo_free(r);
}

static void
test_git__push_refspec_naming_the_push_branch_again_is_one_update(void **state)
{
	struct fixture *f = *state;
	char head[41], commit[41];
	struct gitrepo *r = open_synced(f, head);
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct err err = ERR_INIT;
	char *main_head;

	assert_non_null(r);
	commit_file(r, "image: app:10.1.0\n", commit);
	po.branch = "main";
	po.refspec = "refs/heads/main:refs/heads/main";
	if (gitrepo_push(r, &po, &auth, &err) != 0)
		print_error("%s\n", err.msg);
	assert_int_equal(err.code, 0);
	main_head = capture("git -C %s rev-parse main", f->remote);
	assert_string_equal(main_head, commit);
	free(main_head);
	gitrepo_free(r);
}

/* Makes an ed25519 key DIR/NAME; blob gets its SSH wire form, text its
 * "ssh-ed25519 BASE64" as known_hosts lists it. */
static void
host_key(struct fixture *f, const char *name, struct buf *blob,
         struct buf *text)
{
	struct err err = ERR_INIT;
	char *pub;
	const char *sp1, *sp2;

	assert_int_equal(
	        sh("ssh-keygen -q -t ed25519 -N '' -f %s/%s", f->dir, name), 0);
	pub = capture("cat %s/%s.pub", f->dir, name);
	assert_non_null(pub);
	sp1 = strchr(pub, ' ');
	assert_non_null(sp1);
	sp2 = strchr(sp1 + 1, ' ');
	if (sp2 == NULL)
		sp2 = sp1 + strlen(sp1);
	buf_add(text, pub, (size_t)(sp2 - pub));
	assert_int_equal(
	        base64_decode(blob, sp1 + 1, (size_t)(sp2 - sp1 - 1), &err), 0);
	free(pub);
}

static int
kh_check(const char *text, const char *host, int port, const struct buf *key,
         struct err *err)
{
	err_clear(err);
	return gitrepo_known_hosts_check(text, strlen(text), host, port,
	                                 (const unsigned char *)key->ptr,
	                                 key->len, err);
}

static void
test_git__known_hosts_accepts_hashed_entries(void **state)
{
	struct fixture *f = *state;
	struct buf key = BUF_INIT, text = BUF_INIT, file = BUF_INIT;
	struct err err = ERR_INIT;
	char path[256];
	char *hashed;

	host_key(f, "hk", &key, &text);
	buf_addf(&file, "git.example.org %s\n[git.example.org]:2222 %s\n",
	         text.ptr, text.ptr);
	snprintf(path, sizeof(path), "%s/known_hosts", f->dir);
	assert_int_equal(
	        file_write_atomic(path, file.ptr, file.len, 0600, &err), 0);
	assert_int_equal(sh("ssh-keygen -q -H -f %s >/dev/null 2>&1", path), 0);
	hashed = capture("cat %s", path);
	/* Both lines are hashed now: no name is left in the text. */
	assert_null(strstr(hashed, "example"));
	assert_non_null(strstr(hashed, "|1|"));
	assert_int_equal(kh_check(hashed, "git.example.org", 22, &key, &err),
	                 0);
	assert_int_equal(kh_check(hashed, "git.example.org", 2222, &key, &err),
	                 0);
	assert_int_equal(kh_check(hashed, "other.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "is not in known_hosts"));
	free(hashed);
	buf_release(&key);
	buf_release(&text);
	buf_release(&file);
}

static void
test_git__known_hosts_bare_name_is_for_port_22_only(void **state)
{
	struct fixture *f = *state;
	struct buf key = BUF_INIT, text = BUF_INIT, kh = BUF_INIT;
	struct err err = ERR_INIT;

	host_key(f, "hk", &key, &text);
	buf_addf(&kh, "git.example.org %s\n", text.ptr);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 22, &key, &err),
	                 0);
	/* Another port may be another server: OpenSSH wants [host]:port. */
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 2222, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "'[git.example.org]:2222' is not in"));
	assert_non_null(strstr(err.msg, "ssh-keyscan -p 2222 git.example.org"));
	buf_reset(&kh);
	buf_addf(&kh, "[git.example.org]:2222 %s\n", text.ptr);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 2222, &key, &err),
	                 0);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	buf_release(&key);
	buf_release(&text);
	buf_release(&kh);
}

static void
test_git__known_hosts_tells_a_changed_key_from_an_unknown_host(void **state)
{
	struct fixture *f = *state;
	struct buf key = BUF_INIT, text = BUF_INIT, other = BUF_INIT;
	struct buf other_text = BUF_INIT, kh = BUF_INIT;
	struct err err = ERR_INIT;

	host_key(f, "hk", &key, &text);
	host_key(f, "other", &other, &other_text);
	buf_addf(&kh, "git.example.org %s\n", other_text.ptr);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "does not match known_hosts"));
	assert_non_null(strstr(err.msg, "man-in-the-middle"));
	assert_int_equal(kh_check(kh.ptr, "new.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "is not in known_hosts"));
	assert_non_null(strstr(err.msg, "ssh-keyscan"));
	assert_int_equal(kh_check("", "new.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "is not in known_hosts"));
	buf_release(&key);
	buf_release(&text);
	buf_release(&other);
	buf_release(&other_text);
	buf_release(&kh);
}

static void
test_git__known_hosts_refuses_a_revoked_key_even_when_listed(void **state)
{
	struct fixture *f = *state;
	struct buf key = BUF_INIT, text = BUF_INIT, kh = BUF_INIT;
	struct err err = ERR_INIT;

	host_key(f, "hk", &key, &text);
	buf_addf(&kh, "git.example.org %s\n@revoked * %s\n", text.ptr,
	         text.ptr);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "@revoked"));
	buf_release(&key);
	buf_release(&text);
	buf_release(&kh);
}

static void
test_git__known_hosts_says_cert_authority_lines_are_not_supported(void **state)
{
	struct fixture *f = *state;
	struct buf key = BUF_INIT, text = BUF_INIT, kh = BUF_INIT;
	struct err err = ERR_INIT;

	host_key(f, "hk", &key, &text);
	buf_addf(&kh, "@cert-authority *.example.org %s\n", text.ptr);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "is not in known_hosts"));
	assert_non_null(strstr(err.msg, "@cert-authority"));
	assert_non_null(strstr(err.msg, "not supported"));
	buf_release(&key);
	buf_release(&text);
	buf_release(&kh);
}

static void
test_git__known_hosts_reads_comments_name_lists_and_crlf(void **state)
{
	struct fixture *f = *state;
	struct buf key = BUF_INIT, text = BUF_INIT, kh = BUF_INIT;
	struct err err = ERR_INIT;

	host_key(f, "hk", &key, &text);
	buf_addf(&kh,
	         "# a comment\r\n\r\n   \n"
	         "not a known_hosts line\n"
	         "\tmirror.example.org,Git.Example.ORG,10.0.0.7 %s ops key\r\n",
	         text.ptr);
	assert_int_equal(kh_check(kh.ptr, "git.example.org", 22, &key, &err),
	                 0);
	assert_int_equal(kh_check(kh.ptr, "GIT.example.org", 22, &key, &err),
	                 0);
	assert_int_equal(kh_check(kh.ptr, "10.0.0.7", 22, &key, &err), 0);
	assert_int_equal(kh_check(kh.ptr, "10.0.0.8", 22, &key, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "1 known_hosts line(s) could not"));
	buf_release(&key);
	buf_release(&text);
	buf_release(&kh);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_git__sync_checks_out_the_remote_branch_head, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__commit_and_push_land_one_commit_with_author_and_message,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__commit_without_changes_makes_no_commit, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__sync_discards_local_edits_and_untracked_files,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__push_after_someone_else_pushed_is_a_conflict_and_retry_lands,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__push_to_a_new_branch_creates_it_from_the_checkout,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__sync_to_a_tag_and_to_a_commit, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__reopen_reuses_the_cached_clone, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__missing_remote_fails_and_leaves_no_clone_behind,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__ssh_signed_commit_passes_verify_commit, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__gpg_signed_commit_passes_verify_commit, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__gpg_wrong_passphrase_fails_and_makes_no_commit,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__gpg_signing_without_gpg_says_what_to_install,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__unknown_ssh_host_is_refused_before_any_credential,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__second_open_of_a_clone_waits_until_the_first_is_freed,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__two_threads_opening_a_new_url_clone_it_once,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__lock_files_left_by_a_crash_do_not_block_the_next_run,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__libgit2_temporary_files_left_by_a_crash_are_removed,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__partial_clone_of_a_dead_process_is_removed_a_live_one_kept,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__concurrent_pushes_to_a_local_remote_never_lose_a_commit,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__forced_rewrite_refused_by_deny_non_fast_forwards_is_not_a_conflict,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__forced_push_leaves_a_branch_that_moved_since_the_fetch,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__push_refspec_updates_a_second_ref_on_a_local_remote,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__push_refspec_naming_the_push_branch_again_is_one_update,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__known_hosts_accepts_hashed_entries, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__known_hosts_bare_name_is_for_port_22_only,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__known_hosts_tells_a_changed_key_from_an_unknown_host,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__known_hosts_refuses_a_revoked_key_even_when_listed,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__known_hosts_says_cert_authority_lines_are_not_supported,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_git__known_hosts_reads_comments_name_lists_and_crlf,
		        setup, teardown),
	};
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	/* libgit2 calls mktime() for every signature and reflog entry; with
	 * TZ unset glibc's tzset then frees and copies its TZ string each
	 * time, under a lock ThreadSanitizer cannot see, which it reports as
	 * a race between the threads of the concurrent tests.  With TZ set
	 * (and read once here) tzset returns at once. */
	setenv("TZ", ":/etc/localtime", 0);
	tzset();
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
