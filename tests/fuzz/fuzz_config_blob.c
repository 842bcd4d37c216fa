/*
 * Fuzz target: image config blobs (protocol_config_parse in
 * scanner/protocol.h).  Invariants: a known creation time is the RFC 3339
 * reading of the "created" kept beside it, and a platform is
 * "os/arch[/variant]".
 */
#include <stdint.h>
#include <string.h>

#include "base/rfc3339.h"
#include "scanner/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct protocol_config c = PROTOCOL_CONFIG_INIT;
	struct err e = ERR_INIT;
	int64_t sec;

	if (protocol_config_parse(&c, (const char *)data, size, &e) < 0) {
		if (c.created != NULL || c.platform != NULL)
			__builtin_trap();
		return 0;
	}
	if (c.created_unix != INT64_MIN &&
	    (c.created == NULL ||
	     rfc3339_parse(&sec, NULL, c.created, strlen(c.created), NULL) <
	             0 ||
	     sec != c.created_unix))
		__builtin_trap();
	if (c.platform != NULL && strchr(c.platform, '/') == NULL)
		__builtin_trap();
	protocol_config_release(&c);
	return 0;
}
