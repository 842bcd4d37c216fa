/*
 * ui.h - the daemon's status page, served on the --listen listener beside
 * /metrics and the webhooks (server.c hands it its paths):
 *
 *   /                       overview: failures first, counts by kind
 *   /images, /images/NS/N   every ImagePolicy; one image with its timeline
 *   /timeline[?days=N]      the fleet's version changes as an SVG
 *   /automations            last push, its message and changes, next run
 *   /events[?kind=&severity=]
 *   /ui/stream              Server-Sent Events: the page's script asks
 *                           for the page again when something happened
 *   /ui/action (POST)       reconcile, suspend, resume (with a token only)
 *   /ui/style.css, /ui/app.js, /favicon.svg, /favicon.ico
 *
 * Read-only and open by default, as the listener is.  With
 * --ui-token-file, every page wants the token (Authorization: Bearer
 * TOKEN, or HTTP Basic with TOKEN as the password, any user name), and
 * the action buttons appear, each form carrying a CSRF token; a POST
 * whose Origin or Sec-Fetch-Site says another site sent it is refused.
 * Every page is sent with a Content-Security-Policy that allows only
 * ferry's own script, style and images.
 *
 * Thread safety: ui_serve() runs on the listener's thread; the live
 * streams are woken by a thread of the ui's own.  ui_new, ui_shutdown and
 * ui_free come from the thread that starts and stops the listener.
 */
#ifndef FERRY_CORE_DAEMON_UI_H
#define FERRY_CORE_DAEMON_UI_H

#include <microhttpd.h>
#include <stdbool.h>

#include "base/err.h"

#define UI_MAX_STREAMS 32     /* live pages at once */
#define UI_KEEPALIVE_MS 15000 /* a comment line on an idle stream */
#define UI_MAX_FORM 4096      /* an action's form */
#define UI_MAX_TOKEN 4096     /* --ui-token-file */

struct daemon;
struct http_request;
struct ui;

/*
 * Reads d->o.ui_token_file (when given) and starts the thread that wakes
 * the live streams.  -ERR_INVALID when the token file is unreadable or
 * empty, -ERR_NOMEM.
 */
int ui_new(struct ui **out, struct daemon *d, struct err *err);

/* Does the status page serve url? */
bool ui_owns(const char *url);

/* Serves one request for a url ui_owns(): a page, an asset, the stream
 * or an action. */
enum MHD_Result ui_serve(struct ui *ui, struct MHD_Connection *c,
                         const char *url, const char *method,
                         const struct http_request *req);

/*
 * Ends the live streams (each gets its end on its next turn) and stops
 * the waking thread.  Call before MHD_stop_daemon(); NULL is a no-op.
 */
void ui_shutdown(struct ui *ui);

/* Frees (the token wiped); after the listener stopped.  NULL: no-op. */
void ui_free(struct ui *ui);

#endif
