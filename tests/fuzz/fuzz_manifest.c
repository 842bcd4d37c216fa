/*
 * Fuzz target: image manifests and indexes (protocol_manifest_parse in
 * scanner/protocol.h).  The input is the body; it is parsed for two
 * platforms, with and without indexes allowed, and the Content-Type left
 * to the body's mediaType.  Invariants: a result names a digest valid by
 * the grammar (an image manifest always does, an index may have none for
 * the platform); allowing indexes changes nothing for an image manifest;
 * a failure leaves nothing behind.
 */
#include <stdint.h>
#include <string.h>

#include "base/imageref.h"
#include "scanner/protocol.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const platforms[] = { "linux/amd64", "linux/arm64/v8" };

static void
check(const struct protocol_manifest *m, int rc, bool index_ok)
{
	if (rc < 0) {
		if (m->digest != NULL)
			__builtin_trap();
		return;
	}
	if (m->kind == PROTOCOL_MANIFEST_INDEX && !index_ok)
		__builtin_trap();
	if (m->kind == PROTOCOL_MANIFEST_IMAGE && m->digest == NULL)
		__builtin_trap();
	if (m->digest != NULL &&
	    !imageref_digest_valid(m->digest, strlen(m->digest)))
		__builtin_trap();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *body = (const char *)data;

	for (size_t p = 0; p < sizeof(platforms) / sizeof(platforms[0]); p++) {
		struct protocol_manifest with = PROTOCOL_MANIFEST_INIT,
		                         without = PROTOCOL_MANIFEST_INIT;
		struct err e = ERR_INIT;
		int rc_with, rc_without;

		rc_with = protocol_manifest_parse(&with, body, size, "", 0,
		                                  platforms[p], true, &e);
		check(&with, rc_with, true);
		rc_without = protocol_manifest_parse(
		        &without, body, size, "", 0, platforms[p], false, &e);
		check(&without, rc_without, false);
		if (rc_with == 0 && with.kind == PROTOCOL_MANIFEST_IMAGE &&
		    (rc_without != 0 ||
		     strcmp(with.digest, without.digest) != 0))
			__builtin_trap();
		protocol_manifest_release(&with);
		protocol_manifest_release(&without);
	}
	return 0;
}
