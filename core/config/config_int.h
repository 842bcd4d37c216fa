/*
 * config_int.h - private to core/config: the loader's state and the
 * schema decoder's entry points.  Nothing outside core/config includes it.
 *
 * Thread safety: as loader.h (one thread at a time while loading).
 */
#ifndef FERRY_CONFIG_INT_H
#define FERRY_CONFIG_INT_H

#include <stdarg.h>
#include <stdbool.h>
#include <yaml.h>

#include "config/loader.h"

struct config_vec {
	struct config_object **v;
	size_t n, cap;
};

/* Diagnostics of one severity (errors or notices). */
struct config_diags {
	struct config_diag *v;
	size_t n, cap;
	size_t dropped; /* beyond CONFIG_MAX_DIAGS */
};

struct config {
	char **files; /* every file name an object or diagnostic points at */
	size_t n_files, cap_files;
	struct config_vec kinds[CONFIG_KIND_COUNT];
	struct config_diags errors;
	struct config_diags notices;
	struct {                         /* config_set_options, copied */
		char *default_namespace; /* NULL: "default" */
		char **exclude;
		size_t nexclude;
		char *stdin_data; /* NULL: "-" was not given */
		size_t stdin_len;
	} opts;
	struct config_skipped *skipped;
	size_t n_skipped, cap_skipped;
	size_t n_documents;
	size_t n_files_read;
	struct config_object **index; /* sorted by kind/namespace/name */
	size_t n_index;
	bool nomem;
	bool checked;
};

/* Records one diagnostic (file and strings are copied). */
void config_diag_add(struct config *cfg, const char *file, int line, int column,
                     const char *object, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
void config_diag_addv(struct config *cfg, const char *file, int line,
                      int column, const char *object, const char *path,
                      const char *fmt, va_list ap)
        __attribute__((format(printf, 7, 0)));

/* Records one notice: something accepted, skipped or not acted on. */
void config_notice_add(struct config *cfg, const char *file, int line,
                       int column, const char *object, const char *path,
                       const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
void config_notice_addv(struct config *cfg, const char *file, int line,
                        int column, const char *object, const char *path,
                        const char *fmt, va_list ap)
        __attribute__((format(printf, 7, 0)));

/* metadata.namespace of an object that has none. */
const char *config_default_namespace(const struct config *cfg);

/* strdup that records running out of memory in cfg (NULL then). */
char *config_strdup(struct config *cfg, const char *s, size_t len);

/*
 * Decodes the document whose root mapping is root into obj (kind, file,
 * line, column and api_version already set), reporting every problem as a
 * diagnostic labelled with object ("ImagePolicy ns/name"), then applies
 * Flux's defaults and the checks that involve several fields of the one
 * object.  Returns the number of diagnostics it added.
 */
size_t schema_decode(struct config *cfg, yaml_document_t *doc,
                     yaml_node_t *root, struct config_object *obj,
                     const char *object);

/* Frees everything obj owns (not obj itself); wipes Secret values. */
void schema_object_release(struct config_object *obj);

#endif
