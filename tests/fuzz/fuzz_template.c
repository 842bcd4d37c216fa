/*
 * fuzz_template.c - fuzzes the template parser and executor.  The input is
 * split at the first NUL byte: the template before it, and after it one
 * byte of flags (bit 0: sprig functions) that is otherwise ignored.  Every
 * template runs against the same small fixed data.
 */
#include <stdint.h>
#include <string.h>

#include "base/json.h"
#include "writeback/template/template.h"

static const char fuzz_data[] =
        "{\"name\":\"World\",\"list\":[\"b\",\"a\",1,null],\"n\":3,"
        "\"m\":{\"k\":\"v\",\"n\":{\"x\":true}},\"null\":null,\"e\":\"\"}";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul = memchr(data, 0, size);
	size_t tlen = nul ? (size_t)(nul - data) : size;
	bool sprig = nul ? (tlen + 1 < size && (data[tlen + 1] & 1)) : true;
	struct err err = ERR_INIT;
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *root = NULL;
	struct buf out = BUF_INIT;
	cJSON *json = NULL;

	if (json_parse(&json, fuzz_data, sizeof(fuzz_data) - 1, "data", &err) <
	    0)
		return 0;
	if (template_data_new(&d) < 0)
		goto out;
	if (template_value_from_json(d, json, &root, &err) < 0)
		goto out;
	if (template_parse(&t, (const char *)data, tlen, sprig, &err) < 0)
		goto out;
	template_execute(t, root, &out, &err);
	buf_reset(&out);
	template_execute(t, root, &out, &err);
out:
	buf_release(&out);
	template_free(t);
	template_data_free(d);
	cJSON_Delete(json);
	return 0;
}
