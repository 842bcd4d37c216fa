/*
 * util.h - small checked conversions and file helpers every module uses.
 *
 * Thread safety: all functions are reentrant.
 */
#ifndef FERRY_BASE_UTIL_H
#define FERRY_BASE_UTIL_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "buf.h"
#include "err.h"

/* Upper bound for any file ferry reads whole (config, manifests, state). */
#define FILE_MAX_SIZE ((size_t)64 << 20)

/*
 * Parses a whole decimal integer from s[0..len) into *out, within
 * [min, max].  -ERR_INVALID (with a message naming what) otherwise.
 */
int parse_long(const char *s, size_t len, long long min, long long max,
               long long *out, const char *what, struct err *err);

/*
 * Parses a Go time.Duration string ("1m30s", "500ms", "2h", "1.5h", "0")
 * into nanoseconds.  Units: ns, us, µs, ms, s, m, h; a sign is allowed, as
 * in Go.  -ERR_INVALID on anything else (the message says what is wrong).
 */
int parse_duration(const char *s, size_t len, int64_t *ns_out, struct err *err);

/* Formats nanoseconds the way Go's Duration.String() does ("1m30s"). */
void format_duration(char out[40], int64_t ns);

/* Milliseconds on the monotonic clock: for deadlines and durations. */
int64_t mono_ms(void);

/* Reads a whole file into out (appending), at most FILE_MAX_SIZE bytes. */
int file_read(struct buf *out, const char *path, struct err *err);

/* What every temporary name ferry makes contains (see tmp_name). */
#define TMP_NAME_MARK ".ferry-tmp-"

/*
 * Appends "PATH.ferry-tmp-PID-RANDOM" to out: a name beside path that no
 * other call, thread or process picks (16 hex digits from libsodium).  The
 * pid tells whose leftover a stale one is.  -ERR_NOMEM.
 */
int tmp_name(struct buf *out, const char *path, struct err *err);

/*
 * Writes len bytes to path atomically: a temporary file in the same
 * directory, fsync, rename, fsync of the directory.  mode is used for a new
 * file; an existing file keeps its mode.  A crash leaves the old or the new
 * content, never a torn one.
 */
int file_write_atomic(const char *path, const void *data, size_t len,
                      mode_t mode, struct err *err);

/*
 * Decodes standard base64 (with padding, as Kubernetes Secret data) into
 * out (appending).  -ERR_INVALID on bad input.
 */
int base64_decode(struct buf *out, const char *s, size_t len, struct err *err);

/* Appends the standard base64 encoding of data to out. */
int base64_encode(struct buf *out, const void *data, size_t len);

/*
 * Removes path and everything below it, without following symlinks.
 * A path that does not exist is not an error.
 */
int dir_remove_all(const char *path, struct err *err);

/* Creates path and its missing parents with mode (like mkdir -p). */
int dir_make_all(const char *path, mode_t mode, struct err *err);

/* The value of the hexadecimal digit c (either case), or -1. */
int hex_digit(char c);

/* true when s[0..len) ends with suffix. */
int str_has_suffix(const char *s, size_t len, const char *suffix);

#endif
