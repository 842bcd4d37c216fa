/*
 * json.h - the one way ferry parses JSON (cJSON underneath).
 *
 * Every parse goes through json_parse(), which limits the nesting depth
 * (cJSON recurses without one) and converts a failure into a struct err
 * with the byte offset.  Never call cJSON_Parse* elsewhere, and never
 * cJSON_GetErrorPtr(): cJSON keeps that error in a process global that
 * concurrent parses overwrite.
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
 * (cJSON_Delete).  -ERR_INVALID with "what: invalid JSON at byte offset N"
 * on bad JSON, or with the depth limit.  cJSON answers NULL both for bad
 * input and for memory exhaustion and does not say which, so running out of
 * memory while parsing also reads as -ERR_INVALID.  what names the input in
 * the message.
 */
int json_parse(cJSON **out, const char *ptr, size_t len, const char *what,
               struct err *err);

/* The string value of obj[key], or NULL when missing or not a string. */
const char *json_get_string(const cJSON *obj, const char *key);

/* Renders obj compactly; caller frees with cJSON_free.  NULL on no memory. */
char *json_print(const cJSON *obj);

#endif
