/*
 * secret.c - owned, wiped-on-free secret bytes (libsodium for zeroing and
 * constant-time compare).  It does not encrypt anything.
 */
#include "secret.h"
#include "err.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

int
secret_set(struct secret *s, const void *data, size_t len)
{
	unsigned char *p;
	size_t sz;

	if (__builtin_add_overflow(len, 1, &sz))
		return -ERR_NOMEM;
	p = malloc(sz);
	if (p == NULL)
		return -ERR_NOMEM;
	if (len)
		memcpy(p, data, len);
	p[len] = '\0';
	secret_release(s);
	s->ptr = p;
	s->len = len;
	return 0;
}

void
secret_release(struct secret *s)
{
	if (s->ptr) {
		sodium_memzero(s->ptr, s->len + 1);
		free(s->ptr);
	}
	s->ptr = NULL;
	s->len = 0;
}

bool
secret_equal(const struct secret *a, const struct secret *b)
{
	if (a->len != b->len)
		return false;
	if (a->len == 0)
		return true;
	return sodium_memcmp(a->ptr, b->ptr, a->len) == 0;
}

void
secret_wipe(void *p, size_t len)
{
	if (p && len)
		sodium_memzero(p, len);
}
