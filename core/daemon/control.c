/*
 * control.c - the control API on the daemon's Unix socket: JSON over
 * HTTP/1.1, served by libmicrohttpd with one thread per connection, so
 * that a reconcile can wait for the run it asked for and `ferry events
 * --watch` can wait for the next event.  The socket is mode 0600 in the
 * state directory: whoever may read the state may ask.
 *
 *   GET  /v1/objects[?kind=K[&namespace=N][&name=X]]   status of objects
 *   POST /v1/reconcile?kind=K&namespace=N&name=X[&withSource=true]
 *                     [&timeout=MS]                    run now, wait
 *   POST /v1/suspend?kind=K&namespace=N&name=X         (and /v1/resume)
 *   GET  /v1/events[?after=SEQ][&wait=MS][&limit=N]    newest last
 *
 * The status of an object is daemon_object_status() (status.c), the one
 * the status page shows too.
 */
#include "daemon_int.h"
#include "http_int.h"
#include "server.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "config/argocd.h"

#define MOD "control"
#define CONTROL_MAX_BODY 4096
#define CONTROL_MAX_WAIT_MS (10 * 60 * 1000)
#define CONTROL_DEFAULT_WAIT_MS (2 * 60 * 1000)

struct control {
	struct MHD_Daemon *mhd;
	struct daemon *d;
	char *path;
	int fd;
};

static enum MHD_Result
reply_json(struct MHD_Connection *c, unsigned int status, cJSON *doc)
{
	char *text = doc ? cJSON_PrintUnformatted(doc) : NULL;
	enum MHD_Result rc;

	if (text == NULL) {
		cJSON_Delete(doc);
		return http_text(c, 500, "out of memory\n");
	}
	rc = http_reply(c, status, "application/json", text, strlen(text));
	cJSON_free(text);
	cJSON_Delete(doc);
	return rc;
}

static enum MHD_Result
reply_error(struct MHD_Connection *c, unsigned int status, const char *msg)
{
	cJSON *doc = cJSON_CreateObject();

	if (doc)
		cJSON_AddStringToObject(doc, "error", msg);
	return reply_json(c, status, doc);
}

static const char *
arg(struct MHD_Connection *c, const char *name)
{
	return MHD_lookup_connection_value(c, MHD_GET_ARGUMENT_KIND, name);
}

static bool
parse_kind(const char *s, enum config_kind *out)
{
	static const enum config_kind kinds[] = { CONFIG_IMAGEREPOSITORY,
		                                  CONFIG_IMAGEPOLICY,
		                                  CONFIG_IMAGEUPDATEAUTOMATION,
		                                  CONFIG_KUSTOMIZATION,
		                                  CONFIG_APPLICATION };

	for (size_t i = 0; s && i < sizeof(kinds) / sizeof(*kinds); i++)
		if (strcmp(s, config_kind_name(kinds[i])) == 0) {
			*out = kinds[i];
			return true;
		}
	return false;
}

static enum MHD_Result
serve_objects(struct daemon *d, struct MHD_Connection *c)
{
	static const enum config_kind kinds[] = { CONFIG_IMAGEREPOSITORY,
		                                  CONFIG_IMAGEPOLICY,
		                                  CONFIG_IMAGEUPDATEAUTOMATION,
		                                  CONFIG_KUSTOMIZATION,
		                                  CONFIG_APPLICATION };
	const char *kind = arg(c, "kind"), *ns = arg(c, "namespace"),
	           *name = arg(c, "name");
	struct snapshot *s = daemon_snapshot(d);
	cJSON *doc = cJSON_CreateObject(), *list;
	enum config_kind want = CONFIG_KIND_COUNT;

	if (kind && !parse_kind(kind, &want)) {
		snapshot_release(s);
		cJSON_Delete(doc);
		return reply_error(c, 400,
		                   "kind must be ImageRepository, ImagePolicy, "
		                   "ImageUpdateAutomation, Kustomization or "
		                   "Application");
	}
	list = cJSON_AddArrayToObject(doc, "objects");
	for (size_t k = 0; list && k < sizeof(kinds) / sizeof(*kinds); k++) {
		if (want != CONFIG_KIND_COUNT && want != kinds[k])
			continue;
		for (size_t i = 0; i < config_count(s->cfg, kinds[k]); i++) {
			const struct config_object *o =
			        config_get(s->cfg, kinds[k], i);
			if ((ns && strcmp(ns, o->metadata.namespace) != 0) ||
			    (name && strcmp(name, o->metadata.name) != 0))
				continue;
			/* Applications nothing updates are not ferry's */
			if (o->kind == CONFIG_APPLICATION &&
			    config_argocd_unit_for(s->cfg, o) == NULL)
				continue;
			cJSON_AddItemToArray(
			        list,
			        daemon_object_status(d, o, DAEMON_STATUS_FULL));
		}
	}
	cJSON_AddNumberToObject(doc, "generation", (double)s->generation);
	if (d->fleet)
		cJSON_AddItemToObject(doc, "members",
		                      fleet_members_json(d->fleet));
	snapshot_release(s);
	return reply_json(c, 200, doc);
}

/* The object the request names, or a reply saying what is wrong. */
static const struct config_object *
named_object(struct MHD_Connection *c, const struct snapshot *s,
             enum MHD_Result *ret)
{
	const char *kind = arg(c, "kind"), *ns = arg(c, "namespace"),
	           *name = arg(c, "name");
	enum config_kind k;
	const struct config_object *o;
	char msg[600];

	if (!parse_kind(kind, &k) || name == NULL) {
		*ret = reply_error(
		        c, 400,
		        "give kind (ImageRepository, ImagePolicy, "
		        "ImageUpdateAutomation, Kustomization, Application), "
		        "namespace and "
		        "name");
		return NULL;
	}
	o = config_find(s->cfg, k, ns ? ns : "default", name);
	if (o == NULL) {
		snprintf(msg, sizeof(msg),
		         "%s %s/%s is not in the configuration", kind,
		         ns ? ns : "default", name);
		*ret = reply_error(c, 404, msg);
	}
	return o;
}

/* Enqueues o now and waits for that run; 0, or -ERR_* (timeout, gone). */
static int
run_and_wait(struct daemon *d, const struct config_object *o,
             int64_t timeout_ms)
{
	uint64_t ticket = 0;
	int rc = daemon_enqueue(d, o, 0, QUEUE_MANUAL, NULL, &ticket);

	if (rc < 0)
		return rc;
	return queue_wait(d->q, (int)o->kind, o->metadata.namespace,
	                  o->metadata.name, ticket, timeout_ms);
}

/*
 * Runs o now.  Here, waiting for the run, unless another member of the
 * fleet owns o: a run here would be turned away by the ownership gate, so
 * o is handed to its owner through etcd, as a webhook is, and not waited
 * for; it is listed in handed.  The owner shares what the run found, and
 * the runs that read it follow where they are owned.  0, or -ERR_* with
 * *status_out the HTTP status to reply with.
 */
static int
run_or_hand_off(struct daemon *d, const struct snapshot *s,
                const struct config_object *o, int64_t timeout_ms,
                cJSON *handed, unsigned int *status_out, struct err *err)
{
	char owner[64];
	cJSON *h;
	int rc;

	daemon_owner(d, s, o, owner);
	if (d->fleet == NULL || owner[0] == '\0' ||
	    strcmp(owner, fleet_member(d->fleet)) == 0) {
		rc = run_and_wait(d, o, timeout_ms);
		*status_out = rc == -ERR_TRANSIENT ? 504 : 503;
		if (rc == -ERR_TRANSIENT)
			return err_set(
			        err, ERR_TRANSIENT,
			        "the run did not finish in time; it goes "
			        "on (see 'ferry get' and 'ferry events')");
		if (rc == -ERR_CONFLICT)
			return err_set(err, ERR_CONFLICT,
			               "the daemon is shutting down");
		if (rc < 0)
			return err_set(err, ERR_NOTFOUND,
			               "the object left the configuration");
		return 0;
	}
	*status_out = 503;
	if (daemon_route(d, s, o, QUEUE_MANUAL, NULL) < 0)
		return err_set(err, ERR_TRANSIENT,
		               "%s %s/%s belongs to member '%s' and could not "
		               "be handed to it through etcd (see the daemon's "
		               "log)",
		               config_kind_name(o->kind), o->metadata.namespace,
		               o->metadata.name, owner);
	h = cJSON_CreateObject();
	if (h == NULL || !cJSON_AddItemToArray(handed, h) ||
	    !cJSON_AddStringToObject(h, "kind", config_kind_name(o->kind)) ||
	    !cJSON_AddStringToObject(h, "namespace", o->metadata.namespace) ||
	    !cJSON_AddStringToObject(h, "name", o->metadata.name) ||
	    !cJSON_AddStringToObject(h, "member", owner))
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

/*
 * --with-source: the inputs first.  For a policy, its repository's scan;
 * for an automation, the scans behind its policies and then the policies.
 * A Kustomization fetches its source on every run: nothing to add.
 */
static int
run_sources(struct daemon *d, const struct snapshot *s,
            const struct config_object *o, int64_t timeout_ms, cJSON *handed,
            unsigned int *status_out, struct err *err)
{
	int rc = 0;

	if (o->kind == CONFIG_IMAGEPOLICY) {
		const struct config_object *r =
		        config_policy_repository(s->cfg, o);
		return r ? run_or_hand_off(d, s, r, timeout_ms, handed,
		                           status_out, err)
		         : 0;
	}
	if (o->kind == CONFIG_IMAGEUPDATEAUTOMATION) {
		size_t ai = snapshot_index(s, o);
		size_t np = config_count(s->cfg, CONFIG_IMAGEPOLICY);
		for (size_t pi = 0; pi < np && rc == 0; pi++) {
			const struct idx_list *l = &s->policy_automations[pi];
			const struct config_object *p =
			        config_get(s->cfg, CONFIG_IMAGEPOLICY, pi);
			bool selects = false;
			for (size_t k = 0; k < l->n; k++)
				selects |= l->v[k] == ai;
			if (!selects)
				continue;
			rc = run_sources(d, s, p, timeout_ms, handed,
			                 status_out, err);
			if (rc == 0)
				rc = run_or_hand_off(d, s, p, timeout_ms,
				                     handed, status_out, err);
		}
	}
	return rc;
}

/*
 * 200 and the object's status after its run here; 202 when it was
 * handed to the member that owns it.  "handedOff" lists every run handed
 * to another member (the object's or its inputs').
 */
static enum MHD_Result
serve_reconcile(struct daemon *d, struct MHD_Connection *c)
{
	struct snapshot *s = daemon_snapshot(d);
	const char *ws = arg(c, "withSource"), *to = arg(c, "timeout");
	enum MHD_Result ret = MHD_NO;
	const struct config_object *o = named_object(c, s, &ret);
	long long timeout = CONTROL_DEFAULT_WAIT_MS;
	struct err e = ERR_INIT;
	unsigned int status = 200;
	cJSON *handed = cJSON_CreateArray(), *doc;
	int rc = 0, n;

	if (o == NULL)
		goto out;
	if (handed == NULL) {
		ret = reply_error(c, 500, "out of memory");
		goto out;
	}
	if (to && parse_long(to, strlen(to), 1, CONTROL_MAX_WAIT_MS, &timeout,
	                     "timeout", &e) < 0) {
		ret = reply_error(c, 400, e.msg);
		goto out;
	}
	if (ws && strcmp(ws, "true") == 0)
		rc = run_sources(d, s, o, timeout, handed, &status, &e);
	n = cJSON_GetArraySize(handed);
	if (rc == 0)
		rc = run_or_hand_off(d, s, o, timeout, handed, &status, &e);
	if (rc < 0) {
		ret = reply_error(c, status, e.msg);
		goto out;
	}
	status = cJSON_GetArraySize(handed) > n ? 202 : 200;
	doc = daemon_object_status(d, o, DAEMON_STATUS_FULL);
	if (doc && cJSON_GetArraySize(handed) > 0) {
		cJSON_AddItemToObject(doc, "handedOff", handed);
		handed = NULL;
	}
	ret = reply_json(c, status, doc);
out:
	cJSON_Delete(handed);
	snapshot_release(s);
	return ret;
}

static enum MHD_Result
serve_suspend(struct daemon *d, struct MHD_Connection *c, bool suspend)
{
	struct snapshot *s = daemon_snapshot(d);
	enum MHD_Result ret = MHD_NO;
	const struct config_object *o = named_object(c, s, &ret);
	struct err e = ERR_INIT;

	if (o == NULL)
		goto out;
	if (daemon_suspend_object(d, o, suspend,
	                          suspend ? "ferry suspend" : "ferry resume",
	                          &e) < 0) {
		ret = reply_error(c, 500, e.msg);
		goto out;
	}
	ret = reply_json(c, 200,
	                 daemon_object_status(d, o, DAEMON_STATUS_FULL));
out:
	snapshot_release(s);
	return ret;
}

static enum MHD_Result
serve_events(struct daemon *d, struct MHD_Connection *c)
{
	const char *after = arg(c, "after"), *wait = arg(c, "wait"),
	           *limit = arg(c, "limit");
	long long a = 0, w = 0, l = EVENTS_MAX;
	struct event *v = NULL;
	struct err e = ERR_INIT;
	uint64_t missed = 0;
	size_t n = 0;
	cJSON *doc, *list;

	if ((after && parse_long(after, strlen(after), 0, INT64_MAX, &a,
	                         "after", &e) < 0) ||
	    (wait && parse_long(wait, strlen(wait), 0, CONTROL_MAX_WAIT_MS, &w,
	                        "wait", &e) < 0) ||
	    (limit && parse_long(limit, strlen(limit), 1, EVENTS_MAX, &l,
	                         "limit", &e) < 0))
		return reply_error(c, 400, e.msg);
	if (events_since(d->events, (uint64_t)a, (size_t)l, w, &v, &n,
	                 &missed) < 0)
		return reply_error(c, 500, "out of memory");
	doc = cJSON_CreateObject();
	list = cJSON_AddArrayToObject(doc, "events");
	for (size_t i = 0; list && i < n; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddNumberToObject(o, "seq", (double)v[i].seq);
		cJSON_AddNumberToObject(o, "timeMs", (double)v[i].time_ms);
		cJSON_AddStringToObject(o, "severity",
		                        event_severity_name(v[i].severity));
		cJSON_AddStringToObject(o, "kind", v[i].kind);
		cJSON_AddStringToObject(o, "namespace", v[i].namespace_);
		cJSON_AddStringToObject(o, "name", v[i].name);
		cJSON_AddStringToObject(o, "reason", v[i].reason);
		cJSON_AddStringToObject(o, "message", v[i].message);
		cJSON_AddItemToArray(list, o);
	}
	cJSON_AddNumberToObject(doc, "missed", (double)missed);
	events_array_free(v, n);
	return reply_json(c, 200, doc);
}

static enum MHD_Result
handle(void *cls, struct MHD_Connection *c, const char *url, const char *method,
       const char *version, const char *upload, size_t *upload_len,
       void **con_cls)
{
	struct control *ctl = cls;
	struct http_request *req = NULL;
	enum MHD_Result ret;
	bool post = strcmp(method, "POST") == 0;

	(void)version;
	if (http_collect(c, upload, upload_len, con_cls, CONTROL_MAX_BODY, &req,
	                 &ret))
		return ret;
	if (strcmp(url, "/v1/objects") == 0)
		return serve_objects(ctl->d, c);
	if (strcmp(url, "/v1/events") == 0)
		return serve_events(ctl->d, c);
	if (strcmp(url, "/v1/reconcile") == 0 && post)
		return serve_reconcile(ctl->d, c);
	if (strcmp(url, "/v1/suspend") == 0 && post)
		return serve_suspend(ctl->d, c, true);
	if (strcmp(url, "/v1/resume") == 0 && post)
		return serve_suspend(ctl->d, c, false);
	return reply_error(c, 404, "no such call");
}

int
control_start(struct control **out, struct daemon *d, struct err *err)
{
	struct control *ctl = calloc(1, sizeof(*ctl));
	struct sockaddr_un sa = { 0 };
	struct buf path = BUF_INIT;
	int rc = 0;

	*out = NULL;
	if (ctl == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	ctl->d = d;
	ctl->fd = -1;
	if (d->o.control_socket)
		buf_puts(&path, d->o.control_socket);
	else
		buf_addf(&path, "%s/%s", d->o.state_dir, DAEMON_CONTROL_SOCKET);
	if (!buf_ok(&path)) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto fail;
	}
	if (path.len >= sizeof(sa.sun_path)) {
		rc = err_set(
		        err, ERR_INVALID,
		        "control socket path '%s' is longer than %zu bytes "
		        "(give a shorter --control-socket)",
		        path.ptr, sizeof(sa.sun_path) - 1);
		goto fail;
	}
	sa.sun_family = AF_UNIX;
	memcpy(sa.sun_path, path.ptr, path.len + 1);
	ctl->path = buf_detach(&path);
	/* We hold the state directory's lock: a socket file there is a dead
	 * daemon's. */
	unlink(ctl->path);
	ctl->fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (ctl->fd < 0 ||
	    bind(ctl->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
	    chmod(ctl->path, 0600) < 0 || listen(ctl->fd, 16) < 0) {
		rc = err_set(err, ERR_INVALID, "control socket '%s': %s",
		             ctl->path, strerror(errno));
		goto fail;
	}
	ctl->mhd = MHD_start_daemon(
	        MHD_USE_THREAD_PER_CONNECTION | MHD_USE_INTERNAL_POLLING_THREAD,
	        0, NULL, NULL, handle, ctl, MHD_OPTION_LISTEN_SOCKET, ctl->fd,
	        MHD_OPTION_NOTIFY_COMPLETED, http_completed, NULL,
	        MHD_OPTION_CONNECTION_LIMIT, (unsigned int)64, MHD_OPTION_END);
	if (ctl->mhd == NULL) {
		rc = err_set(err, ERR_INTERNAL,
		             "cannot serve the control socket '%s'", ctl->path);
		goto fail;
	}
	ctl->fd = -1; /* the listener closes it when it stops */
	log_info(MOD, "listening", "socket", ctl->path);
	*out = ctl;
	return 0;
fail:
	buf_release(&path);
	control_stop(ctl);
	return rc;
}

void
control_stop(struct control *ctl)
{
	if (ctl == NULL)
		return;
	if (ctl->mhd)
		MHD_stop_daemon(ctl->mhd);
	if (ctl->fd >= 0)
		close(ctl->fd);
	if (ctl->path)
		unlink(ctl->path);
	free(ctl->path);
	free(ctl);
}
