/*
 * parse.c - Go text/template's lexer and parser: turns source
 * text into the syntax tree exec.c walks, with Go's rules for
 * delimiters, trim markers, comments, keywords, constants, variables in
 * scope and its error messages ("template: msg:LINE: ...").
 *
 * The lexer runs over the whole input first; the parser then reads the
 * token array with up to three tokens of backup, as Go's does.  Numbers
 * follow Go's newNumber: integers, floats, character constants (with
 * strconv.UnquoteChar) and imaginary and complex constants (1i, 1+2i, as
 * fmt.Sscan reads them).
 */
#define _GNU_SOURCE /* memmem */
#include "writeback/template/template_int.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <math.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>

enum titem {
	TI_ERROR,
	TI_BOOL,
	TI_CHAR,
	TI_CHARCONST,
	TI_ASSIGN,
	TI_DECLARE,
	TI_EOF,
	TI_FIELD,
	TI_IDENT,
	TI_LDELIM,
	TI_LPAREN,
	TI_NUMBER,
	TI_PIPE,
	TI_RAWSTRING,
	TI_RDELIM,
	TI_RPAREN,
	TI_SPACE,
	TI_STRING,
	TI_TEXT,
	TI_VARIABLE,
	TI_COMPLEX,
	/* keywords */
	TI_BLOCK,
	TI_BREAK,
	TI_CONTINUE,
	TI_DOT,
	TI_DEFINE,
	TI_ELSE,
	TI_END,
	TI_IF,
	TI_NIL,
	TI_RANGE,
	TI_TEMPLATE,
	TI_WITH,
};

struct tok {
	enum titem typ;
	size_t pos, len;
	int line;
	const char *msg; /* TI_ERROR */
};

struct lexer {
	const char *in;
	size_t len, pos, start;
	int line, start_line;
	struct tok *toks;
	size_t n, cap;
	int paren;
	bool failed;
	struct tarena *a;
};

#define LEX_EOF (-1)

static bool
is_space(int c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static bool
is_alnum(const char *s, size_t n, size_t *size)
{
	unsigned char c = (unsigned char)s[0];

	*size = 1;
	if (c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9'))
		return true;
	if (c >= 0x80) {
		/* non-ASCII letters: accept any multi-byte rune */
		size_t k = 1;
		while (k < n && k < 4 && ((unsigned char)s[k] & 0xc0) == 0x80)
			k++;
		*size = k;
		return k > 1;
	}
	return false;
}

static void
emit(struct lexer *l, enum titem typ)
{
	struct tok *t;

	if (l->failed)
		return;
	if (l->n == l->cap) {
		size_t ncap = l->cap ? l->cap * 2 : 64;
		struct tok *nt = tarena_alloc(l->a, ncap * sizeof(*nt));
		if (nt == NULL) {
			l->failed = true;
			return;
		}
		if (l->n)
			memcpy(nt, l->toks, l->n * sizeof(*nt));
		l->toks = nt;
		l->cap = ncap;
	}
	t = &l->toks[l->n++];
	t->typ = typ;
	t->pos = l->start;
	t->len = l->pos - l->start;
	t->line = l->start_line;
	t->msg = NULL;
	for (size_t i = l->start; i < l->pos; i++)
		if (l->in[i] == '\n')
			l->line++;
	l->start = l->pos;
	l->start_line = l->line;
}

static void
ignore(struct lexer *l)
{
	for (size_t i = l->start; i < l->pos; i++)
		if (l->in[i] == '\n')
			l->line++;
	l->start = l->pos;
	l->start_line = l->line;
}

static void lex_error(struct lexer *l, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
lex_error(struct lexer *l, const char *fmt, ...)
{
	va_list ap;
	char tmp[512];

	va_start(ap, fmt);
	vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	l->pos = l->start; /* the error token is empty, at start */
	emit(l, TI_ERROR);
	if (!l->failed)
		l->toks[l->n - 1].msg = tarena_strndup(l->a, tmp, strlen(tmp));
}

/* Emits an error token with the text Go's lexNumber gives: "bad number
 * syntax: %q" of what was scanned. */
static void
bad_number(struct lexer *l)
{
	struct buf b = BUF_INIT;

	buf_puts(&b, "bad number syntax: ");
	tfmt_quote(&b, l->in + l->start, l->pos - l->start);
	l->pos = l->start;
	emit(l, TI_ERROR);
	if (!l->failed) {
		l->toks[l->n - 1].msg =
		        buf_ok(&b) ? tarena_strndup(l->a, b.ptr, b.len) : NULL;
		if (l->toks[l->n - 1].msg == NULL)
			l->failed = true;
	}
	buf_release(&b);
}

static int
peekc(const struct lexer *l)
{
	return l->pos < l->len ? (unsigned char)l->in[l->pos] : LEX_EOF;
}

static bool
has_prefix(const struct lexer *l, size_t at, const char *p)
{
	size_t n = strlen(p);

	return at <= l->len && l->len - at >= n &&
	       memcmp(l->in + at, p, n) == 0;
}

static bool
left_trim_marker(const struct lexer *l, size_t at)
{
	return at + 2 <= l->len && l->in[at] == '-' && is_space(l->in[at + 1]);
}

static bool
right_trim_marker(const struct lexer *l, size_t at)
{
	return at + 2 <= l->len && is_space(l->in[at]) && l->in[at + 1] == '-';
}

/* At "}}" or " -}}"? */
static bool
at_right_delim(const struct lexer *l, bool *trim)
{
	*trim = false;
	if (right_trim_marker(l, l->pos) && has_prefix(l, l->pos + 2, "}}")) {
		*trim = true;
		return true;
	}
	return has_prefix(l, l->pos, "}}");
}

static bool
at_terminator(const struct lexer *l)
{
	int c = peekc(l);

	if (c == LEX_EOF || is_space(c))
		return true;
	switch (c) {
	case '.':
	case ',':
	case '|':
	case ':':
	case ')':
	case '(':
		return true;
	}
	return has_prefix(l, l->pos, "}}");
}

static void
right_delim_skip_space(struct lexer *l)
{
	while (l->pos < l->len && is_space(l->in[l->pos]))
		l->pos++;
	ignore(l);
}

/* Returns false when lexing must stop (error or EOF). */
static bool lex_action(struct lexer *l);

static void
lex_all(struct lexer *l)
{
	for (;;) {
		const char *p = NULL;
		size_t x, end;
		bool trim;

		if (l->pos < l->len)
			p = memmem(l->in + l->pos, l->len - l->pos, "{{", 2);
		if (p == NULL) {
			l->pos = l->len;
			if (l->pos > l->start)
				emit(l, TI_TEXT);
			emit(l, TI_EOF);
			return;
		}
		x = (size_t)(p - l->in);
		end = x;
		if (left_trim_marker(l, x + 2))
			while (end > l->start && is_space(l->in[end - 1]))
				end--;
		l->pos = end;
		if (l->pos > l->start)
			emit(l, TI_TEXT);
		l->pos = x;
		ignore(l);
		/* the left delimiter */
		l->pos += 2;
		trim = left_trim_marker(l, l->pos);
		if (has_prefix(l, l->pos + (trim ? 2 : 0), "/*")) {
			const char *c;
			l->pos += trim ? 2 : 0;
			ignore(l);
			l->pos += 2;
			c = l->pos < l->len ? memmem(l->in + l->pos,
			                             l->len - l->pos, "*/", 2)
			                    : NULL;
			if (c == NULL) {
				lex_error(l, "unclosed comment");
				return;
			}
			l->pos = (size_t)(c - l->in) + 2;
			if (!at_right_delim(l, &trim)) {
				lex_error(
				        l,
				        "comment ends before closing delimiter");
				return;
			}
			l->pos += (trim ? 2 : 0) + 2;
			if (trim)
				while (l->pos < l->len &&
				       is_space(l->in[l->pos]))
					l->pos++;
			ignore(l);
			continue;
		}
		emit(l, TI_LDELIM);
		l->pos += trim ? 2 : 0;
		ignore(l);
		l->paren = 0;
		if (!lex_action(l))
			return;
		if (l->failed)
			return;
	}
}

static bool
lex_number(struct lexer *l)
{
	const char *digits = "0123456789_";
	int c;
	size_t size;

	if (peekc(l) == '+' || peekc(l) == '-')
		l->pos++;
	if (peekc(l) == '0') {
		l->pos++;
		c = peekc(l);
		if (c == 'x' || c == 'X') {
			l->pos++;
			digits = "0123456789abcdefABCDEF_";
		} else if (c == 'o' || c == 'O') {
			l->pos++;
			digits = "01234567_";
		} else if (c == 'b' || c == 'B') {
			l->pos++;
			digits = "01_";
		}
	}
	while ((c = peekc(l)) != LEX_EOF && strchr(digits, c))
		l->pos++;
	if (peekc(l) == '.') {
		l->pos++;
		while ((c = peekc(l)) != LEX_EOF && strchr(digits, c))
			l->pos++;
	}
	if (strlen(digits) == 11 && (peekc(l) == 'e' || peekc(l) == 'E')) {
		l->pos++;
		if (peekc(l) == '+' || peekc(l) == '-')
			l->pos++;
		while ((c = peekc(l)) != LEX_EOF && strchr("0123456789_", c))
			l->pos++;
	}
	if (strlen(digits) == 23 && (peekc(l) == 'p' || peekc(l) == 'P')) {
		l->pos++;
		if (peekc(l) == '+' || peekc(l) == '-')
			l->pos++;
		while ((c = peekc(l)) != LEX_EOF && strchr("0123456789_", c))
			l->pos++;
	}
	if (peekc(l) == 'i')
		l->pos++;
	if (l->pos < l->len &&
	    is_alnum(l->in + l->pos, l->len - l->pos, &size)) {
		l->pos += size;
		return false;
	}
	return true;
}

static void
bad_char(struct lexer *l, const char *what)
{
	size_t size;
	long r = 0;
	unsigned char c = l->pos < l->len ? (unsigned char)l->in[l->pos] : 0;

	/* Go prints the rune as %#U: U+0021 '!' */
	if (l->pos >= l->len) {
		lex_error(l, "%s U+FFFFFFFF", what);
		return;
	}
	if (c < 0x80) {
		r = c;
		size = 1;
	} else {
		r = 0xfffd;
		size = 1;
	}
	(void)size;
	if (r >= 0x20 && r < 0x7f)
		lex_error(l, "%s U+%04lX '%c'", what, r, (char)r);
	else
		lex_error(l, "%s U+%04lX", what, r);
}

static bool
lex_action(struct lexer *l)
{
	for (;;) {
		bool trim;
		int c;
		size_t size;

		if (l->failed)
			return false;
		if (at_right_delim(l, &trim)) {
			if (l->paren != 0) {
				lex_error(l, "unclosed left paren");
				return false;
			}
			if (trim) {
				l->pos += 2;
				ignore(l);
			}
			l->pos += 2;
			emit(l, TI_RDELIM);
			if (trim)
				right_delim_skip_space(l);
			return true;
		}
		c = peekc(l);
		if (c == LEX_EOF) {
			lex_error(l, "unclosed action");
			return false;
		}
		if (is_space(c)) {
			int spaces = 0;
			while (l->pos < l->len && is_space(l->in[l->pos])) {
				l->pos++;
				spaces++;
			}
			/* " -}}": the space before the marker belongs to it */
			if (right_trim_marker(l, l->pos - 1) &&
			    has_prefix(l, l->pos + 1, "}}")) {
				l->pos--;
				if (spaces == 1)
					continue;
			}
			emit(l, TI_SPACE);
			continue;
		}
		l->pos++;
		switch (c) {
		case '=':
			emit(l, TI_ASSIGN);
			continue;
		case ':':
			if (peekc(l) != '=') {
				lex_error(l, "expected :=");
				return false;
			}
			l->pos++;
			emit(l, TI_DECLARE);
			continue;
		case '|':
			emit(l, TI_PIPE);
			continue;
		case '"':
			for (;;) {
				c = peekc(l);
				l->pos++;
				if (c == '\\') {
					c = peekc(l);
					l->pos++;
					if (c != LEX_EOF && c != '\n')
						continue;
				}
				if (c == LEX_EOF || c == '\n') {
					lex_error(l,
					          "unterminated quoted string");
					return false;
				}
				if (c == '"')
					break;
			}
			emit(l, TI_STRING);
			continue;
		case '`':
			for (;;) {
				c = peekc(l);
				l->pos++;
				if (c == LEX_EOF) {
					lex_error(
					        l,
					        "unterminated raw quoted string");
					return false;
				}
				if (c == '`')
					break;
			}
			emit(l, TI_RAWSTRING);
			continue;
		case '\'':
			for (;;) {
				c = peekc(l);
				l->pos++;
				if (c == '\\') {
					c = peekc(l);
					l->pos++;
					if (c != LEX_EOF && c != '\n')
						continue;
				}
				if (c == LEX_EOF || c == '\n') {
					lex_error(
					        l,
					        "unterminated character constant");
					return false;
				}
				if (c == '\'')
					break;
			}
			emit(l, TI_CHARCONST);
			continue;
		case '$':
		case '.':
			if (c == '.' && l->pos < l->len &&
			    l->in[l->pos] >= '0' && l->in[l->pos] <= '9') {
				l->pos--;
				goto number;
			}
			if (at_terminator(l)) {
				emit(l, c == '$' ? TI_VARIABLE : TI_DOT);
				continue;
			}
			while (l->pos < l->len &&
			       is_alnum(l->in + l->pos, l->len - l->pos, &size))
				l->pos += size;
			if (!at_terminator(l)) {
				bad_char(l, "bad character");
				return false;
			}
			emit(l, c == '$' ? TI_VARIABLE : TI_FIELD);
			continue;
		case '(':
			emit(l, TI_LPAREN);
			l->paren++;
			continue;
		case ')':
			emit(l, TI_RPAREN);
			l->paren--;
			if (l->paren < 0) {
				lex_error(l,
				          "unexpected right paren U+0029 ')'");
				return false;
			}
			continue;
		}
		if (c == '+' || c == '-' || (c >= '0' && c <= '9')) {
			l->pos--;
		number:
			if (!lex_number(l)) {
				bad_number(l);
				return false;
			}
			if (peekc(l) == '+' || peekc(l) == '-') {
				/* complex: 1+2i, no spaces, ending in 'i' */
				if (!lex_number(l) ||
				    l->in[l->pos - 1] != 'i') {
					bad_number(l);
					return false;
				}
				emit(l, TI_COMPLEX);
				continue;
			}
			emit(l, TI_NUMBER);
			continue;
		}
		l->pos--;
		if (is_alnum(l->in + l->pos, l->len - l->pos, &size)) {
			static const struct {
				const char *w;
				enum titem t;
			} kw[] = {
				{ "block", TI_BLOCK },
				{ "break", TI_BREAK },
				{ "continue", TI_CONTINUE },
				{ "define", TI_DEFINE },
				{ "else", TI_ELSE },
				{ "end", TI_END },
				{ "if", TI_IF },
				{ "range", TI_RANGE },
				{ "nil", TI_NIL },
				{ "template", TI_TEMPLATE },
				{ "with", TI_WITH },
			};
			enum titem t = TI_IDENT;
			size_t wl;
			while (l->pos < l->len &&
			       is_alnum(l->in + l->pos, l->len - l->pos, &size))
				l->pos += size;
			if (!at_terminator(l)) {
				bad_char(l, "bad character");
				return false;
			}
			wl = l->pos - l->start;
			for (size_t k = 0; k < sizeof(kw) / sizeof(kw[0]); k++)
				if (strlen(kw[k].w) == wl &&
				    memcmp(kw[k].w, l->in + l->start, wl) == 0)
					t = kw[k].t;
			if (t == TI_IDENT &&
			    ((wl == 4 &&
			      memcmp(l->in + l->start, "true", 4) == 0) ||
			     (wl == 5 &&
			      memcmp(l->in + l->start, "false", 5) == 0)))
				t = TI_BOOL;
			emit(l, t);
			continue;
		}
		if (c < 0x80 && c >= 0x20 && c < 0x7f) {
			l->pos++;
			emit(l, TI_CHAR);
			continue;
		}
		bad_char(l, "unrecognized character in action:");
		return false;
	}
}

/* ---- parser ---- */

struct parser {
	struct template *t;
	struct tarena *a;
	const char *in;
	struct tok *toks;
	size_t n, i; /* next token */
	size_t last; /* index of the last token returned */
	int action_line;
	const char **vars; /* names in scope */
	size_t n_vars, cap_vars;
	int range_depth;
	int nesting;
	bool sprig;
	struct err *err;
	int code;
	jmp_buf jb;
};

static void perror_at(struct parser *p, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), noreturn));

static void
perror_at(struct parser *p, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	err_set(p->err, ERR_INVALID, "template: %s:%d: %s", TEMPLATE_NAME,
	        p->toks[p->last].line, msg);
	p->code = -ERR_INVALID;
	longjmp(p->jb, 1);
}

static void __attribute__((noreturn)) pnomem(struct parser *p)
{
	err_set(p->err, ERR_NOMEM, "template: out of memory");
	p->code = -ERR_NOMEM;
	longjmp(p->jb, 1);
}

static struct tok *
next(struct parser *p)
{
	p->last = p->i;
	if (p->i + 1 < p->n)
		p->i++;
	return &p->toks[p->last];
}

/* Go's parser keeps a one-token lookahead; we keep an index. */
static struct tok *
peek(struct parser *p)
{
	return &p->toks[p->i];
}

/* Puts the last token read back. */
static void
backup(struct parser *p, size_t k)
{
	(void)k;
	p->i = p->last;
}

static struct tok *
next_nonspace(struct parser *p)
{
	struct tok *t;

	do
		t = next(p);
	while (t->typ == TI_SPACE);
	return t;
}

static struct tok *
peek_nonspace(struct parser *p)
{
	struct tok *t = next_nonspace(p);

	p->i = (size_t)(t - p->toks);
	return t;
}

/* The token as Go's item.String() shows it. */
static void
tok_desc(struct parser *p, const struct tok *t, char *out, size_t n)
{
	const char *s = p->in + t->pos;

	switch (t->typ) {
	case TI_EOF:
		snprintf(out, n, "EOF");
		return;
	case TI_ERROR:
		snprintf(out, n, "%s", t->msg ? t->msg : "error");
		return;
	default:
		break;
	}
	if (t->typ > TI_COMPLEX)
		snprintf(out, n, "<%.*s>", (int)t->len, s);
	else if (t->len > 10)
		snprintf(out, n, "%.10s...", s);
	else
		snprintf(out, n, "%.*s", (int)t->len, s);
	if (t->typ != TI_ERROR && t->typ <= TI_COMPLEX && t->len <= 10) {
		/* Go quotes items with %q */
		char tmp[64];
		struct buf b = BUF_INIT;
		snprintf(tmp, sizeof(tmp), "%s", out);
		tfmt_quote(&b, tmp, strlen(tmp));
		snprintf(out, n, "%s", buf_ok(&b) ? b.ptr : tmp);
		buf_release(&b);
	} else if (t->typ <= TI_COMPLEX) {
		char tmp[64];
		struct buf b = BUF_INIT;
		snprintf(tmp, sizeof(tmp), "%.10s", s);
		tfmt_quote(&b, tmp, strlen(tmp));
		snprintf(out, n, "%s...", buf_ok(&b) ? b.ptr : tmp);
		buf_release(&b);
	}
}

static void __attribute__((noreturn))
unexpected(struct parser *p, const struct tok *t, const char *context)
{
	char d[600];

	tok_desc(p, t, d, sizeof(d));
	if (t->typ == TI_ERROR) {
		if (p->action_line != 0 && p->action_line != t->line) {
			size_t dl = strlen(d);
			if (dl >= 7 && strcmp(d + dl - 7, " action") == 0)
				perror_at(p, "%s started at %s:%d", d,
				          TEMPLATE_NAME, p->action_line);
			perror_at(p, "%s in action started at %s:%d", d,
			          TEMPLATE_NAME, p->action_line);
		}
		perror_at(p, "%s", d);
	}
	perror_at(p, "unexpected %s in %s", d, context);
}

static struct tnode *
new_node(struct parser *p, enum tnode_type type, size_t pos, int line)
{
	struct tnode *n = tarena_alloc(p->a, sizeof(*n));

	if (n == NULL)
		pnomem(p);
	n->type = type;
	n->pos = pos;
	n->line = line;
	return n;
}

static void
append_kid(struct parser *p, struct tnode *parent, struct tnode *kid)
{
	if (parent->n_kids == parent->cap_kids) {
		size_t ncap = parent->cap_kids ? parent->cap_kids * 2 : 4;
		struct tnode **nk = tarena_alloc(p->a, ncap * sizeof(*nk));
		if (nk == NULL)
			pnomem(p);
		if (parent->n_kids)
			memcpy(nk, parent->kids, parent->n_kids * sizeof(*nk));
		parent->kids = nk;
		parent->cap_kids = ncap;
	}
	parent->kids[parent->n_kids++] = kid;
}

static void
push_var(struct parser *p, const char *name)
{
	if (p->n_vars == p->cap_vars) {
		size_t ncap = p->cap_vars ? p->cap_vars * 2 : 8;
		const char **nv = tarena_alloc(p->a, ncap * sizeof(*nv));
		if (nv == NULL)
			pnomem(p);
		if (p->n_vars)
			memcpy(nv, p->vars, p->n_vars * sizeof(*nv));
		p->vars = nv;
		p->cap_vars = ncap;
	}
	p->vars[p->n_vars++] = name;
}

static const char *
tok_str(struct parser *p, const struct tok *t)
{
	char *s = tarena_strndup(p->a, p->in + t->pos, t->len);

	if (s == NULL)
		pnomem(p);
	return s;
}

/* Splits "$x.a.b" or ".a.b" into identifiers. */
static void
split_idents(struct parser *p, struct tnode *n, const char *s, size_t len,
             bool field)
{
	size_t count = 1, k = 0, start;

	for (size_t i = field ? 1 : 0; i < len; i++)
		if (s[i] == '.')
			count++;
	n->idents = tarena_alloc(p->a, count * sizeof(*n->idents));
	if (n->idents == NULL)
		pnomem(p);
	start = field ? 1 : 0;
	for (size_t i = start; i <= len; i++) {
		if (i == len || s[i] == '.') {
			char *id = tarena_strndup(p->a, s + start, i - start);
			if (id == NULL)
				pnomem(p);
			n->idents[k++] = id;
			start = i + 1;
		}
	}
	n->n_idents = k;
}

static struct tnode *
new_variable(struct parser *p, size_t pos, const char *s, size_t len)
{
	struct tnode *n = new_node(p, TN_VARIABLE, pos, 0);

	split_idents(p, n, s, len, false);
	return n;
}

static struct tnode *
new_field(struct parser *p, size_t pos, const char *s, size_t len)
{
	struct tnode *n = new_node(p, TN_FIELD, pos, 0);

	split_idents(p, n, s, len, true);
	return n;
}

static struct tnode *use_var(struct parser *p, const struct tok *t);
static struct tnode *pipeline(struct parser *p, const char *context,
                              enum titem end);
static struct tnode *item_list(struct parser *p, struct tnode **end);

static void
nest_enter(struct parser *p)
{
	if (++p->nesting > TEMPLATE_MAX_NESTING)
		perror_at(p, "nesting deeper than %d", TEMPLATE_MAX_NESTING);
}

/* strconv.Unquote for "..." and `...`; false on bad syntax. */
static bool
unquote(struct parser *p, const char *s, size_t n, struct tnode *out)
{
	struct buf b = BUF_INIT;
	char q;
	bool ok = true;

	if (n < 2)
		return false;
	q = s[0];
	if (q == '`') {
		for (size_t i = 1; i + 1 < n; i++)
			if (s[i] != '\r')
				buf_putc(&b, s[i]);
	} else {
		for (size_t i = 1; i + 1 < n && ok; i++) {
			unsigned char c = (unsigned char)s[i];
			long v = 0;
			int digits = 0, base = 16;
			if (c == q || c == '\n') {
				ok = false;
				break;
			}
			if (c != '\\') {
				buf_putc(&b, (char)c);
				continue;
			}
			if (++i + 1 >= n) {
				ok = false;
				break;
			}
			c = (unsigned char)s[i];
			switch (c) {
			case 'a':
				buf_putc(&b, '\a');
				continue;
			case 'b':
				buf_putc(&b, '\b');
				continue;
			case 'f':
				buf_putc(&b, '\f');
				continue;
			case 'n':
				buf_putc(&b, '\n');
				continue;
			case 'r':
				buf_putc(&b, '\r');
				continue;
			case 't':
				buf_putc(&b, '\t');
				continue;
			case 'v':
				buf_putc(&b, '\v');
				continue;
			case '\\':
				buf_putc(&b, '\\');
				continue;
			case '\'':
			case '"':
				if (c != (unsigned char)q) {
					ok = false;
					break;
				}
				buf_putc(&b, (char)c);
				continue;
			case 'x':
				digits = 2;
				break;
			case 'u':
				digits = 4;
				break;
			case 'U':
				digits = 8;
				break;
			case '0':
			case '1':
			case '2':
			case '3':
			case '4':
			case '5':
			case '6':
			case '7':
				digits = 3;
				base = 8;
				i--;
				break;
			default:
				ok = false;
				break;
			}
			if (!ok)
				break;
			for (int k = 0; k < digits; k++) {
				int d;
				i++;
				if (i + 1 >= n) {
					ok = false;
					break;
				}
				c = (unsigned char)s[i];
				if (c >= '0' && c <= '9')
					d = c - '0';
				else if (c >= 'a' && c <= 'f')
					d = c - 'a' + 10;
				else if (c >= 'A' && c <= 'F')
					d = c - 'A' + 10;
				else
					d = 99;
				if (d >= base) {
					ok = false;
					break;
				}
				v = v * base + d;
			}
			if (!ok)
				break;
			if (base == 8 && v > 255) {
				ok = false;
				break;
			}
			if (digits == 2 || base == 8) {
				buf_putc(&b, (char)v);
			} else {
				if (v > 0x10ffff ||
				    (v >= 0xd800 && v <= 0xdfff)) {
					ok = false;
					break;
				}
				/* encode as UTF-8 */
				if (v < 0x80) {
					buf_putc(&b, (char)v);
				} else if (v < 0x800) {
					buf_putc(&b, (char)(0xc0 | (v >> 6)));
					buf_putc(&b, (char)(0x80 | (v & 0x3f)));
				} else if (v < 0x10000) {
					buf_putc(&b, (char)(0xe0 | (v >> 12)));
					buf_putc(&b, (char)(0x80 |
					                    ((v >> 6) & 0x3f)));
					buf_putc(&b, (char)(0x80 | (v & 0x3f)));
				} else {
					buf_putc(&b, (char)(0xf0 | (v >> 18)));
					buf_putc(&b, (char)(0x80 | ((v >> 12) &
					                            0x3f)));
					buf_putc(&b, (char)(0x80 |
					                    ((v >> 6) & 0x3f)));
					buf_putc(&b, (char)(0x80 | (v & 0x3f)));
				}
			}
		}
	}
	if (!buf_ok(&b)) {
		buf_release(&b);
		pnomem(p);
	}
	if (ok) {
		out->text = tarena_strndup(p->a, b.ptr, b.len);
		out->len = b.len;
		if (out->text == NULL) {
			buf_release(&b);
			pnomem(p);
		}
	}
	buf_release(&b);
	return ok;
}

/* strconv's rule for '_' in numbers: only between digits (a base prefix
 * counts as a digit). */
static bool
underscore_ok(const char *s)
{
	char saw = '^';
	bool hex = false;
	size_t i = 0;

	if (*s == '+' || *s == '-')
		s++;
	if (s[0] == '0' && s[1] != '\0' && strchr("bBoOxX", s[1]) != NULL) {
		i = 2;
		saw = '0';
		hex = s[1] == 'x' || s[1] == 'X';
	}
	for (; s[i] != '\0'; i++) {
		char c = s[i];
		if ((c >= '0' && c <= '9') ||
		    (hex &&
		     ((c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F')))) {
			saw = '0';
			continue;
		}
		if (c == '_') {
			if (saw != '0')
				return false;
			saw = '_';
			continue;
		}
		if (saw == '_')
			return false;
		saw = '!';
	}
	return saw != '_';
}

/*
 * strconv.ParseFloat(s, 64) for the texts the lexer gives: decimal or
 * hexadecimal (with a 'p' exponent) floats, '_' between digits.  0, or -1
 * for bad syntax, -2 when the value is out of range (an underflow to zero
 * is not an error, as in Go).
 */
static int
go_parse_float(const char *s, size_t n, double *out)
{
	char stack[128], *copy = stack, *end;
	size_t i = 0, k = 0;
	bool hex = false, digits = false, unders = false;
	int rc = 0;
	double f;

	if (i < n && (s[i] == '+' || s[i] == '-'))
		i++;
	if (i + 1 < n && s[i] == '0' && (s[i + 1] == 'x' || s[i + 1] == 'X')) {
		hex = true;
		i += 2;
	}
	for (bool dot = false; i < n; i++) {
		char c = s[i];
		if (c == '_') {
			unders = true;
		} else if (c == '.' && !dot) {
			dot = true;
		} else if ((c >= '0' && c <= '9') ||
		           (hex && ((c >= 'a' && c <= 'f') ||
		                    (c >= 'A' && c <= 'F')))) {
			digits = true;
		} else {
			break;
		}
	}
	if (!digits)
		return -1;
	if (i < n && (hex ? (s[i] == 'p' || s[i] == 'P')
	                  : (s[i] == 'e' || s[i] == 'E'))) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i >= n || s[i] < '0' || s[i] > '9')
			return -1;
		while (i < n && ((s[i] >= '0' && s[i] <= '9') || s[i] == '_')) {
			unders |= s[i] == '_';
			i++;
		}
	} else if (hex) {
		return -1; /* a hexadecimal float needs its 'p' exponent */
	}
	if (i != n)
		return -1;
	if (n + 1 > sizeof(stack) && (copy = malloc(n + 1)) == NULL)
		return -1;
	memcpy(copy, s, n);
	copy[n] = '\0';
	if (unders && !underscore_ok(copy)) {
		rc = -1;
		goto out;
	}
	for (i = 0; i < n; i++)
		if (s[i] != '_')
			copy[k++] = s[i];
	copy[k] = '\0';
	errno = 0;
	f = strtod(copy, &end);
	if (*end != '\0')
		rc = -1;
	else if (errno == ERANGE && isinf(f))
		rc = -2;
	else
		*out = f;
out:
	if (copy != stack)
		free(copy);
	return rc;
}

/* Go's simplifyComplex: the float and int a complex constant also is. */
static void
simplify_complex(struct tnode *n)
{
	n->is_float = n->im == 0;
	if (!n->is_float)
		return;
	n->f = n->re;
	n->is_int = n->re >= -9223372036854775808.0 &&
	            n->re < 9223372036854775808.0 &&
	            (double)(int64_t)n->re == n->re;
	if (n->is_int)
		n->i = (int64_t)n->re;
}

/*
 * fmt.Sscan of a complex128, as Go's newNumber reads a complex constant:
 * "(" optional, the real part, a sign, the imaginary part, 'i'.  Each part
 * is what fmt's floatToken accepts, converted with strconv.ParseFloat.
 */
static void
complex_constant(struct parser *p, struct tnode *n, const char *s, size_t len)
{
	size_t i = 0, part[2][2];
	double v[2];

	if (i < len && s[i] == '(')
		i++;
	for (int k = 0; k < 2; k++) {
		const char *digits = "0123456789_", *exp = "eE";

		part[k][0] = i;
		if (k == 1 || (i < len && (s[i] == '+' || s[i] == '-')))
			i++; /* the sign (required before the imaginary part) */
		/* floatToken's test for "inf" takes an 'i' even when no
		 * "nf" follows: "1+i" leaves no 'i' to end the number */
		if (i < len && (s[i] == 'i' || s[i] == 'I'))
			i++;
		if (i < len && s[i] == '0') {
			i++;
			if (i < len && (s[i] == 'x' || s[i] == 'X')) {
				i++;
				digits = "0123456789abcdefABCDEF_";
				exp = "pP";
			}
		}
		while (i < len && strchr(digits, s[i]) != NULL)
			i++;
		if (i < len && s[i] == '.')
			for (i++; i < len && strchr(digits, s[i]) != NULL; i++)
				;
		if (i < len && strchr(exp, s[i]) != NULL) {
			i++;
			if (i < len && (s[i] == '+' || s[i] == '-'))
				i++;
			while (i < len && strchr("0123456789_", s[i]) != NULL)
				i++;
		}
		part[k][1] = i;
		if (k == 0 && (i >= len || (s[i] != '+' && s[i] != '-')))
			perror_at(p, "syntax error scanning complex number");
	}
	if (i >= len || s[i] != 'i')
		perror_at(p, "syntax error scanning complex number");
	for (int k = 0; k < 2; k++) {
		const char *t = s + part[k][0];
		size_t tn = part[k][1] - part[k][0];
		int rc = go_parse_float(t, tn, &v[k]);

		if (rc < 0)
			perror_at(p, "strconv.ParseFloat: parsing \"%.*s\": %s",
			          (int)tn, t,
			          rc == -2 ? "value out of range"
			                   : "invalid syntax");
	}
	n->is_complex = true;
	n->re = v[0];
	n->im = v[1];
	simplify_complex(n);
}

/*
 * strconv.UnquoteChar(s, '\''): the first character of s[0..len) and its
 * length in *used; -1 for bad syntax.
 */
static long
unquote_char(const char *s, size_t len, size_t *used)
{
	unsigned char c;
	long v = 0;
	int digits = 0;

	if (len == 0 || s[0] == '\'')
		return -1;
	c = (unsigned char)s[0];
	if (c >= 0x80) {
		long r = tfmt_utf8_decode((const unsigned char *)s, len, used);
		return r < 0 ? 0xfffd : r;
	}
	*used = 1;
	if (c != '\\')
		return c;
	if (len < 2)
		return -1;
	*used = 2;
	switch (s[1]) {
	case 'a':
		return '\a';
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'v':
		return '\v';
	case '\\':
		return '\\';
	case '\'':
		return '\'';
	case 'x':
		digits = 2;
		break;
	case 'u':
		digits = 4;
		break;
	case 'U':
		digits = 8;
		break;
	case '0':
	case '1':
	case '2':
	case '3':
	case '4':
	case '5':
	case '6':
	case '7':
		if (len < 4)
			return -1;
		for (int k = 1; k < 4; k++) {
			if (s[k] < '0' || s[k] > '7')
				return -1;
			v = v * 8 + (s[k] - '0');
		}
		*used = 4;
		return v > 255 ? -1 : v;
	default:
		return -1; /* '"' included: it is no escape inside '' */
	}
	if (len < 2 + (size_t)digits)
		return -1;
	for (int k = 0; k < digits; k++) {
		char h = s[2 + k];
		int d = h >= '0' && h <= '9'   ? h - '0'
		        : h >= 'a' && h <= 'f' ? h - 'a' + 10
		        : h >= 'A' && h <= 'F' ? h - 'A' + 10
		                               : -1;
		if (d < 0)
			return -1;
		v = v * 16 + d;
	}
	*used = 2 + (size_t)digits;
	/* \x is a byte value; \u and \U must be valid code points */
	if (digits > 2 && (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)))
		return -1;
	return v;
}

/* Go's newNumber: decides IsInt / IsFloat / IsComplex from the text. */
static void
new_number(struct parser *p, struct tnode *n, const struct tok *t)
{
	char txt[128], clean[128];
	size_t k = 0;
	char *end;
	bool is_uint = false;
	const char *src = p->in + t->pos;

	n->quoted = tok_str(p, t);
	n->quoted_len = t->len;
	if (t->typ == TI_CHARCONST) {
		size_t used = 0;
		long r = unquote_char(src + 1, t->len - 1, &used);

		if (r < 0)
			perror_at(p, "invalid syntax");
		if (t->len - 1 - used != 1 || src[t->len - 1] != '\'')
			perror_at(p, "malformed character constant: %s",
			          n->quoted);
		n->is_int = n->is_float = true;
		n->i = r;
		n->f = (double)r;
		return;
	}
	if (t->typ == TI_COMPLEX) {
		complex_constant(p, n, src, t->len);
		return;
	}
	/* imaginary constants are complex (0i too, as in Go) */
	if (t->len > 0 && src[t->len - 1] == 'i' &&
	    go_parse_float(src, t->len - 1, &n->im) == 0) {
		n->is_complex = true;
		n->re = 0;
		simplify_complex(n);
		return;
	}
	if (t->len >= sizeof(txt))
		perror_at(p, "illegal number syntax: \"%.*s\"", 40, src);
	memcpy(txt, src, t->len);
	txt[t->len] = '\0';
	if (memchr(txt, '_', t->len) != NULL && !underscore_ok(txt))
		perror_at(p, "illegal number syntax: \"%s\"", txt);
	/* underscores are only legal between digits; strip them */
	for (size_t i = 0; i < t->len; i++)
		if (txt[i] != '_')
			clean[k++] = txt[i];
	clean[k] = '\0';
	{
		const char *s = clean;
		int base = 10;
		bool neg = false;
		if (*s == '+' || *s == '-')
			neg = *s++ == '-';
		if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
			base = 16, s += 2;
		else if (s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
			base = 8, s += 2;
		else if (s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
			base = 2, s += 2;
		else if (s[0] == '0' && s[1] != '\0')
			base = 8, s += 1;
		if (*s != '\0' && *s != '-' && *s != '+') {
			unsigned long long u;
			errno = 0;
			u = strtoull(s, &end, base);
			if (*end == '\0' && errno == 0) {
				is_uint = !neg;
				if (!neg && u <= INT64_MAX) {
					n->is_int = true;
					n->i = (int64_t)u;
				} else if (neg &&
				           u <= (unsigned long long)INT64_MAX +
				                           1) {
					n->is_int = true;
					n->i = (int64_t)(0 - u);
				}
				n->is_float = true;
				n->f = neg ? -(double)u : (double)u;
				if (n->is_int)
					n->f = (double)n->i;
			}
		}
	}
	if (!n->is_int && !is_uint) {
		double f;
		if (go_parse_float(txt, t->len, &f) == 0) {
			if (!strpbrk(txt, ".eEpP"))
				perror_at(p, "integer overflow: \"%s\"", txt);
			n->is_float = true;
			n->f = f;
			if (f >= -9.2e18 && f <= 9.2e18 &&
			    (double)(int64_t)f == f) {
				n->is_int = true;
				n->i = (int64_t)f;
			}
		}
	}
	if (!n->is_int && !n->is_float)
		perror_at(p, "illegal number syntax: \"%s\"", txt);
	/* a uint64 beyond int64 parses; using it fails ("overflows int") */
}

static struct tnode *
term(struct parser *p)
{
	struct tok *t = next_nonspace(p);
	struct tnode *n;

	switch (t->typ) {
	case TI_IDENT:
		n = new_node(p, TN_IDENT, t->pos, t->line);
		n->text = tok_str(p, t);
		n->len = t->len;
		n->fn = tfunc_find(n->text, n->len, p->sprig);
		if (n->fn == NULL)
			perror_at(p, "function \"%s\" not defined", n->text);
		return n;
	case TI_DOT:
		return new_node(p, TN_DOT, t->pos, t->line);
	case TI_NIL:
		return new_node(p, TN_NIL, t->pos, t->line);
	case TI_VARIABLE:
		return use_var(p, t);
	case TI_FIELD:
		return new_field(p, t->pos, p->in + t->pos, t->len);
	case TI_BOOL:
		n = new_node(p, TN_BOOL, t->pos, t->line);
		n->b = p->in[t->pos] == 't';
		return n;
	case TI_CHARCONST:
	case TI_COMPLEX:
	case TI_NUMBER:
		n = new_node(p, TN_NUMBER, t->pos, t->line);
		new_number(p, n, t);
		return n;
	case TI_LPAREN:
		nest_enter(p);
		n = pipeline(p, "parenthesized pipeline", TI_RPAREN);
		p->nesting--;
		return n;
	case TI_STRING:
	case TI_RAWSTRING:
		n = new_node(p, TN_STRING, t->pos, t->line);
		n->quoted = tok_str(p, t);
		n->quoted_len = t->len;
		if (!unquote(p, p->in + t->pos, t->len, n))
			perror_at(p, "invalid syntax");
		return n;
	default:
		backup(p, 1);
		return NULL;
	}
}

static struct tnode *
use_var(struct parser *p, const struct tok *t)
{
	struct tnode *v = new_variable(p, t->pos, p->in + t->pos, t->len);

	for (size_t i = 0; i < p->n_vars; i++)
		if (strcmp(p->vars[i], v->idents[0]) == 0)
			return v;
	perror_at(p, "undefined variable \"%s\"", v->idents[0]);
}

static struct tnode *
operand(struct parser *p)
{
	struct tnode *node = term(p), *chain;
	struct buf s = BUF_INIT;
	size_t pos;

	if (node == NULL)
		return NULL;
	if (peek(p)->typ != TI_FIELD)
		return node;
	pos = peek(p)->pos;
	chain = new_node(p, TN_CHAIN, pos, 0);
	chain->pipe = node;
	while (peek(p)->typ == TI_FIELD) {
		struct tok *f = next(p);
		const char **ni =
		        tarena_alloc(p->a, (chain->n_idents + 1) * sizeof(*ni));
		if (ni == NULL)
			pnomem(p);
		if (chain->n_idents)
			memcpy(ni, chain->idents,
			       chain->n_idents * sizeof(*ni));
		ni[chain->n_idents] =
		        tarena_strndup(p->a, p->in + f->pos + 1, f->len - 1);
		if (ni[chain->n_idents] == NULL)
			pnomem(p);
		chain->idents = ni;
		chain->n_idents++;
	}
	switch (node->type) {
	case TN_FIELD:
	case TN_VARIABLE:
		tnode_string(&s, chain);
		if (!buf_ok(&s)) {
			buf_release(&s);
			pnomem(p);
		}
		node = node->type == TN_FIELD
		               ? new_field(p, pos, s.ptr, s.len)
		               : new_variable(p, pos, s.ptr, s.len);
		buf_release(&s);
		return node;
	case TN_BOOL:
	case TN_STRING:
	case TN_NUMBER:
	case TN_NIL:
	case TN_DOT: {
		struct buf q = BUF_INIT;
		char tmp[256];
		tnode_string(&s, node);
		tfmt_quote(&q, s.ptr, s.len);
		snprintf(tmp, sizeof(tmp), "%s", buf_ok(&q) ? q.ptr : "");
		buf_release(&s);
		buf_release(&q);
		perror_at(p, "unexpected . after term %s", tmp);
	}
	default:
		return chain;
	}
}

static struct tnode *
command(struct parser *p)
{
	struct tnode *cmd = new_node(p, TN_COMMAND, peek_nonspace(p)->pos, 0);

	for (;;) {
		struct tnode *op;
		struct tok *t;

		peek_nonspace(p);
		op = operand(p);
		if (op != NULL)
			append_kid(p, cmd, op);
		t = next(p);
		if (t->typ == TI_SPACE)
			continue;
		if (t->typ == TI_RDELIM || t->typ == TI_RPAREN)
			backup(p, 1);
		else if (t->typ != TI_PIPE)
			unexpected(p, t, "operand");
		break;
	}
	if (cmd->n_kids == 0)
		perror_at(p, "empty command");
	return cmd;
}

static void
pipe_decl(struct parser *p, struct tnode *pipe, const struct tok *v)
{
	struct tnode **nd =
	        tarena_alloc(p->a, (pipe->n_decl + 1) * sizeof(*nd));

	if (nd == NULL)
		pnomem(p);
	if (pipe->n_decl)
		memcpy(nd, pipe->decl, pipe->n_decl * sizeof(*nd));
	nd[pipe->n_decl++] = new_variable(p, v->pos, p->in + v->pos, v->len);
	pipe->decl = nd;
	push_var(p, nd[pipe->n_decl - 1]->idents[0]);
}

static struct tnode *
pipeline(struct parser *p, const char *context, enum titem end)
{
	struct tok *t = peek_nonspace(p);
	struct tnode *pipe = new_node(p, TN_PIPE, t->pos, t->line);

decls:
	t = peek_nonspace(p);
	if (t->typ == TI_VARIABLE) {
		struct tok *v = next(p), *nx;
		nx = peek_nonspace(p);
		if (nx->typ == TI_ASSIGN || nx->typ == TI_DECLARE) {
			pipe->is_assign = nx->typ == TI_ASSIGN;
			next_nonspace(p);
			pipe_decl(p, pipe, v);
		} else if (nx->typ == TI_CHAR && p->in[nx->pos] == ',') {
			next_nonspace(p);
			pipe_decl(p, pipe, v);
			if (strcmp(context, "range") == 0 && pipe->n_decl < 2) {
				enum titem pt = peek_nonspace(p)->typ;
				if (pt == TI_VARIABLE || pt == TI_RDELIM ||
				    pt == TI_RPAREN)
					goto decls;
				perror_at(
				        p,
				        "range can only initialize variables");
			}
			perror_at(p, "too many declarations in %s", context);
		} else {
			/* not a declaration: read the variable again */
			p->i = (size_t)(v - p->toks);
		}
	}
	for (;;) {
		t = next_nonspace(p);
		if (t->typ == end) {
			if (pipe->n_kids == 0)
				perror_at(p, "missing value for %s", context);
			for (size_t i = 1; i < pipe->n_kids; i++) {
				enum tnode_type ft =
				        pipe->kids[i]->kids[0]->type;
				if (ft == TN_BOOL || ft == TN_DOT ||
				    ft == TN_NIL || ft == TN_NUMBER ||
				    ft == TN_STRING)
					perror_at(
					        p,
					        "non executable command in pipeline stage %zu",
					        i + 1);
			}
			return pipe;
		}
		switch (t->typ) {
		case TI_BOOL:
		case TI_CHARCONST:
		case TI_COMPLEX:
		case TI_DOT:
		case TI_FIELD:
		case TI_IDENT:
		case TI_NUMBER:
		case TI_NIL:
		case TI_RAWSTRING:
		case TI_STRING:
		case TI_VARIABLE:
		case TI_LPAREN:
			backup(p, 1);
			append_kid(p, pipe, command(p));
			break;
		default:
			unexpected(p, t, context);
		}
	}
}

static const char *
template_name(struct parser *p, const struct tok *t, const char *context)
{
	struct tnode tmp = { 0 };

	if (t->typ != TI_STRING && t->typ != TI_RAWSTRING)
		unexpected(p, t, context);
	if (!unquote(p, p->in + t->pos, t->len, &tmp))
		perror_at(p, "invalid syntax");
	return tmp.text;
}

static void
add_def(struct parser *p, const char *name, struct tnode *root)
{
	struct template *t = p->t;
	bool empty = true;

	/* an empty tree (only spaces and comments) never replaces one */
	for (size_t i = 0; i < root->n_kids && empty; i++) {
		const struct tnode *k = root->kids[i];
		if (k->type == TN_COMMENT)
			continue;
		if (k->type == TN_TEXT) {
			for (size_t j = 0; j < k->len; j++)
				if (!is_space((unsigned char)k->text[j]))
					empty = false;
			continue;
		}
		empty = false;
	}
	for (size_t i = 0; i < t->n_defs; i++) {
		if (strcmp(t->defs[i].name, name) != 0)
			continue;
		if (empty)
			return;
		{
			const struct tnode *old = t->defs[i].root;
			bool old_empty = true;
			for (size_t j = 0; j < old->n_kids && old_empty; j++) {
				const struct tnode *k = old->kids[j];
				if (k->type == TN_COMMENT)
					continue;
				if (k->type == TN_TEXT) {
					for (size_t c = 0; c < k->len; c++)
						if (!is_space(
						            (unsigned char)
						                    k->text[c]))
							old_empty = false;
					continue;
				}
				old_empty = false;
			}
			if (!old_empty)
				perror_at(
				        p,
				        "template: multiple definition of template \"%s\"",
				        name);
		}
		t->defs[i].root = root;
		return;
	}
	if (t->n_defs == t->cap_defs) {
		size_t ncap = t->cap_defs ? t->cap_defs * 2 : 4;
		struct tdef *nd = tarena_alloc(p->a, ncap * sizeof(*nd));
		if (nd == NULL)
			pnomem(p);
		if (t->n_defs)
			memcpy(nd, t->defs, t->n_defs * sizeof(*nd));
		t->defs = nd;
		t->cap_defs = ncap;
	}
	t->defs[t->n_defs].name = name;
	t->defs[t->n_defs].root = root;
	t->n_defs++;
}

/* Parses a nested definition body with a fresh variable scope. */
static struct tnode *
definition_body(struct parser *p, const char *context)
{
	const char **saved_vars = p->vars;
	size_t saved_n = p->n_vars, saved_cap = p->cap_vars;
	int saved_range = p->range_depth;
	struct tnode *end, *root;

	p->vars = NULL;
	p->n_vars = p->cap_vars = 0;
	p->range_depth = 0;
	push_var(p, "$");
	root = item_list(p, &end);
	if (end->type != TN_END)
		perror_at(p, "unexpected {{else}} in %s", context);
	p->vars = saved_vars;
	p->n_vars = saved_n;
	p->cap_vars = saved_cap;
	p->range_depth = saved_range;
	return root;
}

static struct tnode *if_control(struct parser *p);

static struct tnode *
parse_control(struct parser *p, const char *context, enum tnode_type type)
{
	size_t saved_vars = p->n_vars;
	struct tnode *n, *next_node, *pipe;

	nest_enter(p);
	pipe = pipeline(p, context, TI_RDELIM);
	n = new_node(p, type, pipe->pos, pipe->line);
	n->pipe = pipe;
	if (type == TN_RANGE)
		p->range_depth++;
	n->list = item_list(p, &next_node);
	if (type == TN_RANGE)
		p->range_depth--;
	if (next_node->type == TN_ELSE) {
		/* "{{else if}}" in an if and, since Go 1.23, "{{else with}}"
		 * in a with: the rest of the chain is the else list */
		enum titem chain = type == TN_IF     ? TI_IF
		                   : type == TN_WITH ? TI_WITH
		                                     : TI_EOF;
		if (chain != TI_EOF && peek(p)->typ == chain) {
			next(p);
			n->else_list = new_node(p, TN_LIST, next_node->pos, 0);
			append_kid(p, n->else_list,
			           parse_control(p, context, type));
		} else {
			n->else_list = item_list(p, &next_node);
			if (next_node->type != TN_END)
				perror_at(p, "expected end; found {{else}}");
		}
	}
	p->n_vars = saved_vars;
	p->nesting--;
	return n;
}

static struct tnode *
if_control(struct parser *p)
{
	return parse_control(p, "if", TN_IF);
}

static struct tnode *
action(struct parser *p)
{
	struct tok *t = next_nonspace(p);
	struct tnode *n;

	switch (t->typ) {
	case TI_BLOCK: {
		struct tok *nt = next_nonspace(p);
		const char *name = template_name(p, nt, "block clause");
		struct tnode *pipe = pipeline(p, "block clause", TI_RDELIM);
		struct tnode *root;
		nest_enter(p);
		root = definition_body(p, "block clause");
		p->nesting--;
		add_def(p, name, root);
		n = new_node(p, TN_TEMPLATE, nt->pos, nt->line);
		n->name = name;
		n->pipe = pipe;
		return n;
	}
	case TI_BREAK:
	case TI_CONTINUE: {
		bool brk = t->typ == TI_BREAK;
		struct tok *nt = next_nonspace(p);
		if (nt->typ != TI_RDELIM)
			unexpected(p, nt, brk ? "{{break}}" : "{{continue}}");
		if (p->range_depth == 0)
			perror_at(p, brk ? "{{break}} outside {{range}}"
			                 : "{{continue}} outside {{range}}");
		return new_node(p, brk ? TN_BREAK : TN_CONTINUE, t->pos,
		                t->line);
	}
	case TI_ELSE: {
		struct tok *pk = peek_nonspace(p);
		if (pk->typ == TI_IF || pk->typ == TI_WITH)
			return new_node(p, TN_ELSE, pk->pos, pk->line);
		pk = next_nonspace(p);
		if (pk->typ != TI_RDELIM)
			unexpected(p, pk, "else");
		return new_node(p, TN_ELSE, pk->pos, pk->line);
	}
	case TI_END: {
		struct tok *pk = next_nonspace(p);
		if (pk->typ != TI_RDELIM)
			unexpected(p, pk, "end");
		return new_node(p, TN_END, pk->pos, pk->line);
	}
	case TI_IF:
		return if_control(p);
	case TI_RANGE:
		return parse_control(p, "range", TN_RANGE);
	case TI_WITH:
		return parse_control(p, "with", TN_WITH);
	case TI_TEMPLATE: {
		struct tok *nt = next_nonspace(p);
		const char *name = template_name(p, nt, "template clause");
		n = new_node(p, TN_TEMPLATE, nt->pos, nt->line);
		n->name = name;
		if (next_nonspace(p)->typ != TI_RDELIM) {
			backup(p, 1);
			n->pipe = pipeline(p, "template clause", TI_RDELIM);
		}
		return n;
	}
	default:
		break;
	}
	backup(p, 1);
	t = peek(p);
	n = new_node(p, TN_ACTION, t->pos, t->line);
	n->pipe = pipeline(p, "command", TI_RDELIM);
	return n;
}

static struct tnode *
text_or_action(struct parser *p)
{
	struct tok *t = next_nonspace(p);
	struct tnode *n;

	switch (t->typ) {
	case TI_TEXT:
		n = new_node(p, TN_TEXT, t->pos, t->line);
		n->text = p->in + t->pos;
		n->len = t->len;
		return n;
	case TI_LDELIM:
		p->action_line = t->line;
		n = action(p);
		p->action_line = 0;
		return n;
	default:
		unexpected(p, t, "input");
	}
}

static struct tnode *
item_list(struct parser *p, struct tnode **end)
{
	struct tnode *list = new_node(p, TN_LIST, peek_nonspace(p)->pos, 0);

	while (peek_nonspace(p)->typ != TI_EOF) {
		struct tnode *n = text_or_action(p);
		if (n->type == TN_END || n->type == TN_ELSE) {
			*end = n;
			return list;
		}
		append_kid(p, list, n);
	}
	next(p);
	perror_at(p, "unexpected EOF");
}

static void
parse_top(struct parser *p)
{
	struct tnode *root = new_node(p, TN_LIST, peek(p)->pos, 0);

	push_var(p, "$");
	while (peek(p)->typ != TI_EOF) {
		struct tnode *n;
		if (peek(p)->typ == TI_LDELIM) {
			size_t delim = p->i;
			next(p);
			if (next_nonspace(p)->typ == TI_DEFINE) {
				struct tok *nt = next_nonspace(p);
				const char *name;
				struct tok *rd;
				if (nt->typ != TI_STRING &&
				    nt->typ != TI_RAWSTRING)
					unexpected(p, nt, "define clause");
				name = template_name(p, nt, "define clause");
				rd = next_nonspace(p);
				if (rd->typ != TI_RDELIM)
					unexpected(p, rd, "define clause");
				nest_enter(p);
				add_def(p, name,
				        definition_body(p, "define clause"));
				p->nesting--;
				continue;
			}
			p->i = delim;
		}
		n = text_or_action(p);
		if (n->type == TN_END)
			perror_at(p, "unexpected {{end}}");
		if (n->type == TN_ELSE)
			perror_at(p, "unexpected {{else}}");
		append_kid(p, root, n);
	}
	add_def(p, TEMPLATE_NAME, root);
}

int
template_parse(struct template **out, const char *src, size_t len,
               bool with_sprig, struct err *err)
{
	struct template *t = NULL;
	struct lexer l;
	struct parser *p = NULL;
	int rc = 0;

	*out = NULL;
	if (len > TEMPLATE_MAX_SOURCE)
		return err_set(err, ERR_INVALID,
		               "template: %s: longer than %zu bytes",
		               TEMPLATE_NAME, (size_t)TEMPLATE_MAX_SOURCE);
	t = calloc(1, sizeof(*t));
	p = calloc(1, sizeof(*p));
	if (t == NULL || p == NULL) {
		rc = err_set(err, ERR_NOMEM, "template: out of memory");
		goto out;
	}
	tarena_init(&t->arena, 0);
	t->sprig = with_sprig;
	t->src = tarena_strndup(&t->arena, len ? src : "", len);
	t->len = len;
	if (t->src == NULL) {
		rc = err_set(err, ERR_NOMEM, "template: out of memory");
		goto out;
	}
	memset(&l, 0, sizeof(l));
	l.in = t->src;
	l.len = len;
	l.line = l.start_line = 1;
	l.a = &t->arena;
	lex_all(&l);
	if (l.failed || l.n == 0) {
		rc = err_set(err, ERR_NOMEM, "template: out of memory");
		goto out;
	}
	/* the token stream always ends in EOF or an error */
	if (l.toks[l.n - 1].typ != TI_EOF && l.toks[l.n - 1].typ != TI_ERROR) {
		rc = err_set(err, ERR_INTERNAL,
		             "template: lexer stopped early");
		goto out;
	}
	p->t = t;
	p->a = &t->arena;
	p->in = t->src;
	p->toks = l.toks;
	p->n = l.n;
	p->sprig = with_sprig;
	p->err = err;
	if (setjmp(p->jb) != 0) {
		rc = p->code;
		goto out;
	}
	parse_top(p);
	*out = t;
	t = NULL;
out:
	free(p);
	template_free(t);
	return rc;
}

void
template_free(struct template *t)
{
	if (t == NULL)
		return;
	tarena_release(&t->arena);
	free(t);
}

const struct tnode *
template_lookup(const struct template *t, const char *name)
{
	for (size_t i = 0; i < t->n_defs; i++)
		if (strcmp(t->defs[i].name, name) == 0)
			return t->defs[i].root;
	return NULL;
}

/* ---- node strings (Go's Node.String) ---- */

void
tnode_string(struct buf *b, const struct tnode *n)
{
	switch (n->type) {
	case TN_TEXT:
		buf_add(b, n->text, n->len);
		return;
	case TN_ACTION:
		buf_puts(b, "{{");
		tnode_string(b, n->pipe);
		buf_puts(b, "}}");
		return;
	case TN_IF:
	case TN_RANGE:
	case TN_WITH:
		buf_puts(b, n->type == TN_IF      ? "{{if "
		            : n->type == TN_RANGE ? "{{range "
		                                  : "{{with ");
		tnode_string(b, n->pipe);
		buf_puts(b, "}}");
		tnode_string(b, n->list);
		if (n->else_list != NULL) {
			buf_puts(b, "{{else}}");
			tnode_string(b, n->else_list);
		}
		buf_puts(b, "{{end}}");
		return;
	case TN_TEMPLATE:
		buf_puts(b, "{{template ");
		tfmt_quote(b, n->name, strlen(n->name));
		if (n->pipe != NULL) {
			buf_putc(b, ' ');
			tnode_string(b, n->pipe);
		}
		buf_puts(b, "}}");
		return;
	case TN_BREAK:
		buf_puts(b, "{{break}}");
		return;
	case TN_CONTINUE:
		buf_puts(b, "{{continue}}");
		return;
	case TN_LIST:
		for (size_t i = 0; i < n->n_kids; i++)
			tnode_string(b, n->kids[i]);
		return;
	case TN_COMMENT:
		return;
	case TN_PIPE:
		for (size_t i = 0; i < n->n_decl; i++) {
			if (i)
				buf_puts(b, ", ");
			tnode_string(b, n->decl[i]);
		}
		if (n->n_decl)
			buf_puts(b, " := ");
		for (size_t i = 0; i < n->n_kids; i++) {
			if (i)
				buf_puts(b, " | ");
			tnode_string(b, n->kids[i]);
		}
		return;
	case TN_COMMAND:
		for (size_t i = 0; i < n->n_kids; i++) {
			if (i)
				buf_putc(b, ' ');
			if (n->kids[i]->type == TN_PIPE) {
				buf_putc(b, '(');
				tnode_string(b, n->kids[i]);
				buf_putc(b, ')');
			} else {
				tnode_string(b, n->kids[i]);
			}
		}
		return;
	case TN_FIELD:
		for (size_t i = 0; i < n->n_idents; i++) {
			buf_putc(b, '.');
			buf_puts(b, n->idents[i]);
		}
		return;
	case TN_VARIABLE:
		for (size_t i = 0; i < n->n_idents; i++) {
			if (i)
				buf_putc(b, '.');
			buf_puts(b, n->idents[i]);
		}
		return;
	case TN_CHAIN:
		if (n->pipe->type == TN_PIPE) {
			buf_putc(b, '(');
			tnode_string(b, n->pipe);
			buf_putc(b, ')');
		} else {
			tnode_string(b, n->pipe);
		}
		for (size_t i = 0; i < n->n_idents; i++) {
			buf_putc(b, '.');
			buf_puts(b, n->idents[i]);
		}
		return;
	case TN_IDENT:
		buf_add(b, n->text, n->len);
		return;
	case TN_DOT:
		buf_putc(b, '.');
		return;
	case TN_NIL:
		buf_puts(b, "nil");
		return;
	case TN_BOOL:
		buf_puts(b, n->b ? "true" : "false");
		return;
	case TN_NUMBER:
	case TN_STRING:
		buf_add(b, n->quoted, n->quoted_len);
		return;
	case TN_END:
		buf_puts(b, "{{end}}");
		return;
	case TN_ELSE:
		buf_puts(b, "{{else}}");
		return;
	}
}
