/* Fuzz target: image reference parsing (scanner/reference.h). */
#include <stdint.h>
#include <string.h>

#include "scanner/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct reference r = REFERENCE_INIT;
	struct err e = ERR_INIT;
	struct buf b = BUF_INIT;

	if (reference_parse(&r, (const char *)data, size, &e) == 0) {
		/* a parsed reference is valid by the same grammar */
		if (!reference_path_valid(r.path, strlen(r.path)) ||
		    (r.tag && !reference_tag_valid(r.tag, strlen(r.tag))) ||
		    (r.digest &&
		     !reference_digest_valid(r.digest, strlen(r.digest))))
			__builtin_trap();
		reference_name(&b, &r);
		buf_release(&b);
		reference_release(&r);
	}
	reference_tag_valid((const char *)data, size);
	reference_digest_valid((const char *)data, size);
	return 0;
}
