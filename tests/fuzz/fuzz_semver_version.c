/*
 * fuzz_semver_version.c - the version parser in all three modes, and
 * precedence: compare must be antisymmetric and reflexive for every pair
 * of halves of the input that parse.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct semver_version a, b;
	struct err e = ERR_INIT;
	size_t half = size / 2;

	for (int m = SEMVER_STRICT; m <= SEMVER_LOOSE; m++) {
		if (semver_version_parse(&a, s, size, (enum semver_mode)m,
		                         &e) == 0) {
			if (semver_version_compare(&a, &a) != 0)
				abort();
			/* whatever strict or Flux accept, loose accepts */
			if (semver_version_parse(&b, s, size, SEMVER_LOOSE,
			                         NULL) != 0)
				abort();
		}
	}
	if (semver_version_parse(&a, s, half, SEMVER_LOOSE, NULL) == 0 &&
	    semver_version_parse(&b, s + half, size - half, SEMVER_LOOSE,
	                         NULL) == 0 &&
	    semver_version_compare(&a, &b) != -semver_version_compare(&b, &a))
		abort();
	return 0;
}
