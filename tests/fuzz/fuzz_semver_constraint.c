/*
 * fuzz_semver_constraint.c - the Masterminds constraint parser (hyphen
 * rewrite, "||" groups, operators, wildcards), then a check of a few
 * versions against whatever parsed.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/semver.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const versions[] = {
		"0.0.0",
		"1.2.3",
		"1.2.3-rc.1",
		"v2.0.0",
		"10.20.30-0+b",
		"18446744073709551615.0.0-alpha.99999999999999999999",
	};
	struct semver_constraint *c = NULL;
	struct err e = ERR_INIT;

	if (semver_constraint_new(&c, (const char *)data, size, &e) < 0) {
		if (c != NULL || e.msg[0] == '\0')
			abort();
		return 0;
	}
	for (size_t i = 0; i < sizeof(versions) / sizeof(versions[0]); i++) {
		struct semver_version v;

		if (semver_version_parse(&v, versions[i], strlen(versions[i]),
		                         SEMVER_LOOSE, NULL) != 0)
			abort();
		(void)semver_constraint_check(c, &v);
	}
	semver_constraint_free(c);
	return 0;
}
