/*
 * json.c - a locked wrapper around cJSON parsing (its error pointer is a
 * process global) and small accessors.  It does not validate schemas.
 */
#include "json.h"

#include <pthread.h>

/* GLOBAL: cJSON's own error pointer is global; this lock serialises parses. */
static pthread_mutex_t json_lock = PTHREAD_MUTEX_INITIALIZER;

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
	pthread_mutex_lock(&json_lock);
	root = cJSON_ParseWithLengthOpts(ptr, len, &end, 0);
	pthread_mutex_unlock(&json_lock);
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
