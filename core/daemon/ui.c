/*
 * ui.c - the status page's requests: which paths it serves, who may see
 * them (--ui-token-file), the actions and their CSRF checks, the static
 * files, the headers every page carries (a strict
 * Content-Security-Policy), and the live updates over Server-Sent Events.
 * The pages themselves are ui_pages.c's.
 *
 * Live updates and the listener's one thread.  The listener runs
 * libmicrohttpd with one internal polling thread for every connection, so
 * a stream's content callback must never wait for an event: it would
 * stall every other request, webhooks included.  A stream's callback
 * sends what is new and, when nothing is, suspends its connection
 * (MHD_suspend_connection) and returns 0; a thread of the ui's own waits
 * on the event ring (events_since with a wait) and resumes the suspended
 * streams when an event arrives, or after UI_KEEPALIVE_MS for a comment
 * line that keeps proxies from closing them.  A suspended connection
 * costs no thread and no polling.  Rejected: a callback that returns 0
 * without suspending (MHD calls it again at once: a busy loop, one core
 * per open page), and thread-per-connection for the listener (a thread per
 * open page and per webhook delivery, and every route's threading
 * changed).  Measured on this 2-core machine, release build, 32 pages
 * open (the limit; the 33rd gets 503): the daemon's CPU while idle stays
 * at 0.0% over 20 s (one wake-up per 15 s), and /healthz answers in a
 * median 0.16 ms, as with none open (0.18 ms).
 *
 * It never runs a stage: an action enqueues the object (reconcile) or
 * sets its suspension, as the control API does.
 */
#include "ui.h"

#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/log.h"
#include "base/secret.h"
#include "base/util.h"
#include "daemon_int.h"
#include "http_int.h"
#include "ui_int.h"

#define MOD "ui"
#define CSRF_BYTES 32
#define STREAM_BLOCK 4096

/* Sent with every page and file: only ferry's own script, style and
 * images; no inline script or style, no framing, forms only to itself. */
#define UI_CSP                                                                 \
	"default-src 'none'; script-src 'self'; style-src 'self'; "            \
	"img-src 'self'; connect-src 'self'; form-action 'self'; "             \
	"base-uri 'none'; frame-ancestors 'none'"

struct ui_stream {
	struct ui *ui;
	struct MHD_Connection *c;
	uint64_t seq;   /* the last event sent */
	struct buf out; /* formatted, from off on not yet handed to MHD */
	size_t off;
	int64_t last_ms; /* when something was last sent */
	bool suspended;
	struct ui_stream *prev, *next;
};

struct ui {
	struct daemon *d;
	struct secret token; /* empty: open, read-only */
	char csrf[2 * CSRF_BYTES + 1];
	pthread_mutex_t mu; /* guards streams, nstreams, closing */
	struct ui_stream *streams;
	size_t nstreams;
	bool closing;
	pthread_t waker;
	bool waker_started;
};

static double
ms_between(const struct timespec *a, const struct timespec *b)
{
	return (double)(b->tv_sec - a->tv_sec) * 1e3 +
	       (double)(b->tv_nsec - a->tv_nsec) / 1e6;
}

/* The newest event's number (0: none yet). */
static uint64_t
last_seq(struct events *ev)
{
	struct event *v = NULL;
	size_t n = 0;
	uint64_t seq = 0;

	if (events_since(ev, 0, 1, 0, &v, &n, NULL) == 0 && n == 1)
		seq = v[0].seq;
	events_array_free(v, n);
	return seq;
}

/* ---- replies ---- */

static void
common_headers(struct MHD_Response *r, const char *ctype, const char *cache)
{
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", cache);
	MHD_add_response_header(r, "Content-Security-Policy", UI_CSP);
	MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
	MHD_add_response_header(r, "X-Frame-Options", "DENY");
	MHD_add_response_header(r, "Referrer-Policy", "no-referrer");
}

/* Queues body (taken, freed by MHD) with the page headers; render_ms >= 0
 * adds Server-Timing: the render's wall time, and the listener thread's
 * CPU time in it (cpu_ms), which a busy machine does not inflate. */
static enum MHD_Result
reply_buf(struct MHD_Connection *c, unsigned int status, const char *ctype,
          struct buf *body, double render_ms, double cpu_ms)
{
	size_t len = body->len;
	char *p = buf_detach(body);
	struct MHD_Response *r;
	enum MHD_Result rc;
	char timing[64];

	if (p == NULL)
		return http_text(c, 500, "out of memory\n");
	r = MHD_create_response_from_buffer(len, p, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		free(p);
		return MHD_NO;
	}
	common_headers(r, ctype, "no-store");
	if (render_ms >= 0) {
		snprintf(timing, sizeof(timing),
		         "render;dur=%.3f, cpu;dur=%.3f", render_ms, cpu_ms);
		MHD_add_response_header(r, "Server-Timing", timing);
	}
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, text);
	return reply_buf(c, status, "text/plain; charset=utf-8", &b, -1, -1);
}

static enum MHD_Result
reply_asset(struct MHD_Connection *c, const struct ui_asset *a)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	        a->len, (void *)a->data, MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	/* The pages name them with ?v=VERSION: an upgrade changes the
	 * URL. */
	common_headers(r, a->ctype, "public, max-age=86400");
	rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_redirect(struct MHD_Connection *c, const char *to)
{
	struct MHD_Response *r =
	        MHD_create_response_from_buffer(0, "", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	common_headers(r, "text/plain; charset=utf-8", "no-store");
	MHD_add_response_header(r, "Location", to);
	rc = MHD_queue_response(c, 303, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result
reply_unauthorized(struct MHD_Connection *c)
{
	struct MHD_Response *r;
	static const char body[] =
	        "this page wants the token of --ui-token-file: "
	        "Authorization: Bearer TOKEN, or TOKEN as the password\n";
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(sizeof(body) - 1, (void *)body,
	                                    MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	common_headers(r, "text/plain; charset=utf-8", "no-store");
	MHD_add_response_header(r, "WWW-Authenticate",
	                        "Basic realm=\"ferry\", charset=\"UTF-8\"");
	MHD_add_response_header(r, "WWW-Authenticate",
	                        "Bearer realm=\"ferry\"");
	rc = MHD_queue_response(c, 401, r);
	MHD_destroy_response(r);
	return rc;
}

/* ---- who may see and act ---- */

static const char *
header(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_HEADER_KIND, name);
}

/* Constant-time comparison of a presented token with the daemon's. */
static bool
token_matches(const struct ui *ui, const char *p, size_t n)
{
	return n == ui->token.len && sodium_memcmp(p, ui->token.ptr, n) == 0;
}

static bool
authorized(struct ui *ui, struct MHD_Connection *c)
{
	const char *h = header(c, "Authorization");
	struct buf plain = BUF_INIT;
	struct err e = ERR_INIT;
	const char *colon;
	bool ok = false;

	if (ui->token.len == 0)
		return true;
	if (h == NULL)
		return false;
	if (strncasecmp(h, "Bearer ", 7) == 0) {
		h += 7;
		while (*h == ' ')
			h++;
		return token_matches(ui, h, strlen(h));
	}
	if (strncasecmp(h, "Basic ", 6) != 0)
		return false;
	h += 6;
	while (*h == ' ')
		h++;
	plain.max = 2 * UI_MAX_TOKEN;
	/* user:password; the user name is not checked */
	if (base64_decode(&plain, h, strlen(h), &e) == 0 &&
	    (colon = memchr(plain.ptr, ':', plain.len)) != NULL)
		ok = token_matches(ui, colon + 1,
		                   plain.len - (size_t)(colon + 1 - plain.ptr));
	secret_wipe(plain.ptr, plain.len);
	buf_release(&plain);
	return ok;
}

/*
 * A POST from another site would carry the browser's Basic credentials:
 * refuse it when the browser says where it came from (Sec-Fetch-Site,
 * Origin), on top of the form's CSRF token.
 */
static bool
same_origin(struct ui *ui, struct MHD_Connection *c)
{
	const char *site = header(c, "Sec-Fetch-Site");
	const char *origin = header(c, "Origin");
	const char *host = header(c, "Host");
	struct buf want = BUF_INIT;
	bool ok;

	if (site && strcmp(site, "same-origin") != 0)
		return false;
	if (origin == NULL)
		return true;
	if (host == NULL)
		return false;
	buf_addf(&want, "%s://%s", ui->d->o.tls_cert ? "https" : "http", host);
	ok = buf_ok(&want) && strcmp(origin, want.ptr) == 0;
	buf_release(&want);
	return ok;
}

/* The value of key in an application/x-www-form-urlencoded body, decoded
 * into out; false when absent or longer than outsz - 1. */
static bool
form_value(const struct buf *body, const char *key, char *out, size_t outsz)
{
	const char *p = body->ptr, *end = body->ptr + body->len;
	size_t kl = strlen(key);

	while (p < end) {
		const char *amp = memchr(p, '&', (size_t)(end - p));
		const char *stop = amp ? amp : end;
		size_t n = 0;
		if ((size_t)(stop - p) > kl && memcmp(p, key, kl) == 0 &&
		    p[kl] == '=') {
			for (const char *q = p + kl + 1; q < stop; q++) {
				int ch = (unsigned char)*q;
				if (ch == '+') {
					ch = ' ';
				} else if (ch == '%') {
					int hi, lo;
					if (stop - q < 3 ||
					    (hi = hex_digit(q[1])) < 0 ||
					    (lo = hex_digit(q[2])) < 0)
						return false;
					ch = hi * 16 + lo;
					q += 2;
				}
				if (n + 1 >= outsz || ch == 0)
					return false;
				out[n++] = (char)ch;
			}
			out[n] = '\0';
			return true;
		}
		p = stop + 1;
	}
	return false;
}

/* Where an action sends the browser back: one of our own paths. */
static bool
safe_back(const char *p)
{
	if (p[0] != '/' || p[1] == '/' || p[1] == '\\')
		return false;
	for (; *p; p++)
		if (!strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWX"
		            "YZ0123456789/._~%-?=&#",
		            *p))
			return false;
	return true;
}

static enum MHD_Result
serve_action(struct ui *ui, struct MHD_Connection *c,
             const struct http_request *req)
{
	static const enum config_kind kinds[] = { CONFIG_IMAGEREPOSITORY,
		                                  CONFIG_IMAGEPOLICY,
		                                  CONFIG_IMAGEUPDATEAUTOMATION,
		                                  CONFIG_KUSTOMIZATION };
	char action[16], kind[64], ns[256], name[256], csrf[128], back[512];
	const struct config_object *o = NULL;
	struct snapshot *s;
	struct err e = ERR_INIT;
	int rc = 0;

	if (ui->token.len == 0)
		return reply_text(c, 403,
		                  "actions are off: start the daemon with "
		                  "--ui-token-file\n");
	if (req == NULL || req->too_big || req->body.len > UI_MAX_FORM)
		return reply_text(c, 413, "form too large\n");
	if (!same_origin(ui, c))
		return reply_text(c, 403, "cross-site request refused\n");
	if (!form_value(&req->body, "csrf", csrf, sizeof(csrf)) ||
	    strlen(csrf) != sizeof(ui->csrf) - 1 ||
	    sodium_memcmp(csrf, ui->csrf, sizeof(ui->csrf) - 1) != 0)
		return reply_text(c, 403,
		                  "missing or stale form token: load the page "
		                  "again\n");
	if (!form_value(&req->body, "action", action, sizeof(action)) ||
	    !form_value(&req->body, "kind", kind, sizeof(kind)) ||
	    !form_value(&req->body, "namespace", ns, sizeof(ns)) ||
	    !form_value(&req->body, "name", name, sizeof(name)))
		return reply_text(c, 400,
		                  "give action, kind, namespace and name\n");
	s = daemon_snapshot(ui->d);
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds) && o == NULL; k++)
		if (strcmp(kind, config_kind_name(kinds[k])) == 0)
			o = config_find(s->cfg, kinds[k], ns, name);
	if (o == NULL) {
		snapshot_release(s);
		return reply_text(c, 404, "no such object\n");
	}
	if (strcmp(action, "reconcile") == 0)
		/* in a fleet, on the member that owns it */
		rc = daemon_route(ui->d, s, o, QUEUE_MANUAL, NULL);
	else if (strcmp(action, "suspend") == 0 ||
	         strcmp(action, "resume") == 0)
		rc = daemon_suspend_object(ui->d, o, action[0] == 's',
		                           "the status page", &e);
	else
		rc = err_set(&e, ERR_INVALID, "unknown action");
	log_info(MOD, "action", "action", action, "kind", kind, "object", name,
	         "result", rc < 0 ? "failed" : "ok");
	snapshot_release(s);
	if (rc < 0)
		return reply_text(c, rc == -ERR_INVALID ? 400 : 503,
		                  rc == -ERR_CONFLICT
		                          ? "the daemon is shutting down\n"
		                          : "the action failed\n");
	if (!form_value(&req->body, "back", back, sizeof(back)) ||
	    !safe_back(back))
		return reply_redirect(c, "/");
	return reply_redirect(c, back);
}

/* ---- live updates ---- */

/* What is new for s, formatted into s->out.  Called with ui->mu held. */
static void
stream_fill(struct ui *ui, struct ui_stream *s)
{
	struct event *v = NULL;
	size_t n = 0;

	if (events_since(ui->d->events, s->seq, 64, 0, &v, &n, NULL) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		char *json;
		s->seq = v[i].seq;
		if (o == NULL)
			continue;
		cJSON_AddNumberToObject(o, "seq", (double)v[i].seq);
		cJSON_AddStringToObject(o, "severity",
		                        event_severity_name(v[i].severity));
		cJSON_AddStringToObject(o, "kind", v[i].kind);
		cJSON_AddStringToObject(o, "namespace", v[i].namespace_);
		cJSON_AddStringToObject(o, "name", v[i].name);
		cJSON_AddStringToObject(o, "reason", v[i].reason);
		/* One line: cJSON escapes every control character, so a
		 * message cannot end the SSE field early. */
		json = cJSON_PrintUnformatted(o);
		if (json)
			buf_addf(&s->out,
			         "id: %llu\nevent: change\ndata: %s\n\n",
			         (unsigned long long)v[i].seq, json);
		cJSON_free(json);
		cJSON_Delete(o);
	}
	events_array_free(v, n);
	if (s->out.len == 0 && mono_ms() - s->last_ms >= UI_KEEPALIVE_MS / 2)
		buf_puts(&s->out, ": keepalive\n\n");
}

/*
 * MHD's content callback: never waits.  With nothing to send, it suspends
 * the connection and returns 0; the waker resumes it.
 */
static ssize_t
stream_read(void *cls, uint64_t pos, char *dst, size_t max)
{
	struct ui_stream *s = cls;
	struct ui *ui = s->ui;
	ssize_t n = 0;

	(void)pos;
	pthread_mutex_lock(&ui->mu);
	if (ui->closing) {
		n = MHD_CONTENT_READER_END_OF_STREAM;
		goto out;
	}
	if (s->off == s->out.len) {
		buf_reset(&s->out);
		s->off = 0;
		stream_fill(ui, s);
	}
	if (!buf_ok(&s->out)) {
		n = MHD_CONTENT_READER_END_WITH_ERROR;
		goto out;
	}
	if (s->off == s->out.len) {
		s->suspended = true;
		MHD_suspend_connection(s->c);
		goto out;
	}
	n = (ssize_t)(s->out.len - s->off < max ? s->out.len - s->off : max);
	memcpy(dst, s->out.ptr + s->off, (size_t)n);
	s->off += (size_t)n;
	s->last_ms = mono_ms();
out:
	pthread_mutex_unlock(&ui->mu);
	return n;
}

static void
stream_free(void *cls)
{
	struct ui_stream *s = cls;
	struct ui *ui = s->ui;

	pthread_mutex_lock(&ui->mu);
	if (s->prev)
		s->prev->next = s->next;
	else
		ui->streams = s->next;
	if (s->next)
		s->next->prev = s->prev;
	ui->nstreams--;
	pthread_mutex_unlock(&ui->mu);
	buf_release(&s->out);
	free(s);
}

static enum MHD_Result
serve_stream(struct ui *ui, struct MHD_Connection *c)
{
	struct ui_stream *s = calloc(1, sizeof(*s));
	struct MHD_Response *r;
	enum MHD_Result rc;

	if (s == NULL)
		return reply_text(c, 500, "out of memory\n");
	s->ui = ui;
	s->c = c;
	s->out = (struct buf)BUF_INIT;
	/* Only what happens from now on: the page was rendered just now.
	 * A reconnecting page asks for itself again instead of catching up
	 * (after a restart the numbers start again). */
	s->seq = last_seq(ui->d->events);
	s->last_ms = mono_ms();
	buf_puts(&s->out, "retry: 2000\n\n");
	pthread_mutex_lock(&ui->mu);
	if (ui->closing || ui->nstreams >= UI_MAX_STREAMS) {
		pthread_mutex_unlock(&ui->mu);
		buf_release(&s->out);
		free(s);
		return reply_text(c, 503, "too many live pages open\n");
	}
	s->next = ui->streams;
	if (ui->streams)
		ui->streams->prev = s;
	ui->streams = s;
	ui->nstreams++;
	pthread_mutex_unlock(&ui->mu);
	/* From here on MHD owns s: stream_free unlinks and frees it. */
	r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, STREAM_BLOCK,
	                                      stream_read, s, stream_free);
	if (r == NULL) {
		stream_free(s);
		return MHD_NO;
	}
	common_headers(r, "text/event-stream", "no-store");
	MHD_add_response_header(r, "X-Accel-Buffering", "no");
	rc = MHD_queue_response(c, 200, r);
	MHD_destroy_response(r);
	return rc;
}

/*
 * Takes every suspended stream's connection into c (at most
 * UI_MAX_STREAMS), marking it resumed; with ui->mu held.  The caller
 * resumes them after unlocking, so no libmicrohttpd lock is ever taken
 * under ours from this side.  A suspended connection cannot end until it
 * is resumed, so the pointers stay valid until then.
 */
static size_t
streams_take_suspended(struct ui *ui, struct MHD_Connection **c)
{
	size_t n = 0;

	for (struct ui_stream *s = ui->streams; s && n < UI_MAX_STREAMS;
	     s = s->next) {
		if (!s->suspended)
			continue;
		s->suspended = false;
		c[n++] = s->c;
	}
	return n;
}

static void *
waker(void *arg)
{
	struct ui *ui = arg;
	uint64_t seen = last_seq(ui->d->events);
	struct MHD_Connection *c[UI_MAX_STREAMS];

	for (;;) {
		struct event *v = NULL;
		size_t n = 0, nc;
		bool stop;
		/* Wakes at an event, or for the streams' keepalive. */
		if (events_since(ui->d->events, seen, 1, UI_KEEPALIVE_MS, &v,
		                 &n, NULL) == 0 &&
		    n > 0)
			seen = v[n - 1].seq;
		events_array_free(v, n);
		pthread_mutex_lock(&ui->mu);
		stop = ui->closing;
		nc = stop ? 0 : streams_take_suspended(ui, c);
		pthread_mutex_unlock(&ui->mu);
		for (size_t i = 0; i < nc; i++)
			MHD_resume_connection(c[i]);
		if (stop)
			return NULL;
	}
}

/* ---- requests ---- */

bool
ui_owns(const char *url)
{
	static const char *const exact[] = { "/",
		                             "/images",
		                             "/timeline",
		                             "/automations",
		                             "/kustomizations",
		                             "/events",
		                             "/favicon.svg",
		                             "/favicon.ico" };

	for (size_t i = 0; i < sizeof(exact) / sizeof(*exact); i++)
		if (strcmp(url, exact[i]) == 0)
			return true;
	return strncmp(url, "/images/", 8) == 0 || strncmp(url, "/ui/", 4) == 0;
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	const char *v =
	        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);

	return v && *v ? v : NULL;
}

/* /images/NS/NAME into ns and name; false when it is not that shape. */
static bool
image_path(const char *url, char *ns, size_t nsz, char *name, size_t nmsz)
{
	const char *p = url + 8, *slash = strchr(p, '/');
	size_t a, b;

	if (slash == NULL || strchr(slash + 1, '/'))
		return false;
	a = (size_t)(slash - p);
	b = strlen(slash + 1);
	if (a == 0 || b == 0 || a >= nsz || b >= nmsz)
		return false;
	memcpy(ns, p, a);
	ns[a] = '\0';
	memcpy(name, slash + 1, b + 1);
	return true;
}

static enum MHD_Result
serve_page(struct ui *ui, struct MHD_Connection *c, const char *url)
{
	struct buf out = BUF_INIT;
	struct ui_view v;
	char ns[256], name[256];
	struct timespec a, b, ca, cb;
	int status;

	clock_gettime(CLOCK_MONOTONIC, &a);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
	ui_view_init(&v, ui->d, &out, ui->token.len ? ui->csrf : NULL, url);
	if (strcmp(url, "/") == 0)
		status = ui_page_overview(&v);
	else if (strcmp(url, "/images") == 0)
		status = ui_page_images(&v);
	else if (strncmp(url, "/images/", 8) == 0 &&
	         image_path(url, ns, sizeof(ns), name, sizeof(name)))
		status = ui_page_image(&v, ns, name, arg(c, "days"));
	else if (strcmp(url, "/timeline") == 0)
		status = ui_page_timeline(&v, arg(c, "days"));
	else if (strcmp(url, "/automations") == 0)
		status = ui_page_automations(&v);
	else if (strcmp(url, "/kustomizations") == 0)
		status = ui_page_kustomizations(&v);
	else if (strcmp(url, "/events") == 0)
		status = ui_page_events(&v, arg(c, "kind"), arg(c, "severity"));
	else
		status = ui_page_error(&v, 404, "There is no such page.");
	ui_view_release(&v);
	clock_gettime(CLOCK_MONOTONIC, &b);
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
	return reply_buf(c, (unsigned int)status, "text/html; charset=utf-8",
	                 &out, ms_between(&a, &b), ms_between(&ca, &cb));
}

enum MHD_Result
ui_serve(struct ui *ui, struct MHD_Connection *c, const char *url,
         const char *method, const struct http_request *req)
{
	bool get = strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;

	/* The static files hold no data: no token needed, so the browser's
	 * own favicon request never fails. */
	for (size_t i = 0; i < ui_nassets; i++)
		if (strcmp(url, ui_assets[i].path) == 0 ||
		    (strcmp(url, "/favicon.ico") == 0 &&
		     strcmp(ui_assets[i].path, "/favicon.svg") == 0))
			return get ? reply_asset(c, &ui_assets[i])
			           : reply_text(c, 405, "use GET\n");
	if (!authorized(ui, c))
		return reply_unauthorized(c);
	if (strcmp(url, "/ui/action") == 0)
		return strcmp(method, "POST") == 0
		               ? serve_action(ui, c, req)
		               : reply_text(c, 405, "use POST\n");
	if (!get)
		return reply_text(c, 405, "use GET\n");
	if (strcmp(url, "/ui/stream") == 0)
		return serve_stream(ui, c);
	return serve_page(ui, c, url);
}

/* ---- lifecycle ---- */

static int
token_read(struct ui *ui, const char *path, struct err *err)
{
	struct buf b = BUF_INIT;
	size_t n;
	int rc;

	b.max = UI_MAX_TOKEN;
	if ((rc = file_read(&b, path, err)) < 0) {
		buf_release(&b);
		return err_prefix(err, "--ui-token-file");
	}
	n = b.len;
	while (n > 0 && strchr(" \t\r\n", b.ptr[n - 1]))
		n--;
	if (n == 0 || memchr(b.ptr, '\n', n) != NULL) {
		rc = err_set(err, ERR_INVALID,
		             "--ui-token-file '%s': give one line, the token",
		             path);
	} else if (secret_set(&ui->token, b.ptr, n) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	secret_wipe(b.ptr, b.len);
	buf_release(&b);
	return rc;
}

int
ui_new(struct ui **out, struct daemon *d, struct err *err)
{
	struct ui *ui = calloc(1, sizeof(*ui));
	unsigned char raw[CSRF_BYTES];
	int rc;

	*out = NULL;
	if (ui == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	ui->d = d;
	ui->token = (struct secret)SECRET_INIT;
	pthread_mutex_init(&ui->mu, NULL);
	if (d->o.ui_token_file &&
	    (rc = token_read(ui, d->o.ui_token_file, err)) < 0) {
		ui_free(ui);
		return rc;
	}
	/* The action forms' token: random per process, so a page from
	 * before a restart asks to be loaded again. */
	randombytes_buf(raw, sizeof(raw));
	sodium_bin2hex(ui->csrf, sizeof(ui->csrf), raw, sizeof(raw));
	sodium_memzero(raw, sizeof(raw));
	if (pthread_create(&ui->waker, NULL, waker, ui) != 0) {
		ui_free(ui);
		return err_set(err, ERR_NOMEM, "cannot start a thread");
	}
	ui->waker_started = true;
	log_info(MOD, "status_page", "access",
	         ui->token.len ? "token (actions on)" : "open (read-only)");
	*out = ui;
	return 0;
}

void
ui_shutdown(struct ui *ui)
{
	struct MHD_Connection *c[UI_MAX_STREAMS];
	size_t nc;

	if (ui == NULL)
		return;
	/* Each stream's next turn ends it. */
	pthread_mutex_lock(&ui->mu);
	ui->closing = true;
	nc = streams_take_suspended(ui, c);
	pthread_mutex_unlock(&ui->mu);
	for (size_t i = 0; i < nc; i++)
		MHD_resume_connection(c[i]);
	if (ui->waker_started) {
		/* The waker may wait on the ring: the daemon is stopping,
		 * so every such wait may end now. */
		events_wake(ui->d->events);
		pthread_join(ui->waker, NULL);
		ui->waker_started = false;
	}
}

void
ui_free(struct ui *ui)
{
	if (ui == NULL)
		return;
	ui_shutdown(ui);
	/* MHD freed every stream when the listener stopped. */
	secret_release(&ui->token);
	sodium_memzero(ui->csrf, sizeof(ui->csrf));
	pthread_mutex_destroy(&ui->mu);
	free(ui);
}
