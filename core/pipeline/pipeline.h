/*
 * pipeline.h - one pass of ferry's pipeline over a loaded configuration:
 * scan every ImageRepository, select every ImagePolicy's latest image, and
 * for every ImageUpdateAutomation edit the files in its Git clone, commit
 * with the rendered message and push (or, with dry_run, only report the
 * diff and the message).
 *
 * Never downgrade on partial data: an ImageRepository whose scan fails
 * keeps the tag list of its last good scan (from the state directory), so
 * its policies answer as before.  A failing object is reported and the
 * others still run.  A push rejected as non-fast-forward is answered by
 * sync, re-apply, commit and push again, with backoff, up to
 * max_push_attempts times.
 *
 * This is what `ferry run --once` and `ferry plan` call; the daemon will
 * call the same stages per object from its work queue.
 *
 * Ownership: the report owns everything in it (pipeline_report_release);
 * it borrows the config objects it points at, which must outlive it.
 *
 * Thread safety: one pass at a time per struct state.
 */
#ifndef FERRY_CORE_PIPELINE_H
#define FERRY_CORE_PIPELINE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "config/loader.h"
#include "state/state.h"
#include "writeback/change.h"

#define PIPELINE_MAX_PUSH_ATTEMPTS 5
#define PIPELINE_DEFAULT_MESSAGE "Update from image update automation"

struct pipeline_opts {
	bool dry_run;          /* plan: no commit, no push, diff + message */
	int max_push_attempts; /* 0: PIPELINE_MAX_PUSH_ATTEMPTS */
	long backoff_ms;       /* first conflict backoff; 0: 250 ms */
};

#define PIPELINE_OPTS_INIT                                                     \
	{                                                                      \
		false, 0, 0                                                    \
	}

struct pipeline_repo {
	const struct config_object *obj;
	bool suspended;
	bool scanned; /* this pass listed the tags */
	size_t ntags; /* tags known (this scan, or the last good one) */
	int rc;       /* < 0 when the scan failed */
	struct err err;
};

struct pipeline_policy {
	const struct config_object *obj;
	bool suspended;
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
	char commit[41]; /* pushed commit */
	char base[41];   /* the remote head the edits were made on */
	char *branch;    /* pushed (or would-be pushed) branch */
	char *message;   /* rendered commit message */
	char *diff;      /* dry run: unified diff of the edits */
	int attempts;    /* push attempts made */
	struct wb_changes changes;
	int rc;
	struct err err;
};

struct pipeline_report {
	struct pipeline_repo *repos;
	size_t nrepos;
	struct pipeline_policy *policies;
	size_t npolicies;
	struct pipeline_automation *automations;
	size_t nautomations;
};

#define PIPELINE_REPORT_INIT                                                   \
	{                                                                      \
		NULL, 0, NULL, 0, NULL, 0                                      \
	}

/*
 * Runs one pass.  Returns 0 when every object succeeded (or was
 * suspended), -ERR_* of the first failure otherwise; the report says which
 * objects failed and why either way.  -ERR_NOMEM leaves a partial report.
 */
int pipeline_run(struct pipeline_report *out, const struct config *cfg,
                 struct state *st, const struct pipeline_opts *opts,
                 struct err *err);

void pipeline_report_release(struct pipeline_report *r);

/* "no change", "pushed", "planned", "failed", "suspended". */
const char *pipeline_status_name(enum pipeline_status s);

#endif
