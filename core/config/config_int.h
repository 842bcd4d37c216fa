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
#include "sops/sops.h"

struct config_vec {
	struct config_object **v;
	size_t n, cap;
};

/* What the documents of one file have shown so far, and where the one
 * being read is (sealed.c keeps SOPS documents by their bytes). */
struct config_file_state {
	bool noted_not_objects; /* the one notice for non-object YAML */
	bool decrypted;         /* SOPS output: never sealed again */
	const char *data;       /* the whole file */
	size_t len;
	size_t doc;        /* index of the document being read */
	size_t start, end; /* its marks (characters: config_byte_offset) */
	int line;          /* its first line, 0-based */
};

/* A SOPS-encrypted document, read only when something needs it. */
enum config_sealed_state {
	CONFIG_SEALED_PENDING,
	CONFIG_SEALED_WANTED,
	CONFIG_SEALED_READ,
	CONFIG_SEALED_FAILED,
};

struct config_sealed {
	const char *file;
	int line, column;
	size_t doc;        /* index of the document in its file */
	int start_line;    /* of its bytes, 0-based */
	size_t start, end; /* its bytes in the file */
	size_t data;       /* its file's bytes: sealed_data[data] */
	char *kind;        /* NULL when encrypted or missing */
	char *api_version;
	char *name;
	char *namespace; /* the default namespace when not given */
	char *mac;       /* documents of one sops file share it */
	enum config_sealed_state state;
};

struct config_sealed_data {
	const char *file;
	char *bytes; /* a copy (ciphertext and clear fields only) */
	size_t len;
	size_t docs; /* documents in the file, so far */
};

/* A Flux setter marker found in a file ("$imagepolicy"). */
struct config_marker {
	const char *file;
	int line, column;
	char *setter; /* "NS:NAME[:SUFFIX]" */
};

/* An object in the files that makes a Secret in the cluster. */
struct config_creator {
	const char *file;
	int line, column;
	char *kind; /* ExternalSecret, SealedSecret */
	char *namespace;
	char *name;
	char *secret; /* the Secret it makes (same namespace) */
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
		char *secrets_dir;
		char **age_key_files;
		size_t nage_key_files;
		char **pgp_key_files;
		size_t npgp_key_files;
	} opts;
	struct config_sealed *sealed;
	size_t n_sealed, cap_sealed;
	struct config_sealed_data *sealed_data;
	size_t n_sealed_data, cap_sealed_data;
	struct config_creator *creators;
	size_t n_creators, cap_creators;
	struct config_marker *markers;
	size_t n_markers, cap_markers;
	struct sops_keys *keys; /* built when a sealed document is read */
	bool keys_built;
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

/* Records one notice: something accepted, skipped or not acted on. */
void config_notice_add(struct config *cfg, const char *file, int line,
                       int column, const char *object, const char *path,
                       const char *fmt, ...)
        __attribute__((format(printf, 7, 8)));
void config_notice_addv(struct config *cfg, const char *file, int line,
                        int column, const char *object, const char *path,
                        const char *fmt, va_list ap)
        __attribute__((format(printf, 7, 0)));

/* Grows *v (of size elements) to hold n + 1; false (nomem) on failure. */
bool config_reserve(struct config *cfg, void **v, size_t *cap, size_t n,
                    size_t size);

/* The config's own copy of a file name (objects point at it). */
const char *config_intern_file(struct config *cfg, const char *file);

/*
 * The byte offset of libyaml's mark index idx in data, which counts
 * characters after a byte order mark.  Linear in idx.
 */
size_t config_byte_offset(const char *data, size_t len, size_t idx);

/* Whether kind (with api) is one of ferry's kinds and groups. */
bool config_kind_known(const char *kind, const char *api);

/* metadata.namespace of an object that has none. */
const char *config_default_namespace(const struct config *cfg);

/* strdup that records running out of memory in cfg (NULL then). */
char *config_strdup(struct config *cfg, const char *s, size_t len);

/* Whether the documents of decrypted text are read (doc is its index). */
typedef bool (*config_want_fn)(struct config *cfg, size_t doc,
                               yaml_document_t *d, void *payload);

/* Reads decrypted text as file (positions are the file's), adding the
 * documents want() accepts.  As config_add_buffer(). */
int config_read_decrypted(struct config *cfg, const char *file,
                          const char *data, size_t len, config_want_fn want,
                          void *payload, struct err *err);

/* A Secret reference of an object: the callback of config_secret_refs. */
typedef void (*config_ref_fn)(struct config *cfg, const struct config_object *o,
                              const struct config_local_ref *ref,
                              const char *path, void *payload);

/* Calls fn for every reference to a Secret ferry checks (loader.c). */
void config_secret_refs(struct config *cfg, config_ref_fn fn, void *payload);

/* The scalar of key in mapping n (libyaml), or NULL. */
yaml_node_t *config_map_get(yaml_document_t *doc, yaml_node_t *n,
                            const char *key);

/* sealed.c: SOPS documents, Secrets from --secrets-dir, and what makes
 * Secrets in the cluster. */
bool config_sealed_is(yaml_document_t *doc, yaml_node_t *root);
void config_sealed_add(struct config *cfg, const char *file,
                       const struct config_file_state *fs, yaml_document_t *doc,
                       yaml_node_t *root);
void config_creator_note(struct config *cfg, const char *file,
                         yaml_document_t *doc, yaml_node_t *root,
                         const char *api, const char *kind);
/*
 * Before the cross-object checks: reads the Secrets objects refer to
 * that are not in the files, from --secrets-dir or by decrypting SOPS
 * documents, and notes the SOPS documents nothing needs.  May add
 * objects: the caller rebuilds the index.  Returns -ERR_NOMEM or 0.
 */
int config_resolve_secrets(struct config *cfg);
/* Frees what sealed.c keeps (sealed documents, creators, keys). */
void config_sealed_release(struct config *cfg);
/* Appends why a Secret ns/name may be missing: an ExternalSecret that
 * makes it, --secrets-dir, sealed documents not read. */
void config_secret_missing_hint(struct buf *out, const struct config *cfg,
                                const char *ns, const char *name);

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
