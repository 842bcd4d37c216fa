/*
 * server.h - the daemon's two listeners:
 *   server_*   HTTP(S) on --listen: registry webhooks (Flux Receiver paths
 *              /hook/<sha256>, Argo CD Image Updater's /webhook?type=),
 *              /metrics, /healthz, /readyz, and the status page (ui.h).
 *              Handlers only verify, parse, read status and enqueue; they
 *              never run a stage.
 *   control_*  the control API on a Unix socket (mode 0600) in the state
 *              directory, for `ferry get`, `ferry reconcile`, `ferry
 *              suspend`/`resume` and `ferry events`: JSON over HTTP/1.1,
 *              one thread per connection, so a reconcile may wait for
 *              its run.
 *
 * Both are libmicrohttpd daemons with their own threads.
 * Thread safety: start and stop from the daemon's main thread.
 */
#ifndef FERRY_CORE_DAEMON_SERVER_H
#define FERRY_CORE_DAEMON_SERVER_H

#include "base/err.h"

struct daemon;
struct server;
struct control;

/* Starts the HTTP listener (*out NULL when --listen is "off"). */
int server_start(struct server **out, struct daemon *d, struct err *err);
/* Stops it and waits for its handlers; NULL is a no-op. */
void server_stop(struct server *s);

/* Starts the control socket; replaces a stale socket file. */
int control_start(struct control **out, struct daemon *d, struct err *err);
void control_stop(struct control *c);

#endif
