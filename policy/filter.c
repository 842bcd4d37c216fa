/*
 * filter.c - PCRE2 tag patterns with Go ExpandString templates, and Go
 * filepath.Match globs.  PCRE2 is wrapped here and nowhere else in policy/.
 *
 * A pattern is compiled once (JIT when the platform has it); each thread
 * matches with its own match data.  Globs are compiled into a list of items
 * and matched with a table over byte positions, so a pattern full of '*'
 * cannot backtrack exponentially.
 */
#include "policy/filter.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "base/utf8.h"

struct filter_name {
	char *name;
	size_t len;
	uint32_t group;
};

struct filter {
	pcre2_code *code;
	pcre2_match_context *mctx;
	char *extract; /* NULL: keep the whole tag */
	size_t extract_len;
	struct filter_name *names;
	size_t nnames;
	uint32_t ngroups; /* capture groups, not counting group 0 */
};

struct filter_match {
	pcre2_match_data *md;
	int rc; /* result of the last pcre2_match */
};

void
filter_free(struct filter *f)
{
	if (f == NULL)
		return;
	pcre2_code_free(f->code);
	pcre2_match_context_free(f->mctx);
	free(f->extract);
	for (size_t i = 0; i < f->nnames; i++)
		free(f->names[i].name);
	free(f->names);
	free(f);
}

static int
load_names(struct filter *f, struct err *err)
{
	uint32_t count = 0, entry = 0;
	PCRE2_SPTR table = NULL;

	pcre2_pattern_info(f->code, PCRE2_INFO_CAPTURECOUNT, &f->ngroups);
	pcre2_pattern_info(f->code, PCRE2_INFO_NAMECOUNT, &count);
	if (count == 0)
		return 0;
	pcre2_pattern_info(f->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
	pcre2_pattern_info(f->code, PCRE2_INFO_NAMETABLE, &table);
	f->names = calloc(count, sizeof(*f->names));
	if (f->names == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < count; i++) {
		PCRE2_SPTR e = table + (size_t)i * entry;
		const char *name = (const char *)e + 2;
		size_t len = strnlen(name, entry - 2);

		f->names[i].group = ((uint32_t)e[0] << 8) | e[1];
		f->names[i].name = strndup(name, len);
		if (f->names[i].name == NULL)
			return err_set(err, ERR_NOMEM, "out of memory");
		f->names[i].len = len;
		f->nnames = i + 1;
	}
	return 0;
}

int
filter_new(struct filter **out, const char *pattern, size_t len,
           const char *extract, size_t extract_len, struct err *err)
{
	struct filter *f = NULL;
	int errcode = 0, rc;
	PCRE2_SIZE erroff = 0;

	*out = NULL;
	if (len > FILTER_MAX_PATTERN || extract_len > FILTER_MAX_PATTERN)
		return err_set(err, ERR_INVALID,
		               "pattern or template longer than %d bytes",
		               FILTER_MAX_PATTERN);
	f = calloc(1, sizeof(*f));
	if (f == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	/* Go's '$' matches only at the end of the text, and Go reads invalid
	 * UTF-8 in a subject as U+FFFD instead of failing. */
	f->code = pcre2_compile((PCRE2_SPTR)pattern, len,
	                        PCRE2_UTF | PCRE2_MATCH_INVALID_UTF |
	                                PCRE2_DOLLAR_ENDONLY |
	                                PCRE2_NEVER_BACKSLASH_C,
	                        &errcode, &erroff, NULL);
	if (f->code == NULL) {
		PCRE2_UCHAR msg[256];

		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			msg[0] = '\0';
		rc = err_set(err, ERR_INVALID,
		             "invalid pattern '%.*s': offset %zu: %s",
		             (int)(len > 200 ? 200 : len), pattern,
		             (size_t)erroff, (const char *)msg);
		goto out;
	}
	/* Without JIT support the interpreter runs; same answers, slower. */
	(void)pcre2_jit_compile(f->code, PCRE2_JIT_COMPLETE);
	f->mctx = pcre2_match_context_create(NULL);
	if (f->mctx == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	pcre2_set_match_limit(f->mctx, FILTER_MATCH_LIMIT);
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
	rc = load_names(f, err);
	if (rc < 0)
		goto out;
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

	*out = NULL;
	if (m == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	m->md = pcre2_match_data_create_from_pattern(f->code, NULL);
	if (m->md == NULL) {
		free(m);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	*out = m;
	return 0;
}

void
filter_match_free(struct filter_match *m)
{
	if (m == NULL)
		return;
	pcre2_match_data_free(m->md);
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
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);

	if (m->rc <= 0 || g >= (uint32_t)m->rc)
		return;
	if (ov[2 * g] == PCRE2_UNSET || ov[2 * g + 1] < ov[2 * g])
		return;
	buf_add(out, subject + ov[2 * g], ov[2 * g + 1] - ov[2 * g]);
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
			if ((uint64_t)num <= f->ngroups)
				add_group(out, m, (uint32_t)num, subject);
			continue;
		}
		for (size_t k = 0; k < f->nnames; k++)
			if (f->names[k].len == name_len &&
			    memcmp(f->names[k].name, t + name, name_len) == 0) {
				add_group(out, m, f->names[k].group, subject);
				break;
			}
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
filter_apply(const struct filter *f, struct filter_match *m, const char *tag,
             size_t len, struct buf *value)
{
	m->rc = pcre2_match(f->code, (PCRE2_SPTR)tag, len, 0, 0, m->md,
	                    f->mctx);
	if (m->rc <= 0)
		return 0;
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
