/*
 * filter.c - tag patterns with Go ExpandString templates, and Go
 * filepath.Match globs.  The patterns are base/regex.h's (PCRE2 with Go's
 * semantics, the RE2 syntax check and match limits); this file adds the
 * template expansion and the globs.
 *
 * A pattern is compiled once; each thread matches with its own match
 * state.  Globs are compiled into a list of items and matched with a table
 * over byte positions, so a pattern full of '*' cannot backtrack
 * exponentially.
 */
#include "policy/filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/regex.h"
#include "base/utf8.h"

struct filter {
	struct regex *re;
	char *extract; /* NULL: keep the whole tag */
	size_t extract_len;
};

struct filter_match {
	struct regex_match *m;
	bool matched; /* the last filter_apply() matched */
};

void
filter_free(struct filter *f)
{
	if (f == NULL)
		return;
	regex_free(f->re);
	free(f->extract);
	free(f);
}

int
filter_new(struct filter **out, const char *pattern, size_t len,
           const char *extract, size_t extract_len, struct err *err)
{
	struct filter *f = NULL;
	int rc;

	*out = NULL;
	if (extract_len > FILTER_MAX_PATTERN)
		return err_set(err, ERR_INVALID,
		               "extract template longer than %d bytes",
		               FILTER_MAX_PATTERN);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	if ((rc = regex_new(&f->re, pattern, len, err)) < 0)
		goto out;
	if (extract != NULL && extract_len > 0) {
		f->extract = malloc(extract_len + 1);
		if (f->extract == NULL) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		memcpy(f->extract, extract, extract_len);
		f->extract[extract_len] = '\0';
		f->extract_len = extract_len;
	}
	*out = f;
	f = NULL;
out:
	filter_free(f);
	return rc;
}

int
filter_match_new(struct filter_match **out, const struct filter *f,
                 struct err *err)
{
	struct filter_match *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (m == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	if ((rc = regex_match_new(&m->m, f->re, err)) < 0) {
		free(m);
		return rc;
	}
	*out = m;
	return 0;
}

void
filter_match_free(struct filter_match *m)
{
	if (m == NULL)
		return;
	regex_match_free(m->m);
	free(m);
}

static bool
is_name_char(unsigned char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	       (c >= '0' && c <= '9') || c == '_';
}

/* Appends group g of the last match, if it took part in the match. */
static void
add_group(struct buf *out, const struct filter_match *m, uint32_t g,
          const char *subject)
{
	size_t start, end;

	if (m->matched && regex_group(m->m, g, &start, &end))
		buf_add(out, subject + start, end - start);
}

int
filter_expand(const struct filter *f, const struct filter_match *m,
              const char *t, size_t len, const char *subject, struct buf *out)
{
	size_t i = 0;

	while (i < len) {
		const char *dollar = memchr(t + i, '$', len - i);
		size_t j, name, name_len;
		bool brace = false;
		long num = 0;

		if (dollar == NULL) {
			buf_add(out, t + i, len - i);
			break;
		}
		j = (size_t)(dollar - t);
		buf_add(out, t + i, j - i);
		i = j + 1;
		if (i < len && t[i] == '$') {
			buf_putc(out, '$');
			i++;
			continue;
		}
		j = i;
		if (j < len && t[j] == '{') {
			brace = true;
			j++;
		}
		name = j;
		while (j < len && is_name_char((unsigned char)t[j]))
			j++;
		name_len = j - name;
		if (name_len == 0 || (brace && (j >= len || t[j] != '}'))) {
			/* malformed: the '$' is kept as text */
			buf_putc(out, '$');
			continue;
		}
		if (brace)
			j++;
		i = j;
		/* A purely numeric name below 1e8 without a leading zero is a
		 * group number; anything else is looked up by name. */
		for (size_t k = 0; k < name_len; k++) {
			char c = t[name + k];

			if (c < '0' || c > '9' || num >= 100000000) {
				num = -1;
				break;
			}
			num = num * 10 + (c - '0');
		}
		if (t[name] == '0' && name_len > 1)
			num = -1;
		if (num >= 0) {
			if ((uint64_t)num <= regex_group_count(f->re))
				add_group(out, m, (uint32_t)num, subject);
			continue;
		}
		num = regex_group_index(f->re, t + name, name_len);
		if (num >= 0)
			add_group(out, m, (uint32_t)num, subject);
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
filter_apply(const struct filter *f, struct filter_match *m, const char *tag,
             size_t len, struct buf *value)
{
	int rc = regex_exec(f->re, m->m, tag, len);

	/* a tag that reaches the match limit fails that tag, not the run */
	m->matched = rc == 1;
	if (rc == 0 || rc == -ERR_INVALID)
		return 0;
	if (rc < 0)
		return rc;
	if (value == NULL)
		return 1;
	buf_reset(value);
	if (f->extract == NULL)
		buf_add(value, tag, len);
	else if (filter_expand(f, m, f->extract, f->extract_len, tag, value) <
	         0)
		return -ERR_NOMEM;
	return buf_ok(value) ? 1 : -ERR_NOMEM;
}

/* ---- globs ---- */

enum glob_kind { GLOB_BYTE, GLOB_ANY, GLOB_STAR, GLOB_CLASS };

struct glob_range {
	uint32_t lo, hi;
};

struct glob_item {
	enum glob_kind kind;
	unsigned char byte;
	bool negated;
	struct glob_range *ranges;
	size_t nranges;
};

struct glob {
	struct glob_item *items;
	size_t n;
};

/* utf8.DecodeRuneInString: an invalid byte is U+FFFD of one byte. */
static uint32_t
decode_rune(const unsigned char *s, size_t len, size_t *size)
{
	int32_t r = utf8_decode((const char *)s, len, size);

	return r == UTF8_INVALID ? UTF8_REPLACEMENT : (uint32_t)r;
}

void
glob_free(struct glob *g)
{
	if (g == NULL)
		return;
	for (size_t i = 0; i < g->n; i++)
		free(g->items[i].ranges);
	free(g->items);
	free(g);
}

/* Go's getEsc: one class character, possibly escaped. */
static int
class_char(const unsigned char *p, size_t len, size_t *i, uint32_t *r)
{
	int32_t rune;
	size_t n;

	if (*i >= len || p[*i] == '-' || p[*i] == ']')
		return -1;
	if (p[*i] == '\\') {
		(*i)++;
		if (*i >= len)
			return -1;
	}
	rune = utf8_decode((const char *)p + *i, len - *i, &n);
	if (rune == UTF8_INVALID)
		return -1;
	*r = (uint32_t)rune;
	*i += n;
	if (*i >= len)
		return -1;
	return 0;
}

/*
 * Parses one item of a glob at *i into it.  0, -ERR_INVALID for a malformed
 * glob, -ERR_NOMEM.
 */
static int
glob_item_parse(struct glob_item *it, const unsigned char *p, size_t len,
                size_t *i)
{
	size_t cap = 0;

	switch (p[*i]) {
	case '*':
		it->kind = GLOB_STAR;
		(*i)++;
		return 0;
	case '?':
		it->kind = GLOB_ANY;
		(*i)++;
		return 0;
	case '\\':
		if (*i + 1 >= len)
			return -ERR_INVALID;
		it->kind = GLOB_BYTE;
		it->byte = p[*i + 1];
		*i += 2;
		return 0;
	case '[':
		break;
	default:
		it->kind = GLOB_BYTE;
		it->byte = p[(*i)++];
		return 0;
	}
	it->kind = GLOB_CLASS;
	(*i)++;
	if (*i < len && p[*i] == '^') {
		it->negated = true;
		(*i)++;
	}
	for (;;) {
		struct glob_range r;

		if (*i < len && p[*i] == ']' && it->nranges > 0) {
			(*i)++;
			return 0;
		}
		if (class_char(p, len, i, &r.lo) < 0)
			return -ERR_INVALID;
		r.hi = r.lo;
		if (p[*i] == '-') {
			(*i)++;
			if (class_char(p, len, i, &r.hi) < 0)
				return -ERR_INVALID;
		}
		if (it->nranges == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct glob_range *n =
			        reallocarray(it->ranges, ncap, sizeof(*n));

			if (n == NULL)
				return -ERR_NOMEM;
			it->ranges = n;
			cap = ncap;
		}
		it->ranges[it->nranges++] = r;
	}
}

int
glob_new(struct glob **out, const char *pattern, size_t len, struct err *err)
{
	const unsigned char *p = (const unsigned char *)pattern;
	struct glob *g = NULL;
	size_t i = 0;
	int rc = 0;

	*out = NULL;
	if (len > FILTER_MAX_PATTERN)
		return err_set(err, ERR_INVALID, "glob longer than %d bytes",
		               FILTER_MAX_PATTERN);
	g = calloc(1, sizeof(*g));
	if (g == NULL ||
	    (g->items = calloc(len + 1, sizeof(*g->items))) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	while (i < len) {
		/* the item owns its ranges even when parsing it fails */
		rc = glob_item_parse(&g->items[g->n++], p, len, &i);
		if (rc == -ERR_INVALID) {
			rc = err_set(err, ERR_INVALID, "malformed glob '%.*s'",
			             (int)(len > 200 ? 200 : len), pattern);
			goto out;
		}
		if (rc < 0) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
	}
	*out = g;
	g = NULL;
out:
	glob_free(g);
	return rc;
}

bool
glob_match(const struct glob *g, const char *name, size_t len)
{
	const unsigned char *s = (const unsigned char *)name;
	bool stack_a[130], stack_b[130];
	bool *cur = stack_a, *next = stack_b, *heap = NULL, ok;

	if (len + 1 > sizeof(stack_a)) {
		heap = calloc(2 * (len + 1), sizeof(bool));
		if (heap == NULL)
			return false;
		cur = heap;
		next = heap + len + 1;
	}
	memset(cur, 0, (len + 1) * sizeof(bool));
	cur[0] = true;
	for (size_t k = 0; k < g->n; k++) {
		const struct glob_item *it = &g->items[k];
		bool on = false, any = false;

		memset(next, 0, (len + 1) * sizeof(bool));
		for (size_t i = 0; i <= len; i++) {
			size_t n;
			uint32_t r;
			bool in;

			if (it->kind == GLOB_STAR) {
				/* '*' never crosses a '/' */
				if (cur[i])
					on = true;
				next[i] = on;
				if (i < len && s[i] == '/')
					on = false;
				any |= next[i];
				continue;
			}
			if (!cur[i] || i == len)
				continue;
			switch (it->kind) {
			case GLOB_BYTE:
				if (s[i] == it->byte)
					next[i + 1] = any = true;
				break;
			case GLOB_ANY:
				if (s[i] != '/') {
					decode_rune(s + i, len - i, &n);
					next[i + n] = any = true;
				}
				break;
			case GLOB_CLASS:
				r = decode_rune(s + i, len - i, &n);
				in = false;
				for (size_t j = 0; j < it->nranges; j++)
					if (it->ranges[j].lo <= r &&
					    r <= it->ranges[j].hi)
						in = true;
				if (in != it->negated)
					next[i + n] = any = true;
				break;
			case GLOB_STAR:
				break;
			}
		}
		{
			bool *t = cur;

			cur = next;
			next = t;
		}
		if (!any)
			break;
	}
	ok = cur[len];
	free(heap);
	return ok;
}
