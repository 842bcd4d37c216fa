/*
 * protocol.h - parsers for the small pieces of the distribution API that
 * come from the network: Link headers, tag list bodies, Retry-After,
 * Docker Hub rate-limit headers, error bodies.
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

/* Parses "N" or "N;w=..." (ratelimit-remaining) into *out. */
int protocol_ratelimit(long long *out, const char *s, size_t len);

/*
 * Appends a short description of a distribution error body
 * ({"errors":[{"code","message"}]}) to out: "NAME_UNKNOWN: repository name
 * not known to registry".  Appends nothing when the body is not one.
 */
void protocol_error_describe(struct buf *out, const char *body, size_t len);

#endif
