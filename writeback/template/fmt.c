/*
 * fmt.c - the part of Go's fmt package templates reach: printing a
 * value as %v does (what {{.x}} and print show), Sprint/Sprintln spacing,
 * Sprintf with the verbs b c d e E f F g G o O q s t U v x X, widths,
 * precisions, flags (# 0 + - space) and '*', fmt's error forms
 * (%!d(string=x), %!d(MISSING), %!(EXTRA ...)), and strconv.Quote.
 *
 * Complex numbers (only constants such as 1i make them) print as fmt's
 * fmtComplex does: "(" real, imaginary with its sign, "i)".  Not covered:
 * %p.  Unicode printability for %q follows the common ranges, not Go's
 * full tables.
 */
#include "writeback/template/template_int.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tfmt_spec {
	bool minus, plus, sharp, space, zero, plus_v, sharp_v;
	bool has_width, has_prec;
	int width, prec;
};

static const char lowerhex[] = "0123456789abcdef";
static const char upperhex[] = "0123456789ABCDEF";

/* Decodes one UTF-8 rune at s (n > 0); *size gets its length. -1 when
 * invalid (size 1), as Go's utf8.DecodeRune gives RuneError. */
long
tfmt_utf8_decode(const unsigned char *s, size_t n, size_t *size)
{
	long r;
	size_t need, i;

	*size = 1;
	if (s[0] < 0x80)
		return s[0];
	if ((s[0] & 0xe0) == 0xc0) {
		r = s[0] & 0x1f;
		need = 2;
	} else if ((s[0] & 0xf0) == 0xe0) {
		r = s[0] & 0x0f;
		need = 3;
	} else if ((s[0] & 0xf8) == 0xf0) {
		r = s[0] & 0x07;
		need = 4;
	} else {
		return -1;
	}
	if (n < need)
		return -1;
	for (i = 1; i < need; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		r = (r << 6) | (s[i] & 0x3f);
	}
	if ((need == 2 && r < 0x80) || (need == 3 && r < 0x800) ||
	    (need == 4 && r < 0x10000) || r > 0x10ffff ||
	    (r >= 0xd800 && r <= 0xdfff))
		return -1;
	*size = need;
	return r;
}

static size_t
utf8_count(const char *s, size_t n)
{
	size_t count = 0, i = 0, size;

	while (i < n) {
		tfmt_utf8_decode((const unsigned char *)s + i, n - i, &size);
		i += size;
		count++;
	}
	return count;
}

static void
utf8_put(struct buf *b, long r)
{
	char t[4];

	if (r < 0 || r > 0x10ffff || (r >= 0xd800 && r <= 0xdfff))
		r = 0xfffd;
	if (r < 0x80) {
		buf_putc(b, (char)r);
	} else if (r < 0x800) {
		t[0] = (char)(0xc0 | (r >> 6));
		t[1] = (char)(0x80 | (r & 0x3f));
		buf_add(b, t, 2);
	} else if (r < 0x10000) {
		t[0] = (char)(0xe0 | (r >> 12));
		t[1] = (char)(0x80 | ((r >> 6) & 0x3f));
		t[2] = (char)(0x80 | (r & 0x3f));
		buf_add(b, t, 3);
	} else {
		t[0] = (char)(0xf0 | (r >> 18));
		t[1] = (char)(0x80 | ((r >> 12) & 0x3f));
		t[2] = (char)(0x80 | ((r >> 6) & 0x3f));
		t[3] = (char)(0x80 | (r & 0x3f));
		buf_add(b, t, 4);
	}
}

/* unicode.IsPrint, for the ranges a commit message meets. */
bool
tfmt_rune_printable(long r)
{
	if (r < 0x20 || (r >= 0x7f && r <= 0xa0) || r == 0xad)
		return false;
	if ((r >= 0x2000 && r <= 0x200f) || (r >= 0x2028 && r <= 0x202f) ||
	    (r >= 0x205f && r <= 0x206f) || r == 0x3000 || r == 0xfeff ||
	    (r >= 0xfff9 && r <= 0xfffb) || r == 0xfffe || r == 0xffff ||
	    (r >= 0xe000 && r <= 0xf8ff) || r >= 0xf0000)
		return false;
	return true;
}

static void
quote_with(struct buf *b, const char *s, size_t n, char q)
{
	size_t i = 0, size;

	buf_putc(b, q);
	while (i < n) {
		unsigned char c = (unsigned char)s[i];
		long r = tfmt_utf8_decode((const unsigned char *)s + i, n - i,
		                          &size);

		if (r < 0) {
			buf_addf(b, "\\x%c%c", lowerhex[c >> 4],
			         lowerhex[c & 15]);
			i++;
			continue;
		}
		i += size;
		if (r == q || r == '\\') {
			buf_putc(b, '\\');
			buf_putc(b, (char)r);
		} else if (tfmt_rune_printable(r)) {
			utf8_put(b, r);
		} else {
			switch (r) {
			case '\a':
				buf_puts(b, "\\a");
				break;
			case '\b':
				buf_puts(b, "\\b");
				break;
			case '\f':
				buf_puts(b, "\\f");
				break;
			case '\n':
				buf_puts(b, "\\n");
				break;
			case '\r':
				buf_puts(b, "\\r");
				break;
			case '\t':
				buf_puts(b, "\\t");
				break;
			case '\v':
				buf_puts(b, "\\v");
				break;
			default:
				if (r < ' ' || r == 0x7f)
					buf_addf(b, "\\x%c%c",
					         lowerhex[(r >> 4) & 15],
					         lowerhex[r & 15]);
				else if (r < 0x10000)
					buf_addf(b, "\\u%04lx", r);
				else
					buf_addf(b, "\\U%08lx", r);
			}
		}
	}
	buf_putc(b, q);
}

void
tfmt_quote(struct buf *b, const char *s, size_t n)
{
	quote_with(b, s, n, '"');
}

/* ---- floats ---- */

/* Shortest decimal digits that read back as f (f finite, > 0): digits
 * into d (NUL-terminated, no trailing zeros), decimal point position. */
static void
float_shortest(double f, char *d, int *dp)
{
	char tmp[40];
	int p, exp = 0;
	size_t n = 0;

	for (p = 1; p <= 17; p++) {
		snprintf(tmp, sizeof(tmp), "%.*e", p - 1, f);
		if (strtod(tmp, NULL) == f)
			break;
	}
	for (const char *c = tmp; *c && *c != 'e'; c++)
		if (*c >= '0' && *c <= '9')
			d[n++] = *c;
	d[n] = '\0';
	exp = (int)strtol(strchr(tmp, 'e') + 1, NULL, 10);
	while (n > 1 && d[n - 1] == '0')
		d[--n] = '\0';
	*dp = exp + 1;
}

static void
float_digits_e(struct buf *b, const char *d, int dp, char e)
{
	int exp = dp - 1;

	buf_putc(b, d[0]);
	if (d[1]) {
		buf_putc(b, '.');
		buf_puts(b, d + 1);
	}
	buf_addf(b, "%c%c%02d", e, exp < 0 ? '-' : '+', exp < 0 ? -exp : exp);
}

static void
float_digits_f(struct buf *b, const char *d, int dp)
{
	int nd = (int)strlen(d);

	if (dp <= 0) {
		buf_puts(b, "0.");
		for (int i = 0; i < -dp; i++)
			buf_putc(b, '0');
		buf_puts(b, d);
	} else if (dp >= nd) {
		buf_puts(b, d);
		for (int i = nd; i < dp; i++)
			buf_putc(b, '0');
	} else {
		buf_add(b, d, (size_t)dp);
		buf_putc(b, '.');
		buf_puts(b, d + dp);
	}
}

/* Unsigned shortest formatting for %v/%g/%e/%f with no precision. */
static void
float_shortest_fmt(struct buf *b, double f, char verb)
{
	char d[32];
	int dp;

	if (f == 0) {
		d[0] = '0';
		d[1] = '\0';
		dp = 1;
	} else {
		float_shortest(f, d, &dp);
	}
	switch (verb) {
	case 'e':
	case 'E':
		float_digits_e(b, d, dp, verb);
		break;
	case 'f':
	case 'F':
		float_digits_f(b, d, dp);
		break;
	default: {
		int exp = dp - 1;
		if (exp < -4 || exp >= 6) /* shortest %g: precision 6 */
			float_digits_e(b, d, dp, verb == 'G' ? 'E' : 'e');
		else
			float_digits_f(b, d, dp);
	}
	}
}

void
tfmt_float_v(struct buf *b, double f, char verb)
{
	if (isnan(f)) {
		buf_puts(b, "NaN");
		return;
	}
	if (signbit(f)) {
		buf_putc(b, '-');
		f = -f;
	}
	if (isinf(f)) {
		buf_puts(b, "Inf");
		return;
	}
	float_shortest_fmt(b, f, verb);
}

/* ---- padding ---- */

static void
pad_spaces(struct buf *b, int n, char c)
{
	for (int i = 0; i < n; i++)
		buf_putc(b, c);
}

/* Writes s padded to the width (in runes). */
static void
pad(struct buf *b, const struct tfmt_spec *sp, const char *s, size_t n)
{
	size_t w;

	if (!sp->has_width) {
		buf_add(b, s, n);
		return;
	}
	w = utf8_count(s, n);
	if ((size_t)sp->width <= w) {
		buf_add(b, s, n);
	} else if (sp->minus) {
		buf_add(b, s, n);
		pad_spaces(b, sp->width - (int)w, ' ');
	} else {
		pad_spaces(b, sp->width - (int)w, sp->zero ? '0' : ' ');
		buf_add(b, s, n);
	}
}

/* ---- integers ---- */

static void
fmt_integer(struct buf *b, const struct tfmt_spec *sp0, int64_t v, char verb)
{
	struct tfmt_spec sp = *sp0;
	char tmp[96];
	int i = (int)sizeof(tmp), prec = -1, base = 10;
	bool neg = v < 0;
	uint64_t u = neg ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
	const char *digits = lowerhex;

	switch (verb) {
	case 'b':
		base = 2;
		break;
	case 'o':
	case 'O':
		base = 8;
		break;
	case 'x':
		base = 16;
		break;
	case 'X':
		base = 16;
		digits = upperhex;
		break;
	}
	if (sp.has_prec) {
		prec = sp.prec;
		if (prec == 0 && u == 0) {
			/* "%.0d" of zero prints nothing but the padding */
			sp.zero = false;
			pad(b, &sp, "", 0);
			return;
		}
	} else if (sp.zero && sp.has_width && !sp.minus) {
		prec = sp.width;
		if (neg || sp.plus || sp.space)
			prec--;
	}
	if (prec > 64)
		prec = 64;
	do {
		tmp[--i] = digits[u % (uint64_t)base];
		u /= (uint64_t)base;
	} while (u > 0);
	while ((int)sizeof(tmp) - i < prec)
		tmp[--i] = '0';
	if (sp.sharp) {
		if (base == 2) {
			tmp[--i] = 'b';
			tmp[--i] = '0';
		} else if (base == 8 && tmp[i] != '0') {
			tmp[--i] = '0';
		} else if (base == 16) {
			tmp[--i] = verb;
			tmp[--i] = '0';
		}
	}
	if (verb == 'O') {
		tmp[--i] = 'o';
		tmp[--i] = '0';
	}
	if (neg)
		tmp[--i] = '-';
	else if (sp.plus)
		tmp[--i] = '+';
	else if (sp.space)
		tmp[--i] = ' ';
	/* zero padding was done through the precision */
	sp.zero = false;
	pad(b, &sp, tmp + i, sizeof(tmp) - (size_t)i);
}

static void
fmt_rune_quoted(struct buf *b, int64_t v)
{
	struct buf t = TBUF_INIT;
	long r = (v < 0 || v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff))
	                 ? 0xfffd
	                 : (long)v;

	utf8_put(&t, r);
	quote_with(b, t.ptr, t.len, '\'');
	buf_release(&t);
}

/* ---- floats with flags ---- */

/* fmt's '#' for a shortest %g: a decimal point always, and zeros up to six
 * significant digits before the exponent. */
static void
sharp_pad(struct buf *t, size_t start)
{
	char tail[16] = "";
	char *e = memchr(t->ptr + start, 'e', t->len - start);
	int digits = 6;
	bool point = false, nonzero = false;
	size_t end;

	if (e == NULL)
		e = memchr(t->ptr + start, 'E', t->len - start);
	end = e ? (size_t)(e - t->ptr) : t->len;
	if (e != NULL) {
		snprintf(tail, sizeof(tail), "%s", e);
		buf_truncate(t, end);
	}
	for (size_t i = start; i < end; i++) {
		if (t->ptr[i] == '.') {
			point = true;
			continue;
		}
		if (t->ptr[i] != '0')
			nonzero = true;
		if (nonzero)
			digits--;
	}
	if (!point) {
		if (end - start == 1 && t->ptr[start] == '0')
			digits--;
		buf_putc(t, '.');
	}
	for (; digits > 0; digits--)
		buf_putc(t, '0');
	buf_puts(t, tail);
}

static void
fmt_float(struct buf *b, const struct tfmt_spec *sp0, double f, char verb)
{
	struct tfmt_spec sp = *sp0;
	struct buf t = TBUF_INIT;
	char cfmt[16], tmp[512];
	bool neg = signbit(f);
	double a = signbit(f) ? -f : f;

	if (verb == 'v')
		verb = 'g';
	if (isnan(f) || isinf(f)) {
		buf_puts(&t, isnan(f)  ? "NaN"
		             : neg     ? "-Inf"
		             : sp.plus ? "+Inf"
		                       : "Inf");
		sp.zero = false;
		pad(b, &sp, t.ptr, t.len);
		buf_release(&t);
		return;
	}
	if (neg)
		buf_putc(&t, '-');
	else if (sp.plus)
		buf_putc(&t, '+');
	else if (sp.space)
		buf_putc(&t, ' ');
	if (verb == 'b') {
		/* strconv's 'b' format: decimal mantissa, binary exponent */
		uint64_t bits, mant;
		int exp;
		memcpy(&bits, &a, sizeof(bits));
		mant = bits & (((uint64_t)1 << 52) - 1);
		exp = (int)((bits >> 52) & 0x7ff);
		if (exp == 0)
			exp++;
		else
			mant |= (uint64_t)1 << 52;
		exp += -1023 - 52;
		buf_addf(&t, "%llup%s%d", (unsigned long long)mant,
		         exp >= 0 ? "+" : "", exp);
	} else if (verb == 'x' || verb == 'X') {
		/* C's %a writes the exponent with one digit, Go with two */
		char *p;
		snprintf(cfmt, sizeof(cfmt), sp.has_prec ? "%%.%d%c" : "%%%c",
		         sp.has_prec   ? sp.prec
		         : verb == 'x' ? 'a'
		                       : 'A',
		         verb == 'x' ? 'a' : 'A');
		if (sp.has_prec)
			snprintf(tmp, sizeof(tmp), cfmt, a);
		else
			snprintf(tmp, sizeof(tmp), verb == 'x' ? "%a" : "%A",
			         a);
		p = strpbrk(tmp, "pP");
		if (p != NULL && (p[2] >= '0' && p[2] <= '9') && p[3] == '\0') {
			buf_add(&t, tmp, (size_t)(p - tmp) + 2);
			buf_putc(&t, '0');
			buf_puts(&t, p + 2);
		} else {
			buf_puts(&t, tmp);
		}
	} else if (!sp.has_prec && (verb == 'g' || verb == 'G')) {
		size_t start = t.len;
		float_shortest_fmt(&t, a, verb);
		if (sp.sharp)
			sharp_pad(&t, start);
	} else {
		int prec = sp.has_prec ? sp.prec : 6;
		if (prec > 400)
			prec = 400;
		snprintf(cfmt, sizeof(cfmt), "%%%s.%d%c", sp.sharp ? "#" : "",
		         prec, verb);
		snprintf(tmp, sizeof(tmp), cfmt, a);
		buf_puts(&t, tmp);
	}
	if (sp.has_width && sp.zero && !sp.minus && (size_t)sp.width > t.len) {
		/* zeros go after the sign */
		size_t signlen =
		        (t.ptr[0] == '-' || t.ptr[0] == '+' || t.ptr[0] == ' ')
		                ? 1
		                : 0;
		buf_add(b, t.ptr, signlen);
		pad_spaces(b, sp.width - (int)t.len, '0');
		buf_add(b, t.ptr + signlen, t.len - signlen);
	} else {
		sp.zero = false;
		pad(b, &sp, t.ptr, t.len);
	}
	buf_release(&t);
}

/* ---- strings ---- */

static void
fmt_string(struct buf *b, const struct tfmt_spec *sp0, const char *s, size_t n,
           char verb)
{
	struct tfmt_spec sp = *sp0;
	struct buf t = TBUF_INIT;

	if (sp.has_prec) {
		/* precision truncates to that many runes */
		size_t i = 0, count = 0, size;
		while (i < n && count < (size_t)sp.prec) {
			tfmt_utf8_decode((const unsigned char *)s + i, n - i,
			                 &size);
			i += size;
			count++;
		}
		if (verb == 's' || verb == 'v' || verb == 'q')
			n = i;
	}
	switch (verb) {
	case 'q':
		if (sp.sharp && memchr(s, '`', n) == NULL) {
			buf_putc(&t, '`');
			buf_add(&t, s, n);
			buf_putc(&t, '`');
		} else {
			quote_with(&t, s, n, '"');
		}
		break;
	case 'x':
	case 'X': {
		const char *dg = verb == 'x' ? lowerhex : upperhex;
		size_t lim = n;
		if (sp.has_prec && (size_t)sp.prec < lim)
			lim = (size_t)sp.prec;
		for (size_t i = 0; i < lim; i++) {
			unsigned char c = (unsigned char)s[i];
			if (sp.space && i > 0)
				buf_putc(&t, ' ');
			if (sp.sharp && (sp.space || i == 0)) {
				buf_putc(&t, '0');
				buf_putc(&t, verb);
			}
			buf_putc(&t, dg[c >> 4]);
			buf_putc(&t, dg[c & 15]);
		}
		break;
	}
	default:
		buf_add(&t, s, n);
	}
	pad(b, &sp, t.ptr, t.len);
	buf_release(&t);
}

/* ---- values ---- */

static void fmt_arg(struct buf *b, const struct tfmt_spec *sp, tval v,
                    char verb, int depth);

static void
bad_verb(struct buf *b, const struct tfmt_spec *sp, tval v, long verb)
{

	buf_puts(b, "%!");
	utf8_put(b, verb);
	buf_putc(b, '(');
	if (v == NULL || v->kind == TV_NIL) {
		buf_puts(b, "<nil>");
	} else {
		buf_puts(b, tv_type_name(v));
		buf_putc(b, '=');
		fmt_arg(b, sp, v, 'v', 0);
	}
	buf_putc(b, ')');
}

static void
fmt_arg(struct buf *b, const struct tfmt_spec *sp, tval v, char verb, int depth)
{
	if (depth > 100) {
		buf_puts(b, "...");
		return;
	}
	if (v == NULL || v->kind == TV_NIL) {
		/* inside a list or map a nil prints as <nil> for any verb */
		if (verb == 'v' || depth > 0)
			pad(b, sp, "<nil>", 5);
		else
			bad_verb(b, sp, v, verb);
		return;
	}
	switch (v->kind) {
	case TV_BOOL:
		if (verb == 't' || verb == 'v')
			pad(b, sp, v->u.b ? "true" : "false", v->u.b ? 4 : 5);
		else
			bad_verb(b, sp, v, verb);
		return;
	case TV_INT:
		switch (verb) {
		case 'v':
			fmt_integer(b, sp, v->u.i, 'd');
			return;
		case 'd':
		case 'b':
		case 'o':
		case 'O':
		case 'x':
		case 'X':
			fmt_integer(b, sp, v->u.i, verb);
			return;
		case 'c': {
			struct buf t = TBUF_INIT;
			utf8_put(&t, (v->u.i < 0 || v->u.i > 0x10ffff)
			                     ? 0xfffd
			                     : (long)v->u.i);
			pad(b, sp, t.ptr, t.len);
			buf_release(&t);
			return;
		}
		case 'q': {
			struct buf t = TBUF_INIT;
			fmt_rune_quoted(&t, v->u.i);
			pad(b, sp, t.ptr, t.len);
			buf_release(&t);
			return;
		}
		case 'U': {
			struct buf t = TBUF_INIT;
			int64_t r = v->u.i;
			if (r < 0)
				buf_addf(&t, "U+%016llX",
				         (unsigned long long)(uint64_t)r);
			else
				buf_addf(&t, "U+%04llX", (unsigned long long)r);
			if (sp->sharp && r >= 0 && r <= 0x10ffff &&
			    tfmt_rune_printable((long)r)) {
				buf_puts(&t, " '");
				utf8_put(&t, (long)r);
				buf_putc(&t, '\'');
			}
			pad(b, sp, t.ptr, t.len);
			buf_release(&t);
			return;
		}
		}
		bad_verb(b, sp, v, verb);
		return;
	case TV_FLOAT:
	case TV_COMPLEX:
		switch (verb) {
		case 'v':
		case 'b':
		case 'g':
		case 'G':
		case 'x':
		case 'X':
		case 'f':
		case 'F':
		case 'e':
		case 'E':
			if (v->kind == TV_FLOAT) {
				fmt_float(b, sp, v->u.f, verb);
			} else {
				/* fmtComplex: each part padded on its own,
				 * the imaginary one always with a sign */
				struct tfmt_spec im = *sp;
				im.plus = true;
				buf_putc(b, '(');
				fmt_float(b, sp, v->u.c.re, verb);
				fmt_float(b, &im, v->u.c.im, verb);
				buf_puts(b, "i)");
			}
			return;
		}
		bad_verb(b, sp, v, verb);
		return;
	case TV_STRING:
		switch (verb) {
		case 'v':
			if (sp->sharp_v) {
				fmt_string(b, sp, v->u.s.p, v->u.s.n, 'q');
				return;
			}
			/* fall through */
		case 's':
		case 'x':
		case 'X':
		case 'q':
			fmt_string(b, sp, v->u.s.p, v->u.s.n, verb);
			return;
		}
		bad_verb(b, sp, v, verb);
		return;
	case TV_LIST:
		buf_putc(b, '[');
		for (size_t i = 0; i < v->u.l.n && buf_ok(b); i++) {
			if (i)
				buf_putc(b, ' ');
			fmt_arg(b, sp, v->u.l.v[i], verb, depth + 1);
		}
		buf_putc(b, ']');
		return;
	case TV_MAP:
		buf_puts(b, "map[");
		for (size_t i = 0; i < v->u.m.n && buf_ok(b); i++) {
			if (i)
				buf_putc(b, ' ');
			fmt_arg(b, sp, v->u.m.k[i], verb, depth + 1);
			buf_putc(b, ':');
			fmt_arg(b, sp, v->u.m.v[i], verb, depth + 1);
		}
		buf_putc(b, ']');
		return;
	case TV_STRUCT:
		if (v->u.st.str != NULL &&
		    (verb == 'v' || verb == 's' || verb == 'q' || verb == 'x' ||
		     verb == 'X')) {
			fmt_string(b, sp, v->u.st.str, strlen(v->u.st.str),
			           verb == 'v' ? 's' : verb);
			return;
		}
		buf_putc(b, '{');
		for (size_t i = 0, k = 0; i < v->u.st.n; i++) {
			if (v->u.st.f[i].removed_hint != NULL)
				continue;
			if (k++)
				buf_putc(b, ' ');
			if (sp->plus_v) {
				buf_puts(b, v->u.st.f[i].name);
				buf_putc(b, ':');
			}
			fmt_arg(b, sp, v->u.st.f[i].v, verb, depth + 1);
		}
		buf_putc(b, '}');
		return;
	default:
		bad_verb(b, sp, v, verb);
	}
}

void
tfmt_value(struct buf *b, tval v)
{
	struct tfmt_spec none = { 0 };

	fmt_arg(b, &none, v, 'v', 0);
}

static bool
is_string(tval v)
{
	return v != NULL && v->kind == TV_STRING;
}

void
tfmt_sprint(struct buf *b, tval *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0 && !is_string(args[i]) && !is_string(args[i - 1]))
			buf_putc(b, ' ');
		tfmt_value(b, args[i]);
	}
}

void
tfmt_sprintln(struct buf *b, tval *args, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (i > 0)
			buf_putc(b, ' ');
		tfmt_value(b, args[i]);
	}
	buf_putc(b, '\n');
}

/* Parses a decimal number at f[*i]; -1 when none. */
static int
parse_num(const char *f, size_t len, size_t *i, bool *ok)
{
	long n = 0;

	*ok = false;
	while (*i < len && f[*i] >= '0' && f[*i] <= '9') {
		if (n < 1000000)
			n = n * 10 + (f[*i] - '0');
		else
			n = 1000000;
		(*i)++;
		*ok = true;
	}
	return (int)n;
}

/* An int argument for '*': fmt's intFromArg. */
static bool
int_arg(tval v, int *out)
{
	if (v == NULL || v->kind != TV_INT)
		return false;
	if (v->u.i > 1000000 || v->u.i < -1000000)
		return false;
	*out = (int)v->u.i;
	return true;
}

/* fmt's argNumber: an explicit "[n]" at f[*i].  Returns true when one was
 * there; *good goes false when it is malformed or out of range. */
static bool
arg_number(const char *f, size_t len, size_t *i, size_t n, size_t *argi,
           bool *good, bool *reordered)
{
	size_t k, close = 0;
	long num = 0;
	bool digits = false;

	if (*i >= len || f[*i] != '[')
		return false;
	*reordered = true;
	for (k = *i + 1; k < len; k++) {
		if (f[k] == ']') {
			close = k;
			break;
		}
	}
	if (close == 0 || len - *i < 3) {
		*good = false;
		*i += 1;
		return false;
	}
	for (k = *i + 1; k < close; k++) {
		if (f[k] < '0' || f[k] > '9') {
			digits = false;
			break;
		}
		digits = true;
		if (num < 1000000)
			num = num * 10 + (f[k] - '0');
	}
	*i = close + 1;
	if (!digits) {
		*good = false;
		return false;
	}
	if (num >= 1 && (size_t)num <= n) {
		*argi = (size_t)num - 1;
		return true;
	}
	*good = false;
	return true;
}

void
tfmt_sprintf(struct buf *b, const char *f, size_t len, tval *args, size_t n)
{
	size_t i = 0, argi = 0;
	bool reordered = false;

	while (i < len) {
		struct tfmt_spec sp = { 0 };
		size_t start = i, size;
		long verb;
		bool ok, good = true, after_index;

		while (i < len && f[i] != '%')
			i++;
		if (i > start)
			buf_add(b, f + start, i - start);
		if (i >= len)
			break;
		i++; /* the % */
		for (; i < len; i++) {
			switch (f[i]) {
			case '#':
				sp.sharp = true;
				continue;
			case '0':
				sp.zero = !sp.minus;
				continue;
			case '+':
				sp.plus = true;
				continue;
			case '-':
				sp.minus = true;
				sp.zero = false;
				continue;
			case ' ':
				sp.space = true;
				continue;
			}
			break;
		}
		after_index =
		        arg_number(f, len, &i, n, &argi, &good, &reordered);
		if (i < len && f[i] == '*') {
			i++;
			if (argi < n && int_arg(args[argi], &sp.width)) {
				sp.has_width = true;
				if (sp.width < 0) {
					sp.minus = true;
					sp.zero = false;
					sp.width = -sp.width;
				}
			} else {
				buf_puts(b, "%!(BADWIDTH)");
			}
			if (argi < n)
				argi++;
			after_index = false;
		} else {
			sp.width = parse_num(f, len, &i, &ok);
			sp.has_width = ok;
			if (after_index && ok)
				good = false;
		}
		if (i + 1 < len && f[i] == '.') {
			i++;
			if (after_index)
				good = false;
			after_index = arg_number(f, len, &i, n, &argi, &good,
			                         &reordered);
			if (i < len && f[i] == '*') {
				i++;
				if (argi < n && int_arg(args[argi], &sp.prec) &&
				    sp.prec >= 0) {
					sp.has_prec = true;
				} else {
					sp.prec = 0;
					buf_puts(b, "%!(BADPREC)");
				}
				if (argi < n)
					argi++;
				after_index = false;
			} else {
				sp.prec = parse_num(f, len, &i, &ok);
				sp.has_prec = true;
			}
		}
		if (!after_index)
			arg_number(f, len, &i, n, &argi, &good, &reordered);
		if (i >= len) {
			buf_puts(b, "%!(NOVERB)");
			break;
		}
		verb = tfmt_utf8_decode((const unsigned char *)f + i, len - i,
		                        &size);
		if (verb < 0)
			verb = 0xfffd;
		i += size;
		if (verb == '%') {
			buf_putc(b, '%');
			continue;
		}
		if (!good) {
			buf_puts(b, "%!");
			utf8_put(b, verb);
			buf_puts(b, "(BADINDEX)");
			continue;
		}
		if (argi >= n) {
			buf_puts(b, "%!");
			utf8_put(b, verb);
			buf_puts(b, "(MISSING)");
			continue;
		}
		if (verb == 'v') {
			sp.sharp_v = sp.sharp;
			sp.sharp = false;
			sp.plus_v = sp.plus;
			sp.plus = false;
		}
		if (verb == 'w' || verb > 0x7f || verb == 'T' || verb == 'p') {
			if (verb == 'T')
				pad(b, &sp, tv_type_name(args[argi]),
				    strlen(tv_type_name(args[argi])));
			else
				bad_verb(b, &sp, args[argi], verb);
			argi++;
			continue;
		}
		fmt_arg(b, &sp, args[argi++], (char)verb, 0);
	}
	if (!reordered && argi < n) {
		buf_puts(b, "%!(EXTRA ");
		for (size_t k = argi; k < n; k++) {
			if (k > argi)
				buf_puts(b, ", ");
			if (args[k] == NULL || args[k]->kind == TV_NIL) {
				buf_puts(b, "<nil>");
			} else {
				buf_puts(b, tv_type_name(args[k]));
				buf_putc(b, '=');
				tfmt_value(b, args[k]);
			}
		}
		buf_putc(b, ')');
	}
}
