/*
 * protocol.h - parsers for the small pieces of the distribution API that
 * come from the network: Link headers, tag list bodies, manifests, image
 * indexes and config blobs, Retry-After, Docker Hub rate-limit headers,
 * error bodies.
 *
 * Every parser takes (ptr, len), never relies on a trailing NUL, and
 * enforces its limit while reading.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef FERRY_SCANNER_PROTOCOL_H
#define FERRY_SCANNER_PROTOCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"

#define PROTOCOL_MAX_LINK 8192   /* longest Link header value we parse */
#define PROTOCOL_MAX_TAGS 100000 /* tags in one repository, all pages */

/*
 * true when c is an RFC 9110 token character (tchar): ASCII letters and
 * digits and !#$%&'*+-.^_`|~.  Header names, auth schemes and parameter
 * names are tokens; both the Link and the WWW-Authenticate parsers use this
 * one definition.
 */
bool protocol_tchar(char c);

/*
 * Finds the target of the link whose rel contains "next" in one Link header
 * value s[0..len) (RFC 8288: "<url>; rel=next" entries separated by commas;
 * commas inside <...> or quotes do not separate).  Appends the target,
 * verbatim, to url_out.  1 when found, 0 when there is no next link,
 * -ERR_INVALID on a malformed header.
 */
int protocol_link_next(struct buf *url_out, const char *s, size_t len,
                       struct err *err);

/*
 * Parses a tags/list body {"name":..., "tags":[...]} and calls add() for
 * each string in "tags" ("tags": null is an empty list).  max limits the
 * number of entries.  -ERR_INVALID on bad JSON, a missing "tags" array or a
 * non-string entry; -ERR_NOMEM past max; add()'s error when it fails.
 */
int protocol_tags_parse(const char *body, size_t len, size_t max,
                        int (*add)(const char *tag, size_t len, void *payload),
                        void *payload, struct err *err);

/*
 * Parses Retry-After (delta-seconds or an HTTP date) relative to now into
 * seconds from now (0 when in the past).  -ERR_INVALID otherwise.
 */
int protocol_retry_after(long long *secs_out, const char *s, size_t len,
                         time_t now);

/* What an image manifest or index says the scanner should fetch next. */
enum protocol_manifest_kind {
	PROTOCOL_MANIFEST_IMAGE, /* OCI image manifest, Docker v2 schema 2 */
	PROTOCOL_MANIFEST_INDEX, /* OCI image index, Docker manifest list */
};

struct protocol_manifest {
	enum protocol_manifest_kind kind;
	/* IMAGE: the config blob's digest.  INDEX: the digest of the
	 * manifest for the platform asked for, NULL when the index has
	 * none.  Valid by the digest grammar when set; owned. */
	char *digest;
};

#define PROTOCOL_MANIFEST_INIT                                                 \
	{                                                                      \
		PROTOCOL_MANIFEST_IMAGE, NULL                                  \
	}

/*
 * Parses a manifest body[0..len) that came with the Content-Type
 * ctype[0..ctype_len) (parameters after ';' are ignored; may be empty).
 * The body's mediaType, when present, must equal the Content-Type's, and
 * wins when the header is absent.  For an index, the first manifest whose
 * platform is platform ("os/arch" or "os/arch/variant"), skipping
 * attestation manifests (vnd.docker.reference.type), is the one to fetch;
 * index_ok false refuses an index (the child of an index must be an image
 * manifest).  out must be PROTOCOL_MANIFEST_INIT; the caller releases it.
 * -ERR_INVALID: bad JSON, a mediaType that differs from the Content-Type,
 * another media type, an image manifest without a valid config digest, an
 * invalid digest for the platform; -ERR_NOMEM.
 */
int protocol_manifest_parse(struct protocol_manifest *out, const char *body,
                            size_t len, const char *ctype, size_t ctype_len,
                            const char *platform, bool index_ok,
                            struct err *err);

/* Frees what m holds and returns it to PROTOCOL_MANIFEST_INIT. */
void protocol_manifest_release(struct protocol_manifest *m);

/* What an image config blob says about the image. */
struct protocol_config {
	char *created;        /* "created" as written, or NULL; owned */
	int64_t created_unix; /* created as RFC 3339, else INT64_MIN */
	char *platform;       /* "os/arch[/variant]", or NULL; owned */
};

#define PROTOCOL_CONFIG_INIT                                                   \
	{                                                                      \
		NULL, INT64_MIN, NULL                                          \
	}

/*
 * Parses an image config blob body[0..len) (OCI image config, Docker's
 * container config): "created", "os", "architecture", "variant".  A
 * "created" that is not RFC 3339 stays in created with created_unix
 * INT64_MIN, for the caller to report; a field that is missing (or a body
 * that is not an object) leaves its part NULL.  out must be
 * PROTOCOL_CONFIG_INIT; the caller releases it.  -ERR_INVALID on bad JSON;
 * -ERR_NOMEM.
 */
int protocol_config_parse(struct protocol_config *out, const char *body,
                          size_t len, struct err *err);

/* Frees what c holds and returns it to PROTOCOL_CONFIG_INIT. */
void protocol_config_release(struct protocol_config *c);

/* Parses "N" or "N;w=..." (ratelimit-remaining) into *out. */
int protocol_ratelimit(long long *out, const char *s, size_t len);

/*
 * Appends a short description of a distribution error body
 * ({"errors":[{"code","message"}]}) to out: "NAME_UNKNOWN: repository name
 * not known to registry".  Appends nothing when the body is not one.
 */
void protocol_error_describe(struct buf *out, const char *body, size_t len);

#endif
