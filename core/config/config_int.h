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

struct config {
	char **files; /* every file name an object or diagnostic points at */
	size_t n_files, cap_files;
	struct config_vec kinds[CONFIG_KIND_COUNT];
	struct config_diag *diags;
	size_t n_diags, cap_diags;
	size_t dropped_diags; /* beyond CONFIG_MAX_DIAGS */
	struct config_skipped *skipped;
	size_t n_skipped, cap_skipped;
	size_t n_documents;
	size_t n_files_read;
	struct config_object **index; /* sorted by kind/namespace/name */
	size_t n_index;
	bool nomem;
	bool checked;
	struct argocd_state *argocd; /* argocd.c: what spans Argo CD objects */
};

/* Records one diagnostic (file and strings are copied). */
void config_diag_add(struct config *cfg, const char *file, int line, int column,
                     const char *object, const char *path, const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
void config_diag_addv(struct config *cfg, const char *file, int line,
                      int column, const char *object, const char *path,
                      const char *fmt, va_list ap)
        __attribute__((format(printf, 7, 0)));

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

/*
 * argocd.c, the Argo CD kinds beyond their field tables:
 *   argocd_finish          after schema_decode's tables: annotations,
 *                          strategies, manifest targets, defaults (returns
 *                          the number of diagnostics it added);
 *   argocd_object_release  frees what argocd_finish added to obj;
 *   argocd_document_take   true when it read the document (Argo CD Image
 *                          Updater's ConfigMap argocd-image-updater-config),
 *                          which the loader then does not skip;
 *   argocd_check           the checks across objects and the units of
 *                          write-back (config_check);
 *   argocd_release         frees cfg->argocd.
 */
size_t argocd_finish(struct config *cfg, yaml_document_t *doc,
                     yaml_node_t *root, struct config_object *obj,
                     const char *object);
void argocd_object_release(struct config_object *obj);
bool argocd_document_take(struct config *cfg, const char *file,
                          yaml_document_t *doc, yaml_node_t *root,
                          const char *api_version, const char *kind);
void argocd_check(struct config *cfg);
void argocd_release(struct config *cfg);

#endif
