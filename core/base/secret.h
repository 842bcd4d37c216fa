/*
 * secret.h - bytes that must never be printed: passwords, tokens, keys.
 *
 * A struct secret owns its bytes, which are wiped with sodium_memzero()
 * before they are freed.  There is deliberately no function that formats a
 * secret as text: code that needs the bytes (to build an Authorization
 * header, to sign) reads ptr/len and wipes its own copies.
 *
 * Invariant: ptr is NULL iff len is 0 and nothing was set; ptr[len] is '\0'
 * so the bytes can be handed to C APIs that want a string.
 *
 * Thread safety: one thread at a time.
 */
#ifndef FERRY_BASE_SECRET_H
#define FERRY_BASE_SECRET_H

#include <stdbool.h>
#include <stddef.h>

struct secret {
	unsigned char *ptr;
	size_t len;
};

#define SECRET_INIT                                                            \
	{                                                                      \
		NULL, 0                                                        \
	}

/* Copies len bytes into s (replacing and wiping what it held). */
int secret_set(struct secret *s, const void *data, size_t len);

/* Wipes and frees the bytes; s returns to SECRET_INIT. */
void secret_release(struct secret *s);

/* Constant-time equality of two secrets (false when lengths differ). */
bool secret_equal(const struct secret *a, const struct secret *b);

/* Wipes len bytes at p (sodium_memzero). */
void secret_wipe(void *p, size_t len);

#endif
