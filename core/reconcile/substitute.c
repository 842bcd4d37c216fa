/*
 * substitute.c - Flux's postBuild.substitute: ${VAR} expressions in the
 * rendered objects replaced by the Kustomization's variables, with the
 * bash string forms Flux's envsubst knows (defaults, length, case,
 * substrings, prefix and suffix removal, replacement; patterns are taken
 * literally, never as globs).  "$$" is an escaped "$"; a bare $VAR is not
 * substituted, so scripts in ConfigMaps keep theirs.
 *
 * It does not read the environment: only the given variables exist.
 */
#include "reconcile.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static bool
name_start(char c)
{
	return c == '_' || isalpha((unsigned char)c);
}

static bool
name_char(char c)
{
	return c == '_' || isalnum((unsigned char)c);
}

int
reconcile_vars_check(const struct config_strmap *vars, struct err *err)
{
	for (size_t i = 0; vars && i < vars->n; i++) {
		const char *k = vars->keys[i];
		bool ok = name_start(k[0]);
		for (const char *p = k + 1; ok && *p; p++)
			ok = name_char(*p);
		if (!ok)
			return err_set(
			        err, ERR_INVALID,
			        "spec.postBuild.substitute: '%s' is not "
			        "a variable name (letters, digits and _, "
			        "not starting with a digit)",
			        k);
	}
	return 0;
}

static const char *
lookup(const struct config_strmap *vars, const char *name, size_t len)
{
	for (size_t i = 0; vars && i < vars->n; i++)
		if (strlen(vars->keys[i]) == len &&
		    memcmp(vars->keys[i], name, len) == 0)
			return vars->values[i];
	return NULL;
}

/* Line number of p in text, for messages. */
static int
line_of(const char *text, const char *p)
{
	int line = 1;

	for (const char *q = text; q < p; q++)
		line += *q == '\n';
	return line;
}

/* The end of the ${...} that starts at p (at '$'), honouring nested
 * ${...}; NULL when it does not end. */
static const char *
close_brace(const char *p, const char *end)
{
	int depth = 0;

	for (const char *q = p; q < end; q++) {
		if (*q == '$' && q + 1 < end && q[1] == '{') {
			depth++;
			q++;
		} else if (*q == '}' && --depth == 0) {
			return q;
		}
	}
	return NULL;
}

static int expand(struct buf *out, const char *text, const char *p,
                  const char *end, const struct config_strmap *vars, int depth,
                  struct err *err);

/* Expands word[0..n) (a default, which may hold ${...}) into out. */
static int
expand_word(struct buf *out, const char *text, const char *w, size_t n,
            const struct config_strmap *vars, int depth, struct err *err)
{
	if (depth > RECONCILE_MAX_DEPTH)
		return err_set(err, ERR_INVALID,
		               "line %d: ${...} nested more than %d deep",
		               line_of(text, w), RECONCILE_MAX_DEPTH);
	return expand(out, text, w, w + n, vars, depth + 1, err);
}

/* Reads a decimal (optionally negative) integer; false when none. */
static bool
read_int(const char **p, const char *end, long *out)
{
	const char *q = *p;
	bool neg = false;
	long v = 0;

	while (q < end && *q == ' ')
		q++;
	if (q < end && (*q == '-' || *q == '+'))
		neg = *q++ == '-';
	if (q >= end || !isdigit((unsigned char)*q))
		return false;
	while (q < end && isdigit((unsigned char)*q) && v < 1000000000)
		v = v * 10 + (*q++ - '0');
	*out = neg ? -v : v;
	*p = q;
	return true;
}

/* A substring of value (UTF-8 unaware, as envsubst on bytes). */
static void
put_slice(struct buf *out, const char *v, long off, long len, bool has_len)
{
	long n = (long)strlen(v);

	if (off < 0)
		off = n + off < 0 ? 0 : n + off;
	if (off > n)
		off = n;
	if (!has_len || off + len > n)
		len = n - off;
	if (len < 0)
		len = 0;
	buf_add(out, v + off, (size_t)len);
}

/* One ${...} expression: name[0..nlen), then op..end (before '}'). */
static int
expression(struct buf *out, const char *text, const char *name, size_t nlen,
           const char *op, const char *end, const struct config_strmap *vars,
           int depth, struct err *err)
{
	const char *v = lookup(vars, name, nlen);
	const char *val = v ? v : "";
	struct buf pat = BUF_INIT, rep = BUF_INIT;
	int rc = 0;

	if (op == end) {
		buf_puts(out, val);
		return 0;
	}
	switch (*op) {
	case ':':
		if (op + 1 < end && (op[1] == '-' || op[1] == '=')) {
			if (v && *v)
				buf_puts(out, v);
			else
				rc = expand_word(out, text, op + 2,
				                 (size_t)(end - op - 2), vars,
				                 depth, err);
		} else {
			const char *q = op + 1;
			long off = 0, len = 0;
			bool has_len = false;
			if (!read_int(&q, end, &off))
				goto bad;
			if (q < end && *q == ':') {
				q++;
				if (!read_int(&q, end, &len))
					goto bad;
				has_len = true;
			}
			if (q != end)
				goto bad;
			put_slice(out, val, off, len, has_len);
		}
		break;
	case '-':
	case '=':
		if (v)
			buf_puts(out, v);
		else
			rc = expand_word(out, text, op + 1,
			                 (size_t)(end - op - 1), vars, depth,
			                 err);
		break;
	case '^':
	case ',': {
		bool all = op + 1 < end && op[1] == op[0];
		if (op + (all ? 2 : 1) != end)
			goto bad;
		for (const char *c = val; *c; c++) {
			int ch = (unsigned char)*c;
			if (all || c == val)
				ch = *op == '^' ? toupper(ch) : tolower(ch);
			buf_putc(out, (char)ch);
		}
		break;
	}
	case '#':
	case '%': {
		bool longest = op + 1 < end && op[1] == op[0];
		size_t vl = strlen(val), pl;
		const char *s = op + (longest ? 2 : 1);
		if ((rc = expand_word(&pat, text, s, (size_t)(end - s), vars,
		                      depth, err)) < 0)
			break;
		pl = pat.len;
		/* literal patterns: shortest and longest are the same */
		if (pl <= vl && *op == '#' &&
		    memcmp(val, pat.ptr ? pat.ptr : "", pl) == 0)
			buf_puts(out, val + pl);
		else if (pl <= vl && *op == '%' &&
		         memcmp(val + vl - pl, pat.ptr ? pat.ptr : "", pl) == 0)
			buf_add(out, val, vl - pl);
		else
			buf_puts(out, val);
		break;
	}
	case '/': {
		const char *s = op + 1, *slash;
		char mode = 0; /* '/': all, '#': prefix, '%': suffix */
		size_t vl = strlen(val);
		if (s < end && (*s == '/' || *s == '#' || *s == '%'))
			mode = *s++;
		slash = memchr(s, '/', (size_t)(end - s));
		if ((rc = expand_word(&pat, text, s,
		                      (size_t)((slash ? slash : end) - s), vars,
		                      depth, err)) < 0)
			break;
		if (slash && (rc = expand_word(&rep, text, slash + 1,
		                               (size_t)(end - slash - 1), vars,
		                               depth, err)) < 0)
			break;
		if (pat.len == 0 || pat.len > vl) {
			buf_puts(out, val);
			break;
		}
		if (mode == '#') {
			if (memcmp(val, pat.ptr, pat.len) == 0) {
				buf_add(out, rep.ptr ? rep.ptr : "", rep.len);
				buf_puts(out, val + pat.len);
			} else {
				buf_puts(out, val);
			}
			break;
		}
		if (mode == '%') {
			if (memcmp(val + vl - pat.len, pat.ptr, pat.len) == 0) {
				buf_add(out, val, vl - pat.len);
				buf_add(out, rep.ptr ? rep.ptr : "", rep.len);
			} else {
				buf_puts(out, val);
			}
			break;
		}
		for (const char *c = val; *c;) {
			const char *hit = strstr(c, pat.ptr);
			if (hit == NULL) {
				buf_puts(out, c);
				break;
			}
			buf_add(out, c, (size_t)(hit - c));
			buf_add(out, rep.ptr ? rep.ptr : "", rep.len);
			c = hit + pat.len;
			if (mode != '/') {
				buf_puts(out, c);
				break;
			}
		}
		break;
	}
	default:
		goto bad;
	}
	buf_release(&pat);
	buf_release(&rep);
	return rc;
bad:
	buf_release(&pat);
	buf_release(&rep);
	return err_set(err, ERR_INVALID,
	               "line %d: '${%.*s%.*s}' is not a substitution ferry "
	               "knows",
	               line_of(text, name), (int)nlen, name, (int)(end - op),
	               op);
}

static int
expand(struct buf *out, const char *text, const char *p, const char *end,
       const struct config_strmap *vars, int depth, struct err *err)
{
	int rc;

	while (p < end) {
		const char *d = memchr(p, '$', (size_t)(end - p)), *close,
		           *name, *n;

		if (d == NULL) {
			buf_add(out, p, (size_t)(end - p));
			break;
		}
		buf_add(out, p, (size_t)(d - p));
		if (d + 1 < end && d[1] == '$') {
			buf_putc(out, '$');
			p = d + 2;
			continue;
		}
		if (d + 1 >= end || d[1] != '{') {
			buf_putc(out, '$');
			p = d + 1;
			continue;
		}
		if ((close = close_brace(d, end)) == NULL)
			return err_set(err, ERR_INVALID,
			               "line %d: '${' without its '}'",
			               line_of(text, d));
		name = d + 2;
		if (name < close && *name == '#' && name + 1 < close &&
		    name_start(name[1])) {
			/* ${#NAME}: the length of the value */
			const char *v;
			for (n = name + 2; n < close && name_char(*n); n++)
				;
			if (n != close)
				return err_set(err, ERR_INVALID,
				               "line %d: bad '${#...}'",
				               line_of(text, d));
			v = lookup(vars, name + 1, (size_t)(n - name - 1));
			buf_addf(out, "%zu", v ? strlen(v) : 0);
			p = close + 1;
			continue;
		}
		if (name >= close || !name_start(*name)) {
			/* not an expression: keep it as written */
			buf_add(out, d, (size_t)(close + 1 - d));
			p = close + 1;
			continue;
		}
		for (n = name; n < close && name_char(*n); n++)
			;
		if ((rc = expression(out, text, name, (size_t)(n - name), n,
		                     close, vars, depth, err)) < 0)
			return rc;
		p = close + 1;
	}
	return buf_ok(out) ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

int
reconcile_substitute(struct buf *out, const char *text, size_t len,
                     const struct config_strmap *vars, struct err *err)
{
	return expand(out, text, text, text + len, vars, 0, err);
}
