/*
 * filter.h - tag filters: Flux filterTags (pattern + extract), Argo CD
 * allow-tags regular expressions, and Argo CD ignore-tags globs.
 *
 * Patterns are Go regular expressions as base/regex.h reads them (PCRE2
 * with Go's matching rules and match limits; syntax Go's RE2 lacks, such
 * as backreferences or lookaround, is refused as Flux refuses it).  A match
 * is unanchored and leftmost, as Go's FindStringSubmatchIndex; '$' matches
 * only at the very end, as in Go.  Named groups use (?P<name>...).
 *
 * extract follows Go's Regexp.ExpandString: "$name" and "${name}" (name =
 * letters, digits, '_'; a purely numeric name is a group number, leading
 * zeros make it a name), "$$" is '$', a reference to an unknown or
 * unmatched group expands to nothing, a malformed '$' stays as is.  Only
 * ASCII letters and digits count as name characters (Go also takes other
 * Unicode letters, which can never name a group).
 *
 * Globs follow Go's path/filepath.Match on Unix: '*' any run of non-'/'
 * characters, '?' one non-'/' character, "[...]" a class with '^' for
 * negation and ranges, '\\' escapes.  A malformed glob is an error at
 * compile time.
 *
 * Thread safety: a compiled filter or glob is immutable.  A match state
 * (struct filter_match) belongs to one thread at a time.
 */
#ifndef FERRY_POLICY_FILTER_H
#define FERRY_POLICY_FILTER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* Longest template or glob accepted, in bytes (patterns: REGEX_MAX_PATTERN).
 */
#define FILTER_MAX_PATTERN 4096

struct filter;

/*
 * Compiles pattern (len bytes, no NUL needed) into *out, owned by the
 * caller (filter_free).  extract may be NULL or empty (keep the whole tag).
 * -ERR_INVALID with regex_new()'s message (PCRE2's message and offset, or
 * the RE2 syntax the pattern uses), -ERR_NOMEM.
 */
int filter_new(struct filter **out, const char *pattern, size_t len,
               const char *extract, size_t extract_len, struct err *err);

/* Frees f; does nothing when f is NULL. */
void filter_free(struct filter *f);

/* Per-thread match state: a struct regex_match sized for f. */
struct filter_match;

int filter_match_new(struct filter_match **out, const struct filter *f,
                     struct err *err);
void filter_match_free(struct filter_match *m);

/*
 * Matches tag against f.  Returns 1 on a match (and, when value is not
 * NULL, resets value and writes the extracted value, or the whole tag when
 * f has no extract template), 0 when the pattern does not match or a
 * match limit was reached (the tag fails, not the run), or -ERR_NOMEM.
 */
int filter_apply(const struct filter *f, struct filter_match *m,
                 const char *tag, size_t len, struct buf *value);

/*
 * Expands template as Go's Regexp.ExpandString would, for a match of f on
 * subject whose offsets are in m (after a filter_apply that returned 1).
 * Appends to out.  Exposed for the fuzz target and tests.
 */
int filter_expand(const struct filter *f, const struct filter_match *m,
                  const char *template, size_t template_len,
                  const char *subject, struct buf *out);

struct glob;

/* Compiles a filepath.Match glob.  -ERR_INVALID when it is malformed. */
int glob_new(struct glob **out, const char *pattern, size_t len,
             struct err *err);
void glob_free(struct glob *g);

/* True when name matches g entirely. */
bool glob_match(const struct glob *g, const char *name, size_t len);

#endif
