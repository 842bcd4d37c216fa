/*
 * buf.h - a growable byte buffer.
 *
 * Invariants: ptr is never NULL once anything was added (it points at a
 * static "" before that), ptr[len] == '\0' always, len < cap when cap > 0,
 * and len never exceeds max (0 means BUF_DEFAULT_MAX).  The first failed
 * operation (out of memory, past max) marks the buffer: later appends do
 * nothing and buf_ok() returns false, so one check covers a chain of appends.
 *
 * Ownership: the buffer owns ptr; buf_detach() hands it to the caller, who
 * frees it with free().  buf_release() frees it.
 *
 * Thread safety: one thread at a time.
 */
#ifndef FERRY_BASE_BUF_H
#define FERRY_BASE_BUF_H

#include <stdbool.h>
#include <stddef.h>

#define BUF_DEFAULT_MAX ((size_t)1 << 30) /* 1 GiB: nothing ferry holds */

struct buf {
	char *ptr;
	size_t len;
	size_t cap;
	size_t max;
	bool failed;
};

extern char buf_empty[];
#define BUF_INIT                                                               \
	{                                                                      \
		buf_empty, 0, 0, 0, false                                      \
	}

/* Ensures room for n more bytes plus the NUL. 0, or -ERR_NOMEM. */
int buf_grow(struct buf *b, size_t n);

/* Appends len bytes of data. 0, or -ERR_NOMEM (and marks b failed). */
int buf_add(struct buf *b, const void *data, size_t len);

/* Appends a NUL-terminated string. */
int buf_puts(struct buf *b, const char *s);

/* Appends one byte. */
int buf_putc(struct buf *b, char c);

/* Appends printf-formatted text. */
int buf_addf(struct buf *b, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/* true while no operation on b has failed. */
bool buf_ok(const struct buf *b);

/* Sets len to 0 keeping the memory; clears the failed mark. */
void buf_reset(struct buf *b);

/* Shortens to len bytes (len <= b->len). */
void buf_truncate(struct buf *b, size_t len);

/* Frees the memory and returns b to BUF_INIT (keeping max). */
void buf_release(struct buf *b);

/*
 * Returns the string, owned by the caller (free() it), and resets b.
 * Never NULL unless memory ran out; then NULL.
 */
char *buf_detach(struct buf *b);

#endif
