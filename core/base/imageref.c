/*
 * imageref.c - the image reference grammar of docker/distribution: splits a
 * reference into domain, path, tag and digest, checks each part, and
 * applies Docker Hub's normalisation.  It only reads text: no allocation,
 * no hosts resolved, no API hosts chosen (the scanner does that).
 */
#include "imageref.h"

#include <string.h>

/* Quote at most this much of a hostile reference in a message. */
#define QUOTE_MAX 200

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
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

static bool
is_hex(char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

static bool
span_is(const char *s, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(s, word, len) == 0;
}

static int
quote_len(size_t len)
{
	return (int)(len > QUOTE_MAX ? QUOTE_MAX : len);
}

bool
imageref_tag_valid(const char *s, size_t len)
{
	if (len == 0 || len > IMAGEREF_MAX_TAG)
		return false;
	if (!is_alnum(s[0]) && s[0] != '_')
		return false;
	for (size_t i = 1; i < len; i++)
		if (!is_alnum(s[i]) && s[i] != '_' && s[i] != '.' &&
		    s[i] != '-')
			return false;
	return true;
}

bool
imageref_digest_valid(const char *s, size_t len)
{
	size_t i = 0, hex;

	/* the algorithm: components that start with a letter, joined by one
	 * of - _ + . */
	for (;;) {
		if (i >= len || !is_alpha(s[i]))
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
	for (hex = 0, i++; i < len; i++, hex++)
		if (!is_hex(s[i]))
			return false;
	return hex >= 32;
}

/* One path component: [a-z0-9]+((\.|_|__|-+)[a-z0-9]+)* */
static bool
component_valid(const char *s, size_t len)
{
	size_t i = 0;

	if (len == 0 || !is_lower_alnum(s[0]))
		return false;
	for (;;) {
		while (i < len && is_lower_alnum(s[i]))
			i++;
		if (i == len)
			return true;
		if (s[i] == '.')
			i++;
		else if (s[i] == '_')
			i += (i + 1 < len && s[i + 1] == '_') ? 2 : 1;
		else if (s[i] == '-')
			while (i < len && s[i] == '-')
				i++;
		else
			return false;
		/* a separator is followed by an alphanumeric run */
		if (i == len || !is_lower_alnum(s[i]))
			return false;
	}
}

bool
imageref_path_valid(const char *s, size_t len)
{
	size_t start = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || s[i] == '/') {
			if (!component_valid(s + start, i - start))
				return false;
			start = i + 1;
		}
	}
	return true;
}

/* label ( "." label )*, each label [A-Za-z0-9] or [A-Za-z0-9][-A-Za-z0-9]*
 * [A-Za-z0-9]; returns the length of the host matched at s, 0 for none. */
static size_t
host_name_len(const char *s, size_t len)
{
	size_t i = 0, start;

	for (;;) {
		start = i;
		while (i < len && (is_alnum(s[i]) || s[i] == '-'))
			i++;
		if (i == start || s[start] == '-' || s[i - 1] == '-')
			return 0;
		if (i < len && s[i] == '.') {
			i++;
			continue;
		}
		return i;
	}
}

bool
imageref_domain_valid(const char *s, size_t len)
{
	size_t i;

	if (len == 0)
		return false;
	if (s[0] == '[') {
		/* an IPv6 address as distribution spells it: hex and ':' */
		for (i = 1; i < len && s[i] != ']'; i++)
			if (!is_hex(s[i]) && s[i] != ':')
				return false;
		if (i == len || i == 1)
			return false;
		i++;
	} else if ((i = host_name_len(s, len)) == 0) {
		return false;
	}
	if (i == len)
		return true;
	if (s[i] != ':' || len - i - 1 == 0 ||
	    len - i - 1 > IMAGEREF_MAX_PORT_DIGITS)
		return false;
	for (i++; i < len; i++)
		if (!is_digit(s[i]))
			return false;
	return true;
}

/* splitDockerDomain: the first component names a registry host when it has
 * '.', ':' or an upper-case letter, or is "localhost". */
static bool
looks_like_domain(const char *s, size_t len)
{
	if (span_is(s, len, "localhost"))
		return true;
	for (size_t i = 0; i < len; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

static bool
is_hub(const char *s, size_t len)
{
	return span_is(s, len, IMAGEREF_DOCKER_HUB) ||
	       span_is(s, len, "index.docker.io");
}

static bool
has_upper(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;
	return false;
}

/* Splits name[0..len) into domain and path and checks both. */
static int
name_split(struct imageref *out, const char *s, size_t name_len,
           size_t whole_len, struct err *err)
{
	const char *slash = memchr(s, '/', name_len);
	size_t dlen, norm;

	out->domain = NULL;
	out->domain_len = 0;
	out->path = s;
	out->path_len = name_len;
	if (slash != NULL && looks_like_domain(s, (size_t)(slash - s))) {
		dlen = (size_t)(slash - s);
		if (!imageref_domain_valid(s, dlen))
			return err_set(
			        err, ERR_INVALID,
			        "image reference '%.*s': invalid registry "
			        "host '%.*s'",
			        quote_len(whole_len), s, quote_len(dlen), s);
		if (!is_hub(s, dlen)) {
			out->domain = s;
			out->domain_len = dlen;
		}
		out->path = slash + 1;
		out->path_len = name_len - dlen - 1;
	}
	if (!imageref_path_valid(out->path, out->path_len))
		return err_set(
		        err, ERR_INVALID,
		        "image reference '%.*s': invalid repository name "
		        "'%.*s'%s",
		        quote_len(whole_len), s, quote_len(out->path_len),
		        out->path,
		        has_upper(out->path, out->path_len)
		                ? " (repository names must be lower-case)"
		                : "");
	out->official = out->domain == NULL &&
	                memchr(out->path, '/', out->path_len) == NULL;
	norm = (out->domain ? out->domain_len : strlen(IMAGEREF_DOCKER_HUB)) +
	       1 + (out->official ? strlen(IMAGEREF_OFFICIAL_PREFIX) : 0) +
	       out->path_len;
	if (norm > IMAGEREF_MAX_NAME)
		return err_set(err, ERR_INVALID,
		               "image reference '%.*s': name is longer than %d "
		               "characters",
		               quote_len(whole_len), s, IMAGEREF_MAX_NAME);
	return 0;
}

int
imageref_parse(struct imageref *out, const char *s, size_t len, struct err *err)
{
	const char *at;
	size_t name_len = len, i, hex = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if (len == 0)
		return err_set(err, ERR_INVALID, "image reference is empty");
	for (i = 0; i < len; i++) {
		if ((unsigned char)s[i] <= ' ' || (unsigned char)s[i] >= 0x7f)
			return err_set(
			        err, ERR_INVALID,
			        "image reference has a space, control or "
			        "non-ASCII character at offset %zu",
			        i);
		if (is_digit(s[i]) || (s[i] >= 'a' && s[i] <= 'f'))
			hex++;
	}
	if (len == 64 && hex == 64)
		return err_set(
		        err, ERR_INVALID,
		        "image reference '%.*s' is a 64-digit hex string, "
		        "which reads as an image ID",
		        (int)len, s);
	/* neither name nor tag has an '@': the first one starts the digest */
	at = memchr(s, '@', len);
	if (at != NULL) {
		size_t dlen = len - (size_t)(at - s) - 1;

		if (!imageref_digest_valid(at + 1, dlen))
			return err_set(err, ERR_INVALID,
			               "image reference '%.*s': invalid digest "
			               "'%.*s'",
			               quote_len(len), s, quote_len(dlen),
			               at + 1);
		out->digest = at + 1;
		out->digest_len = dlen;
		name_len = (size_t)(at - s);
	}
	/* a ':' after the last '/' starts the tag; one before it is a port */
	for (i = name_len; i > 0 && s[i - 1] != '/'; i--) {
		if (s[i - 1] == ':') {
			size_t tlen = name_len - i;

			if (!imageref_tag_valid(s + i, tlen))
				return err_set(
				        err, ERR_INVALID,
				        "image reference '%.*s': invalid tag "
				        "'%.*s' (tags are "
				        "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})",
				        quote_len(len), s, quote_len(tlen),
				        s + i);
			out->tag = s + i;
			out->tag_len = tlen;
			name_len = i - 1;
			break;
		}
	}
	rc = name_split(out, s, name_len, len, err);
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	return rc;
}

bool
imageref_name_valid(const char *s, size_t len)
{
	struct imageref r;

	return imageref_parse(&r, s, len, NULL) == 0 && r.tag == NULL &&
	       r.digest == NULL;
}

int
imageref_domain(struct buf *out, const struct imageref *r)
{
	if (r->domain == NULL)
		return buf_puts(out, IMAGEREF_DOCKER_HUB);
	return buf_add(out, r->domain, r->domain_len);
}

int
imageref_path(struct buf *out, const struct imageref *r)
{
	if (r->official)
		buf_puts(out, IMAGEREF_OFFICIAL_PREFIX);
	return buf_add(out, r->path, r->path_len);
}

int
imageref_format(struct buf *out, const struct imageref *r)
{
	imageref_domain(out, r);
	buf_putc(out, '/');
	imageref_path(out, r);
	if (r->tag != NULL) {
		buf_putc(out, ':');
		buf_add(out, r->tag, r->tag_len);
	}
	if (r->digest != NULL) {
		buf_putc(out, '@');
		buf_add(out, r->digest, r->digest_len);
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}
