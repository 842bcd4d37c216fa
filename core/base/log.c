/*
 * log.c - logfmt / JSON event lines.  Lines are assembled in memory and
 * written with one write(2) so concurrent writers do not interleave.  It does
 * not rotate files or talk to syslog: the daemon's supervisor does that.
 */
#include "log.h"
#include "buf.h"
#include "err.h"

#include <errno.h>
#include <stdarg.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* GLOBAL: written by log_configure() in main() before threads start. */
static enum log_level log_level_cur = LOG_INFO;
static enum log_format log_format_cur = LOG_FORMAT_LOGFMT;
static int log_fd = 2;

static const char *const level_names[] = { "error", "warn", "info", "debug" };

void
log_configure(enum log_level level, enum log_format format, int fd)
{
	log_level_cur = level;
	log_format_cur = format;
	log_fd = fd;
}

int
log_level_parse(const char *s, enum log_level *out)
{
	for (size_t i = 0; i < sizeof(level_names) / sizeof(*level_names);
	     i++) {
		if (strcmp(s, level_names[i]) == 0) {
			*out = (enum log_level)i;
			return 0;
		}
	}
	return -ERR_INVALID;
}

int
log_format_parse(const char *s, enum log_format *out)
{
	if (strcmp(s, "logfmt") == 0)
		*out = LOG_FORMAT_LOGFMT;
	else if (strcmp(s, "json") == 0)
		*out = LOG_FORMAT_JSON;
	else
		return -ERR_INVALID;
	return 0;
}

int
log_enabled(enum log_level level)
{
	return level <= log_level_cur;
}

static void
add_json_string(struct buf *b, const char *s)
{
	buf_putc(b, '"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;
		if (c == '"' || c == '\\')
			buf_addf(b, "\\%c", c);
		else if (c == '\n')
			buf_puts(b, "\\n");
		else if (c == '\t')
			buf_puts(b, "\\t");
		else if (c < 0x20 || c == 0x7f)
			buf_addf(b, "\\u%04x", c);
		else
			buf_putc(b, (char)c);
	}
	buf_putc(b, '"');
}

static void
add_logfmt_value(struct buf *b, const char *s)
{
	int quote = (*s == '\0');

	for (const char *p = s; *p && !quote; p++) {
		unsigned char c = (unsigned char)*p;
		if (c <= ' ' || c == '"' || c == '=' || c == '\\' || c == 0x7f)
			quote = 1;
	}
	if (!quote) {
		buf_puts(b, s);
		return;
	}
	add_json_string(b, s);
}

static void
add_field(struct buf *b, const char *key, const char *value)
{
	if (value == NULL)
		value = "";
	if (log_format_cur == LOG_FORMAT_JSON) {
		buf_putc(b, ',');
		add_json_string(b, key);
		buf_putc(b, ':');
		add_json_string(b, value);
	} else {
		buf_putc(b, ' ');
		buf_puts(b, key);
		buf_putc(b, '=');
		add_logfmt_value(b, value);
	}
}

static void
log_vwrite(enum log_level level, const char *mod, const char *event,
           const char *errstr, va_list ap)
{
	struct buf b = BUF_INIT;
	char ts[128];
	struct timespec now;
	struct tm tm;
	const char *key, *value;

	clock_gettime(CLOCK_REALTIME, &now);
	gmtime_r(&now.tv_sec, &tm);
	snprintf(ts, sizeof(ts), "%04d-%02d-%02dT%02d:%02d:%02d.%03ldZ",
	         tm.tm_year + 1900, tm.tm_mon + 1, tm.tm_mday, tm.tm_hour,
	         tm.tm_min, tm.tm_sec, now.tv_nsec / 1000000);
	if (log_format_cur == LOG_FORMAT_JSON) {
		buf_puts(&b, "{\"ts\":\"");
		buf_puts(&b, ts);
		buf_puts(&b, "\"");
	} else {
		buf_puts(&b, "ts=");
		buf_puts(&b, ts);
	}
	add_field(&b, "level", level_names[level]);
	add_field(&b, "mod", mod);
	add_field(&b, "event", event);
	while ((key = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		add_field(&b, key, value);
	}
	if (errstr)
		add_field(&b, "err", errstr);
	if (log_format_cur == LOG_FORMAT_JSON)
		buf_putc(&b, '}');
	buf_putc(&b, '\n');
	if (buf_ok(&b)) {
		const char *p = b.ptr;
		size_t left = b.len;
		while (left > 0) {
			ssize_t n = write(log_fd, p, left);
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				break;
			p += n;
			left -= (size_t)n;
		}
	}
	buf_release(&b);
}

void
log_write(enum log_level level, const char *mod, const char *event, ...)
{
	va_list ap;

	if (!log_enabled(level))
		return;
	va_start(ap, event);
	log_vwrite(level, mod, event, NULL, ap);
	va_end(ap);
}

void
log_write_errno(enum log_level level, const char *mod, const char *event, ...)
{
	va_list ap;
	char msg[256];
	int saved = errno;

	if (!log_enabled(level))
		return;
	snprintf(msg, sizeof(msg), "%s", strerror(saved));
	va_start(ap, event);
	log_vwrite(level, mod, event, msg, ap);
	va_end(ap);
	errno = saved;
}

const char *
log_num(char out[32], long long n)
{
	snprintf(out, 32, "%lld", n);
	return out;
}

const char *
log_url(char *out, size_t outsz, const char *url)
{
	const char *scheme_end, *host, *at, *slash, *end;
	struct buf b = BUF_INIT;

	if (outsz == 0)
		return out;
	scheme_end = strstr(url, "://");
	host = scheme_end ? scheme_end + 3 : url;
	slash = host + strcspn(host, "/?#");
	at = memchr(host, '@', (size_t)(slash - host));
	end = url + strcspn(url, "?#");
	buf_add(&b, url, (size_t)(host - url));
	if (at) {
		host = at + 1;
	}
	buf_add(&b, host, (size_t)(end - host));
	snprintf(out, outsz, "%s", buf_ok(&b) ? b.ptr : "");
	buf_release(&b);
	return out;
}
