/*
 * Fuzz target: image references (base/imageref.h and scanner/reference.h).
 * Invariants: the scanner accepts exactly what the grammar accepts; a
 * parsed reference written back parses to the same normalised parts, and
 * writing that again gives the same bytes.
 */
#include <stdint.h>
#include <string.h>

#include "base/imageref.h"
#include "scanner/reference.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
same_view(const char *a, size_t alen, const char *b, size_t blen)
{
	if ((a == NULL) != (b == NULL) || alen != blen ||
	    (a != NULL && memcmp(a, b, alen) != 0))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *s = (const char *)data;
	struct reference r = REFERENCE_INIT;
	struct imageref ir, back;
	struct err e = ERR_INIT;
	struct buf once = BUF_INIT, twice = BUF_INIT, name = BUF_INIT;
	int rc = imageref_parse(&ir, s, size, &e);

	if ((reference_parse(&r, s, size, &e) == 0) != (rc == 0))
		__builtin_trap();
	if (rc == 0) {
		if (!imageref_path_valid(ir.path, ir.path_len) ||
		    (ir.domain &&
		     !imageref_domain_valid(ir.domain, ir.domain_len)) ||
		    (ir.tag && !imageref_tag_valid(ir.tag, ir.tag_len)) ||
		    (ir.digest &&
		     !imageref_digest_valid(ir.digest, ir.digest_len)))
			__builtin_trap();
		if (imageref_format(&once, &ir) < 0 ||
		    imageref_parse(&back, once.ptr, once.len, &e) < 0)
			__builtin_trap();
		same_view(ir.tag, ir.tag_len, back.tag, back.tag_len);
		same_view(ir.digest, ir.digest_len, back.digest,
		          back.digest_len);
		if (imageref_format(&twice, &back) < 0 ||
		    strcmp(once.ptr, twice.ptr) != 0)
			__builtin_trap();
		/* the scanner's name is the normalised domain/path */
		reference_name(&name, &r);
		if (strncmp(once.ptr, name.ptr, name.len) != 0)
			__builtin_trap();
	}
	imageref_name_valid(s, size);
	imageref_tag_valid(s, size);
	imageref_digest_valid(s, size);
	buf_release(&once);
	buf_release(&twice);
	buf_release(&name);
	reference_release(&r);
	return 0;
}
