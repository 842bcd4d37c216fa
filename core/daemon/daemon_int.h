/*
 * daemon_int.h - what the daemon's parts share: the daemon itself, its
 * configuration snapshots and their indexes, and the calls the listeners
 * make into it (daemon.c, server.c, control.c).
 *
 * A snapshot is one loaded configuration with the indexes the daemon asks
 * of it: the policies on each repository, the automations selecting each
 * policy, each repository's parsed image (for webhooks), each Receiver's
 * path.  A reload builds a new snapshot and swaps it in; every run and
 * every request holds a reference to the snapshot it started with, so the
 * objects it points into stay valid until it ends.
 */
#ifndef FERRY_CORE_DAEMON_INT_H
#define FERRY_CORE_DAEMON_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>

#include "daemon.h"

#include "base/pool.h"
#include "config/loader.h"
#include "events/events.h"
#include "fleet/fleet.h"
#include "metrics/metrics.h"
#include "notify/notify.h"
#include "pipeline/pipeline.h"
#include "queue/queue.h"
#include "receiver/receiver.h"
#include "scanner/reference.h"
#include "scanner/registry.h"
#include "state/state.h"

struct idx_list {
	size_t *v;
	size_t n;
};

struct snapshot {
	atomic_uint refs;
	uint64_t generation; /* 1, 2, ... one per successful load */
	struct config *cfg;
	struct reference *repo_refs;         /* per ImageRepository */
	bool *repo_ref_ok;                   /* its image parsed */
	struct idx_list *repo_policies;      /* per ImageRepository */
	struct idx_list *policy_automations; /* per ImagePolicy */
	char **receiver_paths;               /* per Receiver: "/hook/..." */
};

struct server;
struct control;

struct daemon {
	struct daemon_options o;
	pthread_mutex_t snap_mu; /* guards snap (the pointer) */
	struct snapshot *snap;
	uint64_t generations;
	struct state *st;
	struct registry_client *registry;
	struct pool *pool;
	struct queue *q;
	struct metrics *metrics;
	struct events *events;
	struct server *http;
	struct control *control;
	struct receiver_dedup *dedup; /* webhook deliveries seen lately */
	struct fleet *fleet;          /* NULL: alone, owning everything */
	struct notifier *notify;      /* Alerts (core/notify) */
	pthread_t workers[DAEMON_MAX_WORKERS];
	int nworkers;
	atomic_int busy; /* workers inside a run */
	atomic_bool ready;
	atomic_bool stopping;
	int64_t started_ms; /* queue_now_ms() at start */
};

/* The current snapshot, with a reference the caller releases. */
struct snapshot *daemon_snapshot(struct daemon *d);
void snapshot_release(struct snapshot *s);

/* The index of obj among the objects of its kind in s (SIZE_MAX: none). */
size_t snapshot_index(const struct snapshot *s,
                      const struct config_object *obj);

/*
 * Asks for an object's run, as every source of work does.  With ticket
 * (may be NULL), the run's number for daemon_wait.
 */
int daemon_enqueue(struct daemon *d, const struct config_object *obj,
                   int64_t delay_ms, unsigned reason, const char *hint,
                   uint64_t *ticket);

/* Runtime suspension (`ferry suspend`), kept in the state directory. */
bool daemon_suspended(struct daemon *d, enum config_kind kind, const char *ns,
                      const char *name);
int daemon_suspend(struct daemon *d, enum config_kind kind, const char *ns,
                   const char *name, bool suspend, struct err *err);

/*
 * Does ImageRepository i of s hold the image a webhook names: repository
 * (a path, or "host/path") on host (NULL: any host)?  Names are compared
 * after parsing both the way images are parsed ("nginx" is
 * "docker.io/library/nginx").
 */
bool daemon_repo_matches(const struct snapshot *s, size_t i, const char *host,
                         const char *repository);

/* The same for an image name image[0..len) (an Argo CD Application's
 * image, which has no ImageRepository). */
bool daemon_image_matches(const char *image, size_t len, const char *host,
                          const char *repository);

/* ---- the fleet (member.c); every call is a no-op without one ---- */

/* Connects to etcd and joins the fleet when endpoints are given. */
int daemon_fleet_start(struct daemon *d, struct err *err);
void daemon_fleet_stop(struct daemon *d);

/*
 * The unit o belongs to for ownership: "git:<url>" for an automation (one
 * owner per Git remote), "repo:<ns>/<name>" for an ImageRepository and the
 * policies on it.  Appends to out.
 */
int daemon_unit(struct buf *out, const struct snapshot *s,
                const struct config_object *o);

/*
 * May this member run o now?  false with *next (and *next_reason) set
 * when another member owns it, the previous owner still holds it, or etcd
 * cannot be reached.
 */
bool daemon_fleet_gate(struct daemon *d, const struct snapshot *s,
                       const struct config_object *o, int64_t *next,
                       unsigned *next_reason);

/* Before an automation runs: the shared documents it reads (its policies'
 * latestRef, its own last push) into the local state. */
void daemon_fleet_pull(struct daemon *d, const struct snapshot *s,
                       const struct config_object *o);

/* After a run: the documents a takeover needs, into etcd (an automation's
 * fenced on its remote). */
void daemon_fleet_share(struct daemon *d, const struct snapshot *s,
                        const struct config_object *o);

/* The pipeline's before_push: payload is a struct fleet_fence_ctx. */
struct fleet_fence_ctx {
	struct daemon *d;
	const struct snapshot *s;
};
int daemon_fleet_fence(void *payload, const struct config_object *automation,
                       struct err *err);

/*
 * Asks for o's run on the member that owns it: here, or handed over
 * through etcd.  What webhooks call.
 */
int daemon_route(struct daemon *d, const struct snapshot *s,
                 const struct config_object *o, unsigned reason,
                 const char *hint);

/* The member that owns o (for ferry get), into out; "" alone. */
void daemon_owner(struct daemon *d, const struct snapshot *s,
                  const struct config_object *o, char out[64]);

/*
 * The status of object o as `ferry get` and the status page show it
 * (status.c): what its stage stored in the state (Ready condition,
 * latestRef, last scan, last push, history, pushHistory, lastSuccessTime,
 * ...) with the daemon's view beside it (suspended, nextRunSeconds, a
 * Reconciling condition while a worker runs it).  Pages of every object
 * ask for less: a summary has only the newest entry of "history" and
 * "pushHistory"; a brief status only the daemon's view, the Ready
 * condition's status, reason, message and time, lastSuccessTime and the
 * newest history entry.  A new object owned by the caller (cJSON_Delete);
 * NULL when out of memory.  Any thread.
 */
enum daemon_status_detail {
	DAEMON_STATUS_FULL,
	DAEMON_STATUS_SUMMARY,
	DAEMON_STATUS_BRIEF,
};

cJSON *daemon_object_status(struct daemon *d, const struct config_object *o,
                            enum daemon_status_detail detail);

/*
 * Suspends or resumes o as `ferry suspend`/`resume` do: kept in the state
 * directory, recorded as an event ("suspended with HOW"), and a resumed
 * object runs at once.  -ERR_* from the state store.  Any thread.
 */
int daemon_suspend_object(struct daemon *d, const struct config_object *o,
                          bool suspend, const char *how, struct err *err);

/* Object kinds the daemon reconciles, for names in URLs and the CLI. */
const char *daemon_kind_name(enum config_kind kind);

#endif
