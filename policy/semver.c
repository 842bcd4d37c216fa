/*
 * semver.c - version parsing, precedence, and Masterminds/semver v3
 * constraints, written as small hand parsers (no regular expression runs per
 * tag).  The constraint parser reproduces what Masterminds' regular
 * expressions accept, including their quirks (the hyphen-range rewrite, the
 * parts after a wildcard being ignored, the prerelease rule checked per AND
 * group), because users paste ranges that work in Flux and Argo CD.
 *
 * It does not implement Masterminds' Validate() messages or String().
 */
#define _GNU_SOURCE /* memmem */
#include "policy/semver.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"

enum con_op {
	OP_TILDE_OR_EQUAL, /* "" and "=" */
	OP_NOT_EQUAL,
	OP_GREATER,
	OP_LESS,
	OP_GREATER_EQUAL,
	OP_LESS_EQUAL,
	OP_TILDE,
	OP_CARET,
};

struct con_item {
	enum con_op op;
	struct semver_version con; /* pre points into pre_text */
	char *pre_text;
	bool dirty, minor_dirty, patch_dirty;
};

struct con_group {
	struct con_item *items;
	size_t n;
	bool has_pre; /* some item's version carries a prerelease */
};

struct semver_constraint {
	struct con_group *groups; /* OR of ANDs */
	size_t n;
	bool has_pre;
};

/* Go regexp's \s: [\t\n\f\r ] (no vertical tab). */
static bool
is_space(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r';
}

static bool
is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

/* [0-9A-Za-z-]: a prerelease or metadata identifier character. */
static bool
is_ident(unsigned char c)
{
	return is_digit(c) || (c >= 'a' && c <= 'z') ||
	       (c >= 'A' && c <= 'Z') || c == '-';
}

/* The class [0-9|x|X|\*] of a constraint's version part (it includes '|'). */
static bool
is_cpart(unsigned char c)
{
	return is_digit(c) || c == '|' || c == 'x' || c == 'X' || c == '*';
}

/* strconv.ParseUint(s, 10, 64): digits only, no sign, fits in 64 bits. */
static bool
parse_u64(const char *s, size_t len, uint64_t *out)
{
	uint64_t v = 0;

	if (len == 0)
		return false;
	for (size_t i = 0; i < len; i++) {
		if (!is_digit((unsigned char)s[i]))
			return false;
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(s[i] - '0'), &v))
			return false;
	}
	*out = v;
	return true;
}

static size_t
span_digits(const char *s, size_t len, size_t p)
{
	while (p < len && is_digit((unsigned char)s[p]))
		p++;
	return p;
}

/*
 * Matches ID+(\.ID+)* at p; returns the end, or p when nothing matches.  With
 * strict set, every identifier must be non-empty (always true here) and
 * numeric ones must not have leading zeros.
 */
static size_t
span_idents(const char *s, size_t len, size_t p)
{
	size_t q = p;

	if (q >= len || !is_ident((unsigned char)s[q]))
		return p;
	for (;;) {
		while (q < len && is_ident((unsigned char)s[q]))
			q++;
		if (q + 1 < len && s[q] == '.' &&
		    is_ident((unsigned char)s[q + 1]))
			q++;
		else
			return q;
	}
}

/* Masterminds validatePrerelease: numeric identifiers have no leading 0. */
static bool
prerelease_ok(const char *s, size_t len)
{
	size_t i = 0;

	while (i < len) {
		size_t j = i;
		bool numeric = true;

		while (j < len && s[j] != '.') {
			if (!is_digit((unsigned char)s[j]))
				numeric = false;
			j++;
		}
		if (j == i)
			return false;
		if (numeric && j - i > 1 && s[i] == '0')
			return false;
		i = j + 1;
	}
	return true;
}

/*
 * The part after major.minor.patch, the same in every mode: an optional
 * "-prerelease" and "+build", then the end of the string.  0 or -1.
 */
static int
parse_tail(struct semver_version *out, const char *s, size_t len, size_t p)
{
	size_t q;

	if (p < len && s[p] == '-') {
		q = span_idents(s, len, p + 1);
		if (q == p + 1)
			return -1;
		out->pre = s + p + 1;
		out->pre_len = q - p - 1;
		if (!prerelease_ok(out->pre, out->pre_len))
			return -1;
		p = q;
	}
	if (p < len && s[p] == '+') {
		q = span_idents(s, len, p + 1);
		if (q == p + 1)
			return -1;
		out->meta = s + p + 1;
		out->meta_len = q - p - 1;
		p = q;
	}
	return p == len ? 0 : -1;
}

static int
parse_loose(struct semver_version *out, const char *s, size_t len)
{
	size_t p = 0, q;

	memset(out, 0, sizeof(*out));
	if (len > 0 && s[0] == 'v')
		p = 1;
	q = span_digits(s, len, p);
	if (q == p || !parse_u64(s + p, q - p, &out->major))
		return -1;
	p = q;
	if (p < len && s[p] == '.') {
		q = span_digits(s, len, p + 1);
		if (q == p + 1 || !parse_u64(s + p + 1, q - p - 1, &out->minor))
			return -1;
		p = q;
		if (p < len && s[p] == '.') {
			q = span_digits(s, len, p + 1);
			if (q == p + 1 ||
			    !parse_u64(s + p + 1, q - p - 1, &out->patch))
				return -1;
			p = q;
		}
	}
	return parse_tail(out, s, len, p);
}

/* A numeric part in the strict grammar: "0" or [1-9][0-9]*. */
static bool
strict_number(const char *s, size_t len, uint64_t *out)
{
	if (len > 1 && s[0] == '0')
		return false;
	return parse_u64(s, len, out);
}

static int
parse_strict(struct semver_version *out, const char *s, size_t len)
{
	size_t p = 0, q;
	uint64_t *parts[3];

	memset(out, 0, sizeof(*out));
	parts[0] = &out->major;
	parts[1] = &out->minor;
	parts[2] = &out->patch;
	for (int i = 0; i < 3; i++) {
		if (i > 0) {
			if (p >= len || s[p] != '.')
				return -1;
			p++;
		}
		q = span_digits(s, len, p);
		if (!strict_number(s + p, q - p, parts[i]))
			return -1;
		p = q;
	}
	return parse_tail(out, s, len, p);
}

int
semver_version_parse(struct semver_version *out, const char *s, size_t len,
                     enum semver_mode mode, struct err *err)
{
	int rc = -1;

	switch (mode) {
	case SEMVER_STRICT:
		rc = parse_strict(out, s, len);
		break;
	case SEMVER_FLUX: {
		/* fluxcd/pkg/version: strings.SplitN(tag, ".", 3) must give
		 * three parts, i.e. the tag has at least two dots. */
		const char *dot = memchr(s, '.', len);

		if (dot != NULL &&
		    memchr(dot + 1, '.', len - (size_t)(dot + 1 - s)) != NULL)
			rc = parse_loose(out, s, len);
		break;
	}
	case SEMVER_LOOSE:
		rc = parse_loose(out, s, len);
		break;
	}
	if (rc < 0) {
		if (err != NULL)
			return err_set(err, ERR_INVALID,
			               "'%.*s' is not a semantic version",
			               (int)(len > 200 ? 200 : len), s);
		return -ERR_INVALID;
	}
	return 0;
}

static int
cmp_u64(uint64_t a, uint64_t b)
{
	return a < b ? -1 : a > b ? 1 : 0;
}

/* Masterminds comparePrePart: equal, empty, numeric (fits 64 bits), text. */
static int
compare_pre_part(const char *a, size_t alen, const char *b, size_t blen)
{
	uint64_t an, bn;
	bool anum, bnum;
	int c;

	if (alen == blen && memcmp(a, b, alen) == 0)
		return 0;
	if (alen == 0)
		return -1;
	if (blen == 0)
		return 1;
	anum = parse_u64(a, alen, &an);
	bnum = parse_u64(b, blen, &bn);
	if (!anum && !bnum) {
		c = memcmp(a, b, alen < blen ? alen : blen);
		if (c == 0)
			c = alen < blen ? -1 : 1;
		return c < 0 ? -1 : 1;
	}
	if (!bnum)
		return -1; /* numbers sort below text */
	if (!anum)
		return 1;
	return an > bn ? 1 : -1;
}

/* Masterminds comparePrerelease over dot-separated identifiers. */
static int
compare_prerelease(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t i = 0, j = 0;
	bool amore = true, bmore = true;

	while (amore || bmore) {
		const char *ap = "", *bp = "";
		size_t al = 0, bl = 0;
		int c;

		if (amore) {
			size_t e = i;

			while (e < alen && a[e] != '.')
				e++;
			ap = a + i;
			al = e - i;
			amore = e < alen;
			i = e + 1;
		}
		if (bmore) {
			size_t e = j;

			while (e < blen && b[e] != '.')
				e++;
			bp = b + j;
			bl = e - j;
			bmore = e < blen;
			j = e + 1;
		}
		c = compare_pre_part(ap, al, bp, bl);
		if (c != 0)
			return c;
	}
	return 0;
}

int
semver_version_compare(const struct semver_version *a,
                       const struct semver_version *b)
{
	int c;

	if ((c = cmp_u64(a->major, b->major)) != 0 ||
	    (c = cmp_u64(a->minor, b->minor)) != 0 ||
	    (c = cmp_u64(a->patch, b->patch)) != 0)
		return c;
	if (a->pre_len == 0 && b->pre_len == 0)
		return 0;
	if (a->pre_len == 0)
		return 1;
	if (b->pre_len == 0)
		return -1;
	return compare_prerelease(a->pre, a->pre_len, b->pre, b->pre_len);
}

/* ---- constraints ---- */

/* The spans of one version in a constraint (Masterminds' cvRegex). */
struct cv {
	size_t start, end;       /* the whole version, 'v' included */
	size_t major, major_end; /* group 3 */
	size_t minor, minor_end; /* group 4, with its '.'; empty if absent */
	size_t patch, patch_end; /* group 5, with its '.' */
	size_t pre, pre_end;     /* group 6, with its '-' */
};

static size_t
span_cpart(const char *s, size_t len, size_t p)
{
	while (p < len && is_cpart((unsigned char)s[p]))
		p++;
	return p;
}

/*
 * Matches cvRegex at p, greedily (the only way it can be followed by a
 * separator, an operator or the end).  Returns false when nothing matches.
 */
static bool
cv_match(const char *s, size_t len, size_t p, struct cv *out)
{
	size_t q;

	memset(out, 0, sizeof(*out));
	out->start = p;
	if (p < len && s[p] == 'v')
		p++;
	q = span_cpart(s, len, p);
	if (q == p)
		return false;
	out->major = p;
	out->major_end = p = q;
	out->minor = out->minor_end = p;
	out->patch = out->patch_end = p;
	if (p + 1 < len && s[p] == '.' && is_cpart((unsigned char)s[p + 1])) {
		out->minor = p;
		out->minor_end = p = span_cpart(s, len, p + 1);
		out->patch = out->patch_end = p;
		if (p + 1 < len && s[p] == '.' &&
		    is_cpart((unsigned char)s[p + 1])) {
			out->patch = p;
			out->patch_end = p = span_cpart(s, len, p + 1);
		}
	}
	out->pre = out->pre_end = p;
	if (p < len && s[p] == '-') {
		q = span_idents(s, len, p + 1);
		if (q > p + 1) {
			out->pre = p;
			out->pre_end = p = q;
		}
	}
	if (p < len && s[p] == '+') {
		q = span_idents(s, len, p + 1);
		if (q > p + 1)
			p = q;
	}
	out->end = p;
	return true;
}

static size_t
skip_space(const char *s, size_t len, size_t p)
{
	while (p < len && is_space((unsigned char)s[p]))
		p++;
	return p;
}

/*
 * Masterminds rewriteRange: every leftmost match of
 * \s*(cv)\s+-\s+(cv)\s* in the text becomes ">= A, <= B", replacing the
 * first occurrence of the matched text (which may be an earlier copy).
 */
static int
rewrite_ranges(struct buf *out, const char *s, size_t len)
{
	size_t p = 0;

	buf_add(out, s, len);
	while (p < len) {
		size_t q, a_start, a_end, b_start, b_end, end;
		struct cv a, b;
		struct buf t = BUF_INIT;
		char *hit;

		q = skip_space(s, len, p);
		if (!cv_match(s, len, q, &a))
			goto next;
		a_start = a.start;
		a_end = a.end;
		q = skip_space(s, len, a_end);
		if (q == a_end || q >= len || s[q] != '-')
			goto next;
		b_start = skip_space(s, len, q + 1);
		if (b_start == q + 1 || !cv_match(s, len, b_start, &b))
			goto next;
		b_end = b.end;
		end = skip_space(s, len, b_end);
		buf_puts(&t, ">= ");
		buf_add(&t, s + a_start, a_end - a_start);
		buf_puts(&t, ", <= ");
		buf_add(&t, s + b_start, b_end - b_start);
		/* Masterminds 3.2.1 (#199, commit b1bb761) ends the rewrite
		 * with a space, so that a constraint after the range stays a
		 * separate item instead of being glued to B */
		buf_putc(&t, ' ');
		hit = memmem(out->ptr, out->len, s + p, end - p);
		if (hit != NULL && buf_ok(&t)) {
			size_t at = (size_t)(hit - out->ptr);
			struct buf n = BUF_INIT;

			buf_add(&n, out->ptr, at);
			buf_add(&n, t.ptr, t.len);
			buf_add(&n, out->ptr + at + (end - p),
			        out->len - at - (end - p));
			if (!buf_ok(&n)) {
				buf_release(&n);
				buf_release(&t);
				return -ERR_NOMEM;
			}
			buf_release(out);
			*out = n;
		}
		if (!buf_ok(&t)) {
			buf_release(&t);
			return -ERR_NOMEM;
		}
		buf_release(&t);
		p = end;
		continue;
	next:
		p++;
	}
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

static bool
is_x(const char *s, size_t len)
{
	return len == 1 && (s[0] == 'x' || s[0] == 'X' || s[0] == '*');
}

/* Masterminds parseConstraint for one operator and version. */
static int
item_init(struct con_item *it, enum con_op op, const char *s,
          const struct cv *cv, struct err *err)
{
	struct buf ver = BUF_INIT;
	const char *pre = s + cv->pre;
	size_t pre_len = cv->pre_end - cv->pre;
	struct semver_version v;

	memset(it, 0, sizeof(*it));
	it->op = op;
	if (is_x(s + cv->major, cv->major_end - cv->major)) {
		buf_puts(&ver, "0.0.0");
		buf_add(&ver, pre, pre_len);
		it->dirty = true;
	} else if (cv->minor_end == cv->minor ||
	           is_x(s + cv->minor + 1, cv->minor_end - cv->minor - 1)) {
		buf_add(&ver, s + cv->major, cv->major_end - cv->major);
		buf_puts(&ver, ".0.0");
		buf_add(&ver, pre, pre_len);
		it->dirty = it->minor_dirty = true;
	} else if (cv->patch_end == cv->patch ||
	           is_x(s + cv->patch + 1, cv->patch_end - cv->patch - 1)) {
		buf_add(&ver, s + cv->major, cv->minor_end - cv->major);
		buf_puts(&ver, ".0");
		buf_add(&ver, pre, pre_len);
		it->dirty = it->patch_dirty = true;
	} else {
		buf_add(&ver, s + cv->start, cv->end - cv->start);
	}
	if (!buf_ok(&ver)) {
		buf_release(&ver);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	if (parse_loose(&v, ver.ptr, ver.len) < 0) {
		int rc = err_set(err, ERR_INVALID,
		                 "invalid version '%.*s' in constraint",
		                 (int)(cv->end - cv->start), s + cv->start);

		buf_release(&ver);
		return rc;
	}
	it->con = v;
	it->con.meta = NULL;
	it->con.meta_len = 0;
	if (v.pre != NULL) {
		it->pre_text = malloc(v.pre_len + 1);
		if (it->pre_text == NULL) {
			buf_release(&ver);
			return err_set(err, ERR_NOMEM, "out of memory");
		}
		memcpy(it->pre_text, v.pre, v.pre_len);
		it->pre_text[v.pre_len] = '\0';
		it->con.pre = it->pre_text;
	}
	buf_release(&ver);
	return 0;
}

/* Reads an operator at p (two-character ones first); returns its end. */
static size_t
read_op(const char *s, size_t len, size_t p, enum con_op *op)
{
	static const struct {
		const char *text;
		enum con_op op;
	} ops[] = {
		{ "!=", OP_NOT_EQUAL },     { ">=", OP_GREATER_EQUAL },
		{ "=>", OP_GREATER_EQUAL }, { "<=", OP_LESS_EQUAL },
		{ "=<", OP_LESS_EQUAL },    { "~>", OP_TILDE },
		{ "=", OP_TILDE_OR_EQUAL }, { ">", OP_GREATER },
		{ "<", OP_LESS },           { "~", OP_TILDE },
		{ "^", OP_CARET },
	};

	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++) {
		size_t n = strlen(ops[i].text);

		if (len - p >= n && memcmp(s + p, ops[i].text, n) == 0) {
			*op = ops[i].op;
			return p + n;
		}
	}
	*op = OP_TILDE_OR_EQUAL;
	return p;
}

/*
 * One "||" segment: Masterminds' validConstraintRegex
 *   ^\s*OP\s*CV\s*((\s+|,\s*)OP\s*CV\s*)*$
 * and then one item per findConstraintRegex match, which for a valid segment
 * are exactly the items of that grammar.
 */
static int
group_parse(struct con_group *g, const char *s, size_t len, struct err *err)
{
	size_t p = 0, cap = 0;
	int rc;

	g->items = NULL;
	g->n = 0;
	p = skip_space(s, len, 0);
	for (;;) {
		enum con_op op;
		struct cv cv;
		size_t q;

		q = read_op(s, len, p, &op);
		q = skip_space(s, len, q);
		if (!cv_match(s, len, q, &cv))
			goto improper;
		if (g->n == cap) {
			size_t ncap = cap ? cap * 2 : 4;
			struct con_item *n =
			        reallocarray(g->items, ncap, sizeof(*n));

			if (n == NULL)
				return err_set(err, ERR_NOMEM, "out of memory");
			g->items = n;
			cap = ncap;
		}
		rc = item_init(&g->items[g->n], op, s, &cv, err);
		if (rc < 0)
			return rc;
		g->n++;
		p = skip_space(s, len, cv.end);
		if (p == len)
			return 0;
		if (s[p] == ',')
			p = skip_space(s, len, p + 1);
		else if (p == cv.end)
			goto improper;
	}
improper:
	return err_set(err, ERR_INVALID, "improper constraint: '%.*s'",
	               (int)(len > 200 ? 200 : len), s);
}

void
semver_constraint_free(struct semver_constraint *c)
{
	if (c == NULL)
		return;
	for (size_t i = 0; i < c->n; i++) {
		for (size_t j = 0; j < c->groups[i].n; j++)
			free(c->groups[i].items[j].pre_text);
		free(c->groups[i].items);
	}
	free(c->groups);
	free(c);
}

int
semver_constraint_new(struct semver_constraint **out, const char *s, size_t len,
                      struct err *err)
{
	struct semver_constraint *c = NULL;
	struct buf text = BUF_INIT;
	size_t nor = 1, p = 0;
	int rc;

	*out = NULL;
	if (len > SEMVER_MAX_CONSTRAINT) {
		rc = err_set(err, ERR_INVALID,
		             "constraint is %zu bytes long (limit %d)", len,
		             SEMVER_MAX_CONSTRAINT);
		goto out;
	}
	if (memchr(s, '\0', len) != NULL) {
		rc = err_set(err, ERR_INVALID,
		             "constraint contains a NUL byte");
		goto out;
	}
	rc = rewrite_ranges(&text, s, len);
	if (rc < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t i = 0; i + 1 < text.len; i++)
		if (text.ptr[i] == '|' && text.ptr[i + 1] == '|') {
			nor++;
			i++;
		}
	c = calloc(1, sizeof(*c));
	if (c == NULL ||
	    (c->groups = calloc(nor, sizeof(*c->groups))) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	for (size_t k = 0; k < nor; k++) {
		const char *bar = NULL;
		size_t end;

		for (size_t i = p; i + 1 < text.len; i++)
			if (text.ptr[i] == '|' && text.ptr[i + 1] == '|') {
				bar = text.ptr + i;
				break;
			}
		end = bar != NULL ? (size_t)(bar - text.ptr) : text.len;
		rc = group_parse(&c->groups[k], text.ptr + p, end - p, err);
		c->n = k + 1;
		if (rc < 0)
			goto out;
		for (size_t j = 0; j < c->groups[k].n; j++)
			if (c->groups[k].items[j].con.pre_len > 0)
				c->has_pre = c->groups[k].has_pre = true;
		p = end + 2;
	}
	*out = c;
	c = NULL;
	rc = 0;
out:
	semver_constraint_free(c);
	buf_release(&text);
	return rc;
}

bool
semver_constraint_has_prerelease(const struct semver_constraint *c)
{
	return c->has_pre;
}

static bool
pre_equal_or_empty_cmp(const struct semver_version *v,
                       const struct semver_version *con)
{
	/* comparePrerelease(v.pre, con.pre) != 0 with empty strings allowed */
	return compare_prerelease(v->pre_len ? v->pre : "", v->pre_len,
	                          con->pre_len ? con->pre : "",
	                          con->pre_len) != 0;
}

static bool
check_tilde(const struct semver_version *v, const struct con_item *c)
{
	const struct semver_version *k = &c->con;

	if (semver_version_compare(v, k) < 0)
		return false;
	/* ~0.0.0 (and ~*, ~x) accepts everything at or above it */
	if (k->major == 0 && k->minor == 0 && k->patch == 0 &&
	    !c->minor_dirty && !c->patch_dirty)
		return true;
	if (v->major != k->major)
		return false;
	if (v->minor != k->minor && !c->minor_dirty)
		return false;
	return true;
}

static bool
check_not_equal(const struct semver_version *v, const struct con_item *c)
{
	const struct semver_version *k = &c->con;

	if (c->dirty) {
		if (v->major != k->major)
			return true;
		if (v->minor != k->minor && !c->minor_dirty)
			return true;
		else if (c->minor_dirty)
			return false;
		else if (v->patch != k->patch && !c->patch_dirty)
			return true;
		else if (c->patch_dirty) {
			if (v->pre_len > 0 || k->pre_len > 0)
				return pre_equal_or_empty_cmp(v, k);
			return false;
		}
	}
	return semver_version_compare(v, k) != 0;
}

static bool
check_greater(const struct semver_version *v, const struct con_item *c)
{
	const struct semver_version *k = &c->con;

	if (!c->dirty)
		return semver_version_compare(v, k) > 0;
	if (v->major > k->major)
		return true;
	if (v->major < k->major)
		return false;
	if (c->minor_dirty)
		return false;
	if (c->patch_dirty)
		return v->minor > k->minor;
	return semver_version_compare(v, k) > 0;
}

static bool
check_less_equal(const struct semver_version *v, const struct con_item *c)
{
	const struct semver_version *k = &c->con;

	if (!c->dirty)
		return semver_version_compare(v, k) <= 0;
	if (v->major > k->major)
		return false;
	if (v->major == k->major && v->minor > k->minor && !c->minor_dirty)
		return false;
	return true;
}

static bool
check_caret(const struct semver_version *v, const struct con_item *c)
{
	const struct semver_version *k = &c->con;

	if (semver_version_compare(v, k) < 0)
		return false;
	if (k->major > 0 || c->minor_dirty)
		return v->major == k->major;
	if (v->major > 0)
		return false;
	if (k->minor > 0 || c->patch_dirty)
		return v->minor == k->minor;
	if (v->minor > 0)
		return false;
	return v->patch == k->patch;
}

/*
 * One comparison.  include_pre is Masterminds 3.4's group rule (#267,
 * commit abab1c2): a version with a prerelease passes no comparison of an
 * AND group unless some comparison of that group carries a prerelease;
 * every operator applies it, '!=' included.
 */
static bool
item_check(const struct con_item *c, const struct semver_version *v,
           bool include_pre)
{
	if (v->pre_len > 0 && !include_pre)
		return false;
	switch (c->op) {
	case OP_NOT_EQUAL:
		return check_not_equal(v, c);
	case OP_TILDE_OR_EQUAL:
		if (c->dirty)
			return check_tilde(v, c);
		return semver_version_compare(v, &c->con) == 0;
	case OP_GREATER:
		return check_greater(v, c);
	case OP_LESS:
		return semver_version_compare(v, &c->con) < 0;
	case OP_GREATER_EQUAL:
		return semver_version_compare(v, &c->con) >= 0;
	case OP_LESS_EQUAL:
		return check_less_equal(v, c);
	case OP_TILDE:
		return check_tilde(v, c);
	case OP_CARET:
		return check_caret(v, c);
	}
	return false;
}

bool
semver_constraint_check(const struct semver_constraint *c,
                        const struct semver_version *v)
{
	for (size_t i = 0; i < c->n; i++) {
		bool ok = true;

		for (size_t j = 0; j < c->groups[i].n && ok; j++)
			ok = item_check(&c->groups[i].items[j], v,
			                c->groups[i].has_pre);
		if (ok)
			return true;
	}
	return false;
}
