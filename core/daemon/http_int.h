/*
 * http_int.h - what the daemon's libmicrohttpd handlers share: replies,
 * collecting a request body up to a limit, and the webhook route.
 */
#ifndef FERRY_CORE_DAEMON_HTTP_INT_H
#define FERRY_CORE_DAEMON_HTTP_INT_H

#include <microhttpd.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

struct daemon;

/* A request being received: its body, or the fact that it was too big. */
struct http_request {
	struct buf body;
	bool too_big;
};

void http_request_free(struct http_request *r);

/* Queues a reply with a copy of body. */
enum MHD_Result http_reply(struct MHD_Connection *c, unsigned int status,
                           const char *ctype, const char *body, size_t len);
enum MHD_Result http_text(struct MHD_Connection *c, unsigned int status,
                          const char *text);

/*
 * The body-collecting half of an access handler: returns 1 while the
 * handler must return *ret now, 0 with the whole request in *req.
 */
int http_collect(struct MHD_Connection *c, const char *upload,
                 size_t *upload_len, void **con_cls, size_t max,
                 struct http_request **req, enum MHD_Result *ret);

/* MHD_OPTION_NOTIFY_COMPLETED: frees the request. */
void http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
                    enum MHD_RequestTerminationCode toe);

/*
 * POST /hook/<sha256> (a Flux Receiver) or /webhook?type= (Argo CD Image
 * Updater): verifies, parses, deduplicates and enqueues (webhook.c).
 */
enum MHD_Result webhook_serve(struct daemon *d, struct MHD_Connection *c,
                              const char *url, const char *method,
                              struct http_request *req);

#endif
