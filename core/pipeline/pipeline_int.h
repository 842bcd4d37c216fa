/*
 * pipeline_int.h - what the stages of core/pipeline share: finding an
 * object by key, Secret values, times and references as strings.
 */
#ifndef FERRY_CORE_PIPELINE_INT_H
#define FERRY_CORE_PIPELINE_INT_H

#include "pipeline.h"

#include "base/secret.h"
#include "writeback/git.h"

/* The object of key->kind with key's namespace and name, or NULL with
 * -ERR_NOTFOUND in err. */
const struct config_object *pipeline_find(const struct pipeline_ctx *ctx,
                                          const struct pipeline_key *key,
                                          struct err *err);

/* The value of key in the Secret a reference names, or NULL. */
const struct secret *pipeline_secret(const struct config *cfg,
                                     const struct config_object *referrer,
                                     const struct config_local_ref *ref,
                                     const char *key);

/* The current time as RFC 3339 UTC ("2026-12-02T10:00:00Z"). */
void pipeline_now(char out[32]);

/* "image[:tag][@digest]", malloc'ed; NULL when out of memory. */
char *pipeline_ref_string(const char *image, const char *tag,
                          const char *digest);

/*
 * Sets doc's "conditions" the way Flux's controllers keep them in status:
 * Ready (True with reason "Succeeded", or False with a reason from rc:
 * "AuthenticationFailed", else "ReconciliationFailed") and message;
 * Stalled True beside it when retrying cannot help (a configuration
 * error).  A condition keeps its lastTransitionTime while its status does
 * not change.  A success also sets lastSuccessTime (now), which a failure
 * leaves as it was.
 */
void pipeline_conditions(cJSON *doc, int rc, const char *message, bool stalled);

/* The same with Ready's status ("True", "False", "Unknown") and reason
 * given (Flux's kustomize-controller has its own reasons). */
void pipeline_conditions_reason(cJSON *doc, const char *status,
                                const char *reason, const char *message,
                                bool stalled);

/* A GitRepository's credentials (borrowed from the Secret of its
 * secretRef) and the ref it follows (spec.ref: commit, name, semver, tag,
 * branch, in Flux's precedence). */
struct pipeline_git_source {
	const struct config_object *git;
	struct gitrepo_auth auth;
	struct gitrepo_ref ref;
	const char *branch; /* the ref's branch, or NULL */
	const char *semver; /* a semver range, resolved by
	                       pipeline_git_source_fetch */
	char *resolved;     /* the tag it resolved to (owned) */
};

/* ref: the ref to follow instead of the GitRepository's (an
 * ImageUpdateAutomation's checkout ref), or NULL. */
void pipeline_git_source_init(struct pipeline_git_source *src,
                              const struct config *cfg,
                              const struct config_object *git,
                              const struct config_git_ref *ref);
void pipeline_git_source_release(struct pipeline_git_source *src);

/*
 * The remote's highest tag in range (a GitRepository's ref.semver), with
 * the lenient parsing Flux's source-controller uses for tags (v prefix,
 * partial versions), after a fetch: into *tag_out (owned; an old value is
 * freed).  what names the range in errors.
 */
int pipeline_git_semver_tag(struct gitrepo *repo,
                            const struct gitrepo_auth *auth, const char *range,
                            const char *what, char **tag_out, struct err *err);

/* Fetches the ref in repo (a semver range resolved to the highest tag in
 * range first) and puts its commit in commit_out. */
int pipeline_git_source_fetch(struct pipeline_git_source *src,
                              struct gitrepo *repo, char commit_out[41],
                              struct err *err);

/* Flux's revision text: "main@sha1:<commit>", "v1.0@sha1:...",
 * "sha1:<commit>" for a commit ref.  malloc'ed. */
char *pipeline_git_revision(const struct pipeline_git_source *src,
                            const char *commit);

/*
 * Appends entry (taking it) to the array doc[key], keeping the newest
 * PIPELINE_HISTORY_MAX: what changed when, for `ferry get` and the status
 * page's timeline.  old (may be NULL) is the stored document whose array
 * is carried over.
 */
#define PIPELINE_HISTORY_MAX 100
void pipeline_history_add(cJSON *doc, const cJSON *old, const char *key,
                          cJSON *entry);

/*
 * How long to wait before attempt + 1 after a push conflict: base_ms
 * doubling per attempt up to PIPELINE_MAX_BACKOFF_MS, plus up to base_ms
 * of jitter.
 */
long pipeline_conflict_backoff(long base_ms, int attempt);

/* strdup that passes NULL through. */
char *pipeline_strdup(const char *s);

#endif
