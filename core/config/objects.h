/*
 * objects.h - the typed Flux objects ferry reads: GitRepository,
 * ImageRepository, ImagePolicy, ImageUpdateAutomation, Receiver,
 * Kustomization, Provider, Alert and Secret; and Argo CD's ImageUpdater
 * and Application.
 *
 * The structs mirror the Flux v1 APIs field for field (JSON names in the
 * comments when they differ from the C names).  They are plain data:
 * strings are NUL-terminated char * (NULL when the field was not given and
 * has no default), durations are int64_t nanoseconds, lists are a pointer
 * and a count.  Every object belongs to the struct config that loaded it
 * (loader.h); nothing here is freed by the caller.
 *
 * Defaults are applied by the loader the way Flux applies them, so a
 * consumer never has to repeat them:
 *   - metadata.namespace: "default";
 *   - GitRepository: timeout 60s, ref.branch "master" when no ref field is
 *     set, provider "generic", verify.mode "HEAD";
 *   - ImageRepository: exclusion_list ["^.*\\.sig$"] when empty, timeout =
 *     interval when unset and never below 1s, provider "generic";
 *   - ImagePolicy: order "asc", digest_reflection_policy "Never";
 *   - ImageUpdateAutomation: source_ref.kind "GitRepository",
 *     update.strategy "Setters", update.path "." (the clone's root),
 *     signing_key.type "gpg";
 *   - Kustomization: timeout = interval - 30s when unset, and never below
 *     30s (GetTimeout); retry_interval = interval; deletion_policy
 *     "MirrorPrune"; source_ref and depends_on namespaces = own namespace;
 *   - Receiver: interval 10m;
 *   - Provider: timeout 15s;
 *   - Alert: event_severity "info"; event source namespaces = own
 *     namespace;
 *   - Secret: type "Opaque".
 * Cross-namespace references (image_repository_ref.namespace,
 * source_ref.namespace) are filled with the object's own namespace when
 * omitted, so lookups always have both parts.
 *
 * ferry extension: ImageUpdateAutomation spec.update.strategy accepts
 * "Kustomization" besides Flux's only value "Setters".  With it, ferry
 * edits the images[] entries of kustomization.yaml files natively instead
 * of following $imagepolicy markers (carried out by writeback/).
 *
 * Positions: struct config_pos marks where a mapping started in its file
 * (1-based line and column); `set` tells whether the mapping was present.
 *
 * Thread safety: the objects are immutable after loading; any number of
 * threads may read them while the owning struct config lives.
 */
#ifndef FERRY_CONFIG_OBJECTS_H
#define FERRY_CONFIG_OBJECTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/secret.h"

struct config_pos {
	bool set; /* the mapping was present in the document */
	int line, column;
};

struct config_strlist {
	char **items;
	size_t n;
};

/* map[string]string, in document order; keys are unique. */
struct config_strmap {
	char **keys;
	char **values;
	size_t n;
};

struct config_metadata {
	char *name;
	char *namespace; /* "default" when omitted */
	struct config_strmap labels;
	struct config_strmap annotations;
};

/* A reference by name to an object in the same namespace (secretRef). */
struct config_local_ref {
	struct config_pos pos;
	char *name;
};

/* A reference that may cross namespaces (imageRepositoryRef, sourceRef). */
struct config_cross_ref {
	struct config_pos pos;
	char *api_version; /* apiVersion */
	char *kind;
	char *name;
	char *namespace; /* the referrer's namespace when omitted */
};

struct config_label_requirement {
	char *key;
	char *operator; /* In, NotIn, Exists, DoesNotExist */
	struct config_strlist values;
};

struct config_label_selector {
	struct config_pos pos;
	struct config_strmap match_labels;
	struct config_label_requirement *match_expressions;
	size_t n_match_expressions;
};

/* GitRepository.spec.ref and IUA git.checkout.ref. */
struct config_git_ref {
	struct config_pos pos;
	char *branch;
	char *tag;
	char *semver;
	char *name;
	char *commit;
};

/* ---- GitRepository (source.toolkit.fluxcd.io/v1) ---- */

struct config_git_verify {
	struct config_pos pos;
	char *mode; /* HEAD (or head), Tag, TagAndHEAD */
	struct config_local_ref secret_ref;
};

struct config_git_include {
	struct config_cross_ref repository; /* only name is used */
	char *from_path;
	char *to_path;
};

struct config_gitrepository {
	struct config_pos pos;
	char *url;
	struct config_local_ref secret_ref;
	char *provider;             /* generic, aws, azure, github */
	char *service_account_name; /* only with provider aws or azure */
	int64_t interval;
	int64_t timeout;
	struct config_git_ref ref;
	struct config_git_verify verify;
	struct config_local_ref proxy_secret_ref;
	char *ignore;
	bool suspend;
	bool recurse_submodules;
	struct config_git_include *include;
	size_t n_include;
	struct config_strlist sparse_checkout;
};

/* ---- ImageRepository (image.toolkit.fluxcd.io/v1, v1beta2) ---- */

struct config_namespace_selector {
	struct config_strmap match_labels;
};

struct config_imagerepository {
	struct config_pos pos;
	char *image;
	int64_t interval;
	int64_t timeout;
	struct config_local_ref secret_ref;
	struct config_local_ref cert_secret_ref;
	struct config_local_ref proxy_secret_ref;
	char *service_account_name;
	char *provider; /* generic, aws, azure, gcp */
	bool insecure;
	struct config_strlist exclusion_list;
	struct {
		struct config_pos pos;
		struct config_namespace_selector *namespace_selectors;
		size_t n_namespace_selectors;
	} access_from;
	bool suspend;
};

/* ---- ImagePolicy ---- */

struct config_policy_order {
	struct config_pos pos;
	char *order; /* asc, desc */
};

struct config_imagepolicy {
	struct config_pos pos;
	struct config_cross_ref image_repository_ref;
	struct {
		struct config_pos pos;
		struct {
			struct config_pos pos;
			char *range;
		} semver;
		struct config_policy_order alphabetical;
		struct config_policy_order numerical;
	} policy;
	struct {
		struct config_pos pos;
		char *pattern;
		char *extract;
	} filter_tags;
	char *digest_reflection_policy; /* Never, IfNotPresent, Always */
	int64_t interval;
	bool suspend;
};

/* ---- ImageUpdateAutomation ---- */

struct config_imageupdateautomation {
	struct config_pos pos;
	struct config_cross_ref source_ref;
	struct {
		struct config_pos pos;
		struct {
			struct config_pos pos;
			struct config_git_ref ref;
		} checkout;
		struct {
			struct config_pos pos;
			struct {
				struct config_pos pos;
				char *email;
				char *name;
			} author;
			struct {
				struct config_pos pos;
				struct config_local_ref secret_ref;
				char *type; /* gpg, ssh */
			} signing_key;
			char *message_template;
			struct config_strmap message_template_values;
		} commit;
		struct {
			struct config_pos pos;
			char *branch;
			char *refspec;
			struct config_strmap options;
		} push;
	} git;
	struct {
		struct config_pos pos;
		char *strategy; /* Setters, or ferry's Kustomization */
		char *path;
	} update;
	struct config_label_selector policy_selector;
	int64_t interval;
	bool suspend;
};

/* ---- Receiver (notification.toolkit.fluxcd.io/v1) ---- */

struct config_receiver_resource {
	char *api_version;
	char *kind;
	char *name; /* may be "*" together with match_labels */
	char *namespace;
	struct config_strmap match_labels;
	char *filter; /* a CEL expression; not evaluated by ferry */
};

/* A CEL variable (name, expression) or validation (expression, message). */
struct config_receiver_cel {
	char *name;
	char *expression;
	char *message;
};

/* spec.oidcProviders[] (type generic-oidc). */
struct config_receiver_oidc_provider {
	char *issuer_url; /* issuerURL */
	char *audience;
	struct config_receiver_cel *variables;
	size_t n_variables;
	struct config_receiver_cel *validations;
	size_t n_validations;
};

struct config_receiver {
	struct config_pos pos;
	char *type;
	int64_t interval;
	struct config_strlist events;
	struct config_receiver_resource *resources;
	size_t n_resources;
	struct config_receiver_oidc_provider *oidc_providers;
	size_t n_oidc_providers;
	char *resource_filter;
	struct config_local_ref secret_ref;
	bool suspend;
};

/* ---- Kustomization (kustomize.toolkit.fluxcd.io/v1) ---- */

struct config_kustomization_patch {
	char *patch;
	struct {
		struct config_pos pos;
		char *group;
		char *version;
		char *kind;
		char *name;
		char *namespace;
		char *annotation_selector;
		char *label_selector;
	} target;
};

struct config_kustomization_image {
	char *name;
	char *new_name;
	char *new_tag;
	char *digest;
};

struct config_kustomization_object_ref {
	char *api_version;
	char *kind;
	char *name;
	char *namespace;
};

struct config_kustomization_health_expr {
	char *api_version;
	char *kind;
	char *current;
	char *in_progress;
	char *failed;
};

struct config_kustomization_dependency {
	char *name;
	char *namespace;  /* the Kustomization's namespace when omitted */
	char *ready_expr; /* readyExpr, a CEL expression */
};

/* spec.ignore[]: paths drift detection leaves alone. */
struct config_kustomization_ignore_rule {
	struct config_strlist paths; /* JSON pointers */
	struct {
		struct config_pos pos;
		char *group;
		char *version;
		char *kind;
		char *name;
		char *namespace;
		char *annotation_selector;
		char *label_selector;
	} target;
};

struct config_kustomization_substitute_from {
	char *kind; /* ConfigMap, Secret */
	char *name;
	bool optional;
};

struct config_kustomization {
	struct config_pos pos;
	struct config_kustomization_dependency *depends_on;
	size_t n_depends_on;
	struct {
		struct config_pos pos;
		char *provider; /* sops */
		char *service_account_name;
		struct config_local_ref secret_ref;
	} decryption;
	int64_t interval;
	int64_t retry_interval;
	struct {
		struct config_pos pos;
		struct {
			struct config_pos pos;
			char *name;
			char *key;
		} secret_ref;
		struct config_local_ref config_map_ref;
	} kube_config;
	char *path;
	struct {
		struct config_pos pos;
		struct config_strmap substitute;
		struct config_kustomization_substitute_from *substitute_from;
		size_t n_substitute_from;
		char *substitute_strategy; /* WithVariables, Always */
	} post_build;
	bool prune;
	char *deletion_policy;
	struct config_kustomization_object_ref *health_checks;
	size_t n_health_checks;
	struct config_kustomization_health_expr *health_check_exprs;
	size_t n_health_check_exprs;
	char *name_prefix;
	char *name_suffix;
	struct config_kustomization_patch *patches;
	size_t n_patches;
	struct config_kustomization_image *images;
	size_t n_images;
	struct config_strlist components;
	bool ignore_missing_components;
	struct config_kustomization_ignore_rule *ignore; /* spec.ignore */
	size_t n_ignore;
	struct config_strlist build_metadata; /* buildMetadata */
	char *service_account_name;
	struct config_cross_ref source_ref;
	bool suspend;
	char *target_namespace;
	int64_t timeout;
	bool force;
	bool wait;
	struct {
		struct config_pos pos;
		struct config_strmap labels;
		struct config_strmap annotations;
	} common_metadata;
};

/* ---- Provider (notification.toolkit.fluxcd.io/v1beta3) ---- */

struct config_provider {
	struct config_pos pos;
	char *type;       /* ferry sends generic, generic-hmac, slack,
	                     githubdispatch */
	int64_t interval; /* deprecated in v1beta3; read, not used */
	char *channel;
	char *username;
	char *address; /* the Secret's 'address' key wins */
	int64_t timeout;
	char *proxy; /* the Secret's 'proxy' key wins */
	struct config_local_ref proxy_secret_ref;
	struct config_local_ref secret_ref;      /* address, token, username,
	                                            headers, proxy */
	struct config_local_ref cert_secret_ref; /* ca.crt */
	char *service_account_name;
	char *commit_status_expr;
	bool suspend;
};

/* ---- Alert (notification.toolkit.fluxcd.io/v1beta3) ---- */

/* An Alert's event source: objects of kind, named name ("*": all, then
 * filtered by match_labels) in namespace. */
struct config_event_source {
	char *api_version;
	char *kind;
	char *name;
	char *namespace; /* the Alert's namespace when omitted */
	struct config_strmap match_labels;
};

struct config_alert {
	struct config_pos pos;
	struct config_local_ref provider_ref;
	char *event_severity; /* info (every event), error */
	struct config_event_source *event_sources;
	size_t n_event_sources;
	struct config_strlist inclusion_list; /* regexes on the message */
	struct config_strlist exclusion_list;
	struct config_strmap event_metadata;
	char *summary; /* sent as metadata "summary" */
	bool suspend;
};

/* ---- Secret (v1) ---- */

struct config_secret_entry {
	char *key;
	struct secret value; /* decoded bytes; never printed */
};

struct config_secret {
	char *type; /* "Opaque" when omitted */
	bool immutable;
	struct config_secret_entry *data; /* base64-decoded */
	size_t n_data;
	struct config_secret_entry *string_data;
	size_t n_string_data;
};

/* ---- Argo CD: ImageUpdater (argocd-image-updater.argoproj.io/v1alpha1)
 * and Application (argoproj.io/v1alpha1); config/argocd.h resolves them
 * into units of write-back.  Field names follow the CRDs (JSON names in
 * the comments where they differ). ---- */

/* A boolean that may also be absent (for precedence and CRD defaults). */
enum config_optbool {
	CONFIG_UNSET = 0,
	CONFIG_FALSE,
	CONFIG_TRUE,
};

/* commonUpdateSettings, and the same keys read from annotations. */
struct config_argocd_settings {
	struct config_pos pos;
	char *update_strategy; /* updateStrategy, as written; NULL: unset */
	enum config_optbool force_update;
	char *allow_tags;
	struct config_strlist ignore_tags; /* unset when items is NULL */
	char *pull_secret;
	struct config_strlist platforms; /* unset when items is NULL */
};

/* manifestTargets.helm (and .plugin, whose fields are the same). */
struct config_argocd_helm_target {
	struct config_pos pos;
	char *name;
	char *tag;
	char *spec;
};

struct config_argocd_kustomize_target {
	struct config_pos pos;
	char *name;
};

/* imagesVerification: cosign signatures, which ferry cannot check. */
struct config_argocd_verification {
	struct config_pos pos;
	enum config_optbool enabled; /* the CRD's default is true */
	struct {
		struct config_pos pos;
		char *secret_name; /* secretName */
		char *key;
	} cosign_key; /* cosignKey */
};

/* One image: images[] of an applicationRef, or an image-list entry. */
struct config_argocd_image {
	struct config_pos pos;
	char *alias;      /* "" for an image-list entry without one */
	char *image_name; /* imageName: NAME[:CONSTRAINT] */
	struct config_argocd_settings settings;
	struct {
		struct config_pos pos;
		struct config_argocd_helm_target helm;
		struct config_argocd_kustomize_target kustomize;
		struct config_argocd_helm_target plugin;
	} targets; /* manifestTargets */
	struct config_argocd_verification verification;
	/* set by the loader: image_name split at the constraint's ':' */
	size_t name_len;        /* image_name[0..name_len) is the image */
	const char *constraint; /* into image_name; NULL when none */
};

struct config_argocd_writeback {
	struct config_pos pos;
	char *method; /* argocd, git, git:repocreds, git:secret:NS/NAME */
	struct {
		struct config_pos pos;
		char *repository;
		char *branch;            /* BRANCH, BASE:TARGET or :TARGET */
		char *write_back_target; /* writeBackTarget */
		struct {
			struct config_pos pos;
		} pull_request; /* pullRequest: not supported by ferry */
	} git;                  /* gitConfig */
};

struct config_argocd_appref {
	struct config_pos pos;
	char *name_pattern; /* namePattern, a filepath.Match glob */
	struct config_label_selector label_selectors;
	enum config_optbool use_annotations;
	struct config_argocd_verification verification;
	struct config_argocd_settings settings;
	struct config_argocd_writeback write_back;
	struct config_argocd_image *images;
	size_t n_images;
};

struct config_imageupdater {
	struct config_pos pos;
	struct config_argocd_settings settings;    /* commonUpdateSettings */
	struct config_argocd_writeback write_back; /* writeBackConfig */
	struct config_argocd_verification verification;
	struct config_argocd_appref *app_refs; /* applicationRefs */
	size_t n_app_refs;
};

/* How Argo CD renders a source: said by the source, or found in files. */
enum config_argocd_type {
	CONFIG_ARGOCD_TYPE_DETECT = 0, /* no explicit type: look at path */
	CONFIG_ARGOCD_TYPE_KUSTOMIZE,
	CONFIG_ARGOCD_TYPE_HELM,
	CONFIG_ARGOCD_TYPE_DIRECTORY,
	CONFIG_ARGOCD_TYPE_PLUGIN,
};

struct config_argocd_helm_param {
	char *name;
	char *value;
	enum config_optbool force_string; /* forceString */
};

/* spec.source, spec.sources[] and spec.sourceHydrator.drySource. */
struct config_argocd_source {
	struct config_pos pos;
	char *repo_url;        /* repoURL */
	char *path;            /* "" or NULL: the repository's root */
	char *target_revision; /* targetRevision; NULL, "" and HEAD: the
	                          remote's default branch */
	char *chart;           /* a Helm repository's chart: not Git */
	char *ref;
	char *name;
	struct {
		struct config_pos pos;
		struct config_argocd_helm_param *parameters;
		size_t n_parameters;
	} helm;
	struct {
		struct config_pos pos;
		struct config_strlist
		        images; /* "[ALIAS=]NAME[:TAG][@DIGEST]" */
	} kustomize;
	struct {
		struct config_pos pos;
	} directory, plugin;
	enum config_argocd_type type; /* set by the loader */
};

/* The v0.x annotations (argocd-image-updater.argoproj.io/...), parsed. */
struct config_argocd_annotations {
	bool present;          /* image-list is given */
	struct config_pos pos; /* the image-list annotation */
	struct config_argocd_image *images;
	size_t n_images;
	struct config_argocd_settings settings; /* application-wide */
	struct config_argocd_writeback write_back;
};

struct config_application {
	struct config_pos pos;
	char *project;
	struct config_argocd_source source;
	struct config_argocd_source *sources;
	size_t n_sources;
	struct {
		struct config_pos pos;
		struct config_argocd_source dry_source; /* drySource */
	} source_hydrator;                              /* sourceHydrator */
	struct config_argocd_annotations annotations;   /* set by the loader */
};

/* ---- the object ---- */

enum config_kind {
	CONFIG_GITREPOSITORY = 0,
	CONFIG_IMAGEREPOSITORY,
	CONFIG_IMAGEPOLICY,
	CONFIG_IMAGEUPDATEAUTOMATION,
	CONFIG_RECEIVER,
	CONFIG_KUSTOMIZATION,
	CONFIG_SECRET,
	CONFIG_PROVIDER,
	CONFIG_ALERT,
	CONFIG_IMAGEUPDATER,
	CONFIG_APPLICATION,
	CONFIG_KIND_COUNT,
};

struct config_object {
	enum config_kind kind;
	char *api_version;
	const char *file; /* owned by the struct config */
	int line, column; /* where the document's mapping starts */
	struct config_metadata metadata;
	union {
		struct config_gitrepository gitrepository;
		struct config_imagerepository imagerepository;
		struct config_imagepolicy imagepolicy;
		struct config_imageupdateautomation imageupdateautomation;
		struct config_receiver receiver;
		struct config_kustomization kustomization;
		struct config_secret secret;
		struct config_provider provider;
		struct config_alert alert;
		struct config_imageupdater imageupdater;
		struct config_application application;
	} u;
};

/* "GitRepository", "ImagePolicy", ... for a kind; NULL when out of range. */
const char *config_kind_name(enum config_kind kind);

#endif
