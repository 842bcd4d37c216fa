/*
 * ui_timeline.c - the status page's timeline: an SVG drawn by ferry of
 * every change of images' latest versions over a window of time, one row
 * per image, a marker per change with its hover text (<title>: version,
 * the one before, commit, time).  It takes plain data (ui_lane) and knows
 * nothing of the daemon, so the tests draw it directly.  Colours are
 * classes for the stylesheet, which has a light and a dark scheme; no
 * style attribute is written (the page's Content-Security-Policy allows
 * no inline style).
 */
#include "ui_int.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

#include "base/err.h"

#define TL_WIDTH 960
#define TL_LABEL 230 /* the column of image names */
#define TL_PAD 18
#define TL_AXIS 30
#define TL_LANE 30
#define TL_LANE_TAGS 70 /* a lane with versions written beside markers */
#define TL_MAX_TICKS 8
#define TL_LABEL_CHARS 26
#define TL_CURRENT_CHARS 14

static double
x_of(int64_t t, int64_t from, int64_t to)
{
	double span = (double)(to - from);

	if (span <= 0)
		span = 1;
	return TL_LABEL +
	       (double)(t - from) * (TL_WIDTH - TL_LABEL - TL_PAD) / span;
}

/* Appends at most max bytes of s (cut on a UTF-8 boundary, with an
 * ellipsis), escaped as text. */
static void
text_cut(struct buf *out, const char *s, size_t max)
{
	struct buf cut = BUF_INIT;
	size_t n = s ? strlen(s) : 0;

	if (n <= max) {
		ui_html_text(out, s);
		return;
	}
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	buf_add(&cut, s, max);
	buf_puts(&cut, "\xe2\x80\xa6");
	ui_html_text(out, cut.ptr);
	buf_release(&cut);
}

static void
utc(char out[32], int64_t t, const char *fmt)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	if (strftime(out, 32, fmt, &tm) == 0)
		out[0] = '\0';
}

/* Grid lines and UTC labels at a round step that gives a few ticks. */
static void
axis(struct buf *out, int64_t from, int64_t to, int height)
{
	static const int64_t steps[] = { 60,         300,        600,
		                         1800,       3600,       3 * 3600,
		                         6 * 3600,   12 * 3600,  86400,
		                         2 * 86400,  7 * 86400,  14 * 86400,
		                         30 * 86400, 91 * 86400, 182 * 86400 };
	int64_t step = steps[sizeof(steps) / sizeof(*steps) - 1];
	char label[32];

	for (size_t i = 0; i < sizeof(steps) / sizeof(*steps); i++)
		if ((to - from) / steps[i] <= TL_MAX_TICKS) {
			step = steps[i];
			break;
		}
	for (int64_t t = (from / step + 1) * step; t < to; t += step) {
		double x = x_of(t, from, to);
		/* Room for the "now" label at the right end. */
		if (x > x_of(to, from, to) - 40)
			break;
		utc(label, t,
		    step < 86400 && t % 86400 != 0 ? "%H:%M" : "%d %b");
		buf_addf(out,
		         "<line class=\"tl-grid\" x1=\"%.1f\" y1=\"%d\" "
		         "x2=\"%.1f\" y2=\"%d\"/>"
		         "<text class=\"tl-tick\" x=\"%.1f\" y=\"%d\" "
		         "text-anchor=\"middle\">%s</text>\n",
		         x, TL_AXIS - 6, x, height, x, TL_AXIS - 12, label);
	}
	buf_addf(out,
	         "<line class=\"tl-now\" x1=\"%.1f\" y1=\"%d\" x2=\"%.1f\" "
	         "y2=\"%d\"/><text class=\"tl-tick\" x=\"%.1f\" y=\"%d\" "
	         "text-anchor=\"end\">now</text>\n",
	         x_of(to, from, to), TL_AXIS - 6, x_of(to, from, to), height,
	         x_of(to, from, to), TL_AXIS - 12);
}

/* The hover text of one marker. */
static void
mark_title(struct buf *out, const struct ui_lane *l, const struct ui_mark *m)
{
	char when[32];

	utc(when, m->t, "%Y-%m-%d %H:%M:%S UTC");
	buf_puts(out, "<title>");
	ui_html_text(out, l->label);
	buf_puts(out, ": ");
	ui_html_text(out, m->tag);
	if (m->previous) {
		buf_puts(out, " (was ");
		ui_html_text(out, m->previous);
		buf_puts(out, ")");
	}
	if (m->digest) {
		buf_puts(out, "\ndigest ");
		ui_html_text(out, m->digest);
	}
	if (m->commit) {
		buf_puts(out, "\ncommit ");
		ui_html_text(out, m->commit);
	}
	buf_addf(out, "\n%s</title>", when);
}

static void
lane(struct buf *out, const struct ui_lane *l, size_t row, int y, int h,
     int64_t from, int64_t to, bool tag_labels)
{
	int mid = y + (tag_labels ? h / 2 + 6 : h / 2);
	size_t shown = 0;

	buf_addf(out,
	         "<g class=\"tl-lane\"><rect class=\"tl-row%s\" x=\"0\" "
	         "y=\"%d\" width=\"%d\" height=\"%d\"/>",
	         row % 2 ? " tl-odd" : "", y, TL_WIDTH, h);
	if (l->href) {
		buf_puts(out, "<a href=\"");
		ui_html_attr(out, l->href);
		buf_puts(out, "\">");
	}
	buf_addf(out, "<text class=\"tl-label\" x=\"8\" y=\"%d\">", mid + 4);
	text_cut(out, l->label, TL_LABEL_CHARS);
	buf_puts(out, "</text>");
	if (l->href)
		buf_puts(out, "</a>");
	if (l->current) {
		buf_addf(out,
		         "<text class=\"tl-cur\" x=\"%d\" y=\"%d\" "
		         "text-anchor=\"end\">",
		         TL_LABEL - 10, mid + 4);
		text_cut(out, l->current, TL_CURRENT_CHARS);
		buf_puts(out, "</text>");
	}
	buf_addf(out,
	         "<line class=\"tl-line\" x1=\"%d\" y1=\"%d\" x2=\"%d\" "
	         "y2=\"%d\"/>\n",
	         TL_LABEL, mid, TL_WIDTH - TL_PAD, mid);
	for (size_t i = 0; i < l->n; i++) {
		const struct ui_mark *m = &l->marks[i];
		double x;
		if (m->t < from || m->t > to)
			continue;
		x = x_of(m->t, from, to);
		buf_puts(out, "<g class=\"tl-mk\">");
		mark_title(out, l, m);
		buf_addf(out, "<circle cx=\"%.1f\" cy=\"%d\" r=\"6\"/>", x,
		         mid);
		if (tag_labels) {
			/* Above and below in turn, so neighbours overlap
			 * less. */
			buf_addf(out,
			         "<text class=\"tl-tag\" x=\"%.1f\" y=\"%d\" "
			         "text-anchor=\"middle\">",
			         x, shown % 2 ? mid + 22 : mid - 13);
			text_cut(out, m->tag, TL_CURRENT_CHARS);
			buf_puts(out, "</text>");
		}
		buf_puts(out, "</g>\n");
		shown++;
	}
	buf_puts(out, "</g>\n");
}

int
ui_timeline_svg(struct buf *out, const struct ui_lane *lanes, size_t n,
                int64_t from, int64_t to, bool tag_labels)
{
	int h = tag_labels ? TL_LANE_TAGS : TL_LANE;
	int height = TL_AXIS + (int)(n ? n : 1) * h + 4;
	char a[32], b[32];

	if (to <= from)
		to = from + 1;
	utc(a, from, "%Y-%m-%d %H:%M");
	utc(b, to, "%Y-%m-%d %H:%M");
	buf_addf(out,
	         "<svg class=\"timeline\" xmlns=\"http://www.w3.org/2000/svg\" "
	         "viewBox=\"0 0 %d %d\" role=\"img\" "
	         "aria-labelledby=\"tl-title\">"
	         "<title id=\"tl-title\">Version changes from %s to %s "
	         "UTC</title>\n",
	         TL_WIDTH, height, a, b);
	axis(out, from, to, height);
	for (size_t i = 0; i < n; i++)
		lane(out, &lanes[i], i, TL_AXIS + (int)i * h, h, from, to,
		     tag_labels);
	if (n == 0)
		buf_addf(out,
		         "<text class=\"tl-empty\" x=\"%d\" y=\"%d\" "
		         "text-anchor=\"middle\">no version changed in this "
		         "window</text>",
		         TL_WIDTH / 2, TL_AXIS + h / 2 + 4);
	buf_puts(out, "</svg>\n");
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}
