/*
 * util.c - checked integer and duration parsing, whole-file reads, atomic
 * writes and base64 (libsodium).  No knowledge of ferry's objects.
 */
#define _XOPEN_SOURCE 700 /* nftw */
#include "util.h"

#include <errno.h>
#include <ftw.h>
#include <fcntl.h>
#include <libgen.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/stat.h>
#include <unistd.h>

int
parse_long(const char *s, size_t len, long long min, long long max,
           long long *out, const char *what, struct err *err)
{
	long long v = 0;
	size_t i = 0;
	int neg = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (i == len)
		return err_set(err, ERR_INVALID, "%s: '%.*s' is not a number",
		               what, (int)len, s);
	for (; i < len; i++) {
		if (s[i] < '0' || s[i] > '9')
			return err_set(err, ERR_INVALID,
			               "%s: '%.*s' is not a number", what,
			               (int)len, s);
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(
		            v, neg ? -(s[i] - '0') : (s[i] - '0'), &v))
			return err_set(err, ERR_INVALID,
			               "%s: '%.*s' is out of range", what,
			               (int)len, s);
	}
	if (v < min || v > max)
		return err_set(err, ERR_INVALID,
		               "%s: %lld is out of range [%lld, %lld]", what, v,
		               min, max);
	*out = v;
	return 0;
}

struct unit {
	const char *name;
	int64_t ns;
};

static const struct unit units[] = {
	{ "ns", 1LL },           { "us", 1000LL },
	{ "\xc2\xb5s", 1000LL }, /* U+00B5 micro sign */
	{ "\xce\xbcs", 1000LL }, /* U+03BC Greek mu */
	{ "ms", 1000000LL },     { "s", 1000000000LL },
	{ "m", 60000000000LL },  { "h", 3600000000000LL },
};

/*
 * Mirrors Go's time.ParseDuration: [-+]?([0-9]*(\.[0-9]*)?[a-z]+)+, or "0".
 * Overflow past int64 is an error, as in Go.
 */
int
parse_duration(const char *s, size_t len, int64_t *ns_out, struct err *err)
{
	size_t i = 0;
	int neg = 0;
	uint64_t total = 0;

	if (len > 0 && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i++;
	}
	if (len - i == 1 && s[i] == '0') {
		*ns_out = 0;
		return 0;
	}
	if (i == len)
		goto bad;
	while (i < len) {
		uint64_t whole = 0, frac = 0, scale = 1, v;
		int digits = 0, pre = 0, post = 0;
		size_t u0;
		const struct unit *u = NULL;

		while (i < len && s[i] >= '0' && s[i] <= '9') {
			if (whole > (UINT64_MAX - 9) / 10)
				goto overflow;
			whole = whole * 10 + (uint64_t)(s[i] - '0');
			i++;
			pre++;
		}
		if (i < len && s[i] == '.') {
			i++;
			while (i < len && s[i] >= '0' && s[i] <= '9') {
				/* Go keeps precision up to ~19 digits; so do
				 * we. */
				if (scale < 1000000000000000000ULL) {
					frac = frac * 10 +
					       (uint64_t)(s[i] - '0');
					scale *= 10;
				}
				i++;
				post++;
			}
		}
		digits = pre + post;
		if (digits == 0)
			goto bad;
		u0 = i;
		while (i < len && s[i] != '.' && (s[i] < '0' || s[i] > '9'))
			i++;
		if (u0 == i)
			return err_set(
			        err, ERR_INVALID,
			        "missing unit in duration '%.*s' (use ns, us, ms, s, m or h)",
			        (int)len, s);
		for (size_t k = 0; k < sizeof(units) / sizeof(*units); k++) {
			if (strlen(units[k].name) == i - u0 &&
			    memcmp(units[k].name, s + u0, i - u0) == 0) {
				u = &units[k];
				break;
			}
		}
		if (u == NULL)
			return err_set(
			        err, ERR_INVALID,
			        "unknown unit '%.*s' in duration '%.*s' (use ns, us, ms, s, m or h)",
			        (int)(i - u0), s + u0, (int)len, s);
		if (whole > (uint64_t)INT64_MAX / (uint64_t)u->ns)
			goto overflow;
		v = whole * (uint64_t)u->ns;
		if (frac) {
			/* frac/scale * unit, in floating point as Go does */
			v += (uint64_t)((double)frac *
			                ((double)u->ns / (double)scale));
		}
		if (v > (uint64_t)INT64_MAX || total > (uint64_t)INT64_MAX - v)
			goto overflow;
		total += v;
	}
	*ns_out = neg ? -(int64_t)total : (int64_t)total;
	return 0;
bad:
	return err_set(
	        err, ERR_INVALID,
	        "invalid duration '%.*s' (Go syntax, for example 1m30s, 500ms or 2h)",
	        (int)len, s);
overflow:
	return err_set(err, ERR_INVALID, "duration '%.*s' is too large",
	               (int)len, s);
}

static char *
fmt_frac(char *end, uint64_t *v, int prec, int *printed)
{
	/* Writes v's last prec digits as a fraction, trimming zeros. */
	char *w = end;
	int print = 0;

	for (int i = 0; i < prec; i++) {
		int digit = (int)(*v % 10);
		print = print || digit != 0;
		if (print) {
			*--w = (char)('0' + digit);
		}
		*v /= 10;
	}
	if (print)
		*--w = '.';
	*printed = print;
	return w;
}

static char *
fmt_int(char *end, uint64_t v)
{
	char *w = end;

	if (v == 0) {
		*--w = '0';
		return w;
	}
	while (v > 0) {
		*--w = (char)('0' + v % 10);
		v /= 10;
	}
	return w;
}

void
format_duration(char out[40], int64_t d)
{
	char tmp[40];
	char *w = tmp + sizeof(tmp);
	uint64_t u = d < 0 ? (uint64_t)0 - (uint64_t)d : (uint64_t)d;
	int neg = d < 0, printed;

	*--w = '\0';
	if (u < 1000000000ULL) {
		int prec = 0;
		if (u == 0) {
			snprintf(out, 40, "0s");
			return;
		} else if (u < 1000ULL) {
			*--w = 's';
			*--w = 'n';
		} else if (u < 1000000ULL) {
			prec = 3;
			*--w = 's';
			w -= 2;
			memcpy(w, "\xc2\xb5", 2);
		} else {
			prec = 6;
			*--w = 's';
			*--w = 'm';
		}
		w = fmt_frac(w, &u, prec, &printed);
		w = fmt_int(w, u);
	} else {
		*--w = 's';
		w = fmt_frac(w, &u, 9, &printed);
		w = fmt_int(w, u % 60);
		u /= 60;
		if (u > 0) {
			*--w = 'm';
			w = fmt_int(w, u % 60);
			u /= 60;
			if (u > 0) {
				*--w = 'h';
				w = fmt_int(w, u);
			}
		}
	}
	if (neg)
		*--w = '-';
	snprintf(out, 40, "%s", w);
}

int
file_read(struct buf *out, const char *path, struct err *err)
{
	int fd, rc = 0;
	char chunk[65536];
	size_t start = out->len;

	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return err_set(err,
		               errno == ENOENT ? ERR_NOTFOUND : ERR_INVALID,
		               "%s: cannot open: %s", path, strerror(errno));
	for (;;) {
		ssize_t n = read(fd, chunk, sizeof(chunk));
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(err, ERR_INVALID, "%s: read failed: %s",
			             path, strerror(errno));
			break;
		}
		if (n == 0)
			break;
		if (out->len - start + (size_t)n > FILE_MAX_SIZE) {
			rc = err_set(err, ERR_INVALID,
			             "%s: larger than %zu bytes", path,
			             FILE_MAX_SIZE);
			break;
		}
		if (buf_add(out, chunk, (size_t)n) < 0) {
			rc = err_set(err, ERR_NOMEM, "%s: out of memory", path);
			break;
		}
	}
	close(fd);
	return rc;
}

int
tmp_name(struct buf *out, const char *path, struct err *err)
{
	unsigned char r[8];
	char hex[sizeof(r) * 2 + 1];

	/* Unique per call, not per process: two threads of one daemon may
	 * write beside the same file at once.  The pid stays in the name so
	 * that leftovers of a dead process can be told from a live one's. */
	randombytes_buf(r, sizeof(r));
	sodium_bin2hex(hex, sizeof(hex), r, sizeof(r));
	if (buf_addf(out, "%s" TMP_NAME_MARK "%ld-%s", path, (long)getpid(),
	             hex) < 0)
		return err_set(err, ERR_NOMEM, "%s: out of memory", path);
	return 0;
}

int
file_write_atomic(const char *path, const void *data, size_t len, mode_t mode,
                  struct err *err)
{
	struct buf tmp = BUF_INIT;
	struct stat st;
	char *dircopy = NULL;
	const char *p = data;
	int fd = -1, dfd = -1, rc = 0;

	if (stat(path, &st) == 0)
		mode = st.st_mode & 07777;
	if ((rc = tmp_name(&tmp, path, err)) < 0)
		goto out;
	fd = open(tmp.ptr, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, mode);
	if (fd < 0) {
		rc = err_set(err, ERR_INVALID, "%s: cannot create: %s", tmp.ptr,
		             strerror(errno));
		goto out;
	}
	if (fchmod(fd, mode) < 0) {
		rc = err_set(err, ERR_INVALID, "%s: chmod: %s", tmp.ptr,
		             strerror(errno));
		goto out;
	}
	while (len > 0) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = err_set(err, ERR_INVALID, "%s: write failed: %s",
			             tmp.ptr, strerror(errno));
			goto out;
		}
		p += n;
		len -= (size_t)n;
	}
	if (fsync(fd) < 0) {
		rc = err_set(err, ERR_INVALID, "%s: fsync failed: %s", tmp.ptr,
		             strerror(errno));
		goto out;
	}
	/* close() reports a delayed write error (NFS); the descriptor is
	 * gone either way. */
	rc = close(fd);
	fd = -1;
	if (rc < 0) {
		rc = err_set(err, ERR_INVALID, "%s: close failed: %s", tmp.ptr,
		             strerror(errno));
		goto out;
	}
	if (rename(tmp.ptr, path) < 0) {
		rc = err_set(err, ERR_INVALID, "%s: rename failed: %s", path,
		             strerror(errno));
		goto out;
	}
	dircopy = strdup(path);
	if (dircopy) {
		dfd = open(dirname(dircopy),
		           O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (dfd >= 0) {
			fsync(dfd);
			close(dfd);
		}
	}
out:
	if (fd >= 0)
		close(fd);
	if (rc < 0 && tmp.len)
		unlink(tmp.ptr);
	free(dircopy);
	buf_release(&tmp);
	return rc;
}

int
base64_decode(struct buf *out, const char *s, size_t len, struct err *err)
{
	size_t maxlen = len / 4 * 3 + 3, binlen = 0;
	const char *end = NULL;

	if (buf_grow(out, maxlen) < 0)
		return err_set(err, ERR_NOMEM, "base64: out of memory");
	/* Kubernetes accepts newlines inside data values; so do we. */
	if (sodium_base642bin((unsigned char *)out->ptr + out->len, maxlen, s,
	                      len, "\n\r ", &binlen, &end,
	                      sodium_base64_VARIANT_ORIGINAL) != 0 ||
	    end != s + len)
		return err_set(err, ERR_INVALID, "invalid base64");
	out->len += binlen;
	out->ptr[out->len] = '\0';
	return 0;
}

int
base64_encode(struct buf *out, const void *data, size_t len)
{
	size_t n =
	        sodium_base64_encoded_len(len, sodium_base64_VARIANT_ORIGINAL);

	if (buf_grow(out, n) < 0)
		return -ERR_NOMEM;
	sodium_bin2base64(out->ptr + out->len, n, data, len,
	                  sodium_base64_VARIANT_ORIGINAL);
	out->len += n - 1;
	return 0;
}

int
str_has_suffix(const char *s, size_t len, const char *suffix)
{
	size_t n = strlen(suffix);

	return len >= n && memcmp(s + len - n, suffix, n) == 0;
}

static int
remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)ftw;
	if (flag == FTW_DP)
		return rmdir(path);
	return unlink(path);
}

int
dir_remove_all(const char *path, struct err *err)
{
	struct stat st;

	if (lstat(path, &st) < 0 && errno == ENOENT)
		return 0;
	if (nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS) < 0)
		return err_set(err, ERR_INVALID, "%s: cannot remove: %s", path,
		               strerror(errno));
	return 0;
}

int
dir_make_all(const char *path, mode_t mode, struct err *err)
{
	struct buf b = BUF_INIT;
	int rc = 0;

	if (buf_puts(&b, path) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (char *p = b.ptr + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(b.ptr, mode) < 0 && errno != EEXIST) {
			rc = err_set(err, ERR_INVALID, "%s: cannot create: %s",
			             b.ptr, strerror(errno));
			goto out;
		}
		*p = '/';
	}
	if (mkdir(b.ptr, mode) < 0 && errno != EEXIST)
		rc = err_set(err, ERR_INVALID, "%s: cannot create: %s", b.ptr,
		             strerror(errno));
out:
	buf_release(&b);
	return rc;
}

int
hex_digit(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int64_t
mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}
