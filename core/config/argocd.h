/*
 * argocd.h - Argo CD Image Updater's configuration, resolved: which
 * Applications ferry updates, with which images and settings, and how it
 * writes back (objects.h has the objects as they are written).
 *
 * A unit of write-back is one Application and the source of its settings:
 *   - an ImageUpdater (argocd-image-updater.argoproj.io/v1alpha1) in the
 *     Application's namespace whose applicationRefs select it (namePattern
 *     glob and labelSelectors; among one ImageUpdater's refs the most
 *     specific wins, as Argo CD Image Updater sorts them); its images
 *     come from the ref, or from the Application's annotations when the
 *     ref has useAnnotations: true;
 *   - or, with config_argocd_annotations() on (`--argocd-annotations`),
 *     the Application's own v0.x annotations when no ImageUpdater selects
 *     it (argocd-image-updater.argoproj.io/image-list and the keys beside
 *     it).
 * An Application two ImageUpdaters select is a configuration error: Argo
 * CD Image Updater would run both and their commits would race.
 *
 * Settings merge field by field with the precedence image, then
 * applicationRef (or the application-wide annotations), then the
 * ImageUpdater's spec; the write-back config merges applicationRef over
 * spec.  Defaults: strategy semver, method argocd (which ferry refuses:
 * it needs the Argo CD API), target the source's .argocd-source file.
 *
 * The grammars of the values (pull secrets, methods, branches, targets)
 * are parsed here once, for the loader's checks and for the pipeline.
 *
 * Ownership: units and everything they point at belong to the struct
 * config (config_free).  Parsed values are views into the strings given.
 *
 * Thread safety: as loader.h; after config_check() the lookups only read.
 */
#ifndef FERRY_CONFIG_ARGOCD_H
#define FERRY_CONFIG_ARGOCD_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/loader.h"

/* Argo CD Image Updater's own defaults. */
#define CONFIG_ARGOCD_GIT_USER "argocd-image-updater"
#define CONFIG_ARGOCD_GIT_EMAIL "noreply@argoproj.io"
#define CONFIG_ARGOCD_CONFIGMAP "argocd-image-updater-config"
/* Argo CD's namespace unless the ConfigMap's argocd.namespace says
 * otherwise: an Application there writes .argocd-source-<app>.yaml, one
 * elsewhere .argocd-source-<ns>_<app>.yaml. */
#define CONFIG_ARGOCD_NAMESPACE "argocd"
#define CONFIG_ARGOCD_ANNOTATION_PREFIX "argocd-image-updater.argoproj.io/"
/* Longest branch name a git-branch template may render. */
#define CONFIG_ARGOCD_MAX_BRANCH 255

enum config_argocd_strategy {
	CONFIG_ARGOCD_SEMVER = 0,
	CONFIG_ARGOCD_NEWEST_BUILD,
	CONFIG_ARGOCD_ALPHABETICAL,
	CONFIG_ARGOCD_DIGEST,
};

/* "semver", "newest-build", "alphabetical", "digest". */
const char *config_argocd_strategy_name(enum config_argocd_strategy s);

/* One image of a unit, with its settings merged. */
struct config_argocd_unit_image {
	const struct config_argocd_image *image; /* alias, name, targets */
	enum config_argocd_strategy strategy;
	const char *allow_tags;                   /* NULL: every tag */
	const struct config_strlist *ignore_tags; /* NULL: none */
	const char *pull_secret;                  /* NULL: anonymous */
	const struct config_strlist *platforms;   /* NULL: linux/amd64 */
	bool force_update;
};

enum config_argocd_target_kind {
	CONFIG_ARGOCD_TARGET_DEFAULT = 0, /* <path>/.argocd-source-<app>.yaml */
	CONFIG_ARGOCD_TARGET_KUSTOMIZATION, /* kustomization[:DIR] */
	CONFIG_ARGOCD_TARGET_HELMVALUES,    /* helmvalues[:FILE] */
	CONFIG_ARGOCD_TARGET_FILE,          /* any other path: an override
	                                       file in .argocd-source form */
};

struct config_argocd_unit {
	const struct config_object *app;
	const struct config_object *updater;    /* NULL: v0.x annotations */
	const struct config_argocd_appref *ref; /* NULL: v0.x annotations */
	bool annotations; /* images and write-back from the annotations */
	struct config_argocd_unit_image *images;
	size_t n_images;
	const struct config_argocd_source *source; /* what is written to */
	/* write-back, merged; NULL where not given */
	const char *method; /* git, git:repocreds, git:secret:[NS/]NAME */
	const char *repository;
	const char *branch;
	const char *target;
};

/* One entry of registries.conf (registry-scanner's RegistryConfiguration). */
struct config_argocd_registry {
	char *name;
	char *prefix;      /* the registry host the entry is for */
	char *api_url;     /* http:// means plain HTTP */
	char *credentials; /* a pull secret, as pull-secret */
	char *defaultns;
	bool insecure;
	bool is_default; /* default: for images without a registry */
	bool plain_http; /* api_url starts with http:// */
};

/* ConfigMap argocd-image-updater-config, the keys ferry reads. */
struct config_argocd_config {
	const char *file; /* where it was read; NULL: there is none */
	int line, column;
	char *git_user;         /* git.user, or the default */
	char *git_email;        /* git.email, or the default */
	char *commit_template;  /* git.commit-message-template; NULL: the
	                           default template */
	char *argocd_namespace; /* argocd.namespace, or "argocd" */
	char *interval;         /* interval (a Go duration), or NULL */
	struct config_argocd_registry *registries; /* registries.conf */
	size_t n_registries;
};

/* The registries.conf entry for an image name[0..len) (its registry
 * host, or the default entry for a name without one), or NULL. */
const struct config_argocd_registry *
config_argocd_registry_for(const struct config *cfg, const char *name,
                           size_t len);

/*
 * Reads the v0.x annotations of Applications that no ImageUpdater
 * selects (off by default, as in Argo CD Image Updater 1.x).  Call before
 * config_check().  -ERR_NOMEM.
 */
int config_argocd_annotations(struct config *cfg, bool on);

/* The ConfigMap's settings (defaults when there is none).  Borrowed. */
const struct config_argocd_config *
config_argocd_config(const struct config *cfg);

/* The units, in the order of their Applications.  Borrowed. */
size_t config_argocd_unit_count(const struct config *cfg);
const struct config_argocd_unit *
config_argocd_unit_get(const struct config *cfg, size_t i);
/* The unit of an Application, or NULL when nothing updates it. */
const struct config_argocd_unit *
config_argocd_unit_for(const struct config *cfg,
                       const struct config_object *app);

/* An Argo CD update-strategy word (any case, old names included). */
int config_argocd_strategy_parse(enum config_argocd_strategy *out,
                                 const char *s, struct err *err);

/* A pull secret: pullsecret:NS/NAME, secret:NS/NAME#FIELD, env:VAR,
 * ext:/ABS/PATH (with an optional REGISTRY= before, which is ignored). */
enum config_argocd_cred_kind {
	CONFIG_ARGOCD_CRED_PULLSECRET,
	CONFIG_ARGOCD_CRED_SECRET,
	CONFIG_ARGOCD_CRED_ENV,
	CONFIG_ARGOCD_CRED_EXT,
};

struct config_argocd_cred {
	enum config_argocd_cred_kind kind;
	const char *ns; /* PULLSECRET, SECRET */
	size_t ns_len;
	const char *name; /* PULLSECRET, SECRET */
	size_t name_len;
	const char *field; /* SECRET: the rest of the string */
	const char *env;   /* ENV: the rest of the string */
	const char *path;  /* EXT: the rest of the string */
};

/* Parses s (views into it).  -ERR_INVALID saying what is wrong. */
int config_argocd_cred_parse(struct config_argocd_cred *out, const char *s,
                             struct err *err);

/* A write-back method: git, git:repocreds or git:secret:[NS/]NAME.
 * secret_ns is NULL when the secret names no namespace.  -ERR_INVALID,
 * with a message pointing to git for argocd. */
struct config_argocd_method {
	bool repocreds;
	const char *secret_ns; /* views into the method string */
	size_t secret_ns_len;
	const char *secret_name;
	size_t secret_name_len;
};
int config_argocd_method_parse(struct config_argocd_method *out,
                               const char *method, struct err *err);

/* A git-branch value: BRANCH, BASE:TARGET or :TARGET (views).  BRANCH,
 * BASE and a TARGET without a template must be branch names Git accepts
 * (gitrepo_branch_name_valid(), so git_libgit2_init() must have been
 * called, as main() does; so must it for config_check() of Argo CD
 * objects). */
struct config_argocd_branch {
	const char *base; /* NULL: the source's targetRevision */
	size_t base_len;
	const char *target; /* NULL: push to base; else a template */
	size_t target_len;
};
int config_argocd_branch_parse(struct config_argocd_branch *out, const char *s,
                               struct err *err);

/* A write-back target: kustomization[:DIR], helmvalues[:FILE] or a
 * path.  *path_out gets the path relative to the repository root, with
 * source_path (the Application's path) applied as Argo CD applies it
 * ("/X" is X from the root); the caller frees it. */
int config_argocd_target_parse(enum config_argocd_target_kind *kind_out,
                               char **path_out, const char *target,
                               const char *source_path, const char *argocd_ns,
                               const char *app_ns, const char *app_name,
                               struct err *err);

/* The default target's file name: ".argocd-source-APP.yaml" for an
 * Application in Argo CD's namespace argocd_ns (or when that is
 * "default"), else ".argocd-source-NS_APP.yaml".  Appends to out. */
int config_argocd_default_file(struct buf *out, const char *argocd_ns,
                               const char *app_ns, const char *app_name);

#endif
