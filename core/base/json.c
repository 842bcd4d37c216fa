/*
 * json.c - the wrapper around cJSON parsing (a depth limit cJSON lacks, the
 * error offset from the parse itself) and small accessors.  It does not
 * validate schemas.
 *
 * No lock: cJSON 1.7.15 writes a process-wide error record on every parse
 * (global_error in cJSON.c), but ferry never reads it: the offset comes
 * back through return_parse_end, which is per call.  Serialising every
 * parse of every thread (tag lists of many registries, webhook bodies) to
 * protect a record nobody reads would cost more than it guards; the record
 * is written inside the uninstrumented shared library, so ThreadSanitizer
 * does not see it either.
 */
#include "json.h"

static int
json_depth_ok(const char *p, size_t len)
{
	int depth = 0, in_str = 0, esc = 0;

	/* cJSON 1.7.15 recurses without a limit we can set at run time. */
	for (size_t i = 0; i < len; i++) {
		char c = p[i];
		if (in_str) {
			if (esc)
				esc = 0;
			else if (c == '\\')
				esc = 1;
			else if (c == '"')
				in_str = 0;
			continue;
		}
		if (c == '"')
			in_str = 1;
		else if (c == '[' || c == '{') {
			if (++depth > JSON_MAX_DEPTH)
				return 0;
		} else if (c == ']' || c == '}')
			depth--;
	}
	return 1;
}

int
json_parse(cJSON **out, const char *ptr, size_t len, const char *what,
           struct err *err)
{
	const char *end = NULL;
	cJSON *root;

	*out = NULL;
	if (!json_depth_ok(ptr, len))
		return err_set(err, ERR_INVALID,
		               "%s: JSON nested deeper than %d levels", what,
		               JSON_MAX_DEPTH);
	root = cJSON_ParseWithLengthOpts(ptr, len, &end, 0);
	if (root == NULL) {
		size_t off = (end && end >= ptr) ? (size_t)(end - ptr) : 0;
		return err_set(err, ERR_INVALID,
		               "%s: invalid JSON at byte offset %zu", what,
		               off);
	}
	*out = root;
	return 0;
}

const char *
json_get_string(const cJSON *obj, const char *key)
{
	const cJSON *item = cJSON_GetObjectItemCaseSensitive(obj, key);

	return cJSON_IsString(item) ? item->valuestring : NULL;
}

char *
json_print(const cJSON *obj)
{
	return cJSON_PrintUnformatted(obj);
}
