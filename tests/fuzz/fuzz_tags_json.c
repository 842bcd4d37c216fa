/* Fuzz target: tags/list bodies (scanner/protocol.h). */
#include <stdint.h>
#include <string.h>

#include "base/imageref.h"
#include "scanner/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int
count(const char *tag, size_t len, void *payload)
{
	size_t *n = payload;

	if (strlen(tag) != len)
		__builtin_trap();
	imageref_tag_valid(tag, len);
	(*n)++;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct err e = ERR_INIT;
	size_t n = 0;

	protocol_tags_parse((const char *)data, size, 1000, count, &n, &e);
	if (n > 1000)
		__builtin_trap();
	return 0;
}
