/*
 * argocd.h - the files Argo CD reads and Argo CD Image Updater's git
 * write-back writes, edited byte for byte:
 *   - the parameter override file (.argocd-source-<app>.yaml, or any
 *     file a write-back target names): kustomize.images, a list of
 *     kustomize image strings, or helm.parameters, a list of
 *     {name, value, forcestring}.  New values are merged into what the
 *     file holds, as Argo CD Image Updater merges them: a kustomize image
 *     replaces the entry of the same image (registry and path; docker.io
 *     written or not) and is appended otherwise; a helm parameter replaces
 *     the value of the same name, gets forcestring: true, and a new one is
 *     inserted where the list, sorted by name, wants it.  Other keys of
 *     the file are kept.  A missing or empty file is written in the shape
 *     Argo CD Image Updater writes (two-space indent, "- " items at the
 *     key's column);
 *   - the reading side: what such a file, a kustomization's images: or a
 *     Helm values file holds for one image today;
 *   - an application's type found in its files the way Argo CD finds it
 *     (a kustomization file: Kustomize; a Chart.yaml: Helm; else a plain
 *     directory);
 *   - the data of commit message and branch name templates.
 *
 * Every file is read and written through a root (fsroot.h), relative
 * paths only.  A file that is not a single YAML document with a block
 * mapping at its root (or nothing) is refused, never overwritten: Argo CD
 * Image Updater would replace it with its own content.
 *
 * Ownership: inputs are borrowed; results handed back through char **
 * belong to the caller (free); changes are appended to the caller's list,
 * setter "kustomize.images[NAME]" or "helm.parameters[NAME]".
 *
 * Thread safety: reentrant; one call per file at a time.
 */
#ifndef FERRY_WRITEBACK_ARGOCD_H
#define FERRY_WRITEBACK_ARGOCD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/fsroot.h"
#include "writeback/change.h"
#include "writeback/template/template.h"
#include "writeback/yamledit.h"

/* A kustomize image string, [ALIAS=]NAME[:TAG][@DIGEST]: views into it. */
struct argocd_image_ref {
	const char *alias; /* NULL when there is no '=' */
	size_t alias_len;
	const char *name;
	size_t name_len;
	const char *tag; /* NULL when none */
	size_t tag_len;
	const char *digest; /* NULL when none */
	size_t digest_len;
};

/* Splits s (no checks beyond the split; views into s). */
void argocd_image_ref_split(struct argocd_image_ref *out, const char *s);

/* true when a and b name the same image: equal names, where a name
 * without a registry and one on docker.io are the same. */
bool argocd_image_same(const char *a, size_t alen, const char *b, size_t blen);

/*
 * Merges images (n kustomize image strings, each checked against the
 * reference grammar, ALIAS and NAME as image names) into the
 * kustomize.images list of the override file at path.  An entry is keyed
 * as `kustomize edit set image` keys it: on ALIAS when it has one, else
 * on NAME; a new image replaces the entries of its key.  -ERR_INVALID (a
 * file of another shape, a bad value, a flow-style list that is not
 * empty), -ERR_NOMEM, fsroot errors.
 */
int argocd_source_kustomize(const struct fsroot *root, const char *path,
                            const char *const *images, size_t n,
                            const struct yamledit_opts *opts,
                            struct wb_changes *changes, struct err *err);

struct argocd_helm_param {
	const char *name;  /* a Helm value path */
	const char *value; /* an image reference, name, tag or tag@digest */
};

/* Merges params into the helm.parameters list of the override file at
 * path.  Errors as argocd_source_kustomize(). */
int argocd_source_helm(const struct fsroot *root, const char *path,
                       const struct argocd_helm_param *params, size_t n,
                       const struct yamledit_opts *opts,
                       struct wb_changes *changes, struct err *err);

/* What the override file at path holds: the kustomize.images entry of
 * image name (*out the whole string), or the value of helm parameter
 * param.  *out is NULL when the file or the entry is not there. */
int argocd_source_kustomize_get(char **out, const struct fsroot *root,
                                const char *path, const char *name,
                                struct err *err);
int argocd_source_helm_get(char **out, const struct fsroot *root,
                           const char *path, const char *param,
                           struct err *err);

/* The scalar at a Helm value path (dotted keys, [N] indexes; a literal
 * key holding the dots is tried too, as Argo CD does) in the values file
 * at path, or *out NULL. */
int argocd_values_get(char **out, const struct fsroot *root, const char *path,
                      const char *key, struct err *err);

/* The images: entry of dir's kustomization whose name is name: its
 * newName, newTag and digest (each NULL when absent).  All NULL when
 * there is no such entry; -ERR_NOTFOUND when there is no kustomization. */
struct argocd_kustomize_entry {
	char *new_name;
	char *new_tag;
	char *digest;
};
int argocd_kustomization_get(struct argocd_kustomize_entry *out,
                             const struct fsroot *root, const char *dir,
                             const char *name, struct err *err);
void argocd_kustomize_entry_release(struct argocd_kustomize_entry *e);

/*
 * The image a directory's manifests run: the first "image:" value in its
 * *.yaml and *.yml files (not its subdirectories, its kustomization or
 * override files) naming image name, into *out as "TAG[@DIGEST]"; NULL
 * when none does.  Files that do not parse are passed over.  What Argo CD
 * Image Updater reads from the cluster, as near as Git can tell.
 */
int argocd_manifests_image_get(char **out, const struct fsroot *root,
                               const char *dir, const char *name,
                               struct err *err);

enum argocd_app_type {
	ARGOCD_APP_DIRECTORY = 0,
	ARGOCD_APP_KUSTOMIZE,
	ARGOCD_APP_HELM,
};

/* Argo CD's discovery for dir: a kustomization file wins over a
 * Chart.yaml; neither is a plain directory.  -ERR_NOTFOUND when dir does
 * not exist. */
int argocd_app_type_detect(enum argocd_app_type *out, const struct fsroot *root,
                           const char *dir, struct err *err);

/* One image that changed, as Argo CD Image Updater's ChangeEntry. */
struct argocd_change {
	const char *image;   /* the image's path (no registry): .Image, .Name */
	const char *alias;   /* .Alias */
	const char *old_tag; /* the tag, or the digest when there is one */
	const char *new_tag;
};

/*
 * The commit message data: .AppName and .AppChanges[] with .Image,
 * .OldTag, .NewTag and .Labels (an empty map: ferry does not read the
 * new image's labels).  0 or -ERR_NOMEM.
 */
int argocd_message_data(struct template_data *d, const char *app_name,
                        const struct argocd_change *changes, size_t n,
                        struct template_value **out, struct err *err);

/*
 * The branch name data: .AppNamespace, .AppName, .TargetKey, .Images[]
 * {.Name .Alias .OldTag .NewTag} and .SHA256 (hex SHA-256 of
 * "NAME-OLD-NEW," for each change, as Argo CD Image Updater hashes it).
 */
int argocd_branch_data(struct template_data *d, const char *app_ns,
                       const char *app_name, const char *target_key,
                       const struct argocd_change *changes, size_t n,
                       struct template_value **out, struct err *err);

/* WriteBackTargetKey: the first 8 hex digits of SHA-256 of
 * "REPO|BRANCH|TARGET". */
void argocd_target_key(char out[9], const char *repo, const char *branch,
                       const char *target);

#endif
