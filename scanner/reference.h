/*
 * reference.h - container image references, parsed and normalised the way
 * Docker does (the grammar is base/imageref.h), with the host to send API
 * requests to.
 *
 *   nginx                   -> docker.io/library/nginx
 *   index.docker.io/foo/bar -> docker.io/foo/bar
 *   localhost:5000/app:1.0  -> domain localhost:5000, path app, tag 1.0
 *
 * An image on docker.io is served by the API host registry-1.docker.io;
 * any other registry by its own domain.
 *
 * Invariants of a parsed struct reference: domain and path are non-NULL,
 * normalised and valid; tag and digest are NULL or valid; api_host is the
 * host[:port] to send API requests to.
 *
 * Ownership: the struct owns its strings; reference_release() frees them.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef FERRY_SCANNER_REFERENCE_H
#define FERRY_SCANNER_REFERENCE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define REFERENCE_DOCKER_HUB_API "registry-1.docker.io"

struct reference {
	char *domain;   /* "docker.io", "ghcr.io", "127.0.0.1:5000" */
	char *path;     /* "library/nginx" */
	char *tag;      /* NULL when not given */
	char *digest;   /* NULL when not given */
	char *api_host; /* host[:port] for the API */
};

#define REFERENCE_INIT                                                         \
	{                                                                      \
		NULL, NULL, NULL, NULL, NULL                                   \
	}

/*
 * Parses s[0..len) into out (which must be REFERENCE_INIT or released).
 * -ERR_INVALID with imageref_parse()'s message naming the offending part;
 * -ERR_NOMEM.
 */
int reference_parse(struct reference *out, const char *s, size_t len,
                    struct err *err);

/* Frees the strings and returns r to REFERENCE_INIT. */
void reference_release(struct reference *r);

/* Appends "domain/path" to out. */
int reference_name(struct buf *out, const struct reference *r);

#endif
