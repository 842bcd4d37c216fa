/*
 * log.h - one line per event, logfmt (default) or JSON, to stderr.
 *
 *   log_warn("registry", "tags_list_failed", "repo", repo, "err", msg);
 *   -> level=warn mod=registry event=tags_list_failed repo=org/app err="HTTP
 * 401"
 *
 * Fields after the event name are (key, value) string pairs; the macros end
 * the list with NULL for you.  A NULL value is written as an empty string.
 * Values are quoted and escaped as needed, so a hostile tag cannot forge a
 * second line or key.  Key/value pairs instead of one printf format because
 * the JSON form needs the fields apart; format numbers with log_num().
 *
 * Secrets: struct secret (secret.h) has no accessor that returns text, so a
 * secret can only reach a log line by a deliberate copy.  Use log_url() for
 * URLs: it strips userinfo and the query string.
 *
 * GLOBAL: the logging configuration (level, format, stream) is set by
 * log_configure() in main() before any thread starts, and only read after.
 *
 * Thread safety: log_write() may be called from any thread; each line is
 * written with a single write(2).
 */
#ifndef FERRY_BASE_LOG_H
#define FERRY_BASE_LOG_H

#include <stddef.h>
#include <stdio.h>

enum log_level {
	LOG_ERROR = 0,
	LOG_WARN = 1,
	LOG_INFO = 2,
	LOG_DEBUG = 3,
};

enum log_format {
	LOG_FORMAT_LOGFMT = 0,
	LOG_FORMAT_JSON = 1,
};

/* Sets level, format and the file descriptor lines go to (2 by default). */
void log_configure(enum log_level level, enum log_format format, int fd);

/* Parses "error|warn|info|debug" into *out. 0 or -ERR_INVALID. */
int log_level_parse(const char *s, enum log_level *out);

/* Parses "logfmt|json" into *out. 0 or -ERR_INVALID. */
int log_format_parse(const char *s, enum log_format *out);

/* true when lines at this level are written. */
int log_enabled(enum log_level level);

/* Writes one event; the variadic part is key, value, ..., NULL. */
void log_write(enum log_level level, const char *mod, const char *event, ...)
        __attribute__((sentinel));

#define log_error(mod, event, ...)                                             \
	log_write(LOG_ERROR, mod, event, ##__VA_ARGS__, NULL)
#define log_warn(mod, event, ...)                                              \
	log_write(LOG_WARN, mod, event, ##__VA_ARGS__, NULL)
#define log_info(mod, event, ...)                                              \
	log_write(LOG_INFO, mod, event, ##__VA_ARGS__, NULL)
#define log_debug(mod, event, ...)                                             \
	log_write(LOG_DEBUG, mod, event, ##__VA_ARGS__, NULL)
/* The _errno variants add err=strerror(errno). */
#define log_error_errno(mod, event, ...)                                       \
	log_write_errno(LOG_ERROR, mod, event, ##__VA_ARGS__, NULL)
#define log_warn_errno(mod, event, ...)                                        \
	log_write_errno(LOG_WARN, mod, event, ##__VA_ARGS__, NULL)

void log_write_errno(enum log_level level, const char *mod, const char *event,
                     ...) __attribute__((sentinel));

/* Formats n into the caller's small buffer and returns it (for values). */
const char *log_num(char out[32], long long n);

/*
 * Copies url into out (size outsz) without userinfo and without the query
 * string and fragment, and returns out.  Never fails; truncates.
 */
const char *log_url(char *out, size_t outsz, const char *url);

#endif
