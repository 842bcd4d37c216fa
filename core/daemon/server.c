/*
 * server.c - the daemon's HTTP listener (libmicrohttpd, its own polling
 * thread): /healthz, /readyz, /metrics, the webhook receivers, and the
 * status page's paths, which go to ui.c.  A request body is collected up
 * to DAEMON_MAX_BODY (413 past it, checked on Content-Length first and
 * while reading), then handed to the receiver module to verify and parse;
 * what it names is enqueued.  Nothing here runs a stage or touches Git.
 */
#include "server.h"

#include <arpa/inet.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "base/log.h"
#include "base/util.h"
#include "daemon_int.h"
#include "http_int.h"
#include "ui.h"

#define MOD "server"

struct server {
	struct MHD_Daemon *mhd;
	struct daemon *d;
	struct ui *ui; /* the status page */
	struct buf cert, key;
};

/* ---- shared by both listeners (http_int.h) ---- */

enum MHD_Result
http_reply(struct MHD_Connection *c, unsigned int status, const char *ctype,
           const char *body, size_t len)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
	        len, (void *)body, MHD_RESPMEM_MUST_COPY);
	enum MHD_Result rc;

	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, "Content-Type", ctype);
	MHD_add_response_header(r, "Cache-Control", "no-store");
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

enum MHD_Result
http_text(struct MHD_Connection *c, unsigned int status, const char *text)
{
	return http_reply(c, status, "text/plain; charset=utf-8", text,
	                  strlen(text));
}

void
http_request_free(struct http_request *r)
{
	if (r == NULL)
		return;
	buf_release(&r->body);
	free(r);
}

/*
 * The body-collecting part of an access handler.  Returns 1 when the
 * handler should return MHD_YES now (more data to come, or an early
 * reply was queued), 0 when the whole request is in *req.
 */
int
http_collect(struct MHD_Connection *c, const char *upload, size_t *upload_len,
             void **con_cls, size_t max, struct http_request **req,
             enum MHD_Result *ret)
{
	struct http_request *r = *con_cls;

	*ret = MHD_YES;
	if (r == NULL) {
		const char *cl = MHD_lookup_connection_value(
		        c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
		long long n = 0;
		struct err e = ERR_INIT;
		r = calloc(1, sizeof(*r));
		if (r == NULL) {
			*ret = MHD_NO;
			return 1;
		}
		r->body = (struct buf)BUF_INIT;
		r->body.max = max;
		*con_cls = r;
		if (cl &&
		    parse_long(cl, strlen(cl), 0, 1LL << 40, &n,
		               "Content-Length", &e) == 0 &&
		    (unsigned long long)n > max)
			r->too_big = true;
		return 1;
	}
	if (*upload_len > 0) {
		if (!r->too_big && buf_add(&r->body, upload, *upload_len) < 0)
			r->too_big = true;
		*upload_len = 0;
		return 1;
	}
	*req = r;
	return 0;
}

void
http_completed(void *cls, struct MHD_Connection *c, void **con_cls,
               enum MHD_RequestTerminationCode toe)
{
	(void)cls;
	(void)c;
	(void)toe;
	http_request_free(*con_cls);
	*con_cls = NULL;
}

/* ---- routes ---- */

static enum MHD_Result
serve_metrics(struct server *s, struct MHD_Connection *c)
{
	struct buf out = BUF_INIT;
	enum MHD_Result rc;

	if (metrics_render(s->d->metrics, &out) < 0) {
		buf_release(&out);
		return http_text(c, 500, "out of memory\n");
	}
	rc = http_reply(c, 200, "text/plain; version=0.0.4; charset=utf-8",
	                out.ptr, out.len);
	buf_release(&out);
	return rc;
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len,
       void **con_cls)
{
	struct server *s = cls;
	struct http_request *req = NULL;
	enum MHD_Result ret;

	(void)version;
	if (http_collect(c, upload, upload_len, con_cls, DAEMON_MAX_BODY, &req,
	                 &ret))
		return ret;
	if (strcmp(url, "/healthz") == 0)
		return http_text(c, 200, "ok\n");
	if (strcmp(url, "/readyz") == 0)
		return atomic_load(&s->d->ready)
		               ? http_text(c, 200, "ok\n")
		               : http_text(c, 503, "not ready\n");
	if (strcmp(url, "/metrics") == 0) {
		if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0)
			return http_text(c, 405, "use GET\n");
		return serve_metrics(s, c);
	}
	if (strncmp(url, "/hook/", 6) == 0 || strcmp(url, "/webhook") == 0)
		return webhook_serve(s->d, c, url, method, req);
	if (ui_owns(url))
		return ui_serve(s->ui, c, url, method, req);
	return http_text(c, 404, "not found\n");
}

/* "host:port" (IPv4, or [IPv6]:port) into a socket address. */
static int
listen_addr(struct sockaddr_storage *out, socklen_t *len, const char *spec,
            struct err *err)
{
	struct addrinfo hints = { 0 }, *ai = NULL;
	char host[256];
	const char *colon = strrchr(spec, ':');
	size_t hl;
	int rc;

	if (colon == NULL || colon == spec || colon[1] == '\0')
		return err_set(err, ERR_INVALID,
		               "--listen '%s': give HOST:PORT, for example "
		               "127.0.0.1:9292",
		               spec);
	hl = (size_t)(colon - spec);
	if (spec[0] == '[' && hl > 2 && spec[hl - 1] == ']') {
		spec++;
		hl -= 2;
	}
	if (hl >= sizeof(host))
		return err_set(err, ERR_INVALID, "--listen '%s': host too long",
		               spec);
	memcpy(host, spec, hl);
	host[hl] = '\0';
	hints.ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE;
	hints.ai_socktype = SOCK_STREAM;
	rc = getaddrinfo(host, colon + 1, &hints, &ai);
	if (rc != 0)
		return err_set(err, ERR_INVALID,
		               "--listen '%s': %s (give a numeric address and "
		               "port)",
		               spec, gai_strerror(rc));
	memcpy(out, ai->ai_addr, ai->ai_addrlen);
	*len = ai->ai_addrlen;
	freeaddrinfo(ai);
	return 0;
}

int
server_start(struct server **out, struct daemon *d, struct err *err)
{
	struct server *s = NULL;
	struct sockaddr_storage sa;
	socklen_t salen = 0;
	/* Suspend/resume: the status page's live streams wait without
	 * holding the one polling thread (ui.c). */
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_EPOLL |
	                     MHD_ALLOW_SUSPEND_RESUME;
	const union MHD_DaemonInfo *info;
	char addr[128];
	int rc;

	*out = NULL;
	if (strcmp(d->o.listen, "off") == 0 || d->o.listen[0] == '\0')
		return 0;
	if ((rc = listen_addr(&sa, &salen, d->o.listen, err)) < 0)
		return rc;
	if ((s = calloc(1, sizeof(*s))) == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	s->d = d;
	s->cert = (struct buf)BUF_INIT;
	s->key = (struct buf)BUF_INIT;
	if (sa.ss_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	if (d->o.tls_cert || d->o.tls_key) {
		if (!d->o.tls_cert || !d->o.tls_key) {
			rc = err_set(err, ERR_INVALID,
			             "give both --tls-cert and --tls-key");
			goto fail;
		}
		if ((rc = file_read(&s->cert, d->o.tls_cert, err)) < 0 ||
		    (rc = file_read(&s->key, d->o.tls_key, err)) < 0)
			goto fail;
		flags |= MHD_USE_TLS;
	}
	if ((rc = ui_new(&s->ui, d, err)) < 0)
		goto fail;
	s->mhd = MHD_start_daemon(
	        flags, 0, NULL, NULL, handle, s, MHD_OPTION_SOCK_ADDR, &sa,
	        MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
	        MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)30,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)256,
	        MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)(64 << 10),
	        (flags & MHD_USE_TLS) ? MHD_OPTION_HTTPS_MEM_CERT
	                              : MHD_OPTION_END,
	        s->cert.ptr, MHD_OPTION_HTTPS_MEM_KEY, s->key.ptr,
	        MHD_OPTION_END);
	if (s->mhd == NULL) {
		rc = err_set(err, ERR_INVALID,
		             "cannot listen on %s (in use, or not an address "
		             "of this host%s)",
		             d->o.listen,
		             (flags & MHD_USE_TLS)
		                     ? ", or a bad certificate or "
		                       "key"
		                     : "");
		goto fail;
	}
	info = MHD_get_daemon_info(s->mhd, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(addr, sizeof(addr), "%.*s:%u",
	         (int)(strrchr(d->o.listen, ':') - d->o.listen), d->o.listen,
	         info ? info->port : 0);
	log_info(MOD, "listening", "addr", addr, "tls",
	         (flags & MHD_USE_TLS) ? "yes" : "no");
	*out = s;
	return 0;
fail:
	server_stop(s);
	return rc;
}

void
server_stop(struct server *s)
{
	if (s == NULL)
		return;
	ui_shutdown(s->ui);
	if (s->mhd)
		MHD_stop_daemon(s->mhd);
	ui_free(s->ui);
	secret_wipe(s->key.ptr, s->key.len);
	buf_release(&s->key);
	buf_release(&s->cert);
	free(s);
}
