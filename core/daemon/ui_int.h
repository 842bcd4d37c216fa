/*
 * ui_int.h - what the status page's files share (ui.c: routes, access,
 * actions, live updates; ui_html.c: escaping and the pieces every page
 * uses; ui_pages.c: the pages; ui_timeline.c: the SVG timeline), and what
 * the unit tests call directly.
 *
 * Untrusted text: tags, error messages from registries, commit messages,
 * remote URLs and every name in the configuration reach a page only
 * through ui_html_text() (element content) or ui_html_attr() (a quoted
 * attribute value); URL path segments only through ui_url_segment().
 * Markup the page itself writes is appended as literal strings, and
 * numbers with buf_addf; no untrusted string is ever a format string.
 *
 * Thread safety: the functions here are reentrant; a struct ui_view is
 * used by one request at a time.
 */
#ifndef FERRY_CORE_DAEMON_UI_INT_H
#define FERRY_CORE_DAEMON_UI_INT_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/objects.h"

struct daemon;
struct snapshot;

#define UI_MAX_ROWS 2000 /* rows of one table */
#define UI_MAX_EVENTS_SHOWN 200
#define UI_MAX_LANES 40   /* images on the fleet timeline */
#define UI_DEFAULT_DAYS 7 /* the timeline's window */
#define UI_MAX_DAYS 366

/* ---- escaping (ui_html.c) ---- */

/*
 * Appends s as HTML element content: '&', '<' and '>' as character
 * references; a byte that is not valid UTF-8, and a control character
 * other than tab and newline, as U+FFFD.  NULL appends nothing.  The
 * result of buf_ok(out).
 */
int ui_html_text(struct buf *out, const char *s);

/*
 * Appends s as the value of an attribute written in double quotes: as
 * ui_html_text, and '"' and '\'' as character references too.
 */
int ui_html_attr(struct buf *out, const char *s);

/* Appends s percent-encoded for one URL path segment or query value
 * (everything but A-Z a-z 0-9 - . _ ~). */
int ui_url_segment(struct buf *out, const char *s);

/* ---- words ---- */

/*
 * Appends an ImagePolicy's rule in words, as text (not yet escaped):
 * "semver >=1.0.0 <2.0.0, tags matching ^v".
 */
int ui_policy_words(struct buf *out, const struct config_imagepolicy *p);

/*
 * Appends the forge's web page of commit sha when remote (a Git URL: https,
 * http, ssh or scp-like) is on GitHub, GitLab, Gitea (or Forgejo,
 * Codeberg) or Bitbucket, recognised by host name; never with the URL's
 * user or password.  -ERR_NOTFOUND (nothing appended) for another host, a
 * path with characters outside A-Z a-z 0-9 . _ ~ - /, or sha not hex.
 */
int ui_commit_url(struct buf *out, const char *remote, const char *sha);

/* "45s", "12m", "3h", "2d" for a span in seconds (negative as 0). */
void ui_span(char out[32], int64_t seconds);

/* RFC 3339 "2026-12-02T10:00:00Z" to Unix seconds; -1 when it is not. */
int64_t ui_time_parse(const char *s);

/* ---- the SVG timeline (ui_timeline.c) ---- */

/* One change of an image's latest version. */
struct ui_mark {
	int64_t t;            /* Unix seconds */
	const char *tag;      /* the new version */
	const char *previous; /* the version before, or NULL */
	const char *digest;   /* or NULL */
	const char *commit;   /* the commit that wrote it back, or NULL */
};

/* One row: an image and its changes, oldest first. */
struct ui_lane {
	const char *label;   /* "flux-system/app" */
	const char *href;    /* the label's link (a safe path), or NULL */
	const char *current; /* the version now, or NULL */
	struct ui_mark *marks;
	size_t n;
};

/*
 * Appends an inline <svg> of lanes over the window [from, to] (Unix
 * seconds): a time axis with UTC ticks, one row per lane, a marker per
 * change inside the window with a <title> (hover text: image, version,
 * previous version, commit, time), and with tag_labels the version
 * written beside each marker (for a page of one image).  Colours come from
 * the stylesheet's classes (tl-*), so the colour scheme applies.
 */
int ui_timeline_svg(struct buf *out, const struct ui_lane *lanes, size_t n,
                    int64_t from, int64_t to, bool tag_labels);

/* ---- a request's view of the daemon (ui_pages.c) ---- */

struct ui_view {
	struct daemon *d;
	struct snapshot *s;
	struct buf *out;
	int64_t now;      /* Unix seconds */
	const char *csrf; /* the action forms' token; NULL: actions off */
	const char *path; /* the request's path, for forms' way back */
	/* Per object, built on demand: status summaries, whole statuses,
	 * and policies' history from window_from on. */
	cJSON **status[CONFIG_KIND_COUNT];
	cJSON **full[CONFIG_KIND_COUNT];
	cJSON **window;
	int64_t window_from;
	bool brief; /* status_of: brief statuses (set before the first) */
};

void ui_view_init(struct ui_view *v, struct daemon *d, struct buf *out,
                  const char *csrf, const char *path);
void ui_view_release(struct ui_view *v);

/*
 * The pages.  Each appends a whole HTML document to v->out and returns
 * the HTTP status (200, or 404 for an object that does not exist); a
 * failed append shows in buf_ok(v->out).  query: the request's arguments
 * that apply (NULL when absent).
 */
int ui_page_overview(struct ui_view *v);
int ui_page_images(struct ui_view *v);
int ui_page_image(struct ui_view *v, const char *ns, const char *name,
                  const char *days);
int ui_page_timeline(struct ui_view *v, const char *days);
int ui_page_automations(struct ui_view *v);
int ui_page_kustomizations(struct ui_view *v);
int ui_page_events(struct ui_view *v, const char *kind, const char *severity);
int ui_page_error(struct ui_view *v, int status, const char *message);

/* The static files (ui_assets.c, generated from core/daemon/ui/). */
struct ui_asset {
	const char *path; /* "/ui/style.css" */
	const char *ctype;
	const unsigned char *data;
	size_t len;
};

extern const struct ui_asset ui_assets[];
extern const size_t ui_nassets;

#endif
