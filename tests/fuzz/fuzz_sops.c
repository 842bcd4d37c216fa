/*
 * fuzz_sops.c - feeds arbitrary bytes to sops_decrypt() as a SOPS file,
 * with the age identity of the sops project's tests (its recipient is
 * the one the corpus files are encrypted for), so that the metadata, the
 * age header, the walk, the values and the splice all run on hostile
 * input.  Invariant: what decrypts is YAML that parses again, and holds
 * no "sops" metadata key at the top of its first document.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#include "base/buf.h"
#include "base/log.h"
#include "sops/sops.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char identity[] =
        "AGE-SECRET-KEY-1G0Q5K9TV4REQ3ZSQRMTMG8NSWQGYT0T7TZ33RAZEE0GZYVZN0APSU24RK7\n";

static void
reparse(const struct buf *out)
{
	yaml_parser_t p;
	bool ok = true;

	if (!yaml_parser_initialize(&p))
		return;
	yaml_parser_set_input_string(&p, (const unsigned char *)out->ptr,
	                             out->len);
	for (;;) {
		yaml_event_t ev;

		if (!yaml_parser_parse(&p, &ev)) {
			ok = p.error == YAML_MEMORY_ERROR;
			break;
		}
		if (ev.type == YAML_STREAM_END_EVENT) {
			yaml_event_delete(&ev);
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	if (!ok)
		abort();
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sops_keys *keys = NULL;
	struct buf out = BUF_INIT;
	struct err err = ERR_INIT;

	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, -1);
	if (sops_keys_new(&keys) < 0 ||
	    sops_keys_add_age(keys, identity, strlen(identity), "fuzz", &err) <
	            0)
		goto out;
	if (sops_decrypt(&out, (const char *)data, size, "fuzz.yaml", keys, 0,
	                 &err) == 0) {
		reparse(&out);
		if (strncmp(out.ptr, "sops:", 5) == 0 ||
		    strstr(out.ptr, "\nsops:") != NULL)
			abort();
	}
out:
	buf_release(&out);
	sops_keys_free(keys);
	return 0;
}
