/*
 * notify.h - ferry's outgoing notifications, over libcurl:
 *
 *   - Flux's Provider and Alert (notification.toolkit.fluxcd.io/v1beta3)
 *     for the events ferry records (a new image pushed, a push that
 *     failed, a sync that succeeded or failed, ...): notify_event() picks
 *     the Alerts whose eventSources, eventSeverity, inclusionList and
 *     exclusionList let the event through and queues one request per
 *     Alert for its Provider; a thread of the notifier sends them, so the
 *     caller never waits on a chat service.  Provider types: generic and
 *     generic-hmac (Flux's event JSON, X-Signature: sha256=HMAC of the
 *     body keyed by the Secret's 'token'), slack (an attachment, as
 *     Flux's), githubdispatch (a repository_dispatch event).
 *   - The calls a Kustomization's ferry.io/notify-url makes after a sync
 *     (notify_hook_request): a Flux Receiver (generic, or generic-hmac
 *     with X-Signature) or Argo CD's /api/webhook (a GitHub push event,
 *     X-Hub-Signature-256 and X-Hub-Signature when a token is given), so
 *     a cluster's own GitOps engine syncs at once.  These are sent by the
 *     caller (notify_request_send), who needs the result.
 *
 * What it does not do: read the cluster, retry a hook (the caller's
 * retry does), or follow redirects (a webhook answers where it is asked).
 *
 * Secrets (tokens, addresses from Secrets, headers, proxies) live only in
 * a request's buffers, which are wiped when it is released; logs name a
 * URL through log_url().
 *
 * Ownership: a struct notify_request owns what it holds
 * (notify_request_release).  The notifier copies every event and request
 * it queues.
 *
 * Thread safety: notify_event(), notify_flush() may be called from any
 * thread; notify_request_* and the matching functions are reentrant.
 * curl_global_init() must have been called (main() does).
 */
#ifndef FERRY_CORE_NOTIFY_H
#define FERRY_CORE_NOTIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/secret.h"
#include "config/loader.h"

#define NOTIFY_MAX_QUEUE 1000  /* requests waiting to be sent */
#define NOTIFY_MAX_ATTEMPTS 3  /* tries of one Alert request */
#define NOTIFY_RETRY_MS 1000   /* first wait between tries */
#define NOTIFY_MAX_REPLY 65536 /* bytes of a reply kept */
#define NOTIFY_DEFAULT_TIMEOUT_MS 15000
#define NOTIFY_CONTROLLER "ferry" /* reportingController, Gotk-Component */

/* An event, as Flux's event API carries it.  Borrowed strings. */
struct notify_event {
	const char *kind; /* of the involved object: "Kustomization" */
	const char *namespace_;
	const char *name;
	const char *api_version;            /* may be NULL */
	const struct config_strmap *labels; /* the object's; may be NULL */
	bool error;                         /* severity error, else info */
	const char *reason;                 /* "ReconciliationSucceeded" */
	const char *message;
	const char *const *metadata; /* key, value, ..., NULL; may be NULL */
};

/* One HTTP request, ready to send. */
struct notify_request {
	char method[8];     /* "POST", "GET" */
	char *url;          /* may hold a token: never logged whole */
	struct buf headers; /* "Name: value\n" lines; wiped on release */
	struct buf body;    /* wiped on release */
	long timeout_ms;
	char *proxy;      /* may hold credentials; wiped on release */
	struct secret ca; /* PEM CA bundle (certSecretRef ca.crt), or none */
	bool slack_api;   /* Slack's Web API answers 200 {"ok":false} */
	char type[32];    /* provider type or hook kind, for logs */
};

#define NOTIFY_REQUEST_INIT                                                    \
	{                                                                      \
		"POST", NULL, BUF_INIT, BUF_INIT, NOTIFY_DEFAULT_TIMEOUT_MS,   \
		        NULL, SECRET_INIT, false, ""                           \
	}

void notify_request_release(struct notify_request *r);

/*
 * Sends r once.  0 for a 2xx answer (and, for Slack's Web API, "ok":
 * true); -ERR_TRANSIENT for a transport error, a timeout, 429 or a 5xx;
 * -ERR_AUTH for 401 and 403; -ERR_INVALID for other answers.  The message
 * names the URL (log_url) and quotes the start of the answer.
 * *status_out (may be NULL) gets the HTTP status, 0 without one.
 */
int notify_request_send(const struct notify_request *r, long *status_out,
                        struct err *err);

/*
 * Does Alert alert let ev through: not suspended, its Provider exists and
 * is not suspended, an eventSource matches ev's object (kind, namespace,
 * name or "*" with matchLabels), the severity passes, a message matched
 * by inclusionList (when given) and by no exclusionList pattern?  A
 * pattern that fails to run counts as not matching (logged).
 */
bool notify_alert_matches(const struct config *cfg,
                          const struct config_object *alert,
                          const struct notify_event *ev);

/*
 * Builds the request alert's Provider gets for ev into out (initialised
 * here): the event's metadata plus the Alert's eventMetadata (never
 * overriding) and summary.  timestamp is RFC 3339 (NULL: now).
 * -ERR_INVALID when the Provider lacks what its type needs (an address, a
 * token), -ERR_NOMEM.
 */
int notify_alert_request(struct notify_request *out, const struct config *cfg,
                         const struct config_object *alert,
                         const struct notify_event *ev, const char *timestamp,
                         struct err *err);

/* ---- ferry.io/notify-url: a cluster's GitOps engine ---- */

enum notify_hook_kind {
	NOTIFY_HOOK_FLUX,   /* a Flux Receiver (generic or generic-hmac) */
	NOTIFY_HOOK_ARGOCD, /* Argo CD's /api/webhook, as GitHub pushes */
};

struct notify_hook {
	const char *url;
	enum notify_hook_kind kind;
	const struct secret *token; /* HMAC key; NULL: unsigned */
	const char *repo_url;       /* the GitRepository's URL */
	const char *branch;         /* NULL when the revision is no branch */
	const char *commit;         /* 40 hex */
	const char *revision;       /* "main@sha1:..." */
	const char *namespace_;     /* the Kustomization */
	const char *name;
	long timeout_ms;
};

/* Builds the request for h into out.  -ERR_INVALID, -ERR_NOMEM. */
int notify_hook_request(struct notify_request *out, const struct notify_hook *h,
                        struct err *err);

/* "flux" or "argocd" from a word (NULL: by URL: a path ending in
 * /api/webhook is Argo CD's).  -1 for an unknown word. */
int notify_hook_kind_parse(const char *word, const char *url,
                           enum notify_hook_kind *out);

/* ---- the notifier: Alerts, sent in the background ---- */

struct notify_options {
	/* Called after each request: provider type and "sent" or "failed".
	   May be NULL. */
	void (*observe)(const char *type, const char *result, void *payload);
	void *payload;
	long retry_ms; /* first wait between tries; 0: NOTIFY_RETRY_MS */
};

#define NOTIFY_OPTIONS_INIT                                                    \
	{                                                                      \
		NULL, NULL, 0                                                  \
	}

struct notifier;

/* Starts the notifier's thread.  -ERR_NOMEM, -ERR_INTERNAL. */
int notify_new(struct notifier **out, const struct notify_options *opts,
               struct err *err);

/*
 * Stops the thread after the queued requests had their chance, at most
 * timeout_ms (what is left is dropped, and logged).  NULL is a no-op.
 */
void notify_free(struct notifier *n, int64_t timeout_ms);

/*
 * Queues ev for every Alert of cfg that lets it through.  Returns how many
 * requests were queued; problems (a Provider without a token, a full
 * queue) are logged, never returned: a notification is not worth failing
 * a reconcile for.  cfg is read during the call only.
 */
size_t notify_event(struct notifier *n, const struct config *cfg,
                    const struct notify_event *ev);

/* Waits until nothing is queued or being sent, at most timeout_ms. */
void notify_flush(struct notifier *n, int64_t timeout_ms);

#endif
