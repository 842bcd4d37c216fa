/*
 * reference.c - parses image references ("nginx", "ghcr.io/o/r:1.0",
 * "host:5000/a/b@sha256:...") into domain, path, tag and digest, with the
 * normalisation Docker applies.  It only parses: it does not resolve hosts
 * or look at credentials.
 */
#include "reference.h"

#include <stdlib.h>
#include <string.h>

static bool
is_lower_alnum(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9');
}

static bool
is_alnum(char c)
{
	return is_lower_alnum(c) || (c >= 'A' && c <= 'Z');
}

static bool
is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
	       (c >= 'A' && c <= 'F');
}

bool
reference_tag_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0 || len > REFERENCE_MAX_TAG)
		return false;
	if (!is_alnum(s[0]) && s[0] != '_')
		return false;
	for (i = 1; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return false;
	return true;
}

/* One component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool
component_valid(const char *s, size_t len)
{
	size_t i = 0, j;

	if (len == 0 || !is_lower_alnum(s[0]))
		return false;
	while (i < len) {
		while (i < len && is_lower_alnum(s[i]))
			i++;
		if (i == len)
			return true;
		j = i;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < len && s[i] == '-')
				i++;
		else
			return false;
		if (i == j || i == len || !is_lower_alnum(s[i]))
			return false;
	}
	return true;
}

bool
reference_path_valid(const char *s, size_t len)
{
	size_t start = 0, i;

	if (len == 0)
		return false;
	for (i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (!component_valid(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

bool
reference_digest_valid(const char *s, size_t len)
{
	size_t i = 0, hex = 0;

	/* [A-Za-z][A-Za-z0-9]*(?:[-_+.][A-Za-z][A-Za-z0-9]*)*:[[:xdigit:]]{32,}
	 */
	for (;;) {
		if (i >= len || !((s[i] >= 'a' && s[i] <= 'z') ||
		                  (s[i] >= 'A' && s[i] <= 'Z')))
			return false;
		while (i < len && is_alnum(s[i]))
			i++;
		if (i < len && (s[i] == '-' || s[i] == '_' || s[i] == '+' ||
		                s[i] == '.')) {
			i++;
			continue;
		}
		break;
	}
	if (i >= len || s[i] != ':')
		return false;
	for (i++; i < len; i++, hex++)
		if (!is_hex(s[i]))
			return false;
	return hex >= 32;
}

/* host labels joined by '.', optional :port, or [ipv6]:port */
static bool
domain_valid(const char *s, size_t len)
{
	size_t i = 0, label;

	if (len == 0)
		return false;
	if (s[0] == '[') {
		for (i = 1; i < len && s[i] != ']'; i++)
			if (!is_hex(s[i]) && s[i] != ':' && s[i] != '.')
				return false;
		if (i >= len || i == 1)
			return false;
		i++;
	} else {
		for (;;) {
			label = 0;
			while (i < len && (is_alnum(s[i]) || s[i] == '-')) {
				i++;
				label++;
			}
			if (label == 0 || s[i - label] == '-' ||
			    s[i - 1] == '-')
				return false;
			if (i < len && s[i] == '.') {
				i++;
				continue;
			}
			break;
		}
	}
	if (i == len)
		return true;
	if (s[i] != ':' || i + 1 == len || len - i - 1 > 5)
		return false;
	for (i++; i < len; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

void
reference_release(struct reference *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	free(r->api_host);
	*r = (struct reference)REFERENCE_INIT;
}

static int
set_str(char **out, const char *s, size_t len, struct err *err)
{
	*out = strndup(s, len);
	if (*out == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int
reference_parse(struct reference *out, const char *s, size_t len,
                struct err *err)
{
	const char *at, *slash, *colon, *p;
	size_t name_len, dom_len = 0, i;
	bool has_domain = false;
	struct buf path = BUF_INIT;
	int rc = 0;

	*out = (struct reference)REFERENCE_INIT;
	if (len == 0)
		return err_set(err, ERR_INVALID, "image reference is empty");
	for (i = 0; i < len; i++)
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return err_set(
			        err, ERR_INVALID,
			        "image reference '%.*s' contains a space or "
			        "control character",
			        (int)(len > 200 ? 200 : len), s);
	name_len = len;
	at = memchr(s, '@', len);
	if (at != NULL) {
		size_t dlen = len - (size_t)(at - s) - 1;
		if (!reference_digest_valid(at + 1, dlen)) {
			rc = err_set(
			        err, ERR_INVALID,
			        "image reference '%.*s': invalid digest '%.*s'",
			        (int)len, s, (int)dlen, at + 1);
			goto out;
		}
		if ((rc = set_str(&out->digest, at + 1, dlen, err)) < 0)
			goto out;
		name_len = (size_t)(at - s);
	}
	/* a ':' after the last '/' starts the tag */
	colon = NULL;
	for (p = s + name_len; p > s; p--) {
		if (p[-1] == '/')
			break;
		if (p[-1] == ':') {
			colon = p - 1;
			break;
		}
	}
	if (colon != NULL) {
		size_t tlen = name_len - (size_t)(colon - s) - 1;
		if (!reference_tag_valid(colon + 1, tlen)) {
			rc = err_set(
			        err, ERR_INVALID,
			        "image reference '%.*s': invalid tag '%.*s' "
			        "(tags are [A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
			        (int)len, s, (int)tlen, colon + 1);
			goto out;
		}
		if ((rc = set_str(&out->tag, colon + 1, tlen, err)) < 0)
			goto out;
		name_len = (size_t)(colon - s);
	}
	slash = memchr(s, '/', name_len);
	if (slash != NULL) {
		dom_len = (size_t)(slash - s);
		for (i = 0; i < dom_len; i++)
			if (s[i] == '.' || s[i] == ':' ||
			    (s[i] >= 'A' && s[i] <= 'Z'))
				has_domain = true;
		if (dom_len == 9 && memcmp(s, "localhost", 9) == 0)
			has_domain = true;
	}
	if (has_domain) {
		if (!domain_valid(s, dom_len)) {
			rc = err_set(
			        err, ERR_INVALID,
			        "image reference '%.*s': invalid registry host "
			        "'%.*s'",
			        (int)len, s, (int)dom_len, s);
			goto out;
		}
		if (dom_len == 15 && memcmp(s, "index.docker.io", 15) == 0)
			rc = set_str(&out->domain, REFERENCE_DOCKER_HUB, 9,
			             err);
		else
			rc = set_str(&out->domain, s, dom_len, err);
		if (rc < 0)
			goto out;
		buf_add(&path, slash + 1, name_len - dom_len - 1);
	} else {
		if ((rc = set_str(&out->domain, REFERENCE_DOCKER_HUB, 9, err)) <
		    0)
			goto out;
		buf_add(&path, s, name_len);
	}
	if (strcmp(out->domain, REFERENCE_DOCKER_HUB) == 0 &&
	    memchr(path.ptr, '/', path.len) == NULL) {
		struct buf lib = BUF_INIT;
		buf_puts(&lib, "library/");
		buf_add(&lib, path.ptr, path.len);
		buf_release(&path);
		path = lib;
	}
	if (!buf_ok(&path)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (!reference_path_valid(path.ptr, path.len)) {
		bool upper = false;
		for (i = 0; i < path.len; i++)
			if (path.ptr[i] >= 'A' && path.ptr[i] <= 'Z')
				upper = true;
		rc = err_set(
		        err, ERR_INVALID,
		        "image reference '%.*s': invalid repository name '%s'%s",
		        (int)len, s, path.ptr,
		        upper ? " (repository names must be lower-case)" : "");
		goto out;
	}
	if (strlen(out->domain) + 1 + path.len > REFERENCE_MAX_NAME) {
		rc = err_set(err, ERR_INVALID,
		             "image reference '%.*s': name is longer than %d "
		             "characters",
		             (int)len, s, REFERENCE_MAX_NAME);
		goto out;
	}
	out->path = buf_detach(&path);
	if (out->path == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (strcmp(out->domain, REFERENCE_DOCKER_HUB) == 0)
		rc = set_str(&out->api_host, REFERENCE_DOCKER_HUB_API,
		             strlen(REFERENCE_DOCKER_HUB_API), err);
	else
		rc = set_str(&out->api_host, out->domain, strlen(out->domain),
		             err);
out:
	buf_release(&path);
	if (rc < 0)
		reference_release(out);
	return rc;
}

int
reference_name(struct buf *out, const struct reference *r)
{
	return buf_addf(out, "%s/%s", r->domain, r->path);
}
