/*
 * dedup.c - a bounded "seen lately" set for webhook deliveries, so that a
 * registry's retry or a second delivery of one push triggers once.
 *
 * Keys are kept as 128-bit BLAKE2b hashes under a random key chosen at
 * creation (so a sender cannot aim for collisions), in a ring of fixed
 * capacity: the oldest entry gives way first, and memory never grows.  A
 * lookup scans the ring; at the default 4096 entries that is a few
 * microseconds, far below what a request costs anyway.  It does not
 * persist anything: a restarted daemon may trigger a duplicate once.
 */
#include "receiver.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#define DEDUP_HASH 16

struct dedup_entry {
	unsigned char h[DEDUP_HASH];
	int64_t t_ms;
	bool used;
};

struct receiver_dedup {
	pthread_mutex_t lock;
	unsigned char key[crypto_generichash_KEYBYTES];
	int64_t window_ms;
	size_t cap;
	size_t next; /* ring position written next (the oldest) */
	struct dedup_entry *e;
};

int
receiver_dedup_new(struct receiver_dedup **out, int64_t window_ms,
                   size_t capacity)
{
	struct receiver_dedup *d;

	*out = NULL;
	if (window_ms < 0)
		return -ERR_INVALID;
	if (capacity == 0)
		capacity = RECEIVER_DEDUP_DEFAULT_CAPACITY;
	d = calloc(1, sizeof(*d));
	if (d == NULL)
		return -ERR_NOMEM;
	d->e = calloc(capacity, sizeof(*d->e));
	if (d->e == NULL) {
		free(d);
		return -ERR_NOMEM;
	}
	if (pthread_mutex_init(&d->lock, NULL) != 0) {
		free(d->e);
		free(d);
		return -ERR_INTERNAL;
	}
	randombytes_buf(d->key, sizeof(d->key));
	d->window_ms = window_ms;
	d->cap = capacity;
	*out = d;
	return 0;
}

void
receiver_dedup_free(struct receiver_dedup *d)
{
	if (d == NULL)
		return;
	pthread_mutex_destroy(&d->lock);
	sodium_memzero(d->key, sizeof(d->key));
	free(d->e);
	free(d);
}

bool
receiver_dedup_seen(struct receiver_dedup *d, const char *key, int64_t now_ms)
{
	unsigned char h[DEDUP_HASH];
	bool seen = false;
	size_t i;

	if (d == NULL || key == NULL || key[0] == '\0')
		return false;
	crypto_generichash(h, sizeof(h), (const unsigned char *)key,
	                   strlen(key), d->key, sizeof(d->key));
	pthread_mutex_lock(&d->lock);
	for (i = 0; i < d->cap; i++) {
		struct dedup_entry *e = &d->e[i];
		if (!e->used || memcmp(e->h, h, sizeof(h)) != 0)
			continue;
		/* within the window, and not from a clock that went back */
		if (now_ms >= e->t_ms && now_ms - e->t_ms < d->window_ms) {
			seen = true;
		} else {
			e->t_ms = now_ms;
			seen = false;
		}
		goto out;
	}
	memcpy(d->e[d->next].h, h, sizeof(h));
	d->e[d->next].t_ms = now_ms;
	d->e[d->next].used = true;
	d->next = (d->next + 1) % d->cap;
out:
	pthread_mutex_unlock(&d->lock);
	return seen;
}
