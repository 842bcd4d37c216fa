/*
 * template.h - the template library: Go text/template semantics, so that
 * commit message templates written for Flux (with sprig's hermetic
 * functions) and for Argo CD Image Updater render byte for byte as Go
 * renders them.  It depends on core/base only and knows nothing of Git or
 * of what a template is for: the Flux and Argo CD data models are built on
 * top of it in writeback/template_model.h.
 *
 * A template is parsed once (template_parse) and executed many times
 * (template_execute) against a tree of data values.  The language is Go's:
 * text and {{actions}}, trim markers, comments, pipelines, variables,
 * if/else if/else, with/else with/else (Go 1.23), range (lists, maps in
 * sorted key order, and integers as in Go 1.24; one or two variables,
 * declared or assigned; else, break, continue), define/template/block,
 * Go's builtin functions and, when asked for, the sprig functions commit
 * templates use (see funcs.c for the list).  An unknown function is a
 * parse error.  Where Go 1.19 and the Go 1.24 that Flux and Argo CD are
 * built with differ, this follows 1.24.
 *
 * No data value is a function (JSON has none, and neither model has a
 * field of function type), so the call builtin reports Go's errors for a
 * value that is not a function.
 *
 * Data values (struct template_value) are nil, bool, int, float64,
 * complex128 (constants only), string, list, map (keys sorted; string
 * keys, or struct keys for Flux's ObjectIdentifier) and struct (named
 * fields, optionally a String() text printed in its place).  They live
 * in a struct template_data arena that owns every value built in it;
 * values from different arenas may be mixed in one tree as long as every
 * arena outlives the use.
 *
 * Errors read like Go's: "template: msg:3: unexpected EOF" when parsing,
 * "template: msg:3:5: executing \"msg\" at <.Foo>: ..." when executing.
 *
 * Limits (a hostile template must not exhaust memory or the stack): output
 * is at most TEMPLATE_MAX_OUTPUT bytes, template calls nest at most
 * TEMPLATE_MAX_DEPTH deep, parse nesting (parentheses, control blocks) is at
 * most TEMPLATE_MAX_NESTING, one execution runs at most
 * TEMPLATE_MAX_ITERATIONS range iterations, and allocates at most
 * TEMPLATE_MAX_MEMORY bytes of intermediate values.
 *
 * Thread safety: a parsed template is read-only during execution and may be
 * executed from several threads at once; a template_data arena belongs to
 * one thread while it is being built, and is read-only afterwards.
 */
#ifndef FERRY_WRITEBACK_TEMPLATE_TEMPLATE_H
#define FERRY_WRITEBACK_TEMPLATE_TEMPLATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"

#define TEMPLATE_NAME "msg" /* the name errors give the main template */
#define TEMPLATE_MAX_SOURCE ((size_t)1 << 20)
#define TEMPLATE_MAX_OUTPUT ((size_t)1 << 20)
#define TEMPLATE_MAX_DEPTH 100
#define TEMPLATE_MAX_NESTING 200
#define TEMPLATE_MAX_ITERATIONS 1000000
#define TEMPLATE_MAX_MEMORY ((size_t)64 << 20)

struct template;
struct template_value;
struct template_data;

/*
 * Parses len bytes of src (no NUL needed).  with_sprig adds the sprig
 * functions, as Flux does.  *out is owned by the caller (template_free).
 * -ERR_INVALID with Go's message on a syntax error, -ERR_NOMEM.
 */
int template_parse(struct template **out, const char *src, size_t len,
                   bool with_sprig, struct err *err);

/* Frees a parsed template; NULL is fine. */
void template_free(struct template *t);

/*
 * Executes t with dot set to data (NULL means Go's nil data) and appends
 * the result to out.  On failure out holds what was rendered before the
 * error (as Go writes it) and the error is -ERR_INVALID with Go's message,
 * or -ERR_NOMEM when a limit or memory ran out.
 */
int template_execute(const struct template *t,
                     const struct template_value *data, struct buf *out,
                     struct err *err);

/*
 * Data values.  template_data_new() makes an arena; every constructor
 * allocates in it and returns a value owned by it (freed with the arena),
 * or NULL when memory ran out.  Failures are sticky: once a constructor
 * failed, template_data_ok() is false, and the setters accept NULL values
 * and do nothing, so a whole tree is built with one check at the end.
 */
int template_data_new(struct template_data **out);
void template_data_free(struct template_data *d);
bool template_data_ok(const struct template_data *d);

struct template_value *template_value_nil(struct template_data *d);
struct template_value *template_value_bool(struct template_data *d, bool b);
struct template_value *template_value_int(struct template_data *d, int64_t i);
struct template_value *template_value_float(struct template_data *d, double f);
/* Copies len bytes of s. */
struct template_value *template_value_string(struct template_data *d,
                                             const char *s, size_t len);
struct template_value *template_value_cstr(struct template_data *d,
                                           const char *s);
/* An empty list ([]interface {}), map (map[string]interface {}). */
struct template_value *template_value_list(struct template_data *d);
struct template_value *template_value_map(struct template_data *d);
/*
 * An empty map whose Go type is type_name (copied), which errors and %T
 * print.  A name that does not start with "map[string]" marks a map with
 * struct keys, which a field chain (.Key) cannot index, as in Go.
 */
struct template_value *template_value_map_named(struct template_data *d,
                                                const char *type_name);
/*
 * An empty struct; type_name (copied) appears in error messages, and
 * string_text (copied, may be NULL) is what printing it shows, as a Go
 * String() method would.
 */
struct template_value *template_value_struct(struct template_data *d,
                                             const char *type_name,
                                             const char *string_text);

/* Appends v to list.  0, or -ERR_NOMEM. */
int template_list_append(struct template_data *d, struct template_value *list,
                         struct template_value *v);
/*
 * Sets map[key] = v, replacing an equal key.  Keys are strings or structs
 * (all keys of one map of one kind).  0, -ERR_INVALID on a bad key kind, or
 * -ERR_NOMEM.
 */
int template_map_set(struct template_data *d, struct template_value *map,
                     struct template_value *key, struct template_value *v);
/*
 * The value map[key] (owned by the map's arena), or NULL when the key is
 * absent or map is not a map.  Accepts NULL map or key (and returns NULL),
 * so that lookups chain through sticky failures.
 */
struct template_value *template_map_get(const struct template_value *map,
                                        const struct template_value *key);
/* template_map_set with a string key. */
int template_map_set_cstr(struct template_data *d, struct template_value *map,
                          const char *key, struct template_value *v);
/* Adds (or replaces) the field name (copied) of a struct. */
int template_struct_set(struct template_data *d, struct template_value *st,
                        const char *name, struct template_value *v);
/*
 * Marks name as a field that no longer exists: using it fails with
 * "NAME was removed: HINT".
 */
int template_struct_set_removed(struct template_data *d,
                                struct template_value *st, const char *name,
                                const char *hint);

/*
 * Builds a value from JSON as Go's encoding/json does into interface{}:
 * objects become maps, arrays lists, numbers float64.  A list gets the
 * cap() encoding/json's appends give it (Go 1.22 and later), which the
 * slice builtin may reach past the list's length, as in Go; lists built
 * with template_list_append have cap() equal to their length.  *out is
 * owned by d.  0 or -ERR_NOMEM.
 */
int template_value_from_json(struct template_data *d, const cJSON *json,
                             struct template_value **out, struct err *err);

#endif
