/*
 * fuzz_extract.c - PCRE2 filter compilation, matching and the Go
 * ExpandString template expander.  The input is PATTERN \n TEMPLATE \n TAG;
 * missing parts are empty.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "policy/filter.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data, *parts[3] = { "", "", "" };
	size_t lens[3] = { 0, 0, 0 }, n = 0, start = 0;
	struct filter *f = NULL;
	struct filter_match *m = NULL;
	struct buf v = BUF_INIT;
	struct err e = ERR_INIT;

	for (size_t i = 0; i <= size && n < 3; i++) {
		if (i == size || (s[i] == '\n' && n < 2)) {
			parts[n] = s + start;
			lens[n] = i - start;
			n++;
			start = i + 1;
		}
	}
	if (filter_new(&f, parts[0], lens[0], parts[1], lens[1], &e) < 0)
		return 0;
	if (filter_match_new(&m, f, &e) == 0 &&
	    filter_apply(f, m, parts[2], lens[2], &v) == 1) {
		/* expanding again appends the same bytes */
		size_t first = v.len;

		if (lens[1] > 0 &&
		    filter_expand(f, m, parts[1], lens[1], parts[2], &v) == 0 &&
		    (v.len != 2 * first ||
		     memcmp(v.ptr, v.ptr + first, first) != 0))
			abort();
	}
	buf_release(&v);
	filter_match_free(m);
	filter_free(f);
	return 0;
}
