/* Fuzz target: Link header parsing (scanner/protocol.h). */
#include <stdint.h>

#include "scanner/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	if (protocol_link_next(&b, (const char *)data, size, &e) == 1 &&
	    b.len == 0)
		__builtin_trap(); /* a next link is never empty */
	buf_release(&b);
	return 0;
}
