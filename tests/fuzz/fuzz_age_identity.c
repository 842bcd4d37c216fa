/*
 * fuzz_age_identity.c - arbitrary bytes as an age identity file
 * (sops_keys_add_age), then as an age file decrypted with what was read
 * (sops_age_decrypt).  Invariants: every identity read has a recipient
 * of the age1 form (62 characters), and a message never quotes an
 * identity line.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/log.h"
#include "sops/sops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sops_keys *keys = NULL;
	struct buf r = BUF_INIT, out = BUF_INIT;
	struct err err = ERR_INIT;

	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, -1);
	if (sops_keys_new(&keys) < 0)
		return 0;
	if (sops_keys_add_age(keys, (const char *)data, size, "fuzz", &err) <
	    0) {
		if (strstr(err.msg, "SECRET-KEY-") != NULL)
			abort();
	}
	for (size_t i = 0; i < sops_keys_age_count(keys); i++) {
		buf_reset(&r);
		if (sops_keys_age_recipient(&r, keys, i) < 0)
			continue;
		if (r.len != 62 || strncmp(r.ptr, "age1", 4) != 0)
			abort();
	}
	sops_age_decrypt(&out, (const char *)data, size, keys, &err);
	buf_release(&r);
	buf_release(&out);
	sops_keys_free(keys);
	return 0;
}
