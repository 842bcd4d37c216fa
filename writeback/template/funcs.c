/*
 * funcs.c - the functions templates call: Go's builtins (and or call
 * not len index slice print printf println eq ne lt le gt ge html js
 * urlquery; call itself is in exec.c, which knows the argument nodes) and the
 * sprig hermetic functions commit templates use (lower upper title trim
 * trimPrefix trimSuffix replace contains hasPrefix hasSuffix repeat substr
 * trunc quote squote cat indent nindent join splitList list first last uniq
 * sortAlpha default empty coalesce toString sha256sum b64enc), with Go's
 * argument types and error texts (including the runtime panics sprig's
 * functions turn into errors).
 *
 * Case mapping (lower, upper, title) covers ASCII, Latin-1, Latin
 * Extended-A, Greek and Cyrillic; other letters pass through unchanged.
 */
#define _GNU_SOURCE /* memmem */
#include "writeback/template/template_int.h"

#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/util.h"

#define FN(name)                                                               \
	static int fn_##name(struct texec *x, tval *a, size_t n, tval *out,    \
	                     struct buf *msg)

static int fail(struct buf *msg, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static int
fail(struct buf *msg, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	buf_puts(msg, tmp);
	return -1;
}

static int
nomem(struct buf *msg)
{
	buf_reset(msg);
	buf_puts(msg, "!nomem");
	return -1;
}

static int
ret_str(struct texec *x, const char *p, size_t len, tval *out, struct buf *msg)
{
	tval v;

	if (texec_too_big(x, len))
		return nomem(msg);
	v = tv_string(texec_arena(x), p, len);
	if (v == NULL)
		return nomem(msg);
	*out = v;
	return 0;
}

static int
ret_buf(struct texec *x, struct buf *b, tval *out, struct buf *msg)
{
	int rc;

	if (!buf_ok(b)) {
		buf_release(b);
		return nomem(msg);
	}
	rc = ret_str(x, b->ptr, b->len, out, msg);
	buf_release(b);
	return rc;
}

static int
ret_bool(struct texec *x, bool v, tval *out, struct buf *msg)
{
	struct template_value *r = tv_new(texec_arena(x), TV_BOOL);

	if (r == NULL)
		return nomem(msg);
	r->u.b = v;
	*out = r;
	return 0;
}

static int
ret_int(struct texec *x, int64_t v, tval *out, struct buf *msg)
{
	struct template_value *r = tv_new(texec_arena(x), TV_INT);

	if (r == NULL)
		return nomem(msg);
	r->u.i = v;
	*out = r;
	return 0;
}

static int
ret_nil(struct texec *x, tval *out, struct buf *msg)
{
	struct template_value *r = tv_new(texec_arena(x), TV_NIL);

	if (r == NULL)
		return nomem(msg);
	*out = r;
	return 0;
}

static bool
is_nil(tval v)
{
	return v == NULL || v->kind == TV_NIL;
}

/* Go's "safe" view of a (possibly nil) argument value's kind name, as
 * reflect.Kind prints it (for sprig's "Cannot ... on type %s"). */
static const char *
kind_name(tval v)
{
	switch (v->kind) {
	case TV_BOOL:
		return "bool";
	case TV_INT:
		return "int";
	case TV_FLOAT:
		return "float64";
	case TV_STRING:
		return "string";
	case TV_LIST:
		return "slice";
	case TV_MAP:
		return "map";
	case TV_STRUCT:
		return "struct";
	case TV_COMPLEX:
		return "complex128";
	default:
		return "invalid";
	}
}

/* ---- builtins ---- */

FN(not )
{
	(void)n;
	return ret_bool(x, !tv_truth(is_nil(a[0]) ? NULL : a[0]), out, msg);
}

FN(len)
{
	tval v = a[0];

	(void)n;
	if (v == NULL)
		return fail(
		        msg,
		        "reflect: call of reflect.Value.Type on zero Value");
	switch (v->kind) {
	case TV_NIL:
		return fail(msg, "len of nil pointer");
	case TV_STRING:
		return ret_int(x, (int64_t)v->u.s.n, out, msg);
	case TV_LIST:
		return ret_int(x, (int64_t)v->u.l.n, out, msg);
	case TV_MAP:
		return ret_int(x, (int64_t)v->u.m.n, out, msg);
	default:
		return fail(msg, "len of type %s", tv_type_name(v));
	}
}

static int
index_arg(tval idx, size_t cap, int64_t *out, struct buf *msg)
{
	if (is_nil(idx))
		return fail(msg, "cannot index slice/array with nil");
	if (idx->kind != TV_INT)
		return fail(msg, "cannot index slice/array with type %s",
		            tv_type_name(idx));
	if (idx->u.i < 0 || (uint64_t)idx->u.i > cap)
		return fail(msg, "index out of range: %lld",
		            (long long)idx->u.i);
	*out = idx->u.i;
	return 0;
}

FN(index)
{
	tval item = a[0];

	if (is_nil(item))
		return fail(msg, "index of untyped nil");
	for (size_t i = 1; i < n; i++) {
		tval idx = a[i];
		int64_t k;
		if (is_nil(item))
			return fail(msg, "index of nil pointer");
		switch (item->kind) {
		case TV_STRING:
		case TV_LIST: {
			size_t len = item->kind == TV_STRING ? item->u.s.n
			                                     : item->u.l.n;
			if (index_arg(idx, len, &k, msg) < 0)
				return -1;
			if ((size_t)k == len)
				return fail(
				        msg,
				        item->kind == TV_STRING
				                ? "reflect: string index out of range"
				                : "reflect: slice index out of range");
			if (item->kind == TV_STRING) {
				struct template_value *r =
				        tv_new(texec_arena(x), TV_INT);
				if (r == NULL)
					return nomem(msg);
				r->u.i = (unsigned char)item->u.s.p[k];
				item = r;
			} else {
				item = item->u.l.v[k];
			}
			break;
		}
		case TV_MAP: {
			long f;
			if (is_nil(idx)) {
				return fail(
				        msg,
				        "value is nil; should be of type string");
			}
			if (idx->kind != TV_STRING ||
			    (item->u.m.n > 0 &&
			     item->u.m.k[0]->kind != TV_STRING))
				return fail(
				        msg,
				        "value has type %s; should be string",
				        tv_type_name(idx));
			f = tv_map_find(item, idx->u.s.p, idx->u.s.n);
			if (f >= 0) {
				item = item->u.m.v[f];
			} else {
				struct template_value *r =
				        tv_new(texec_arena(x), TV_NIL);
				if (r == NULL)
					return nomem(msg);
				item = r;
			}
			break;
		}
		default:
			return fail(msg, "can't index item of type %s",
			            tv_type_name(item));
		}
	}
	*out = item;
	return 0;
}

/*
 * Go's slice checks indexes against cap(), not len(): a list decoded from
 * JSON has the capacity append gave it (tv_append_cap), and slicing into
 * it yields zero values ("slice .l 0 4" of a 3-element list ends in
 * <nil>).
 */
FN(slice)
{
	tval item = a[0];
	size_t len, cap, idx[3];
	size_t ni = n - 1;

	if (is_nil(item))
		return fail(msg, "slice of untyped nil");
	if (ni > 3)
		return fail(msg, "too many slice indexes: %zu", ni);
	if (item->kind == TV_STRING) {
		if (ni == 3)
			return fail(msg, "cannot 3-index slice a string");
		len = cap = item->u.s.n;
	} else if (item->kind == TV_LIST) {
		len = item->u.l.n;
		cap = item->u.l.gocap > len ? item->u.l.gocap : len;
	} else {
		return fail(msg, "can't slice item of type %s",
		            tv_type_name(item));
	}
	idx[0] = 0;
	idx[1] = len;
	idx[2] = cap;
	for (size_t i = 0; i < ni; i++) {
		int64_t k;
		if (index_arg(a[i + 1], cap, &k, msg) < 0)
			return -1;
		idx[i] = (size_t)k;
	}
	if (idx[0] > idx[1])
		return fail(msg, "invalid slice index: %zu > %zu", idx[0],
		            idx[1]);
	if (ni == 3 && idx[1] > idx[2])
		return fail(msg, "invalid slice index: %zu > %zu", idx[1],
		            idx[2]);
	if (item->kind == TV_STRING)
		return ret_str(x, item->u.s.p + idx[0], idx[1] - idx[0], out,
		               msg);
	{
		struct template_value *r = tv_new(texec_arena(x), TV_LIST);
		if (r == NULL)
			return nomem(msg);
		r->u.l.elem = item->u.l.elem;
		r->u.l.n = idx[1] - idx[0];
		r->u.l.cap = r->u.l.n;
		size_t avail = item->u.l.avail > len ? item->u.l.avail : len;

		r->u.l.gocap = (ni == 3 ? idx[2] : cap) - idx[0];
		if (idx[1] <= avail) {
			/* the backing array is shared, as in Go (an empty
			 * list may have none) */
			r->u.l.v = item->u.l.v != NULL ? item->u.l.v + idx[0]
			                               : NULL;
			r->u.l.avail = avail - idx[0];
			if (r->u.l.avail > r->u.l.gocap)
				r->u.l.avail = r->u.l.gocap;
		} else {
			/* past the elements there: the zero values of the
			 * element type, up to the new cap */
			struct template_value *zero;
			size_t m = r->u.l.gocap;
			r->u.l.v = tarena_alloc(texec_arena(x),
			                        m * sizeof(*r->u.l.v));
			zero = item->u.l.elem == TV_ELEM_STRING
			               ? tv_string(texec_arena(x), "", 0)
			               : tv_new(texec_arena(x), TV_NIL);
			if (r->u.l.v == NULL || zero == NULL)
				return nomem(msg);
			zero->in_iface = item->u.l.elem != TV_ELEM_STRING;
			for (size_t i = 0; i < m; i++)
				r->u.l.v[i] = idx[0] + i < avail
				                      ? item->u.l.v[idx[0] + i]
				                      : zero;
			r->u.l.avail = m;
		}
		*out = r;
	}
	return 0;
}

FN(print)
{
	struct buf b = TBUF_INIT;

	tfmt_sprint(&b, a, n);
	return ret_buf(x, &b, out, msg);
}

FN(println)
{
	struct buf b = TBUF_INIT;

	tfmt_sprintln(&b, a, n);
	return ret_buf(x, &b, out, msg);
}

FN(printf)
{
	struct buf b = TBUF_INIT;

	tfmt_sprintf(&b, a[0]->u.s.p, a[0]->u.s.n, a + 1, n - 1);
	return ret_buf(x, &b, out, msg);
}

/* The kinds eq and lt compare. */
enum bkind { BK_INVALID, BK_BOOL, BK_INT, BK_FLOAT, BK_STRING, BK_COMPLEX };

static enum bkind
basic_kind(tval v)
{
	if (is_nil(v))
		return BK_INVALID;
	switch (v->kind) {
	case TV_BOOL:
		return BK_BOOL;
	case TV_INT:
		return BK_INT;
	case TV_FLOAT:
		return BK_FLOAT;
	case TV_STRING:
		return BK_STRING;
	case TV_COMPLEX:
		return BK_COMPLEX;
	default:
		return BK_INVALID;
	}
}

/* reflect.DeepEqual; *budget counts down the nodes visited (a template
 * can build values that share parts and unfold exponentially). */
static bool
deep_equal(tval a, tval b, size_t *budget)
{
	if (*budget == 0)
		return false;
	(*budget)--;
	if (a == b)
		return true;
	if (is_nil(a) || is_nil(b))
		return is_nil(a) && is_nil(b);
	if (a->kind != b->kind)
		return false;
	switch (a->kind) {
	case TV_BOOL:
		return a->u.b == b->u.b;
	case TV_INT:
		return a->u.i == b->u.i;
	case TV_FLOAT:
		return a->u.f == b->u.f;
	case TV_COMPLEX:
		return a->u.c.re == b->u.c.re && a->u.c.im == b->u.c.im;
	case TV_STRING:
		return a->u.s.n == b->u.s.n &&
		       memcmp(a->u.s.p, b->u.s.p, a->u.s.n) == 0;
	case TV_LIST:
		if (a->u.l.n != b->u.l.n || a->u.l.elem != b->u.l.elem)
			return false;
		for (size_t i = 0; i < a->u.l.n; i++)
			if (!deep_equal(a->u.l.v[i], b->u.l.v[i], budget))
				return false;
		return true;
	case TV_MAP:
		if (a->u.m.n != b->u.m.n)
			return false;
		for (size_t i = 0; i < a->u.m.n; i++)
			if (tv_key_cmp(a->u.m.k[i], b->u.m.k[i]) != 0 ||
			    !deep_equal(a->u.m.v[i], b->u.m.v[i], budget))
				return false;
		return true;
	case TV_STRUCT:
		if (a->u.st.n != b->u.st.n)
			return false;
		for (size_t i = 0; i < a->u.st.n; i++)
			if (!deep_equal(a->u.st.f[i].v, b->u.st.f[i].v, budget))
				return false;
		return true;
	default:
		return false;
	}
}

static int
eq_values(tval a1, tval a2, bool *truth, struct buf *msg)
{
	enum bkind k1 = basic_kind(a1), k2 = basic_kind(a2);

	*truth = false;
	if (k1 != k2) {
		if (!is_nil(a1) && !is_nil(a2))
			return fail(
			        msg,
			        "incompatible types for comparison: %s and %s",
			        tv_type_name(a1), tv_type_name(a2));
		return 0;
	}
	switch (k1) {
	case BK_BOOL:
		*truth = a1->u.b == a2->u.b;
		return 0;
	case BK_INT:
		*truth = a1->u.i == a2->u.i;
		return 0;
	case BK_FLOAT:
		*truth = a1->u.f == a2->u.f;
		return 0;
	case BK_COMPLEX:
		*truth = a1->u.c.re == a2->u.c.re && a1->u.c.im == a2->u.c.im;
		return 0;
	case BK_STRING:
		*truth = a1->u.s.n == a2->u.s.n &&
		         memcmp(a1->u.s.p, a2->u.s.p, a1->u.s.n) == 0;
		return 0;
	default:
		break;
	}
	if (is_nil(a1) || is_nil(a2)) {
		*truth = is_nil(a1) == is_nil(a2);
		return 0;
	}
	if (a1->kind != a2->kind) {
		struct buf t = TBUF_INIT;
		tfmt_value(&t, a2);
		fail(msg, "non-comparable types %s: %s, %s: %s",
		     tv_type_name(a1), tv_type_name(a1), tv_type_name(a2),
		     buf_ok(&t) ? t.ptr : "");
		buf_release(&t);
		return -1;
	}
	if (a2->kind == TV_LIST || a2->kind == TV_MAP) {
		struct buf t = TBUF_INIT;
		tfmt_value(&t, a2);
		fail(msg, "non-comparable type %s: %s", buf_ok(&t) ? t.ptr : "",
		     tv_type_name(a2));
		buf_release(&t);
		return -1;
	}
	{
		size_t budget = TEMPLATE_MAX_COMPARE;
		*truth = deep_equal(a1, a2, &budget);
		if (budget == 0)
			return fail(msg, "values too large to compare");
	}
	return 0;
}

FN(eq)
{
	bool truth;

	if (n < 2)
		return fail(msg, "missing argument for comparison");
	for (size_t i = 1; i < n; i++) {
		if (eq_values(a[0], a[i], &truth, msg) < 0)
			return -1;
		if (truth)
			return ret_bool(x, true, out, msg);
	}
	return ret_bool(x, false, out, msg);
}

FN(ne)
{
	bool truth;

	(void)n;
	if (eq_values(a[0], a[1], &truth, msg) < 0)
		return -1;
	return ret_bool(x, !truth, out, msg);
}

static int
lt_values(tval a1, tval a2, bool *truth, struct buf *msg)
{
	enum bkind k1 = basic_kind(a1), k2 = basic_kind(a2);

	*truth = false;
	if (k1 == BK_INVALID || k2 == BK_INVALID)
		return fail(msg, "invalid type for comparison");
	if (k1 != k2)
		return fail(msg, "incompatible types for comparison: %s and %s",
		            tv_type_name(a1), tv_type_name(a2));
	switch (k1) {
	case BK_BOOL:
	case BK_COMPLEX:
		return fail(msg, "invalid type for comparison");
	case BK_INT:
		*truth = a1->u.i < a2->u.i;
		return 0;
	case BK_FLOAT:
		*truth = a1->u.f < a2->u.f;
		return 0;
	default: {
		size_t m = a1->u.s.n < a2->u.s.n ? a1->u.s.n : a2->u.s.n;
		int c = memcmp(a1->u.s.p, a2->u.s.p, m);
		*truth = c < 0 || (c == 0 && a1->u.s.n < a2->u.s.n);
		return 0;
	}
	}
}

static int
le_values(tval a1, tval a2, bool *truth, struct buf *msg)
{
	if (lt_values(a1, a2, truth, msg) < 0)
		return -1;
	if (*truth)
		return 0;
	return eq_values(a1, a2, truth, msg);
}

FN(lt)
{
	bool t;

	(void)n;
	if (lt_values(a[0], a[1], &t, msg) < 0)
		return -1;
	return ret_bool(x, t, out, msg);
}

FN(le)
{
	bool t;

	(void)n;
	if (le_values(a[0], a[1], &t, msg) < 0)
		return -1;
	return ret_bool(x, t, out, msg);
}

FN(gt)
{
	bool t;

	(void)n;
	if (le_values(a[0], a[1], &t, msg) < 0)
		return -1;
	return ret_bool(x, !t, out, msg);
}

FN(ge)
{
	bool t;

	(void)n;
	if (lt_values(a[0], a[1], &t, msg) < 0)
		return -1;
	return ret_bool(x, !t, out, msg);
}

/* evalArgs of html/js/urlquery: one string as is, else Sprint with nil
 * shown as "<no value>". */
static void
eval_args(struct buf *b, tval *a, size_t n)
{
	if (n == 1 && a[0] != NULL && a[0]->kind == TV_STRING) {
		buf_add(b, a[0]->u.s.p, a[0]->u.s.n);
		return;
	}
	for (size_t i = 0; i < n; i++) {
		bool s_prev = i > 0 &&
		              (is_nil(a[i - 1]) || a[i - 1]->kind == TV_STRING);
		bool s_cur = is_nil(a[i]) || a[i]->kind == TV_STRING;
		if (i > 0 && !s_prev && !s_cur)
			buf_putc(b, ' ');
		if (is_nil(a[i]))
			buf_puts(b, "<no value>");
		else
			tfmt_value(b, a[i]);
	}
}

FN(html)
{
	struct buf in = TBUF_INIT, b = BUF_INIT;

	eval_args(&in, a, n);
	for (size_t i = 0; i < in.len; i++) {
		switch (in.ptr[i]) {
		case '\0':
			buf_puts(&b, "\xef\xbf\xbd");
			break;
		case '"':
			buf_puts(&b, "&#34;");
			break;
		case '\'':
			buf_puts(&b, "&#39;");
			break;
		case '&':
			buf_puts(&b, "&amp;");
			break;
		case '<':
			buf_puts(&b, "&lt;");
			break;
		case '>':
			buf_puts(&b, "&gt;");
			break;
		default:
			buf_putc(&b, in.ptr[i]);
		}
	}
	buf_release(&in);
	return ret_buf(x, &b, out, msg);
}

FN(js)
{
	struct buf in = TBUF_INIT, b = BUF_INIT;
	static const char hex[] = "0123456789ABCDEF";

	eval_args(&in, a, n);
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.ptr[i];
		switch (c) {
		case '\\':
			buf_puts(&b, "\\\\");
			continue;
		case '\'':
			buf_puts(&b, "\\'");
			continue;
		case '"':
			buf_puts(&b, "\\\"");
			continue;
		case '<':
			buf_puts(&b, "\\u003C");
			continue;
		case '>':
			buf_puts(&b, "\\u003E");
			continue;
		case '&':
			buf_puts(&b, "\\u0026");
			continue;
		case '=':
			buf_puts(&b, "\\u003D");
			continue;
		}
		if (c < ' ') {
			buf_puts(&b, "\\u00");
			buf_putc(&b, hex[c >> 4]);
			buf_putc(&b, hex[c & 15]);
		} else if (c >= 0x80) {
			size_t size;
			long r = tfmt_utf8_decode(
			        (const unsigned char *)in.ptr + i, in.len - i,
			        &size);
			if (r >= 0 && !tfmt_rune_printable(r))
				buf_addf(&b, "\\u%04lX", r);
			else
				buf_add(&b, in.ptr + i, size);
			i += size - 1;
		} else {
			buf_putc(&b, (char)c);
		}
	}
	buf_release(&in);
	return ret_buf(x, &b, out, msg);
}

FN(urlquery)
{
	struct buf in = TBUF_INIT, b = BUF_INIT;
	static const char hex[] = "0123456789ABCDEF";

	eval_args(&in, a, n);
	for (size_t i = 0; i < in.len; i++) {
		unsigned char c = (unsigned char)in.ptr[i];
		if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		    (c >= '0' && c <= '9') || c == '-' || c == '_' ||
		    c == '.' || c == '~') {
			buf_putc(&b, (char)c);
		} else if (c == ' ') {
			buf_putc(&b, '+');
		} else {
			buf_putc(&b, '%');
			buf_putc(&b, hex[c >> 4]);
			buf_putc(&b, hex[c & 15]);
		}
	}
	buf_release(&in);
	return ret_buf(x, &b, out, msg);
}

/* ---- sprig: strings ---- */

#define S(i) a[i]->u.s.p, a[i]->u.s.n

/* Simple case mappings (unicode.ToUpper/ToLower) for Latin-1, Latin
 * Extended-A, Greek and Cyrillic; other runes map to themselves. */
static long
rune_upper(long r)
{
	if (r >= 'a' && r <= 'z')
		return r - 32;
	if (r < 0x80)
		return r;
	if (r == 0xb5)
		return 0x39c;
	if ((r >= 0xe0 && r <= 0xfe && r != 0xf7))
		return r - 32;
	if (r == 0xff)
		return 0x178;
	if (r == 0x131)
		return 'I';
	if (r == 0x17f)
		return 'S';
	if ((r >= 0x100 && r <= 0x12f) || (r >= 0x132 && r <= 0x137) ||
	    (r >= 0x14a && r <= 0x177))
		return (r & 1) ? r - 1 : r;
	if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17e))
		return (r & 1) ? r : r - 1;
	if (r == 0x3c2)
		return 0x3a3;
	if (r >= 0x3b1 && r <= 0x3cb)
		return r - 32;
	if (r >= 0x430 && r <= 0x44f)
		return r - 32;
	if (r >= 0x450 && r <= 0x45f)
		return r - 80;
	return r;
}

static long
rune_lower(long r)
{
	if (r >= 'A' && r <= 'Z')
		return r + 32;
	if (r < 0x80)
		return r;
	if (r >= 0xc0 && r <= 0xde && r != 0xd7)
		return r + 32;
	if (r == 0x130)
		return 'i';
	if (r == 0x178)
		return 0xff;
	if ((r >= 0x100 && r <= 0x12f) || (r >= 0x132 && r <= 0x137) ||
	    (r >= 0x14a && r <= 0x177))
		return (r & 1) ? r : r + 1;
	if ((r >= 0x139 && r <= 0x148) || (r >= 0x179 && r <= 0x17e))
		return (r & 1) ? r + 1 : r;
	if (r >= 0x391 && r <= 0x3ab && r != 0x3a2)
		return r + 32;
	if (r >= 0x410 && r <= 0x42f)
		return r + 32;
	if (r >= 0x400 && r <= 0x40f)
		return r + 80;
	return r;
}

static void
put_rune(struct buf *b, long r)
{
	char t[4];

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

/* unicode.IsSpace */
static bool
rune_space(long r)
{
	return r == ' ' || (r >= '\t' && r <= '\r') || r == 0x85 || r == 0xa0 ||
	       r == 0x1680 || (r >= 0x2000 && r <= 0x200a) || r == 0x2028 ||
	       r == 0x2029 || r == 0x202f || r == 0x205f || r == 0x3000;
}

/* Maps every rune with f; invalid bytes pass through. */
static int
map_runes(struct texec *x, tval s, long (*f)(long), tval *out, struct buf *msg)
{
	struct buf b = TBUF_INIT;
	size_t i = 0, size;

	while (i < s->u.s.n) {
		long r = tfmt_utf8_decode((const unsigned char *)s->u.s.p + i,
		                          s->u.s.n - i, &size);
		if (r < 0)
			buf_add(&b, s->u.s.p + i, size);
		else
			put_rune(&b, f(r));
		i += size;
	}
	return ret_buf(x, &b, out, msg);
}

FN(lower)
{
	(void)n;
	return map_runes(x, a[0], rune_lower, out, msg);
}

FN(upper)
{
	(void)n;
	return map_runes(x, a[0], rune_upper, out, msg);
}

FN(title)
{
	struct buf b = TBUF_INIT;
	bool prev_sep = true;
	size_t i = 0, size;

	(void)n;
	/* strings.Title: a letter after a separator goes to title case;
	 * letters, digits and '_' are not separators, other ASCII is, and
	 * beyond ASCII only spaces are */
	while (i < a[0]->u.s.n) {
		long r =
		        tfmt_utf8_decode((const unsigned char *)a[0]->u.s.p + i,
		                         a[0]->u.s.n - i, &size);
		bool sep;
		if (r < 0) {
			buf_add(&b, a[0]->u.s.p + i, size);
			prev_sep = false;
			i += size;
			continue;
		}
		if (r < 0x80)
			sep = !((r >= 'a' && r <= 'z') ||
			        (r >= 'A' && r <= 'Z') ||
			        (r >= '0' && r <= '9') || r == '_');
		else
			sep = rune_space(r);
		put_rune(&b, prev_sep ? rune_upper(r) : r);
		prev_sep = sep;
		i += size;
	}
	return ret_buf(x, &b, out, msg);
}

FN(trim)
{
	const char *p = a[0]->u.s.p;
	size_t len = a[0]->u.s.n, size;

	(void)n;
	while (len > 0) {
		long r = tfmt_utf8_decode((const unsigned char *)p, len, &size);
		if (r < 0 || !rune_space(r))
			break;
		p += size;
		len -= size;
	}
	while (len > 0) {
		/* find the start of the last rune */
		size_t k = len - 1;
		long r;
		while (k > 0 && ((unsigned char)p[k] & 0xc0) == 0x80 &&
		       len - k < 4)
			k--;
		r = tfmt_utf8_decode((const unsigned char *)p + k, len - k,
		                     &size);
		if (r < 0 || k + size != len || !rune_space(r))
			break;
		len = k;
	}
	return ret_str(x, p, len, out, msg);
}

FN(trimPrefix)
{
	(void)n;
	if (a[1]->u.s.n >= a[0]->u.s.n &&
	    memcmp(a[1]->u.s.p, a[0]->u.s.p, a[0]->u.s.n) == 0)
		return ret_str(x, a[1]->u.s.p + a[0]->u.s.n,
		               a[1]->u.s.n - a[0]->u.s.n, out, msg);
	*out = a[1];
	return 0;
}

FN(trimSuffix)
{
	(void)n;
	if (a[1]->u.s.n >= a[0]->u.s.n &&
	    memcmp(a[1]->u.s.p + a[1]->u.s.n - a[0]->u.s.n, a[0]->u.s.p,
	           a[0]->u.s.n) == 0)
		return ret_str(x, a[1]->u.s.p, a[1]->u.s.n - a[0]->u.s.n, out,
		               msg);
	*out = a[1];
	return 0;
}

/* strings.Replace(src, old, new, -1), including the empty-old case that
 * inserts new before every rune and at the end. */
static void
replace_all(struct buf *b, const char *src, size_t sn, const char *old,
            size_t on, const char *nw, size_t nn)
{
	size_t i = 0;

	if (on == 0) {
		while (i < sn) {
			size_t size = 1;
			unsigned char c = (unsigned char)src[i];
			buf_add(b, nw, nn);
			if (c >= 0xc0) {
				while (i + size < sn && size < 4 &&
				       ((unsigned char)src[i + size] & 0xc0) ==
				               0x80)
					size++;
			}
			buf_add(b, src + i, size);
			i += size;
			if (!buf_ok(b) || b->len > TEMPLATE_MAX_OUTPUT)
				return;
		}
		buf_add(b, nw, nn);
		return;
	}
	while (i < sn) {
		const char *hit =
		        i + on <= sn ? memmem(src + i, sn - i, old, on) : NULL;
		if (hit == NULL) {
			buf_add(b, src + i, sn - i);
			return;
		}
		buf_add(b, src + i, (size_t)(hit - (src + i)));
		buf_add(b, nw, nn);
		i = (size_t)(hit - src) + on;
		if (!buf_ok(b) || b->len > TEMPLATE_MAX_OUTPUT)
			return;
	}
}

FN(replace)
{
	struct buf b = TBUF_INIT;

	(void)n;
	replace_all(&b, S(2), S(0), S(1));
	return ret_buf(x, &b, out, msg);
}

static bool
contains(const char *h, size_t hn, const char *nd, size_t nn)
{
	return nn == 0 || (nn <= hn && memmem(h, hn, nd, nn) != NULL);
}

FN(contains)
{
	(void)n;
	return ret_bool(x, contains(S(1), S(0)), out, msg);
}

FN(hasPrefix)
{
	(void)n;
	return ret_bool(x,
	                a[1]->u.s.n >= a[0]->u.s.n &&
	                        memcmp(a[1]->u.s.p, a[0]->u.s.p, a[0]->u.s.n) ==
	                                0,
	                out, msg);
}

FN(hasSuffix)
{
	(void)n;
	return ret_bool(x,
	                a[1]->u.s.n >= a[0]->u.s.n &&
	                        memcmp(a[1]->u.s.p + a[1]->u.s.n - a[0]->u.s.n,
	                               a[0]->u.s.p, a[0]->u.s.n) == 0,
	                out, msg);
}

FN(repeat)
{
	struct buf b = TBUF_INIT;
	int64_t count = a[0]->u.i;

	(void)n;
	if (count < 0)
		return fail(msg, "strings: negative Repeat count");
	if (a[1]->u.s.n > 0 &&
	    (uint64_t)count > TEMPLATE_MAX_OUTPUT / a[1]->u.s.n)
		return nomem(msg);
	for (int64_t i = 0; i < count && a[1]->u.s.n > 0; i++)
		buf_add(&b, S(1));
	return ret_buf(x, &b, out, msg);
}

FN(substr)
{
	int64_t start = a[0]->u.i, end = a[1]->u.i;
	int64_t len = (int64_t)a[2]->u.s.n;

	(void)n;
	if (start < 0) {
		if (end < 0)
			return fail(
			        msg,
			        "runtime error: slice bounds out of range [:%lld]",
			        (long long)end);
		if (end > len)
			return fail(
			        msg,
			        "runtime error: slice bounds out of range [:%lld] with length %lld",
			        (long long)end, (long long)len);
		return ret_str(x, a[2]->u.s.p, (size_t)end, out, msg);
	}
	if (end < 0 || end > len) {
		if (start > len)
			return fail(
			        msg,
			        "runtime error: slice bounds out of range [%lld:%lld]",
			        (long long)start, (long long)len);
		return ret_str(x, a[2]->u.s.p + start, (size_t)(len - start),
		               out, msg);
	}
	if (start > end)
		return fail(
		        msg,
		        "runtime error: slice bounds out of range [%lld:%lld]",
		        (long long)start, (long long)end);
	return ret_str(x, a[2]->u.s.p + start, (size_t)(end - start), out, msg);
}

FN(trunc)
{
	int64_t c = a[0]->u.i, len = (int64_t)a[1]->u.s.n;

	(void)n;
	if (c < 0 && len + c > 0)
		return ret_str(x, a[1]->u.s.p + len + c, (size_t)(-c), out,
		               msg);
	if (c >= 0 && len > c)
		return ret_str(x, a[1]->u.s.p, (size_t)c, out, msg);
	*out = a[1];
	return 0;
}

/* sprig's strval: strings as they are, String() texts, else %v. */
static void
strval(struct buf *b, tval v)
{
	if (is_nil(v))
		buf_puts(b, "<nil>");
	else if (v->kind == TV_STRING)
		buf_add(b, v->u.s.p, v->u.s.n);
	else
		tfmt_value(b, v);
}

FN(quote)
{
	struct buf b = TBUF_INIT, t = TBUF_INIT;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (is_nil(a[i]))
			continue;
		if (!first)
			buf_putc(&b, ' ');
		first = false;
		buf_reset(&t);
		strval(&t, a[i]);
		tfmt_quote(&b, t.ptr, t.len);
	}
	buf_release(&t);
	return ret_buf(x, &b, out, msg);
}

FN(squote)
{
	struct buf b = TBUF_INIT;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (is_nil(a[i]))
			continue;
		if (!first)
			buf_putc(&b, ' ');
		first = false;
		buf_putc(&b, '\'');
		tfmt_value(&b, a[i]);
		buf_putc(&b, '\'');
	}
	return ret_buf(x, &b, out, msg);
}

FN(cat)
{
	struct buf b = TBUF_INIT;
	bool first = true;

	for (size_t i = 0; i < n; i++) {
		if (is_nil(a[i]))
			continue;
		if (!first)
			buf_putc(&b, ' ');
		first = false;
		tfmt_value(&b, a[i]);
	}
	return ret_buf(x, &b, out, msg);
}

static int
do_indent(struct texec *x, tval *a, tval *out, struct buf *msg, bool nl)
{
	struct buf b = TBUF_INIT, pad = TBUF_INIT;
	int64_t spaces = a[0]->u.i;

	if (spaces < 0)
		return fail(msg, "strings: negative Repeat count");
	if ((uint64_t)spaces > TEMPLATE_MAX_OUTPUT)
		return nomem(msg);
	if (nl)
		buf_putc(&pad, '\n');
	for (int64_t i = 0; i < spaces; i++)
		buf_putc(&pad, ' ');
	if (!buf_ok(&pad)) {
		buf_release(&pad);
		return nomem(msg);
	}
	if (nl)
		buf_puts(&b, pad.ptr);
	else
		buf_add(&b, pad.ptr, pad.len);
	/* every "\n" becomes "\n" + pad */
	{
		const char *s = a[1]->u.s.p;
		size_t sn = a[1]->u.s.n;
		const char *padp = nl ? pad.ptr + 1 : pad.ptr;
		size_t padn = nl ? pad.len - 1 : pad.len;
		for (size_t i = 0; i < sn; i++) {
			buf_putc(&b, s[i]);
			if (s[i] == '\n')
				buf_add(&b, padp, padn);
			if (b.len > TEMPLATE_MAX_OUTPUT) {
				buf_release(&pad);
				buf_release(&b);
				return nomem(msg);
			}
		}
	}
	buf_release(&pad);
	return ret_buf(x, &b, out, msg);
}

FN(indent)
{
	(void)n;
	return do_indent(x, a, out, msg, false);
}

FN(nindent)
{
	(void)n;
	return do_indent(x, a, out, msg, true);
}

/* sprig's strslice, appended as items of a []string. */
static int
strslice(struct texec *x, tval v, struct template_value *list, struct buf *msg)
{
	struct buf t = TBUF_INIT;

	if (!is_nil(v) && v->kind == TV_LIST) {
		for (size_t i = 0; i < v->u.l.n; i++) {
			tval e = v->u.l.v[i];
			tval s;
			if (is_nil(e))
				continue;
			buf_reset(&t);
			strval(&t, e);
			if (!buf_ok(&t) ||
			    (s = tv_string(texec_arena(x), t.ptr, t.len)) ==
			            NULL ||
			    tv_list_push(texec_arena(x), list,
			                 (struct template_value *)s) < 0) {
				buf_release(&t);
				return nomem(msg);
			}
		}
	} else if (!is_nil(v)) {
		tval s;
		strval(&t, v);
		if (!buf_ok(&t) ||
		    (s = tv_string(texec_arena(x), t.ptr, t.len)) == NULL ||
		    tv_list_push(texec_arena(x), list,
		                 (struct template_value *)s) < 0) {
			buf_release(&t);
			return nomem(msg);
		}
	}
	buf_release(&t);
	return 0;
}

static struct template_value *
new_list(struct texec *x, enum tv_elem elem)
{
	struct template_value *l = tv_new(texec_arena(x), TV_LIST);

	if (l != NULL)
		l->u.l.elem = elem;
	return l;
}

FN(join)
{
	struct template_value *l = new_list(x, TV_ELEM_STRING);
	struct buf b = TBUF_INIT;

	(void)n;
	if (l == NULL || strslice(x, a[1], l, msg) < 0)
		return nomem(msg);
	for (size_t i = 0; i < l->u.l.n; i++) {
		if (i)
			buf_add(&b, S(0));
		buf_add(&b, l->u.l.v[i]->u.s.p, l->u.l.v[i]->u.s.n);
		if (b.len > TEMPLATE_MAX_OUTPUT) {
			buf_release(&b);
			return nomem(msg);
		}
	}
	return ret_buf(x, &b, out, msg);
}

FN(splitList)
{
	struct template_value *l = new_list(x, TV_ELEM_STRING);
	const char *s = a[1]->u.s.p, *sep = a[0]->u.s.p;
	size_t sn = a[1]->u.s.n, sepn = a[0]->u.s.n, i = 0;

	(void)n;
	if (l == NULL)
		return nomem(msg);
	if (sepn == 0) {
		/* one element per UTF-8 sequence */
		while (i < sn) {
			size_t size = 1;
			if ((unsigned char)s[i] >= 0xc0)
				while (i + size < sn && size < 4 &&
				       ((unsigned char)s[i + size] & 0xc0) ==
				               0x80)
					size++;
			if (tv_list_push(
			            texec_arena(x), l,
			            tv_string(texec_arena(x), s + i, size)) < 0)
				return nomem(msg);
			i += size;
		}
		*out = l;
		return 0;
	}
	for (;;) {
		const char *hit = i + sepn <= sn
		                          ? memmem(s + i, sn - i, sep, sepn)
		                          : NULL;
		size_t end = hit ? (size_t)(hit - s) : sn;
		if (tv_list_push(texec_arena(x), l,
		                 tv_string(texec_arena(x), s + i, end - i)) < 0)
			return nomem(msg);
		if (hit == NULL)
			break;
		i = end + sepn;
	}
	*out = l;
	return 0;
}

FN(list)
{
	struct template_value *l = new_list(x, TV_ELEM_ANY);

	if (l == NULL)
		return nomem(msg);
	for (size_t i = 0; i < n; i++) {
		struct template_value *e = (struct template_value *)a[i];
		if (tv_list_push(texec_arena(x), l, e) < 0)
			return nomem(msg);
	}
	*out = l;
	return 0;
}

static int
first_last(struct texec *x, tval v, bool last, const char *what, tval *out,
           struct buf *msg)
{
	if (is_nil(v))
		return fail(
		        msg,
		        "runtime error: invalid memory address or nil pointer dereference");
	if (v->kind != TV_LIST)
		return fail(msg, "Cannot find %s on type %s", what,
		            kind_name(v));
	if (v->u.l.n == 0)
		return ret_nil(x, out, msg);
	*out = v->u.l.v[last ? v->u.l.n - 1 : 0];
	return 0;
}

FN(first)
{
	(void)n;
	return first_last(x, a[0], false, "first", out, msg);
}

FN(last)
{
	(void)n;
	return first_last(x, a[0], true, "last", out, msg);
}

FN(uniq)
{
	struct template_value *l;
	size_t budget = TEMPLATE_MAX_COMPARE;

	(void)n;
	if (is_nil(a[0]))
		return fail(
		        msg,
		        "runtime error: invalid memory address or nil pointer dereference");
	if (a[0]->kind != TV_LIST)
		return fail(msg, "Cannot find uniq on type %s",
		            kind_name(a[0]));
	l = new_list(x, TV_ELEM_ANY);
	if (l == NULL)
		return nomem(msg);
	for (size_t i = 0; i < a[0]->u.l.n; i++) {
		tval e = a[0]->u.l.v[i];
		bool seen = false;
		for (size_t k = 0; k < l->u.l.n && !seen; k++) {
			seen = deep_equal(l->u.l.v[k], e, &budget);
			if (budget == 0)
				return fail(msg, "values too large to compare");
		}
		if (!seen && tv_list_push(texec_arena(x), l,
		                          (struct template_value *)e) < 0)
			return nomem(msg);
	}
	/* sprig appends to []interface{}{} */
	l->u.l.gocap = tv_append_cap(l->u.l.n);
	*out = l;
	return 0;
}

static int
str_cmp(const void *pa, const void *pb)
{
	tval a = *(tval const *)pa, b = *(tval const *)pb;
	return tv_key_cmp(a, b);
}

FN(sortAlpha)
{
	struct template_value *l = new_list(x, TV_ELEM_STRING);
	struct buf t = TBUF_INIT;

	(void)n;
	if (l == NULL)
		return nomem(msg);
	if (!is_nil(a[0]) && a[0]->kind == TV_LIST) {
		if (strslice(x, a[0], l, msg) < 0)
			return -1;
		/* strslice returns a []string as it is, and makes any other
		 * list with room for every element, nils included */
		l->u.l.gocap = a[0]->u.l.elem == TV_ELEM_STRING
		                       ? a[0]->u.l.gocap
		                       : a[0]->u.l.n;
		if (l->u.l.n > 1)
			qsort(l->u.l.v, l->u.l.n, sizeof(*l->u.l.v), str_cmp);
	} else {
		tval s;
		strval(&t, a[0]);
		if (!buf_ok(&t) ||
		    (s = tv_string(texec_arena(x), t.ptr, t.len)) == NULL ||
		    tv_list_push(texec_arena(x), l,
		                 (struct template_value *)s) < 0) {
			buf_release(&t);
			return nomem(msg);
		}
		buf_release(&t);
	}
	*out = l;
	return 0;
}

/* sprig's empty(). */
static bool
empty(tval v)
{
	return !tv_truth(v) && !(v != NULL && v->kind == TV_STRUCT);
}

FN(default)
{
	if (n < 2 || empty(a[1])) {
		*out = a[0];
		return 0;
	}
	(void)x;
	(void)msg;
	*out = a[1];
	return 0;
}

FN(empty)
{
	(void)n;
	return ret_bool(x, empty(a[0]), out, msg);
}

FN(coalesce)
{
	for (size_t i = 0; i < n; i++) {
		if (!empty(a[i])) {
			*out = a[i];
			return 0;
		}
	}
	return ret_nil(x, out, msg);
}

FN(toString)
{
	struct buf b = TBUF_INIT;

	(void)n;
	strval(&b, a[0]);
	return ret_buf(x, &b, out, msg);
}

FN(sha256sum)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[crypto_hash_sha256_BYTES * 2 + 1];

	(void)n;
	crypto_hash_sha256(h, (const unsigned char *)a[0]->u.s.p, a[0]->u.s.n);
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	return ret_str(x, hex, strlen(hex), out, msg);
}

FN(b64enc)
{
	struct buf b = TBUF_INIT;

	(void)n;
	if (a[0]->u.s.n > TEMPLATE_MAX_OUTPUT)
		return nomem(msg);
	if (base64_encode(&b, a[0]->u.s.p, a[0]->u.s.n) < 0) {
		buf_release(&b);
		return nomem(msg);
	}
	return ret_buf(x, &b, out, msg);
}

#define V TA_VALUE
#define A TA_ANY
#define STR TA_STRING
#define I TA_INT

static const struct tfunc funcs[] = {
	{ "and", fn_not, { V }, 1, true, V, false },
	{ "call", fn_not, { V }, 1, true, V, false }, /* see eval_call */
	{ "or", fn_not, { V }, 1, true, V, false },
	{ "not", fn_not, { V }, 1, false, V, false },
	{ "len", fn_len, { V }, 1, false, V, false },
	{ "index", fn_index, { V }, 1, true, V, false },
	{ "slice", fn_slice, { V }, 1, true, V, false },
	{ "print", fn_print, { A }, 0, true, A, false },
	{ "printf", fn_printf, { STR }, 1, true, A, false },
	{ "println", fn_println, { A }, 0, true, A, false },
	{ "eq", fn_eq, { V }, 1, true, V, false },
	{ "ne", fn_ne, { V, V }, 2, false, V, false },
	{ "lt", fn_lt, { V, V }, 2, false, V, false },
	{ "le", fn_le, { V, V }, 2, false, V, false },
	{ "gt", fn_gt, { V, V }, 2, false, V, false },
	{ "ge", fn_ge, { V, V }, 2, false, V, false },
	{ "html", fn_html, { A }, 0, true, A, false },
	{ "js", fn_js, { A }, 0, true, A, false },
	{ "urlquery", fn_urlquery, { A }, 0, true, A, false },
	{ "lower", fn_lower, { STR }, 1, false, A, true },
	{ "upper", fn_upper, { STR }, 1, false, A, true },
	{ "title", fn_title, { STR }, 1, false, A, true },
	{ "trim", fn_trim, { STR }, 1, false, A, true },
	{ "trimPrefix", fn_trimPrefix, { STR, STR }, 2, false, A, true },
	{ "trimSuffix", fn_trimSuffix, { STR, STR }, 2, false, A, true },
	{ "replace", fn_replace, { STR, STR, STR }, 3, false, A, true },
	{ "contains", fn_contains, { STR, STR }, 2, false, A, true },
	{ "hasPrefix", fn_hasPrefix, { STR, STR }, 2, false, A, true },
	{ "hasSuffix", fn_hasSuffix, { STR, STR }, 2, false, A, true },
	{ "repeat", fn_repeat, { I, STR }, 2, false, A, true },
	{ "substr", fn_substr, { I, I, STR }, 3, false, A, true },
	{ "trunc", fn_trunc, { I, STR }, 2, false, A, true },
	{ "quote", fn_quote, { A }, 0, true, A, true },
	{ "squote", fn_squote, { A }, 0, true, A, true },
	{ "cat", fn_cat, { A }, 0, true, A, true },
	{ "indent", fn_indent, { I, STR }, 2, false, A, true },
	{ "nindent", fn_nindent, { I, STR }, 2, false, A, true },
	{ "join", fn_join, { STR, A }, 2, false, A, true },
	{ "splitList", fn_splitList, { STR, STR }, 2, false, A, true },
	{ "list", fn_list, { A }, 0, true, A, true },
	{ "first", fn_first, { A }, 1, false, A, true },
	{ "last", fn_last, { A }, 1, false, A, true },
	{ "uniq", fn_uniq, { A }, 1, false, A, true },
	{ "sortAlpha", fn_sortAlpha, { A }, 1, false, A, true },
	{ "default", fn_default, { A }, 1, true, A, true },
	{ "empty", fn_empty, { A }, 1, false, A, true },
	{ "coalesce", fn_coalesce, { A }, 0, true, A, true },
	{ "toString", fn_toString, { A }, 1, false, A, true },
	{ "sha256sum", fn_sha256sum, { STR }, 1, false, A, true },
	{ "b64enc", fn_b64enc, { STR }, 1, false, A, true },
};

const struct tfunc *
tfunc_find(const char *name, size_t len, bool sprig)
{
	for (size_t i = 0; i < sizeof(funcs) / sizeof(funcs[0]); i++) {
		if (funcs[i].sprig && !sprig)
			continue;
		if (strlen(funcs[i].name) == len &&
		    memcmp(funcs[i].name, name, len) == 0)
			return &funcs[i];
	}
	return NULL;
}
