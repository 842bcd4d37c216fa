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

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <git2.h>
#include <libssh2.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define GITREPO_MAX_URL 4096
#define GITREPO_FETCHED_REF "refs/ferry/fetched"

struct gitrepo {
	git_repository *repo;
	char *url;
	char *workdir;
	int lock_fd; /* flock on <clone dir>.lock, or -1 */
	/* Credentials that were in the URL's userinfo; url has them no
	 * more (url_split_credentials). */
	struct secret url_user;
	struct secret url_password;
};

/* What the libgit2 callbacks learn, to turn a bare error code into a
 * message that says what to do. */
struct cb_state {
	const struct gitrepo_auth *auth;
	const struct gitrepo *repo_url; /* its url_user, url_password */
	const char *url;
	int cred_calls;
	bool no_credentials;
	git_repository *repo; /* the clone, for push_negotiation_cb */
	char moved[256];      /* a branch that moved since the fetch */
	bool hostkey_refused;
	struct err hostkey_err; /* why, when hostkey_refused */
	char push_status[512];
	char push_ref[256]; /* the ref push_status is about */
};

static void
safe_url(char *out, size_t outsz, const char *url)
{
	log_url(out, outsz, url);
}

/* Sets s to p[0..n) with %XX escapes decoded, wiping the copy it used. */
static int
secret_set_decoded(struct secret *s, const char *p, size_t n)
{
	char *tmp = malloc(n + 1);
	size_t i, len = 0;
	int rc;

	if (tmp == NULL)
		return -ERR_NOMEM;
	for (i = 0; i < n; i++) {
		int hi, lo;
		if (p[i] == '%' && i + 2 < n &&
		    (hi = hex_digit(p[i + 1])) >= 0 &&
		    (lo = hex_digit(p[i + 2])) >= 0) {
			tmp[len++] = (char)(hi << 4 | lo);
			i += 2;
		} else {
			tmp[len++] = p[i];
		}
	}
	rc = secret_set(s, tmp, len);
	secret_wipe(tmp, n + 1);
	free(tmp);
	return rc;
}

/*
 * Takes the credentials out of a URL's userinfo.  stored gets the URL the
 * clone keeps (its .git/config, reflogs, FETCH_HEAD and every message);
 * user and password (percent-decoded) get what was taken out, for
 * credentials_cb.  http(s) URLs lose the whole userinfo, as a token is
 * often written as the user name (https://TOKEN@host/); other schemes
 * keep the user name, which is an address there (ssh://git@host/), and
 * lose the password.
 */
static int
url_split_credentials(struct buf *stored, struct secret *user,
                      struct secret *password, const char *url)
{
	const char *sep = strstr(url, "://"), *auth, *end, *at = NULL, *colon;
	const char *p, *user_end;
	bool http;

	if (sep == NULL)
		return buf_puts(stored, url);
	auth = sep + 3;
	end = auth + strcspn(auth, "/?#");
	for (p = auth; p < end; p++)
		if (*p == '@')
			at = p;
	http = (sep - url == 4 && strncasecmp(url, "http", 4) == 0) ||
	       (sep - url == 5 && strncasecmp(url, "https", 5) == 0);
	colon = at ? memchr(auth, ':', (size_t)(at - auth)) : NULL;
	if (at == NULL || (!http && colon == NULL))
		return buf_puts(stored, url);
	user_end = colon ? colon : at;
	if (secret_set_decoded(user, auth, (size_t)(user_end - auth)) < 0 ||
	    (colon && secret_set_decoded(password, colon + 1,
	                                 (size_t)(at - colon - 1)) < 0))
		return -ERR_NOMEM;
	buf_add(stored, url, (size_t)(auth - url));
	if (!http) {
		buf_add(stored, auth, (size_t)(user_end - auth));
		buf_putc(stored, '@');
	}
	buf_puts(stored, at + 1);
	return buf_ok(stored) ? 0 : -ERR_NOMEM;
}

static int
convert_error(struct err *err, int rc, const struct cb_state *st,
              const char *what, const char *url)
{
	const git_error *ge = git_error_last();
	char u[GITREPO_MAX_URL];
	int code;

	safe_url(u, sizeof(u), url);
	if (st && st->hostkey_refused)
		return err_set(err, st->hostkey_err.code, "%s '%s': %s", what,
		               u, st->hostkey_err.msg);
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

/*
 * known_hosts through libssh2's knownhost API, which reads OpenSSH's
 * format (plain and hashed |1|salt|hash names, comma lists, trailing
 * comments) and compares keys.  Around it, this code does what libssh2
 * 1.10 does not, each for a correctness reason:
 *
 *  - Lines are copied and NUL-terminated one at a time:
 *    libssh2_knownhost_readline() reads the byte after the length it is
 *    given, and stops at a NUL anyway.
 *  - Markers: libssh2 would take "@revoked" for a host name.  Revoked
 *    lines go to a collection of their own and refuse their key for every
 *    host (stricter than OpenSSH, which scopes them by host pattern, but
 *    the usual form is "@revoked * KEY" and libssh2 cannot match "*").
 *    @cert-authority lines are skipped: libgit2 over libssh2 never
 *    negotiates host certificates, so a CA cannot vouch for a host here.
 *  - The port: libssh2_knownhost_checkp() falls back to the bare host name
 *    when "[host]:port" is not listed, so a key recorded for port 22 would
 *    be accepted for another server on port 2222.  We build the name
 *    OpenSSH looks up ("host" for 22, "[host]:port" otherwise) and call
 *    libssh2_knownhost_check() with it, which hashes it for |1| lines.
 *  - The key type: the key is compared as a whole SSH blob (whose first
 *    field is its type name), so the check passes no type to libssh2; with
 *    a type, a host listed only with an RSA key would read as "unknown"
 *    instead of "does not match" when it presents an ed25519 key.
 *  - RSA1 lines (a number where the key type goes) are skipped, as
 *    OpenSSH >= 7.6 does; libssh2 would count them as a changed key.
 *  - Host names compare in lower case, as in OpenSSH: the name looked up
 *    and every plain name on a line (hashed ones are hashes of lower-case
 *    names already).
 *  - Short names: libssh2 1.10 takes a host field of one or two bytes
 *    ("db") for a hashed one and never matches it.  Plain names are
 *    therefore stored with a PLAIN_PREFIX ("h=db") in a collection of their
 *    own and looked up with it; hashed lines keep their field as it is.
 *  - A hashed name must decode to a 20-byte SHA-1 before libssh2 sees it:
 *    libssh2 1.10 leaks an HMAC context on every lookup that meets a hash
 *    of another length (found by tests/fuzz/fuzz_known_hosts.c).
 * Wildcard and negated patterns (*, ?, !) never match: libssh2 compares
 * names exactly.  That refuses a host rather than accepting one.
 */
#define PLAIN_PREFIX "h="

struct known_hosts {
	LIBSSH2_SESSION *session;   /* only for libssh2's allocator */
	LIBSSH2_KNOWNHOSTS *plain;  /* names stored as PLAIN_PREFIX name */
	LIBSSH2_KNOWNHOSTS *hashed; /* |1|salt|hash */
	LIBSSH2_KNOWNHOSTS *revoked;
	int unreadable; /* lines libssh2 (or we) could not read */
	int cert_authority;
};

static bool
is_blank(char c)
{
	return c == ' ' || c == '\t';
}

static void
ascii_lower(char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			s[i] = (char)(s[i] - 'A' + 'a');
}

/* Only the base64 alphabet: libssh2 skips other bytes when it decodes
 * and libsodium 1.0.18 takes some bytes >= 0x80 for letters, so the two
 * would disagree on the length. */
static bool
is_base64_text(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'A' && s[i] <= 'Z') ||
		      (s[i] >= 'a' && s[i] <= 'z') ||
		      (s[i] >= '0' && s[i] <= '9') || s[i] == '+' ||
		      s[i] == '/' || s[i] == '='))
			return false;
	return true;
}

/* Is s[0..n) "SALT|HASH", both base64, HASH 20 bytes?  tmp is scratch. */
static bool
hashed_name_ok(const char *s, size_t n, struct buf *tmp)
{
	const char *bar = memchr(s, '|', n);

	if (bar == NULL || bar == s || (size_t)(bar - s) > 30 ||
	    !is_base64_text(s, (size_t)(bar - s)) ||
	    !is_base64_text(bar + 1, n - (size_t)(bar - s) - 1))
		return false;
	buf_reset(tmp);
	if (base64_decode(tmp, s, (size_t)(bar - s), NULL) < 0)
		return false;
	buf_reset(tmp);
	return base64_decode(tmp, bar + 1, n - (size_t)(bar - s) - 1, NULL) ==
	               0 &&
	       tmp->len == 20;
}

/* Feeds one line (without its newline) to the collections. */
static void
known_hosts_line(struct known_hosts *kh, const char *p, size_t n,
                 struct buf *tmp)
{
	const char *end = p + n, *host, *hend, *rest;
	enum { PLAIN, REVOKED, CA } marker = PLAIN;
	LIBSSH2_KNOWNHOSTS *into = kh->hashed;

	if (n && end[-1] == '\r')
		end--;
	while (p < end && is_blank(*p))
		p++;
	if (p == end || *p == '#')
		return;
	if (n > GITREPO_KNOWN_HOSTS_MAX_LINE || memchr(p, '\0', end - p)) {
		kh->unreadable++;
		return;
	}
	if (*p == '@') {
		const char *m = p;
		while (p < end && !is_blank(*p))
			p++;
		if ((size_t)(p - m) == 8 && memcmp(m, "@revoked", 8) == 0)
			marker = REVOKED;
		else if ((size_t)(p - m) == 15 &&
		         memcmp(m, "@cert-authority", 15) == 0)
			marker = CA;
		else {
			kh->unreadable++;
			return;
		}
		while (p < end && is_blank(*p))
			p++;
	}
	host = p;
	while (p < end && !is_blank(*p))
		p++;
	hend = p;
	while (p < end && is_blank(*p))
		p++;
	rest = p;
	if (host == rest || rest == end || (*rest >= '0' && *rest <= '9')) {
		kh->unreadable++;
		return;
	}
	if (marker == CA) {
		kh->cert_authority++;
		return;
	}
	buf_reset(tmp);
	if (marker == REVOKED) {
		/* The host field does not count (see above). */
		buf_puts(tmp, "revoked ");
		into = kh->revoked;
	} else if (hend - host > 3 && memcmp(host, "|1|", 3) == 0) {
		if (!hashed_name_ok(host + 3, (size_t)(hend - host - 3), tmp)) {
			kh->unreadable++;
			return;
		}
		buf_reset(tmp);
		buf_add(tmp, host, (size_t)(rest - host));
	} else {
		/* name,name,... becomes h=name,h=name,... in lower case */
		into = kh->plain;
		for (const char *q = host; q < hend;) {
			const char *c = memchr(q, ',', (size_t)(hend - q));
			const char *e = c ? c : hend;
			if (q != host)
				buf_putc(tmp, ',');
			buf_puts(tmp, PLAIN_PREFIX);
			buf_add(tmp, q, (size_t)(e - q));
			q = c ? c + 1 : hend;
		}
		if (buf_ok(tmp))
			ascii_lower(tmp->ptr, tmp->len);
		buf_putc(tmp, ' ');
	}
	buf_add(tmp, rest, (size_t)(end - rest));
	if (!buf_ok(tmp) ||
	    libssh2_knownhost_readline(into, tmp->ptr, tmp->len,
	                               LIBSSH2_KNOWNHOST_FILE_OPENSSH) != 0)
		kh->unreadable++;
}

static void
known_hosts_release(struct known_hosts *kh)
{
	if (kh->plain)
		libssh2_knownhost_free(kh->plain);
	if (kh->hashed)
		libssh2_knownhost_free(kh->hashed);
	if (kh->revoked)
		libssh2_knownhost_free(kh->revoked);
	if (kh->session)
		libssh2_session_free(kh->session);
	memset(kh, 0, sizeof(*kh));
}

/* libssh2_knownhost_check() with a whole SSH key blob of any type. */
static int
known_hosts_lookup(LIBSSH2_KNOWNHOSTS *hosts, const char *name,
                   const unsigned char *key, size_t keylen)
{
	return libssh2_knownhost_check(hosts, name, (const char *)key, keylen,
	                               LIBSSH2_KNOWNHOST_TYPE_PLAIN |
	                                       LIBSSH2_KNOWNHOST_KEYENC_RAW,
	                               NULL);
}

int
gitrepo_known_hosts_check(const char *text, size_t len, const char *host,
                          int port, const unsigned char *key, size_t keylen,
                          struct err *err)
{
	struct known_hosts kh;
	struct buf name = BUF_INIT, tmp = BUF_INIT;
	const char *p = text, *end = text + len;
	const char *shown;
	char portarg[16] = "", unread[64] = "";
	int rc = 0, found;

	memset(&kh, 0, sizeof(kh));
	if (len > GITREPO_KNOWN_HOSTS_MAX)
		return err_set(err, ERR_INVALID,
		               "known_hosts is %zu bytes (limit %zu)", len,
		               (size_t)GITREPO_KNOWN_HOSTS_MAX);
	if (port <= 0 || port > 65535 || keylen == 0)
		return err_set(err, ERR_INVALID,
		               "known_hosts: bad port or empty host key");
	/* name is PLAIN_PREFIX + what OpenSSH looks up; shown is the latter */
	buf_puts(&name, PLAIN_PREFIX);
	if (port == 22)
		buf_puts(&name, host);
	else
		buf_addf(&name, "[%s]:%d", host, port);
	if (!buf_ok(&name)) {
		rc = err_set(err, ERR_NOMEM, "known_hosts: out of memory");
		goto out;
	}
	ascii_lower(name.ptr, name.len);
	shown = name.ptr + strlen(PLAIN_PREFIX);
	if ((kh.session = libssh2_session_init()) == NULL ||
	    (kh.plain = libssh2_knownhost_init(kh.session)) == NULL ||
	    (kh.hashed = libssh2_knownhost_init(kh.session)) == NULL ||
	    (kh.revoked = libssh2_knownhost_init(kh.session)) == NULL) {
		rc = err_set(err, ERR_NOMEM, "known_hosts: out of memory");
		goto out;
	}
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		known_hosts_line(&kh, p, n, &tmp);
		p += n + 1;
	}
	if (known_hosts_lookup(kh.revoked, "revoked", key, keylen) ==
	    LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		rc = err_set(
		        err, ERR_INVALID,
		        "the SSH host key of '%s' is marked @revoked in known_hosts (refused; the server needs a new host key, then list that one)",
		        shown);
		goto out;
	}
	found = known_hosts_lookup(kh.hashed, shown, key, keylen);
	if (found != LIBSSH2_KNOWNHOST_CHECK_MATCH) {
		int plain = known_hosts_lookup(kh.plain, name.ptr, key, keylen);
		if (plain == LIBSSH2_KNOWNHOST_CHECK_MATCH ||
		    found == LIBSSH2_KNOWNHOST_CHECK_NOTFOUND)
			found = plain;
	}
	switch (found) {
	case LIBSSH2_KNOWNHOST_CHECK_MATCH:
		break;
	case LIBSSH2_KNOWNHOST_CHECK_MISMATCH:
		rc = err_set(
		        err, ERR_INVALID,
		        "the SSH host key of '%s' does not match known_hosts (possible man-in-the-middle; check the host and update known_hosts)",
		        shown);
		break;
	case LIBSSH2_KNOWNHOST_CHECK_NOTFOUND:
		if (port != 22)
			snprintf(portarg, sizeof(portarg), "-p %d ", port);
		if (kh.unreadable)
			snprintf(unread, sizeof(unread),
			         "; %d known_hosts line(s) could not be read",
			         kh.unreadable);
		rc = err_set(
		        err, ERR_INVALID,
		        "the SSH host key of '%s' is not in known_hosts (add the 'known_hosts' key to the Secret, e.g. from 'ssh-keyscan %s%s')%s%s",
		        shown, portarg, host,
		        kh.cert_authority
		                ? "; @cert-authority lines are not supported: list the host's own key"
		                : "",
		        unread);
		break;
	default:
		rc = err_set(err, ERR_NOMEM, "known_hosts: out of memory");
		break;
	}
out:
	known_hosts_release(&kh);
	buf_release(&name);
	buf_release(&tmp);
	return rc;
}

static int
certificate_cb(git_cert *cert, int valid, const char *host, void *payload)
{
	struct cb_state *st = payload;
	git_cert_hostkey *hk;
	const char *known;

	if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2)
		return valid ? 0 : GIT_PASSTHROUGH;
	if (st->auth && st->auth->insecure_ignore_host_key)
		return 0;
	hk = (git_cert_hostkey *)cert;
	st->hostkey_refused = true;
	if (!(hk->type & GIT_CERT_SSH_RAW)) {
		err_set(&st->hostkey_err, ERR_INVALID,
		        "libgit2 did not pass the raw SSH host key, so it cannot be checked against known_hosts");
		return GIT_ECERTIFICATE;
	}
	known = st->auth && st->auth->known_hosts ? st->auth->known_hosts : "";
	if (gitrepo_known_hosts_check(known, strlen(known), host,
	                              (int)url_ssh_port(st->url),
	                              (const unsigned char *)hk->hostkey,
	                              hk->hostkey_len, &st->hostkey_err) < 0)
		return GIT_ECERTIFICATE;
	st->hostkey_refused = false;
	return 0;
}

static int
credentials_cb(git_credential **out, const char *url,
               const char *username_from_url, unsigned int allowed,
               void *payload)
{
	struct cb_state *st = payload;
	const struct gitrepo_auth *a = st->auth;
	const struct secret *url_user =
	        st->repo_url && st->repo_url->url_user.ptr
	                ? &st->repo_url->url_user
	                : NULL;
	const char *user;

	(void)url;
	/* libgit2 asks again after a refusal; one try per operation is
	 * enough to know the credentials are wrong. */
	if (st->cred_calls++ > 0)
		return GIT_EAUTH;
	user = username_from_url && *username_from_url
	               ? username_from_url
	               : (a && a->username
	                          ? a->username
	                          : (url_user ? (const char *)url_user->ptr
	                                      : "git"));
	if ((allowed & GIT_CREDENTIAL_USERNAME) && (a || url_user))
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
	/* The URL's userinfo counts only when the Secret has no password:
	 * a Secret is where credentials are meant to be, and it can be
	 * rotated without touching the URL. */
	if ((allowed & GIT_CREDENTIAL_USERPASS_PLAINTEXT) && url_user) {
		const struct secret *pw = &st->repo_url->url_password;
		return git_credential_userpass_plaintext_new(
		        out, (const char *)url_user->ptr,
		        pw->ptr ? (const char *)pw->ptr : "");
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
headers_init(struct headers *h, const struct gitrepo_auth *auth)
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

/*
 * The clone's lock: flock(2) on <clone dir>.lock, beside the clone so that
 * nothing in the work tree or .git can touch it.  flock locks belong to the
 * open file description, so a second open of the file excludes the first
 * one even in the same process, and the kernel drops the lock when the
 * holder dies, however it dies.  The lock file is never removed: removing
 * it would let a waiter lock a file the next opener no longer sees.
 */
static int
clone_lock(int *fd_out, const char *dir, struct err *err)
{
	struct buf path = BUF_INIT;
	int fd = -1, rc = 0;

	*fd_out = -1;
	buf_addf(&path, "%s.lock", dir);
	if (!buf_ok(&path))
		return err_set(err, ERR_NOMEM, "git: out of memory");
	fd = open(path.ptr, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
	if (fd < 0) {
		rc = err_set(err, ERR_INVALID, "git: cannot open '%s': %s",
		             path.ptr, strerror(errno));
		goto out;
	}
	while ((rc = flock(fd, LOCK_EX)) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		rc = err_set(err, ERR_INVALID, "git: cannot lock '%s': %s",
		             path.ptr, strerror(errno));
		close(fd);
		goto out;
	}
	*fd_out = fd;
out:
	buf_release(&path);
	return rc;
}

/*
 * Opens dir and takes a flock on it, the mark of a clone in progress, if
 * nobody holds one.  The fd, or -1.
 */
static int
dir_trylock(const char *dir)
{
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	int rc;

	if (fd < 0)
		return -1;
	while ((rc = flock(fd, LOCK_EX | LOCK_NB)) < 0 && errno == EINTR)
		;
	if (rc < 0) {
		close(fd);
		return -1;
	}
	return fd;
}

/*
 * Removes <clone dir>.tmp-* left by clones whose process died: a clone in
 * progress holds a flock on its directory (see gitrepo_open), so one that
 * can be locked is dead.  The caller holds the clone's lock, so no new one
 * can start meanwhile.
 */
static void
remove_dead_partial_clones(const char *dir)
{
	const char *slash = strrchr(dir, '/');
	struct buf parent = BUF_INIT, prefix = BUF_INIT, path = BUF_INIT;
	struct dirent *de;
	DIR *d = NULL;

	if (slash == NULL)
		return;
	buf_add(&parent, dir, (size_t)(slash - dir));
	buf_addf(&prefix, "%s.tmp-", slash + 1);
	if (!buf_ok(&parent) || !buf_ok(&prefix) ||
	    (d = opendir(parent.ptr)) == NULL)
		goto out;
	while ((de = readdir(d)) != NULL) {
		int fd;

		if (strncmp(de->d_name, prefix.ptr, prefix.len) != 0)
			continue;
		buf_reset(&path);
		buf_addf(&path, "%s/%s", parent.ptr, de->d_name);
		if (!buf_ok(&path) || (fd = dir_trylock(path.ptr)) < 0)
			continue; /* alive, or not a directory of ours */
		if (dir_remove_all(path.ptr, NULL) == 0)
			log_warn("git", "partial_clone_removed", "dir",
			         path.ptr, "reason",
			         "left by a process that died");
		else
			log_warn("git", "cleanup_failed", "dir", path.ptr);
		close(fd);
	}
out:
	if (d)
		closedir(d);
	buf_release(&parent);
	buf_release(&prefix);
	buf_release(&path);
}

/*
 * Removes the files in the directory path (and below it, down to depth
 * levels) whose name ends in suffix (or, with prefix, starts with it).
 * skip names a subdirectory of path itself not to walk.
 */
static void
remove_leftovers(struct buf *path, const char *prefix, const char *suffix,
                 int depth, const char *skip, const char *what)
{
	size_t base = path->len;
	struct dirent *de;
	DIR *d = opendir(path->ptr);

	if (d == NULL)
		return;
	while ((de = readdir(d)) != NULL) {
		size_t n = strlen(de->d_name);
		struct stat sb;

		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		buf_truncate(path, base);
		buf_addf(path, "/%s", de->d_name);
		if (!buf_ok(path) || lstat(path->ptr, &sb) < 0)
			continue;
		if (S_ISDIR(sb.st_mode)) {
			if (depth > 0 &&
			    !(skip && strcmp(de->d_name, skip) == 0))
				remove_leftovers(path, prefix, suffix,
				                 depth - 1, NULL, what);
			continue;
		}
		if (!S_ISREG(sb.st_mode))
			continue;
		if (prefix ? strncmp(de->d_name, prefix, strlen(prefix)) != 0
		           : !str_has_suffix(de->d_name, n, suffix))
			continue;
		if (unlink(path->ptr) == 0)
			log_warn("git", what, "file", path->ptr, "reason",
			         "left by a process that died");
		else
			log_warn_errno("git", "cleanup_failed", "file",
			               path->ptr);
	}
	buf_truncate(path, base);
	closedir(d);
}

/*
 * Removes what a process killed in the middle of a libgit2 call leaves in
 * the clone's .git, and that would make every later run fail: *.lock files
 * (index.lock, HEAD.lock, config.lock, packed-refs.lock, refs/...lock,
 * logs/...lock) and libgit2's temporary objects and packs.  Safe because
 * the caller holds the clone's lock: no other ferry is using the clone.
 */
static void
remove_stale_git_files(const char *dir)
{
	struct buf path = BUF_INIT;

	/* objects/ is not walked for locks: it is big, and git keeps none
	 * there; libgit2's temporaries sit at two known places in it. */
	buf_addf(&path, "%s/.git", dir);
	if (buf_ok(&path))
		remove_leftovers(&path, NULL, ".lock", 16, "objects",
		                 "stale_lock_removed");
	buf_puts(&path, "/objects");
	if (buf_ok(&path))
		remove_leftovers(&path, "tmp_object_git2_", NULL, 0, NULL,
		                 "stale_temp_removed");
	buf_puts(&path, "/pack");
	if (buf_ok(&path))
		remove_leftovers(&path, "pack_git2_", NULL, 0, NULL,
		                 "stale_temp_removed");
	buf_release(&path);
}

/*
 * Earlier versions kept the URL as given, password and all, in the clone's
 * .git/config; that clone sits under the hash of the whole URL.  Remove it
 * (a cache, cloned again under the new name) so the password goes too.
 */
static void
remove_clone_with_credentials(const char *state_dir, const char *url)
{
	struct buf old = BUF_INIT;
	struct stat sb;

	if (clone_dir(&old, state_dir, url) == 0 && lstat(old.ptr, &sb) == 0) {
		if (dir_remove_all(old.ptr, NULL) == 0)
			log_warn("git", "clone_with_password_removed", "dir",
			         old.ptr, "reason",
			         "it kept the URL's password in .git/config");
		else
			log_warn("git", "cleanup_failed", "dir", old.ptr);
	}
	buf_release(&old);
}

int
gitrepo_open(struct gitrepo **out, const char *state_dir, const char *url,
             const struct gitrepo_auth *auth, struct err *err)
{
	struct gitrepo *r = NULL;
	struct buf dir = BUF_INIT, tmp = BUF_INIT, aside = BUF_INIT;
	struct buf stored = BUF_INIT;
	git_clone_options copts;
	struct cb_state st;
	struct headers hdr;
	struct stat sb;
	int rc = 0, grc, tmp_fd = -1;

	*out = NULL;
	memset(&st, 0, sizeof(st));
	memset(&hdr, 0, sizeof(hdr));
	if (strlen(url) >= GITREPO_MAX_URL || *url == '\0')
		return err_set(err, ERR_INVALID,
		               "git: URL is empty or too long");
	r = calloc(1, sizeof(*r));
	if (r == NULL) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	r->lock_fd = -1;
	if (url_split_credentials(&stored, &r->url_user, &r->url_password,
	                          url) < 0 ||
	    (r->url = strdup(stored.ptr)) == NULL ||
	    clone_dir(&dir, state_dir, r->url) < 0) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
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
	/* Held until gitrepo_free: one user of the clone at a time. */
	if ((rc = clone_lock(&r->lock_fd, dir.ptr, err)) < 0)
		goto out;
	remove_dead_partial_clones(dir.ptr);
	if (strcmp(url, r->url) != 0)
		remove_clone_with_credentials(state_dir, url);
	if (stat(dir.ptr, &sb) == 0) {
		remove_stale_git_files(dir.ptr);
		if (git_repository_open(&r->repo, dir.ptr) == 0 &&
		    cached_clone_usable(r->repo, r->url))
			goto opened;
		/* A clone we cannot use (interrupted, or a hash collision
		 * with another URL): keep it for inspection, clone anew. */
		git_repository_free(r->repo);
		r->repo = NULL;
		buf_addf(&aside, "%s.broken-%ld-%08x", dir.ptr,
		         (long)time(NULL), (unsigned)randombytes_random());
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
	/*
	 * Clone to a temporary name and rename, so an interrupted clone
	 * never looks like a cached one.  The name is unique per call
	 * (mkdtemp), not per process, and the directory is flocked while
	 * the clone runs, so that remove_dead_partial_clones() can tell a
	 * live clone from one whose process died.
	 */
	buf_reset(&tmp);
	buf_addf(&tmp, "%s.tmp-XXXXXX", dir.ptr);
	if ((rc = headers_init(&hdr, auth)) < 0 || !buf_ok(&tmp)) {
		rc = err_set(err, ERR_NOMEM, "git: out of memory");
		goto out;
	}
	if (mkdtemp(tmp.ptr) == NULL || (tmp_fd = dir_trylock(tmp.ptr)) < 0) {
		rc = err_set(err, ERR_INVALID,
		             "git: cannot create a directory next to '%s': %s",
		             dir.ptr, strerror(errno));
		goto out;
	}
	git_clone_options_init(&copts, GIT_CLONE_OPTIONS_VERSION);
	copts.checkout_opts.checkout_strategy = GIT_CHECKOUT_NONE;
	st.auth = auth;
	st.repo_url = r;
	st.url = r->url;
	set_callbacks(&copts.fetch_opts.callbacks, &st);
	copts.fetch_opts.custom_headers = hdr.arr;
	grc = git_clone(&r->repo, r->url, tmp.ptr, &copts);
	if (grc < 0) {
		rc = convert_error(err, grc, &st, "git clone", r->url);
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
		rc = convert_error(err, grc, NULL, "git open", r->url);
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
	if (tmp_fd >= 0)
		close(tmp_fd);
	headers_release(&hdr);
	buf_release(&dir);
	buf_release(&tmp);
	buf_release(&aside);
	secret_wipe(stored.ptr, stored.len);
	buf_release(&stored);
	gitrepo_free(r);
	return rc;
}

void
gitrepo_free(struct gitrepo *repo)
{
	if (repo == NULL)
		return;
	git_repository_free(repo->repo);
	/* Last: the lock covers everything done through repo->repo. */
	if (repo->lock_fd >= 0)
		close(repo->lock_fd);
	free(repo->url);
	free(repo->workdir);
	secret_release(&repo->url_user);
	secret_release(&repo->url_password);
	free(repo);
}

const char *
gitrepo_workdir(const struct gitrepo *repo)
{
	return repo->workdir;
}

static int
fetch(struct gitrepo *r, const struct gitrepo_ref *ref,
      const struct gitrepo_auth *auth, struct err *err)
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
	st.repo_url = r;
	st.url = r->url;
	set_callbacks(&fopts.callbacks, &st);
	fopts.custom_headers = hdr.arr;
	fopts.prune = GIT_FETCH_PRUNE;
	fopts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_ALL;
	if (ref->kind == GITREPO_REF_NAME) {
		/* An arbitrary ref is fetched on its own, plus the branches. */
		buf_addf(&spec, "+%s:" GITREPO_FETCHED_REF, ref->value);
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
resolve(struct gitrepo *r, const struct gitrepo_ref *ref, git_oid *oid,
        struct err *err)
{
	struct buf name = BUF_INIT;
	git_object *obj = NULL;
	char u[GITREPO_MAX_URL];
	int rc = 0;

	safe_url(u, sizeof(u), r->url);
	switch (ref->kind) {
	case GITREPO_REF_BRANCH:
		buf_addf(&name, "refs/remotes/origin/%s", ref->value);
		break;
	case GITREPO_REF_TAG:
		buf_addf(&name, "refs/tags/%s", ref->value);
		break;
	case GITREPO_REF_NAME:
		buf_puts(&name, GITREPO_FETCHED_REF);
		break;
	case GITREPO_REF_COMMIT:
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
		rc = err_set(
		        err, ERR_NOTFOUND,
		        "git '%s': %s '%s' does not exist on the remote", u,
		        ref->kind == GITREPO_REF_TAG ? "tag" : "branch or ref",
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

bool
gitrepo_branch_name_valid(const char *name, size_t len)
{
	char ref[512];
	int valid = 0;

	if (len == 0 || name[0] == '-' || memchr(name, '\0', len) ||
	    (len == 1 && name[0] == '@') ||
	    (len == 4 && memcmp(name, "HEAD", 4) == 0))
		return false;
	if (len > sizeof(ref) - sizeof("refs/heads/"))
		return false;
	snprintf(ref, sizeof(ref), "refs/heads/%.*s", (int)len, name);
	return git_reference_name_is_valid(&valid, ref) == 0 && valid;
}

int
gitrepo_default_branch(struct gitrepo *r, struct buf *out, struct err *err)
{
	static const char prefix[] = "refs/remotes/origin/";
	git_reference *ref = NULL;
	const char *target;
	int rc = 0;

	if (git_reference_lookup(&ref, r->repo, "refs/remotes/origin/HEAD") <
	            0 ||
	    git_reference_type(ref) != GIT_REFERENCE_SYMBOLIC ||
	    (target = git_reference_symbolic_target(ref)) == NULL ||
	    strncmp(target, prefix, sizeof(prefix) - 1) != 0 ||
	    target[sizeof(prefix) - 1] == '\0') {
		char u[GITREPO_MAX_URL];

		safe_url(u, sizeof(u), r->url);
		rc = err_set(err, ERR_NOTFOUND,
		             "git '%s': the remote's default branch is not "
		             "known; name the branch instead of HEAD",
		             u);
	} else if (buf_puts(out, target + sizeof(prefix) - 1) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	git_reference_free(ref);
	return rc;
}

int
gitrepo_fetch(struct gitrepo *r, const struct gitrepo_auth *auth,
              struct err *err)
{
	struct gitrepo_ref all = { GITREPO_REF_BRANCH, NULL };

	return fetch(r, &all, auth, err);
}

int
gitrepo_fetch_ref(struct gitrepo *r, const struct gitrepo_ref *ref,
                  const struct gitrepo_auth *auth, char commit_out[41],
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
gitrepo_sync(struct gitrepo *r, const struct gitrepo_ref *ref,
             const struct gitrepo_auth *auth, char commit_out[41],
             struct err *err)
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
gitrepo_commit(struct gitrepo *r, const struct gitrepo_commit_opts *opts,
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

	if (status && st->push_status[0] == '\0') {
		snprintf(st->push_status, sizeof(st->push_status), "%s: %s",
		         refname, status);
		snprintf(st->push_ref, sizeof(st->push_ref), "%s", refname);
	}
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

/*
 * Pushes to local remotes (file:// URLs and paths).
 *
 * libgit2's local transport writes the remote's ref with
 * git_reference_create(force) without comparing its old value: between
 * its look at the remote's refs and that write, another writer's push
 * (a git CLI, a second ferry) is overwritten and lost, though it was
 * reported as pushed.  So for local remotes ferry does the push itself:
 * it writes the missing objects as a pack into the remote's object store,
 * then moves each ref with git_reference_create_matching() under the old
 * value ferry fetched, which libgit2 compares after taking the ref's lock
 * file, the same refs/heads/NAME.lock git's receive-pack takes.  A moved
 * ref or a held lock is -ERR_CONFLICT: the caller fetches, re-applies and
 * retries.  receive.denyNonFastForwards is honoured, as receive-pack does.
 *
 * Rejected: running `git receive-pack` over a pipe as a smart transport.
 * It would bring every receive.* setting and the remote's hooks, but needs
 * the git program at run time and a fork/exec per push from a threaded
 * daemon, and git refuses repositories owned by another user unless
 * safe.directory says so.  Measured (release build, a 2-core VM shared
 * with other work, load 7-10; 100-200 pushes of a one-file commit to a
 * bare repository of 300 commits, three runs): this code 8.5-16 ms a
 * push, libgit2's local transport 7.9-20 ms (no difference in the
 * noise), `git push` (which runs receive-pack) 54-82 ms.  Hooks did not
 * run with libgit2's local transport either.  Like that transport, each
 * push adds one pack to the remote (git's receive-pack would unpack small
 * pushes into loose objects); `git gc` there folds them together.
 */
struct push_update {
	struct buf dst;      /* full ref name on the remote */
	struct buf tracking; /* refs/remotes/origin/X for refs/heads/X */
	git_oid new_id;
	git_oid old_id; /* what the remote must still hold; zero: nothing */
	bool force;
};

/* The directory of a local remote, or false when url is not local
 * (libgit2's rule: a file:// URL, or a path to a directory). */
static bool
local_remote_path(struct buf *out, const char *url)
{
	struct stat sb;
	const char *p;

	if (strncmp(url, "file://", 7) != 0) {
		if (strstr(url, "://") || stat(url, &sb) < 0 ||
		    !S_ISDIR(sb.st_mode))
			return false;
		buf_puts(out, url);
		return true;
	}
	p = url + 7;
	if (strncmp(p, "localhost/", 10) == 0)
		p += 9;
	/* percent-decoding, as libgit2 does for file:// URLs */
	for (; *p; p++) {
		int hi, lo;
		if (*p == '%' && (hi = hex_digit(p[1])) >= 0 &&
		    (lo = hex_digit(p[2])) >= 0) {
			buf_putc(out, (char)(hi << 4 | lo));
			p += 2;
		} else {
			buf_putc(out, *p);
		}
	}
	return true;
}

static void
push_update_release(struct push_update *up)
{
	buf_release(&up->dst);
	buf_release(&up->tracking);
}

static void
push_update_clear(struct push_update *up)
{
	memset(up, 0, sizeof(*up));
	up->dst = (struct buf)BUF_INIT;
	up->tracking = (struct buf)BUF_INIT;
}

/* Sets up (cleared) for a push of local object id to the remote ref
 * dst, expecting there what the last fetch saw. */
static int
push_update_set(struct push_update *up, git_repository *repo, const git_oid *id,
                const char *dst, bool force, struct err *err)
{
	git_oid_cpy(&up->new_id, id);
	up->force = force;
	if (strncmp(dst, "refs/", 5) != 0)
		return err_set(err, ERR_INVALID,
		               "git push: '%s' is not a full ref name", dst);
	buf_puts(&up->dst, dst);
	if (strncmp(dst, "refs/heads/", 11) == 0) {
		buf_addf(&up->tracking, "refs/remotes/origin/%s", dst + 11);
		if (buf_ok(&up->tracking) &&
		    git_reference_name_to_id(&up->old_id, repo,
		                             up->tracking.ptr) < 0)
			memset(&up->old_id, 0, sizeof(up->old_id));
	}
	return buf_ok(&up->dst) && buf_ok(&up->tracking)
	               ? 0
	               : err_set(err, ERR_NOMEM, "git: out of memory");
}

/* Sets up (cleared) for the refspec (src resolved in the clone). */
static int
push_update_from_refspec(struct push_update *up, git_repository *repo,
                         const char *spec, struct err *err)
{
	git_refspec *rs = NULL;
	git_object *obj = NULL;
	int rc;

	if (git_refspec_parse(&rs, spec, 0) < 0)
		return err_set(err, ERR_INVALID, "git push: bad refspec '%s'",
		               spec);
	if (*git_refspec_src(rs) == '\0') {
		rc = err_set(
		        err, ERR_INVALID,
		        "git push: refspec '%s' deletes a ref; ferry does not delete refs",
		        spec);
	} else if (git_revparse_single(&obj, repo, git_refspec_src(rs)) < 0) {
		rc = err_set(err, ERR_NOTFOUND,
		             "git push: '%s' (refspec '%s') does not exist",
		             git_refspec_src(rs), spec);
	} else {
		rc = push_update_set(up, repo, git_object_id(obj),
		                     git_refspec_dst(rs), git_refspec_force(rs),
		                     err);
	}
	git_object_free(obj);
	git_refspec_free(rs);
	return rc;
}

/* Hides from walk every commit a ref of the remote holds that the clone
 * has: the remote has those commits and all they reach. */
static void
hide_remote_refs(git_revwalk *walk, git_repository *local,
                 git_repository *remote)
{
	git_reference_iterator *it = NULL;
	git_reference *ref;

	if (git_reference_iterator_new(&it, remote) < 0)
		return;
	while (git_reference_next(&ref, it) == 0) {
		const git_oid *id = git_reference_target(ref);
		git_object *obj = NULL, *commit = NULL;

		if (id &&
		    git_object_lookup(&obj, local, id, GIT_OBJECT_ANY) == 0 &&
		    git_object_peel(&commit, obj, GIT_OBJECT_COMMIT) == 0)
			git_revwalk_hide(walk, git_object_id(commit));
		git_object_free(commit);
		git_object_free(obj);
		git_reference_free(ref);
	}
	git_reference_iterator_free(it);
}

/* Writes what the remote lacks of the updates' objects into its object
 * store, as one pack. */
static int
send_objects(git_repository *local, git_repository *remote,
             const struct push_update *ups, size_t n, struct err *err)
{
	git_packbuilder *pb = NULL;
	git_revwalk *walk = NULL;
	git_buf objects = { NULL, 0, 0 };
	struct buf dir = BUF_INIT;
	size_t i;
	int grc;

	if ((grc = git_packbuilder_new(&pb, local)) < 0 ||
	    (grc = git_revwalk_new(&walk, local)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		git_object *obj = NULL, *commit = NULL;
		if ((grc = git_object_lookup(&obj, local, &ups[i].new_id,
		                             GIT_OBJECT_ANY)) < 0)
			goto out;
		/* An annotated tag goes along with the commit it names. */
		if (git_object_type(obj) == GIT_OBJECT_TAG)
			grc = git_packbuilder_insert(pb, git_object_id(obj),
			                             NULL);
		if (grc >= 0 && (grc = git_object_peel(&commit, obj,
		                                       GIT_OBJECT_COMMIT)) >= 0)
			grc = git_revwalk_push(walk, git_object_id(commit));
		git_object_free(commit);
		git_object_free(obj);
		if (grc < 0)
			goto out;
	}
	hide_remote_refs(walk, local, remote);
	if ((grc = git_packbuilder_insert_walk(pb, walk)) < 0)
		goto out;
	if (git_packbuilder_object_count(pb) == 0)
		goto out;
	if ((grc = git_repository_item_path(&objects, remote,
	                                    GIT_REPOSITORY_ITEM_OBJECTS)) < 0)
		goto out;
	buf_addf(&dir, "%spack", objects.ptr);
	if (!buf_ok(&dir)) {
		git_packbuilder_free(pb);
		git_revwalk_free(walk);
		git_buf_dispose(&objects);
		return err_set(err, ERR_NOMEM, "git: out of memory");
	}
	grc = git_packbuilder_write(pb, dir.ptr, 0, NULL, NULL);
out:
	git_packbuilder_free(pb);
	git_revwalk_free(walk);
	git_buf_dispose(&objects);
	buf_release(&dir);
	if (grc < 0) {
		const git_error *ge = git_error_last();
		return err_set(err, ERR_TRANSIENT,
		               "git push: sending objects failed: %s",
		               ge ? ge->message : "unknown");
	}
	return 0;
}

/* Is new_id old_id or a descendant of it (or is there no old value)? */
static bool
fast_forward(git_repository *repo, const git_oid *old_id, const git_oid *new_id)
{
	return git_oid_is_zero(old_id) || git_oid_equal(old_id, new_id) ||
	       git_graph_descendant_of(repo, new_id, old_id) == 1;
}

static int
push_local(struct gitrepo *r, const char *path, struct push_update *ups,
           size_t n, struct err *err)
{
	git_repository *remote = NULL;
	git_config *cfg = NULL;
	char u[GITREPO_MAX_URL];
	int deny_nff = 0, rc = 0, grc;
	size_t i;

	safe_url(u, sizeof(u), r->url);
	if ((grc = git_repository_open_ext(
	             &remote, path, GIT_REPOSITORY_OPEN_NO_SEARCH, NULL)) < 0) {
		rc = convert_error(err, grc, NULL, "git push", r->url);
		goto out;
	}
	if (!git_repository_is_bare(remote)) {
		/* as libgit2's local transport: its checked-out branch would
		 * no longer match its work tree */
		rc = err_set(
		        err, ERR_INVALID,
		        "git push '%s': the remote is not a bare repository (pushing to a local work tree is not supported)",
		        u);
		goto out;
	}
	if (git_repository_config_snapshot(&cfg, remote) == 0 &&
	    git_config_get_bool(&deny_nff, cfg, "receive.denyNonFastForwards") <
	            0)
		deny_nff = 0;
	for (i = 0; i < n; i++) {
		git_oid now;
		if (git_reference_name_to_id(&now, remote, ups[i].dst.ptr) < 0)
			memset(&now, 0, sizeof(now));
		/* Without a tracking ref (tags, other namespaces) the value
		 * read now is the one the update must find. */
		if (ups[i].tracking.len == 0)
			git_oid_cpy(&ups[i].old_id, &now);
		if (!git_oid_equal(&now, &ups[i].old_id)) {
			rc = err_set(
			        err, ERR_CONFLICT,
			        "git push '%s': '%s' moved on the remote since the last fetch",
			        u, ups[i].dst.ptr);
			goto out;
		}
		if (fast_forward(r->repo, &ups[i].old_id, &ups[i].new_id))
			continue;
		if (!ups[i].force) {
			rc = err_set(
			        err, ERR_CONFLICT,
			        "git push '%s': '%s' rejected as non-fast-forward (the branch moved on the remote)",
			        u, ups[i].dst.ptr);
			goto out;
		}
		if (deny_nff &&
		    strncmp(ups[i].dst.ptr, "refs/heads/", 11) == 0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "git push '%s': the remote denies non-fast-forward updates of '%s' (receive.denyNonFastForwards), so ferry cannot rebuild that branch; allow them there or push to another branch",
			        u, ups[i].dst.ptr);
			goto out;
		}
	}
	if ((rc = send_objects(r->repo, remote, ups, n, err)) < 0)
		goto out;
	for (i = 0; i < n; i++) {
		git_reference *ref = NULL;
		grc = git_reference_create_matching(
		        &ref, remote, ups[i].dst.ptr, &ups[i].new_id, 1,
		        &ups[i].old_id, "push");
		git_reference_free(ref);
		if (grc == GIT_EMODIFIED || grc == GIT_ELOCKED ||
		    grc == GIT_EEXISTS) {
			/* Another writer got there first, or holds the
			 * ref's lock file right now. */
			const git_error *ge = git_error_last();
			rc = err_set(
			        err, ERR_CONFLICT,
			        "git push '%s': '%s' changed on the remote during the push: %s",
			        u, ups[i].dst.ptr, ge ? ge->message : "locked");
			goto out;
		}
		if (grc < 0) {
			rc = convert_error(err, grc, NULL, "git push", r->url);
			goto out;
		}
		/* What a fetch would now say, as git push records it. */
		if (ups[i].tracking.len &&
		    git_reference_create(&ref, r->repo, ups[i].tracking.ptr,
		                         &ups[i].new_id, 1, "ferry: push") == 0)
			git_reference_free(ref);
	}
out:
	git_config_free(cfg);
	git_repository_free(remote);
	return rc;
}

/*
 * Over smart transports the remote (receive-pack) compares each ref's old
 * value under its lock, but the old value libgit2 sends is the one the
 * remote advertised when the push connected.  For branches, insist that it
 * is the one ferry fetched, so that a forced push (to a branch ferry
 * rebuilds) is a push "with lease" and never overwrites a commit ferry did
 * not see.
 */
static int
push_negotiation_cb(const git_push_update **updates, size_t len, void *payload)
{
	struct cb_state *st = payload;
	struct buf tracking = BUF_INIT;
	git_oid fetched;
	size_t i;
	int rc = 0;

	for (i = 0; i < len && rc == 0; i++) {
		const git_push_update *u = updates[i];
		if (strncmp(u->dst_refname, "refs/heads/", 11) != 0)
			continue;
		buf_reset(&tracking);
		buf_addf(&tracking, "refs/remotes/origin/%s",
		         u->dst_refname + 11);
		if (!buf_ok(&tracking) ||
		    git_reference_name_to_id(&fetched, st->repo, tracking.ptr) <
		            0)
			memset(&fetched, 0, sizeof(fetched));
		if (!git_oid_equal(&fetched, &u->src)) {
			snprintf(st->moved, sizeof(st->moved), "%s",
			         u->dst_refname);
			rc = GIT_EUSER;
		}
	}
	buf_release(&tracking);
	return rc;
}

int
gitrepo_push(struct gitrepo *r, const struct gitrepo_push_opts *opts,
             const struct gitrepo_auth *auth, struct err *err)
{
	git_remote *remote = NULL;
	git_reference *ref = NULL;
	git_push_options popts;
	git_oid head;
	struct cb_state st;
	struct headers hdr;
	struct buf local = BUF_INIT, spec = BUF_INIT, path = BUF_INIT;
	struct push_update ups[2];
	size_t n = 0;
	char *specs[2];
	git_strarray refspecs;
	char u[GITREPO_MAX_URL];
	int rc = 0, grc;

	memset(&st, 0, sizeof(st));
	push_update_clear(&ups[0]);
	push_update_clear(&ups[1]);
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
	if (local_remote_path(&path, r->url)) {
		if (!buf_ok(&path) ||
		    (rc = push_update_set(&ups[n++], r->repo, &head, local.ptr,
		                          opts->force, err)) < 0 ||
		    (opts->refspec && *opts->refspec &&
		     (rc = push_update_from_refspec(&ups[n++], r->repo,
		                                    opts->refspec, err)) < 0)) {
			if (rc == 0)
				rc = err_set(err, ERR_NOMEM,
				             "git: out of memory");
			goto out;
		}
		/* A refspec naming the push branch again would make the
		 * second update expect the value the first one replaced. */
		if (n == 2 && strcmp(ups[0].dst.ptr, ups[1].dst.ptr) == 0) {
			if (!git_oid_equal(&ups[0].new_id, &ups[1].new_id)) {
				rc = err_set(
				        err, ERR_INVALID,
				        "git push '%s': refspec '%s' sends another commit to '%s', the push branch",
				        u, opts->refspec, ups[0].dst.ptr);
				goto out;
			}
			n = 1;
		}
		rc = push_local(r, path.ptr, ups, n, err);
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
	st.repo_url = r;
	st.url = r->url;
	set_callbacks(&popts.callbacks, &st);
	popts.callbacks.push_update_reference = push_update_cb;
	popts.callbacks.push_negotiation = push_negotiation_cb;
	st.repo = r->repo;
	popts.custom_headers = hdr.arr;
	grc = git_remote_push(remote, &refspecs, &popts);
	if (grc < 0 && st.moved[0]) {
		rc = err_set(
		        err, ERR_CONFLICT,
		        "git push '%s': '%s' moved on the remote since the last fetch",
		        u, st.moved);
		goto out;
	}
	if (grc < 0) {
		rc = convert_error(err, grc, &st, "git push", r->url);
		goto out;
	}
	if (st.push_status[0] && opts->force &&
	    strstr(st.push_status, "non-fast-forward")) {
		/* A forced update refused as non-fast-forward: the remote
		 * denies those outright; retrying cannot help. */
		rc = err_set(
		        err, ERR_INVALID,
		        "git push '%s': the remote denies non-fast-forward updates of '%s' (receive.denyNonFastForwards), so ferry cannot rebuild that branch; allow them there or push to another branch",
		        u, st.push_ref);
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
	buf_release(&path);
	push_update_release(&ups[0]);
	push_update_release(&ups[1]);
	git_reference_free(ref);
	git_remote_free(remote);
	return rc;
}
