/*
 * Integration tests for writeback/git over real transports: git
 * http-backend behind nginx with basic auth for push, and sshd on a
 * loopback port with an ed25519 client key.  Run under
 * `tests/harness/testbed.py run --git-http --sshd`, which provides the
 * FERRY_TEST_* environment.
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
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "writeback/git.h"

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		print_error(
		        "%s is not set: run under tests/harness/testbed.py\n",
		        name);
		fail();
	}
	return v;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[8192];
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

static char *
capture(const char *fmt, ...)
{
	char cmd[8192], chunk[4096];
	struct buf out = BUF_INIT;
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

/* Makes a bare repo NAME with one commit through the harness. */
static void
make_repo(const char *dir, const char *name, const char *owner)
{
	assert_int_equal(
	        sh("/usr/bin/python3 %s/tests/harness/testbed.py git-init --bare %s/%s.git %s%s >/dev/null",
	           env("FERRY_SOURCE_ROOT"), dir, name, owner ? "--owner " : "",
	           owner ? owner : ""),
	        0);
}

static char state_dir[512];

static int
setup(void **state)
{
	(void)state;
	snprintf(state_dir, sizeof(state_dir), "%s/state-%d",
	         getenv("FERRY_TEST_TMP") ? getenv("FERRY_TEST_TMP") : "/tmp",
	         (int)getpid());
	return 0;
}

static int
edit_commit_push(struct gitrepo *r, const struct gitrepo_auth *auth,
                 const char *content, struct err *err)
{
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	char path[1024], commit[41];
	int rc;

	snprintf(path, sizeof(path), "%sapp.yaml", gitrepo_workdir(r));
	if ((rc = file_write_atomic(path, content, strlen(content), 0644,
	                            err)) < 0)
		return rc;
	co.author_email = "bot@example.invalid";
	co.message = "update";
	if ((rc = gitrepo_commit(r, &co, commit, err)) < 0)
		return rc;
	po.branch = "main";
	return gitrepo_push(r, &po, auth, err);
}

static void
test_git_http__push_with_basic_auth_lands(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret pw = SECRET_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41];
	char *subject;

	(void)state;
	make_repo(env("FERRY_TEST_GIT_HTTP_ROOT"), "ok", NULL);
	snprintf(url, sizeof(url), "%s/ok.git", env("FERRY_TEST_GIT_HTTP"));
	secret_set(&pw, env("FERRY_TEST_GIT_HTTP_PASSWORD"),
	           strlen(env("FERRY_TEST_GIT_HTTP_PASSWORD")));
	auth.username = env("FERRY_TEST_GIT_HTTP_USER");
	auth.password = &pw;
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:2\n", &err), 0);
	subject = capture("git -C %s/ok.git log -1 --format=%%s main",
	                  env("FERRY_TEST_GIT_HTTP_ROOT"));
	assert_string_equal(subject, "update");
	free(subject);
	secret_release(&pw);
	gitrepo_free(r);
}

static void
test_git_http__wrong_password_is_an_auth_error_without_the_password(
        void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret pw = SECRET_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41];
	char *before, *after;

	(void)state;
	make_repo(env("FERRY_TEST_GIT_HTTP_ROOT"), "badpw", NULL);
	snprintf(url, sizeof(url), "%s/badpw.git", env("FERRY_TEST_GIT_HTTP"));
	secret_set(&pw, "not-the-password-9f1c", 21);
	auth.username = env("FERRY_TEST_GIT_HTTP_USER");
	auth.password = &pw;
	before = capture("git -C %s/badpw.git rev-parse main",
	                 env("FERRY_TEST_GIT_HTTP_ROOT"));
	/* Fetching is anonymous on this server; pushing needs the password. */
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:3\n", &err),
	                 -ERR_AUTH);
	assert_null(strstr(err.msg, "not-the-password-9f1c"));
	assert_non_null(strstr(err.msg, "authentication failed"));
	after = capture("git -C %s/badpw.git rev-parse main",
	                env("FERRY_TEST_GIT_HTTP_ROOT"));
	assert_string_equal(before, after);
	free(before);
	free(after);
	secret_release(&pw);
	gitrepo_free(r);
}

static void
test_git_http__push_without_credentials_says_to_set_secret_ref(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41];

	(void)state;
	make_repo(env("FERRY_TEST_GIT_HTTP_ROOT"), "nocred", NULL);
	snprintf(url, sizeof(url), "%s/nocred.git", env("FERRY_TEST_GIT_HTTP"));
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:4\n", &err),
	                 -ERR_AUTH);
	assert_non_null(strstr(err.msg, "secretRef"));
	gitrepo_free(r);
}

/* Commits content and pushes it to branch (forced); returns the push's
 * result.  commit gets the new commit's id. */
static int
commit_force_push(struct gitrepo *r, const struct gitrepo_auth *auth,
                  const char *content, const char *branch, char commit[41],
                  struct err *err)
{
	struct gitrepo_commit_opts co = GITREPO_COMMIT_OPTS_INIT;
	struct gitrepo_push_opts po = GITREPO_PUSH_OPTS_INIT;
	char path[1024];
	int rc;

	snprintf(path, sizeof(path), "%sapp.yaml", gitrepo_workdir(r));
	if ((rc = file_write_atomic(path, content, strlen(content), 0644,
	                            err)) < 0 ||
	    (co.author_email = "bot@example.invalid", co.message = content,
	     rc = gitrepo_commit(r, &co, commit, err)) < 0)
		return rc;
	po.branch = branch;
	po.force = true;
	return gitrepo_push(r, &po, auth, err);
}

static void
http_auth(struct gitrepo_auth *auth, struct secret *pw)
{
	secret_set(pw, env("FERRY_TEST_GIT_HTTP_PASSWORD"),
	           strlen(env("FERRY_TEST_GIT_HTTP_PASSWORD")));
	auth->username = env("FERRY_TEST_GIT_HTTP_USER");
	auth->password = pw;
}

static void
test_git_http__forced_rewrite_refused_by_deny_non_fast_forwards_is_not_a_conflict(
        void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret pw = SECRET_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41], first[41], second[41];
	char *branch;

	(void)state;
	assert_int_equal(
	        sh("/usr/bin/python3 %s/tests/harness/testbed.py git-init "
	           "--bare %s/denynff.git --deny-non-ff >/dev/null",
	           env("FERRY_SOURCE_ROOT"), env("FERRY_TEST_GIT_HTTP_ROOT")),
	        0);
	snprintf(url, sizeof(url), "%s/denynff.git",
	         env("FERRY_TEST_GIT_HTTP"));
	http_auth(&auth, &pw);
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(commit_force_push(r, &auth, "image: app:1\n", "iu",
	                                   first, &err),
	                 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(commit_force_push(r, &auth, "image: app:2\n", "iu",
	                                   second, &err),
	                 -ERR_INVALID);
	assert_non_null(strstr(err.msg, "receive.denyNonFastForwards"));
	branch = capture("git -C %s/denynff.git rev-parse iu",
	                 env("FERRY_TEST_GIT_HTTP_ROOT"));
	assert_string_equal(branch, first);
	free(branch);
	secret_release(&pw);
	gitrepo_free(r);
}

static void
test_git_http__forced_push_leaves_a_branch_that_moved_since_the_fetch(
        void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret pw = SECRET_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41], first[41], second[41];
	char *theirs, *after;
	const char *root = env("FERRY_TEST_GIT_HTTP_ROOT");

	(void)state;
	make_repo(root, "lease", NULL);
	snprintf(url, sizeof(url), "%s/lease.git", env("FERRY_TEST_GIT_HTTP"));
	http_auth(&auth, &pw);
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(commit_force_push(r, &auth, "image: app:1\n", "iu",
	                                   first, &err),
	                 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	/* Someone adds a commit to the branch after that fetch. */
	assert_int_equal(
	        sh("cd %s && rm -rf other && git clone -q -b iu lease.git "
	           "other 2>/dev/null && cd other && echo x > THEIRS && "
	           "git add THEIRS && git -c user.name=t -c user.email=t@x "
	           "commit -qm theirs && git push -q origin iu",
	           root),
	        0);
	theirs = capture("git -C %s/lease.git rev-parse iu", root);
	assert_int_equal(commit_force_push(r, &auth, "image: app:2\n", "iu",
	                                   second, &err),
	                 -ERR_CONFLICT);
	assert_non_null(strstr(err.msg, "since the last fetch"));
	after = capture("git -C %s/lease.git rev-parse iu", root);
	assert_string_equal(after, theirs);
	free(after);
	free(theirs);
	secret_release(&pw);
	gitrepo_free(r);
}

/* url gets the repo's HTTP URL with user:password (its first character
 * percent-encoded, as a URL may have it) in the userinfo. */
static void
url_with_password(char *out, size_t outsz, const char *name,
                  const char *password)
{
	const char *base = env("FERRY_TEST_GIT_HTTP");

	assert_int_equal(strncmp(base, "http://", 7), 0);
	snprintf(out, outsz, "http://%s:%%%02X%s@%s/%s.git",
	         env("FERRY_TEST_GIT_HTTP_USER"), (unsigned char)password[0],
	         password + 1, base + 7, name);
}

static void
test_git_http__url_password_is_used_and_kept_out_of_the_clone(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	const char *pw = env("FERRY_TEST_GIT_HTTP_PASSWORD");
	char url[1024], head[41], pw_state[600];
	char *found, *subject, *remote_url;

	(void)state;
	make_repo(env("FERRY_TEST_GIT_HTTP_ROOT"), "pwurl", NULL);
	url_with_password(url, sizeof(url), "pwurl", pw);
	snprintf(pw_state, sizeof(pw_state), "%s-pw", state_dir);
	/* A clone as earlier versions made it: under the hash of the whole
	 * URL, the password in its .git/config. */
	assert_int_equal(
	        sh("mkdir -p %s/git && git clone -q '%s' %s/git/$(printf %%s "
	           "'%s' | sha256sum | cut -c1-32) 2>/dev/null",
	           pw_state, url, pw_state, url),
	        0);
	/* No Secret: the URL's credentials are what the push has. */
	assert_int_equal(gitrepo_open(&r, pw_state, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:7\n", &err), 0);
	assert_int_equal(gitrepo_fetch(r, &auth, &err), 0);
	subject = capture("git -C %s/pwurl.git log -1 --format=%%s main",
	                  env("FERRY_TEST_GIT_HTTP_ROOT"));
	assert_string_equal(subject, "update");
	/* Neither the clone nor anything else in the state directory holds
	 * the password (its tail is in it whichever way it is encoded). */
	found = capture("grep -rlF '%s' %s; ls %s/git | grep -v '[.]lock$' | "
	                "wc -l",
	                pw + 1, pw_state, pw_state);
	assert_string_equal(found, "1");
	remote_url = capture("git -C %s config remote.origin.url",
	                     gitrepo_workdir(r));
	assert_null(strchr(remote_url, '@'));
	free(found);
	free(subject);
	free(remote_url);
	gitrepo_free(r);
}

static void
test_git_http__secret_password_wins_over_the_url_one(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret pw = SECRET_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41];

	(void)state;
	make_repo(env("FERRY_TEST_GIT_HTTP_ROOT"), "pwwins", NULL);
	url_with_password(url, sizeof(url), "pwwins", "wrong-password-5e1");
	http_auth(&auth, &pw);
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:8\n", &err), 0);
	/* And a wrong Secret is not rescued by the URL's password. */
	gitrepo_free(r);
	secret_release(&pw);
	secret_set(&pw, "not-the-password-77", 19);
	url_with_password(url, sizeof(url), "pwwins",
	                  env("FERRY_TEST_GIT_HTTP_PASSWORD"));
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err), 0);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:9\n", &err),
	                 -ERR_AUTH);
	secret_release(&pw);
	gitrepo_free(r);
}

static void
ssh_auth(struct gitrepo_auth *auth, struct secret *key, struct buf *known)
{
	struct err err = ERR_INIT;
	struct buf text = BUF_INIT;

	assert_int_equal(file_read(&text, env("FERRY_TEST_SSH_KEY"), &err), 0);
	secret_set(key, text.ptr, text.len);
	secret_wipe(text.ptr, text.len);
	buf_release(&text);
	assert_int_equal(
	        file_read(known, env("FERRY_TEST_SSH_KNOWN_HOSTS"), &err), 0);
	auth->ssh_identity = key;
	auth->known_hosts = known->ptr;
}

static void
ssh_url(char *out, size_t outsz, const char *name)
{
	snprintf(out, outsz, "%s%s/%s.git", env("FERRY_TEST_SSH_URL"),
	         env("FERRY_TEST_SSH_ROOT"), name);
}

static void
test_git_ssh__push_with_key_and_known_host_lands(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret key = SECRET_INIT;
	struct buf known = BUF_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	struct gitrepo_ref ref = { GITREPO_REF_BRANCH, "main" };
	char url[1024], head[41];
	char *subject;

	(void)state;
	make_repo(env("FERRY_TEST_SSH_ROOT"), "ok", "git");
	ssh_url(url, sizeof(url), "ok");
	ssh_auth(&auth, &key, &known);
	if (gitrepo_open(&r, state_dir, url, &auth, &err) < 0)
		print_error("%s\n", err.msg);
	assert_non_null(r);
	assert_int_equal(gitrepo_sync(r, &ref, &auth, head, &err), 0);
	assert_int_equal(edit_commit_push(r, &auth, "image: app:5\n", &err), 0);
	/* The repository belongs to the git user, not to us. */
	subject = capture(
	        "git -c safe.directory='*' -C %s/ok.git log -1 --format=%%s main",
	        env("FERRY_TEST_SSH_ROOT"));
	assert_string_equal(subject, "update");
	free(subject);
	secret_release(&key);
	buf_release(&known);
	gitrepo_free(r);
}

static void
test_git_ssh__unknown_host_key_is_refused_unless_opted_out(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret key = SECRET_INIT;
	struct buf known = BUF_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	char url[1024], other_state[600];

	(void)state;
	make_repo(env("FERRY_TEST_SSH_ROOT"), "hostkey", "git");
	ssh_url(url, sizeof(url), "hostkey");
	ssh_auth(&auth, &key, &known);
	auth.known_hosts = "";
	assert_true(gitrepo_open(&r, state_dir, url, &auth, &err) < 0);
	assert_non_null(strstr(err.msg, "not in known_hosts"));
	/* A known_hosts naming the host with another key is worse. */
	{
		char line[512];
		snprintf(
		        line, sizeof(line),
		        "[127.0.0.1]:%s ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIHnN2hwWfGzXnRM1Y9JmYz7xVbBJ9XQ2kG1mJ5M3bq1o\n",
		        env("FERRY_TEST_SSH_PORT"));
		auth.known_hosts = line;
		assert_true(gitrepo_open(&r, state_dir, url, &auth, &err) < 0);
		assert_non_null(strstr(err.msg, "does not match"));
	}
	auth.known_hosts = NULL;
	auth.insecure_ignore_host_key = true;
	snprintf(other_state, sizeof(other_state), "%s-insecure", state_dir);
	assert_int_equal(gitrepo_open(&r, other_state, url, &auth, &err), 0);
	gitrepo_free(r);
	secret_release(&key);
	buf_release(&known);
}

static void
test_git_ssh__hashed_known_hosts_entry_is_accepted(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret key = SECRET_INIT;
	struct buf known = BUF_INIT, hashed = BUF_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	char url[1024], path[1024], other_state[600];

	(void)state;
	make_repo(env("FERRY_TEST_SSH_ROOT"), "hashed", "git");
	ssh_url(url, sizeof(url), "hashed");
	ssh_auth(&auth, &key, &known);
	snprintf(path, sizeof(path), "%s/known-hashed-%d",
	         env("FERRY_TEST_TMP"), (int)getpid());
	assert_int_equal(sh("cp %s %s && ssh-keygen -q -H -f %s >/dev/null "
	                    "2>&1",
	                    env("FERRY_TEST_SSH_KNOWN_HOSTS"), path, path),
	                 0);
	assert_int_equal(file_read(&hashed, path, &err), 0);
	assert_null(strstr(hashed.ptr, "127.0.0.1"));
	auth.known_hosts = hashed.ptr;
	snprintf(other_state, sizeof(other_state), "%s-hashed", state_dir);
	if (gitrepo_open(&r, other_state, url, &auth, &err) < 0)
		print_error("%s\n", err.msg);
	assert_non_null(r);
	gitrepo_free(r);
	secret_release(&key);
	buf_release(&known);
	buf_release(&hashed);
}

static void
test_git_ssh__revoked_host_key_is_refused(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret key = SECRET_INIT;
	struct buf known = BUF_INIT, text = BUF_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	char url[1024], other_state[600];
	char *host_key;

	(void)state;
	make_repo(env("FERRY_TEST_SSH_ROOT"), "revoked", "git");
	ssh_url(url, sizeof(url), "revoked");
	ssh_auth(&auth, &key, &known);
	host_key = capture("cut -d' ' -f1,2 %s",
	                   env("FERRY_TEST_SSH_HOST_KEY_PUB"));
	/* The key is listed for the host, and revoked. */
	buf_addf(&text, "%s\n@revoked * %s\n", known.ptr, host_key);
	auth.known_hosts = text.ptr;
	snprintf(other_state, sizeof(other_state), "%s-revoked", state_dir);
	assert_int_equal(gitrepo_open(&r, other_state, url, &auth, &err),
	                 -ERR_INVALID);
	assert_null(r);
	assert_non_null(strstr(err.msg, "@revoked"));
	free(host_key);
	secret_release(&key);
	buf_release(&known);
	buf_release(&text);
}

static void
test_git_ssh__url_password_is_dropped_and_the_user_kept(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret key = SECRET_INIT;
	struct buf known = BUF_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	char url[1024], want[1024], other_state[600];
	char *remote_url, *found;

	(void)state;
	make_repo(env("FERRY_TEST_SSH_ROOT"), "sshpw", "git");
	/* ssh://git@127.0.0.1:PORT/... with a password the server never
	 * needs (the key is enough) */
	snprintf(want, sizeof(want), "%s%s/sshpw.git",
	         env("FERRY_TEST_SSH_URL"), env("FERRY_TEST_SSH_ROOT"));
	assert_int_equal(strncmp(want, "ssh://git@", 10), 0);
	snprintf(url, sizeof(url), "ssh://git:pw-ae31c0@%s", want + 10);
	ssh_auth(&auth, &key, &known);
	snprintf(other_state, sizeof(other_state), "%s-sshpw", state_dir);
	if (gitrepo_open(&r, other_state, url, &auth, &err) < 0)
		print_error("%s\n", err.msg);
	assert_non_null(r);
	remote_url = capture("git -C %s config remote.origin.url",
	                     gitrepo_workdir(r));
	assert_string_equal(remote_url, want);
	found = capture("grep -rlF pw-ae31c0 %s | wc -l", other_state);
	assert_string_equal(found, "0");
	free(found);
	free(remote_url);
	secret_release(&key);
	buf_release(&known);
	gitrepo_free(r);
}

static void
test_git_ssh__wrong_key_is_an_auth_error(void **state)
{
	struct gitrepo *r = NULL;
	struct err err = ERR_INIT;
	struct secret key = SECRET_INIT, wrong = SECRET_INIT;
	struct buf known = BUF_INIT, text = BUF_INIT;
	struct gitrepo_auth auth = GITREPO_AUTH_INIT;
	char url[1024], path[1024];

	(void)state;
	make_repo(env("FERRY_TEST_SSH_ROOT"), "wrongkey", "git");
	ssh_url(url, sizeof(url), "wrongkey");
	ssh_auth(&auth, &key, &known);
	snprintf(path, sizeof(path), "%s/wrong-%d", env("FERRY_TEST_TMP"),
	         (int)getpid());
	assert_int_equal(sh("ssh-keygen -q -t ed25519 -N '' -f %s", path), 0);
	assert_int_equal(file_read(&text, path, &err), 0);
	secret_set(&wrong, text.ptr, text.len);
	auth.ssh_identity = &wrong;
	assert_int_equal(gitrepo_open(&r, state_dir, url, &auth, &err),
	                 -ERR_AUTH);
	buf_release(&text);
	secret_release(&key);
	secret_release(&wrong);
	buf_release(&known);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_git_http__push_with_basic_auth_lands),
		cmocka_unit_test(
		        test_git_http__wrong_password_is_an_auth_error_without_the_password),
		cmocka_unit_test(
		        test_git_http__push_without_credentials_says_to_set_secret_ref),
		cmocka_unit_test(
		        test_git_http__forced_rewrite_refused_by_deny_non_fast_forwards_is_not_a_conflict),
		cmocka_unit_test(
		        test_git_http__forced_push_leaves_a_branch_that_moved_since_the_fetch),
		cmocka_unit_test(
		        test_git_http__url_password_is_used_and_kept_out_of_the_clone),
		cmocka_unit_test(
		        test_git_http__secret_password_wins_over_the_url_one),
		cmocka_unit_test(
		        test_git_ssh__push_with_key_and_known_host_lands),
		cmocka_unit_test(
		        test_git_ssh__unknown_host_key_is_refused_unless_opted_out),
		cmocka_unit_test(
		        test_git_ssh__hashed_known_hosts_entry_is_accepted),
		cmocka_unit_test(test_git_ssh__revoked_host_key_is_refused),
		cmocka_unit_test(
		        test_git_ssh__url_password_is_dropped_and_the_user_kept),
		cmocka_unit_test(test_git_ssh__wrong_key_is_an_auth_error),
	};
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, setup, NULL);
	git_libgit2_shutdown();
	return rc;
}
