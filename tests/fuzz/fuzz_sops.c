/*
 * fuzz_sops.c - feeds arbitrary bytes to sops_decrypt() as a SOPS file,
 * with the age identity of the sops project's tests (its recipient is
 * the one the corpus files are encrypted for), so that the metadata, the
 * age header, the walk, the values and the splice all run on hostile
 * input.  Invariant: what decrypts is YAML that parses again, and no
 * document of it keeps a "sops" key at its top.
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

/* The output parses, and no document's root mapping keeps a "sops" key. */
static void
reparse(const struct buf *out)
{
	yaml_parser_t p;
	size_t depth = 0;
	bool ok = true, key = false;

	if (!yaml_parser_initialize(&p))
		return;
	yaml_parser_set_input_string(&p, (const unsigned char *)out->ptr,
	                             out->len);
	for (;;) {
		yaml_event_t ev;
		bool end;

		if (!yaml_parser_parse(&p, &ev)) {
			ok = p.error == YAML_MEMORY_ERROR;
			break;
		}
		end = ev.type == YAML_STREAM_END_EVENT;
		if (depth == 1 && key && ev.type == YAML_SCALAR_EVENT &&
		    ev.data.scalar.length == 4 &&
		    memcmp(ev.data.scalar.value, "sops", 4) == 0)
			ok = false;
		if (depth == 1)
			key = !key;
		if (ev.type == YAML_MAPPING_START_EVENT ||
		    ev.type == YAML_SEQUENCE_START_EVENT) {
			if (++depth == 1)
				key = ev.type == YAML_MAPPING_START_EVENT;
		} else if (ev.type == YAML_MAPPING_END_EVENT ||
		           ev.type == YAML_SEQUENCE_END_EVENT) {
			depth--;
		}
		yaml_event_delete(&ev);
		if (end || !ok)
			break;
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
	                 &err) == 0)
		reparse(&out);
out:
	buf_release(&out);
	sops_keys_free(keys);
	return 0;
}
