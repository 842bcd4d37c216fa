/*
 * loader.h - loads Flux objects (objects.h) from YAML files and
 * directories into one struct config, checks them the way Flux's API
 * server and controllers would, and answers the lookups the rest of ferry
 * needs (the Secret of a secretRef, the ImageRepository of a policy, the
 * policies of an automation, ...).
 *
 * What is read: a file, standard input ("-", see config_options), or a
 * directory walked recursively for *.yaml and *.yml (entries whose name
 * starts with '.' are skipped, so .git is not walked; so are the
 * exclude patterns and the templates/ directory of a Helm chart, with
 * one notice).  A file may hold several documents separated by '---';
 * empty documents are skipped.  Documents of other kinds (Deployment,
 * ConfigMap, HelmRelease, kustomize.config.k8s.io Kustomization, plain
 * YAML without a kind, ...) are skipped with one info log line each
 * (event=document_skipped) and listed by config_skipped_get().  YAML
 * that is not objects (a list such as an Ansible playbook, a bare
 * value) and a template that is not YAML until rendered ('{{' with a
 * syntax error) give one notice per file.  A document of one of
 * ferry's kinds without apiVersion, or with a misspelled or another
 * Flux group, is an error: it would otherwise silently not exist.
 *
 * Errors: loading never stops at the first problem.  Every problem found
 * (YAML syntax, unknown fields, wrong types, bad durations, regexes and
 * semver ranges, invalid enum values, missing required fields, names that
 * are not DNS subdomains, duplicates, dangling references, a policy in
 * another namespace than its ImageRepository without accessFrom) becomes a
 * struct config_diag with its file, 1-based line and column, the field
 * path ("spec.policy.semver.range") and a message.  A YAML syntax error,
 * or a document over CONFIG_MAX_DEPTH / CONFIG_MAX_NODES / CONFIG_MAX_ANCHORS /
 * CONFIG_MAX_ALIASES, ends the reading
 * of that file (its earlier documents are kept) but not of the others.
 *
 * Secrets that are not in the files: a Secret an object refers to is read
 * from config_options.secrets_dir when the files do not hold it, or from
 * a SOPS-encrypted document of the files (core/sops), decrypted with the
 * age and PGP keys of the options and of the Kustomizations' decryption
 * Secrets.  A SOPS document nothing refers to is not decrypted: a notice
 * says it was skipped.  A document of one of ferry's other kinds is
 * always decrypted (it is configuration).  The message for a Secret not
 * found names --secrets-dir, and an ExternalSecret or SealedSecret of the
 * files that makes it in the cluster.
 *
 * Secrets: values are kept only in struct secret; no message or log line
 * contains one, and the file buffer and libyaml's nodes are wiped after
 * use (libyaml's scanner may still leave copies in memory it frees).
 *
 * Typical use:
 *   struct config *cfg = NULL;
 *   if (config_new(&cfg) < 0) ...;
 *   config_add_path(cfg, "deploy/");    (repeat per path)
 *   if (config_check(cfg) < 0)          (diagnostics: config_diag_get)
 *   ...
 *   config_free(cfg);
 *
 * Ownership: the struct config owns every object, string and diagnostic;
 * pointers returned by the lookups are borrowed and live until
 * config_free().
 *
 * Thread safety: one thread at a time while loading and checking; after
 * config_check() the lookups only read and may run on any number of
 * threads.
 */
#ifndef FERRY_CONFIG_LOADER_H
#define FERRY_CONFIG_LOADER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/objects.h"

/* Limits, enforced while reading. */
#define CONFIG_MAX_FILE_SIZE ((size_t)16 << 20) /* one YAML file */
#define CONFIG_MAX_DOCUMENTS 100000             /* documents in one config */
#define CONFIG_MAX_FILES 100000                 /* YAML files in one config */
#define CONFIG_MAX_DIR_DEPTH 32                 /* directory nesting */
#define CONFIG_MAX_DEPTH 64      /* YAML nesting within a document */
#define CONFIG_MAX_NODES 1000000 /* YAML nodes in one file */
#define CONFIG_MAX_ANCHORS 2000  /* YAML anchors in one file */
#define CONFIG_MAX_ALIASES 20000 /* YAML aliases in one file */
#define CONFIG_MAX_DIAGS 1000    /* diagnostics kept; the rest counted */
#define CONFIG_MAX_EXCLUSIONS 25 /* ImageRepository exclusionList */

struct config;

/*
 * How paths are read (config_set_options):
 *   default_namespace  metadata.namespace of objects without one (Flux
 *                      sets it from a Kustomization's targetNamespace);
 *                      NULL: "default".
 *   exclude            glob patterns (fnmatch) of what a directory walk
 *                      does not read: a pattern without '/' is matched
 *                      against each file and directory name, one with
 *                      '/' against the path relative to the directory
 *                      given ('*' does not cross '/').  A path given
 *                      directly is always read.
 *   stdin_data         the bytes the path "-" stands for (read once by
 *                      the caller, so a reload reads them again); the
 *                      file is named "<stdin>" in messages.  NULL: "-"
 *                      is a file name like any other.
 *   secrets_dir        where Secrets that are not in the files are read
 *                      from, laid out as Kubernetes mounts them:
 *                      DIR/<namespace>/<name>/<key> (entries starting
 *                      with ".." are the mount's own and skipped).
 *   sops_age_key_files age identity files, and
 *   sops_pgp_key_files armored PGP secret keys, to decrypt SOPS
 *                      documents with, besides the *.agekey and *.asc
 *                      keys of every Kustomization's decryption Secret.
 *   argocd_annotations Argo CD Applications' v0.x image-updater
 *                      annotations are read where no ImageUpdater selects
 *                      them (config_argocd_annotations(), config/argocd.h).
 */
struct config_options {
	const char *default_namespace;
	const char *const *exclude;
	size_t nexclude;
	const char *stdin_data;
	size_t stdin_len;
	const char *secrets_dir;
	const char *const *sops_age_key_files;
	size_t nsops_age_key_files;
	const char *const *sops_pgp_key_files;
	size_t nsops_pgp_key_files;
	bool argocd_annotations;
};

#define CONFIG_OPTIONS_INIT                                                    \
	{                                                                      \
		NULL, NULL, 0, NULL, 0, NULL, NULL, 0, NULL, 0, false          \
	}

/* One problem.  line and column are 0 when the problem is the file itself
 * (missing, unreadable). */
struct config_diag {
	const char *file;
	int line, column;
	const char *object; /* "ImagePolicy flux-system/app" or NULL */
	const char *path;   /* "spec.policy.semver.range" or "" */
	const char *message;
};

/* A document that is not one of ferry's kinds. */
struct config_skipped {
	const char *file;
	int line;
	const char *api_version; /* "" when missing */
	const char *kind;        /* "" when the document has no kind */
};

/* Allocates an empty config.  -ERR_NOMEM. */
int config_new(struct config **out);

/* Frees cfg and everything it owns, wiping Secret values.  NULL is a no-op. */
void config_free(struct config *cfg);

/*
 * Sets how the following config_add_path() calls read; every string and
 * the stdin bytes are copied.  -ERR_NOMEM, or -ERR_INVALID for a
 * default_namespace that is not a valid name.
 */
int config_set_options(struct config *cfg, const struct config_options *o,
                       struct err *err);

/*
 * Reads a file or a directory (recursively) into cfg.  Problems are
 * recorded as diagnostics, including a path that does not exist.  Returns
 * 0, or -ERR_NOMEM (message in err) when memory ran out.
 */
int config_add_path(struct config *cfg, const char *path, struct err *err);

/*
 * Reads YAML from data[0..len) as if it were the file name.  Same contract
 * as config_add_path().
 */
int config_add_buffer(struct config *cfg, const char *name, const char *data,
                      size_t len, struct err *err);

/*
 * Runs the checks that involve several objects (duplicates, dangling
 * references) and builds the lookup index; call it once after the last
 * add.  Returns 0 when there are no diagnostics at all, -ERR_INVALID
 * (err says how many) when there are, -ERR_NOMEM.
 */
int config_check(struct config *cfg, struct err *err);

/* Diagnostics in the order they were found (per file, then cross-object). */
size_t config_diag_count(const struct config *cfg);
const struct config_diag *config_diag_get(const struct config *cfg, size_t i);
/* Diagnostics not kept because CONFIG_MAX_DIAGS was reached. */
size_t config_diag_dropped(const struct config *cfg);

/*
 * Appends "file:line:col: Kind ns/name: path: message" to out (the parts
 * that are empty are left out).  Returns buf_ok(out).
 */
int config_diag_format(struct buf *out, const struct config_diag *d);

/*
 * Notices: what was read but is not acted on (a field ferry accepts and
 * ignores, an API version Flux no longer serves), and what was skipped on
 * purpose (a file that is not YAML objects, an encrypted Secret nothing
 * references).  They never make config_check() fail; `ferry validate`
 * lists them.  Same shape and format as the diagnostics.
 */
size_t config_notice_count(const struct config *cfg);
const struct config_diag *config_notice_get(const struct config *cfg, size_t i);

size_t config_skipped_count(const struct config *cfg);
const struct config_skipped *config_skipped_get(const struct config *cfg,
                                                size_t i);

/* Objects of one kind, in the order they were read. */
size_t config_count(const struct config *cfg, enum config_kind kind);
const struct config_object *config_get(const struct config *cfg,
                                       enum config_kind kind, size_t i);

/* The object of that kind, namespace and name; NULL when there is none. */
const struct config_object *config_find(const struct config *cfg,
                                        enum config_kind kind,
                                        const char *namespace,
                                        const char *name);

/* The Secret a secretRef of referrer names (same namespace), or NULL. */
const struct config_object *
config_secret_for(const struct config *cfg,
                  const struct config_object *referrer,
                  const struct config_local_ref *ref);

/*
 * The value of key in a Secret: stringData wins over data, as in
 * Kubernetes.  NULL when the key is absent.  Borrowed.
 */
const struct secret *config_secret_value(const struct config_object *secret,
                                         const char *key);

/* The ImageRepository an ImagePolicy points at, or NULL. */
const struct config_object *
config_policy_repository(const struct config *cfg,
                         const struct config_object *policy);

/*
 * Whether ferry's reconciler syncs a Kustomization: true when one of its
 * annotations is a ferry.io/ key.  One without them is left to Flux (ferry
 * reads it for SOPS keys and references only).
 */
bool config_kustomization_managed(const struct config_object *ks);

/* The GitRepository of an ImageUpdateAutomation (or Kustomization). */
const struct config_object *
config_source_gitrepository(const struct config *cfg,
                            const struct config_object *obj);

/* The Provider an Alert's providerRef names (its namespace), or NULL. */
const struct config_object *
config_alert_provider(const struct config *cfg,
                      const struct config_object *alert);

/* true when labels satisfy the selector (an unset selector matches all). */
bool config_selector_matches(const struct config_label_selector *sel,
                             const struct config_strmap *labels);

/*
 * The ImagePolicies an ImageUpdateAutomation acts on: those in its
 * namespace that its policySelector matches (all of them without a
 * selector), in load order.  *out is a malloc'ed array of borrowed
 * pointers that the caller frees with free(); *n_out its length.
 * -ERR_NOMEM.
 */
int config_automation_policies(const struct config_object ***out, size_t *n_out,
                               const struct config *cfg,
                               const struct config_object *automation,
                               struct err *err);

/* The value of a label, or NULL. */
const char *config_strmap_get(const struct config_strmap *m, const char *key);

#endif
