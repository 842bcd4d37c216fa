/*
 * pipeline.h - ferry's pipeline as per-object stages:
 *
 *   pipeline_scan      one ImageRepository: list its tags (and digests when
 *                      a policy reflects them) and store them;
 *   pipeline_select    one ImagePolicy: pick the latest image from its
 *                      repository's stored tags and store it as latestRef;
 *   pipeline_automate  one ImageUpdateAutomation: edit the files in its Git
 *                      clone from the policies' stored latestRefs, commit
 *                      with the rendered message and push (or, dry run,
 *                      only report the diff and the message);
 *   pipeline_argocd    one Argo CD Application: its images' tags, picked
 *                      with Argo CD Image Updater's strategies, written
 *                      back to Git as Argo CD reads them (its own scans:
 *                      an application's images are its own);
 *   pipeline_sync      one Kustomization (the built-in reconciler): render
 *                      its path at the source's head, then apply it to the
 *                      targets its ferry.io/ annotations name, with hooks,
 *                      a health check and notify-url calls (or, dry run,
 *                      only report what the targets would get).
 *
 * A stage takes an object key and a caller-owned context, never a pointer
 * into a pass: the state store (core/state) is the hand-off between stages,
 * so each can run alone, in any thread, whenever its inputs may have
 * changed (the daemon's work queue), or all of them in dependency order
 * (pipeline_run: `ferry run --once` and `ferry plan`).
 *
 * Never downgrade on partial data: a scan that fails keeps the stored tag
 * list of the last good scan, so the policy answers as before.  A stage
 * never sleeps: a push rejected because the branch moved comes back with
 * retry_after_ms set, and the caller runs the stage again (attempt + 1)
 * when that time has passed; the stage fetches, re-applies its edits on the
 * new head and pushes again, and gives up after max_push_attempts.
 *
 * Ownership: results own what they hold (pipeline_*_release); their obj
 * pointers borrow from ctx->cfg, which must outlive them.  The context's
 * members are borrowed.
 *
 * Thread safety: stages may run on several threads at once over one
 * context, on different objects (the state store, the registry client and
 * the pool are thread-safe; two automations on one Git remote wait for each
 * other on the clone's lock).  One object's stage must not run twice at
 * once.
 */
#ifndef FERRY_CORE_PIPELINE_H
#define FERRY_CORE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/pool.h"
#include "config/loader.h"
#include "scanner/registry.h"
#include "state/state.h"
#include "writeback/change.h"

#define PIPELINE_MAX_PUSH_ATTEMPTS 5
#define PIPELINE_BACKOFF_MS 250       /* first push-conflict retry */
#define PIPELINE_MAX_BACKOFF_MS 16000 /* longest push-conflict retry */

/* What every stage works with.  All members are borrowed. */
struct pipeline_ctx {
	const struct config *cfg;         /* the configuration snapshot */
	struct state *st;                 /* the stages' hand-off */
	struct registry_client *registry; /* long-lived: tokens, connections */
	struct pool *pool; /* fan-out inside a stage (file writes); or NULL */
	bool dry_run;      /* plan: policies recorded in memory only;
	                      no commit, no push */
	int max_push_attempts; /* 0: PIPELINE_MAX_PUSH_ATTEMPTS */
	long backoff_ms; /* first conflict backoff; 0: PIPELINE_BACKOFF_MS */
	/* Called right before a push (the fleet's fencing): a negative
	   return refuses the push, which then fails with err.  May be NULL. */
	int (*before_push)(void *payload,
	                   const struct config_object *automation,
	                   struct err *err);
	void *before_push_payload;
	/* The command that builds a kustomization ("kustomize build",
	   "kubectl kustomize"; the directory is appended); NULL: the first
	   of those on PATH. */
	const char *kustomize;
};

#define PIPELINE_CTX_INIT                                                      \
	{                                                                      \
		NULL, NULL, NULL, NULL, false, 0, 0, NULL, NULL, NULL          \
	}

/* An object of the configuration, by name.  Strings borrowed. */
struct pipeline_key {
	enum config_kind kind;
	const char *namespace_;
	const char *name;
};

struct pipeline_repo {
	const struct config_object *obj;
	bool suspended;
	bool scanned; /* this call listed the tags */
	bool changed; /* the stored tag list (or a digest) changed */
	size_t ntags; /* tags known (this scan, or the last good one) */
	int rc;       /* < 0 when the scan failed */
	struct err err;
};

struct pipeline_policy {
	const struct config_object *obj;
	bool suspended;
	bool waiting;   /* failed only because its repository has not been
	                   scanned yet (and no scan failed): the first scan
	                   will run it again */
	bool changed;   /* latestRef differs from the stored one */
	char *image;    /* latestRef.name (the ImageRepository's spec.image) */
	char *tag;      /* NULL when nothing qualified */
	char *digest;   /* NULL unless reflected */
	char *previous; /* the previous latestRef as name:tag[@digest], or NULL
	                 */
	int rc;
	struct err err;
};

enum pipeline_status {
	PIPELINE_NO_CHANGE = 0,
	PIPELINE_PUSHED,
	PIPELINE_PLANNED, /* dry run with changes */
	PIPELINE_FAILED,
	PIPELINE_SUSPENDED,
};

struct pipeline_automation {
	const struct config_object *obj;
	enum pipeline_status status;
	char commit[41];     /* pushed commit */
	char base[41];       /* the remote head the edits were made on */
	char *branch;        /* pushed (or would-be pushed) branch */
	char *message;       /* rendered commit message */
	char *diff;          /* dry run: unified diff of the edits */
	int attempts;        /* push attempts made, this one included */
	long retry_after_ms; /* > 0: the push lost a race; run the stage
	                        again (attempt + 1) after this long */
	struct wb_changes changes;
	char *notes; /* what the editors left alone or set with a caveat,
	                "FILE:LINE: ..." lines (yamledit_opts.notes); or NULL */
	int rc;
	struct err err;
};

/* One image of an Argo CD Application, as pipeline_argocd found it. */
struct pipeline_app_image {
	char *alias;          /* "" when the image has none */
	char *image;          /* the image name, without constraint */
	const char *strategy; /* semver, newest-build, alphabetical, digest */
	char *old_tag;        /* what the target held; NULL when nothing */
	char *old_digest;
	char *tag;    /* what the strategy picked; NULL when nothing */
	char *digest; /* digest strategy only */
	bool changed; /* the target gets another version */
	int rc;       /* < 0: the registry or the policy failed */
	struct err err;
};

/* One Argo CD Application's write-back (pipeline_argocd). */
struct pipeline_app {
	const struct config_object *obj;
	bool managed; /* an ImageUpdater or its annotations update it */
	enum pipeline_status status;
	char commit[41];     /* pushed commit */
	char base[41];       /* the remote head the edits were made on */
	char *branch;        /* pushed (or would-be pushed) branch */
	char *target;        /* the file or directory written */
	char *message;       /* rendered commit message */
	char *diff;          /* dry run: unified diff of the edits */
	int attempts;        /* push attempts made, this one included */
	long retry_after_ms; /* > 0: run again (attempt + 1) after this */
	struct pipeline_app_image *images;
	size_t nimages;
	struct wb_changes changes;
	int rc;
	struct err err;
};

/*
 * Runs Application key once, as Argo CD Image Updater's git write-back
 * does (config/argocd.h has which images and settings): lists each
 * image's tags, picks one with its strategy and filters, reads what the
 * write-back target holds, and when an image moves writes the target
 * (the .argocd-source file, the kustomization's images, the Helm values),
 * commits with Argo CD's message template and pushes to the git-branch
 * (a templated branch for BASE:TARGET).  Images whose registry fails are
 * left as they are and make the run fail after the others are written.
 * attempt and retries as pipeline_automate.  An Application nothing
 * updates returns 0 with out->managed false.
 */
int pipeline_argocd(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                    int attempt, struct pipeline_app *out);

void pipeline_app_release(struct pipeline_app *a);

/*
 * An image's creation time from the registry (seconds since the epoch,
 * as registry_tag.created_unix) in nanoseconds, as policy_tag.created_ns
 * wants it; times int64 nanoseconds do not hold (before 1677 or after
 * 2262, which a registry's config blob may claim) are clamped to
 * INT64_MIN or INT64_MAX.  Pure; any thread.
 */
int64_t pipeline_argocd_created_ns(int64_t created_unix);

/*
 * Scans ImageRepository key->namespace_/name and stores its tags.
 * Returns out->rc: 0 (also when suspended), -ERR_NOTFOUND when the
 * configuration has no such object, else the scan's error (the stored list
 * is kept).  -ERR_NOMEM.
 */
int pipeline_scan(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                  struct pipeline_repo *out);

/*
 * The webhook fast path: confirms tags[0..n) of ImageRepository key with
 * one manifest HEAD each (no listing) and adds those that exist to its
 * stored list, keeping the rest of the list; out->changed tells whether
 * one was new.  A full scan should follow (the registry may have deleted
 * tags too).  Returns out->rc as pipeline_scan does.
 */
int pipeline_scan_tags(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                       const char *const *tags, size_t n,
                       struct pipeline_repo *out);

/*
 * Selects ImagePolicy key's latest image from its repository's stored
 * tags and stores it (in memory only when ctx->dry_run).  Returns out->rc:
 * 0 (also when suspended), -ERR_NOTFOUND (no such object, no repository or
 * no tags known), or the policy's error (nothing qualified: the stored
 * latestRef is kept, as Flux keeps status.latestRef).
 */
int pipeline_select(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                    struct pipeline_policy *out);

/*
 * Runs ImageUpdateAutomation key once: attempt is 1 for a first run and
 * one more for each retry after a push conflict.  Returns out->rc; on a
 * conflict that may still be retried, -ERR_CONFLICT with
 * out->retry_after_ms > 0 (status PIPELINE_FAILED until then).  A run
 * that changed nothing because a selected policy failed (and has no
 * latest image to apply) fails with -ERR_TRANSIENT and that policy's
 * reason, rather than report "no change".
 */
int pipeline_automate(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                      int attempt, struct pipeline_automation *out);

/* ---- Kustomization: the built-in reconciler ---- */

#define PIPELINE_DEPENDENCY_RETRY_MS 30000 /* Flux's --requeue-dependency */
#define PIPELINE_HEALTH_POLL_MS 2000       /* between health checks */

enum pipeline_sync_status {
	PIPELINE_SYNC_UP_TO_DATE = 0, /* the targets hold the revision */
	PIPELINE_SYNC_APPLIED,        /* a new revision (or settings) applied */
	PIPELINE_SYNC_CORRECTED,      /* the same revision, drift corrected */
	PIPELINE_SYNC_PLANNED,        /* dry run: would apply */
	PIPELINE_SYNC_WAITING,        /* a dependency is not ready, or the
	                                 health check has not passed yet:
	                                 run again after retry_after_ms */
	PIPELINE_SYNC_FAILED,
	PIPELINE_SYNC_SUSPENDED,
	PIPELINE_SYNC_UNMANAGED, /* no ferry.io/ annotations: left to Flux,
	                            nothing read or written */
};

/* Owned strings, NULL-terminated (v may be NULL when n is 0). */
struct pipeline_names {
	char **v;
	size_t n;
};

struct pipeline_sync {
	const struct config_object *obj;
	enum pipeline_sync_status status;
	char commit[41];
	char *revision;    /* "main@sha1:<commit>", as Flux writes it */
	char *previous;    /* lastAppliedRevision before this run, or NULL */
	const char *phase; /* where it failed or waits: "config", "source",
	                      "dependency", "render", "pre-sync", "apply",
	                      "notify", "health", "post-sync"; NULL */
	struct pipeline_names targets; /* "directory:/srv/app", "command: ...",
	                                  "notify: URL" (no query) */
	/* directory target: files created, changed by the revision,
	   deleted (prune), kept unmanaged (prune: false); drift corrected:
	   modified, added, removed by hand */
	struct pipeline_names created, configured, deleted, orphaned;
	struct pipeline_names modified, added, removed;
	size_t objects;      /* objects rendered */
	bool health_pending; /* WAITING on the health check */
	long retry_after_ms; /* > 0 with WAITING */
	int rc;
	struct err err;
};

struct pipeline_sync_opts {
	int attempt; /* 1, then one more for each run after retry_after_ms */
	bool force;  /* apply even when the targets hold the revision
	                (ferry reconcile) */
};

#define PIPELINE_SYNC_OPTS_INIT                                                \
	{                                                                      \
		1, false                                                       \
	}

/*
 * Runs Kustomization key once: fetches its GitRepository's ref in the
 * shared clone, checks dependsOn, renders spec.path at that commit, and
 * when the targets do not hold it (a new revision or settings, drift in a
 * directory target, a failed last run, opts->force) runs the pre-sync
 * hook, applies the directory or command target, calls the notify URLs,
 * waits for the health check (wait: true), runs the post-sync hook; on a
 * failure, the sync-fail hook.  Status goes to the state store (not in a
 * dry run, which renders and compares only).  Returns out->rc: 0 (also
 * for WAITING and SUSPENDED), -ERR_NOTFOUND when there is no such object,
 * -ERR_INVALID for settings ferry refuses (Stalled), else the failing
 * phase's error.
 */
int pipeline_sync(struct pipeline_ctx *ctx, const struct pipeline_key *key,
                  const struct pipeline_sync_opts *opts,
                  struct pipeline_sync *out);

void pipeline_sync_release(struct pipeline_sync *s);

/* "up to date", "applied", "drift corrected", "planned", "waiting",
 * "failed", "suspended". */
const char *pipeline_sync_status_name(enum pipeline_sync_status s);

/*
 * The event a run is worth, as Flux's kustomize-controller names it:
 * "ReconciliationSucceeded" (applied), "DriftCorrected", a failure's
 * reason ("BuildFailed", "HealthCheckFailed", "ArtifactFailed",
 * "ReconciliationFailed"); NULL when the run is not news (up to date,
 * waiting, suspended, planned).  Its message goes into out (one line).
 */
const char *pipeline_sync_event(char *out, size_t n,
                                const struct pipeline_sync *s);

/* The branch a Kustomization's GitRepository follows, for matching a push
 * to it; NULL when its ref is not a branch (a tag, a commit, ...). */
const char *pipeline_sync_branch(const struct config *cfg,
                                 const struct config_object *ks);

void pipeline_repo_release(struct pipeline_repo *r);
void pipeline_policy_release(struct pipeline_policy *p);
void pipeline_automation_release(struct pipeline_automation *a);

/* One pass over every object, as `ferry run --once` and `ferry plan`. */
struct pipeline_report {
	struct pipeline_repo *repos;
	size_t nrepos;
	struct pipeline_policy *policies;
	size_t npolicies;
	struct pipeline_automation *automations;
	size_t nautomations;
	struct pipeline_app *apps; /* every Application; managed or not */
	size_t napps;
	struct pipeline_sync *syncs; /* in the order they ran */
	size_t nsyncs;
};

#define PIPELINE_REPORT_INIT                                                   \
	{                                                                      \
		NULL, 0, NULL, 0, NULL, 0, NULL, 0, NULL, 0                    \
	}

/*
 * Runs every stage in dependency order: all scans (at once, on ctx->pool),
 * then every policy, then every automation (a push conflict is retried
 * after the stage's retry_after_ms, here in the caller), then every
 * Kustomization, each after those it dependsOn (a pending health check
 * is run again after its retry_after_ms; a dependency that is not ready
 * is a failure here).  Returns 0 when
 * every object succeeded (or was suspended), else the first object's
 * error with err saying how many failed; the report says which and why
 * either way.  -ERR_NOMEM (err says so) leaves a partial report.
 */
int pipeline_run(struct pipeline_report *out, struct pipeline_ctx *ctx,
                 struct err *err);

void pipeline_report_release(struct pipeline_report *r);

/* "no change", "pushed", "planned", "failed", "suspended". */
const char *pipeline_status_name(enum pipeline_status s);

#endif
