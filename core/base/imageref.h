/*
 * imageref.h - the container image reference grammar, as docker/distribution
 * writes it (reference/regexp.go) and reads it (reference/normalize.go,
 * ParseNormalizedNamed).  The one copy in ferry: the scanner parses image
 * names with it, the YAML editors check the values they write with it.
 *
 *   reference := name [ ":" tag ] [ "@" digest ]
 *   name      := [ domain "/" ] path
 *   domain    := host [ ":" port ]
 *   host      := label ( "." label )*  |  "[" [0-9A-Fa-f:]+ "]"
 *   label     := [A-Za-z0-9] | [A-Za-z0-9][A-Za-z0-9-]*[A-Za-z0-9]
 *   port      := [0-9]{1,5}
 *   path      := component ( "/" component )*
 *   component := [a-z0-9]+ ( ( "." | "_" | "__" | "-"+ ) [a-z0-9]+ )*
 *   tag       := [A-Za-z0-9_][A-Za-z0-9_.-]{0,127}
 *   digest    := [A-Za-z][A-Za-z0-9]* ( [-_+.] [A-Za-z][A-Za-z0-9]* )*
 *                ":" [0-9A-Fa-f]{32,}
 *
 * The text before the first '/' is the domain when it contains '.' or ':',
 * is "localhost", or has an upper-case letter; otherwise the reference
 * names an image on Docker Hub (docker.io).  "index.docker.io" is
 * docker.io, and a one-component name there is an official image, whose
 * normalised path starts with "library/".  The normalised name ("domain/
 * path") is at most 255 bytes, and a bare 64-digit hex string is refused
 * (it reads as an image ID).
 *
 * Where ferry is stricter than distribution, on purpose: a port has at most
 * five digits (65535 is the largest port), and a reference is ASCII
 * without blanks or control characters.
 *
 * Thread safety: all functions are reentrant; nothing allocates.
 */
#ifndef FERRY_BASE_IMAGEREF_H
#define FERRY_BASE_IMAGEREF_H

#include <stdbool.h>
#include <stddef.h>

#include "buf.h"
#include "err.h"

#define IMAGEREF_MAX_NAME 255      /* normalised "domain/path", as Docker */
#define IMAGEREF_MAX_TAG 128       /* bytes of a tag */
#define IMAGEREF_MAX_PORT_DIGITS 5 /* ":65535" */
#define IMAGEREF_DOCKER_HUB "docker.io"
#define IMAGEREF_OFFICIAL_PREFIX "library/"

/*
 * A parsed reference: views into the parsed string, which must outlive it.
 * Invariants after imageref_parse() returned 0: path is non-NULL and valid;
 * domain is NULL exactly when the reference names docker.io (written
 * without a domain, or as docker.io or index.docker.io), otherwise valid;
 * tag and digest are NULL or valid; official is true when the normalised
 * path needs IMAGEREF_OFFICIAL_PREFIX in front of path.
 */
struct imageref {
	const char *domain; /* "ghcr.io", "localhost:5000"; NULL: docker.io */
	size_t domain_len;
	const char *path; /* as written: "nginx", "org/app" */
	size_t path_len;
	const char *tag; /* NULL when not given */
	size_t tag_len;
	const char *digest; /* "sha256:...", NULL when not given */
	size_t digest_len;
	bool official; /* docker.io and one path component */
};

/*
 * Parses s[0..len) into *out (views into s).  -ERR_INVALID with a message
 * naming the offending part ("invalid tag '...'", "invalid registry host
 * '...'", "... must be lower-case", ...); nothing else.
 */
int imageref_parse(struct imageref *out, const char *s, size_t len,
                   struct err *err);

/* true when s[0..len) is a name: a reference without tag and digest. */
bool imageref_name_valid(const char *s, size_t len);

/* true when s[0..len) matches the tag grammar. */
bool imageref_tag_valid(const char *s, size_t len);

/* true when s[0..len) matches the digest grammar ("alg:hex", hex >= 32). */
bool imageref_digest_valid(const char *s, size_t len);

/* true when s[0..len) matches the path grammar (no domain). */
bool imageref_path_valid(const char *s, size_t len);

/* true when s[0..len) matches the domain grammar (host and port). */
bool imageref_domain_valid(const char *s, size_t len);

/* Appends the normalised domain of r ("docker.io" when r->domain is NULL). */
int imageref_domain(struct buf *out, const struct imageref *r);

/* Appends the normalised path of r ("library/nginx" for "nginx"). */
int imageref_path(struct buf *out, const struct imageref *r);

/*
 * Appends r written back as a reference: normalised domain and path, then
 * ":tag" and "@digest" when present.  It parses back to the same parts.
 */
int imageref_format(struct buf *out, const struct imageref *r);

#endif
