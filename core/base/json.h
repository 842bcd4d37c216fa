/*
 * json.h - the one way ferry parses JSON (cJSON underneath).
 *
 * cJSON keeps a process-wide pointer to the last parse error, so every parse
 * goes through json_parse(), which holds a lock and converts the failure into
 * a struct err with the byte offset.  Never call cJSON_Parse* or
 * cJSON_GetErrorPtr() elsewhere.
 *
 * Thread safety: json_parse() may be called from any thread.  The returned
 * tree belongs to one thread at a time.
 */
#ifndef FERRY_BASE_JSON_H
#define FERRY_BASE_JSON_H

#include <cjson/cJSON.h>
#include <stddef.h>

#include "err.h"

#define JSON_MAX_DEPTH 64

/*
 * Parses len bytes (no NUL needed) into *out, owned by the caller
 * (cJSON_Delete).  -ERR_INVALID with "what: offset N: ..." on bad JSON,
 * -ERR_NOMEM when memory runs out.  what names the input in the message.
 */
int json_parse(cJSON **out, const char *ptr, size_t len, const char *what,
               struct err *err);

/* The string value of obj[key], or NULL when missing or not a string. */
const char *json_get_string(const cJSON *obj, const char *key);

/* Renders obj compactly; caller frees with cJSON_free.  NULL on no memory. */
char *json_print(const cJSON *obj);

#endif
