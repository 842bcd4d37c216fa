/*
 * webhook.c - the webhook route of the daemon's listener.  It finds the
 * receiver a request is for (a Flux Receiver by its published path, or
 * Argo CD Image Updater's /webhook?type=), has core/receiver verify and
 * parse it, drops a delivery seen before, and enqueues:
 *   - for each pushed tag, the ImageRepositories whose image is the
 *     event's repository, with the tag as a hint (the fast path: the
 *     worker confirms that tag with one HEAD, the policy and write-back
 *     run at once, the full listing follows);
 *   - for a digest-only push, a full scan of those repositories;
 *   - for an untyped receiver (generic, generic-hmac, nexus, cdevents),
 *     every object in its spec.resources.
 * A Flux Receiver only triggers what its spec.resources name; the Argo
 * endpoint, which has no resources, triggers every matching repository
 * and every Argo CD Application with a matching image (a full run: the
 * Application stage lists its images' tags itself), as Argo CD Image
 * Updater's webhook runs every ImageUpdater image the event names.
 */
#include "daemon_int.h"
#include "http_int.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/log.h"
#include "config/argocd.h"
#include "receiver/receiver.h"

#define MOD "webhook"
#define MAX_HEADERS 128
#define ARGO_SECRET_NAME "argocd-image-updater-secret"

struct headers {
	struct receiver_header v[MAX_HEADERS];
	size_t n;
};

static enum MHD_Result
header_add(void *cls, enum MHD_ValueKind kind, const char *key,
           const char *value)
{
	struct headers *h = cls;

	(void)kind;
	if (h->n < MAX_HEADERS && key && value) {
		h->v[h->n].name = key;
		h->v[h->n].value = value;
		h->n++;
	}
	return MHD_YES;
}

/* The Secret value key of the Secret ref names, as a C string, or NULL. */
static const struct secret *
secret_of(const struct config *cfg, const struct config_object *o,
          const struct config_local_ref *ref, const char *key)
{
	const struct config_object *s =
	        ref->name ? config_secret_for(cfg, o, ref) : NULL;

	return s ? config_secret_value(s, key) : NULL;
}

/* Does resource r of a Receiver name object o? */
static bool
resource_names(const struct config_receiver_resource *r,
               const struct config_object *rec, const struct config_object *o)
{
	const char *ns = r->namespace ? r->namespace : rec->metadata.namespace;

	if (r->kind == NULL ||
	    strcmp(r->kind, config_kind_name(o->kind)) != 0 ||
	    strcmp(ns, o->metadata.namespace) != 0)
		return false;
	if (r->name && strcmp(r->name, "*") != 0)
		return strcmp(r->name, o->metadata.name) == 0;
	for (size_t i = 0; i < r->match_labels.n; i++) {
		const char *v = config_strmap_get(&o->metadata.labels,
		                                  r->match_labels.keys[i]);
		if (v == NULL || strcmp(v, r->match_labels.values[i]) != 0)
			return false;
	}
	return true;
}

static bool
receiver_names(const struct config_object *rec, const struct config_object *o)
{
	const struct config_receiver *r = &rec->u.receiver;

	for (size_t i = 0; i < r->n_resources; i++)
		if (resource_names(&r->resources[i], rec, o))
			return true;
	return false;
}

/* Every object the Receiver names, for an untyped request. */
static size_t
trigger_resources(struct daemon *d, struct snapshot *s,
                  const struct config_object *rec)
{
	static const enum config_kind kinds[] = { CONFIG_IMAGEREPOSITORY,
		                                  CONFIG_IMAGEPOLICY,
		                                  CONFIG_IMAGEUPDATEAUTOMATION,
		                                  CONFIG_KUSTOMIZATION };
	size_t n = 0;

	for (size_t k = 0; k < 4; k++)
		for (size_t i = 0; i < config_count(s->cfg, kinds[k]); i++) {
			const struct config_object *o =
			        config_get(s->cfg, kinds[k], i);
			if (receiver_names(rec, o) &&
			    daemon_route(d, s, o, QUEUE_WEBHOOK, NULL) == 0)
				n++;
		}
	return n;
}

/* The ImageRepositories an event names (among rec's resources when rec is
 * a Flux Receiver); tag NULL asks for a full scan. */
static size_t
trigger_event(struct daemon *d, struct snapshot *s,
              const struct config_object *rec, const struct receiver_event *ev)
{
	size_t n = 0, nr = config_count(s->cfg, CONFIG_IMAGEREPOSITORY);

	for (size_t i = 0; i < nr; i++) {
		const struct config_object *o =
		        config_get(s->cfg, CONFIG_IMAGEREPOSITORY, i);
		if (rec && !receiver_names(rec, o))
			continue;
		if (!daemon_repo_matches(s, i, ev->host, ev->repository))
			continue;
		if (daemon_route(d, s, o, QUEUE_WEBHOOK, ev->tag) == 0)
			n++;
	}
	/* Argo CD Image Updater's endpoint: the Applications with an image
	 * the event names run now (their stage lists the tags itself) */
	for (size_t i = 0; rec == NULL && i < config_argocd_unit_count(s->cfg);
	     i++) {
		const struct config_argocd_unit *u =
		        config_argocd_unit_get(s->cfg, i);

		for (size_t k = 0; k < u->n_images; k++) {
			const struct config_argocd_image *img =
			        u->images[k].image;

			if (!daemon_image_matches(img->image_name,
			                          img->name_len, ev->host,
			                          ev->repository))
				continue;
			if (daemon_route(d, s, u->app, QUEUE_WEBHOOK, NULL) ==
			    0)
				n++;
			break;
		}
	}
	return n;
}

/* Where Argo CD Image Updater keeps a type's secret: the key of Secret
 * argocd-image-updater-secret (any namespace), else its variable. */
static const struct secret *
argo_secret(const struct config *cfg, enum receiver_type type,
            struct secret *from_env)
{
	const struct receiver_argo_secret_source *src =
	        receiver_argo_secret_source(type);
	const char *v;

	if (src == NULL)
		return NULL;
	for (size_t i = 0; i < config_count(cfg, CONFIG_SECRET); i++) {
		const struct config_object *o =
		        config_get(cfg, CONFIG_SECRET, i);
		const struct secret *sv;
		if (strcmp(o->metadata.name, ARGO_SECRET_NAME) != 0)
			continue;
		if ((sv = config_secret_value(o, src->secret_key)) != NULL)
			return sv;
	}
	if ((v = getenv(src->env)) != NULL && *v &&
	    secret_set(from_env, v, strlen(v)) == 0)
		return from_env;
	return NULL;
}

enum MHD_Result
webhook_serve(struct daemon *d, struct MHD_Connection *c, const char *url,
              const char *method, struct http_request *req)
{
	struct receiver_config cfg = RECEIVER_CONFIG_INIT;
	struct receiver_request r = { 0 };
	struct receiver_result res = RECEIVER_RESULT_INIT;
	struct snapshot *s = daemon_snapshot(d);
	const struct config_object *rec = NULL;
	struct secret env_secret = SECRET_INIT;
	struct headers *h = NULL;
	struct buf key = BUF_INIT, reply = BUF_INIT;
	struct err e = ERR_INIT;
	const char *type_name = "unknown";
	char code[32];
	size_t triggered = 0, dup = 0;
	enum MHD_Result ret;
	int status;

	if (strncmp(url, "/hook/", 6) == 0) {
		for (size_t i = 0; i < config_count(s->cfg, CONFIG_RECEIVER);
		     i++)
			if (strcmp(s->receiver_paths[i], url) == 0)
				rec = config_get(s->cfg, CONFIG_RECEIVER, i);
		if (rec == NULL) {
			status = 404;
			buf_puts(&reply, "no receiver at this path\n");
			goto reply;
		}
		type_name = rec->u.receiver.type;
		if (rec->u.receiver.suspend) {
			status = 503;
			buf_puts(&reply, "receiver is suspended\n");
			goto reply;
		}
		if (receiver_type_parse(&cfg.type, rec->u.receiver.type, &e) <
		    0) {
			status = 400;
			buf_addf(&reply, "%s\n", e.msg);
			goto reply;
		}
		cfg.token = secret_of(s->cfg, rec, &rec->u.receiver.secret_ref,
		                      "token");
		cfg.events = (const char *const *)rec->u.receiver.events.items;
		cfg.nevents = rec->u.receiver.events.n;
		{
			const struct secret *em =
			        secret_of(s->cfg, rec,
			                  &rec->u.receiver.secret_ref, "email");
			const struct secret *au = secret_of(
			        s->cfg, rec, &rec->u.receiver.secret_ref,
			        "audience");
			const struct secret *jw =
			        secret_of(s->cfg, rec,
			                  &rec->u.receiver.secret_ref, "jwks");
			cfg.gcr_email = em ? (const char *)em->ptr : NULL;
			cfg.gcr_audience = au ? (const char *)au->ptr : NULL;
			cfg.gcr_jwks = jw ? (const char *)jw->ptr : NULL;
			cfg.gcr_jwks_len = jw ? jw->len : 0;
		}
	} else {
		const char *t = MHD_lookup_connection_value(
		        c, MHD_GET_ARGUMENT_KIND, "type");
		if (t == NULL ||
		    receiver_argo_type_parse(&cfg.type, t, &e) < 0) {
			status = 400;
			buf_addf(&reply, "%s\n",
			         t ? e.msg
			           : "give ?type= (docker.io, ghcr.io, harbor, "
			             "quay.io, aliyun-acr, acr, cloudevents)");
			goto reply;
		}
		type_name = receiver_type_name(cfg.type);
		cfg.token = argo_secret(s->cfg, cfg.type, &env_secret);
	}
	if (req->too_big) {
		status = 413;
		buf_addf(&reply, "body larger than %zu bytes\n",
		         (size_t)DAEMON_MAX_BODY);
		goto reply;
	}
	if ((h = calloc(1, sizeof(*h))) == NULL) {
		status = 500;
		goto reply;
	}
	MHD_get_connection_values(c, MHD_HEADER_KIND, header_add, h);
	r.method = method;
	r.headers = h->v;
	r.nheaders = h->n;
	r.query_secret =
	        MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, "secret");
	r.query_registry_url = MHD_lookup_connection_value(
	        c, MHD_GET_ARGUMENT_KIND, "registry_url");
	r.body = req->body.ptr;
	r.len = req->body.len;
	r.now = (int64_t)time(NULL);
	receiver_handle(&res, &cfg, &r);
	status = res.status;
	if (status >= 300) {
		buf_addf(&reply, "%s\n", res.why.msg);
		log_warn(MOD, "refused", "type", type_name, "status",
		         log_num(code, status), "err", res.why.msg);
		goto reply;
	}
	if (res.delivery_id &&
	    receiver_dedup_seen(d->dedup, res.delivery_id, queue_now_ms())) {
		buf_puts(&reply, "duplicate delivery\n");
		dup = 1;
		goto reply;
	}
	if (res.trigger_all && rec)
		triggered += trigger_resources(d, s, rec);
	for (size_t i = 0; i < res.nevents; i++) {
		buf_reset(&key);
		receiver_event_key(&key, &res.events[i]);
		if (buf_ok(&key) &&
		    receiver_dedup_seen(d->dedup, key.ptr, queue_now_ms())) {
			dup++;
			continue;
		}
		triggered += trigger_event(d, s, rec, &res.events[i]);
	}
	buf_addf(&reply, "triggered %zu object%s%s\n", triggered,
	         triggered == 1 ? "" : "s", dup ? " (duplicates dropped)" : "");
	{
		char nt[32], ne[32];
		log_info(MOD, "received", "type", type_name, "events",
		         log_num(ne, (long long)res.nevents), "triggered",
		         log_num(nt, (long long)triggered), "duplicate",
		         dup ? "yes" : "no");
	}
reply:
	snprintf(code, sizeof(code), "%d", status);
	metrics_add(d->metrics, "ferry_webhook_requests_total", 1, type_name,
	            code, NULL);
	ret = http_text(c, (unsigned int)status,
	                buf_ok(&reply) && reply.len ? reply.ptr : "error\n");
	receiver_result_release(&res);
	secret_release(&env_secret);
	buf_release(&key);
	buf_release(&reply);
	free(h);
	snapshot_release(s);
	return ret;
}
