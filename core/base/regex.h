/*
 * regex.h - regular expressions as Go's regexp package reads them (the
 * patterns of Flux's exclusionList and filterTags and of Argo CD's
 * allow-tags), run by PCRE2.  The one place ferry calls PCRE2, so that
 * every pattern is checked, compiled and matched the same way.
 *
 * Matching follows Go where PCRE2's defaults differ:
 *   - UTF-8 patterns and subjects; an invalid byte in a subject never
 *     matches a character but does not fail the match (Go reads it as
 *     U+FFFD): PCRE2_UTF | PCRE2_MATCH_INVALID_UTF;
 *   - '$' without (?m) matches only at the very end, not before a final
 *     newline: PCRE2_DOLLAR_ENDONLY;
 *   - groups capture as in Go: "(...)" numbered, "(?P<name>...)" and
 *     "(?<name>...)" named; no PCRE2_NO_AUTO_CAPTURE, no duplicate names;
 *   - \d, \w, \s, \b are ASCII, as in Go (no PCRE2_UCP);
 *   - a match is unanchored and leftmost-first, as FindStringSubmatch.
 *
 * A pattern is refused when it uses syntax Go's RE2 does not have, because
 * Flux would refuse it too and its meaning in PCRE2 has no Go equivalent:
 * backreferences (\1, \k, \g, (?P=name)), lookaround ((?=, (?!, (?<=,
 * (?<!), atomic groups ((?>) and possessive quantifiers (a*+), recursion
 * and subroutine calls, conditionals, branch reset, comments ((?#),
 * callouts, backtracking verbs ((*...)), flags other than i, m, s, U,
 * repetition counts above 1000, and escapes Go does not know (\Z, \G, \K,
 * \h, \R, \X, \C, \e, \c, \o, \u, \N, and \b inside a class).  Inside a
 * character class a digit escape stays PCRE2's octal character.
 * Differences that remain: \v and \s also match other vertical blanks in
 * PCRE2 (never in a tag, which is ASCII letters, digits and "._-").
 *
 * Matching cannot spin: PCRE2's backtracking is bounded by a match limit,
 * a depth limit and a heap limit (the JIT, used when the platform has it,
 * honours the match limit and its own stack).  A match that reaches a
 * limit is an error, never a silent "no match".
 *
 * Ownership: regex_new() and regex_match_new() hand the object to the
 * caller, who frees it with regex_free() / regex_match_free().
 *
 * Thread safety: a compiled struct regex is immutable and may be used by
 * any number of threads at once; a struct regex_match (PCRE2 match data)
 * belongs to one thread at a time, so each thread makes its own.
 */
#ifndef FERRY_BASE_REGEX_H
#define FERRY_BASE_REGEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "err.h"

#define REGEX_MAX_PATTERN 4096 /* bytes of one pattern */
#define REGEX_MAX_REPEAT 1000  /* largest count in {n,m}, as Go */
/* PCRE2's limits per match: about a millisecond of backtracking, far more
 * than any pattern needs on a tag of 128 bytes. */
#define REGEX_MATCH_LIMIT 1000000 /* internal match() calls */
#define REGEX_DEPTH_LIMIT 10000   /* nested backtracking points */
#define REGEX_HEAP_LIMIT 20480    /* KiB of backtracking frames */

struct regex;
struct regex_match;

/*
 * Checks and compiles pattern[0..len) (no NUL needed) into *out.
 * -ERR_INVALID when it is longer than REGEX_MAX_PATTERN ("... longer than
 * 4096 bytes"), does not compile ("invalid regular expression 'P': <PCRE2's
 * message> at offset N") or uses syntax Go lacks ("regular expression 'P'
 * uses lookaround assertions, which Go's RE2 (and so Flux) does not
 * support"); -ERR_NOMEM.
 */
int regex_new(struct regex **out, const char *pattern, size_t len,
              struct err *err);

/* Frees re; does nothing when re is NULL. */
void regex_free(struct regex *re);

/* The number of capture groups, not counting group 0 (the whole match). */
uint32_t regex_group_count(const struct regex *re);

/* The number of the group named name[0..len), or -1 when there is none. */
int regex_group_index(const struct regex *re, const char *name, size_t len);

/*
 * Makes match state (PCRE2 match data) for one thread, with room for every
 * group of re, or for the whole match only when re is NULL (enough to ask
 * "does it match" of any pattern).  -ERR_NOMEM.
 */
int regex_match_new(struct regex_match **out, const struct regex *re,
                    struct err *err);

/* Frees m; does nothing when m is NULL. */
void regex_match_free(struct regex_match *m);

/*
 * Searches s[0..len) for re, leftmost-first, and records the groups in m.
 * 1 on a match, 0 when there is none, -ERR_INVALID when a limit was reached
 * (the pattern is too costly on this subject; treat it as neither), or
 * -ERR_NOMEM.
 */
int regex_exec(const struct regex *re, struct regex_match *m, const char *s,
               size_t len);

/*
 * After regex_exec() returned 1: true when group g took part in the match
 * and m had room for it, with its byte offsets in the subject in
 * [*start_out, *end_out).
 */
bool regex_group(const struct regex_match *m, uint32_t g, size_t *start_out,
                 size_t *end_out);

#endif
