/*
 * git.c - cached clones, sync to a remote ref, commit and push over
 * libgit2.  It converts libgit2's errors at this boundary and never puts a
 * credential into a message.  It does not decide what to edit, retry
 * conflicts, or resolve semver refs: the pipeline in core/ does.
 */
#include "git.h"
#include "gpgsig.h"
#include "sshsig.h"

#include "base/log.h"
#include "base/util.h"

#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GIT_MAX_URL 4096
#define GIT_FETCHED_REF "refs/ferry/fetched"

struct gitrepo {
	git_repository *repo;
	char *url;
	char *workdir;
};

/* What the libgit2 callbacks learn, to turn a bare error code into a
 * message that says what to do. */
struct cb_state {
	const struct git_auth *auth;
	const char *url;
	int cred_calls;
	bool no_credentials;
	bool hostkey_unknown;
	bool hostkey_mismatch;
	char push_status[512];
};

static void
safe_url(char *out, size_t outsz, const char *url)
{
	log_url(out, outsz, url);
}

static int
convert_error(struct err *err, int rc, const struct cb_state *st,
              const char *what, const char *url)
{
	const git_error *ge = git_error_last();
	char u[GIT_MAX_URL];
	int code;

	safe_url(u, sizeof(u), url);
	if (st && st->hostkey_unknown)
		return err_set(
		        err, ERR_INVALID,
		        "%s '%s': the SSH host key is not in known_hosts (add the 'known_hosts' key to the Secret, e.g. from 'ssh-keyscan')",
		        what, u);
	if (st && st->hostkey_mismatch)
		return err_set(
		        err, ERR_INVALID,
		        "%s '%s': the SSH host key does not match known_hosts (possible man-in-the-middle; check the host and update known_hosts)",
		        what, u);
	if (st && st->no_credentials)
		return err_set(
		        err, ERR_AUTH,
		        "%s '%s': the remote asks for credentials and none are configured (set secretRef on the GitRepository)",
		        what, u);
	switch (rc) {
	case GIT_EAUTH:
		return err_set(
		        err, ERR_AUTH,
		        "%s '%s': authentication failed (check the credentials in the GitRepository's secretRef)",
		        what, u);
	case GIT_ECERTIFICATE:
		return err_set(
		        err, ERR_INVALID,
		        "%s '%s': server certificate or host key rejected: %s",
		        what, u, ge ? ge->message : "unknown");
	case GIT_ENOTFOUND:
		code = ERR_NOTFOUND;
		break;
	case GIT_ENONFASTFORWARD:
		return err_set(
		        err, ERR_CONFLICT,
		        "%s '%s': rejected as non-fast-forward (the branch moved on the remote)",
		        what, u);
	default:
		code = ERR_TRANSIENT;
		if (ge && (ge->klass == GIT_ERROR_INVALID ||
		           ge->klass == GIT_ERROR_CONFIG))
			code = ERR_INVALID;
		/* libgit2 1.5 reports some HTTP auth refusals only as text. */
		if (ge && (strstr(ge->message, "401") ||
		           strstr(ge->message, "authentication")))
			code = ERR_AUTH;
		break;
	}
	return err_set(err, code, "%s '%s': %s", what, u,
	               ge && ge->message ? ge->message
	                                 : "unknown libgit2 error");
}

/*
 * The port in an ssh URL (ssh://user@host:PORT/path), or 22.  scp-like
 * URLs (user@host:path) always use 22.
 */
static long
url_ssh_port(const char *url)
{
	const char *p, *colon, *slash;
	long long port = 22;

	if (strncmp(url, "ssh://", 6) != 0)
		return 22;
	p = url + 6;
	slash = strchr(p, '/');
	if (slash == NULL)
		slash = p + strlen(p);
	if (memchr(p, '@', (size_t)(slash - p)))
		p = (const char *)memchr(p, '@', (size_t)(slash - p)) + 1;
	colon = memchr(p, ':', (size_t)(slash - p));
	if (colon && parse_long(colon + 1, (size_t)(slash - colon - 1), 1,
	                        65535, &port, "port", NULL) < 0)
		return 22;
	return (long)port;
}

/* Does the comma-separated host pattern list of a known_hosts line name
 * host at port?  Plain names only: hashed (|1|) entries are skipped. */
static bool
known_host_matches(const char *field, size_t len, const char *host, long port)
{
	char want[300];
	size_t wlen;
	const char *p = field, *end = field + len;

	if (port == 22)
		snprintf(want, sizeof(want), "%s", host);
	else
		snprintf(want, sizeof(want), "[%s]:%ld", host, port);
	wlen = strlen(want);
	while (p < end) {
		const char *comma = memchr(p, ',', (size_t)(end - p));
		size_t n = comma ? (size_t)(comma - p) : (size_t)(end - p);
		if (n == wlen && memcmp(p, want, n) == 0)
			return true;
		p += n + 1;
	}
	return false;
}

/*
 * Checks the raw host key (SSH wire blob) against known_hosts text.
 * 0 match, 1 host listed with other keys only, 2 host not listed.
 */
static int
known_hosts_check(const char *text, const char *host, long port,
                  const unsigned char *key, size_t keylen)
{
	const char *line = text;
	int listed = 0;

	while (line && *line) {
		const char *nl = strchr(line, '\n');
		const char *end = nl ? nl : line + strlen(line);
		const char *f[3];
		size_t flen[3];
		int nf = 0;
		const char *p = line;

		if (*p == '@') { /* @cert-authority / @revoked: not ours */
			line = nl ? nl + 1 : NULL;
			continue;
		}
		while (nf < 3 && p < end) {
			while (p < end && (*p == ' ' || *p == '\t'))
				p++;
			if (p >= end)
				break;
			f[nf] = p;
			while (p < end && *p != ' ' && *p != '\t' && *p != '\r')
				p++;
			flen[nf] = (size_t)(p - f[nf]);
			nf++;
		}
		if (nf == 3 && f[0][0] != '#' &&
		    known_host_matches(f[0], flen[0], host, port)) {
			struct buf blob = BUF_INIT;
			listed = 1;
			if (base64_decode(&blob, f[2], flen[2], NULL) == 0 &&
			    blob.len == keylen &&
			    memcmp(blob.ptr, key, keylen) == 0) {
				buf_release(&blob);
				return 0;
			}
			buf_release(&blob);
		}
		line = nl ? nl + 1 : NULL;
	}
	return listed ? 1 : 2;
}

static int
certificate_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct cb_state *st = payload;
	git_cert_hostkey *hk;
	int rc;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH;
	if (st->auth && st->auth->insecure_ignore_host_key)
		return 0;
	hk = (git_cert_hostkey *)cert;
	if (!(hk->type & GIT_CERT_SSH_RAW) || st->auth == NULL ||
	    st->auth->known_hosts == NULL) {
		st->hostkey_unknown = true;
		return GIT_ECERTIFICATE;
	}
	rc = known_hosts_check(
	        st->auth->known_hosts, host, url_ssh_port(st->url),
	        (const unsigned char *)hk->hostkey, hk->hostkey_len);
	if (rc == 0)
		return 0;
	if (rc == 1)
		st->hostkey_mismatch = true;
	else
		st->hostkey_unknown = true;
	return GIT_ECERTIFICATE;
}

static int
credentials_cb(git_credential **out, const char *url,
               const char *username_from_url, unsigned int allowed,
               void *payload)
{
	struct cb_state *st = payload;
	const struct git_auth *a = st->auth;
	const char *user;

	(void)url;
	/* libgit2 asks again after a refusal; one try per operation is
	 * enough to know the credentials are wrong. */
	if (st->cred_calls++ > 0)
		return GIT_EAUTH;
	user = username_from_url && *username_from_url
	               ? username_from_url
	               : (a && a->username ? a->username : "git");
	if ((allowed & GIT_CREDENTIAL_USERNAME) && a)
		return git_credential_username_new(out, user);
	if ((allowed & GIT_CREDENTIAL_SSH_MEMORY) && a && a->ssh_identity &&
	    a->ssh_identity->ptr) {
		return git_credential_ssh_key_memory_new(
		        out, user, NULL, (const char *)a->ssh_identity->ptr,
		        a->ssh_passphrase && a->ssh_passphrase->ptr
		                ? (const char *)a->ssh_passphrase->ptr
		                : NULL);
	}
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && a && a->password &&
	    a->password->ptr) {
		return git_credential_userpass_plaintext_new(
		        out, a->username ? a->username : user,
		        (const char *)a->password->ptr);
	}
	st->no_credentials = true;
	return GIT_EAUTH;
}

/* Extra headers for a bearer token; the strings hold the secret and are
 * wiped by headers_release(). */
struct headers {
	char *bearer;
	char *list[1];
	git_strarray arr;
};

static int
headers_init(struct headers *h, const struct git_auth *auth)
{
	struct buf b = BUF_INIT;

	memset(h, 0, sizeof(*h));
	if (auth == NULL || auth->bearer_token == NULL ||
	    auth->bearer_token->ptr == NULL)
		return 0;
	buf_puts(&b, "Authorization: Bearer ");
	buf_add(&b, auth->bearer_token->ptr, auth->bearer_token->len);
	if (!buf_ok(&b)) {
		buf_release(&b);
		return -ERR_NOMEM;
	}
	h->bearer = buf_detach(&b);
	h->list[0] = h->bearer;
	h->arr.strings = h->list;
	h->arr.count = 1;
	return 0;
}

static void
headers_release(struct headers *h)
{
	if (h->bearer) {
		secret_wipe(h->bearer, strlen(h->bearer));
		free(h->bearer);
	}
	memset(h, 0, sizeof(*h));
}

static void
set_callbacks(git_remote_callbacks *cb, struct cb_state *st)
{
	cb->credentials = credentials_cb;
	cb->certificate_check = certificate_cb;
	cb->payload = st;
}

static int
clone_dir(struct buf *out, const char *state_dir, const char *url)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];

	crypto_hash_sha256(h, (const unsigned char *)url, strlen(url));
	sodium_bin2hex(hex, sizeof(hex), h, 16);
	buf_addf(out, "%s/git/%s", state_dir, hex);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

static bool
cached_clone_usable(git_repository *repo, const char *url)
{
	git_remote *remote = NULL;
	bool ok = false;

	if (git_remote_lookup(&remote, repo, "origin") == 0) {
		const char *have = git_remote_url(remote);
		ok = have && strcmp(have, url) == 0;
	}
	git_remote_free(remote);
	return ok && !git_repository_is_bare(repo);
}

int
gitrepo_open(struct gitrepo **out, const char *state_dir, const char *url,
             const struct git_auth *auth, struct err *err)
{
	struct gitrepo *r = NULL;
	struct buf dir = BUF_INIT, tmp = BUF_INIT, aside = BUF_INIT;
	git_clone_options copts;
	struct cb_state st;
	struct headers hdr;
	struct stat sb;
	int rc = 0, grc;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	memset(&hdr, 0, sizeof(hdr));
	if (strlen(url) >= GIT_MAX_URL || *url == '\0')
		return err_set(err, ERR_INVALID,
		               "git: URL is empty or too long");
	r = calloc(1, sizeof(*r));
	if (r == NULL || (r->url = strdup(url)) == NULL ||
	    clone_dir(&dir, state_dir, url) < 0) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	if (stat(dir.ptr, &sb) == 0) {
		if (git_repository_open(&r->repo, dir.ptr) == 0 &&
		    cached_clone_usable(r->repo, url))
			goto opened;
		/* A clone we cannot use (interrupted, or a hash collision
		 * with another URL): keep it for inspection, clone anew. */
		git_repository_free(r->repo);
		r->repo = NULL;
		buf_addf(&aside, "%s.broken-%ld", dir.ptr, (long)time(NULL));
		if (!buf_ok(&aside) || rename(dir.ptr, aside.ptr) < 0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "git: cannot move unusable clone '%s' aside: %s",
			        dir.ptr, strerror(errno));
			goto out;
		}
		log_warn("git", "clone_replaced", "dir", dir.ptr, "moved_to",
		         aside.ptr);
	}
	buf_addf(&tmp, "%s/git", state_dir);
	if (!buf_ok(&tmp)) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	if ((rc = dir_make_all(tmp.ptr, 0700, err)) < 0) {
		err_prefix(err, "git: state directory");
		goto out;
	}
	/* Clone to a temporary name and rename, so an interrupted clone
	 * never looks like a cached one. */
	buf_reset(&tmp);
	buf_addf(&tmp, "%s.tmp-%ld", dir.ptr, (long)getpid());
	if ((rc = headers_init(&hdr, auth)) < 0 || !buf_ok(&tmp)) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	git_clone_options_init(&copts, GIT_CLONE_OPTIONS_VERSION);
	copts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	st.auth = auth;
	st.url = url;
	set_callbacks(&copts.fetch_opts.callbacks, &st);
	copts.fetch_opts.custom_headers = hdr.arr;
	grc = git_clone(&r->repo, url, tmp.ptr, &copts);
	if (grc < 0) {
		rc = convert_error(err, grc, &st, "git clone", url);
		git_repository_free(r->repo);
		r->repo = NULL;
		/* leave nothing half-made behind for the next run */
		if (dir_remove_all(tmp.ptr, NULL) < 0)
			log_warn("git", "cleanup_failed", "dir", tmp.ptr);
		goto out;
	}
	git_repository_free(r->repo);
	r->repo = NULL;
	if (rename(tmp.ptr, dir.ptr) < 0) {
		rc = err_set(err, ERR_INVALID, "git: cannot rename clone: %s",
		             strerror(errno));
		goto out;
	}
	if ((grc = git_repository_open(&r->repo, dir.ptr)) < 0) {
		rc = convert_error(err, grc, NULL, "git open", url);
		goto out;
	}
opened:
	r->workdir = strdup(git_repository_workdir(r->repo));
	if (r->workdir == NULL) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	*out = r;
	r = NULL;
out:
	headers_release(&hdr);
	buf_release(&dir);
	buf_release(&tmp);
	buf_release(&aside);
	gitrepo_free(r);
	return rc;
}

void
gitrepo_free(struct gitrepo *repo)
{
	if (repo == NULL)
		return;
	git_repository_free(repo->repo);
	free(repo->url);
	free(repo->workdir);
	free(repo);
}

const char *
gitrepo_workdir(const struct gitrepo *repo)
{
	return repo->workdir;
}

static int
fetch(struct gitrepo *r, const struct git_ref *ref, const struct git_auth *auth,
      struct err *err)
{
	git_remote *remote = NULL;
	git_fetch_options fopts;
	struct cb_state st;
	struct headers hdr;
	struct buf spec = BUF_INIT;
	char *specs[2];
	git_strarray refspecs = { NULL, 0 };
	int rc = 0, grc;

	memset(&st, 0, sizeof(st));
	if (headers_init(&hdr, auth) < 0)
		return err_set(err, ERR_NOMEM, "git: out of memory");
	if ((grc = git_remote_lookup(&remote, r->repo, "origin")) < 0) {
		rc = convert_error(err, grc, NULL, "git fetch", r->url);
		goto out;
	}
	git_fetch_options_init(&fopts, GIT_FETCH_OPTIONS_VERSION);
	st.auth = auth;
	st.url = r->url;
	set_callbacks(&fopts.callbacks, &st);
	fopts.custom_headers = hdr.arr;
	fopts.prune = GIT_FETCH_PRUNE;
	fopts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	if (ref->kind == GIT_REF_NAME) {
		/* An arbitrary ref is fetched on its own, plus the branches. */
		buf_addf(&spec, "+%s:" GIT_FETCHED_REF, ref->value);
		if (!buf_ok(&spec)) {
			rc = err_set(err, ERR_NOMEM, "git: out of memory");
			goto out;
		}
		specs[0] = spec.ptr;
		specs[1] = "+refs/heads/*:refs/remotes/origin/*";
		refspecs.strings = specs;
		refspecs.count = 2;
	}
	grc = git_remote_fetch(remote, refspecs.count ? &refspecs : NULL,
	                       &fopts, NULL);
	if (grc < 0)
		rc = convert_error(err, grc, &st, "git fetch", r->url);
out:
	headers_release(&hdr);
	buf_release(&spec);
	git_remote_free(remote);
	return rc;
}

static int
resolve(struct gitrepo *r, const struct git_ref *ref, git_oid *oid,
        struct err *err)
{
	struct buf name = BUF_INIT;
	git_object *obj = NULL;
	char u[GIT_MAX_URL];
	int rc = 0;

	safe_url(u, sizeof(u), r->url);
	switch (ref->kind) {
	case GIT_REF_BRANCH:
		buf_addf(&name, "refs/remotes/origin/%s", ref->value);
		break;
	case GIT_REF_TAG:
		buf_addf(&name, "refs/tags/%s", ref->value);
		break;
	case GIT_REF_NAME:
		buf_puts(&name, GIT_FETCHED_REF);
		break;
	case GIT_REF_COMMIT:
		if (strlen(ref->value) != GIT_OID_HEXSZ ||
		    git_oid_fromstr(oid, ref->value) < 0)
			return err_set(err, ERR_INVALID,
			               "git '%s': '%s' is not a full commit id",
			               u, ref->value);
		if (git_object_lookup(&obj, r->repo, oid, GIT_OBJECT_COMMIT) <
		    0)
			return err_set(
			        err, ERR_NOTFOUND,
			        "git '%s': commit '%s' is not on the remote", u,
			        ref->value);
		git_object_free(obj);
		return 0;
	}
	if (!buf_ok(&name))
		return err_set(err, ERR_NOMEM, "git: out of memory");
	if (git_revparse_single(&obj, r->repo, name.ptr) < 0) {
		rc = err_set(err, ERR_NOTFOUND,
		             "git '%s': %s '%s' does not exist on the remote",
		             u,
		             ref->kind == GIT_REF_TAG ? "tag" : "branch or ref",
		             ref->value);
		goto out;
	}
	{
		git_object *commit = NULL;
		if (git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) < 0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "git '%s': '%s' does not point at a commit", u,
			        ref->value);
			goto out;
		}
		git_oid_cpy(oid, git_object_id(commit));
		git_object_free(commit);
	}
out:
	git_object_free(obj);
	buf_release(&name);
	return rc;
}

int
gitrepo_fetch(struct gitrepo *r, const struct git_auth *auth, struct err *err)
{
	struct git_ref all = { GIT_REF_BRANCH, NULL };

	return fetch(r, &all, auth, err);
}

int
gitrepo_fetch_ref(struct gitrepo *r, const struct git_ref *ref,
                  const struct git_auth *auth, char commit_out[41],
                  struct err *err)
{
	git_oid oid;
	int rc;

	if ((rc = fetch(r, ref, auth, err)) < 0)
		return rc;
	if ((rc = resolve(r, ref, &oid, err)) < 0)
		return rc;
	git_oid_tostr(commit_out, 41, &oid);
	return 0;
}

/*
 * The work tree's cleanliness is recorded, not rechecked: libgit2's
 * reset and checkout stat every file of the tree (twice for a hard reset
 * followed by the checkout that removes untracked files), where the only
 * writer of a clone is ferry itself, through reset, edit, commit.  After
 * a commit (or a commit that found nothing to commit) the work tree and
 * the index equal HEAD, and GIT_CLEAN_MARK in the git directory says so,
 * naming HEAD.  gitrepo_reset() removes the mark, durably, before it hands
 * the work tree to the editors; so an interrupted run, a dry run, a
 * failed commit or a clone from an older ferry leaves no mark, and the
 * next reset is the full one.
 */
#define GIT_CLEAN_MARK "ferry-clean"

static int
clean_mark_path(struct buf *out, struct gitrepo *r)
{
	buf_reset(out);
	buf_addf(out, "%s" GIT_CLEAN_MARK, git_repository_path(r->repo));
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* true when the mark names HEAD, and HEAD is detached at it (*head). */
static bool
clean_mark_holds(struct gitrepo *r, git_oid *head)
{
	struct buf path = BUF_INIT, text = BUF_INIT;
	struct err e = ERR_INIT;
	git_oid marked;
	bool ok = false;

	if (clean_mark_path(&path, r) == 0 &&
	    file_read(&text, path.ptr, &e) == 0 && text.len == GIT_OID_HEXSZ &&
	    git_oid_fromstrn(&marked, text.ptr, text.len) == 0 &&
	    git_repository_head_detached(r->repo) == 1 &&
	    git_reference_name_to_id(head, r->repo, "HEAD") == 0)
		ok = git_oid_equal(&marked, head);
	buf_release(&path);
	buf_release(&text);
	return ok;
}

/* Removes the mark, durably: the editors may write once this returns. */
static int
clean_mark_drop(struct gitrepo *r, struct err *err)
{
	struct buf path = BUF_INIT;
	int rc = 0, dfd;

	if (clean_mark_path(&path, r) < 0)
		return err_set(err, ERR_NOMEM, "git: out of memory");
	if (unlink(path.ptr) < 0 && errno != ENOENT)
		rc = err_set(err, ERR_INVALID, "git: cannot remove '%s': %s",
		             path.ptr, strerror(errno));
	else if ((dfd = open(git_repository_path(r->repo),
	                     O_RDONLY | O_DIRECTORY | O_CLOEXEC)) >= 0) {
		fsync(dfd);
		close(dfd);
	}
	buf_release(&path);
	return rc;
}

/* Records that the work tree and the index equal HEAD (head). */
static void
clean_mark_set(struct gitrepo *r, const git_oid *head)
{
	struct buf path = BUF_INIT;
	struct err e = ERR_INIT;
	char hex[GIT_OID_HEXSZ + 1];

	git_oid_tostr(hex, sizeof(hex), head);
	/* a mark that cannot be written only costs the next reset time */
	if (clean_mark_path(&path, r) == 0 &&
	    file_write_atomic(path.ptr, hex, GIT_OID_HEXSZ, 0644, &e) < 0)
		log_warn("git", "clean_mark_failed", "err", e.msg);
	buf_release(&path);
}

/*
 * From a clean work tree at from to commit to: only the paths that differ
 * between the two trees are checked out (libgit2 then looks at those
 * files alone), the index is updated for them, HEAD is detached at to.
 */
static int
reset_from_clean(struct gitrepo *r, const git_oid *from, git_commit *to)
{
	git_commit *fc = NULL;
	git_tree *ft = NULL, *tt = NULL;
	git_diff *diff = NULL;
	git_checkout_options co;
	char **paths = NULL;
	size_t n = 0, nd;
	int grc;

	if ((grc = git_commit_lookup(&fc, r->repo, from)) < 0 ||
	    (grc = git_commit_tree(&ft, fc)) < 0 ||
	    (grc = git_commit_tree(&tt, to)) < 0 ||
	    (grc = git_diff_tree_to_tree(&diff, r->repo, ft, tt, NULL)) < 0)
		goto out;
	nd = git_diff_num_deltas(diff);
	if (nd > 0) {
		paths = calloc(2 * nd, sizeof(*paths));
		if (paths == NULL) {
			grc = -1;
			git_error_set_oom();
			goto out;
		}
		for (size_t i = 0; i < nd; i++) {
			const git_diff_delta *d = git_diff_get_delta(diff, i);
			paths[n++] = (char *)d->old_file.path;
			if (strcmp(d->old_file.path, d->new_file.path) != 0)
				paths[n++] = (char *)d->new_file.path;
		}
		git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
		co.checkout_strategy = GIT_CHECKOUT_FORCE |
		                       GIT_CHECKOUT_DISABLE_PATHSPEC_MATCH;
		co.paths.strings = paths;
		co.paths.count = n;
		if ((grc = git_checkout_tree(r->repo, (git_object *)to, &co)) <
		    0)
			goto out;
	}
	grc = git_repository_set_head_detached(r->repo, git_commit_id(to));
out:
	free(paths);
	git_diff_free(diff);
	git_tree_free(ft);
	git_tree_free(tt);
	git_commit_free(fc);
	return grc;
}

int
gitrepo_reset(struct gitrepo *r, const char *commit_hex, struct err *err)
{
	git_oid oid, head;
	git_object *commit = NULL;
	git_checkout_options co;
	int rc = 0, grc;

	if (git_oid_fromstr(&oid, commit_hex) < 0)
		return err_set(err, ERR_INVALID, "git: '%s' is not a commit id",
		               commit_hex);
	if ((grc = git_object_lookup(&commit, r->repo, &oid,
	                             GIT_OBJECT_COMMIT)) < 0)
		return convert_error(err, grc, NULL, "git checkout", r->url);
	if (clean_mark_holds(r, &head)) {
		if ((rc = clean_mark_drop(r, err)) < 0)
			goto out;
		if (git_oid_equal(&head, &oid))
			goto out; /* already there, untouched since */
		if ((grc = reset_from_clean(r, &head, (git_commit *)commit)) <
		    0)
			rc = convert_error(err, grc, NULL, "git checkout",
			                   r->url);
		goto out;
	}
	if ((rc = clean_mark_drop(r, err)) < 0)
		goto out;
	git_checkout_options_init(&co, GIT_CHECKOUT_OPTIONS_VERSION);
	co.checkout_strategy =
	        GIT_CHECKOUT_FORCE | GIT_CHECKOUT_REMOVE_UNTRACKED;
	/* Detach first so the reset cannot move a local branch.  git_reset
	 * overrides the checkout strategy, so untracked files are removed by
	 * a forced checkout of the same tree afterwards. */
	if ((grc = git_repository_set_head_detached(r->repo, &oid)) < 0 ||
	    (grc = git_reset(r->repo, commit, GIT_RESET_HARD, NULL)) < 0 ||
	    (grc = git_checkout_tree(r->repo, commit, &co)) < 0)
		rc = convert_error(err, grc, NULL, "git reset", r->url);
out:
	git_object_free(commit);
	return rc;
}

int
gitrepo_sync(struct gitrepo *r, const struct git_ref *ref,
             const struct git_auth *auth, char commit_out[41], struct err *err)
{
	char commit[41];
	int rc;

	if ((rc = gitrepo_fetch_ref(r, ref, auth, commit, err)) < 0 ||
	    (rc = gitrepo_reset(r, commit, err)) < 0)
		return rc;
	if (commit_out)
		memcpy(commit_out, commit, 41);
	return 0;
}

static int
tag_cb(const char *name, git_oid *oid, void *payload)
{
	struct buf *out = payload;

	(void)oid;
	if (strncmp(name, "refs/tags/", 10) == 0)
		name += 10;
	buf_puts(out, name);
	buf_putc(out, '\n');
	return buf_ok(out) ? 0 : -1;
}

int
gitrepo_tags(struct gitrepo *r, struct buf *out, struct err *err)
{
	if (git_tag_foreach(r->repo, tag_cb, out) < 0)
		return err_set(err, ERR_NOMEM, "git: listing tags failed");
	return 0;
}

/*
 * Stages what changed and writes the index and its tree.  With paths, only
 * those files are looked at (each read, hashed and stat'ed once; one that
 * is gone is removed from the index); without, every file of the work
 * tree is (git add -A).
 */
static int
stage(struct gitrepo *r, const char *const *paths, size_t npaths,
      git_oid *tree_out, struct err *err)
{
	git_index *index = NULL;
	char *all[] = { "*" };
	git_strarray every = { all, 1 };
	int rc = 0, grc = 0;

	if ((grc = git_repository_index(&index, r->repo)) < 0)
		goto out;
	if (paths == NULL) {
		if ((grc = git_index_add_all(index, &every,
		                             GIT_INDEX_ADD_DEFAULT, NULL,
		                             NULL)) < 0 ||
		    (grc = git_index_update_all(index, &every, NULL, NULL)) < 0)
			goto out;
	}
	for (size_t i = 0; paths && i < npaths; i++) {
		grc = git_index_add_bypath(index, paths[i]);
		if (grc == GIT_ENOTFOUND) /* the edit removed it */
			grc = git_index_remove_bypath(index, paths[i]);
		if (grc < 0)
			goto out;
	}
	if ((grc = git_index_write(index)) < 0 ||
	    (grc = git_index_write_tree(tree_out, index)) < 0)
		goto out;
out:
	if (grc < 0) {
		const git_error *ge = git_error_last();
		rc = err_set(err, ERR_INVALID,
		             "git: staging changes failed: %s",
		             ge ? ge->message : "unknown");
	}
	git_index_free(index);
	return rc;
}

int
gitrepo_commit(struct gitrepo *r, const struct git_commit_opts *opts,
               char commit_out[41], struct err *err)
{
	git_oid tree_oid, head_oid, new_oid;
	git_commit *head = NULL;
	git_tree *tree = NULL;
	git_signature *sig = NULL;
	git_buf content = { NULL, 0, 0 };
	struct buf armored = BUF_INIT;
	const git_commit *parents[1];
	int rc = 0, grc;

	if (opts->author_email == NULL || *opts->author_email == '\0')
		return err_set(
		        err, ERR_INVALID,
		        "git commit: no author email (set spec.git.commit.author.email)");
	if ((rc = stage(r, opts->paths, opts->npaths, &tree_oid, err)) < 0)
		return rc;
	if ((grc = git_reference_name_to_id(&head_oid, r->repo, "HEAD")) < 0 ||
	    (grc = git_commit_lookup(&head, r->repo, &head_oid)) < 0) {
		rc = convert_error(err, grc, NULL, "git commit", r->url);
		goto out;
	}
	if (git_oid_equal(git_commit_tree_id(head), &tree_oid)) {
		rc = 1; /* nothing changed: never an empty commit */
		clean_mark_set(r, &head_oid);
		goto out;
	}
	if ((grc = git_tree_lookup(&tree, r->repo, &tree_oid)) < 0 ||
	    (grc = git_signature_now(&sig,
	                             opts->author_name && *opts->author_name
	                                     ? opts->author_name
	                                     : "ferry",
	                             opts->author_email)) < 0) {
		rc = err_set(err, ERR_INVALID, "git commit: %s",
		             git_error_last() ? git_error_last()->message
		                              : "bad author");
		goto out;
	}
	parents[0] = head;
	if ((grc = git_commit_create_buffer(&content, r->repo, sig, sig, NULL,
	                                    opts->message ? opts->message : "",
	                                    tree, 1, parents)) < 0) {
		rc = convert_error(err, grc, NULL, "git commit", r->url);
		goto out;
	}
	if (opts->ssh_signing_key) {
		if ((rc = sshsig_sign(&armored, opts->ssh_signing_key, "git",
		                      content.ptr, content.size, err)) < 0)
			goto out;
	} else if (opts->gpg_key) {
		if ((rc = gpgsig_sign(&armored, opts->gpg_key,
		                      opts->gpg_passphrase, content.ptr,
		                      content.size, err)) < 0)
			goto out;
	}
	/* Both kinds of signature go in the gpgsig header, as git does. */
	if ((grc = git_commit_create_with_signature(
	             &new_oid, r->repo, content.ptr,
	             armored.len ? armored.ptr : NULL,
	             armored.len ? "gpgsig" : NULL)) < 0 ||
	    (grc = git_repository_set_head_detached(r->repo, &new_oid)) < 0) {
		rc = convert_error(err, grc, NULL, "git commit", r->url);
		goto out;
	}
	git_oid_tostr(commit_out, 41, &new_oid);
	clean_mark_set(r, &new_oid);
out:
	git_buf_dispose(&content);
	buf_release(&armored);
	git_signature_free(sig);
	git_tree_free(tree);
	git_commit_free(head);
	return rc;
}

bool
gitrepo_remote_branch_has_head_tree(struct gitrepo *r, const char *branch)
{
	struct buf name = BUF_INIT;
	git_object *remote = NULL, *head = NULL;
	git_tree *rt = NULL, *ht = NULL;
	bool same = false;

	buf_addf(&name, "refs/remotes/origin/%s^{commit}", branch);
	if (buf_ok(&name) &&
	    git_revparse_single(&remote, r->repo, name.ptr) == 0 &&
	    git_revparse_single(&head, r->repo, "HEAD^{commit}") == 0 &&
	    git_commit_tree(&rt, (git_commit *)remote) == 0 &&
	    git_commit_tree(&ht, (git_commit *)head) == 0)
		same = git_oid_equal(git_tree_id(rt), git_tree_id(ht));
	git_tree_free(rt);
	git_tree_free(ht);
	git_object_free(remote);
	git_object_free(head);
	buf_release(&name);
	return same;
}

static int
push_update_cb(const char *refname, const char *status, void *payload)
{
	struct cb_state *st = payload;

	if (status && st->push_status[0] == '\0')
		snprintf(st->push_status, sizeof(st->push_status), "%s: %s",
		         refname, status);
	return 0;
}

static bool
is_conflict_status(const char *s)
{
	/* "failed to update ref" is what receive-pack reports when the ref
	 * moved while the push was being received. */
	return strstr(s, "non-fast-forward") || strstr(s, "fetch first") ||
	       strstr(s, "stale info") || strstr(s, "failed to lock") ||
	       strstr(s, "failed to update ref") ||
	       strstr(s, "cannot lock ref");
}

int
gitrepo_push(struct gitrepo *r, const struct git_push_opts *opts,
             const struct git_auth *auth, struct err *err)
{
	git_remote *remote = NULL;
	git_reference *ref = NULL;
	git_push_options popts;
	git_oid head;
	struct cb_state st;
	struct headers hdr;
	struct buf local = BUF_INIT, spec = BUF_INIT;
	char *specs[2];
	git_strarray refspecs;
	char u[GIT_MAX_URL];
	int rc = 0, grc;

	memset(&st, 0, sizeof(st));
	safe_url(u, sizeof(u), r->url);
	if (opts->branch == NULL || *opts->branch == '\0')
		return err_set(err, ERR_INVALID, "git push: no branch given");
	if (opts->push_options && opts->push_options[0])
		log_warn("git", "push_options_ignored", "remote", u, "reason",
		         "libgit2 1.5 cannot send push options");
	if (headers_init(&hdr, auth) < 0)
		return err_set(err, ERR_NOMEM, "git: out of memory");
	/* Point a local branch at the new commit: libgit2 pushes refs, not
	 * bare commit ids. */
	buf_addf(&local, "refs/heads/%s", opts->branch);
	buf_addf(&spec, "%srefs/heads/%s:refs/heads/%s", opts->force ? "+" : "",
	         opts->branch, opts->branch);
	if (!buf_ok(&local) || !buf_ok(&spec)) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	if ((grc = git_reference_name_to_id(&head, r->repo, "HEAD")) < 0 ||
	    (grc = git_reference_create(&ref, r->repo, local.ptr, &head, 1,
	                                "ferry: push")) < 0 ||
	    (grc = git_remote_lookup(&remote, r->repo, "origin")) < 0) {
		rc = convert_error(err, grc, NULL, "git push", r->url);
		goto out;
	}
	specs[0] = spec.ptr;
	refspecs.strings = specs;
	refspecs.count = 1;
	if (opts->refspec && *opts->refspec) {
		specs[1] = (char *)opts->refspec;
		refspecs.count = 2;
	}
	git_push_options_init(&popts, GIT_PUSH_OPTIONS_VERSION);
	st.auth = auth;
	st.url = r->url;
	set_callbacks(&popts.callbacks, &st);
	popts.callbacks.push_update_reference = push_update_cb;
	popts.custom_headers = hdr.arr;
	grc = git_remote_push(remote, &refspecs, &popts);
	if (grc < 0) {
		rc = convert_error(err, grc, &st, "git push", r->url);
		goto out;
	}
	if (st.push_status[0]) {
		rc = err_set(err,
		             is_conflict_status(st.push_status) ? ERR_CONFLICT
		                                                : ERR_INVALID,
		             "git push '%s': the remote rejected %s", u,
		             st.push_status);
		goto out;
	}
out:
	headers_release(&hdr);
	buf_release(&local);
	buf_release(&spec);
	git_reference_free(ref);
	git_remote_free(remote);
	return rc;
}
