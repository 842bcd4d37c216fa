/*
 * utf8.c - decodes and encodes one code point at a time, and turns
 * libyaml's character marks into byte offsets.  No validation of whole
 * strings, no normalisation, no case mapping: callers walk their text with
 * utf8_decode() and decide what an invalid byte means for them.
 */
#include "utf8.h"

#include <string.h>

int32_t
utf8_decode(const char *s, size_t len, size_t *size_out)
{
	const unsigned char *u = (const unsigned char *)s;
	int32_t r, min;
	size_t need;

	*size_out = 1;
	if (len == 0)
		return UTF8_INVALID;
	if (u[0] < 0x80)
		return u[0];
	/* 0xC0 and 0xC1 could only start overlong forms of ASCII */
	if (u[0] >= 0xC2 && u[0] <= 0xDF) {
		need = 2;
		r = u[0] & 0x1F;
		min = 0x80;
	} else if (u[0] >= 0xE0 && u[0] <= 0xEF) {
		need = 3;
		r = u[0] & 0x0F;
		min = 0x800;
	} else if (u[0] >= 0xF0 && u[0] <= 0xF4) {
		need = 4;
		r = u[0] & 0x07;
		min = 0x10000;
	} else {
		return UTF8_INVALID;
	}
	if (len < need)
		return UTF8_INVALID;
	for (size_t i = 1; i < need; i++) {
		if ((u[i] & 0xC0) != 0x80)
			return UTF8_INVALID;
		r = (r << 6) | (u[i] & 0x3F);
	}
	if (r < min || r > UTF8_MAX_RUNE || (r >= 0xD800 && r <= 0xDFFF))
		return UTF8_INVALID;
	*size_out = need;
	return r;
}

size_t
utf8_encode(char out[UTF8_MAX_BYTES], int32_t r)
{
	if (r < 0 || r > UTF8_MAX_RUNE || (r >= 0xD800 && r <= 0xDFFF))
		r = UTF8_REPLACEMENT;
	if (r < 0x80) {
		out[0] = (char)r;
		return 1;
	}
	if (r < 0x800) {
		out[0] = (char)(0xC0 | (r >> 6));
		out[1] = (char)(0x80 | (r & 0x3F));
		return 2;
	}
	if (r < 0x10000) {
		out[0] = (char)(0xE0 | (r >> 12));
		out[1] = (char)(0x80 | ((r >> 6) & 0x3F));
		out[2] = (char)(0x80 | (r & 0x3F));
		return 3;
	}
	out[0] = (char)(0xF0 | (r >> 18));
	out[1] = (char)(0x80 | ((r >> 12) & 0x3F));
	out[2] = (char)(0x80 | ((r >> 6) & 0x3F));
	out[3] = (char)(0x80 | (r & 0x3F));
	return 4;
}

void
utf8_index_init(struct utf8_index *x, const char *src, size_t len)
{
	x->src = src;
	x->len = len;
	x->bom = len >= 3 && memcmp(src, "\xEF\xBB\xBF", 3) == 0 ? 3 : 0;
	x->ascii = true;
	for (size_t i = 0; i < len && x->ascii; i++)
		x->ascii = (unsigned char)src[i] < 0x80;
	x->ci = 0;
	x->bi = x->bom;
}

size_t
utf8_index_offset(struct utf8_index *x, size_t idx)
{
	if (x->ascii)
		return idx + x->bom > x->len ? x->len : idx + x->bom;
	while (x->ci < idx && x->bi < x->len) {
		size_t w;

		utf8_decode(x->src + x->bi, x->len - x->bi, &w);
		x->bi += w;
		x->ci++;
	}
	while (x->ci > idx && x->bi > x->bom) {
		x->bi--;
		while (x->bi > x->bom &&
		       ((unsigned char)x->src[x->bi] & 0xC0) == 0x80)
			x->bi--;
		x->ci--;
	}
	return x->bi;
}
