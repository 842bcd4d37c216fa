/*
 * argocd_tables.h - the field tables of Argo CD's ImageUpdater and
 * Application, in schema.c's table language.  schema.c includes this file
 * once, after its own root tables (it uses schema.c's struct field, its
 * macros and its shared tables), so that the decoder, its errors and its
 * freeing are the same for every kind; nothing else includes it.
 *
 * ImageUpdater follows argocd-image-updater's api/v1alpha1 types field by
 * field.  Application lists every field of Argo CD's CRD: what ferry does
 * not use (syncPolicy, destination, ignoreDifferences, ...) is accepted
 * and skipped (F_IGNORE), down to the level where a misspelled key would
 * still be caught cheaply.  The checks across fields (one manifest target,
 * the annotations, strategies) are in argocd.c.
 *
 * Thread safety: constant tables.
 */
#ifndef FERRY_CONFIG_ARGOCD_TABLES_H
#define FERRY_CONFIG_ARGOCD_TABLES_H

#define FOPTBOOL(T, n, m)                                                      \
	{                                                                      \
		n, F_OPTBOOL, 0, offsetof(T, m), 0, 0, NULL, NULL              \
	}

/* ---- ImageUpdater ---- */

#define AS struct config_argocd_settings
static const struct field argocd_settings_fields[] = {
	FSTR(AS, "updateStrategy", update_strategy, 0),
	FOPTBOOL(AS, "forceUpdate", force_update),
	FSTR(AS, "allowTags", allow_tags, 0),
	FLIST(AS, "ignoreTags", ignore_tags, 0),
	FSTR(AS, "pullSecret", pull_secret, 0),
	FLIST(AS, "platforms", platforms, 0),
	FEND,
};
#undef AS

#define AV struct config_argocd_verification
static const struct field argocd_cosign_fields[] = {
	FSTR(AV, "secretName", cosign_key.secret_name, FL_REQ),
	FSTR(AV, "key", cosign_key.key, FL_REQ),
	FEND,
};

static const struct field argocd_verification_fields[] = {
	FOPTBOOL(AV, "enabled", enabled),
	FOBJF(AV, "cosignKey", cosign_key, argocd_cosign_fields, 0),
	FEND,
};
#undef AV

#define AW struct config_argocd_writeback
static const struct field argocd_pr_fields[] = {
	FIGN("github"),
	FIGN("gitlab"),
	FIGN("labels"),
	FEND,
};

static const struct field argocd_git_fields[] = {
	FSTR(AW, "repository", git.repository, 0),
	FSTR(AW, "branch", git.branch, 0),
	FSTR(AW, "writeBackTarget", git.write_back_target, 0),
	FOBJF(AW, "pullRequest", git.pull_request, argocd_pr_fields, 0),
	FEND,
};

static const struct field argocd_writeback_fields[] = {
	FSTR(AW, "method", method, 0),
	FOBJF(AW, "gitConfig", git, argocd_git_fields, 0),
	FEND,
};
#undef AW

static const struct field argocd_helm_target_fields[] = {
	FSTR(struct config_argocd_helm_target, "name", name, 0),
	FSTR(struct config_argocd_helm_target, "tag", tag, 0),
	FSTR(struct config_argocd_helm_target, "spec", spec, 0),
	FEND,
};

static const struct field argocd_kustomize_target_fields[] = {
	FSTR(struct config_argocd_kustomize_target, "name", name, FL_REQ),
	FEND,
};

#define AI struct config_argocd_image
static const struct field argocd_targets_fields[] = {
	FOBJ(AI, "helm", targets.helm, argocd_helm_target_fields, 0),
	FOBJ(AI, "kustomize", targets.kustomize, argocd_kustomize_target_fields,
	     0),
	FOBJ(AI, "plugin", targets.plugin, argocd_helm_target_fields, 0),
	FEND,
};

static const struct field argocd_image_fields[] = {
	FSTR(AI, "alias", alias, FL_REQ),
	FSTR(AI, "imageName", image_name, FL_REQ),
	FOBJ(AI, "commonUpdateSettings", settings, argocd_settings_fields, 0),
	FOBJF(AI, "manifestTargets", targets, argocd_targets_fields, 0),
	FOBJ(AI, "imagesVerification", verification, argocd_verification_fields,
	     0),
	FEND,
};
#undef AI

#define AR struct config_argocd_appref
static const struct field argocd_appref_fields[] = {
	FSTR(AR, "namePattern", name_pattern, FL_REQ),
	FOBJ(AR, "labelSelectors", label_selectors, selector_fields, 0),
	FOPTBOOL(AR, "useAnnotations", use_annotations),
	FOBJ(AR, "imagesVerification", verification, argocd_verification_fields,
	     0),
	FOBJ(AR, "commonUpdateSettings", settings, argocd_settings_fields, 0),
	FOBJ(AR, "writeBackConfig", write_back, argocd_writeback_fields, 0),
	FOBJLIST(AR, "images", images, n_images, struct config_argocd_image,
	         argocd_image_fields, 0),
	FEND,
};
#undef AR

#define IU struct config_imageupdater
static const struct field imageupdater_spec[] = {
	/* deprecated and ignored by Argo CD Image Updater (#1590) */
	FIGN("namespace"),
	FOBJ(IU, "commonUpdateSettings", settings, argocd_settings_fields, 0),
	FOBJ(IU, "writeBackConfig", write_back, argocd_writeback_fields, 0),
	FOBJ(IU, "imagesVerification", verification, argocd_verification_fields,
	     0),
	FOBJLIST(IU, "applicationRefs", app_refs, n_app_refs,
	         struct config_argocd_appref, argocd_appref_fields, FL_REQ),
	FEND,
};
#undef IU

/* ---- Application ---- */

static const struct field argocd_helm_param_fields[] = {
	FSTR(struct config_argocd_helm_param, "name", name, 0),
	FSTR(struct config_argocd_helm_param, "value", value, 0),
	FOPTBOOL(struct config_argocd_helm_param, "forceString", force_string),
	FEND,
};

#define SRC struct config_argocd_source
static const struct field argocd_source_helm_fields[] = {
	FIGN("apiVersions"),
	FIGN("fileParameters"),
	FIGN("ignoreMissingValueFiles"),
	FIGN("kubeVersion"),
	FIGN("namespace"),
	FOBJLIST(SRC, "parameters", helm.parameters, helm.n_parameters,
	         struct config_argocd_helm_param, argocd_helm_param_fields, 0),
	FIGN("passCredentials"),
	FIGN("releaseName"),
	FIGN("skipCrds"),
	FIGN("skipSchemaValidation"),
	FIGN("skipTests"),
	FIGN("valueFiles"),
	FIGN("values"),
	FIGN("valuesObject"),
	FIGN("version"),
	FEND,
};

static const struct field argocd_source_kustomize_fields[] = {
	FIGN("apiVersions"),
	FIGN("commonAnnotations"),
	FIGN("commonAnnotationsEnvsubst"),
	FIGN("commonLabels"),
	FIGN("components"),
	FIGN("forceCommonAnnotations"),
	FIGN("forceCommonLabels"),
	FIGN("ignoreMissingComponents"),
	FLIST(SRC, "images", kustomize.images, 0),
	FIGN("kubeVersion"),
	FIGN("labelIncludeTemplates"),
	FIGN("labelWithoutSelector"),
	FIGN("namePrefix"),
	FIGN("nameSuffix"),
	FIGN("namespace"),
	FIGN("patches"),
	FIGN("replicas"),
	FIGN("version"),
	FEND,
};

static const struct field argocd_source_directory_fields[] = {
	FIGN("disableExtensionFilter"),
	FIGN("exclude"),
	FIGN("include"),
	FIGN("jsonnet"),
	FIGN("recurse"),
	FEND,
};

static const struct field argocd_source_plugin_fields[] = {
	FIGN("env"),
	FIGN("name"),
	FIGN("parameters"),
	FEND,
};

static const struct field argocd_source_fields[] = {
	FSTR(SRC, "repoURL", repo_url, 0),
	FSTR(SRC, "path", path, 0),
	FSTR(SRC, "targetRevision", target_revision, 0),
	FSTR(SRC, "chart", chart, 0),
	FSTR(SRC, "ref", ref, 0),
	FSTR(SRC, "name", name, 0),
	FIGN("tagPrefix"),
	FOBJF(SRC, "helm", helm, argocd_source_helm_fields, 0),
	FOBJF(SRC, "kustomize", kustomize, argocd_source_kustomize_fields, 0),
	FOBJ(SRC, "directory", directory, argocd_source_directory_fields, 0),
	FOBJ(SRC, "plugin", plugin, argocd_source_plugin_fields, 0),
	FEND,
};

/* drySource: a source without chart, ref, name. */
static const struct field argocd_dry_source_fields[] = {
	FSTR(SRC, "repoURL", repo_url, FL_REQ),
	FSTR(SRC, "path", path, 0),
	FSTR(SRC, "targetRevision", target_revision, 0),
	FOBJF(SRC, "helm", helm, argocd_source_helm_fields, 0),
	FOBJF(SRC, "kustomize", kustomize, argocd_source_kustomize_fields, 0),
	FOBJ(SRC, "directory", directory, argocd_source_directory_fields, 0),
	FOBJ(SRC, "plugin", plugin, argocd_source_plugin_fields, 0),
	FEND,
};
#undef SRC

/* Mappings ferry accepts and does not read: checked for their own keys
 * and decoded into nothing (FL_NOPOS, every child ignored). */
#define FSKIP(n, c)                                                            \
	{                                                                      \
		n, F_OBJ, FL_NOPOS, 0, 0, 0, c, NULL                           \
	}

static const struct field argocd_destination_fields[] = {
	FIGN("name"),
	FIGN("namespace"),
	FIGN("server"),
	FEND,
};

static const struct field argocd_automated_fields[] = {
	FIGN("allowEmpty"),
	FIGN("enabled"),
	FIGN("prune"),
	FIGN("selfHeal"),
	FEND,
};

static const struct field argocd_backoff_fields[] = {
	FIGN("duration"),
	FIGN("factor"),
	FIGN("maxDuration"),
	FEND,
};

static const struct field argocd_retry_fields[] = {
	FSKIP("backoff", argocd_backoff_fields),
	FIGN("limit"),
	FIGN("refresh"),
	FEND,
};

static const struct field argocd_ns_metadata_fields[] = {
	FIGN("annotations"),
	FIGN("labels"),
	FEND,
};

static const struct field argocd_sync_policy_fields[] = {
	FSKIP("automated", argocd_automated_fields),
	FSKIP("managedNamespaceMetadata", argocd_ns_metadata_fields),
	FSKIP("retry", argocd_retry_fields),
	FIGN("syncOptions"),
	FEND,
};

static const struct field argocd_hydrate_to_fields[] = {
	FIGN("targetBranch"),
	FEND,
};

static const struct field argocd_sync_source_fields[] = {
	FIGN("path"),
	FIGN("repoURL"),
	FIGN("targetBranch"),
	FEND,
};

#define AP struct config_application
static const struct field argocd_hydrator_fields[] = {
	FOBJ(AP, "drySource", source_hydrator.dry_source,
	     argocd_dry_source_fields, FL_REQ),
	/* only Argo CD's hydrator reads these */
	{ "syncSource", F_OBJ, FL_NOPOS | FL_REQ, 0, 0, 0,
	  argocd_sync_source_fields, NULL },
	FSKIP("hydrateTo", argocd_hydrate_to_fields),
	FEND,
};

static const struct field application_spec[] = {
	FSKIP("destination", argocd_destination_fields),
	FIGN("ignoreDifferences"),
	FIGN("info"),
	FSTR(AP, "project", project, 0),
	FIGN("revisionHistoryLimit"),
	FOBJ(AP, "source", source, argocd_source_fields, 0),
	FOBJF(AP, "sourceHydrator", source_hydrator, argocd_hydrator_fields, 0),
	FOBJLIST(AP, "sources", sources, n_sources, struct config_argocd_source,
	         argocd_source_fields, 0),
	FSKIP("syncPolicy", argocd_sync_policy_fields),
	FEND,
};
#undef AP
#undef FSKIP

/* ---- the roots (ROOT_COMMON and OBJ are schema.c's) ---- */

static const struct field imageupdater_root[] =
        ROOT(u.imageupdater, imageupdater_spec);
static const struct field application_root[] = {
	ROOT_COMMON,
	FOBJ(OBJ, "spec", u.application, application_spec, FL_REQ),
	FIGN("operation"),
	FIGN("status"),
	FEND,
};

#undef FOPTBOOL

#endif
