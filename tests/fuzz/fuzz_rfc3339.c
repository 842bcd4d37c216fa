/*
 * Fuzz target: RFC 3339 date-times (base/rfc3339.h).  Invariant: a parsed
 * time written back (UTC) parses to the same instant; only an instant
 * outside the years 0000-9999 (a time near the ends moved by its offset)
 * cannot be written.
 */
#include <stdint.h>
#include <string.h>

#include "base/rfc3339.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* 0000-01-01T00:00:00Z and 9999-12-31T23:59:59Z */
#define FIRST_SEC (-62167219200LL)
#define LAST_SEC 253402300799LL

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;
	int64_t sec, back_sec;
	int32_t nsec, back_nsec;
	int rc;

	if (rfc3339_parse(&sec, &nsec, (const char *)data, size, &e) < 0)
		return 0;
	if (nsec < 0 || nsec >= RFC3339_NSEC_PER_SEC)
		__builtin_trap();
	rc = rfc3339_format(&b, sec, nsec);
	if (rc == -ERR_INVALID && (sec < FIRST_SEC || sec > LAST_SEC))
		goto out;
	if (rc < 0 ||
	    rfc3339_parse(&back_sec, &back_nsec, b.ptr, b.len, &e) < 0 ||
	    back_sec != sec || back_nsec != nsec)
		__builtin_trap();
out:
	buf_release(&b);
	return 0;
}
