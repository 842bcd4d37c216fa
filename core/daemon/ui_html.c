/*
 * ui_html.c - the status page's escaping and the small pieces of text it
 * derives from the configuration: a policy in words, a commit's page on
 * its forge, spans of time.  Everything a registry, a Git remote or a
 * configuration says is attacker-controlled text here (a registry's error
 * message, a commit message, a tag): it reaches the page through the two
 * escaping functions and nothing else.  No markup is written here.
 */
#include "ui_int.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/err.h"
#include "base/rfc3339.h"
#include "base/utf8.h"

/* The bytes copied as they are: printable ASCII without the special
 * ones, which the callers handle. */
static bool
plain(unsigned char c, bool attr)
{
	if (c < 0x20 || c >= 0x7f)
		return c == '\t' || c == '\n';
	if (c == '&' || c == '<' || c == '>')
		return false;
	return !(attr && (c == '"' || c == '\''));
}

static int
escape(struct buf *out, const char *s, bool attr)
{
	size_t len, i = 0;

	if (s == NULL)
		return buf_ok(out) ? 0 : -ERR_NOMEM;
	len = strlen(s);
	while (i < len) {
		size_t run = i, size = 1;
		int32_t r;
		/* Runs of plain bytes in one append: most text is ASCII. */
		while (run < len && plain((unsigned char)s[run], attr))
			run++;
		if (run > i) {
			buf_add(out, s + i, run - i);
			i = run;
			continue;
		}
		switch (s[i]) {
		case '&':
			buf_puts(out, "&amp;");
			break;
		case '<':
			buf_puts(out, "&lt;");
			break;
		case '>':
			buf_puts(out, "&gt;");
			break;
		case '"':
			buf_puts(out, "&quot;");
			break;
		case '\'':
			buf_puts(out, "&#39;");
			break;
		default:
			r = utf8_decode(s + i, len - i, &size);
			/* C0 controls, DEL and C1 controls do not belong in a
			 * page; neither do bytes that are not UTF-8. */
			if (r == UTF8_INVALID || r < 0x20 ||
			    (r >= 0x7f && r < 0xa0))
				buf_puts(out, "\xef\xbf\xbd");
			else
				buf_add(out, s + i, size);
			break;
		}
		i += size;
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
ui_html_text(struct buf *out, const char *s)
{
	return escape(out, s, false);
}

int
ui_html_attr(struct buf *out, const char *s)
{
	return escape(out, s, true);
}

int
ui_url_segment(struct buf *out, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; s && *s; s++) {
		unsigned char c = (unsigned char)*s;
		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		    c == '_' || c == '~') {
			buf_putc(out, (char)c);
		} else {
			buf_putc(out, '%');
			buf_putc(out, hex[c >> 4]);
			buf_putc(out, hex[c & 15]);
		}
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
ui_policy_words(struct buf *out, const struct config_imagepolicy *p)
{
	const char *order;

	if (p->policy.semver.range) {
		buf_addf(out, "semver %s", p->policy.semver.range);
	} else {
		bool alpha = p->policy.alphabetical.pos.set;
		order = alpha ? p->policy.alphabetical.order
		              : p->policy.numerical.order;
		/* asc picks the tag that sorts last; desc the first. */
		buf_addf(out, "%s, %s", alpha ? "alphabetical" : "numerical",
		         order && strcmp(order, "desc") == 0
		                 ? "descending (the first wins)"
		                 : "ascending (the last wins)");
	}
	if (p->filter_tags.pattern)
		buf_addf(out, ", tags matching %s", p->filter_tags.pattern);
	if (p->filter_tags.pattern && p->filter_tags.extract)
		buf_addf(out, ", compared by %s", p->filter_tags.extract);
	if (p->digest_reflection_policy &&
	    strcmp(p->digest_reflection_policy, "Never") != 0)
		buf_addf(out, ", digest pinned (%s)",
		         p->digest_reflection_policy);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* A forge path: owner/repo (GitLab: group/sub/repo), segments of
 * A-Z a-z 0-9 - . _ ~ that are not "." or "..". */
static bool
safe_path(const char *p, size_t n)
{
	size_t i = 0, segments = 0;

	while (i < n) {
		size_t k = i;
		while (k < n && p[k] != '/') {
			unsigned char c = (unsigned char)p[k];
			if (!((c >= 'A' && c <= 'Z') ||
			      (c >= 'a' && c <= 'z') ||
			      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
			      c == '_' || c == '~'))
				return false;
			k++;
		}
		if (k == i || (k - i == 1 && p[i] == '.') ||
		    (k - i == 2 && p[i] == '.' && p[i + 1] == '.'))
			return false;
		segments++;
		i = k + 1;
		if (k + 1 == n) /* a trailing '/' */
			return false;
	}
	return segments >= 2;
}

static bool
safe_host(const char *h, size_t n)
{
	if (n == 0 || n > 253)
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)h[i];
		if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == ':'))
			return false;
	}
	return true;
}

static bool
host_has(const char *h, size_t n, const char *word)
{
	size_t w = strlen(word);

	for (size_t i = 0; i + w <= n; i++)
		if (strncasecmp(h + i, word, w) == 0)
			return true;
	return false;
}

enum forge { FORGE_NONE, FORGE_GITHUB, FORGE_GITLAB, FORGE_GITEA, FORGE_BB };

static enum forge
forge_of(const char *h, size_t n)
{
	/* The name without a port. */
	const char *colon = memchr(h, ':', n);
	size_t hn = colon ? (size_t)(colon - h) : n;

	if (hn == 13 && strncasecmp(h, "bitbucket.org", 13) == 0)
		return FORGE_BB;
	if (host_has(h, hn, "github"))
		return FORGE_GITHUB;
	if (host_has(h, hn, "gitlab"))
		return FORGE_GITLAB;
	if (host_has(h, hn, "gitea") || host_has(h, hn, "forgejo") ||
	    (hn == 12 && strncasecmp(h, "codeberg.org", 12) == 0))
		return FORGE_GITEA;
	return FORGE_NONE;
}

int
ui_commit_url(struct buf *out, const char *remote, const char *sha)
{
	const char *p = remote, *host, *path, *slash, *at;
	size_t hn, pn, sn = sha ? strlen(sha) : 0;
	bool web = false; /* http(s): the port is the web server's too */
	enum forge f;

	if (remote == NULL || sn < 7 || sn > 64 ||
	    strspn(sha, "0123456789abcdef") != sn)
		return -ERR_NOTFOUND;
	if (strncmp(p, "https://", 8) == 0 || strncmp(p, "http://", 7) == 0) {
		p = strstr(p, "://") + 3;
		web = true;
	} else if (strncmp(p, "ssh://", 6) == 0 ||
	           strncmp(p, "git://", 6) == 0) {
		p += 6;
	} else if (strstr(p, "://") != NULL) {
		return -ERR_NOTFOUND;
	}
	/* [user[:password]@]host[:port]/path, or scp-like user@host:path */
	slash = strchr(p, '/');
	at = strchr(p, '@');
	if (at && (slash == NULL || at < slash))
		p = at + 1;
	host = p;
	if (!web && strstr(remote, "://") == NULL) {
		const char *colon = strchr(p, ':');
		if (colon == NULL)
			return -ERR_NOTFOUND;
		hn = (size_t)(colon - p);
		path = colon + 1;
	} else {
		slash = strchr(p, '/');
		if (slash == NULL)
			return -ERR_NOTFOUND;
		hn = (size_t)(slash - p);
		path = slash + 1;
		if (!web) {
			const char *colon = memchr(p, ':', hn);
			if (colon)
				hn = (size_t)(colon - p);
		}
	}
	pn = strlen(path);
	while (pn > 0 && path[pn - 1] == '/')
		pn--;
	if (pn > 4 && strncmp(path + pn - 4, ".git", 4) == 0)
		pn -= 4;
	if (!safe_host(host, hn) || !safe_path(path, pn))
		return -ERR_NOTFOUND;
	if ((f = forge_of(host, hn)) == FORGE_NONE)
		return -ERR_NOTFOUND;
	buf_puts(out, "https://");
	buf_add(out, host, hn);
	buf_putc(out, '/');
	buf_add(out, path, pn);
	buf_puts(out, f == FORGE_GITLAB ? "/-/commit/"
	              : f == FORGE_BB   ? "/commits/"
	                                : "/commit/");
	buf_puts(out, sha);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

void
ui_span(char out[32], int64_t s)
{
	if (s < 0)
		s = 0;
	if (s < 120)
		snprintf(out, 32, "%llds", (long long)s);
	else if (s < 7200)
		snprintf(out, 32, "%lldm", (long long)(s / 60));
	else if (s < 172800)
		snprintf(out, 32, "%lldh", (long long)(s / 3600));
	else
		snprintf(out, 32, "%lldd", (long long)(s / 86400));
}

int64_t
ui_time_parse(const char *s)
{
	struct err e = ERR_INIT;
	int64_t sec = 0;

	if (s == NULL || rfc3339_parse(&sec, NULL, s, strlen(s), &e) < 0)
		return -1;
	return sec;
}
