/*
 * protocol.c - small parsers for what registries send back besides the
 * bodies we keep: Link headers (paging), tag lists, Retry-After,
 * rate-limit headers and error bodies.  No network I/O here.
 */
#include "protocol.h"

#include <curl/curl.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"

static bool
is_ows(char c)
{
	return c == ' ' || c == '\t';
}

bool
protocol_tchar(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') ||
	       (c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL);
}

static char
lower(char c)
{
	return (c >= 'A' && c <= 'Z') ? (char)(c - 'A' + 'a') : c;
}

static bool
span_ieq(const char *s, size_t len, const char *word)
{
	size_t i;

	if (strlen(word) != len)
		return false;
	for (i = 0; i < len; i++)
		if (lower(s[i]) != word[i])
			return false;
	return true;
}

/* true when the space-separated relation list v[0..len) holds "next" */
static bool
rel_has_next(const char *v, size_t len)
{
	size_t i = 0, start;

	while (i < len) {
		while (i < len && is_ows(v[i]))
			i++;
		start = i;
		while (i < len && !is_ows(v[i]))
			i++;
		if (span_ieq(v + start, i - start, "next"))
			return true;
	}
	return false;
}

int
protocol_link_next(struct buf *url_out, const char *s, size_t len,
                   struct err *err)
{
	size_t i = 0, ustart, uend, nstart, nlen, vstart, vlen;
	bool next;
	struct buf val = BUF_INIT;
	int rc = 0;

	if (len > PROTOCOL_MAX_LINK)
		return err_set(err, ERR_INVALID,
		               "Link header is longer than %d bytes",
		               PROTOCOL_MAX_LINK);
	for (;;) {
		while (i < len && (is_ows(s[i]) || s[i] == ','))
			i++;
		if (i == len)
			break;
		if (s[i] != '<') {
			rc = err_set(err, ERR_INVALID,
			             "Link header: expected '<' at offset %zu",
			             i);
			goto out;
		}
		ustart = ++i;
		while (i < len && s[i] != '>')
			i++;
		if (i == len) {
			rc = err_set(err, ERR_INVALID,
			             "Link header: unterminated '<'");
			goto out;
		}
		uend = i++;
		next = false;
		for (;;) {
			while (i < len && is_ows(s[i]))
				i++;
			if (i == len || s[i] == ',')
				break;
			if (s[i] != ';') {
				rc = err_set(
				        err, ERR_INVALID,
				        "Link header: expected ';' or ',' at "
				        "offset %zu",
				        i);
				goto out;
			}
			i++;
			while (i < len && is_ows(s[i]))
				i++;
			nstart = i;
			while (i < len && protocol_tchar(s[i]))
				i++;
			nlen = i - nstart;
			if (nlen == 0) {
				rc = err_set(
				        err, ERR_INVALID,
				        "Link header: expected a parameter "
				        "name at offset %zu",
				        i);
				goto out;
			}
			while (i < len && is_ows(s[i]))
				i++;
			buf_reset(&val);
			if (i < len && s[i] == '=') {
				i++;
				while (i < len && is_ows(s[i]))
					i++;
				if (i < len && s[i] == '"') {
					for (i++; i < len && s[i] != '"'; i++) {
						if (s[i] == '\\' && i + 1 < len)
							i++;
						buf_putc(&val, s[i]);
					}
					if (i == len) {
						rc = err_set(
						        err, ERR_INVALID,
						        "Link header: "
						        "unterminated quoted "
						        "string");
						goto out;
					}
					i++;
				} else {
					vstart = i;
					while (i < len && protocol_tchar(s[i]))
						i++;
					vlen = i - vstart;
					buf_add(&val, s + vstart, vlen);
				}
			}
			if (!buf_ok(&val)) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
			if (span_ieq(s + nstart, nlen, "rel") &&
			    rel_has_next(val.ptr, val.len))
				next = true;
		}
		if (next) {
			if (uend == ustart) {
				rc = err_set(err, ERR_INVALID,
				             "Link header: empty next link");
				goto out;
			}
			if (buf_add(url_out, s + ustart, uend - ustart) < 0)
				rc = err_set(err, ERR_NOMEM, "out of memory");
			else
				rc = 1;
			goto out;
		}
	}
out:
	buf_release(&val);
	return rc;
}

int
protocol_tags_parse(const char *body, size_t len, size_t max,
                    int (*add)(const char *tag, size_t len, void *payload),
                    void *payload, struct err *err)
{
	cJSON *root = NULL, *tags, *t;
	size_t n = 0;
	int rc;

	if ((rc = json_parse(&root, body, len, "tag list", err)) < 0)
		return rc;
	if (!cJSON_IsObject(root)) {
		rc = err_set(err, ERR_INVALID, "tag list: not a JSON object");
		goto out;
	}
	tags = cJSON_GetObjectItemCaseSensitive(root, "tags");
	if (tags == NULL) {
		rc = err_set(err, ERR_INVALID, "tag list: no \"tags\" field");
		goto out;
	}
	if (cJSON_IsNull(tags))
		goto out;
	if (!cJSON_IsArray(tags)) {
		rc = err_set(err, ERR_INVALID,
		             "tag list: \"tags\" is not an array");
		goto out;
	}
	cJSON_ArrayForEach(t, tags)
	{
		if (!cJSON_IsString(t) || t->valuestring == NULL) {
			rc = err_set(err, ERR_INVALID,
			             "tag list: entry %zu is not a string", n);
			goto out;
		}
		if (++n > max) {
			rc = err_set(err, ERR_NOMEM,
			             "tag list has more than %zu entries", max);
			goto out;
		}
		if ((rc = add(t->valuestring, strlen(t->valuestring),
		              payload)) < 0)
			goto out;
	}
out:
	cJSON_Delete(root);
	return rc;
}

int
protocol_retry_after(long long *secs_out, const char *s, size_t len, time_t now)
{
	char tmp[128];
	size_t i;
	long long v = 0;
	time_t t;

	while (len > 0 && is_ows(s[len - 1]))
		len--;
	while (len > 0 && is_ows(*s)) {
		s++;
		len--;
	}
	if (len == 0 || len >= sizeof(tmp))
		return -ERR_INVALID;
	for (i = 0; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		;
	if (i == len) {
		if (len > 9)
			v = 999999999;
		else
			for (i = 0; i < len; i++)
				v = v * 10 + (s[i] - '0');
		*secs_out = v;
		return 0;
	}
	memcpy(tmp, s, len);
	tmp[len] = '\0';
	t = curl_getdate(tmp, NULL);
	if (t == -1)
		return -ERR_INVALID;
	*secs_out = t > now ? (long long)(t - now) : 0;
	return 0;
}

int
protocol_ratelimit(long long *out, const char *s, size_t len)
{
	size_t i = 0;
	long long v = 0;

	while (i < len && is_ows(s[i]))
		i++;
	if (i == len || s[i] < '0' || s[i] > '9')
		return -ERR_INVALID;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		if (v < 1000000000)
			v = v * 10 + (s[i] - '0');
	*out = v;
	return 0;
}

void
protocol_error_describe(struct buf *out, const char *body, size_t len)
{
	cJSON *root = NULL, *errs, *e;
	const char *code, *msg;
	struct err ignored = ERR_INIT;

	if (len == 0 || json_parse(&root, body, len, "error", &ignored) < 0)
		return;
	errs = cJSON_GetObjectItemCaseSensitive(root, "errors");
	e = cJSON_IsArray(errs) ? cJSON_GetArrayItem(errs, 0) : NULL;
	if (cJSON_IsObject(e)) {
		code = json_get_string(e, "code");
		msg = json_get_string(e, "message");
		if (code != NULL)
			buf_addf(out, "%.64s", code);
		if (msg != NULL)
			buf_addf(out, "%s%.200s", code ? ": " : "", msg);
	}
	cJSON_Delete(root);
}
