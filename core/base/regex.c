/*
 * regex.c - the PCRE2 wrapper: one set of compile options that make PCRE2
 * match like Go's regexp, a scan that refuses the syntax Go's RE2 lacks,
 * the JIT where the platform has it, and limits on every match.  It does
 * not expand templates or know what a tag is (policy/filter.c does).
 */
#define _GNU_SOURCE /* memmem */
#include "regex.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

/* Quote at most this much of a pattern in a message. */
#define QUOTE_MAX 200

/*
 * Go reads invalid UTF-8 in a subject as U+FFFD instead of failing, and its
 * '$' matches only at the end of the text.  \C (one byte, which can split a
 * character) has no Go equivalent.
 */
#define COMPILE_OPTIONS                                                        \
	(PCRE2_UTF | PCRE2_MATCH_INVALID_UTF | PCRE2_DOLLAR_ENDONLY |          \
	 PCRE2_NEVER_BACKSLASH_C)

struct regex_name {
	char *name;
	size_t len;
	uint32_t group;
};

struct regex {
	pcre2_code *code;
	pcre2_match_context *mctx;
	uint32_t ngroups; /* capture groups, not counting group 0 */
	struct regex_name *names;
	size_t nnames;
};

struct regex_match {
	pcre2_match_data *md;
	uint32_t npairs; /* offset pairs set by the last match */
};

/* ---- the RE2 syntax check ---- */

/* Letters Go accepts after '\' outside a class, and inside one. */
static const char escapes_outside[] = "AbBzQpPdDsSwWxafnrtv";
static const char escapes_inside[] = "pPdDsSwWxafnrtv";

static bool
is_alpha(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool
is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* Index just past the '}' that closes the '{' at s[i], or len. */
static size_t
skip_braces(const char *s, size_t len, size_t i)
{
	const char *close = memchr(s + i, '}', len - i);

	return close ? (size_t)(close - s) + 1 : len;
}

/*
 * The escape at s[i] == '\\' (i + 1 < len): NULL when Go has it, else what
 * it is (written into what).  *next gets the index after it.
 */
static const char *
check_escape(const char *s, size_t len, size_t i, bool in_class, size_t *next,
             char *what, size_t what_len)
{
	char c = s[i + 1];

	*next = i + 2;
	if ((unsigned char)c >= 0x80)
		return "an escaped non-ASCII character";
	if (is_digit(c)) {
		/* outside a class a digit other than 0 is a backreference;
		 * inside one PCRE2 reads an octal character, as before */
		if (!in_class && c != '0')
			return "backreferences";
		if (c == '8' || c == '9') {
			snprintf(what, what_len, "the escape '\\%c' in a class",
			         c);
			return what;
		}
		return NULL;
	}
	if (!is_alpha(c))
		return NULL; /* an escaped punctuation character */
	if (!in_class && (c == 'g' || c == 'k'))
		return "backreferences";
	if (strchr(in_class ? escapes_inside : escapes_outside, c) == NULL) {
		snprintf(what, what_len, "the escape '\\%c'%s", c,
		         in_class ? " in a class" : "");
		return what;
	}
	if (c == 'Q' && !in_class) {
		/* \Q...\E is literal text */
		const char *end = memmem(s + i + 2, len - i - 2, "\\E", 2);

		*next = end ? (size_t)(end - s) + 2 : len;
	} else if ((c == 'x' || c == 'p' || c == 'P') && i + 2 < len &&
	           s[i + 2] == '{') {
		*next = skip_braces(s, len, i + 2);
	} else if ((c == 'p' || c == 'P') && i + 2 < len) {
		*next = i + 3; /* \pL */
	}
	return NULL;
}

/* The class at s[i] == '['; *next gets the index after its ']'. */
static const char *
check_class(const char *s, size_t len, size_t i, size_t *next, char *what,
            size_t what_len)
{
	const char *why;
	size_t j = i + 1;

	if (j < len && s[j] == '^')
		j++;
	if (j < len && s[j] == ']')
		j++; /* a leading ']' is a literal */
	while (j < len && s[j] != ']') {
		if (s[j] == '\\' && j + 1 < len) {
			if ((why = check_escape(s, len, j, true, &j, what,
			                        what_len)) != NULL)
				return why;
			continue;
		}
		if (s[j] == '[' && j + 1 < len &&
		    (s[j + 1] == ':' || s[j + 1] == '.' || s[j + 1] == '=')) {
			/* a POSIX class "[:alpha:]"; Go has no "[.x.]" or
			 * "[=x=]" (nor has PCRE2, which refuses them) */
			const char *end =
			        memmem(s + j + 2, len - j - 2, ":]", 2);

			if (s[j + 1] == ':' && end != NULL) {
				j = (size_t)(end - s) + 2;
				continue;
			}
		}
		j++;
	}
	*next = j < len ? j + 1 : len;
	return NULL;
}

/* "{n}", "{n,}" or "{n,m}" at s[i]: its end in *next and its largest count
 * in *max; false when the '{' is a literal. */
static bool
repeat_at(const char *s, size_t len, size_t i, size_t *next, long *max)
{
	size_t j = i + 1;
	long n;
	bool digits;

	*max = 0;
	for (int part = 0; part < 2; part++) {
		n = 0;
		digits = false;
		while (j < len && is_digit(s[j])) {
			if (n <= REGEX_MAX_REPEAT)
				n = n * 10 + (s[j] - '0');
			digits = true;
			j++;
		}
		/* the first count is required; the second may be empty */
		if (part == 0 && !digits)
			return false;
		if (n > *max)
			*max = n;
		if (j < len && s[j] == '}') {
			*next = j + 1;
			return true;
		}
		if (part == 1 || j == len || s[j] != ',')
			return false;
		j++;
	}
	return false;
}

/* "(?" at s[i]: what the group is when Go lacks it; *next gets the index
 * where scanning goes on. */
static const char *
check_group(const char *s, size_t len, size_t i, size_t *next, char *what,
            size_t what_len)
{
	size_t j = i + 2;
	char a = j < len ? s[j] : '\0', b = j + 1 < len ? s[j + 1] : '\0';
	const char *gt;

	*next = j;
	switch (a) {
	case ':':
		*next = j + 1;
		return NULL;
	case '=':
	case '!':
		return "lookaround assertions";
	case '<':
		if (b == '=' || b == '!')
			return "lookaround assertions";
		gt = memchr(s + j, '>', len - j);
		*next = gt ? (size_t)(gt - s) + 1 : len;
		return NULL;
	case 'P':
		if (b == '=')
			return "backreferences";
		if (b == '>')
			return "subroutine calls";
		gt = memchr(s + j, '>', len - j);
		*next = gt ? (size_t)(gt - s) + 1 : len;
		return NULL;
	case '>':
		return "atomic groups";
	case '|':
		return "branch reset groups";
	case '#':
		return "comments";
	case '(':
		return "conditional groups";
	case 'C':
		return "callouts";
	case '\'':
		return "named groups written (?'name')";
	case 'R':
	case '&':
	case '+':
		return "recursion or subroutine calls";
	default:
		break;
	}
	if (is_digit(a) || (a == '-' && is_digit(b)))
		return "recursion or subroutine calls";
	/* flags: (?flags), (?flags:...), with '-' before the ones turned off */
	for (; j < len && (is_alpha(s[j]) || s[j] == '-' || s[j] == '^'); j++) {
		if (s[j] != '-' && strchr("imsU", s[j]) == NULL) {
			snprintf(what, what_len, "the flag '%c'", s[j]);
			return what;
		}
	}
	if (j == i + 2)
		return "an empty flag group";
	*next = j < len && s[j] == ':' ? j + 1 : j;
	return NULL;
}

/*
 * What Go's RE2 lacks that s[0..len) uses, or NULL.  It runs after PCRE2
 * compiled the pattern, so the syntax is well formed; it only has to tell
 * the constructs apart.
 */
static const char *
re2_unsupported(const char *s, size_t len, char *what, size_t what_len)
{
	/* 0: the last token was not a quantifier, 1: it was, 2: it was the
	 * '?' that made a quantifier lazy */
	int quant = 0;
	size_t i = 0, next;
	const char *why;
	long max;

	while (i < len) {
		int was = quant;

		quant = 0;
		switch (s[i]) {
		case '\\':
			if (i + 1 == len)
				return NULL;
			if ((why = check_escape(s, len, i, false, &i, what,
			                        what_len)) != NULL)
				return why;
			continue;
		case '[':
			if ((why = check_class(s, len, i, &i, what,
			                       what_len)) != NULL)
				return why;
			continue;
		case '(':
			if (i + 1 < len && s[i + 1] == '*')
				return "backtracking control verbs";
			if (i + 1 < len && s[i + 1] == '?') {
				if ((why = check_group(s, len, i, &i, what,
				                       what_len)) != NULL)
					return why;
				continue;
			}
			break;
		case '{':
			if (!repeat_at(s, len, i, &next, &max))
				break;
			if (max > REGEX_MAX_REPEAT)
				return "repetition counts above 1000";
			quant = 1;
			i = next;
			continue;
		case '*':
		case '+':
		case '?':
			/* after a quantifier, '+' makes it possessive and '?'
			 * lazy; PCRE2 refused any other quantifier there */
			if (was == 1 && s[i] == '+')
				return "possessive quantifiers";
			quant = was == 1 && s[i] == '?' ? 2 : 1;
			i++;
			continue;
		default:
			break;
		}
		i++;
	}
	return NULL;
}

/* ---- compiling and matching ---- */

void
regex_free(struct regex *re)
{
	if (re == NULL)
		return;
	pcre2_code_free(re->code);
	pcre2_match_context_free(re->mctx);
	for (size_t i = 0; i < re->nnames; i++)
		free(re->names[i].name);
	free(re->names);
	free(re);
}

static int
load_names(struct regex *re, struct err *err)
{
	uint32_t count = 0, entry = 0;
	PCRE2_SPTR table = NULL;

	pcre2_pattern_info(re->code, PCRE2_INFO_CAPTURECOUNT, &re->ngroups);
	pcre2_pattern_info(re->code, PCRE2_INFO_NAMECOUNT, &count);
	if (count == 0)
		return 0;
	pcre2_pattern_info(re->code, PCRE2_INFO_NAMEENTRYSIZE, &entry);
	pcre2_pattern_info(re->code, PCRE2_INFO_NAMETABLE, &table);
	re->names = calloc(count, sizeof(*re->names));
	if (re->names == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (uint32_t i = 0; i < count; i++) {
		/* an entry: the group number in two bytes, then the name */
		PCRE2_SPTR e = table + (size_t)i * entry;
		const char *name = (const char *)e + 2;
		size_t len = strnlen(name, entry - 2);

		re->names[i].group = ((uint32_t)e[0] << 8) | e[1];
		re->names[i].name = strndup(name, len);
		if (re->names[i].name == NULL)
			return err_set(err, ERR_NOMEM, "out of memory");
		re->names[i].len = len;
		re->nnames = i + 1;
	}
	return 0;
}

int
regex_new(struct regex **out, const char *pattern, size_t len, struct err *err)
{
	struct regex *re = NULL;
	int errcode = 0, rc = 0;
	PCRE2_SIZE erroff = 0;
	int quote = (int)(len > QUOTE_MAX ? QUOTE_MAX : len);
	char what[64];
	const char *why;

	*out = NULL;
	if (len > REGEX_MAX_PATTERN)
		return err_set(err, ERR_INVALID,
		               "regular expression is longer than %d bytes",
		               REGEX_MAX_PATTERN);
	re = calloc(1, sizeof(*re));
	if (re == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	re->code = pcre2_compile((PCRE2_SPTR)pattern, len, COMPILE_OPTIONS,
	                         &errcode, &erroff, NULL);
	if (re->code == NULL) {
		PCRE2_UCHAR msg[256];

		if (errcode == PCRE2_ERROR_HEAP_FAILED) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			goto out;
		}
		if (pcre2_get_error_message(errcode, msg, sizeof(msg)) < 0)
			msg[0] = '\0';
		rc = err_set(err, ERR_INVALID,
		             "invalid regular expression '%.*s': %s at offset "
		             "%zu",
		             quote, pattern, (const char *)msg, (size_t)erroff);
		goto out;
	}
	if ((why = re2_unsupported(pattern, len, what, sizeof(what))) != NULL) {
		rc = err_set(
		        err, ERR_INVALID,
		        "regular expression '%.*s' uses %s, which Go's RE2 "
		        "(and so Flux) does not support",
		        quote, pattern, why);
		goto out;
	}
	/* Without JIT support the interpreter runs: same answers, slower. */
	(void)pcre2_jit_compile(re->code, PCRE2_JIT_COMPLETE);
	re->mctx = pcre2_match_context_create(NULL);
	if (re->mctx == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	pcre2_set_match_limit(re->mctx, REGEX_MATCH_LIMIT);
	pcre2_set_depth_limit(re->mctx, REGEX_DEPTH_LIMIT);
	pcre2_set_heap_limit(re->mctx, REGEX_HEAP_LIMIT);
	if ((rc = load_names(re, err)) < 0)
		goto out;
	*out = re;
	re = NULL;
out:
	regex_free(re);
	return rc;
}

uint32_t
regex_group_count(const struct regex *re)
{
	return re->ngroups;
}

int
regex_group_index(const struct regex *re, const char *name, size_t len)
{
	for (size_t i = 0; i < re->nnames; i++)
		if (re->names[i].len == len &&
		    memcmp(re->names[i].name, name, len) == 0)
			return (int)re->names[i].group;
	return -1;
}

int
regex_match_new(struct regex_match **out, const struct regex *re,
                struct err *err)
{
	struct regex_match *m = calloc(1, sizeof(*m));

	*out = NULL;
	if (m == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	m->md = re != NULL
	                ? pcre2_match_data_create_from_pattern(re->code, NULL)
	                : pcre2_match_data_create(1, NULL);
	if (m->md == NULL) {
		free(m);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	*out = m;
	return 0;
}

void
regex_match_free(struct regex_match *m)
{
	if (m == NULL)
		return;
	pcre2_match_data_free(m->md);
	free(m);
}

int
regex_exec(const struct regex *re, struct regex_match *m, const char *s,
           size_t len)
{
	int rc = pcre2_match(re->code, (PCRE2_SPTR)s, len, 0, 0, m->md,
	                     re->mctx);

	m->npairs = 0;
	if (rc >= 0) {
		/* 0: a match, with more groups than m has room for */
		m->npairs =
		        rc > 0 ? (uint32_t)rc : pcre2_get_ovector_count(m->md);
		return 1;
	}
	switch (rc) {
	case PCRE2_ERROR_NOMATCH:
		return 0;
	case PCRE2_ERROR_MATCHLIMIT:
	case PCRE2_ERROR_DEPTHLIMIT:
	case PCRE2_ERROR_HEAPLIMIT:
	case PCRE2_ERROR_JIT_STACKLIMIT:
		return -ERR_INVALID;
	case PCRE2_ERROR_NOMEMORY:
		return -ERR_NOMEM;
	default:
		return -ERR_INTERNAL;
	}
}

bool
regex_group(const struct regex_match *m, uint32_t g, size_t *start_out,
            size_t *end_out)
{
	PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);

	if (g >= m->npairs || ov[2 * g] == PCRE2_UNSET ||
	    ov[2 * g + 1] < ov[2 * g])
		return false;
	*start_out = ov[2 * g];
	*end_out = ov[2 * g + 1];
	return true;
}
