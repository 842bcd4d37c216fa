/*
 * rfc3339.h - RFC 3339 date-times ("2024-05-01T10:00:00Z"), the one parser
 * in ferry: image config "created", token "issued_at", build dates for the
 * newest-build policy.
 *
 *   date-time := YYYY "-" MM "-" DD ("T" | "t" | " ") hh ":" mm ":" ss
 *                [ "." digit+ ] ( "Z" | "z" | ("+" | "-") hh ":" mm )
 *
 * The day must exist in its month (leap years counted, proleptic
 * Gregorian), hours are 00-23, minutes 00-59, seconds 00-60 (a leap second
 * counts as the first second of the next minute, as POSIX time does), an
 * offset is at most 23:59.  Fractions keep nanoseconds; further digits are
 * read and dropped.  The space separator is the one RFC 3339 (5.6) lets
 * applications use; Go and Docker write 'T'.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef FERRY_BASE_RFC3339_H
#define FERRY_BASE_RFC3339_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"
#include "err.h"

#define RFC3339_NSEC_PER_SEC 1000000000

/*
 * Parses s[0..len) into seconds since 1970-01-01T00:00:00Z (*sec_out,
 * negative before it) and the nanoseconds within that second (*nsec_out,
 * 0..999999999; nsec_out may be NULL).  -ERR_INVALID (the message quotes at
 * most 64 bytes of s) otherwise.
 */
int rfc3339_parse(int64_t *sec_out, int32_t *nsec_out, const char *s,
                  size_t len, struct err *err);

/*
 * Appends sec and nsec (0..999999999) as a UTC date-time: 'T', 'Z', and a
 * fraction only when nsec is not 0, without trailing zeros (Go's
 * RFC3339Nano).  It parses back to the same instant.  -ERR_INVALID when the
 * year is outside 0000-9999 or nsec out of range; -ERR_NOMEM.
 */
int rfc3339_format(struct buf *out, int64_t sec, int32_t nsec);

#endif
