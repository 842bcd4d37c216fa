/*
 * schema.c - the field tables of the Flux kinds and the one decoder that
 * walks a libyaml document against them.
 *
 * Each struct of objects.h has a table: JSON name, type, offset, child
 * table, flags (required, regex, image, ...).  The decoder reports unknown
 * and duplicate fields, wrong types, bad durations, enum values and regexes
 * with the node's position and the field path, keeps going after every
 * problem, and frees through the same tables.  Checks across several
 * fields of one object (exactly one policy strategy, interval only with
 * digestReflectionPolicy Always, ...) and Flux's defaults come after the
 * tables.  Checks across objects live in loader.c.
 *
 * Scalars are resolved as Kubernetes' YAML reader does (YAML 1.1): a plain
 * `true`, `yes`, `42` or `1.5` is not a string, so `tag: 1.10` is an error
 * that says to quote it, rather than a silent "1.1".  (The single letters
 * y and n are left strings: `kind: Y` is more likely than a boolean.)
 *
 * Values that only ferry's other modules can judge are checked with them:
 * semver ranges with policy/semver.h, so validate and the policy agree.
 *
 * Secret values are never put into a message: type errors say what was
 * expected, not what was found.
 */
#include "config_int.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/fsroot.h"
#include "base/regex.h"
#include "base/util.h"
#include "policy/filter.h"
#include "policy/semver.h"
#include "writeback/change.h"
#include "writeback/template/template.h"
#include "writeback/template_model.h"

enum ftype {
	F_STR,       /* char * */
	F_BOOL,      /* bool */
	F_DUR,       /* int64_t ns, Flux's duration pattern */
	F_ENUM,      /* char *, one of enums[] */
	F_STRMAP,    /* struct config_strmap */
	F_STRLIST,   /* struct config_strlist */
	F_OBJ,       /* embedded struct starting with struct config_pos */
	F_OBJLIST,   /* T *ptr at off, size_t count at count_off */
	F_IGNORE,    /* accepted, not read (status, metadata.uid, ...) */
	F_SECRETS,   /* Secret stringData: entries at off, count at count_off */
	F_SECRETS64, /* Secret data: the same, values base64-decoded */
	F_OPTBOOL,   /* enum config_optbool: unset, false or true */
};

enum {
	FL_REQ = 1 << 0,      /* must be present and not null */
	FL_NOH = 1 << 1,      /* duration pattern without 'h' (timeouts) */
	FL_REGEX = 1 << 2,    /* string (or each list item) is a Go regexp */
	FL_IMAGE = 1 << 3,    /* image name without scheme, tag or digest */
	FL_NOPOS = 1 << 4,    /* F_OBJ whose struct has no config_pos */
	FL_GITURL = 1 << 5,   /* http://, https:// or ssh:// URL */
	FL_FLAT = 1 << 6,     /* F_OBJ of an anonymous struct: the child table's
	                       * offsets are from the parent's base */
	FL_DNS = 1 << 7,      /* a Kubernetes object name (DNS subdomain) */
	FL_SEMVER = 1 << 8,   /* a Masterminds semver constraint */
	FL_FILTER = 1 << 9,   /* also compiles as the policy's tag filter */
	FL_LEN = 1 << 10,     /* F_STR with a length range: minimum in
	                       * elem_size, maximum in count_off */
	FL_HTTPURL = 1 << 11, /* starts with http:// or https:// */
	FL_TEMPLATE = 1 << 12, /* a Flux commit message template */
	/* a path beneath the clone, as fsroot takes it (no "..", relative) */
	FL_RELPATH = 1 << 13,
};

struct field {
	const char *name;
	enum ftype type;
	unsigned flags;
	size_t off;
	size_t count_off;
	size_t elem_size;
	const struct field *child;
	const char *const *enums;
};

#define FSTR(T, n, m, fl)                                                      \
	{                                                                      \
		n, F_STR, fl, offsetof(T, m), 0, 0, NULL, NULL                 \
	}
#define FSTRL(T, n, m, fl, lo, hi)                                             \
	{                                                                      \
		n, F_STR, (fl) | FL_LEN, offsetof(T, m), hi, lo, NULL, NULL    \
	}
#define FBOOLR(T, n, m)                                                        \
	{                                                                      \
		n, F_BOOL, FL_REQ, offsetof(T, m), 0, 0, NULL, NULL            \
	}
#define FENUMLIST(T, n, m, e)                                                  \
	{                                                                      \
		n, F_STRLIST, 0, offsetof(T, m), 0, 0, NULL, e                 \
	}
#define FBOOL(T, n, m)                                                         \
	{                                                                      \
		n, F_BOOL, 0, offsetof(T, m), 0, 0, NULL, NULL                 \
	}
#define FDUR(T, n, m, fl)                                                      \
	{                                                                      \
		n, F_DUR, fl, offsetof(T, m), 0, 0, NULL, NULL                 \
	}
#define FENUM(T, n, m, e, fl)                                                  \
	{                                                                      \
		n, F_ENUM, fl, offsetof(T, m), 0, 0, NULL, e                   \
	}
#define FMAP(T, n, m)                                                          \
	{                                                                      \
		n, F_STRMAP, 0, offsetof(T, m), 0, 0, NULL, NULL               \
	}
#define FLIST(T, n, m, fl)                                                     \
	{                                                                      \
		n, F_STRLIST, fl, offsetof(T, m), 0, 0, NULL, NULL             \
	}
#define FOBJ(T, n, m, c, fl)                                                   \
	{                                                                      \
		n, F_OBJ, fl, offsetof(T, m), 0, 0, c, NULL                    \
	}
#define FOBJLIST(T, n, m, cnt, ET, c, fl)                                      \
	{                                                                      \
		n, F_OBJLIST, fl, offsetof(T, m), offsetof(T, cnt),            \
		        sizeof(ET), c, NULL                                    \
	}
#define FOBJF(T, n, m, c, fl)                                                  \
	{                                                                      \
		n, F_OBJ, (fl) | FL_FLAT, offsetof(T, m), 0, 0, c, NULL        \
	}
#define FIGN(n)                                                                \
	{                                                                      \
		n, F_IGNORE, 0, 0, 0, 0, NULL, NULL                            \
	}
#define FEND                                                                   \
	{                                                                      \
		NULL, F_IGNORE, 0, 0, 0, 0, NULL, NULL                         \
	}

/* Tables are small; a bit per field records what a mapping had. */
#define FIELDS_MAX 64

/* ---- enums ---- */

static const char *const git_providers[] = { "generic", "aws", "azure",
	                                     "github", NULL };
/* "head" is kept by Flux for old objects; it means HEAD */
static const char *const verify_modes[] = { "HEAD", "head", "Tag", "TagAndHEAD",
	                                    NULL };
static const char *const image_providers[] = { "generic", "aws", "azure", "gcp",
	                                       NULL };
static const char *const orders[] = { "asc", "desc", NULL };
static const char *const digest_policies[] = { "Never", "IfNotPresent",
	                                       "Always", NULL };
static const char *const iua_source_kinds[] = { "GitRepository", NULL };
static const char *const ks_source_kinds[] = { "GitRepository", "OCIRepository",
	                                       "Bucket", "ExternalArtifact",
	                                       NULL };
static const char *const signing_types[] = { "gpg", "ssh", NULL };
static const char *const strategies[] = { "Setters", "Kustomization", NULL };
static const char *const selector_ops[] = { "In", "NotIn", "Exists",
	                                    "DoesNotExist", NULL };
static const char *const receiver_types[] = {
	"generic", "generic-hmac", "generic-oidc", "github", "gitlab",
	"bitbucket", "harbor", "dockerhub", "quay", "gcr", "nexus", "acr",
	"cdevents",
	/* ferry's own: CNCF distribution's notifications */
	"distribution", NULL
};
static const char *const receiver_kinds[] = { "Bucket",
	                                      "GitRepository",
	                                      "Kustomization",
	                                      "HelmRelease",
	                                      "HelmChart",
	                                      "HelmRepository",
	                                      "ImageRepository",
	                                      "ImagePolicy",
	                                      "ImageUpdateAutomation",
	                                      "OCIRepository",
	                                      "ArtifactGenerator",
	                                      "ExternalArtifact",
	                                      NULL };
static const char *const decryption_providers[] = { "sops", NULL };
static const char *const deletion_policies[] = { "MirrorPrune", "Delete",
	                                         "WaitForTermination", "Orphan",
	                                         NULL };
static const char *const substitute_kinds[] = { "Secret", "ConfigMap", NULL };
static const char *const substitute_strategies[] = { "WithVariables", "Always",
	                                             NULL };
static const char *const build_metadata_values[] = { "originAnnotations",
	                                             "transformerAnnotations",
	                                             NULL };
/* notification.toolkit.fluxcd.io/v1beta3 Provider types, as Flux lists
 * them; finish_provider() says which of them ferry cannot send. */
static const char *const provider_types[] = {
	"slack",         "discord",         "msteams",   "rocket",
	"generic",       "generic-hmac",    "github",    "gitlab",
	"gitea",         "bitbucketserver", "bitbucket", "azuredevops",
	"googlechat",    "googlepubsub",    "webex",     "sentry",
	"azureeventhub", "telegram",        "lark",      "matrix",
	"opsgenie",      "alertmanager",    "grafana",   "githubdispatch",
	"pagerduty",     "datadog",         "nats",      NULL
};
static const char *const provider_types_sent[] = { "generic", "generic-hmac",
	                                           "slack", "githubdispatch",
	                                           NULL };
static const char *const event_severities[] = { "info", "error", NULL };

/* ---- shared tables ---- */

static const struct field metadata_fields[] = {
	FSTR(struct config_metadata, "name", name, FL_REQ | FL_DNS),
	FSTR(struct config_metadata, "namespace", namespace, FL_DNS),
	FMAP(struct config_metadata, "labels", labels),
	FMAP(struct config_metadata, "annotations", annotations),
	/* set by the API server; present in exported objects */
	FIGN("uid"),
	FIGN("generation"),
	FIGN("creationTimestamp"),
	FIGN("resourceVersion"),
	FIGN("selfLink"),
	FIGN("managedFields"),
	FIGN("finalizers"),
	FIGN("ownerReferences"),
	FIGN("generateName"),
	FIGN("deletionTimestamp"),
	FIGN("deletionGracePeriodSeconds"),
	FEND,
};

static const struct field local_ref_fields[] = {
	FSTR(struct config_local_ref, "name", name, FL_REQ),
	FEND,
};

static const struct field image_repo_ref_fields[] = {
	FSTR(struct config_cross_ref, "name", name, FL_REQ),
	FSTR(struct config_cross_ref, "namespace", namespace, 0),
	FEND,
};

static const struct field iua_source_ref_fields[] = {
	FSTR(struct config_cross_ref, "apiVersion", api_version, 0),
	FENUM(struct config_cross_ref, "kind", kind, iua_source_kinds, 0),
	FSTR(struct config_cross_ref, "name", name, FL_REQ),
	FSTR(struct config_cross_ref, "namespace", namespace, 0),
	FEND,
};

static const struct field ks_source_ref_fields[] = {
	FSTR(struct config_cross_ref, "apiVersion", api_version, 0),
	FENUM(struct config_cross_ref, "kind", kind, ks_source_kinds, FL_REQ),
	FSTR(struct config_cross_ref, "name", name, FL_REQ),
	FSTR(struct config_cross_ref, "namespace", namespace, 0),
	FEND,
};

static const struct field depends_on_fields[] = {
	FSTR(struct config_kustomization_dependency, "name", name, FL_REQ),
	FSTR(struct config_kustomization_dependency, "namespace", namespace, 0),
	FSTR(struct config_kustomization_dependency, "readyExpr", ready_expr,
	     0),
	FEND,
};

static const struct field git_ref_fields[] = {
	FSTR(struct config_git_ref, "branch", branch, 0),
	FSTR(struct config_git_ref, "tag", tag, 0),
	FSTR(struct config_git_ref, "semver", semver, 0),
	FSTR(struct config_git_ref, "name", name, 0),
	FSTR(struct config_git_ref, "commit", commit, 0),
	FEND,
};

static const struct field label_req_fields[] = {
	FSTR(struct config_label_requirement, "key", key, FL_REQ),
	FENUM(struct config_label_requirement, "operator", operator,
	      selector_ops, FL_REQ),
	FLIST(struct config_label_requirement, "values", values, 0),
	FEND,
};

static const struct field selector_fields[] = {
	FMAP(struct config_label_selector, "matchLabels", match_labels),
	FOBJLIST(struct config_label_selector, "matchExpressions",
	         match_expressions, n_match_expressions,
	         struct config_label_requirement, label_req_fields, 0),
	FEND,
};

/* ---- GitRepository ---- */

static const struct field git_verify_fields[] = {
	FENUM(struct config_git_verify, "mode", mode, verify_modes, 0),
	FOBJ(struct config_git_verify, "secretRef", secret_ref,
	     local_ref_fields, FL_REQ),
	FEND,
};

static const struct field git_include_repo_fields[] = {
	FSTR(struct config_cross_ref, "name", name, FL_REQ),
	FEND,
};

static const struct field git_include_fields[] = {
	FOBJ(struct config_git_include, "repository", repository,
	     git_include_repo_fields, FL_REQ),
	FSTR(struct config_git_include, "fromPath", from_path, 0),
	FSTR(struct config_git_include, "toPath", to_path, 0),
	FEND,
};

#define GR struct config_gitrepository
static const struct field gitrepository_spec[] = {
	FSTR(GR, "url", url, FL_REQ | FL_GITURL),
	FOBJ(GR, "secretRef", secret_ref, local_ref_fields, 0),
	FENUM(GR, "provider", provider, git_providers, 0),
	FSTR(GR, "serviceAccountName", service_account_name, 0),
	FDUR(GR, "interval", interval, FL_REQ),
	FDUR(GR, "timeout", timeout, FL_NOH),
	FOBJ(GR, "ref", ref, git_ref_fields, 0),
	FOBJ(GR, "verify", verify, git_verify_fields, 0),
	FOBJ(GR, "proxySecretRef", proxy_secret_ref, local_ref_fields, 0),
	FSTR(GR, "ignore", ignore, 0),
	FBOOL(GR, "suspend", suspend),
	FBOOL(GR, "recurseSubmodules", recurse_submodules),
	FOBJLIST(GR, "include", include, n_include, struct config_git_include,
	         git_include_fields, 0),
	FLIST(GR, "sparseCheckout", sparse_checkout, 0),
	FEND,
};
#undef GR

/* ---- ImageRepository ---- */

static const struct field namespace_selector_fields[] = {
	FMAP(struct config_namespace_selector, "matchLabels", match_labels),
	FEND,
};

#define IR struct config_imagerepository
static const struct field access_from_fields[] = {
	FOBJLIST(IR, "namespaceSelectors", access_from.namespace_selectors,
	         access_from.n_namespace_selectors,
	         struct config_namespace_selector, namespace_selector_fields,
	         FL_REQ),
	FEND,
};

static const struct field imagerepository_spec[] = {
	FSTR(IR, "image", image, FL_REQ | FL_IMAGE),
	FDUR(IR, "interval", interval, FL_REQ),
	FDUR(IR, "timeout", timeout, FL_NOH),
	FOBJ(IR, "secretRef", secret_ref, local_ref_fields, 0),
	FOBJ(IR, "certSecretRef", cert_secret_ref, local_ref_fields, 0),
	FOBJ(IR, "proxySecretRef", proxy_secret_ref, local_ref_fields, 0),
	FSTRL(IR, "serviceAccountName", service_account_name, 0, 0, 253),
	FENUM(IR, "provider", provider, image_providers, 0),
	FBOOL(IR, "insecure", insecure),
	FLIST(IR, "exclusionList", exclusion_list, FL_REGEX),
	FOBJF(IR, "accessFrom", access_from, access_from_fields, 0),
	FBOOL(IR, "suspend", suspend),
	FEND,
};
#undef IR

/* ---- ImagePolicy ---- */

#define IP struct config_imagepolicy
static const struct field semver_fields[] = {
	FSTR(IP, "range", policy.semver.range, FL_REQ | FL_SEMVER),
	FEND,
};

static const struct field order_fields[] = {
	FENUM(struct config_policy_order, "order", order, orders, 0),
	FEND,
};

static const struct field policy_choice_fields[] = {
	FOBJF(IP, "semver", policy.semver, semver_fields, 0),
	FOBJ(IP, "alphabetical", policy.alphabetical, order_fields, 0),
	FOBJ(IP, "numerical", policy.numerical, order_fields, 0),
	FEND,
};

static const struct field filter_tags_fields[] = {
	FSTR(IP, "pattern", filter_tags.pattern, FL_REGEX | FL_FILTER),
	FSTR(IP, "extract", filter_tags.extract, 0),
	FEND,
};

static const struct field imagepolicy_spec[] = {
	FOBJ(IP, "imageRepositoryRef", image_repository_ref,
	     image_repo_ref_fields, FL_REQ),
	FOBJF(IP, "policy", policy, policy_choice_fields, FL_REQ),
	FOBJF(IP, "filterTags", filter_tags, filter_tags_fields, 0),
	FENUM(IP, "digestReflectionPolicy", digest_reflection_policy,
	      digest_policies, 0),
	FDUR(IP, "interval", interval, 0),
	FBOOL(IP, "suspend", suspend),
	FEND,
};
#undef IP

/* ---- ImageUpdateAutomation ---- */

#define IUA struct config_imageupdateautomation
static const struct field checkout_fields[] = {
	FOBJ(IUA, "ref", git.checkout.ref, git_ref_fields, FL_REQ),
	FEND,
};

static const struct field author_fields[] = {
	FSTR(IUA, "email", git.commit.author.email, FL_REQ),
	FSTR(IUA, "name", git.commit.author.name, 0),
	FEND,
};

static const struct field signing_key_fields[] = {
	FOBJ(IUA, "secretRef", git.commit.signing_key.secret_ref,
	     local_ref_fields, FL_REQ),
	FENUM(IUA, "type", git.commit.signing_key.type, signing_types, 0),
	FEND,
};

static const struct field commit_fields[] = {
	FOBJF(IUA, "author", git.commit.author, author_fields, FL_REQ),
	FOBJF(IUA, "signingKey", git.commit.signing_key, signing_key_fields, 0),
	FSTR(IUA, "messageTemplate", git.commit.message_template, FL_TEMPLATE),
	FMAP(IUA, "messageTemplateValues", git.commit.message_template_values),
	FEND,
};

static const struct field push_fields[] = {
	FSTR(IUA, "branch", git.push.branch, 0),
	FSTR(IUA, "refspec", git.push.refspec, 0),
	FMAP(IUA, "options", git.push.options),
	FEND,
};

static const struct field iua_git_fields[] = {
	FOBJF(IUA, "checkout", git.checkout, checkout_fields, 0),
	FOBJF(IUA, "commit", git.commit, commit_fields, FL_REQ),
	FOBJF(IUA, "push", git.push, push_fields, 0),
	FEND,
};

static const struct field update_fields[] = {
	FENUM(IUA, "strategy", update.strategy, strategies, 0),
	FSTR(IUA, "path", update.path, FL_RELPATH),
	FEND,
};

static const struct field imageupdateautomation_spec[] = {
	FOBJ(IUA, "sourceRef", source_ref, iua_source_ref_fields, FL_REQ),
	FOBJF(IUA, "git", git, iua_git_fields, 0),
	FOBJF(IUA, "update", update, update_fields, 0),
	FOBJ(IUA, "policySelector", policy_selector, selector_fields, 0),
	FDUR(IUA, "interval", interval, FL_REQ),
	FBOOL(IUA, "suspend", suspend),
	FEND,
};
#undef IUA

/* ---- Receiver ---- */

#define RC struct config_receiver
static const struct field receiver_resource_fields[] = {
	FSTR(struct config_receiver_resource, "apiVersion", api_version, 0),
	FENUM(struct config_receiver_resource, "kind", kind, receiver_kinds,
	      FL_REQ),
	FSTRL(struct config_receiver_resource, "name", name, FL_REQ, 1, 253),
	FSTRL(struct config_receiver_resource, "namespace", namespace, 0, 1,
	      253),
	FMAP(struct config_receiver_resource, "matchLabels", match_labels),
	FSTR(struct config_receiver_resource, "filter", filter, 0),
	FEND,
};

static const struct field receiver_variable_fields[] = {
	FSTR(struct config_receiver_cel, "name", name, FL_REQ),
	FSTR(struct config_receiver_cel, "expression", expression, FL_REQ),
	FEND,
};

static const struct field receiver_validation_fields[] = {
	FSTR(struct config_receiver_cel, "expression", expression, FL_REQ),
	FSTR(struct config_receiver_cel, "message", message, FL_REQ),
	FEND,
};

#define OP struct config_receiver_oidc_provider
static const struct field receiver_oidc_fields[] = {
	FSTR(OP, "issuerURL", issuer_url, FL_REQ | FL_HTTPURL),
	FSTR(OP, "audience", audience, 0),
	FOBJLIST(OP, "variables", variables, n_variables,
	         struct config_receiver_cel, receiver_variable_fields, 0),
	FOBJLIST(OP, "validations", validations, n_validations,
	         struct config_receiver_cel, receiver_validation_fields,
	         FL_REQ),
	FEND,
};
#undef OP

static const struct field receiver_spec[] = {
	FENUM(RC, "type", type, receiver_types, FL_REQ),
	FDUR(RC, "interval", interval, 0),
	FLIST(RC, "events", events, 0),
	FOBJLIST(RC, "resources", resources, n_resources,
	         struct config_receiver_resource, receiver_resource_fields,
	         FL_REQ),
	FOBJLIST(RC, "oidcProviders", oidc_providers, n_oidc_providers,
	         struct config_receiver_oidc_provider, receiver_oidc_fields, 0),
	FSTR(RC, "resourceFilter", resource_filter, 0),
	FOBJ(RC, "secretRef", secret_ref, local_ref_fields, 0),
	FBOOL(RC, "suspend", suspend),
	FEND,
};
#undef RC

/* ---- Kustomization ---- */

#define KP struct config_kustomization_patch
static const struct field patch_target_fields[] = {
	FSTR(KP, "group", target.group, 0),
	FSTR(KP, "version", target.version, 0),
	FSTR(KP, "kind", target.kind, 0),
	FSTR(KP, "name", target.name, 0),
	FSTR(KP, "namespace", target.namespace, 0),
	FSTR(KP, "annotationSelector", target.annotation_selector, 0),
	FSTR(KP, "labelSelector", target.label_selector, 0),
	FEND,
};

static const struct field ks_patch_fields[] = {
	FSTR(KP, "patch", patch, FL_REQ),
	FOBJF(KP, "target", target, patch_target_fields, 0),
	FEND,
};
#undef KP

static const struct field ks_image_fields[] = {
	FSTR(struct config_kustomization_image, "name", name, FL_REQ),
	FSTR(struct config_kustomization_image, "newName", new_name, 0),
	FSTR(struct config_kustomization_image, "newTag", new_tag, 0),
	FSTR(struct config_kustomization_image, "digest", digest, 0),
	FEND,
};

static const struct field ks_health_fields[] = {
	FSTR(struct config_kustomization_object_ref, "apiVersion", api_version,
	     0),
	FSTR(struct config_kustomization_object_ref, "kind", kind, FL_REQ),
	FSTR(struct config_kustomization_object_ref, "name", name, FL_REQ),
	FSTR(struct config_kustomization_object_ref, "namespace", namespace, 0),
	FEND,
};

static const struct field ks_health_expr_fields[] = {
	FSTR(struct config_kustomization_health_expr, "apiVersion", api_version,
	     FL_REQ),
	FSTR(struct config_kustomization_health_expr, "kind", kind, 0),
	FSTR(struct config_kustomization_health_expr, "current", current,
	     FL_REQ),
	FSTR(struct config_kustomization_health_expr, "inProgress", in_progress,
	     0),
	FSTR(struct config_kustomization_health_expr, "failed", failed, 0),
	FEND,
};

static const struct field ks_subst_from_fields[] = {
	FENUM(struct config_kustomization_substitute_from, "kind", kind,
	      substitute_kinds, FL_REQ),
	FSTRL(struct config_kustomization_substitute_from, "name", name, FL_REQ,
	      1, 253),
	FBOOL(struct config_kustomization_substitute_from, "optional",
	      optional),
	FEND,
};

#define DR struct config_kustomization_ignore_rule
static const struct field ignore_target_fields[] = {
	FSTR(DR, "group", target.group, 0),
	FSTR(DR, "version", target.version, 0),
	FSTR(DR, "kind", target.kind, 0),
	FSTR(DR, "name", target.name, 0),
	FSTR(DR, "namespace", target.namespace, 0),
	FSTR(DR, "annotationSelector", target.annotation_selector, 0),
	FSTR(DR, "labelSelector", target.label_selector, 0),
	FEND,
};

static const struct field ignore_rule_fields[] = {
	FLIST(DR, "paths", paths, FL_REQ),
	FOBJF(DR, "target", target, ignore_target_fields, 0),
	FEND,
};
#undef DR

#define KS struct config_kustomization
static const struct field decryption_fields[] = {
	FENUM(KS, "provider", decryption.provider, decryption_providers,
	      FL_REQ),
	FSTR(KS, "serviceAccountName", decryption.service_account_name, 0),
	FOBJ(KS, "secretRef", decryption.secret_ref, local_ref_fields, 0),
	FEND,
};

static const struct field kube_config_secret_fields[] = {
	FSTR(KS, "name", kube_config.secret_ref.name, FL_REQ),
	FSTR(KS, "key", kube_config.secret_ref.key, 0),
	FEND,
};

static const struct field kube_config_fields[] = {
	FOBJF(KS, "secretRef", kube_config.secret_ref,
	      kube_config_secret_fields, 0),
	FOBJ(KS, "configMapRef", kube_config.config_map_ref, local_ref_fields,
	     0),
	FEND,
};

static const struct field post_build_fields[] = {
	FMAP(KS, "substitute", post_build.substitute),
	FOBJLIST(KS, "substituteFrom", post_build.substitute_from,
	         post_build.n_substitute_from,
	         struct config_kustomization_substitute_from,
	         ks_subst_from_fields, 0),
	FENUM(KS, "substituteStrategy", post_build.substitute_strategy,
	      substitute_strategies, 0),
	FEND,
};

static const struct field common_metadata_fields[] = {
	FMAP(KS, "labels", common_metadata.labels),
	FMAP(KS, "annotations", common_metadata.annotations),
	FEND,
};

static const struct field kustomization_spec[] = {
	FENUMLIST(KS, "buildMetadata", build_metadata, build_metadata_values),
	FOBJLIST(KS, "dependsOn", depends_on, n_depends_on,
	         struct config_kustomization_dependency, depends_on_fields, 0),
	FOBJF(KS, "decryption", decryption, decryption_fields, 0),
	FDUR(KS, "interval", interval, FL_REQ),
	FDUR(KS, "retryInterval", retry_interval, 0),
	FOBJF(KS, "kubeConfig", kube_config, kube_config_fields, 0),
	FSTR(KS, "path", path, 0),
	FOBJF(KS, "postBuild", post_build, post_build_fields, 0),
	FBOOLR(KS, "prune", prune),
	FENUM(KS, "deletionPolicy", deletion_policy, deletion_policies, 0),
	FOBJLIST(KS, "healthChecks", health_checks, n_health_checks,
	         struct config_kustomization_object_ref, ks_health_fields, 0),
	FOBJLIST(KS, "healthCheckExprs", health_check_exprs,
	         n_health_check_exprs, struct config_kustomization_health_expr,
	         ks_health_expr_fields, 0),
	FSTRL(KS, "namePrefix", name_prefix, 0, 1, 200),
	FSTRL(KS, "nameSuffix", name_suffix, 0, 1, 200),
	FOBJLIST(KS, "patches", patches, n_patches,
	         struct config_kustomization_patch, ks_patch_fields, 0),
	FOBJLIST(KS, "images", images, n_images,
	         struct config_kustomization_image, ks_image_fields, 0),
	FLIST(KS, "components", components, 0),
	FBOOL(KS, "ignoreMissingComponents", ignore_missing_components),
	FOBJLIST(KS, "ignore", ignore, n_ignore,
	         struct config_kustomization_ignore_rule, ignore_rule_fields,
	         0),
	FSTR(KS, "serviceAccountName", service_account_name, 0),
	FOBJ(KS, "sourceRef", source_ref, ks_source_ref_fields, FL_REQ),
	FBOOL(KS, "suspend", suspend),
	FSTRL(KS, "targetNamespace", target_namespace, 0, 1, 63),
	FDUR(KS, "timeout", timeout, 0),
	FBOOL(KS, "force", force),
	FBOOL(KS, "wait", wait),
	FOBJF(KS, "commonMetadata", common_metadata, common_metadata_fields, 0),
	FEND,
};
#undef KS

/* ---- Provider and Alert ---- */

#define PV struct config_provider
static const struct field provider_spec[] = {
	FENUM(PV, "type", type, provider_types, FL_REQ),
	FDUR(PV, "interval", interval, 0),
	FSTR(PV, "channel", channel, 0),
	FSTR(PV, "username", username, 0),
	FSTR(PV, "address", address, 0),
	FDUR(PV, "timeout", timeout, FL_NOH),
	FSTR(PV, "proxy", proxy, 0),
	FOBJ(PV, "proxySecretRef", proxy_secret_ref, local_ref_fields, 0),
	FOBJ(PV, "secretRef", secret_ref, local_ref_fields, 0),
	FOBJ(PV, "certSecretRef", cert_secret_ref, local_ref_fields, 0),
	FSTR(PV, "serviceAccountName", service_account_name, 0),
	FSTR(PV, "commitStatusExpr", commit_status_expr, 0),
	FBOOL(PV, "suspend", suspend),
	FEND,
};
#undef PV

#define ES struct config_event_source
static const struct field event_source_fields[] = {
	FSTR(ES, "apiVersion", api_version, 0),
	FENUM(ES, "kind", kind, receiver_kinds, FL_REQ),
	FSTR(ES, "name", name, FL_REQ),
	FSTR(ES, "namespace", namespace, 0),
	FMAP(ES, "matchLabels", match_labels),
	FEND,
};
#undef ES

#define AL struct config_alert
static const struct field alert_spec[] = {
	FOBJ(AL, "providerRef", provider_ref, local_ref_fields, FL_REQ),
	FENUM(AL, "eventSeverity", event_severity, event_severities, 0),
	FOBJLIST(AL, "eventSources", event_sources, n_event_sources,
	         struct config_event_source, event_source_fields, FL_REQ),
	FLIST(AL, "inclusionList", inclusion_list, FL_REGEX),
	FLIST(AL, "exclusionList", exclusion_list, FL_REGEX),
	FMAP(AL, "eventMetadata", event_metadata),
	FSTR(AL, "summary", summary, 0),
	FBOOL(AL, "suspend", suspend),
	FEND,
};
#undef AL

/* ---- the objects ---- */

#define OBJ struct config_object
#define ROOT_COMMON                                                            \
	FIGN("apiVersion"), FIGN("kind"),                                      \
	        FOBJ(OBJ, "metadata", metadata, metadata_fields,               \
	             FL_REQ | FL_NOPOS)
#define ROOT(member, spec_table)                                               \
	{                                                                      \
		ROOT_COMMON, FOBJ(OBJ, "spec", member, spec_table, FL_REQ),    \
		        FIGN("status"), FEND                                   \
	}

static const struct field gitrepository_root[] =
        ROOT(u.gitrepository, gitrepository_spec);
static const struct field imagerepository_root[] =
        ROOT(u.imagerepository, imagerepository_spec);
static const struct field imagepolicy_root[] =
        ROOT(u.imagepolicy, imagepolicy_spec);
static const struct field imageupdateautomation_root[] =
        ROOT(u.imageupdateautomation, imageupdateautomation_spec);
static const struct field receiver_root[] = ROOT(u.receiver, receiver_spec);
static const struct field kustomization_root[] =
        ROOT(u.kustomization, kustomization_spec);
static const struct field provider_root[] = ROOT(u.provider, provider_spec);
static const struct field alert_root[] = ROOT(u.alert, alert_spec);
static const struct field secret_root[] = {
	ROOT_COMMON,
	FSTR(OBJ, "type", u.secret.type, 0),
	FBOOL(OBJ, "immutable", u.secret.immutable),
	{ "data", F_SECRETS64, 0, offsetof(OBJ, u.secret.data),
	  offsetof(OBJ, u.secret.n_data), 0, NULL, NULL },
	{ "stringData", F_SECRETS, 0, offsetof(OBJ, u.secret.string_data),
	  offsetof(OBJ, u.secret.n_string_data), 0, NULL, NULL },
	FEND,
};
#include "argocd_tables.h"
#undef OBJ

static const struct field *const root_tables[CONFIG_KIND_COUNT] = {
	[CONFIG_GITREPOSITORY] = gitrepository_root,
	[CONFIG_IMAGEREPOSITORY] = imagerepository_root,
	[CONFIG_IMAGEPOLICY] = imagepolicy_root,
	[CONFIG_IMAGEUPDATEAUTOMATION] = imageupdateautomation_root,
	[CONFIG_RECEIVER] = receiver_root,
	[CONFIG_KUSTOMIZATION] = kustomization_root,
	[CONFIG_SECRET] = secret_root,
	[CONFIG_PROVIDER] = provider_root,
	[CONFIG_ALERT] = alert_root,
	[CONFIG_IMAGEUPDATER] = imageupdater_root,
	[CONFIG_APPLICATION] = application_root,
};

/* ---- the decoder ---- */

struct dctx {
	struct config *cfg;
	yaml_document_t *doc;
	const char *file;
	const char *object;
	struct buf path; /* the field path of the node being decoded */
	size_t ndiags;
	enum config_kind kind;
};

/*
 * Fields ferry reads (Flux's API has them, so they are not errors) but
 * does not act on: each one present in a document becomes a notice, so
 * nothing is ignored silently.  "[]" in a path stands for any index.
 * Kustomizations are not listed field by field: ferry's reconciler
 * refuses what it cannot apply (core/pipeline/sync.c), and one without
 * ferry.io/ annotations is left to Flux (one notice per object, see
 * finish_kustomization).
 */
struct inert_field {
	enum config_kind kind;
	const char *path;
	const char *why;
};

static const struct inert_field inert_fields[] = {
	{ CONFIG_GITREPOSITORY, "spec.serviceAccountName",
	  "ferry does not use Kubernetes service accounts" },
	{ CONFIG_GITREPOSITORY, "spec.timeout",
	  "Git operations are not bounded by this timeout" },
	{ CONFIG_GITREPOSITORY, "spec.verify",
	  "ferry does not verify commit or tag signatures of the source" },
	{ CONFIG_GITREPOSITORY, "spec.proxySecretRef",
	  "ferry does not use a proxy for Git" },
	{ CONFIG_GITREPOSITORY, "spec.ignore",
	  "ferry edits the clone, it does not build an artifact" },
	{ CONFIG_GITREPOSITORY, "spec.recurseSubmodules",
	  "submodules are not cloned" },
	{ CONFIG_GITREPOSITORY, "spec.include",
	  "other repositories are not included in the clone" },
	{ CONFIG_GITREPOSITORY, "spec.sparseCheckout",
	  "the whole tree is checked out" },
	{ CONFIG_IMAGEREPOSITORY, "spec.serviceAccountName",
	  "ferry does not read image pull secrets of service accounts (use spec.secretRef)" },
	{ CONFIG_IMAGEREPOSITORY, "spec.proxySecretRef",
	  "ferry does not use a proxy for registries" },
	{ CONFIG_IMAGEREPOSITORY, "spec.accessFrom.namespaceSelectors",
	  "ferry has no Namespace labels: any accessFrom lets policies of every namespace in" },
	{ CONFIG_IMAGEUPDATEAUTOMATION, "spec.git.push.options",
	  "Debian 12's libgit2 cannot send push options; they are logged and dropped" },
	{ CONFIG_RECEIVER, "spec.oidcProviders",
	  "ferry does not verify OIDC tokens: it answers every request to a generic-oidc Receiver with 400" },
	{ CONFIG_RECEIVER, "spec.resourceFilter",
	  "CEL filters are not evaluated: every listed resource is triggered" },
	{ CONFIG_RECEIVER, "spec.resources[].filter",
	  "CEL filters are not evaluated: the resource is triggered" },
};

/* pattern's "[]" matches "[N]" in path; everything else byte for byte. */
static bool
inert_path_matches(const char *pattern, const char *path)
{
	while (*pattern && *path) {
		if (pattern[0] == '[' && pattern[1] == ']' && *path == '[') {
			path++;
			while (*path >= '0' && *path <= '9')
				path++;
			if (*path != ']')
				return false;
			pattern += 2;
			path++;
			continue;
		}
		if (*pattern++ != *path++)
			return false;
	}
	return *pattern == '\0' && *path == '\0';
}

static void
note_inert(struct dctx *c, const yaml_node_t *node)
{
	if (!buf_ok(&c->path))
		return;
	for (size_t i = 0; i < sizeof(inert_fields) / sizeof(inert_fields[0]);
	     i++) {
		const struct inert_field *f = &inert_fields[i];

		if (f->kind != c->kind ||
		    !inert_path_matches(f->path, c->path.ptr))
			continue;
		config_notice_add(
		        c->cfg, c->file, (int)node->start_mark.line + 1,
		        (int)node->start_mark.column + 1, c->object,
		        c->path.ptr, "accepted, not acted on: %s", f->why);
		return;
	}
}

static void __attribute__((format(printf, 3, 4)))
diag(struct dctx *c, const yaml_node_t *node, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	config_diag_addv(c->cfg, c->file, (int)node->start_mark.line + 1,
	                 (int)node->start_mark.column + 1, c->object,
	                 buf_ok(&c->path) ? c->path.ptr : "", fmt, ap);
	va_end(ap);
	c->ndiags++;
}

static size_t
path_push(struct dctx *c, const char *name)
{
	size_t save = c->path.len;

	if (c->path.len > 0)
		buf_putc(&c->path, '.');
	buf_puts(&c->path, name);
	return save;
}

static void
path_pop(struct dctx *c, size_t save)
{
	if (buf_ok(&c->path))
		buf_truncate(&c->path, save);
}

enum sclass { SC_NULL, SC_BOOL_TRUE, SC_BOOL_FALSE, SC_NUMBER, SC_STRING };

static bool
word_in(const char *s, size_t len, const char *const *words)
{
	for (; *words; words++)
		if (strlen(*words) == len && memcmp(*words, s, len) == 0)
			return true;
	return false;
}

static bool
is_number(const char *s, size_t len)
{
	size_t i = 0, digits = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+'))
		i++;
	if (len - i > 2 && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'o'))
		return true;
	for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
		digits++;
	if (i < len && s[i] == '.')
		for (i++; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (digits == 0)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		size_t d = 0;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		for (; i < len && s[i] >= '0' && s[i] <= '9'; i++)
			d++;
		if (d == 0)
			return false;
	}
	return i == len;
}

/* How Kubernetes' YAML 1.1 reader sees a scalar. */
static enum sclass
scalar_class(const yaml_node_t *n)
{
	static const char *const nulls[] = { "",     "~",    "null",
		                             "Null", "NULL", NULL };
	/* YAML 1.1 words, without y and n: `kind: Y` stays a string */
	static const char *const trues[] = { "true", "True", "TRUE", "yes",
		                             "Yes",  "YES",  "on",   "On",
		                             "ON",   NULL };
	static const char *const falses[] = { "false", "False", "FALSE", "no",
		                              "No",    "NO",    "off",   "Off",
		                              "OFF",   NULL };
	static const char *const specials[] = { ".inf",  ".Inf",  ".INF",
		                                "-.inf", "-.Inf", "-.INF",
		                                "+.inf", ".nan",  ".NaN",
		                                ".NAN",  NULL };
	const char *s = (const char *)n->data.scalar.value;
	size_t len = n->data.scalar.length;

	if (n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return SC_STRING;
	if (word_in(s, len, nulls))
		return SC_NULL;
	if (word_in(s, len, trues))
		return SC_BOOL_TRUE;
	if (word_in(s, len, falses))
		return SC_BOOL_FALSE;
	if (is_number(s, len) || word_in(s, len, specials))
		return SC_NUMBER;
	return SC_STRING;
}

static const char *
node_type_name(const yaml_node_t *n)
{
	switch (n->type) {
	case YAML_MAPPING_NODE:
		return "a mapping";
	case YAML_SEQUENCE_NODE:
		return "a list";
	case YAML_SCALAR_NODE:
		switch (scalar_class(n)) {
		case SC_NULL:
			return "null";
		case SC_BOOL_TRUE:
		case SC_BOOL_FALSE:
			return "a boolean";
		case SC_NUMBER:
			return "a number";
		default:
			return "a string";
		}
	default:
		return "nothing";
	}
}

static bool
is_null(const yaml_node_t *n)
{
	return n->type == YAML_SCALAR_NODE && scalar_class(n) == SC_NULL;
}

/*
 * Checks that n is a string scalar and returns a copy (NULL after a
 * diagnostic).  The message never quotes the value (it may be a secret).
 */
static char *
take_string(struct dctx *c, const yaml_node_t *n)
{
	const char *s;
	size_t len;
	enum sclass k;

	if (n->type != YAML_SCALAR_NODE) {
		diag(c, n, "expected a string, found %s", node_type_name(n));
		return NULL;
	}
	k = scalar_class(n);
	if (k == SC_BOOL_TRUE || k == SC_BOOL_FALSE || k == SC_NUMBER) {
		diag(c, n, "expected a string, found %s (put it in quotes)",
		     node_type_name(n));
		return NULL;
	}
	s = (const char *)n->data.scalar.value;
	len = n->data.scalar.length;
	if (memchr(s, '\0', len)) {
		diag(c, n, "string contains a NUL byte");
		return NULL;
	}
	return config_strdup(c->cfg, s, len);
}

/* ---- value checks ---- */

/*
 * Flux's pattern for intervals, ^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$, and for
 * most timeouts the same without h.
 */
static bool
flux_duration_ok(const char *s, bool allow_h)
{
	size_t i = 0;

	if (*s == '\0')
		return false;
	while (s[i]) {
		size_t d = 0;

		while (s[i] >= '0' && s[i] <= '9')
			i++, d++;
		if (d == 0)
			return false;
		if (s[i] == '.') {
			i++;
			d = 0;
			while (s[i] >= '0' && s[i] <= '9')
				i++, d++;
			if (d == 0)
				return false;
		}
		if (s[i] == 'm' && s[i + 1] == 's')
			i += 2;
		else if (s[i] == 's' || s[i] == 'm' || (allow_h && s[i] == 'h'))
			i++;
		else
			return false;
	}
	return true;
}

/*
 * A Go regular expression, checked exactly as the scanner and the policy
 * compile it (base/regex.h): PCRE2's syntax errors, and the syntax Go's
 * RE2 lacks (lookaround, backreferences, atomic groups, ...), which Flux
 * would refuse.
 */
static void
check_regex(struct dctx *c, const yaml_node_t *n, const char *re)
{
	struct regex *code = NULL;
	struct err e = ERR_INIT;

	if (regex_new(&code, re, strlen(re), &e) < 0) {
		if (e.code == ERR_NOMEM)
			c->cfg->nomem = true;
		else
			diag(c, n, "%s", e.msg);
	}
	regex_free(code);
}

static void
check_image(struct dctx *c, const yaml_node_t *n, const char *image)
{
	const char *slash = strrchr(image, '/');
	const char *last = slash ? slash + 1 : image;

	if (*image == '\0') {
		diag(c, n, "image is empty (write it as 'ghcr.io/org/app')");
		return;
	}
	if (strstr(image, "://")) {
		diag(c, n,
		     "image '%s' must not include a URL scheme (write 'registry/repo', without 'https://')",
		     image);
		return;
	}
	for (const char *p = image; *p; p++) {
		if ((unsigned char)*p <= ' ' || *p == 0x7f) {
			diag(c, n, "image '%s' contains whitespace", image);
			return;
		}
	}
	if (strchr(image, '@')) {
		diag(c, n,
		     "image '%s' must not include a digest (the ImagePolicy selects tags)",
		     image);
		return;
	}
	if (strchr(last, ':'))
		diag(c, n,
		     "image '%s' must not include a tag (the ImagePolicy selects it; remove ':%s')",
		     image, strchr(last, ':') + 1);
}

static void
check_git_url(struct dctx *c, const yaml_node_t *n, const char *url)
{
	/* ferry also takes file:// URLs and absolute paths (local bare
	 * repositories), which Flux's API server rejects. */
	if (strncmp(url, "http://", 7) != 0 &&
	    strncmp(url, "https://", 8) != 0 &&
	    strncmp(url, "ssh://", 6) != 0 && strncmp(url, "file://", 7) != 0 &&
	    url[0] != '/')
		diag(c, n,
		     "url must start with http://, https://, ssh:// or file:// (for scp-like 'git@host:org/repo' write 'ssh://git@host/org/repo')");
}

/*
 * Kubernetes names are DNS subdomains (RFC 1123): lower-case letters,
 * digits, '-' and '.', starting and ending alphanumeric, at most 253.
 */
static void
check_dns_name(struct dctx *c, const yaml_node_t *n, const char *s)
{
	size_t len = strlen(s);
	bool ok = len > 0 && len <= 253;

	for (size_t i = 0; ok && i < len; i++) {
		char ch = s[i];
		bool alnum =
		        (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');

		if (!alnum &&
		    ((ch != '-' && ch != '.') || i == 0 || i == len - 1))
			ok = false;
	}
	if (!ok)
		diag(c, n,
		     "'%s' is not a valid name (lower-case letters, digits, '-' and '.', at most 253, starting and ending with a letter or digit)",
		     s);
}

/* The editors' own rule (fsroot.h), so validate and run agree: nothing
 * outside the clone is ever named. */
static void
check_relpath(struct dctx *c, const yaml_node_t *n, const char *path)
{
	struct err e = ERR_INIT;

	if (fsroot_path_check(path, &e) < 0)
		diag(c, n, "%s; it names a directory inside the repository",
		     e.msg);
}

/* The same parser the policy runs with, so validate and run agree. */
static void
check_semver(struct dctx *c, const yaml_node_t *n, const char *range)
{
	struct semver_constraint *sc = NULL;
	struct err e = ERR_INIT;

	if (range[0] == '\0') {
		diag(c, n, "range is empty (for example '>=1.0.0')");
		return;
	}
	if (semver_constraint_new(&sc, range, strlen(range), &e) < 0) {
		if (e.code == ERR_NOMEM)
			c->cfg->nomem = true;
		else
			diag(c, n, "invalid semver range '%s': %s", range,
			     e.msg);
	}
	semver_constraint_free(sc);
}

/*
 * A commit message template as the automation will render it: parsed
 * with Flux's functions, then run once on a sample change, so that what
 * fails every run (a syntax error, the removed v1beta1 .Updated or
 * .Changed.ImageResult) is reported now, not by the first plan.
 */
static void
check_template(struct dctx *c, const yaml_node_t *n, const char *src)
{
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *v = NULL;
	struct wb_changes changes = WB_CHANGES_INIT;
	struct wb_change ch;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	int rc;

	memset(&ch, 0, sizeof(ch));
	ch.file = (char *)"deploy/app.yaml";
	ch.line = 1;
	ch.api_version = (char *)"apps/v1";
	ch.kind = (char *)"Deployment";
	ch.namespace_ = (char *)"default";
	ch.name = (char *)"app";
	ch.old_value = (char *)"registry.example.com/app:1.0.0";
	ch.new_value = (char *)"registry.example.com/app:1.1.0";
	ch.setter = (char *)"default:app";
	if ((rc = template_parse(&t, src, strlen(src), true, &e)) < 0) {
		if (rc == -ERR_NOMEM)
			c->cfg->nomem = true;
		else
			diag(c, n, "the template does not parse: %s", e.msg);
		goto out;
	}
	if (wb_changes_add(&changes, &ch) < 0 || template_data_new(&d) < 0 ||
	    template_model_flux(d, "default", "automation", &changes, NULL, 0,
	                        &v, &e) < 0) {
		c->cfg->nomem = true;
		goto out;
	}
	rc = template_execute(t, v, &out, &e);
	if (rc == -ERR_INVALID)
		diag(c, n,
		     "the template fails on a sample change, as it would on "
		     "every run: %s",
		     e.msg);
out:
	buf_release(&out);
	template_data_free(d);
	template_free(t);
	wb_changes_release(&changes);
}

/* Whatever else the policy's filter refuses (its length limit, ...). */
static void
check_filter(struct dctx *c, const yaml_node_t *n, const char *pattern)
{
	struct filter *f = NULL;
	struct err e = ERR_INIT;

	if (filter_new(&f, pattern, strlen(pattern), NULL, 0, &e) < 0) {
		if (e.code == ERR_NOMEM)
			c->cfg->nomem = true;
		else
			diag(c, n, "%s", e.msg);
	}
	filter_free(f);
}

/*
 * An ImageRepository's provider aws, azure or gcp asks Flux to trade the
 * cloud identity of its pod for a registry token.  ferry has no such
 * identity to trade, and a plain request would be refused or, worse,
 * answered as anonymous: refuse it, and say what works.
 */
static void
check_image_provider(struct dctx *c, const yaml_node_t *n, const char *p)
{
	static const struct {
		const char *provider, *how;
	} how[] = {
		{ "aws",
		  "for ECR: 'aws ecr get-login-password' as the password of user AWS" },
		{ "azure",
		  "for ACR: 'az acr login --name REGISTRY --expose-token' as the password of user 00000000-0000-0000-0000-000000000000" },
		{ "gcp",
		  "for GCR and Artifact Registry: 'gcloud auth print-access-token' as the password of user oauth2accesstoken" },
	};

	for (size_t i = 0; i < sizeof(how) / sizeof(how[0]); i++)
		if (strcmp(p, how[i].provider) == 0)
			diag(c, n,
			     "provider '%s' is not supported: ferry cannot trade a cloud identity for a registry token; use provider: generic and a spec.secretRef to a docker-registry Secret holding a token (%s)",
			     p, how[i].how);
}

/* true when s is one of enums; otherwise a diagnostic listing them. */
static bool
check_enum(struct dctx *c, const yaml_node_t *n, const char *const *enums,
           const char *s)
{
	struct buf list = BUF_INIT;

	if (word_in(s, strlen(s), enums))
		return true;
	for (const char *const *w = enums; *w; w++)
		buf_addf(&list, "%s%s",
		         w == enums ? ""
		         : w[1]     ? ", "
		                    : " or ",
		         *w);
	diag(c, n, "'%s' is not valid (use %s)", s,
	     buf_ok(&list) ? list.ptr : "");
	buf_release(&list);
	return false;
}

static void
check_string(struct dctx *c, const yaml_node_t *n, const struct field *f,
             const char *s)
{
	size_t before = c->ndiags;

	/* Flux's minLength / maxLength (in bytes, as the API server counts
	 * UTF-8 characters only for multibyte text ferry never sees here) */
	if ((f->flags & FL_LEN) && strlen(s) < f->elem_size)
		diag(c, n, "must not be empty");
	else if ((f->flags & FL_LEN) && strlen(s) > f->count_off)
		diag(c, n, "is %zu characters long (at most %zu)", strlen(s),
		     f->count_off);
	if ((f->flags & FL_HTTPURL) && strncmp(s, "http://", 7) != 0 &&
	    strncmp(s, "https://", 8) != 0)
		diag(c, n, "must start with http:// or https://");

	if (f->flags & FL_DNS)
		check_dns_name(c, n, s);
	if (f->flags & FL_SEMVER)
		check_semver(c, n, s);
	if (f->flags & FL_REGEX)
		check_regex(c, n, s);
	/* after check_regex, which names the usual mistakes better */
	if ((f->flags & FL_FILTER) && c->ndiags == before)
		check_filter(c, n, s);
	if (f->flags & FL_IMAGE)
		check_image(c, n, s);
	if (f->flags & FL_GITURL)
		check_git_url(c, n, s);
	if (f->flags & FL_RELPATH)
		check_relpath(c, n, s);
	if (f->flags & FL_TEMPLATE)
		check_template(c, n, s);
}

/* ---- decoding ---- */

static void decode_map(struct dctx *c, const yaml_node_t *n, void *base,
                       const struct field *tab);

static void *
grow(struct dctx *c, size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size);

	if (p == NULL)
		c->cfg->nomem = true;
	return p;
}

static void
decode_strlist(struct dctx *c, const yaml_node_t *n, const struct field *f,
               struct config_strlist *out)
{
	size_t count = (size_t)(n->data.sequence.items.top -
	                        n->data.sequence.items.start);

	out->items = grow(c, count, sizeof(char *));
	if (out->items == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		yaml_node_t *item = yaml_document_get_node(
		        c->doc, n->data.sequence.items.start[i]);
		char idx[32];
		size_t save = c->path.len;
		char *s;

		snprintf(idx, sizeof(idx), "[%zu]", i);
		buf_puts(&c->path, idx);
		if (item && (s = take_string(c, item)) != NULL) {
			if (f->enums && !check_enum(c, item, f->enums, s)) {
				free(s);
			} else {
				out->items[out->n++] = s;
				check_string(c, item, f, s);
			}
		}
		path_pop(c, save);
	}
}

/* Kubernetes map[string]string (labels, annotations, substitute, ...). */
static void
decode_strmap(struct dctx *c, const yaml_node_t *n, struct config_strmap *out)
{
	size_t count = (size_t)(n->data.mapping.pairs.top -
	                        n->data.mapping.pairs.start);

	out->keys = grow(c, count, sizeof(char *));
	out->values = grow(c, count, sizeof(char *));
	if (out->keys == NULL || out->values == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		char *ks, *vs;
		size_t save;

		if (k == NULL || v == NULL)
			continue;
		if ((ks = take_string(c, k)) == NULL)
			continue;
		save = path_push(c, ks);
		if (config_strmap_get(out, ks) != NULL) {
			diag(c, k, "duplicate key '%s'", ks);
			free(ks);
		} else if ((vs = take_string(c, v)) == NULL) {
			free(ks);
		} else {
			out->keys[out->n] = ks;
			out->values[out->n++] = vs;
		}
		path_pop(c, save);
	}
}

/*
 * One value of Secret data (base64) or stringData into out.  false after a
 * diagnostic, which names the key, never the value.
 */
static bool
decode_secret_value(struct dctx *c, const yaml_node_t *v, const struct field *f,
                    const char *key, struct secret *out)
{
	struct buf dec = BUF_INIT;
	struct err e = ERR_INIT;
	bool ok = false;

	if (v->type != YAML_SCALAR_NODE ||
	    (scalar_class(v) != SC_STRING && scalar_class(v) != SC_NULL)) {
		diag(c, v, "the value of key '%s' must be a string", key);
		goto out;
	}
	if (f->type == F_SECRETS) {
		if (v->data.scalar.length > 0 &&
		    secret_set(out, v->data.scalar.value,
		               v->data.scalar.length) < 0)
			c->cfg->nomem = true;
		ok = true;
		goto out;
	}
	/* room for the whole result up front: a realloc would leave a copy */
	if (buf_grow(&dec, v->data.scalar.length + 1) < 0) {
		c->cfg->nomem = true;
		goto out;
	}
	if (base64_decode(&dec, (const char *)v->data.scalar.value,
	                  v->data.scalar.length, &e) < 0) {
		diag(c, v,
		     "the value of key '%s' is not valid base64 (put plain text under stringData instead)",
		     key);
		goto out;
	}
	if (dec.len > 0 && secret_set(out, dec.ptr, dec.len) < 0)
		c->cfg->nomem = true;
	ok = true;
out:
	if (dec.cap > 0)
		secret_wipe(dec.ptr, dec.cap);
	buf_release(&dec);
	return ok;
}

/* Secret data / stringData: the values go into struct secret only. */
static void
decode_secrets(struct dctx *c, const yaml_node_t *n, const struct field *f,
               void *base)
{
	struct config_secret_entry **entries =
	        (struct config_secret_entry **)((char *)base + f->off);
	size_t *count_out = (size_t *)((char *)base + f->count_off);
	size_t count = (size_t)(n->data.mapping.pairs.top -
	                        n->data.mapping.pairs.start);

	*entries = grow(c, count, sizeof(**entries));
	if (*entries == NULL)
		return;
	for (size_t i = 0; i < count; i++) {
		yaml_node_pair_t *p = &n->data.mapping.pairs.start[i];
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		struct config_secret_entry *ent = &(*entries)[*count_out];
		bool dup = false;
		char *ks;
		size_t save;

		if (k == NULL || v == NULL || (ks = take_string(c, k)) == NULL)
			continue;
		save = path_push(c, ks);
		for (size_t j = 0; j < *count_out; j++)
			if (strcmp((*entries)[j].key, ks) == 0)
				dup = true;
		if (dup)
			diag(c, k, "duplicate key '%s'", ks);
		if (!dup && decode_secret_value(c, v, f, ks, &ent->value)) {
			ent->key = ks;
			ks = NULL;
			(*count_out)++;
		}
		free(ks);
		path_pop(c, save);
	}
}

static void
decode_field(struct dctx *c, const yaml_node_t *v, void *base,
             const struct field *f)
{
	void *at = (char *)base + f->off;
	char *s = NULL;

	switch (f->type) {
	case F_IGNORE:
		return;
	case F_STR:
		if ((s = take_string(c, v)) == NULL)
			return;
		*(char **)at = s;
		check_string(c, v, f, s);
		return;
	case F_ENUM:
		if ((s = take_string(c, v)) == NULL)
			return;
		if (!check_enum(c, v, f->enums, s)) {
			free(s);
			return;
		}
		if (f->enums == image_providers)
			check_image_provider(c, v, s);
		*(char **)at = s;
		return;
	case F_DUR: {
		struct err e = ERR_INIT;
		bool allow_h = !(f->flags & FL_NOH);

		if ((s = take_string(c, v)) == NULL)
			return;
		if (!flux_duration_ok(s, allow_h))
			diag(c, v,
			     "invalid duration '%s' (digits with a unit of %s, for example 1m30s)",
			     s, allow_h ? "ms, s, m or h" : "ms, s or m");
		else if (parse_duration(s, strlen(s), (int64_t *)at, &e) < 0)
			diag(c, v, "%s", e.msg);
		free(s);
		return;
	}
	case F_BOOL:
	case F_OPTBOOL: {
		enum sclass k = v->type == YAML_SCALAR_NODE ? scalar_class(v)
		                                            : SC_STRING;

		if (v->type != YAML_SCALAR_NODE ||
		    (k != SC_BOOL_TRUE && k != SC_BOOL_FALSE)) {
			diag(c, v, "expected true or false, found %s",
			     node_type_name(v));
			return;
		}
		if (f->type == F_OPTBOOL)
			*(enum config_optbool *)at =
			        k == SC_BOOL_TRUE ? CONFIG_TRUE : CONFIG_FALSE;
		else
			*(bool *)at = k == SC_BOOL_TRUE;
		return;
	}
	default:
		break;
	}
	/* the rest are collections */
	switch (f->type) {
	case F_STRLIST:
		if (v->type != YAML_SEQUENCE_NODE) {
			diag(c, v, "expected a list of strings, found %s",
			     node_type_name(v));
			return;
		}
		decode_strlist(c, v, f, at);
		return;
	case F_STRMAP:
		if (v->type != YAML_MAPPING_NODE) {
			diag(c, v, "expected a mapping of strings, found %s",
			     node_type_name(v));
			return;
		}
		decode_strmap(c, v, at);
		return;
	case F_SECRETS:
	case F_SECRETS64:
		if (v->type != YAML_MAPPING_NODE) {
			diag(c, v,
			     "expected a mapping of keys to values, found %s",
			     node_type_name(v));
			return;
		}
		decode_secrets(c, v, f, base);
		return;
	case F_OBJ:
		if (v->type != YAML_MAPPING_NODE) {
			diag(c, v, "expected a mapping, found %s",
			     node_type_name(v));
			return;
		}
		if (!(f->flags & FL_NOPOS)) {
			struct config_pos *pos = at;

			pos->set = true;
			pos->line = (int)v->start_mark.line + 1;
			pos->column = (int)v->start_mark.column + 1;
		}
		decode_map(c, v, (f->flags & FL_FLAT) ? base : at, f->child);
		return;
	case F_OBJLIST: {
		size_t count;
		char *arr;

		if (v->type != YAML_SEQUENCE_NODE) {
			diag(c, v, "expected a list, found %s",
			     node_type_name(v));
			return;
		}
		count = (size_t)(v->data.sequence.items.top -
		                 v->data.sequence.items.start);
		if ((arr = grow(c, count, f->elem_size)) == NULL)
			return;
		*(void **)at = arr;
		*(size_t *)((char *)base + f->count_off) = count;
		for (size_t i = 0; i < count; i++) {
			yaml_node_t *item = yaml_document_get_node(
			        c->doc, v->data.sequence.items.start[i]);
			char idx[32];
			size_t save = c->path.len;

			snprintf(idx, sizeof(idx), "[%zu]", i);
			buf_puts(&c->path, idx);
			if (item == NULL) {
			} else if (item->type != YAML_MAPPING_NODE) {
				diag(c, item, "expected a mapping, found %s",
				     node_type_name(item));
			} else {
				decode_map(c, item, arr + i * f->elem_size,
				           f->child);
			}
			path_pop(c, save);
		}
		return;
	}
	default:
		return;
	}
}

static void
decode_map(struct dctx *c, const yaml_node_t *n, void *base,
           const struct field *tab)
{
	uint64_t seen = 0, set = 0;
	size_t nfields = 0;

	/* every table is far below FIELDS_MAX; the bound keeps shifts defined
	 */
	while (tab[nfields].name && nfields < FIELDS_MAX)
		nfields++;
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start;
	     p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *name;
		size_t i, save;

		if (k == NULL || v == NULL)
			continue;
		if (k->type != YAML_SCALAR_NODE) {
			diag(c, k, "a field name must be a string, found %s",
			     node_type_name(k));
			continue;
		}
		name = (const char *)k->data.scalar.value;
		for (i = 0; i < nfields; i++)
			if (strlen(tab[i].name) == k->data.scalar.length &&
			    memcmp(tab[i].name, name, k->data.scalar.length) ==
			            0)
				break;
		save = path_push(c, "");
		buf_add(&c->path, name, strnlen(name, k->data.scalar.length));
		if (i == nfields) {
			diag(c, k, "unknown field '%.*s'",
			     (int)strnlen(name, k->data.scalar.length), name);
		} else if (seen & ((uint64_t)1 << i)) {
			diag(c, k, "field given twice");
		} else {
			seen |= (uint64_t)1 << i;
			if (!is_null(v) || tab[i].type == F_IGNORE) {
				set |= (uint64_t)1 << i;
				decode_field(c, v, base, &tab[i]);
				note_inert(c, k);
			}
		}
		path_pop(c, save);
	}
	for (size_t i = 0; i < nfields; i++) {
		size_t save;

		if (!(tab[i].flags & FL_REQ) || (set & ((uint64_t)1 << i)))
			continue;
		save = path_push(c, tab[i].name);
		diag(c, n, "required field is missing");
		path_pop(c, save);
	}
}

/* ---- freeing ---- */

static void
strlist_release(struct config_strlist *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->items[i]);
	free(l->items);
	memset(l, 0, sizeof(*l));
}

static void
strmap_release(struct config_strmap *m)
{
	for (size_t i = 0; i < m->n; i++) {
		free(m->keys[i]);
		free(m->values[i]);
	}
	free(m->keys);
	free(m->values);
	memset(m, 0, sizeof(*m));
}

static void
release_fields(void *base, const struct field *tab)
{
	for (const struct field *f = tab; f->name; f++) {
		void *at = (char *)base + f->off;

		switch (f->type) {
		case F_STR:
		case F_ENUM:
			free(*(char **)at);
			*(char **)at = NULL;
			break;
		case F_STRLIST:
			strlist_release(at);
			break;
		case F_STRMAP:
			strmap_release(at);
			break;
		case F_OBJ:
			release_fields((f->flags & FL_FLAT) ? base : at,
			               f->child);
			break;
		case F_OBJLIST: {
			char *arr = *(char **)at;
			size_t *count = (size_t *)((char *)base + f->count_off);

			for (size_t i = 0; arr && i < *count; i++)
				release_fields(arr + i * f->elem_size,
				               f->child);
			free(arr);
			*(char **)at = NULL;
			*count = 0;
			break;
		}
		case F_SECRETS:
		case F_SECRETS64: {
			struct config_secret_entry *e =
			        *(struct config_secret_entry **)at;
			size_t *count = (size_t *)((char *)base + f->count_off);

			for (size_t i = 0; e && i < *count; i++) {
				free(e[i].key);
				secret_release(&e[i].value);
			}
			free(e);
			*(void **)at = NULL;
			*count = 0;
			break;
		}
		default:
			break;
		}
	}
}

void
schema_object_release(struct config_object *obj)
{
	if (obj == NULL || (unsigned)obj->kind >= CONFIG_KIND_COUNT)
		return;
	argocd_object_release(obj);
	release_fields(obj, root_tables[obj->kind]);
	free(obj->api_version);
	obj->api_version = NULL;
}

/* ---- defaults and checks across the fields of one object ---- */

static char *
default_str(struct dctx *c, char **at, const char *value)
{
	if (*at == NULL)
		*at = config_strdup(c->cfg, value, strlen(value));
	return *at;
}

static void __attribute__((format(printf, 4, 5)))
diag_at(struct dctx *c, const struct config_pos *pos, const char *path,
        const char *fmt, ...)
{
	va_list ap;
	const struct config_pos *p = pos;
	struct config_pos none = { false, 0, 0 };

	if (p == NULL || !p->set)
		p = &none;
	va_start(ap, fmt);
	config_diag_addv(c->cfg, c->file, p->line, p->column, c->object, path,
	                 fmt, ap);
	va_end(ap);
	c->ndiags++;
}

static void
finish_gitrepository(struct dctx *c, struct config_object *o)
{
	struct config_gitrepository *g = &o->u.gitrepository;
	struct config_git_ref *r = &g->ref;

	if (g->service_account_name &&
	    (g->provider == NULL || (strcmp(g->provider, "azure") != 0 &&
	                             strcmp(g->provider, "aws") != 0)))
		diag_at(c, &g->pos, "spec.serviceAccountName",
		        "can only be set when provider is 'azure' or 'aws'");
	default_str(c, &g->provider, "generic");
	if (g->timeout == 0)
		g->timeout = (int64_t)60 * 1000000000;
	if (!r->branch && !r->tag && !r->semver && !r->name && !r->commit)
		default_str(c, &r->branch, "master");
	if (g->verify.pos.set)
		default_str(c, &g->verify.mode, "HEAD");
}

static void
finish_imagerepository(struct dctx *c, struct config_object *o)
{
	struct config_imagerepository *r = &o->u.imagerepository;
	const int64_t second = 1000000000;

	default_str(c, &r->provider, "generic");
	if (r->exclusion_list.n > CONFIG_MAX_EXCLUSIONS)
		diag_at(c, &r->pos, "spec.exclusionList",
		        "has %zu entries (Flux allows at most %d)",
		        r->exclusion_list.n, CONFIG_MAX_EXCLUSIONS);
	if (r->exclusion_list.n == 0) {
		free(r->exclusion_list.items);
		r->exclusion_list.items = grow(c, 1, sizeof(char *));
		if (r->exclusion_list.items) {
			r->exclusion_list.items[0] =
			        config_strdup(c->cfg, "^.*\\.sig$", 9);
			r->exclusion_list.n =
			        r->exclusion_list.items[0] ? 1 : 0;
		}
	}
	if (r->timeout == 0)
		r->timeout = r->interval;
	if (r->timeout < second)
		r->timeout = second;
}

static void
finish_imagepolicy(struct dctx *c, struct config_object *o)
{
	struct config_imagepolicy *p = &o->u.imagepolicy;
	struct buf names = BUF_INIT;
	int n = 0;

	if (p->policy.semver.pos.set)
		n++, buf_puts(&names, "semver");
	if (p->policy.alphabetical.pos.set)
		buf_puts(&names, n++ ? ", alphabetical" : "alphabetical");
	if (p->policy.numerical.pos.set)
		buf_puts(&names, n++ ? ", numerical" : "numerical");
	if (p->policy.pos.set && n == 0)
		diag_at(c, &p->policy.pos, "spec.policy",
		        "no strategy given (set one of semver, alphabetical or numerical)");
	else if (n > 1)
		diag_at(c, &p->policy.pos, "spec.policy",
		        "%d strategies given (%s); keep exactly one", n,
		        buf_ok(&names) ? names.ptr : "");
	buf_release(&names);
	if (p->policy.alphabetical.pos.set)
		default_str(c, &p->policy.alphabetical.order, "asc");
	if (p->policy.numerical.pos.set)
		default_str(c, &p->policy.numerical.order, "asc");
	if (p->filter_tags.extract && p->filter_tags.extract[0] &&
	    !p->filter_tags.pattern)
		diag_at(c, &p->filter_tags.pos, "spec.filterTags.extract",
		        "needs a pattern with the groups it names");
	default_str(c, &p->digest_reflection_policy, "Never");
	if (p->digest_reflection_policy &&
	    strcmp(p->digest_reflection_policy, "Always") == 0) {
		if (p->interval == 0)
			diag_at(c, &p->pos, "spec.interval",
			        "is required when digestReflectionPolicy is Always");
	} else if (p->interval != 0) {
		diag_at(c, &p->pos, "spec.interval",
		        "is only allowed when digestReflectionPolicy is Always");
	}
	if (p->image_repository_ref.name)
		default_str(c, &p->image_repository_ref.namespace,
		            o->metadata.namespace);
}

static void
finish_selector(struct dctx *c, struct config_label_selector *s,
                const char *path)
{
	for (size_t i = 0; i < s->n_match_expressions; i++) {
		struct config_label_requirement *r = &s->match_expressions[i];
		bool wants_values;

		if (r->operator== NULL)
			continue;
		wants_values = strcmp(r->operator, "In") == 0 ||
		               strcmp(r->operator, "NotIn") == 0;
		if (wants_values && r->values.n == 0)
			diag_at(c, &s->pos, path,
			        "matchExpressions[%zu]: operator %s needs values",
			        i, r->operator);
		else if (!wants_values && r->values.n > 0)
			diag_at(c, &s->pos, path,
			        "matchExpressions[%zu]: operator %s takes no values",
			        i, r->operator);
	}
}

static void
finish_imageupdateautomation(struct dctx *c, struct config_object *o)
{
	struct config_imageupdateautomation *a = &o->u.imageupdateautomation;

	default_str(c, &a->source_ref.kind, "GitRepository");
	if (a->source_ref.name)
		default_str(c, &a->source_ref.namespace, o->metadata.namespace);
	default_str(c, &a->update.strategy, "Setters");
	default_str(c, &a->update.path, ".");
	if (a->git.commit.signing_key.pos.set)
		default_str(c, &a->git.commit.signing_key.type, "gpg");
	if (a->git.push.branch && a->git.push.refspec &&
	    strcmp(a->git.push.branch, a->git.push.refspec) == 0)
		diag_at(c, &a->git.push.pos, "spec.git.push",
		        "branch and refspec are the same; the second push would fail with 'already up-to-date' (drop refspec)");
	finish_selector(c, &a->policy_selector, "spec.policySelector");
}

static void
finish_receiver(struct dctx *c, struct config_object *o)
{
	struct config_receiver *r = &o->u.receiver;

	if (r->interval == 0)
		r->interval = (int64_t)600 * 1000000000;
	if (r->type == NULL)
		return;
	if (strcmp(r->type, "generic-oidc") == 0) {
		if (r->secret_ref.pos.set)
			diag_at(c, &r->secret_ref.pos, "spec.secretRef",
			        "is not allowed with type generic-oidc");
		if (r->n_oidc_providers == 0)
			diag_at(c, &r->pos, "spec.oidcProviders",
			        "at least one is required with type generic-oidc");
	} else {
		if (!r->secret_ref.pos.set)
			diag_at(c, &r->pos, "spec.secretRef",
			        "required field is missing (a Secret with a 'token' key)");
		if (r->n_oidc_providers > 0)
			diag_at(c, &r->pos, "spec.oidcProviders",
			        "is only allowed with type generic-oidc");
	}
}

static void
finish_kustomization(struct dctx *c, struct config_object *o)
{
	struct config_kustomization *k = &o->u.kustomization;
	const int64_t second = 1000000000;

	if (k->kube_config.pos.set &&
	    k->kube_config.secret_ref.pos.set ==
	            k->kube_config.config_map_ref.pos.set)
		diag_at(c, &k->kube_config.pos, "spec.kubeConfig",
		        "set exactly one of secretRef and configMapRef");
	/* without ferry.io/ annotations the reconciler leaves it alone: say
	 * so once rather than once per field */
	if (!config_kustomization_managed(o))
		config_notice_add(
		        c->cfg, c->file, o->line, o->column, c->object, "",
		        "left to Flux: it has no ferry.io/ annotations, so "
		        "ferry's reconciler does not sync it (ferry reads it "
		        "for spec.decryption SOPS keys and references only); "
		        "add ferry.io/target to have ferry sync it");

	/* Kustomization.GetTimeout: interval - 30s, never below 30s */
	if (k->timeout == 0)
		k->timeout = k->interval - 30 * second;
	if (k->timeout < 30 * second)
		k->timeout = 30 * second;
	if (k->retry_interval == 0)
		k->retry_interval = k->interval;
	default_str(c, &k->deletion_policy, "MirrorPrune");
	if (k->source_ref.name)
		default_str(c, &k->source_ref.namespace, o->metadata.namespace);
	for (size_t i = 0; i < k->n_depends_on; i++)
		if (k->depends_on[i].name)
			default_str(c, &k->depends_on[i].namespace,
			            o->metadata.namespace);
}

static void
finish_provider(struct dctx *c, struct config_object *o)
{
	struct config_provider *p = &o->u.provider;
	bool sent = false;

	if (p->timeout == 0)
		p->timeout = (int64_t)15 * 1000000000;
	for (size_t i = 0; p->type && provider_types_sent[i]; i++)
		sent |= strcmp(p->type, provider_types_sent[i]) == 0;
	/* A valid Flux type that ferry cannot send is an error, not an
	 * Alert that never fires. */
	if (p->type && !sent)
		diag_at(c, &p->pos, "spec.type",
		        "type '%s' is valid in Flux, but ferry does not send it "
		        "(it sends generic, generic-hmac, slack and "
		        "githubdispatch)",
		        p->type);
}

static void
finish_alert(struct dctx *c, struct config_object *o)
{
	struct config_alert *a = &o->u.alert;

	default_str(c, &a->event_severity, "info");
	if (a->summary && strlen(a->summary) > 255)
		diag_at(c, &a->pos, "spec.summary",
		        "is %zu characters long (Flux allows at most 255)",
		        strlen(a->summary));
	for (size_t i = 0; i < a->n_event_sources; i++)
		if (a->event_sources[i].name)
			default_str(c, &a->event_sources[i].namespace,
			            o->metadata.namespace);
}

size_t
schema_decode(struct config *cfg, yaml_document_t *doc, yaml_node_t *root,
              struct config_object *obj, const char *object)
{
	struct dctx c = { cfg, doc, obj->file, object, BUF_INIT, 0, obj->kind };

	if ((unsigned)obj->kind >= CONFIG_KIND_COUNT)
		return 0;
	decode_map(&c, root, obj, root_tables[obj->kind]);
	default_str(&c, &obj->metadata.namespace,
	            config_default_namespace(cfg));
	switch (obj->kind) {
	case CONFIG_GITREPOSITORY:
		finish_gitrepository(&c, obj);
		break;
	case CONFIG_IMAGEREPOSITORY:
		finish_imagerepository(&c, obj);
		break;
	case CONFIG_IMAGEPOLICY:
		finish_imagepolicy(&c, obj);
		break;
	case CONFIG_IMAGEUPDATEAUTOMATION:
		finish_imageupdateautomation(&c, obj);
		break;
	case CONFIG_RECEIVER:
		finish_receiver(&c, obj);
		break;
	case CONFIG_KUSTOMIZATION:
		finish_kustomization(&c, obj);
		break;
	case CONFIG_SECRET:
		default_str(&c, &obj->u.secret.type, "Opaque");
		break;
	case CONFIG_PROVIDER:
		finish_provider(&c, obj);
		break;
	case CONFIG_ALERT:
		finish_alert(&c, obj);
		break;
	case CONFIG_IMAGEUPDATER:
	case CONFIG_APPLICATION:
		c.ndiags += argocd_finish(cfg, doc, root, obj, object);
		break;
	default:
		break;
	}
	buf_release(&c.path);
	return c.ndiags;
}
