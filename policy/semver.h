/*
 * semver.h - semantic versions and Masterminds/semver v3 constraints.
 *
 * Versions are parsed in one of three modes:
 *   SEMVER_STRICT  the semver.org 2.0.0 grammar: MAJOR.MINOR.PATCH, no 'v',
 *                  no leading zeros, non-empty identifiers;
 *   SEMVER_LOOSE   Masterminds' lenient NewVersion (Argo CD Image Updater):
 *                  optional lower-case 'v', 1 to 3 numeric parts (missing
 *                  ones read as 0), leading zeros allowed in the numeric
 *                  parts, "-PRE" and "+META" with [0-9A-Za-z-] identifiers,
 *                  numeric prerelease identifiers without leading zeros;
 *   SEMVER_FLUX    Flux's rule: the text has at least two '.' (three parts
 *                  when split on the first two), then SEMVER_LOOSE.
 * Every numeric part must fit in 64 bits.
 *
 * Precedence (semver_version_compare) follows Masterminds, which is the
 * semver 2.0.0 rule: numbers, then a release above its prereleases, then
 * prerelease identifiers one by one (numeric < alphanumeric, numbers by
 * value, others byte-wise, a shorter list first).  Build metadata is
 * ignored.  A numeric identifier too large for 64 bits compares as text,
 * as Masterminds does.
 *
 * Constraints follow Masterminds/semver v3 NewConstraint and Check as of
 * 3.4 and 3.5 (the versions Argo CD Image Updater and Flux pin): operators
 * = != > < >= => <= =< ~ ~> ^ (and none), wildcards x X * in any part,
 * partial versions, hyphen ranges "A - B" (which may be followed by more
 * comparisons: "1 - 2 <=1.5"), AND with whitespace or a comma, OR with
 * "||", and the prerelease rule: a version with a prerelease satisfies an
 * AND group only when some comparison of that group carries a prerelease
 * (">=1.0.0-0 <2.0.0" admits 1.1.0-rc.1, "!=4.1.0" admits no prerelease).
 * Masterminds 3.2.0 applied the rule per comparison, and '!=' only to
 * wildcards.  The empty string is invalid.
 *
 * Invariants: a struct semver_version borrows its pre/meta pointers from the
 * text it was parsed from; it stays valid as long as that text.
 *
 * Thread safety: parsing and comparing are reentrant.  A parsed constraint
 * is immutable and may be checked from several threads at once.
 */
#ifndef FERRY_POLICY_SEMVER_H
#define FERRY_POLICY_SEMVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

/* Longest constraint text accepted, in bytes. */
#define SEMVER_MAX_CONSTRAINT 4096

enum semver_mode {
	SEMVER_STRICT = 0,
	SEMVER_FLUX = 1,
	SEMVER_LOOSE = 2,
};

struct semver_version {
	uint64_t major, minor, patch;
	const char *pre; /* prerelease without '-', borrowed; NULL if none */
	size_t pre_len;
	const char
	        *meta; /* build metadata without '+', borrowed; NULL if none */
	size_t meta_len;
};

/*
 * Parses len bytes of s (no NUL needed) in the given mode into *out.
 * Returns 0, or -ERR_INVALID with a message in err (which may be NULL; the
 * hot path passes NULL so that a rejected tag costs no formatting).
 */
int semver_version_parse(struct semver_version *out, const char *s, size_t len,
                         enum semver_mode mode, struct err *err);

/* -1, 0 or 1 as a has lower, equal or higher precedence than b. */
int semver_version_compare(const struct semver_version *a,
                           const struct semver_version *b);

struct semver_constraint;

/*
 * Parses a Masterminds constraint from len bytes of s into *out, owned by
 * the caller (semver_constraint_free).  -ERR_INVALID naming the offending
 * part, -ERR_NOMEM.
 */
int semver_constraint_new(struct semver_constraint **out, const char *s,
                          size_t len, struct err *err);

/* True when v satisfies c (Masterminds Constraints.Check). */
bool semver_constraint_check(const struct semver_constraint *c,
                             const struct semver_version *v);

/* True when some comparison in c carries a prerelease. */
bool semver_constraint_has_prerelease(const struct semver_constraint *c);

/* Frees c; does nothing when c is NULL. */
void semver_constraint_free(struct semver_constraint *c);

#endif
