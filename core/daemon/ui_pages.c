/*
 * ui_pages.c - the status page's HTML, rendered by the daemon from the
 * same status `ferry get` shows (daemon_object_status) and the event
 * ring: the overview, the images (one per ImagePolicy) and each image's
 * page, the timeline, the automations and the events.  Every page is
 * whole without JavaScript; the page's script only asks for it again when
 * something happened (ui.c's Server-Sent Events).
 *
 * It writes markup as literals and every value through ui_html_text /
 * ui_html_attr / ui_url_segment (ui_int.h).  It does not decide who may
 * see a page or act (ui.c does): action forms appear when the view has a
 * CSRF token.  Kustomizations have no page: ferry has no reconciler yet.
 */
#include "ui_int.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/json.h"
#include "base/log.h"
#include "base/util.h"
#include "daemon_int.h"
#include "ferry_version.h"

#define O (v->out)

static const enum config_kind kinds[] = { CONFIG_IMAGEREPOSITORY,
	                                  CONFIG_IMAGEPOLICY,
	                                  CONFIG_IMAGEUPDATEAUTOMATION,
	                                  CONFIG_KUSTOMIZATION };
#define NKINDS (sizeof(kinds) / sizeof(*kinds))

void
ui_view_init(struct ui_view *v, struct daemon *d, struct buf *out,
             const char *csrf, const char *path)
{
	memset(v, 0, sizeof(*v));
	v->d = d;
	v->s = daemon_snapshot(d);
	v->out = out;
	v->now = (int64_t)time(NULL);
	v->csrf = csrf;
	v->path = path;
}

static void
cache_free(cJSON **c, size_t n)
{
	for (size_t i = 0; c && i < n; i++)
		cJSON_Delete(c[i]);
	free(c);
}

void
ui_view_release(struct ui_view *v)
{
	for (size_t k = 0; k < CONFIG_KIND_COUNT; k++) {
		cache_free(v->status[k], config_count(v->s->cfg, k));
		cache_free(v->full[k], config_count(v->s->cfg, k));
	}
	cache_free(v->window, config_count(v->s->cfg, CONFIG_IMAGEPOLICY));
	snapshot_release(v->s);
	memset(v, 0, sizeof(*v));
}

/* Entry i of a per-object cache of n, made on first use; NULL when out of
 * memory. */
static cJSON **
cache_slot(cJSON ***cache, size_t n, size_t i)
{
	if (i >= n)
		return NULL;
	if (*cache == NULL && (*cache = calloc(n, sizeof(cJSON *))) == NULL)
		return NULL;
	return &(*cache)[i];
}

/* The status of object i of kind k as the page asked (v->brief: a brief
 * status; else a summary, with the newest entry of each history), built
 * once per request; NULL when out of memory. */
static const cJSON *
status_of(struct ui_view *v, enum config_kind k, size_t i)
{
	cJSON **slot = cache_slot(&v->status[k], config_count(v->s->cfg, k), i);

	if (slot && *slot == NULL)
		*slot = daemon_object_status(v->d, config_get(v->s->cfg, k, i),
		                             v->brief ? DAEMON_STATUS_BRIEF
		                                      : DAEMON_STATUS_SUMMARY);
	return slot ? *slot : NULL;
}

/* The whole status, with every history entry: for the objects a page
 * shows in detail. */
static const cJSON *
full_status_of(struct ui_view *v, enum config_kind k, size_t i)
{
	cJSON **slot = cache_slot(&v->full[k], config_count(v->s->cfg, k), i);

	if (slot && *slot == NULL)
		*slot = daemon_object_status(v->d, config_get(v->s->cfg, k, i),
		                             DAEMON_STATUS_FULL);
	return slot ? *slot : NULL;
}

/* Whether object i of kind k is ferry's to show: a Kustomization without
 * ferry.io/ annotations is Flux's, and has no status here. */
static bool
shown(struct ui_view *v, enum config_kind k, size_t i)
{
	return k != CONFIG_KUSTOMIZATION ||
	       config_kustomization_managed(config_get(v->s->cfg, k, i));
}

struct window_read {
	int64_t from;
	cJSON *out;
};

/* state_read's callback: the history entries from w->from on. */
static void
read_window(const cJSON *doc, void *payload)
{
	struct window_read *w = payload;
	const cJSON *h;

	cJSON_ArrayForEach(h, cJSON_GetObjectItemCaseSensitive(doc, "history"))
	{
		if (ui_time_parse(json_get_string(h, "time")) < w->from)
			continue;
		cJSON_AddItemToArray(w->out, cJSON_Duplicate(h, 1));
	}
}

/* Policy i's history from v->window_from on, read from the state where it
 * lies (a fleet of long histories is not copied whole); built once. */
static const cJSON *
window_of(struct ui_view *v, size_t i)
{
	cJSON **slot = cache_slot(
	        &v->window, config_count(v->s->cfg, CONFIG_IMAGEPOLICY), i);
	const struct config_object *p =
	        config_get(v->s->cfg, CONFIG_IMAGEPOLICY, i);
	struct window_read w = { v->window_from, NULL };
	struct err e = ERR_INIT;

	if (slot == NULL || *slot)
		return slot ? *slot : NULL;
	if ((w.out = cJSON_CreateArray()) == NULL)
		return NULL;
	if (state_read(v->d->st, "ImagePolicy", p->metadata.namespace,
	               p->metadata.name, read_window, &w, &e) < 0)
		log_warn("ui", "history_unreadable", "object", p->metadata.name,
		         "err", e.msg);
	*slot = w.out;
	return w.out;
}

static const char *
str(const cJSON *o, const char *key)
{
	return json_get_string(o, key);
}

static double
num(const cJSON *o, const char *key, double dflt)
{
	const cJSON *n = cJSON_GetObjectItemCaseSensitive(o, key);

	return cJSON_IsNumber(n) ? n->valuedouble : dflt;
}

static bool
is(const char *a, const char *b)
{
	return a && b && strcmp(a, b) == 0;
}

static bool
reconciling(const cJSON *st)
{
	const cJSON *c;

	cJSON_ArrayForEach(
	        c,
	        cJSON_GetObjectItemCaseSensitive(
	                st, "conditions")) if (is(str(c, "type"),
	                                          "Reconciling")) return true;
	return false;
}

static bool
suspended(const cJSON *st)
{
	return cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(st, "suspended"));
}

static bool
failing(const cJSON *st)
{
	return is(str(st, "ready"), "False");
}

/* ---- pieces ---- */

/* Text in an element with a class: <tag class="cls">text</tag>. */
static void
el(struct buf *o, const char *tag, const char *cls, const char *text)
{
	buf_addf(o, "<%s", tag);
	if (cls)
		buf_addf(o, " class=\"%s\"", cls);
	buf_putc(o, '>');
	ui_html_text(o, text);
	buf_addf(o, "</%s>", tag);
}

/* "ns/name" as text. */
static void
nsname(struct buf *o, const struct config_object *obj)
{
	ui_html_text(o, obj->metadata.namespace);
	buf_putc(o, '/');
	ui_html_text(o, obj->metadata.name);
}

/* The path of an image's page: /images/NS/NAME. */
static void
image_href(struct buf *o, const struct config_object *pol)
{
	buf_puts(o, "/images/");
	ui_url_segment(o, pol->metadata.namespace);
	buf_putc(o, '/');
	ui_url_segment(o, pol->metadata.name);
}

/* An element id for an object: k-NS-NAME (segments percent-encoded). */
static void
anchor(struct buf *o, const struct config_object *obj)
{
	buf_puts(o, obj->kind == CONFIG_IMAGEUPDATEAUTOMATION ? "a-"
	            : obj->kind == CONFIG_KUSTOMIZATION       ? "k-"
	                                                      : "r-");
	ui_url_segment(o, obj->metadata.namespace);
	buf_putc(o, '-');
	ui_url_segment(o, obj->metadata.name);
}

/* Where an object is shown in detail; false when nowhere. */
static bool
object_href(struct ui_view *v, struct buf *o, const struct config_object *obj)
{
	size_t i;

	switch (obj->kind) {
	case CONFIG_IMAGEPOLICY:
		image_href(o, obj);
		return true;
	case CONFIG_IMAGEREPOSITORY:
		/* Its first policy's page shows the repository too. */
		i = snapshot_index(v->s, obj);
		if (i == SIZE_MAX || v->s->repo_policies[i].n == 0)
			return false;
		image_href(o, config_get(v->s->cfg, CONFIG_IMAGEPOLICY,
		                         v->s->repo_policies[i].v[0]));
		return true;
	case CONFIG_IMAGEUPDATEAUTOMATION:
		buf_puts(o, "/automations#");
		anchor(o, obj);
		return true;
	case CONFIG_KUSTOMIZATION:
		buf_puts(o, "/kustomizations#");
		anchor(o, obj);
		return true;
	default:
		return false;
	}
}

static void
object_link(struct ui_view *v, const struct config_object *obj)
{
	struct buf href = BUF_INIT;

	if (object_href(v, &href, obj) && buf_ok(&href)) {
		buf_puts(O, "<a href=\"");
		ui_html_attr(O, href.ptr);
		buf_puts(O, "\">");
		nsname(O, obj);
		buf_puts(O, "</a>");
	} else {
		nsname(O, obj);
	}
	buf_release(&href);
}

/* A span of time since an RFC 3339 time: <time ...>5m ago</time>. */
static void
ago(struct ui_view *v, const char *when)
{
	int64_t t = ui_time_parse(when);
	char span[32];

	if (t < 0) {
		buf_puts(O, "<span class=\"none\">never</span>");
		return;
	}
	ui_span(span, v->now - t);
	buf_puts(O, "<time datetime=\"");
	ui_html_attr(O, when);
	buf_puts(O, "\" title=\"");
	ui_html_attr(O, when);
	buf_addf(O, "\">%s ago</time>", span);
}

/* Unix ms as RFC 3339. */
static void
rfc3339_ms(char out[32], int64_t ms)
{
	time_t t = (time_t)(ms / 1000);
	struct tm tm;

	gmtime_r(&t, &tm);
	if (strftime(out, 32, "%Y-%m-%dT%H:%M:%SZ", &tm) == 0)
		out[0] = '\0';
}

/* The object's state as a badge. */
static void
badge(struct buf *o, const cJSON *st)
{
	const char *ready = str(st, "ready");

	if (st == NULL)
		buf_puts(o, "<span class=\"badge unknown\">unknown</span>");
	else if (suspended(st))
		buf_puts(o, "<span class=\"badge susp\">suspended</span>");
	else if (reconciling(st))
		buf_puts(o, "<span class=\"badge run\">running</span>");
	else if (is(ready, "True"))
		buf_puts(o, "<span class=\"badge ok\">ready</span>");
	else if (is(ready, "False"))
		buf_puts(o, "<span class=\"badge fail\">failing</span>");
	else
		buf_puts(o, "<span class=\"badge unknown\">waiting</span>");
}

/* A tag, and a digest shortened (the whole one on hover). */
static void
ref(struct ui_view *v, const cJSON *r)
{
	const char *tag = str(r, "tag"), *digest = str(r, "digest");

	if (tag == NULL) {
		buf_puts(O, "<span class=\"none\">none</span>");
		return;
	}
	el(O, "code", "tag", tag);
	if (digest) {
		const char *hex = strchr(digest, ':');
		char shortd[16];
		snprintf(shortd, sizeof(shortd), "@%.12s",
		         hex ? hex + 1 : digest);
		buf_puts(O, " <code class=\"digest\" title=\"");
		ui_html_attr(O, digest);
		buf_puts(O, "\">");
		ui_html_text(O, shortd);
		buf_puts(O, "</code>");
	}
}

/* The reconcile / suspend / resume buttons, when actions are on. */
static void
actions(struct ui_view *v, const struct config_object *obj, const cJSON *st)
{
	if (v->csrf == NULL)
		return;
	buf_puts(O, "<form class=\"actions\" method=\"post\" "
	            "action=\"/ui/action\">"
	            "<input type=\"hidden\" name=\"kind\" value=\"");
	ui_html_attr(O, config_kind_name(obj->kind));
	buf_puts(O, "\"><input type=\"hidden\" name=\"namespace\" value=\"");
	ui_html_attr(O, obj->metadata.namespace);
	buf_puts(O, "\"><input type=\"hidden\" name=\"name\" value=\"");
	ui_html_attr(O, obj->metadata.name);
	buf_puts(O, "\"><input type=\"hidden\" name=\"back\" value=\"");
	ui_html_attr(O, v->path);
	buf_puts(O, "\"><input type=\"hidden\" name=\"csrf\" value=\"");
	ui_html_attr(O, v->csrf);
	buf_puts(O, "\"><button name=\"action\" value=\"reconcile\">"
	            "Reconcile now</button>");
	if (suspended(st))
		buf_puts(O, "<button name=\"action\" value=\"resume\">"
		            "Resume</button>");
	else
		buf_puts(O, "<button name=\"action\" value=\"suspend\">"
		            "Suspend</button>");
	buf_puts(O, "</form>");
}

static void
page_head(struct ui_view *v, const char *title, const char *active)
{
	static const struct {
		const char *href, *name;
	} nav[] = {
		{ "/", "Overview" },
		{ "/images", "Images" },
		{ "/timeline", "Timeline" },
		{ "/automations", "Automations" },
		{ "/kustomizations", "Kustomizations" },
		{ "/events", "Events" },
	};

	buf_puts(O, "<!DOCTYPE html>\n<html lang=\"en\"><head>"
	            "<meta charset=\"utf-8\">"
	            "<meta name=\"viewport\" "
	            "content=\"width=device-width, initial-scale=1\">"
	            "<meta name=\"color-scheme\" content=\"light dark\">"
	            "<title>");
	ui_html_text(O, title);
	buf_puts(O, " \xc2\xb7 ferry</title>"
	            "<link rel=\"icon\" href=\"/favicon.svg\" "
	            "type=\"image/svg+xml\">");
	buf_addf(O,
	         "<link rel=\"stylesheet\" href=\"/ui/style.css?v=%s\">"
	         "<script src=\"/ui/app.js?v=%s\" defer></script>"
	         "</head>\n<body><header class=\"top\">"
	         "<a class=\"brand\" href=\"/\">"
	         "<img src=\"/favicon.svg\" alt=\"\" width=\"22\" "
	         "height=\"22\">ferry</a><nav>",
	         FERRY_VERSION, FERRY_VERSION);
	for (size_t i = 0; i < sizeof(nav) / sizeof(*nav); i++)
		buf_addf(O, "<a href=\"%s\"%s>%s</a>", nav[i].href,
		         is(nav[i].name, active) ? " aria-current=\"page\""
		                                 : "",
		         nav[i].name);
	buf_puts(O, "</nav><span id=\"live\" class=\"live\" hidden>"
	            "live</span></header>\n<main id=\"main\">");
}

static void
page_foot(struct ui_view *v)
{
	char up[32];

	ui_span(up, (queue_now_ms() - v->d->started_ms) / 1000);
	buf_addf(O,
	         "</main>\n<footer>ferry %s \xc2\xb7 configuration "
	         "generation %llu \xc2\xb7 up %s \xc2\xb7 %zu queued, %zu "
	         "running \xc2\xb7 times in UTC</footer>\n</body></html>\n",
	         FERRY_VERSION, (unsigned long long)v->s->generation, up,
	         queue_depth(v->d->q), queue_running(v->d->q));
}

/* The automation's GitRepository, or NULL. */
static const struct config_object *
source_of(struct ui_view *v, const struct config_object *a)
{
	const struct config_cross_ref *r =
	        &a->u.imageupdateautomation.source_ref;

	return r->name ? config_find(v->s->cfg, CONFIG_GITREPOSITORY,
	                             r->namespace, r->name)
	               : NULL;
}

/* The Git URL an automation pushes to, or NULL. */
static const char *
remote_of(struct ui_view *v, const struct config_object *a)
{
	const struct config_object *src = a ? source_of(v, a) : NULL;

	return src ? src->u.gitrepository.url : NULL;
}

/* A commit id, linked to its forge page when the remote is on one. */
static void
commit_link(struct ui_view *v, const char *remote, const char *sha)
{
	struct buf url = BUF_INIT;
	char shortc[16];

	snprintf(shortc, sizeof(shortc), "%.12s", sha ? sha : "");
	if (ui_commit_url(&url, remote, sha) == 0) {
		buf_puts(O, "<a class=\"commit\" href=\"");
		ui_html_attr(O, url.ptr);
		buf_puts(O, "\" rel=\"noreferrer\" title=\"");
		ui_html_attr(O, sha);
		buf_puts(O, "\"><code>");
		ui_html_text(O, shortc);
		buf_puts(O, "</code></a>");
	} else {
		buf_puts(O, "<code class=\"commit\" title=\"");
		ui_html_attr(O, sha);
		buf_puts(O, "\">");
		ui_html_text(O, shortc);
		buf_puts(O, "</code>");
	}
	buf_release(&url);
}

/* ---- history ---- */

/* One change of one policy's latest image, for sorting. */
struct change {
	int64_t t;
	size_t policy;
	const cJSON *h; /* the history entry */
};

static int
change_newer_first(const void *a, const void *b)
{
	const struct change *x = a, *y = b;

	return x->t < y->t ? 1 : x->t > y->t ? -1 : 0;
}

/* Does a write-back change's new value set version tag? */
static bool
sets_tag(const char *value, const char *tag)
{
	size_t tl;

	if (value == NULL || tag == NULL)
		return false;
	tl = strlen(tag);
	if (strcmp(value, tag) == 0)
		return true;
	/* image:tag, or image:tag@digest */
	for (const char *p = strchr(value, ':'); p; p = strchr(p + 1, ':'))
		if (strncmp(p + 1, tag, tl) == 0 &&
		    (p[1 + tl] == '\0' || p[1 + tl] == '@'))
			return true;
	return false;
}

/* The commit that wrote policy pi's change to tag (at t or after) back to
 * Git, from the pushes of the automations that select it; NULL when none
 * did (yet).  Borrowed from the view's statuses; *by (may be NULL) gets
 * the automation that pushed it. */
static const char *
commit_for(struct ui_view *v, size_t pi, const char *tag, int64_t t,
           const struct config_object **by)
{
	const struct idx_list *l = &v->s->policy_automations[pi];
	const char *best = NULL;
	int64_t best_t = INT64_MAX;

	if (by)
		*by = NULL;

	for (size_t k = 0; k < l->n; k++) {
		const cJSON *st = full_status_of(
		        v, CONFIG_IMAGEUPDATEAUTOMATION, l->v[k]);
		const cJSON *p, *c;
		cJSON_ArrayForEach(
		        p, cJSON_GetObjectItemCaseSensitive(st, "pushHistory"))
		{
			int64_t pt = ui_time_parse(str(p, "time"));
			if (pt < t || pt >= best_t)
				continue;
			cJSON_ArrayForEach(c, cJSON_GetObjectItemCaseSensitive(
			                              p, "changes"))
			{
				if (sets_tag(str(c, "new"), tag)) {
					best = str(p, "commit");
					best_t = pt;
					if (by)
						*by = config_get(
						        v->s->cfg,
						        CONFIG_IMAGEUPDATEAUTOMATION,
						        l->v[k]);
					break;
				}
			}
		}
	}
	return best;
}

/* Where changes_collect reads histories from. */
enum source {
	NEWEST, /* each policy's newest change (summaries) */
	WINDOW, /* every change from v->window_from on */
	ONE,    /* every change of one policy */
};

static const cJSON *
history_of(struct ui_view *v, size_t i, enum source src)
{
	if (src == WINDOW)
		return window_of(v, i);
	return cJSON_GetObjectItemCaseSensitive(
	        src == ONE ? full_status_of(v, CONFIG_IMAGEPOLICY, i)
	                   : status_of(v, CONFIG_IMAGEPOLICY, i),
	        "history");
}

/* The changes within [from, to] of every policy (of policy one, with
 * src ONE), newest first. */
static int
changes_collect(struct ui_view *v, enum source src, size_t one, int64_t from,
                int64_t to, struct change **out, size_t *n_out)
{
	size_t np = config_count(v->s->cfg, CONFIG_IMAGEPOLICY), n = 0, cap = 0;
	struct change *c = NULL;

	*out = NULL;
	*n_out = 0;
	for (size_t i = 0; i < np; i++) {
		const cJSON *h;
		if (src == ONE && i != one)
			continue;
		cJSON_ArrayForEach(h, history_of(v, i, src))
		{
			int64_t t = ui_time_parse(str(h, "time"));
			if (t < from || t > to || str(h, "tag") == NULL)
				continue;
			if (n == cap) {
				size_t nc = cap ? cap * 2 : 64;
				struct change *g =
				        reallocarray(c, nc, sizeof(*c));
				if (g == NULL) {
					free(c);
					return -ERR_NOMEM;
				}
				c = g;
				cap = nc;
			}
			c[n].t = t;
			c[n].policy = i;
			c[n].h = h;
			n++;
		}
	}
	if (n > 1)
		qsort(c, n, sizeof(*c), change_newer_first);
	*out = c;
	*n_out = n;
	return 0;
}

/* A table of changes: when, image, version, was, commit. */
static void
changes_table(struct ui_view *v, const struct change *c, size_t n,
              bool image_column)
{
	buf_puts(O, "<table class=\"changes\"><thead><tr><th>When</th>");
	if (image_column)
		buf_puts(O, "<th>Image policy</th>");
	buf_puts(O, "<th>Version</th><th>Was</th><th>Commit</th></tr>"
	            "</thead><tbody>\n");
	for (size_t i = 0; i < n; i++) {
		const struct config_object *pol =
		        config_get(v->s->cfg, CONFIG_IMAGEPOLICY, c[i].policy);
		const struct config_object *by = NULL;
		const char *commit = commit_for(
		        v, c[i].policy, str(c[i].h, "tag"), c[i].t, &by);
		buf_puts(O, "<tr><td>");
		ago(v, str(c[i].h, "time"));
		buf_puts(O, "</td>");
		if (image_column) {
			buf_puts(O, "<td>");
			object_link(v, pol);
			buf_puts(O, "</td>");
		}
		buf_puts(O, "<td>");
		ref(v, c[i].h);
		buf_puts(O, "</td><td>");
		if (str(c[i].h, "previousTag"))
			el(O, "code", "tag", str(c[i].h, "previousTag"));
		buf_puts(O, "</td><td>");
		if (commit)
			commit_link(v, remote_of(v, by), commit);
		buf_puts(O, "</td></tr>\n");
	}
	buf_puts(O, "</tbody></table>\n");
}

/* ---- events ---- */

static void
events_table(struct ui_view *v, const struct event *ev, size_t n,
             const char *kind, const char *severity, size_t max)
{
	size_t shown = 0;

	buf_puts(O, "<table class=\"events\"><thead><tr><th>When</th>"
	            "<th>Severity</th><th>Object</th><th>Reason</th>"
	            "<th>Message</th></tr></thead><tbody>\n");
	for (size_t i = n; i > 0 && shown < max; i--) {
		const struct event *e = &ev[i - 1];
		const struct config_object *obj = NULL;
		enum config_kind k;
		char when[32];
		if ((kind && !is(kind, e->kind)) ||
		    (severity &&
		     !is(severity, event_severity_name(e->severity))))
			continue;
		for (size_t j = 0; j < NKINDS && obj == NULL; j++) {
			k = kinds[j];
			if (is(config_kind_name(k), e->kind))
				obj = config_find(v->s->cfg, k, e->namespace_,
				                  e->name);
		}
		rfc3339_ms(when, e->time_ms);
		buf_addf(O, "<tr class=\"%s\" data-seq=\"%llu\"><td>",
		         e->severity == EVENT_ERROR ? "sev-error" : "sev-info",
		         (unsigned long long)e->seq);
		ago(v, when);
		buf_addf(O,
		         "</td><td><span class=\"badge %s\">%s</span></td><td>",
		         e->severity == EVENT_ERROR ? "fail" : "info",
		         event_severity_name(e->severity));
		el(O, "span", "kind", e->kind);
		buf_puts(O, " ");
		if (obj) {
			object_link(v, obj);
		} else if (e->name[0]) {
			ui_html_text(O, e->namespace_);
			buf_putc(O, '/');
			ui_html_text(O, e->name);
		}
		buf_puts(O, "</td><td>");
		ui_html_text(O, e->reason);
		buf_puts(O, "</td><td class=\"msg\">");
		ui_html_text(O, e->message);
		buf_puts(O, "</td></tr>\n");
		shown++;
	}
	buf_puts(O, "</tbody></table>\n");
	if (shown == 0)
		buf_puts(O, "<p class=\"none\">No events.</p>\n");
}

/* ---- overview ---- */

int
ui_page_overview(struct ui_view *v)
{
	struct change *ch = NULL;
	struct event *ev = NULL;
	size_t nch = 0, nev = 0, nfail = 0;

	/* Every object's status, so only what this page shows of each:
	 * the page must stay fast with thousands of images. */
	v->brief = true;
	page_head(v, "Overview", "Overview");
	buf_puts(O, "<h1>Overview</h1>\n");
	/* Failures first: what is broken, why, and how long since it
	 * last worked. */
	for (size_t k = 0; k < NKINDS; k++)
		for (size_t i = 0; i < config_count(v->s->cfg, kinds[k]); i++)
			nfail += shown(v, kinds[k], i) &&
			         failing(status_of(v, kinds[k], i)) &&
			         !suspended(status_of(v, kinds[k], i));
	buf_addf(O,
	         "<section id=\"failing\"><h2>Failing <span "
	         "class=\"count\">%zu</span></h2>\n",
	         nfail);
	if (nfail == 0) {
		buf_puts(O, "<p class=\"allgood\">Nothing is failing.</p>");
	} else {
		buf_puts(O, "<table class=\"failing\"><thead><tr><th>Kind</th>"
		            "<th>Object</th><th>Reason</th><th>Message</th>"
		            "<th>Failing since</th><th>Last success</th>"
		            "</tr></thead><tbody>\n");
		for (size_t k = 0; k < NKINDS; k++) {
			for (size_t i = 0;
			     i < config_count(v->s->cfg, kinds[k]); i++) {
				const cJSON *st = status_of(v, kinds[k], i);
				if (!shown(v, kinds[k], i) || !failing(st) ||
				    suspended(st))
					continue;
				buf_puts(O, "<tr><td>");
				ui_html_text(O, config_kind_name(kinds[k]));
				buf_puts(O, "</td><td>");
				object_link(v,
				            config_get(v->s->cfg, kinds[k], i));
				buf_puts(O, "</td><td>");
				ui_html_text(O, str(st, "reason"));
				buf_puts(O, "</td><td class=\"msg\">");
				ui_html_text(O, str(st, "message"));
				buf_puts(O, "</td><td>");
				ago(v, str(st, "lastTransitionTime"));
				buf_puts(O, "</td><td>");
				ago(v, str(st, "lastSuccessTime"));
				buf_puts(O, "</td></tr>\n");
			}
		}
		buf_puts(O, "</tbody></table>\n");
	}
	buf_puts(O, "</section>\n<section id=\"counts\"><h2>Objects</h2>"
	            "<div class=\"cards\">\n");
	for (size_t k = 0; k < NKINDS; k++) {
		size_t n = 0, ok = 0, bad = 0, wait = 0, susp = 0, run = 0;
		for (size_t i = 0; i < config_count(v->s->cfg, kinds[k]); i++) {
			const cJSON *st;
			if (!shown(v, kinds[k], i))
				continue;
			n++;
			st = status_of(v, kinds[k], i);
			if (suspended(st))
				susp++;
			else if (failing(st))
				bad++;
			else if (is(str(st, "ready"), "True"))
				ok++;
			else
				wait++;
			run += reconciling(st);
		}
		if (kinds[k] == CONFIG_KUSTOMIZATION && n == 0)
			continue; /* no reconciler in use: no card */
		buf_addf(
		        O,
		        "<div class=\"card\" data-kind=\"%s\"><h3>%s</h3>"
		        "<p class=\"total\">%zu</p><ul>"
		        "<li><span class=\"badge ok\">ready</span> %zu</li>"
		        "<li><span class=\"badge fail\">failing</span> %zu</li>"
		        "<li><span class=\"badge unknown\">waiting</span> %zu"
		        "</li><li><span class=\"badge susp\">suspended</span> "
		        "%zu</li><li><span class=\"badge run\">running</span> "
		        "%zu</li></ul></div>\n",
		        config_kind_name(kinds[k]), config_kind_name(kinds[k]),
		        n, ok, bad, wait, susp, run);
	}
	buf_puts(O, "</div></section>\n");
	/* Each image's newest change: the summaries have nothing older. */
	if (changes_collect(v, NEWEST, 0, 0, v->now + 86400, &ch, &nch) < 0)
		buf_puts(O, "<p>out of memory</p>");
	buf_puts(O, "<section id=\"recent\"><h2>Recently changed "
	            "images</h2>");
	if (nch == 0)
		buf_puts(O, "<p class=\"none\">No image has changed yet.</p>");
	else
		changes_table(v, ch, nch < 10 ? nch : 10, true);
	buf_puts(O, "<p><a href=\"/timeline\">The timeline</a></p>"
	            "</section>\n");
	free(ch);
	buf_puts(O, "<section id=\"latest-events\"><h2>Latest events</h2>");
	if (events_since(v->d->events, 0, 10, 0, &ev, &nev, NULL) == 0)
		events_table(v, ev, nev, NULL, NULL, 10);
	events_array_free(ev, nev);
	buf_puts(O, "<p><a href=\"/events\">All events</a></p></section>\n");
	page_foot(v);
	return 200;
}

/* ---- images ---- */

/* The ImageRepository's status and object behind policy i, or NULLs. */
static const cJSON *
repo_of(struct ui_view *v, const struct config_object *pol,
        const struct config_object **repo_out)
{
	const struct config_object *r =
	        config_policy_repository(v->s->cfg, pol);
	size_t ri = r ? snapshot_index(v->s, r) : SIZE_MAX;

	*repo_out = r;
	return ri == SIZE_MAX ? NULL : status_of(v, CONFIG_IMAGEREPOSITORY, ri);
}

/* "5m ago, 120 ms": a repository's last good scan. */
static void
last_scan(struct ui_view *v, const cJSON *rst)
{
	const cJSON *res =
	        cJSON_GetObjectItemCaseSensitive(rst, "lastScanResult");
	double ms = num(res, "scanDurationMs", -1);

	ago(v, str(res, "scanTime"));
	if (ms >= 0)
		buf_addf(O, ", took %.0f ms", ms);
}

/* The time of the newest history entry. */
static const char *
changed_at(const cJSON *st)
{
	const cJSON *h = cJSON_GetObjectItemCaseSensitive(st, "history");
	int n = cJSON_GetArraySize(h);

	return n > 0 ? str(cJSON_GetArrayItem(h, n - 1), "time") : NULL;
}

int
ui_page_images(struct ui_view *v)
{
	size_t np = config_count(v->s->cfg, CONFIG_IMAGEPOLICY);
	struct buf words = BUF_INIT;

	page_head(v, "Images", "Images");
	buf_addf(O,
	         "<h1>Images</h1><p class=\"lead\">%zu image "
	         "polic%s: the version each one picked, the one before, "
	         "when it moved.</p>\n",
	         np, np == 1 ? "y" : "ies");
	buf_puts(O, "<table class=\"images\"><thead><tr><th>Image policy</th>"
	            "<th>Status</th><th>Latest</th><th>Previous</th>"
	            "<th>Changed</th><th>Policy</th><th>Tags</th>"
	            "<th>Last scan</th></tr></thead><tbody>\n");
	for (size_t i = 0; i < np && i < UI_MAX_ROWS; i++) {
		const struct config_object *pol =
		        config_get(v->s->cfg, CONFIG_IMAGEPOLICY, i);
		const struct config_object *repo = NULL;
		const cJSON *st = status_of(v, CONFIG_IMAGEPOLICY, i);
		const cJSON *rst = repo_of(v, pol, &repo);
		const cJSON *res =
		        cJSON_GetObjectItemCaseSensitive(rst, "lastScanResult");
		buf_puts(O, "<tr id=\"");
		anchor(O, pol);
		buf_puts(O, "\"><td>");
		object_link(v, pol);
		if (repo) {
			buf_puts(O, "<div class=\"sub\">");
			ui_html_text(O, repo->u.imagerepository.image);
			buf_puts(O, "</div>");
		}
		buf_puts(O, "</td><td>");
		badge(O, st);
		buf_puts(O, "</td><td class=\"latest\">");
		ref(v, cJSON_GetObjectItemCaseSensitive(st, "latestRef"));
		buf_puts(O, "</td><td>");
		if (cJSON_GetObjectItemCaseSensitive(st, "observedPreviousRef"))
			ref(v, cJSON_GetObjectItemCaseSensitive(
			               st, "observedPreviousRef"));
		buf_puts(O, "</td><td>");
		ago(v, changed_at(st));
		buf_puts(O, "</td><td>");
		buf_reset(&words);
		ui_policy_words(&words, &pol->u.imagepolicy);
		ui_html_text(O, words.ptr);
		buf_addf(O, "</td><td class=\"num\">%.0f</td><td>",
		         num(res, "tagCount", 0));
		if (rst && failing(rst)) {
			badge(O, rst);
			buf_puts(O, " <span class=\"msg\">");
			ui_html_text(O, str(rst, "message"));
			buf_puts(O, "</span><div class=\"sub\">last good: ");
			last_scan(v, rst);
			buf_puts(O, "</div>");
		} else {
			last_scan(v, rst);
		}
		buf_puts(O, "</td></tr>\n");
	}
	buf_puts(O, "</tbody></table>\n");
	if (np == 0)
		buf_puts(O, "<p class=\"none\">No ImagePolicy in the "
		            "configuration.</p>");
	buf_release(&words);
	page_foot(v);
	return 200;
}

/* ?days=N: the timeline's window in days; dflt when absent or bad. */
static int64_t
window_days(const char *days, int64_t dflt)
{
	long long d = dflt;
	struct err e = ERR_INIT;

	if (days &&
	    parse_long(days, strlen(days), 1, UI_MAX_DAYS, &d, "days", &e) < 0)
		d = dflt;
	return (int64_t)d;
}

/* Links to other windows of the same page; days 0: the fitted one. */
static void
window_links(struct ui_view *v, const char *base, int64_t days)
{
	static const int choices[] = { 1, 7, 30, 90, 365 };

	buf_puts(O, "<p class=\"range\">Window: ");
	if (days == 0) {
		buf_puts(O, "<strong>all changes</strong> ");
	}
	for (size_t i = 0; i < sizeof(choices) / sizeof(*choices); i++) {
		if (choices[i] == days) {
			buf_addf(O, "<strong>%dd</strong> ", choices[i]);
			continue;
		}
		buf_puts(O, "<a href=\"");
		ui_html_attr(O, base);
		buf_addf(O, "?days=%d\">%dd</a> ", choices[i], choices[i]);
	}
	buf_puts(O, "</p>\n");
}

/* The lane of policy i: its changes, oldest first.  *marks_out is the
 * caller's (free). */
static int
lane_of(struct ui_view *v, size_t i, enum source src, struct ui_lane *l,
        struct ui_mark **marks_out)
{
	const cJSON *st = status_of(v, CONFIG_IMAGEPOLICY, i);
	const cJSON *hist = history_of(v, i, src);
	const cJSON *h;
	size_t n = (size_t)cJSON_GetArraySize(hist), k = 0;
	struct ui_mark *m = calloc(n ? n : 1, sizeof(*m));

	*marks_out = m;
	if (m == NULL)
		return -ERR_NOMEM;
	cJSON_ArrayForEach(h, hist)
	{
		int64_t t = ui_time_parse(str(h, "time"));
		if (t < 0 || str(h, "tag") == NULL)
			continue;
		m[k].t = t;
		m[k].tag = str(h, "tag");
		m[k].previous = str(h, "previousTag");
		m[k].digest = str(h, "digest");
		m[k].commit = commit_for(v, i, m[k].tag, t, NULL);
		k++;
	}
	l->marks = m;
	l->n = k;
	l->current =
	        str(cJSON_GetObjectItemCaseSensitive(st, "latestRef"), "tag");
	return 0;
}

int
ui_page_image(struct ui_view *v, const char *ns, const char *name,
              const char *days)
{
	const struct config_object *pol =
	        config_find(v->s->cfg, CONFIG_IMAGEPOLICY, ns, name);
	const struct config_object *repo = NULL;
	const cJSON *st, *rst, *res, *t;
	struct buf words = BUF_INIT, label = BUF_INIT, base = BUF_INIT;
	struct ui_lane lane = { 0 };
	struct ui_mark *marks = NULL;
	struct change *ch = NULL;
	size_t pi, nch = 0;
	int64_t d = window_days(days, 0), from;

	if (pol == NULL)
		return ui_page_error(v, 404, "There is no such ImagePolicy.");
	pi = snapshot_index(v->s, pol);
	st = full_status_of(v, CONFIG_IMAGEPOLICY, pi);
	rst = repo_of(v, pol, &repo);
	res = cJSON_GetObjectItemCaseSensitive(rst, "lastScanResult");
	buf_addf(&label, "%s/%s", ns, name);
	page_head(v, label.ptr, "Images");
	buf_puts(O, "<p class=\"crumbs\"><a href=\"/images\">Images</a> / "
	            "</p><h1>");
	ui_html_text(O, label.ptr);
	buf_puts(O, " ");
	badge(O, st);
	buf_puts(O, "</h1>\n");
	actions(v, pol, st);
	buf_puts(O, "<dl class=\"facts\"><dt>Latest</dt><dd class=\"latest\">");
	ref(v, cJSON_GetObjectItemCaseSensitive(st, "latestRef"));
	buf_puts(O, "</dd><dt>Previous</dt><dd class=\"previous\">");
	if (cJSON_GetObjectItemCaseSensitive(st, "observedPreviousRef"))
		ref(v, cJSON_GetObjectItemCaseSensitive(st,
		                                        "observedPreviousRef"));
	else
		buf_puts(O, "<span class=\"none\">none</span>");
	buf_puts(O, "</dd><dt>Changed</dt><dd>");
	ago(v, changed_at(st));
	buf_puts(O, "</dd><dt>Policy</dt><dd>");
	ui_policy_words(&words, &pol->u.imagepolicy);
	ui_html_text(O, words.ptr);
	buf_puts(O, "</dd><dt>Status</dt><dd class=\"msg\">");
	ui_html_text(O, str(st, "message"));
	buf_puts(O, "</dd></dl>\n");
	/* The timeline of this image: by default fitted to its history. */
	buf_puts(O, "<h2>Timeline</h2>");
	image_href(&base, pol);
	window_links(v, base.ptr, d);
	lane.label = label.ptr;
	if (lane_of(v, pi, ONE, &lane, &marks) == 0) {
		from = v->now - d * 86400;
		if (d == 0) {
			int64_t span = lane.n ? v->now - lane.marks[0].t : 0;
			if (span < 600)
				span = 600;
			from = v->now - span - span / 12;
		}
		ui_timeline_svg(O, &lane, 1, from, v->now, true);
	}
	free(marks);
	buf_puts(O, "<h2>History</h2>");
	if (changes_collect(v, ONE, pi, 0, v->now + 86400, &ch, &nch) == 0) {
		if (nch == 0)
			buf_puts(O, "<p class=\"none\">No change yet.</p>");
		else
			changes_table(v, ch, nch, false);
	}
	free(ch);
	/* Where the versions come from. */
	buf_puts(O, "<h2>Repository ");
	if (repo)
		nsname(O, repo);
	buf_puts(O, "</h2>");
	if (repo)
		actions(v, repo, rst);
	buf_puts(O, "<dl class=\"facts\" id=\"repository\"><dt>Image</dt><dd>");
	if (repo)
		el(O, "code", NULL, repo->u.imagerepository.image);
	buf_puts(O, "</dd><dt>Status</dt><dd>");
	badge(O, rst);
	buf_puts(O, " <span class=\"msg\" id=\"repo-message\">");
	ui_html_text(O, str(rst, "message"));
	buf_puts(O, "</span>");
	if (rst && failing(rst)) {
		buf_puts(O, "<div class=\"sub\">failing since ");
		ago(v, str(rst, "lastTransitionTime"));
		buf_puts(O, "; last success ");
		ago(v, str(rst, "lastSuccessTime"));
		buf_puts(O, "</div>");
	}
	buf_addf(O, "</dd><dt>Tags known</dt><dd>%.0f",
	         num(res, "tagCount", 0));
	if (cJSON_GetArraySize(
	            cJSON_GetObjectItemCaseSensitive(res, "latestTags")) > 0) {
		buf_puts(O, " <span class=\"sub\">(last in order:");
		cJSON_ArrayForEach(
		        t, cJSON_GetObjectItemCaseSensitive(res, "latestTags"))
		{
			buf_puts(O, " ");
			el(O, "code", "tag", cJSON_GetStringValue(t));
		}
		buf_puts(O, ")</span>");
	}
	buf_puts(O, "</dd><dt>Last scan</dt><dd>");
	last_scan(v, rst);
	buf_puts(O, "</dd></dl>\n");
	/* Who writes it back. */
	buf_puts(O, "<h2>Written back by</h2>");
	if (v->s->policy_automations[pi].n == 0)
		buf_puts(O, "<p class=\"none\">No ImageUpdateAutomation "
		            "selects this policy.</p>");
	buf_puts(O, "<ul class=\"plain\">");
	for (size_t k = 0; k < v->s->policy_automations[pi].n; k++) {
		size_t ai = v->s->policy_automations[pi].v[k];
		const struct config_object *a =
		        config_get(v->s->cfg, CONFIG_IMAGEUPDATEAUTOMATION, ai);
		const cJSON *ast =
		        status_of(v, CONFIG_IMAGEUPDATEAUTOMATION, ai);
		buf_puts(O, "<li>");
		object_link(v, a);
		buf_puts(O, " ");
		badge(O, ast);
		if (str(ast, "lastPushCommit")) {
			buf_puts(O, " last push ");
			commit_link(v, remote_of(v, a),
			            str(ast, "lastPushCommit"));
			buf_puts(O, " ");
			ago(v, str(ast, "lastPushTime"));
		}
		buf_puts(O, "</li>");
	}
	buf_puts(O, "</ul>\n");
	buf_release(&words);
	buf_release(&label);
	buf_release(&base);
	page_foot(v);
	return 200;
}

/* ---- the fleet's timeline ---- */

struct lane_order {
	size_t policy;
	int64_t last; /* its newest change in the window */
};

static int
lane_newer_first(const void *a, const void *b)
{
	const struct lane_order *x = a, *y = b;

	return x->last < y->last ? 1 : x->last > y->last ? -1 : 0;
}

int
ui_page_timeline(struct ui_view *v, const char *days)
{
	int64_t d = window_days(days, UI_DEFAULT_DAYS),
	        from = v->now - d * 86400;
	size_t np = config_count(v->s->cfg, CONFIG_IMAGEPOLICY), nl = 0;
	struct lane_order *order = calloc(np ? np : 1, sizeof(*order));
	struct ui_lane *lanes = NULL;
	struct ui_mark **marks = NULL;
	struct buf *labels = NULL, *hrefs = NULL;
	struct change *ch = NULL;
	size_t nch = 0, shown;

	page_head(v, "Timeline", "Timeline");
	buf_addf(O,
	         "<h1>Timeline</h1><p class=\"lead\">Every change of an "
	         "image's latest version in the last %lld day%s; hover a "
	         "marker for the version, the commit and the time.</p>\n",
	         (long long)d, d == 1 ? "" : "s");
	window_links(v, "/timeline", d);
	v->window_from = from;
	if (order == NULL ||
	    changes_collect(v, WINDOW, 0, from, v->now, &ch, &nch) < 0) {
		buf_puts(O, "<p>out of memory</p>");
		goto out;
	}
	/* The images that moved, the most recent first. */
	for (size_t i = 0; i < nch; i++) {
		size_t k;
		for (k = 0; k < nl && order[k].policy != ch[i].policy; k++)
			;
		if (k == nl) {
			order[nl].policy = ch[i].policy;
			order[nl].last = ch[i].t;
			nl++;
		}
	}
	qsort(order, nl, sizeof(*order), lane_newer_first);
	shown = nl < UI_MAX_LANES ? nl : UI_MAX_LANES;
	lanes = calloc(shown + 1, sizeof(*lanes));
	marks = calloc(shown + 1, sizeof(*marks));
	labels = calloc(shown + 1, sizeof(*labels));
	hrefs = calloc(shown + 1, sizeof(*hrefs));
	if (!lanes || !marks || !labels || !hrefs) {
		buf_puts(O, "<p>out of memory</p>");
		goto out;
	}
	for (size_t i = 0; i < shown; i++) {
		const struct config_object *pol = config_get(
		        v->s->cfg, CONFIG_IMAGEPOLICY, order[i].policy);
		labels[i] = (struct buf)BUF_INIT;
		hrefs[i] = (struct buf)BUF_INIT;
		buf_addf(&labels[i], "%s/%s", pol->metadata.namespace,
		         pol->metadata.name);
		image_href(&hrefs[i], pol);
		lanes[i].label = labels[i].ptr;
		lanes[i].href = hrefs[i].ptr;
		lane_of(v, order[i].policy, WINDOW, &lanes[i], &marks[i]);
	}
	ui_timeline_svg(O, lanes, shown, from, v->now, false);
	if (nl > shown)
		buf_addf(O,
		         "<p class=\"sub\">%zu more images changed in this "
		         "window; the table below has them all.</p>",
		         nl - shown);
	buf_addf(O, "<h2>Changes <span class=\"count\">%zu</span></h2>", nch);
	if (nch == 0)
		buf_puts(O, "<p class=\"none\">No version changed in this "
		            "window.</p>");
	else
		changes_table(v, ch, nch < UI_MAX_ROWS ? nch : UI_MAX_ROWS,
		              true);
out:
	for (size_t i = 0; lanes && i < nl && i < UI_MAX_LANES; i++) {
		free(marks[i]);
		buf_release(&labels[i]);
		buf_release(&hrefs[i]);
	}
	free(lanes);
	free(marks);
	free(labels);
	free(hrefs);
	free(order);
	free(ch);
	page_foot(v);
	return 200;
}

/* ---- automations ---- */

/* What a push changed: file:line old -> new, a few of them. */
static void
diff_summary(struct ui_view *v, const cJSON *push)
{
	const cJSON *changes =
	        cJSON_GetObjectItemCaseSensitive(push, "changes");
	const cJSON *c;
	int n = cJSON_GetArraySize(changes), shown = 0;

	buf_addf(O,
	         "<div class=\"diff\"><span class=\"sub\">%d change%s"
	         "</span><ul>",
	         n, n == 1 ? "" : "s");
	cJSON_ArrayForEach(c, changes)
	{
		if (shown++ == 10)
			break;
		buf_puts(O, "<li><code>");
		ui_html_text(O, str(c, "file"));
		buf_addf(O, ":%.0f</code> <del>", num(c, "line", 0));
		ui_html_text(O, str(c, "old"));
		buf_puts(O, "</del> \xe2\x86\x92 <ins>");
		ui_html_text(O, str(c, "new"));
		buf_puts(O, "</ins></li>");
	}
	if (n > 10)
		buf_addf(O, "<li class=\"sub\">and %d more</li>", n - 10);
	buf_puts(O, "</ul></div>");
}

/* The end of an object's facts: when it runs next, and its status. */
static void
next_run_and_status(struct ui_view *v, const cJSON *st)
{
	double next = num(st, "nextRunSeconds", -1);
	char span[32];

	buf_puts(O, "</dd><dt>Next run</dt><dd>");
	if (suspended(st)) {
		buf_puts(O, "suspended");
	} else if (next >= 0) {
		ui_span(span, (int64_t)next);
		buf_addf(O, "in %s", span);
	} else {
		buf_puts(O, "<span class=\"none\">not scheduled</span>");
	}
	buf_puts(O, "</dd><dt>Status</dt><dd class=\"msg\">");
	ui_html_text(O, str(st, "message"));
	buf_puts(O, "</dd></dl>");
}

static void
automation(struct ui_view *v, size_t i)
{
	const struct config_object *a =
	        config_get(v->s->cfg, CONFIG_IMAGEUPDATEAUTOMATION, i);
	const struct config_imageupdateautomation *u =
	        &a->u.imageupdateautomation;
	const cJSON *st = full_status_of(v, CONFIG_IMAGEUPDATEAUTOMATION, i);
	const cJSON *pushes =
	        cJSON_GetObjectItemCaseSensitive(st, "pushHistory");
	const struct config_object *src = source_of(v, a);
	const char *remote = src ? src->u.gitrepository.url : NULL;
	const char *branch = u->git.push.branch ? u->git.push.branch
	                     : u->git.checkout.ref.branch
	                             ? u->git.checkout.ref.branch
	                     : src ? src->u.gitrepository.ref.branch
	                           : NULL;
	int np = cJSON_GetArraySize(pushes), retried = 0;
	const cJSON *last = np > 0 ? cJSON_GetArrayItem(pushes, np - 1) : NULL;
	const cJSON *p;
	char clean[512];

	buf_puts(O, "<section class=\"automation\" id=\"");
	anchor(O, a);
	buf_puts(O, "\"><h2>");
	nsname(O, a);
	buf_puts(O, " ");
	badge(O, st);
	buf_puts(O, "</h2>");
	actions(v, a, st);
	buf_puts(O, "<dl class=\"facts\"><dt>Remote</dt><dd>");
	if (remote) {
		/* Never the URL's user or password. */
		log_url(clean, sizeof(clean), remote);
		el(O, "code", NULL, clean);
	}
	if (branch) {
		buf_puts(O, " branch ");
		el(O, "code", NULL, branch);
	}
	buf_puts(O, "</dd><dt>Last push</dt><dd class=\"lastpush\">");
	if (last) {
		commit_link(v, remote, str(last, "commit"));
		buf_puts(O, " ");
		ago(v, str(last, "time"));
		buf_puts(O, "<div class=\"subject\">");
		ui_html_text(O, str(last, "subject"));
		buf_puts(O, "</div>");
		diff_summary(v, last);
	} else if (str(st, "lastPushCommit")) {
		commit_link(v, remote, str(st, "lastPushCommit"));
		buf_puts(O, " ");
		ago(v, str(st, "lastPushTime"));
	} else {
		buf_puts(O, "<span class=\"none\">nothing pushed yet</span>");
	}
	cJSON_ArrayForEach(p, pushes)
	{
		double at = num(p, "attempts", 1);
		retried += at > 1 ? (int)at - 1 : 0;
	}
	buf_addf(O,
	         "</dd><dt>Push conflicts retried</dt><dd>%d in the last %d "
	         "push%s",
	         retried, np, np == 1 ? "" : "es");
	if (last && num(last, "attempts", 1) > 1)
		buf_addf(O, " (the last took %.0f attempts)",
		         num(last, "attempts", 1));
	buf_puts(O, "</dd><dt>Last run</dt><dd>");
	ago(v, str(st, "lastAutomationRunTime"));
	next_run_and_status(v, st);
	if (np > 1) {
		buf_puts(O, "<details><summary>Earlier pushes</summary>"
		            "<table class=\"pushes\"><thead><tr><th>When</th>"
		            "<th>Commit</th><th>Message</th><th>Attempts</th>"
		            "</tr></thead><tbody>");
		for (int k = np - 2; k >= 0 && k >= np - 21; k--) {
			const cJSON *e = cJSON_GetArrayItem(pushes, k);
			buf_puts(O, "<tr><td>");
			ago(v, str(e, "time"));
			buf_puts(O, "</td><td>");
			commit_link(v, remote, str(e, "commit"));
			buf_puts(O, "</td><td>");
			ui_html_text(O, str(e, "subject"));
			buf_addf(O, "</td><td class=\"num\">%.0f</td></tr>",
			         num(e, "attempts", 1));
		}
		buf_puts(O, "</tbody></table></details>");
	}
	buf_puts(O, "</section>\n");
}

int
ui_page_automations(struct ui_view *v)
{
	size_t na = config_count(v->s->cfg, CONFIG_IMAGEUPDATEAUTOMATION);

	page_head(v, "Automations", "Automations");
	buf_addf(O,
	         "<h1>Automations</h1><p class=\"lead\">%zu "
	         "ImageUpdateAutomation%s: what each pushed last, and "
	         "when it runs next.</p>\n",
	         na, na == 1 ? "" : "s");
	for (size_t i = 0; i < na && i < UI_MAX_ROWS; i++)
		automation(v, i);
	if (na == 0)
		buf_puts(O, "<p class=\"none\">No ImageUpdateAutomation in "
		            "the configuration.</p>");
	page_foot(v);
	return 200;
}

/* ---- kustomizations ---- */

/* The commit of a revision "BRANCH@sha1:HEX" (or a bare id), or NULL. */
static const char *
revision_commit(const char *rev)
{
	const char *at = rev ? strstr(rev, "@sha1:") : NULL;

	return at ? at + 6 : rev;
}

/* A revision: its branch and its commit, linked to the forge. */
static void
revision(struct ui_view *v, const char *remote, const char *rev)
{
	const char *at = rev ? strstr(rev, "@sha1:") : NULL;

	if (rev == NULL) {
		buf_puts(O, "<span class=\"none\">none</span>");
		return;
	}
	if (at) {
		char branch[256];
		snprintf(branch, sizeof(branch), "%.*s",
		         (int)(at - rev < 255 ? at - rev : 255), rev);
		el(O, "code", NULL, branch);
		buf_puts(O, " ");
	}
	commit_link(v, remote, revision_commit(rev));
}

/* A list of file names under a label, in a <details> when long. */
static void
names(struct ui_view *v, const char *label, const cJSON *list)
{
	int n = cJSON_GetArraySize(list);
	const cJSON *x;

	if (n <= 0)
		return;
	buf_addf(O, "<details><summary>%d ", n);
	ui_html_text(O, label);
	buf_puts(O, "</summary><ul class=\"files\">");
	cJSON_ArrayForEach(x, list)
	{
		if (!cJSON_IsString(x))
			continue;
		buf_puts(O, "<li>");
		el(O, "code", NULL, x->valuestring);
		buf_puts(O, "</li>");
	}
	buf_puts(O, "</ul></details>");
}

static void
kustomization(struct ui_view *v, size_t i)
{
	const struct config_object *k =
	        config_get(v->s->cfg, CONFIG_KUSTOMIZATION, i);
	const struct config_object *src =
	        config_source_gitrepository(v->s->cfg, k);
	const char *remote = src ? src->u.gitrepository.url : NULL;
	const cJSON *st, *x, *sync, *drift, *fail, *hist;
	char clean[512];
	int nh;

	buf_puts(O, "<section class=\"automation kustomization\" id=\"");
	anchor(O, k);
	buf_puts(O, "\"><h2>");
	nsname(O, k);
	if (!config_kustomization_managed(k)) {
		buf_puts(O, " <span class=\"badge unknown\">Flux's</span></h2>"
		            "<p class=\"none\">Left to Flux: it has no "
		            "<code>ferry.io/</code> annotations, so ferry does "
		            "not sync it.</p></section>\n");
		return;
	}
	st = full_status_of(v, CONFIG_KUSTOMIZATION, i);
	buf_puts(O, " ");
	badge(O, st);
	buf_puts(O, "</h2>");
	actions(v, k, st);
	buf_puts(O, "<dl class=\"facts\"><dt>Source</dt><dd>");
	if (remote) {
		/* Never the URL's user or password. */
		log_url(clean, sizeof(clean), remote);
		el(O, "code", NULL, clean);
	}
	buf_puts(O, " path ");
	el(O, "code", NULL,
	   k->u.kustomization.path ? k->u.kustomization.path : "./");
	buf_puts(O, "</dd><dt>Revision applied</dt><dd class=\"applied\">");
	revision(v, remote, str(st, "lastAppliedRevision"));
	if (str(st, "lastAppliedTime")) {
		buf_puts(O, " ");
		ago(v, str(st, "lastAppliedTime"));
	}
	if (str(st, "lastAttemptedRevision") &&
	    !is(str(st, "lastAttemptedRevision"),
	        str(st, "lastAppliedRevision"))) {
		buf_puts(O, "<div>last attempted: ");
		revision(v, remote, str(st, "lastAttemptedRevision"));
		buf_puts(O, "</div>");
	}
	buf_puts(O, "</dd><dt>Targets</dt><dd class=\"targets\">");
	x = cJSON_GetObjectItemCaseSensitive(st, "targets");
	if (cJSON_GetArraySize(x) == 0) {
		buf_puts(O, "<span class=\"none\">none: renders and validates "
		            "only</span>");
	} else {
		const cJSON *t;
		buf_puts(O, "<ul class=\"files\">");
		cJSON_ArrayForEach(t, x)
		{
			if (!cJSON_IsString(t))
				continue;
			buf_puts(O, "<li>");
			el(O, "code", NULL, t->valuestring);
			buf_puts(O, "</li>");
		}
		buf_puts(O, "</ul>");
	}
	buf_puts(O, "</dd><dt>Last sync</dt><dd class=\"lastsync\">");
	sync = cJSON_GetObjectItemCaseSensitive(st, "lastSync");
	if (sync) {
		buf_addf(O,
		         "%.0f objects: %d created, %d configured, %d "
		         "deleted ",
		         num(sync, "objects", 0),
		         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		                 sync, "created")),
		         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		                 sync, "configured")),
		         cJSON_GetArraySize(cJSON_GetObjectItemCaseSensitive(
		                 sync, "deleted")));
		ago(v, str(sync, "time"));
		names(v, "created",
		      cJSON_GetObjectItemCaseSensitive(sync, "created"));
		names(v, "configured",
		      cJSON_GetObjectItemCaseSensitive(sync, "configured"));
		names(v, "deleted",
		      cJSON_GetObjectItemCaseSensitive(sync, "deleted"));
		names(v, "kept (prune: false)",
		      cJSON_GetObjectItemCaseSensitive(sync, "orphaned"));
	} else {
		buf_puts(O, "<span class=\"none\">never synced</span>");
	}
	buf_puts(O, "</dd><dt>Drift found</dt><dd class=\"drift\">");
	drift = cJSON_GetObjectItemCaseSensitive(st, "lastDrift");
	if (drift) {
		const cJSON *mod = cJSON_GetObjectItemCaseSensitive(drift,
		                                                    "modified"),
		            *add = cJSON_GetObjectItemCaseSensitive(drift,
		                                                    "added"),
		            *rem = cJSON_GetObjectItemCaseSensitive(drift,
		                                                    "removed");
		buf_addf(O,
		         "%d modified, %d added, %d removed by hand, "
		         "corrected ",
		         cJSON_GetArraySize(mod), cJSON_GetArraySize(add),
		         cJSON_GetArraySize(rem));
		ago(v, str(drift, "time"));
		names(v, "modified by hand (restored)", mod);
		names(v, "added by hand (removed)", add);
		names(v, "deleted by hand (restored)", rem);
	} else {
		buf_puts(O, "<span class=\"none\">none found</span>");
	}
	fail = cJSON_GetObjectItemCaseSensitive(st, "lastFailure");
	if (fail && !is(str(st, "ready"), "True")) {
		buf_puts(O, "</dd><dt>Failing</dt><dd class=\"msg\">");
		el(O, "code", NULL, str(fail, "phase"));
		buf_puts(O, " ");
		ui_html_text(O, str(fail, "message"));
		buf_addf(O, " (%.0f in a row, the last ",
		         num(st, "failures", 1));
		ago(v, str(fail, "time"));
		buf_puts(O, ")");
	}
	next_run_and_status(v, st);
	hist = cJSON_GetObjectItemCaseSensitive(st, "history");
	nh = cJSON_GetArraySize(hist);
	if (nh > 0) {
		buf_puts(O, "<details><summary>Sync history</summary>"
		            "<table class=\"pushes\"><thead><tr><th>When</th>"
		            "<th>Revision</th><th>Result</th><th>Message</th>"
		            "</tr></thead><tbody>");
		for (int j = nh - 1; j >= 0 && j >= nh - 20; j--) {
			const cJSON *e = cJSON_GetArrayItem(hist, j);
			buf_puts(O, "<tr><td>");
			ago(v, str(e, "time"));
			buf_puts(O, "</td><td>");
			revision(v, remote, str(e, "revision"));
			buf_puts(O, "</td><td>");
			ui_html_text(O, str(e, "result"));
			buf_puts(O, "</td><td class=\"msg\">");
			ui_html_text(O, str(e, "message"));
			buf_puts(O, "</td></tr>");
		}
		buf_puts(O, "</tbody></table></details>");
	}
	buf_puts(O, "</section>\n");
}

int
ui_page_kustomizations(struct ui_view *v)
{
	size_t n = config_count(v->s->cfg, CONFIG_KUSTOMIZATION), mine = 0;

	for (size_t i = 0; i < n; i++)
		mine += shown(v, CONFIG_KUSTOMIZATION, i);
	page_head(v, "Kustomizations", "Kustomizations");
	buf_addf(O,
	         "<h1>Kustomizations</h1><p class=\"lead\">%zu synced by "
	         "ferry's reconciler",
	         mine);
	if (n > mine)
		buf_addf(O, ", %zu left to Flux", n - mine);
	buf_puts(O, ": the revision each target holds, and drift found "
	            "there.</p>\n");
	for (size_t i = 0; i < n && i < UI_MAX_ROWS; i++)
		kustomization(v, i);
	if (n == 0)
		buf_puts(O, "<p class=\"none\">No Kustomization in the "
		            "configuration.</p>");
	page_foot(v);
	return 200;
}

/* ---- events ---- */

int
ui_page_events(struct ui_view *v, const char *kind, const char *severity)
{
	static const char *const kind_names[] = {
		"ImageRepository", "ImagePolicy", "ImageUpdateAutomation",
		"Kustomization",   "Config",
	};
	const size_t nkind = sizeof(kind_names) / sizeof(*kind_names);
	static const char *const sev_names[] = { "info", "error" };
	struct event *ev = NULL;
	size_t nev = 0;
	bool kind_ok = false, sev_ok = false;

	for (size_t i = 0; kind && i < nkind; i++)
		kind_ok |= is(kind, kind_names[i]);
	for (size_t i = 0; severity && i < 2; i++)
		sev_ok |= is(severity, sev_names[i]);
	if (!kind_ok)
		kind = NULL;
	if (!sev_ok)
		severity = NULL;
	page_head(v, "Events", "Events");
	buf_puts(O, "<h1>Events</h1><p class=\"lead\">What the daemon did, "
	            "newest first (it keeps the last 1,000).</p>\n"
	            "<form class=\"filter\" method=\"get\" action=\"/events\">"
	            "<label>Kind <select name=\"kind\" data-autosubmit>"
	            "<option value=\"\">any</option>");
	for (size_t i = 0; i < nkind; i++)
		buf_addf(O, "<option%s>%s</option>",
		         is(kind, kind_names[i]) ? " selected" : "",
		         kind_names[i]);
	buf_puts(O, "</select></label> <label>Severity <select "
	            "name=\"severity\" data-autosubmit>"
	            "<option value=\"\">any</option>");
	for (size_t i = 0; i < 2; i++)
		buf_addf(O, "<option%s>%s</option>",
		         is(severity, sev_names[i]) ? " selected" : "",
		         sev_names[i]);
	buf_puts(O, "</select></label> <button>Show</button></form>\n");
	if (events_since(v->d->events, 0, EVENTS_MAX, 0, &ev, &nev, NULL) < 0)
		buf_puts(O, "<p>out of memory</p>");
	else
		events_table(v, ev, nev, kind, severity, UI_MAX_EVENTS_SHOWN);
	events_array_free(ev, nev);
	page_foot(v);
	return 200;
}

int
ui_page_error(struct ui_view *v, int status, const char *message)
{
	page_head(v, status == 404 ? "Not found" : "Error", "");
	buf_addf(O, "<h1>%d</h1><p>", status);
	ui_html_text(O, message);
	buf_puts(O, " <a href=\"/\">The overview</a></p>");
	page_foot(v);
	return status;
}
