/*
 * rfc3339.c - reads and writes RFC 3339 date-times with plain arithmetic on
 * the proleptic Gregorian calendar: no timegm(), no time zone database, no
 * locale.  Only UTC is written.
 */
#include "rfc3339.h"

#include <stdbool.h>

#define DAY_SECS 86400
/* 0000-01-01 and 9999-12-31 as days since 1970-01-01 */
#define MIN_DAYS (-719528)
#define MAX_DAYS 2932896

static bool
digits_at(const char *s, size_t len, size_t at, size_t n, int *out)
{
	int v = 0;

	if (at + n > len)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (s[at + i] < '0' || s[at + i] > '9')
			return false;
		v = v * 10 + (s[at + i] - '0');
	}
	*out = v;
	return true;
}

static bool
is_leap(int y)
{
	return (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
}

static int
month_days(int y, int m)
{
	static const int days[] = { 31, 28, 31, 30, 31, 30,
		                    31, 31, 30, 31, 30, 31 };

	return m == 2 && is_leap(y) ? 29 : days[m - 1];
}

/* Days since 1970-01-01 of year y, month m (1-12), day d (1-31); the
 * era-based algorithm, exact for any year. */
static int64_t
days_from_civil(int64_t y, int m, int d)
{
	int64_t era, yoe, doy, doe;

	y -= m <= 2;
	era = (y >= 0 ? y : y - 399) / 400;
	yoe = y - era * 400;
	doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
	doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
	return era * 146097 + doe - 719468;
}

/* The inverse of days_from_civil. */
static void
civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	int64_t era, doe, yoe, doy, mp;

	z += 719468;
	era = (z >= 0 ? z : z - 146096) / 146097;
	doe = z - era * 146097;
	yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	mp = (5 * doy + 2) / 153;
	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

int
rfc3339_parse(int64_t *sec_out, int32_t *nsec_out, const char *s, size_t len,
              struct err *err)
{
	int y, mo, d, h, mi, se, oh = 0, om = 0;
	int32_t nsec = 0;
	int64_t off = 0;
	size_t p = 19;

	if (!digits_at(s, len, 0, 4, &y) || len < 20 || s[4] != '-' ||
	    !digits_at(s, len, 5, 2, &mo) || s[7] != '-' ||
	    !digits_at(s, len, 8, 2, &d) ||
	    (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
	    !digits_at(s, len, 11, 2, &h) || s[13] != ':' ||
	    !digits_at(s, len, 14, 2, &mi) || s[16] != ':' ||
	    !digits_at(s, len, 17, 2, &se))
		goto bad;
	if (mo < 1 || mo > 12 || d < 1 || d > month_days(y, mo) || h > 23 ||
	    mi > 59 || se > 60)
		goto bad;
	if (s[p] == '.') {
		int32_t scale = RFC3339_NSEC_PER_SEC / 10;
		size_t start = ++p;

		while (p < len && s[p] >= '0' && s[p] <= '9') {
			nsec += (s[p] - '0') * scale;
			scale /= 10;
			p++;
		}
		if (p == start)
			goto bad;
	}
	if (p + 1 == len && (s[p] == 'Z' || s[p] == 'z')) {
		off = 0;
	} else if (p + 6 == len && (s[p] == '+' || s[p] == '-') &&
	           digits_at(s, len, p + 1, 2, &oh) && s[p + 3] == ':' &&
	           digits_at(s, len, p + 4, 2, &om) && oh < 24 && om < 60) {
		off = (int64_t)oh * 3600 + om * 60;
		if (s[p] == '-')
			off = -off;
	} else {
		goto bad;
	}
	*sec_out = days_from_civil(y, mo, d) * DAY_SECS + h * 3600 + mi * 60 +
	           se - off;
	if (nsec_out != NULL)
		*nsec_out = nsec;
	return 0;
bad:
	return err_set(err, ERR_INVALID, "'%.*s' is not an RFC 3339 date-time",
	               (int)(len > 64 ? 64 : len), s);
}

int
rfc3339_format(struct buf *out, int64_t sec, int32_t nsec)
{
	int64_t days, rem, y;
	int m, d;
	char frac[11];
	size_t n;

	if (nsec < 0 || nsec >= RFC3339_NSEC_PER_SEC)
		return -ERR_INVALID;
	/* floor division: the seconds of a day are never negative */
	days = sec / DAY_SECS;
	rem = sec % DAY_SECS;
	if (rem < 0) {
		rem += DAY_SECS;
		days--;
	}
	if (days < MIN_DAYS || days > MAX_DAYS)
		return -ERR_INVALID;
	civil_from_days(days, &y, &m, &d);
	frac[0] = '\0';
	if (nsec != 0) {
		int32_t v = nsec;

		frac[0] = '.';
		for (int i = 9; i >= 1; i--) {
			frac[i] = (char)('0' + v % 10);
			v /= 10;
		}
		for (n = 9; frac[n] == '0'; n--)
			;
		frac[n + 1] = '\0';
	}
	buf_addf(out, "%04d-%02d-%02dT%02d:%02d:%02d%sZ", (int)y, m, d,
	         (int)(rem / 3600), (int)(rem / 60 % 60), (int)(rem % 60),
	         frac);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}
