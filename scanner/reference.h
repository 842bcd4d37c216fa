/*
 * reference.h - container image references, parsed and normalised the way
 * Docker does, and the OCI grammar for names, tags and digests.
 *
 *   nginx                   -> docker.io/library/nginx
 *   index.docker.io/foo/bar -> docker.io/foo/bar
 *   localhost:5000/app:1.0  -> domain localhost:5000, path app, tag 1.0
 *
 * The first component is a registry host when it contains '.' or ':', is
 * "localhost", or has an upper-case letter; otherwise the image lives on
 * docker.io, whose API host is registry-1.docker.io.
 *
 * Invariants of a parsed struct reference: domain and path are non-NULL and
 * valid; tag and digest are NULL or valid; api_host is the host[:port] to
 * send API requests to.
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

#define REFERENCE_MAX_NAME 255 /* domain + "/" + path, as Docker */
#define REFERENCE_MAX_TAG 128
#define REFERENCE_DOCKER_HUB "docker.io"
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
 * -ERR_INVALID with a message naming the offending part; -ERR_NOMEM.
 */
int reference_parse(struct reference *out, const char *s, size_t len,
                    struct err *err);

/* Frees the strings and returns r to REFERENCE_INIT. */
void reference_release(struct reference *r);

/* Appends "domain/path" to out. */
int reference_name(struct buf *out, const struct reference *r);

/* true when s[0..len) matches the OCI tag grammar. */
bool reference_tag_valid(const char *s, size_t len);

/* true when s[0..len) matches the repository path grammar (no domain). */
bool reference_path_valid(const char *s, size_t len);

/* true when s[0..len) matches the digest grammar ("alg:hex", hex >= 32). */
bool reference_digest_valid(const char *s, size_t len);

#endif
