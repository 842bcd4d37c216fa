/*
 * policy.h - which tag wins: the strategies of Flux ImagePolicy and Argo CD
 * Image Updater over a list of tags.
 *
 * A policy is built once from plain options (no configuration types: the
 * core maps ImagePolicy and Argo CD annotations onto them) and then judges
 * tags one at a time, keeping only the best so far, so a million tags cost
 * no more memory than one.  For each tag, in order:
 *   1. allow_tags ("regexp:RE" or "any", the words in any case, as
 *      Argo CD lower-cases them) must match the tag          (Argo CD);
 *   2. no ignore_tags glob may match the tag                 (Argo CD);
 *   3. pattern must match; the value is the extract expansion or the whole
 *      tag                                                   (Flux);
 *   4. the strategy judges the value:
 *      POLICY_SEMVER        the value parses (Flux or loose rule) and is in
 *                           range; highest precedence wins;
 *      POLICY_ALPHABETICAL  byte-wise; ASC picks the greatest, DESC the
 *                           smallest;
 *      POLICY_NUMERICAL     the value parses as a Go ParseFloat number (not
 *                           NaN, not out of range); ASC picks the largest,
 *                           DESC the smallest.  A value that is not a number
 *                           is skipped (Flux fails the whole policy);
 *      POLICY_NEWEST_BUILD  the tag has a creation time; the newest wins;
 *      POLICY_DIGEST        the value equals digest_tag (the mutable tag
 *                           whose digest is followed).
 * Among values of equal rank the byte-wise greatest value wins, so the
 * answer does not depend on input order.  When two tags have the same
 * value, the later one in input order wins (Flux's extract map).  The
 * answer is always the ORIGINAL tag.
 *
 * Thread safety: a struct policy is immutable after policy_new and may be
 * shared; a struct policy_run belongs to one thread at a time.
 */
#ifndef FERRY_POLICY_POLICY_H
#define FERRY_POLICY_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Longest tag judged, in bytes; longer ones are dropped (OCI allows 128). */
#define POLICY_MAX_TAG 4096

enum policy_kind {
	POLICY_SEMVER = 0,
	POLICY_ALPHABETICAL,
	POLICY_NUMERICAL,
	POLICY_NEWEST_BUILD,
	POLICY_DIGEST,
};

enum policy_order {
	POLICY_ASC = 0,
	POLICY_DESC,
};

struct policy_options {
	enum policy_kind kind;
	const char *semver_range; /* POLICY_SEMVER: Masterminds constraint */
	bool loose;               /* POLICY_SEMVER: Argo CD parsing, not Flux */
	enum policy_order order;  /* ALPHABETICAL, NUMERICAL */
	const char *digest_tag;   /* POLICY_DIGEST: the mutable tag */
	const char *pattern;      /* NULL or "": no filter */
	const char *extract;      /* NULL or "": keep the whole tag */
	const char *allow_tags;   /* NULL: all; "any"; "regexp:RE" */
	const char *const *ignore_tags; /* globs */
	size_t ignore_tags_len;
};

#define POLICY_OPTIONS_INIT                                                    \
	{                                                                      \
		POLICY_SEMVER, NULL, false, POLICY_ASC, NULL, NULL, NULL,      \
		        NULL, NULL, 0                                          \
	}

struct policy;

/*
 * Builds a policy into *out, owned by the caller (policy_free).
 * -ERR_INVALID naming the bad range, pattern, glob or option; -ERR_NOMEM.
 */
int policy_new(struct policy **out, const struct policy_options *opts,
               struct err *err);

/* Frees p; does nothing when p is NULL. */
void policy_free(struct policy *p);

/* What became of one tag, for policy_explain_fn. */
enum policy_verdict {
	POLICY_KEPT = 0, /* a candidate (it may still lose to a better one) */
	POLICY_DROPPED,  /* not a candidate; why says which rule */
};

/*
 * Called once per tag when set.  why is a short phrase ("not in range
 * '>=1.0'", "semver 1.2.3"); value is the extracted value (NULL when the
 * tag was dropped before extraction).  All strings are borrowed for the
 * duration of the call.
 */
typedef void (*policy_explain_fn)(const char *tag, size_t tag_len,
                                  const char *value, size_t value_len,
                                  enum policy_verdict verdict, const char *why,
                                  void *payload);

/* One pass of a policy over a stream of tags. */
struct policy_run;

/* Starts a run into *out (policy_run_free).  explain may be NULL. */
int policy_run_new(struct policy_run **out, const struct policy *p,
                   policy_explain_fn explain, void *payload, struct err *err);

/*
 * Judges one tag.  created_ns is the image creation time in nanoseconds
 * since the epoch, used by POLICY_NEWEST_BUILD (has_created false: the tag
 * is dropped by that strategy).  Returns 0, or -ERR_NOMEM.
 */
int policy_run_add(struct policy_run *r, const char *tag, size_t len,
                   bool has_created, int64_t created_ns, struct err *err);

/*
 * The winner so far: returns the original tag (borrowed from r, valid until
 * the next policy_run_add or policy_run_free) and sets *len_out, *value_out
 * and *value_len_out when they are not NULL; NULL when nothing qualified.
 * *index_out (when not NULL) is the winner's position in the order tags
 * were added.
 */
const char *policy_run_result(const struct policy_run *r, size_t *len_out,
                              const char **value_out, size_t *value_len_out,
                              size_t *index_out);

void policy_run_free(struct policy_run *r);

/* One tag for policy_select. */
struct policy_tag {
	const char *name;
	size_t len;
	bool has_created;
	int64_t created_ns;
};

/*
 * Runs p over tags[0..n) and sets *index_out to the winning tag's index.
 * Returns 0, -ERR_NOTFOUND ("nothing qualified" in err) or -ERR_NOMEM.
 */
int policy_select(const struct policy *p, const struct policy_tag *tags,
                  size_t n, size_t *index_out, policy_explain_fn explain,
                  void *payload, struct err *err);

/*
 * True when len bytes of s, lower-cased as Go's strings.ToLower does (so
 * U+0130 reads as 'i' and U+212A as 'k'), equal word (lower-case ASCII).
 * This is how Argo CD Image Updater compares its option words.
 */
bool policy_lower_equal(const char *s, size_t len, const char *word);

/*
 * An Argo CD Image Updater update-strategy value into *out, compared as
 * its ParseUpdateStrategy does (policy_lower_equal): semver, newest-build
 * (old name latest), alphabetical (old name name), digest.  -ERR_INVALID
 * for anything else: Argo CD falls back to semver with a warning, ferry
 * reports it.
 */
int policy_argocd_strategy_parse(enum policy_kind *out, const char *s,
                                 size_t len, struct err *err);

/*
 * Go strconv.ParseFloat(s, 64) syntax: decimal or hexadecimal (with 'p'
 * exponent) floats, '_' between digits, "inf"/"infinity"/"nan" in any case.
 * Returns 0 and the value, or -ERR_INVALID for bad syntax and for values
 * out of range (as ParseFloat, which reports ErrRange).
 */
int policy_number_parse(double *out, const char *s, size_t len);

/*
 * RFC 3339 date-time ("2024-05-01T10:00:00Z", fractional seconds and
 * numeric offsets allowed; the grammar is base/rfc3339.h) to nanoseconds
 * since the epoch, as policy_tag.created_ns wants them.  -ERR_INVALID for
 * bad syntax and for times int64 nanoseconds do not hold (before
 * 1677-09-21 or after 2262-04-11).
 */
int policy_time_parse(int64_t *out, const char *s, size_t len, struct err *err);

#endif
