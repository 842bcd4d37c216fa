/*
 * policy.c - the strategies (semver, alphabetical, numerical, newest-build,
 * digest) and the tag filters in front of them, as a streaming selection:
 * each tag is judged once and only the best candidate is kept.
 *
 * It does not fetch anything: creation times and digests come from the
 * scanner through the core.
 */
#include "policy/policy.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/rfc3339.h"
#include "base/utf8.h"
#include "policy/filter.h"
#include "policy/semver.h"

struct policy {
	enum policy_kind kind;
	bool loose;
	enum policy_order order;
	struct semver_constraint *range;
	char *range_text;
	char *digest_tag;
	struct filter *pattern;
	struct filter *allow; /* NULL: every tag is allowed */
	struct glob **ignore;
	char **ignore_text;
	size_t nignore;
};

struct policy_run {
	const struct policy *p;
	struct filter_match *pattern_m, *allow_m;
	struct buf value, why;
	policy_explain_fn explain;
	void *payload;
	size_t count;
	/* the best candidate so far */
	bool found;
	size_t best_index;
	struct buf best_tag, best_value;
	struct semver_version best_v; /* points into best_value */
	double best_num;
	int64_t best_time;
};

void
policy_free(struct policy *p)
{
	if (p == NULL)
		return;
	semver_constraint_free(p->range);
	free(p->range_text);
	free(p->digest_tag);
	filter_free(p->pattern);
	filter_free(p->allow);
	for (size_t i = 0; i < p->nignore; i++) {
		glob_free(p->ignore[i]);
		free(p->ignore_text[i]);
	}
	free(p->ignore);
	free(p->ignore_text);
	free(p);
}

bool
policy_lower_equal(const char *s, size_t len, const char *word)
{
	size_t i = 0, k = 0, n = strlen(word);

	while (i < len) {
		size_t size;
		int32_t r = utf8_decode(s + i, len - i, &size);

		/* unicode.ToLower's simple mappings onto ASCII letters */
		if (r >= 'A' && r <= 'Z')
			r += 'a' - 'A';
		else if (r == 0x130) /* LATIN CAPITAL LETTER I WITH DOT ABOVE */
			r = 'i';
		else if (r == 0x212a) /* KELVIN SIGN */
			r = 'k';
		if (k >= n || r != (unsigned char)word[k])
			return false;
		i += size;
		k++;
	}
	return k == n;
}

int
policy_argocd_strategy_parse(enum policy_kind *out, const char *s, size_t len,
                             struct err *err)
{
	/* registry-scanner pkg/image ParseUpdateStrategy */
	static const struct {
		const char *name;
		enum policy_kind kind;
	} names[] = {
		{ "semver", POLICY_SEMVER },
		{ "latest", POLICY_NEWEST_BUILD },
		{ "newest-build", POLICY_NEWEST_BUILD },
		{ "name", POLICY_ALPHABETICAL },
		{ "alphabetical", POLICY_ALPHABETICAL },
		{ "digest", POLICY_DIGEST },
	};

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (policy_lower_equal(s, len, names[i].name)) {
			*out = names[i].kind;
			return 0;
		}
	}
	return err_set(err, ERR_INVALID,
	               "strategy '%.*s': expected semver, newest-build, "
	               "alphabetical or digest",
	               (int)(len > 200 ? 200 : len), s);
}

/*
 * Argo CD's ParseMatch (registry-scanner pkg/image): "" and "any" in any
 * case allow every tag; otherwise the text up to the first ':' names the
 * function, in any case, and only "regexp" is one.  Argo CD matches no tag
 * when the value is malformed; ferry refuses it instead.
 */
static int
set_allow(struct policy *p, const char *allow, struct err *err)
{
	const char *colon;
	size_t len;
	int rc;

	if (allow == NULL)
		return 0;
	len = strlen(allow);
	if (len == 0 || policy_lower_equal(allow, len, "any"))
		return 0;
	colon = memchr(allow, ':', len);
	if (colon == NULL ||
	    !policy_lower_equal(allow, (size_t)(colon - allow), "regexp"))
		return err_set(
		        err, ERR_INVALID,
		        "allow-tags '%s': expected 'any' or 'regexp:<RE>'",
		        allow);
	rc = filter_new(&p->allow, colon + 1, strlen(colon + 1), NULL, 0, err);
	if (rc < 0)
		return err_prefix(err, "allow-tags");
	return 0;
}

int
policy_new(struct policy **out, const struct policy_options *o, struct err *err)
{
	struct policy *p = NULL;
	int rc = 0;

	*out = NULL;
	p = calloc(1, sizeof(*p));
	if (p == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	p->kind = o->kind;
	p->loose = o->loose;
	p->order = o->order;
	switch (o->kind) {
	case POLICY_SEMVER:
		if (o->semver_range == NULL) {
			rc = err_set(err, ERR_INVALID,
			             "semver policy without a range");
			goto out;
		}
		rc = semver_constraint_new(&p->range, o->semver_range,
		                           strlen(o->semver_range), err);
		if (rc < 0) {
			err_prefix(err, "semver range '%.200s'",
			           o->semver_range);
			goto out;
		}
		p->range_text = strdup(o->semver_range);
		if (p->range_text == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		break;
	case POLICY_DIGEST:
		if (o->digest_tag == NULL || o->digest_tag[0] == '\0') {
			rc = err_set(err, ERR_INVALID,
			             "digest policy needs the tag to follow");
			goto out;
		}
		p->digest_tag = strdup(o->digest_tag);
		if (p->digest_tag == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		break;
	case POLICY_ALPHABETICAL:
	case POLICY_NUMERICAL:
	case POLICY_NEWEST_BUILD:
		break;
	default:
		rc = err_set(err, ERR_INVALID, "unknown policy kind %d",
		             (int)o->kind);
		goto out;
	}
	if (o->pattern != NULL && o->pattern[0] != '\0') {
		const char *ex = o->extract != NULL ? o->extract : "";

		rc = filter_new(&p->pattern, o->pattern, strlen(o->pattern), ex,
		                strlen(ex), err);
		if (rc < 0)
			goto out;
	}
	rc = set_allow(p, o->allow_tags, err);
	if (rc < 0)
		goto out;
	if (o->ignore_tags_len > 0) {
		p->ignore = calloc(o->ignore_tags_len, sizeof(*p->ignore));
		p->ignore_text =
		        calloc(o->ignore_tags_len, sizeof(*p->ignore_text));
		if (p->ignore == NULL || p->ignore_text == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		for (size_t i = 0; i < o->ignore_tags_len; i++) {
			const char *g = o->ignore_tags[i];

			rc = glob_new(&p->ignore[i], g, strlen(g), err);
			if (rc < 0) {
				err_prefix(err, "ignore-tags");
				goto out;
			}
			p->nignore = i + 1;
			p->ignore_text[i] = strdup(g);
			if (p->ignore_text[i] == NULL) {
				rc = err_set(err, ERR_NOMEM, "out of memory");
				goto out;
			}
		}
	}
	*out = p;
	p = NULL;
	rc = 0;
out:
	policy_free(p);
	return rc;
}

void
policy_run_free(struct policy_run *r)
{
	if (r == NULL)
		return;
	filter_match_free(r->pattern_m);
	filter_match_free(r->allow_m);
	buf_release(&r->value);
	buf_release(&r->why);
	buf_release(&r->best_tag);
	buf_release(&r->best_value);
	free(r);
}

int
policy_run_new(struct policy_run **out, const struct policy *p,
               policy_explain_fn explain, void *payload, struct err *err)
{
	struct policy_run *r = calloc(1, sizeof(*r));
	int rc;

	*out = NULL;
	if (r == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	r->p = p;
	r->explain = explain;
	r->payload = payload;
	r->value = (struct buf)BUF_INIT;
	r->why = (struct buf)BUF_INIT;
	r->best_tag = (struct buf)BUF_INIT;
	r->best_value = (struct buf)BUF_INIT;
	if (p->pattern != NULL &&
	    (rc = filter_match_new(&r->pattern_m, p->pattern, err)) < 0)
		goto fail;
	if (p->allow != NULL &&
	    (rc = filter_match_new(&r->allow_m, p->allow, err)) < 0)
		goto fail;
	*out = r;
	return 0;
fail:
	policy_run_free(r);
	return rc;
}

/* -1, 0, 1: byte-wise order of two values. */
static int
bytes_cmp(const char *a, size_t alen, const char *b, size_t blen)
{
	int c = memcmp(a, b, alen < blen ? alen : blen);

	if (c != 0)
		return c < 0 ? -1 : 1;
	return alen < blen ? -1 : alen > blen ? 1 : 0;
}

static void
explain(struct policy_run *r, const char *tag, size_t len, const char *value,
        size_t value_len, enum policy_verdict v)
{
	if (!buf_ok(&r->why)) {
		buf_reset(&r->why);
		buf_puts(&r->why, "out of memory");
	}
	r->explain(tag, len, value, value_len, v, r->why.ptr, r->payload);
}

#define WHY(...)                                                               \
	do {                                                                   \
		if (r->explain != NULL) {                                      \
			buf_reset(&r->why);                                    \
			buf_addf(&r->why, __VA_ARGS__);                        \
		}                                                              \
	} while (0)

int
policy_run_add(struct policy_run *r, const char *tag, size_t len,
               bool has_created, int64_t created_ns, struct err *err)
{
	const struct policy *p = r->p;
	const char *value = tag;
	size_t value_len = len, index = r->count++;
	struct semver_version v;
	double num = 0;
	bool better = false;
	int rc, c;

	if (len > POLICY_MAX_TAG) {
		WHY("longer than %d bytes", POLICY_MAX_TAG);
		goto dropped_early;
	}
	if (p->allow != NULL &&
	    filter_apply(p->allow, r->allow_m, tag, len, NULL) != 1) {
		WHY("not allowed by allow-tags");
		goto dropped_early;
	}
	for (size_t i = 0; i < p->nignore; i++)
		if (glob_match(p->ignore[i], tag, len)) {
			WHY("ignored by ignore-tags '%s'", p->ignore_text[i]);
			goto dropped_early;
		}
	if (p->pattern != NULL) {
		rc = filter_apply(p->pattern, r->pattern_m, tag, len,
		                  &r->value);
		if (rc < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		if (rc == 0) {
			WHY("does not match the pattern");
			goto dropped_early;
		}
		value = r->value.ptr;
		value_len = r->value.len;
	}

	switch (p->kind) {
	case POLICY_SEMVER:
		if (semver_version_parse(&v, value, value_len,
		                         p->loose ? SEMVER_LOOSE : SEMVER_FLUX,
		                         NULL) < 0) {
			WHY(p->loose ? "not a version"
			             : "not a version with three parts");
			goto dropped;
		}
		if (!semver_constraint_check(p->range, &v)) {
			WHY("%s not in range '%s'",
			    v.pre_len > 0 ? "prerelease" : "version",
			    p->range_text);
			goto dropped;
		}
		if (!r->found)
			better = true;
		else {
			c = semver_version_compare(&v, &r->best_v);
			better = c > 0 ||
			         (c == 0 &&
			          bytes_cmp(value, value_len, r->best_value.ptr,
			                    r->best_value.len) >= 0);
		}
		WHY("version %llu.%llu.%llu%s%.*s in range",
		    (unsigned long long)v.major, (unsigned long long)v.minor,
		    (unsigned long long)v.patch, v.pre_len ? "-" : "",
		    (int)v.pre_len, v.pre_len ? v.pre : "");
		break;
	case POLICY_ALPHABETICAL:
		c = r->found ? bytes_cmp(value, value_len, r->best_value.ptr,
		                         r->best_value.len)
		             : 0;
		better =
		        !r->found || (p->order == POLICY_ASC ? c >= 0 : c <= 0);
		WHY("candidate (%s)",
		    p->order == POLICY_ASC ? "greatest wins" : "smallest wins");
		break;
	case POLICY_NUMERICAL:
		if (policy_number_parse(&num, value, value_len) < 0 ||
		    isnan(num)) {
			WHY("not a number");
			goto dropped;
		}
		if (!r->found)
			better = true;
		else if (num == r->best_num)
			better = bytes_cmp(value, value_len, r->best_value.ptr,
			                   r->best_value.len) >= 0;
		else
			better = p->order == POLICY_ASC ? num > r->best_num
			                                : num < r->best_num;
		WHY("number %.17g", num);
		break;
	case POLICY_NEWEST_BUILD:
		if (!has_created) {
			WHY("no creation time");
			goto dropped;
		}
		if (!r->found)
			better = true;
		else if (created_ns == r->best_time)
			better = bytes_cmp(value, value_len, r->best_value.ptr,
			                   r->best_value.len) >= 0;
		else
			better = created_ns > r->best_time;
		WHY("created %lld", (long long)created_ns);
		break;
	case POLICY_DIGEST:
		if (bytes_cmp(value, value_len, p->digest_tag,
		              strlen(p->digest_tag)) != 0) {
			WHY("not the followed tag '%s'", p->digest_tag);
			goto dropped;
		}
		better = true;
		WHY("the followed tag");
		break;
	}
	if (better) {
		buf_reset(&r->best_tag);
		buf_add(&r->best_tag, tag, len);
		buf_reset(&r->best_value);
		buf_add(&r->best_value, value, value_len);
		if (!buf_ok(&r->best_tag) || !buf_ok(&r->best_value))
			return err_set(err, ERR_NOMEM, "out of memory");
		if (p->kind == POLICY_SEMVER)
			semver_version_parse(
			        &r->best_v, r->best_value.ptr,
			        r->best_value.len,
			        p->loose ? SEMVER_LOOSE : SEMVER_FLUX, NULL);
		r->best_num = num;
		r->best_time = created_ns;
		r->best_index = index;
		r->found = true;
	}
	if (r->explain != NULL)
		explain(r, tag, len, value, value_len, POLICY_KEPT);
	return 0;
dropped:
	if (r->explain != NULL)
		explain(r, tag, len, value, value_len, POLICY_DROPPED);
	return 0;
dropped_early:
	if (r->explain != NULL)
		explain(r, tag, len, NULL, 0, POLICY_DROPPED);
	return 0;
}

const char *
policy_run_result(const struct policy_run *r, size_t *len_out,
                  const char **value_out, size_t *value_len_out,
                  size_t *index_out)
{
	if (!r->found)
		return NULL;
	if (len_out != NULL)
		*len_out = r->best_tag.len;
	if (value_out != NULL)
		*value_out = r->best_value.ptr;
	if (value_len_out != NULL)
		*value_len_out = r->best_value.len;
	if (index_out != NULL)
		*index_out = r->best_index;
	return r->best_tag.ptr;
}

int
policy_select(const struct policy *p, const struct policy_tag *tags, size_t n,
              size_t *index_out, policy_explain_fn explain_fn, void *payload,
              struct err *err)
{
	struct policy_run *r = NULL;
	int rc;

	rc = policy_run_new(&r, p, explain_fn, payload, err);
	if (rc < 0)
		return rc;
	for (size_t i = 0; i < n; i++) {
		rc = policy_run_add(r, tags[i].name, tags[i].len,
		                    tags[i].has_created, tags[i].created_ns,
		                    err);
		if (rc < 0)
			goto out;
	}
	if (policy_run_result(r, NULL, NULL, NULL, index_out) == NULL)
		rc = err_set(err, ERR_NOTFOUND,
		             "nothing qualified among %zu tags", n);
out:
	policy_run_free(r);
	return rc;
}

/* ---- Go ParseFloat ---- */

static bool
prefix_ci(const char *s, size_t len, const char *word, size_t n)
{
	if (len < n)
		return false;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c >= 'A' && c <= 'Z')
			c = (char)(c - 'A' + 'a');
		if (c != word[i])
			return false;
	}
	return true;
}

/* Go's underscoreOK: '_' only between digits (or after a base prefix). */
static bool
underscores_ok(const char *s, size_t len)
{
	char saw = '^';
	size_t i = 0;
	bool hex = false;

	if (len >= 1 && (s[0] == '-' || s[0] == '+')) {
		s++;
		len--;
	}
	if (len >= 2 && s[0] == '0' &&
	    (s[1] == 'x' || s[1] == 'X' || s[1] == 'b' || s[1] == 'B' ||
	     s[1] == 'o' || s[1] == 'O')) {
		i = 2;
		saw = '0';
		hex = s[1] == 'x' || s[1] == 'X';
	}
	for (; i < len; i++) {
		char c = s[i];
		bool digit = (c >= '0' && c <= '9') ||
		             (hex && ((c >= 'a' && c <= 'f') ||
		                      (c >= 'A' && c <= 'F')));

		if (digit) {
			saw = '0';
			continue;
		}
		if (c == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

int
policy_number_parse(double *out, const char *s, size_t len)
{
	size_t i = 0;
	bool hex = false, digits = false, dot = false, unders = false;
	char stack[128], *copy = stack, *end = NULL;
	size_t n = 0;
	double v;

	if (len == 0)
		return -ERR_INVALID;
	/* special values: [+-]inf, [+-]infinity, nan (any case) */
	{
		size_t k = 0;
		bool sign = s[0] == '+' || s[0] == '-';

		if (sign)
			k = 1;
		if ((len - k == 3 && prefix_ci(s + k, len - k, "inf", 3)) ||
		    (len - k == 8 &&
		     prefix_ci(s + k, len - k, "infinity", 8))) {
			*out = s[0] == '-' ? -INFINITY : INFINITY;
			return 0;
		}
		if (!sign && len == 3 && prefix_ci(s, len, "nan", 3)) {
			*out = NAN;
			return 0;
		}
	}
	if (s[i] == '+' || s[i] == '-')
		i++;
	if (i + 2 < len && s[i] == '0' &&
	    (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		hex = true;
		i += 2;
	}
	for (; i < len; i++) {
		char c = s[i];

		if (c == '_')
			unders = true;
		else if (c == '.') {
			if (dot)
				break;
			dot = true;
		} else if ((c >= '0' && c <= '9') ||
		           (hex &&
		            ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F'))))
			digits = true;
		else
			break;
	}
	if (!digits)
		return -ERR_INVALID;
	if (i < len &&
	    (s[i] == (hex ? 'p' : 'e') || s[i] == (hex ? 'P' : 'E'))) {
		i++;
		if (i < len && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= len || s[i] < '0' || s[i] > '9')
			return -ERR_INVALID;
		for (; i < len && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_');
		     i++)
			if (s[i] == '_')
				unders = true;
	} else if (hex) {
		return -ERR_INVALID; /* a hexadecimal float needs 'p' */
	}
	if (i != len)
		return -ERR_INVALID;
	if (unders && !underscores_ok(s, len))
		return -ERR_INVALID;
	if (len + 1 > sizeof(stack)) {
		copy = malloc(len + 1);
		if (copy == NULL)
			return -ERR_NOMEM;
	}
	for (i = 0; i < len; i++)
		if (s[i] != '_')
			copy[n++] = s[i];
	copy[n] = '\0';
	errno = 0;
	v = strtod(copy, &end);
	if (end != copy + n || (errno == ERANGE && isinf(v))) {
		if (copy != stack)
			free(copy);
		return -ERR_INVALID;
	}
	if (copy != stack)
		free(copy);
	*out = v;
	return 0;
}

/* ---- RFC 3339 ---- */

int
policy_time_parse(int64_t *out, const char *s, size_t len, struct err *err)
{
	int64_t sec, ns;
	int32_t nsec;
	int rc;

	if ((rc = rfc3339_parse(&sec, &nsec, s, len, err)) < 0)
		return rc;
	/* int64 nanoseconds reach from 1677 to 2262 */
	if (__builtin_mul_overflow(sec, (int64_t)RFC3339_NSEC_PER_SEC, &ns) ||
	    __builtin_add_overflow(ns, nsec, &ns))
		return err_set(err, ERR_INVALID,
		               "'%.*s' is outside what int64 nanoseconds hold "
		               "(1677-09-21 to 2262-04-11)",
		               (int)(len > 64 ? 64 : len), s);
	*out = ns;
	return 0;
}
