/*
 * buf.c - growable, always NUL-terminated byte buffer with a size cap and a
 * sticky failure flag.  It does not know about encodings.
 */
#include "buf.h"
#include "err.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

char buf_empty[1];

static size_t
buf_max(const struct buf *b)
{
	return b->max ? b->max : BUF_DEFAULT_MAX;
}

int
buf_grow(struct buf *b, size_t n)
{
	size_t want, cap;
	char *p;

	if (b->failed)
		return -ERR_NOMEM;
	if (__builtin_add_overflow(b->len, n, &want) || want > buf_max(b)) {
		b->failed = true;
		return -ERR_NOMEM;
	}
	want++; /* the NUL */
	if (want <= b->cap)
		return 0;
	cap = b->cap ? b->cap : 64;
	while (cap < want) {
		if (__builtin_mul_overflow(cap, 2, &cap)) {
			cap = want;
			break;
		}
	}
	p = realloc(b->cap ? b->ptr : NULL, cap);
	if (p == NULL) {
		b->failed = true;
		return -ERR_NOMEM;
	}
	if (b->cap == 0)
		p[0] = '\0';
	b->ptr = p;
	b->cap = cap;
	return 0;
}

int
buf_add(struct buf *b, const void *data, size_t len)
{
	int rc;

	if ((rc = buf_grow(b, len)) < 0)
		return rc;
	if (len)
		memmove(b->ptr + b->len, data, len);
	b->len += len;
	b->ptr[b->len] = '\0';
	return 0;
}

int
buf_puts(struct buf *b, const char *s)
{
	return buf_add(b, s, strlen(s));
}

int
buf_putc(struct buf *b, char c)
{
	return buf_add(b, &c, 1);
}

int
buf_addf(struct buf *b, const char *fmt, ...)
{
	va_list ap;
	int n, rc;

	if (b->failed)
		return -ERR_NOMEM;
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0) {
		b->failed = true;
		return -ERR_INVALID;
	}
	if ((rc = buf_grow(b, (size_t)n)) < 0)
		return rc;
	va_start(ap, fmt);
	vsnprintf(b->ptr + b->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	b->len += (size_t)n;
	return 0;
}

bool
buf_ok(const struct buf *b)
{
	return !b->failed;
}

void
buf_reset(struct buf *b)
{
	b->len = 0;
	b->failed = false;
	if (b->cap)
		b->ptr[0] = '\0';
}

void
buf_truncate(struct buf *b, size_t len)
{
	if (len >= b->len)
		return;
	b->len = len;
	b->ptr[len] = '\0';
}

void
buf_release(struct buf *b)
{
	size_t max = b->max;

	if (b->cap)
		free(b->ptr);
	b->ptr = buf_empty;
	b->len = b->cap = 0;
	b->failed = false;
	b->max = max;
}

char *
buf_detach(struct buf *b)
{
	char *p;

	if (b->failed) {
		buf_release(b);
		return NULL;
	}
	if (b->cap == 0) {
		p = strdup("");
	} else {
		p = b->ptr;
		b->ptr = buf_empty;
		b->len = b->cap = 0;
	}
	return p;
}
