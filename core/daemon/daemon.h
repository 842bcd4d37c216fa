/*
 * daemon.h - ferry's long-running process (`ferry run` without --once):
 * every object of the configuration on one work queue (core/queue), run by
 * a few worker threads through the pipeline's per-object stages, on its
 * interval with jitter, again at once when one of its inputs changes, and
 * after a failure with exponential backoff.  An HTTP listener takes
 * registry webhooks (Flux Receiver paths, Argo CD Image Updater's
 * /webhook) and serves /metrics, /healthz, /readyz and the status page
 * (ui.h); a Unix socket in
 * the state directory serves the control API of `ferry get`, `ferry
 * reconcile`, `ferry suspend`, `ferry resume` and `ferry events`.
 *
 * Signals: SIGHUP reloads the configuration (an invalid one is refused
 * with its errors and the old one keeps running); SIGTERM and SIGINT stop
 * taking work, let the runs in flight finish (a push included), and
 * return within the shutdown timeout.
 *
 * Thread safety: daemon_run() is called once, from main(), after the
 * libraries are initialised; it starts and stops every thread it uses.
 */
#ifndef FERRY_CORE_DAEMON_H
#define FERRY_CORE_DAEMON_H

#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define DAEMON_DEFAULT_LISTEN "127.0.0.1:9292"
#define DAEMON_DEFAULT_WORKERS 4
#define DAEMON_MAX_WORKERS 64
#define DAEMON_DEFAULT_SHUTDOWN_MS 30000
#define DAEMON_DEFAULT_BACKOFF_MIN_MS 5000
#define DAEMON_DEFAULT_BACKOFF_MAX_MS 300000
#define DAEMON_JITTER_PERCENT 5 /* of an interval, added at random */
/* An Argo CD Application's interval when the ConfigMap gives none (Argo
 * CD Image Updater's --interval default, 2m). */
#define DAEMON_ARGOCD_INTERVAL_NS ((int64_t)120 * 1000000000)
#define DAEMON_MAX_BODY ((size_t)3 << 20)  /* webhook bodies */
#define DAEMON_CONTROL_SOCKET "ferry.sock" /* in the state directory */
#define DAEMON_DEDUP_WINDOW_MS                                                 \
	(10 * 60 * 1000) /* a webhook delivered                                \
	                   again within it counts                              \
	                   once */

struct config_options;

struct daemon_options {
	const char *const *paths; /* configuration files and directories */
	size_t npaths;
	/* how paths are read, at start and on every reload (standard input
	 * as read once by the caller); NULL: the defaults; borrowed */
	const struct config_options *config;
	const char *state_dir; /* required */
	const char *listen;    /* "host:port"; NULL: the default; "off" */
	const char *tls_cert;  /* PEM files: serve HTTPS */
	const char *tls_key;
	const char *control_socket;  /* NULL: STATE_DIR/ferry.sock */
	int workers;                 /* 0: DAEMON_DEFAULT_WORKERS */
	int64_t shutdown_timeout_ms; /* 0: DAEMON_DEFAULT_SHUTDOWN_MS */
	int64_t backoff_min_ms;      /* 0: DAEMON_DEFAULT_BACKOFF_MIN_MS */
	int64_t backoff_max_ms;      /* 0: DAEMON_DEFAULT_BACKOFF_MAX_MS */
	/* A fleet of daemons through etcd (core/fleet/fleet.h); without
	   endpoints the daemon runs alone and owns everything. */
	const char *const *etcd_endpoints;
	size_t netcd_endpoints;
	const char *cluster;   /* NULL: "ferry" */
	const char *member_id; /* NULL: hostname-pid */
	const char *etcd_cacert, *etcd_cert, *etcd_key;
	const char *etcd_user, *etcd_password;
	int64_t lease_ttl;         /* seconds; 0: 10 */
	const char *ui_token_file; /* the status page wants this token,
	                              and offers its actions; NULL: open,
	                              read-only */
	const char *kustomize;     /* builds kustomizations; NULL: on PATH */
};

#define DAEMON_OPTIONS_INIT                                                    \
	{                                                                      \
		NULL, 0, NULL, NULL, NULL, NULL, NULL, NULL, 0, 0, 0, 0, NULL, \
		        0, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0, NULL,  \
		        NULL                                                   \
	}

/*
 * Loads the configuration, opens the state directory, starts the workers
 * and the listeners, and serves until SIGTERM or SIGINT.  Returns 0 after
 * a clean shutdown; -ERR_INVALID when the configuration has errors (they
 * are printed), -ERR_CONFLICT when another process holds the state
 * directory, another -ERR_* when a listener cannot start.
 */
int daemon_run(const struct daemon_options *opts, struct err *err);

#endif
