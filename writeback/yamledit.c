/*
 * yamledit.c - the splice layer: a libyaml event parse into a flat node
 * table with byte offsets, scalar rendering, splicing, the re-parse check
 * and a unified diff of the splices.  It does not know about setters,
 * kustomizations or values files, and it never re-emits YAML.
 */
#include "yamledit.h"
#include "base/fsroot.h"
#include "base/imageref.h"
#include "base/json.h"
#include "base/utf8.h"
#include "base/util.h"
#include "writeback/change.h"

#include <cjson/cJSON.h>
#include <git2.h>

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <yaml.h>

/* Skips "&anchor" / "!tag" properties (and the blanks, line breaks and
 * comments after them) so that start points at the node's own text. */
static size_t
skip_props(const char *s, size_t len, size_t p)
{
	while (p < len && (s[p] == '&' || s[p] == '!')) {
		while (p < len && s[p] != ' ' && s[p] != '\t' && s[p] != '\n' &&
		       s[p] != '\r')
			p++;
		for (;;) {
			while (p < len && (s[p] == ' ' || s[p] == '\t' ||
			                   s[p] == '\n' || s[p] == '\r'))
				p++;
			if (p < len && s[p] == '#') {
				while (p < len && s[p] != '\n')
					p++;
				continue;
			}
			break;
		}
	}
	return p;
}

static void
line_col_of(const char *s, size_t off, unsigned *line, unsigned *col)
{
	unsigned l = 0;
	size_t ls = 0;

	for (size_t i = 0; i < off; i++)
		if (s[i] == '\n') {
			l++;
			ls = i + 1;
		}
	*line = l;
	*col = (unsigned)(off - ls);
}

void
yamledit_release(struct yamledit_doc *doc)
{
	for (size_t i = 0; i < doc->n; i++)
		free(doc->nodes[i].value);
	free(doc->nodes);
	free(doc->roots);
	doc->nodes = NULL;
	doc->roots = NULL;
	doc->n = doc->cap = doc->ndocs = 0;
}

static int
node_add(struct yamledit_doc *doc, int parent, int *child_count)
{
	struct yamledit_node *nd;
	int idx;

	if (doc->n == doc->cap) {
		size_t cap = doc->cap ? doc->cap * 2 : 64;
		struct yamledit_node *v =
		        reallocarray(doc->nodes, cap, sizeof(*v));
		if (v == NULL)
			return -1;
		doc->nodes = v;
		doc->cap = cap;
	}
	idx = (int)doc->n++;
	nd = &doc->nodes[idx];
	memset(nd, 0, sizeof(*nd));
	nd->parent = parent;
	nd->first_child = nd->last_child = nd->next_sibling = -1;
	nd->prev_sibling = -1;
	nd->doc = (int)doc->ndocs - 1;
	if (parent >= 0) {
		struct yamledit_node *p = &doc->nodes[parent];
		if (p->last_child >= 0)
			doc->nodes[p->last_child].next_sibling = idx;
		else
			p->first_child = idx;
		nd->prev_sibling = p->last_child;
		p->last_child = idx;
		nd->is_key =
		        p->type == YAMLEDIT_MAPPING && (*child_count % 2) == 0;
		(*child_count)++;
	} else {
		doc->roots[doc->ndocs - 1] = idx;
	}
	return idx;
}

struct keyref {
	const char *v;
	size_t len;
	unsigned line;
};

static int
keyref_cmp(const void *a, const void *b)
{
	const struct keyref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(x->v, y->v, n);

	if (c != 0)
		return c;
	return (x->len > y->len) - (x->len < y->len);
}

/*
 * Refuses a mapping with two equal scalar keys, as Go's yaml.v3 (and so
 * Flux and Argo CD) does: an editor would otherwise change one of them
 * while readers may take the other.
 */
static int
keys_unique(const struct yamledit_doc *doc, int map, const char *what,
            struct err *err)
{
	struct keyref *k = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;

	for (int c = doc->nodes[map].first_child; c >= 0;) {
		const struct yamledit_node *kn = &doc->nodes[c];
		int v = kn->next_sibling;
		if (kn->type == YAMLEDIT_SCALAR) {
			if (n == cap) {
				struct keyref *p;
				cap = cap ? cap * 2 : 16;
				p = reallocarray(k, cap, sizeof(*k));
				if (p == NULL) {
					free(k);
					return err_set(err, ERR_NOMEM,
					               "%s: out of memory",
					               what);
				}
				k = p;
			}
			k[n].v = kn->value;
			k[n].len = kn->value_len;
			k[n].line = kn->line;
			n++;
		}
		if (v < 0)
			break;
		c = doc->nodes[v].next_sibling;
	}
	if (n > 1)
		qsort(k, n, sizeof(*k), keyref_cmp);
	for (size_t i = 1; i < n; i++)
		if (keyref_cmp(&k[i - 1], &k[i]) == 0) {
			rc = err_set(
			        err, ERR_INVALID,
			        "%s:%u: mapping key '%.*s' is defined twice",
			        what, k[i].line + 1,
			        (int)(k[i].len > 64 ? 64 : k[i].len), k[i].v);
			break;
		}
	free(k);
	return rc;
}

int
yamledit_parse(struct yamledit_doc *out, const char *src, size_t len,
               const char *what, struct err *err)
{
	yaml_parser_t parser;
	yaml_event_t ev;
	struct utf8_index cur;
	int stack[YAMLEDIT_MAX_DEPTH + 1];
	int counts[YAMLEDIT_MAX_DEPTH + 1];
	int depth = 0, rc = 0, done = 0;
	const char *nl;

	*out = (struct yamledit_doc)YAMLEDIT_DOC_INIT;
	out->src = src;
	out->len = len;
	if (len > YAMLEDIT_MAX_FILE)
		return err_set(err, ERR_INVALID,
		               "%s: file larger than %zu bytes", what,
		               (size_t)YAMLEDIT_MAX_FILE);
	if (len >= 2 &&
	    (((unsigned char)src[0] == 0xfe && (unsigned char)src[1] == 0xff) ||
	     ((unsigned char)src[0] == 0xff && (unsigned char)src[1] == 0xfe)))
		return err_set(err, ERR_INVALID,
		               "%s: UTF-16 files are not edited", what);
	if (memchr(src, '\0', len) != NULL)
		return err_set(err, ERR_INVALID, "%s: file contains a NUL byte",
		               what);
	utf8_index_init(&cur, src, len);
	nl = memchr(src, '\n', len);
	if (nl && nl > src && nl[-1] == '\r')
		out->eol = "\r\n";

	if (!yaml_parser_initialize(&parser))
		return err_set(err, ERR_NOMEM, "%s: out of memory", what);
	yaml_parser_set_input_string(&parser, (const unsigned char *)src, len);
	while (!done) {
		int idx, parent = depth > 0 ? stack[depth - 1] : -1;
		int *cnt = depth > 0 ? &counts[depth - 1] : NULL;
		struct yamledit_node *nd;

		if (!yaml_parser_parse(&parser, &ev)) {
			rc = err_set(err, ERR_INVALID, "%s:%zu:%zu: %s%s%s",
			             what, parser.problem_mark.line + 1,
			             parser.problem_mark.column + 1,
			             parser.problem ? parser.problem
			                            : "invalid YAML",
			             parser.context ? " " : "",
			             parser.context ? parser.context : "");
			goto out;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = 1;
			break;
		case YAML_DOCUMENT_START_EVENT: {
			int *r = reallocarray(out->roots, out->ndocs + 1,
			                      sizeof(*r));
			if (r == NULL) {
				rc = err_set(err, ERR_NOMEM,
				             "%s: out of memory", what);
				break;
			}
			out->roots = r;
			out->roots[out->ndocs++] = -1;
			break;
		}
		case YAML_SCALAR_EVENT:
		case YAML_ALIAS_EVENT:
		case YAML_MAPPING_START_EVENT:
		case YAML_SEQUENCE_START_EVENT:
			idx = node_add(out, parent, cnt);
			if (idx < 0) {
				rc = err_set(err, ERR_NOMEM,
				             "%s: out of memory", what);
				break;
			}
			nd = &out->nodes[idx];
			nd->start =
			        utf8_index_offset(&cur, ev.start_mark.index);
			nd->end = utf8_index_offset(&cur, ev.end_mark.index);
			nd->line = (unsigned)ev.start_mark.line;
			nd->col = (unsigned)ev.start_mark.column;
			if (nd->start < len &&
			    (src[nd->start] == '&' || src[nd->start] == '!')) {
				nd->start = skip_props(src, len, nd->start);
				line_col_of(src, nd->start, &nd->line,
				            &nd->col);
			}
			if (ev.type == YAML_ALIAS_EVENT) {
				nd->type = YAMLEDIT_ALIAS;
			} else if (ev.type == YAML_SCALAR_EVENT) {
				nd->type = YAMLEDIT_SCALAR;
				switch (ev.data.scalar.style) {
				case YAML_SINGLE_QUOTED_SCALAR_STYLE:
					nd->style = YAMLEDIT_SINGLE;
					break;
				case YAML_DOUBLE_QUOTED_SCALAR_STYLE:
					nd->style = YAMLEDIT_DOUBLE;
					break;
				case YAML_LITERAL_SCALAR_STYLE:
					nd->style = YAMLEDIT_LITERAL;
					break;
				case YAML_FOLDED_SCALAR_STYLE:
					nd->style = YAMLEDIT_FOLDED;
					break;
				default:
					nd->style = YAMLEDIT_PLAIN;
				}
				nd->value_len = ev.data.scalar.length;
				nd->value = malloc(nd->value_len + 1);
				if (nd->value == NULL) {
					rc = err_set(err, ERR_NOMEM,
					             "%s: out of memory", what);
					break;
				}
				memcpy(nd->value, ev.data.scalar.value,
				       nd->value_len);
				nd->value[nd->value_len] = '\0';
			} else {
				int flow;
				if (ev.type == YAML_MAPPING_START_EVENT) {
					nd->type = YAMLEDIT_MAPPING;
					flow = ev.data.mapping_start.style ==
					       YAML_FLOW_MAPPING_STYLE;
				} else {
					nd->type = YAMLEDIT_SEQUENCE;
					flow = ev.data.sequence_start.style ==
					       YAML_FLOW_SEQUENCE_STYLE;
				}
				nd->style =
				        flow ? YAMLEDIT_FLOW : YAMLEDIT_BLOCK;
				if (depth >= YAMLEDIT_MAX_DEPTH) {
					rc = err_set(
					        err, ERR_INVALID,
					        "%s:%u: nested deeper than %d "
					        "levels",
					        what, nd->line + 1,
					        YAMLEDIT_MAX_DEPTH);
					break;
				}
				stack[depth] = idx;
				counts[depth] = 0;
				depth++;
			}
			break;
		case YAML_MAPPING_END_EVENT:
		case YAML_SEQUENCE_END_EVENT:
			if (depth > 0) {
				depth--;
				out->nodes[stack[depth]].end =
				        utf8_index_offset(&cur,
				                          ev.end_mark.index);
				if (ev.type == YAML_MAPPING_END_EVENT)
					rc = keys_unique(out, stack[depth],
					                 what, err);
			}
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (rc < 0)
			goto out;
	}
out:
	yaml_parser_delete(&parser);
	if (rc < 0)
		yamledit_release(out);
	return rc;
}

int
yamledit_map_get(const struct yamledit_doc *doc, int map, const char *key)
{
	size_t klen = strlen(key);

	if (map < 0 || doc->nodes[map].type != YAMLEDIT_MAPPING)
		return -1;
	for (int k = doc->nodes[map].first_child; k >= 0;) {
		int v = doc->nodes[k].next_sibling;
		const struct yamledit_node *kn = &doc->nodes[k];
		if (v < 0)
			break;
		if (kn->type == YAMLEDIT_SCALAR && kn->value_len == klen &&
		    memcmp(kn->value, key, klen) == 0)
			return v;
		k = doc->nodes[v].next_sibling;
	}
	return -1;
}

int
yamledit_key_of(const struct yamledit_doc *doc, int value)
{
	int p = doc->nodes[value].parent;

	/* A mapping's children alternate key, value: a value's key is the
	 * sibling before it.  (A walk from the first child made editing a
	 * mapping of N keys cost N^2.) */
	if (p < 0 || doc->nodes[p].type != YAMLEDIT_MAPPING ||
	    doc->nodes[value].is_key)
		return -1;
	return doc->nodes[value].prev_sibling;
}

int
yamledit_seq_get(const struct yamledit_doc *doc, int seq, size_t i)
{
	if (seq < 0 || doc->nodes[seq].type != YAMLEDIT_SEQUENCE)
		return -1;
	for (int c = doc->nodes[seq].first_child; c >= 0;
	     c = doc->nodes[c].next_sibling)
		if (i-- == 0)
			return c;
	return -1;
}

size_t
yamledit_subtree_end(const struct yamledit_doc *doc, int node)
{
	size_t end = doc->nodes[node].style == YAMLEDIT_BLOCK
	                     ? doc->nodes[node].start
	                     : doc->nodes[node].end;

	/* Descendants follow their ancestor in the table (pre-order). */
	for (size_t j = (size_t)node + 1; j < doc->n; j++) {
		int p = doc->nodes[j].parent;
		while (p > node)
			p = doc->nodes[p].parent;
		if (p != node)
			break;
		/* block collections end at the next token: not theirs */
		if (doc->nodes[j].style != YAMLEDIT_BLOCK &&
		    doc->nodes[j].end > end)
			end = doc->nodes[j].end;
	}
	return end;
}

static const char *
scalar_or_empty(const struct yamledit_doc *doc, int node)
{
	if (node < 0 || doc->nodes[node].type != YAMLEDIT_SCALAR)
		return "";
	return doc->nodes[node].value;
}

void
yamledit_doc_object(const struct yamledit_doc *doc, int docno,
                    const char **api_version, const char **kind,
                    const char **namespace_, const char **name)
{
	int root = (docno >= 0 && (size_t)docno < doc->ndocs)
	                   ? doc->roots[docno]
	                   : -1;
	int md = yamledit_map_get(doc, root, "metadata");

	*api_version =
	        scalar_or_empty(doc, yamledit_map_get(doc, root, "apiVersion"));
	*kind = scalar_or_empty(doc, yamledit_map_get(doc, root, "kind"));
	*namespace_ =
	        scalar_or_empty(doc, yamledit_map_get(doc, md, "namespace"));
	*name = scalar_or_empty(doc, yamledit_map_get(doc, md, "name"));
}

size_t
yamledit_after(const struct yamledit_doc *doc, int node, bool *need_eol)
{
	size_t e = yamledit_subtree_end(doc, node);

	*need_eol = false;
	if (e > 0 && doc->src[e - 1] == '\n')
		return e;
	e = yamledit_line_next(doc, e);
	if (e == doc->len && (e == 0 || doc->src[e - 1] != '\n'))
		*need_eol = true;
	return e;
}

size_t
yamledit_line_start(const struct yamledit_doc *doc, size_t off)
{
	while (off > 0 && doc->src[off - 1] != '\n')
		off--;
	return off;
}

size_t
yamledit_line_next(const struct yamledit_doc *doc, size_t off)
{
	const char *nl;

	if (off >= doc->len)
		return doc->len;
	nl = memchr(doc->src + off, '\n', doc->len - off);
	return nl ? (size_t)(nl - doc->src) + 1 : doc->len;
}

static void
comment_trim(const char *s, size_t n, const char **p, size_t *len)
{
	while (n > 0 && *s == '#') {
		s++;
		n--;
	}
	while (n > 0 && (*s == ' ' || *s == '\t')) {
		s++;
		n--;
	}
	while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t' ||
	                 s[n - 1] == '\r' || s[n - 1] == '\n'))
		n--;
	*p = s;
	*len = n;
}

int
yamledit_line_comment(const struct yamledit_doc *doc, int node, const char **p,
                      size_t *n)
{
	size_t i = doc->nodes[node].end, j;
	const char *s = doc->src;

	if (doc->nodes[node].style == YAMLEDIT_LITERAL ||
	    doc->nodes[node].style == YAMLEDIT_FOLDED) {
		/* the comment of a block scalar follows its header (|-, >2) */
		i = doc->nodes[node].start;
		while (i < doc->len && strchr("|>+-0123456789", s[i]) &&
		       s[i] != '\0')
			i++;
	}
	if (i < doc->len && s[i] != ' ' && s[i] != '\t')
		return 0;
	while (i < doc->len && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i >= doc->len || s[i] != '#')
		return 0;
	j = yamledit_line_next(doc, i);
	comment_trim(s + i, j - i, p, n);
	return 1;
}

/* true when line [ls, le) holds only blanks and a comment. */
static bool
line_is_comment(const char *s, size_t ls, size_t le)
{
	while (ls < le && (s[ls] == ' ' || s[ls] == '\t'))
		ls++;
	return ls < le && s[ls] == '#';
}

int
yamledit_head_comment(const struct yamledit_doc *doc, int node, const char **p,
                      size_t *n)
{
	const struct yamledit_node *nd = &doc->nodes[node];
	const char *s = doc->src;
	size_t entry = nd->start, ls, pls, ppls;
	int key = yamledit_key_of(doc, node);

	if (key >= 0 && doc->nodes[key].line == nd->line)
		entry = doc->nodes[key].start;
	ls = yamledit_line_start(doc, entry);
	for (size_t i = ls; i < entry; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '-')
			return 0;
	if (ls == 0)
		return 0;
	pls = yamledit_line_start(doc, ls - 1);
	if (!line_is_comment(s, pls, ls))
		return 0;
	/* A block of several comment lines is not one JSON object. */
	if (pls > 0) {
		ppls = yamledit_line_start(doc, pls - 1);
		if (line_is_comment(s, ppls, pls))
			return 0;
	}
	while (s[pls] == ' ' || s[pls] == '\t')
		pls++;
	comment_trim(s + pls, ls - pls, p, n);
	return 1;
}

int
yamledit_value_check(enum yamledit_value_kind kind, const char *s, size_t len,
                     struct err *err)
{
	struct imageref ref;
	bool ok = false;
	const char *what = "value";

	/* The grammar is distribution/reference's, in base/imageref.h. */
	switch (kind) {
	case YAMLEDIT_VALUE_NAME:
		ok = imageref_name_valid(s, len);
		what = "image name";
		break;
	case YAMLEDIT_VALUE_TAG:
		ok = imageref_tag_valid(s, len);
		what = "tag";
		break;
	case YAMLEDIT_VALUE_DIGEST:
		ok = imageref_digest_valid(s, len);
		what = "digest";
		break;
	case YAMLEDIT_VALUE_REF:
		ok = imageref_parse(&ref, s, len, NULL) == 0;
		what = "image reference";
		break;
	case YAMLEDIT_VALUE_ANY:
		ok = imageref_tag_valid(s, len) ||
		     imageref_digest_valid(s, len) ||
		     imageref_parse(&ref, s, len, NULL) == 0;
		what = "image reference, tag or digest";
		break;
	}
	if (ok)
		return 0;
	/* Quote only printable bytes: the value may be hostile. */
	for (size_t i = 0; i < len; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == '\'' ||
		    (unsigned char)s[i] >= 0x7f || i >= 200)
			return err_set(
			        err, ERR_INVALID,
			        "invalid %s (control, quote or non-ASCII "
			        "characters, or too long)",
			        what);
	return err_set(err, ERR_INVALID, "invalid %s '%.*s'", what, (int)len,
	               s);
}

/* ---- plain scalar safety (YAML 1.1 and 1.2 implicit types) ---- */

static bool
all_in(const char *s, size_t n, const char *set)
{
	if (n == 0)
		return false;
	for (size_t i = 0; i < n; i++)
		if (strchr(set, s[i]) == NULL || s[i] == '\0')
			return false;
	return true;
}

static bool
has_digit(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] >= '0' && s[i] <= '9')
			return true;
	return false;
}

static bool
looks_numeric(const char *s, size_t n)
{
	size_t i = 0, dot = 0, colon = 0;

	if (n > 0 && (s[0] == '-' || s[0] == '+')) {
		s++;
		n--;
	}
	if (n == 0)
		return false;
	if (n > 2 && s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
		return all_in(s + 2, n - 2, "0123456789abcdefABCDEF_");
	if (n > 2 && s[0] == '0' && (s[1] == 'o' || s[1] == 'O'))
		return all_in(s + 2, n - 2, "01234567_");
	if (n > 2 && s[0] == '0' && (s[1] == 'b' || s[1] == 'B'))
		return all_in(s + 2, n - 2, "01_");
	if (n == 4 && (memcmp(s, ".inf", 4) == 0 || memcmp(s, ".Inf", 4) == 0 ||
	               memcmp(s, ".INF", 4) == 0 || memcmp(s, ".nan", 4) == 0 ||
	               memcmp(s, ".NaN", 4) == 0 || memcmp(s, ".NAN", 4) == 0))
		return true;
	if (!has_digit(s, n))
		return false;
	/* mantissa: digits, '_', at most one '.', ':' groups (sexagesimal) */
	for (; i < n; i++) {
		char c = s[i];
		if ((c >= '0' && c <= '9') || c == '_')
			continue;
		if (c == '.' && dot++ == 0)
			continue;
		if (c == ':' && dot == 0) {
			colon++;
			continue;
		}
		break;
	}
	if (i < n && (s[i] == 'e' || s[i] == 'E') && colon == 0) {
		i++;
		if (i < n && (s[i] == '+' || s[i] == '-'))
			i++;
		if (i == n)
			return false;
		return all_in(s + i, n - i, "0123456789");
	}
	return i == n;
}

static bool
looks_timestamp(const char *s, size_t n)
{
	/* [0-9]{4}-[0-9]{1,2}-[0-9]{1,2} and then nothing, T, t or a blank */
	size_t i = 0, k;

	for (k = 0; k < 4; k++, i++)
		if (i >= n || s[i] < '0' || s[i] > '9')
			return false;
	for (int part = 0; part < 2; part++) {
		if (i >= n || s[i] != '-')
			return false;
		i++;
		for (k = 0; i < n && k < 2 && s[i] >= '0' && s[i] <= '9'; k++)
			i++;
		if (k == 0)
			return false;
	}
	return i == n || s[i] == 'T' || s[i] == 't' || s[i] == ' ' ||
	       s[i] == '\t';
}

bool
yamledit_plain_is_unsafe(const char *s, size_t n)
{
	static const char *const words[] = {
		"~",    "null",  "Null",  "NULL",  "y",  "Y",  "yes",  "Yes",
		"YES",  "n",     "N",     "no",    "No", "NO", "true", "True",
		"TRUE", "false", "False", "FALSE", "on", "On", "ON",   "off",
		"Off",  "OFF",   "=",     "<<",    NULL
	};

	if (n == 0 || strchr("-?:,[]{}#&*!|>'\"%@` \t", s[0]) != NULL)
		return true;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f || strchr(",[]{}", (char)c))
			return true;
		if (c == ':' && (i + 1 == n || s[i + 1] == ' '))
			return true;
		if (c == '#' && i > 0 && s[i - 1] == ' ')
			return true;
	}
	if (s[n - 1] == ' ')
		return true;
	for (size_t i = 0; words[i]; i++)
		if (strlen(words[i]) == n && memcmp(words[i], s, n) == 0)
			return true;
	return looks_numeric(s, n) || looks_timestamp(s, n);
}

int
yamledit_render(struct buf *out, enum yamledit_style style, const char *value,
                struct err *err)
{
	size_t n = strlen(value);

	switch (style) {
	case YAMLEDIT_PLAIN:
		if (!yamledit_plain_is_unsafe(value, n)) {
			buf_add(out, value, n);
			break;
		}
		/* a plain scalar would change type: double quote it */
		/* fall through */
	case YAMLEDIT_DOUBLE:
		buf_putc(out, '"');
		for (size_t i = 0; i < n; i++) {
			unsigned char c = (unsigned char)value[i];
			if (c == '"' || c == '\\') {
				buf_putc(out, '\\');
				buf_putc(out, (char)c);
			} else if (c < 0x20 || c == 0x7f)
				buf_addf(out, "\\x%02x", c);
			else
				buf_putc(out, (char)c);
		}
		buf_putc(out, '"');
		break;
	case YAMLEDIT_SINGLE:
		buf_putc(out, '\'');
		for (size_t i = 0; i < n; i++) {
			if ((unsigned char)value[i] < 0x20)
				return err_set(
				        err, ERR_INVALID,
				        "control character in a single-quoted "
				        "value");
			if (value[i] == '\'')
				buf_putc(out, '\'');
			buf_putc(out, value[i]);
		}
		buf_putc(out, '\'');
		break;
	default:
		return err_set(err, ERR_INVALID,
		               "block scalars (| and >) are not edited");
	}
	return buf_ok(out) ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

/* ---- edits ---- */

void
yamledit_edits_release(struct yamledit_edits *e)
{
	for (size_t i = 0; i < e->n; i++) {
		free(e->v[i].text);
		free(e->v[i].expect);
	}
	free(e->v);
	e->v = NULL;
	e->n = e->cap = 0;
}

static struct yamledit_splice *
splice_new(struct yamledit_edits *e)
{
	struct yamledit_splice *s;

	if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 8;
		struct yamledit_splice *v = reallocarray(e->v, cap, sizeof(*v));
		if (v == NULL)
			return NULL;
		e->v = v;
		e->cap = cap;
	}
	s = &e->v[e->n++];
	memset(s, 0, sizeof(*s));
	s->target = s->drop[0] = s->drop[1] = -1;
	s->order = e->n - 1;
	return s;
}

int
yamledit_edits_replace(struct yamledit_edits *e, const struct yamledit_doc *doc,
                       int node, const char *value, struct err *err)
{
	const struct yamledit_node *nd = &doc->nodes[node];
	struct buf b = BUF_INIT;
	struct yamledit_splice *s;
	int rc;

	if (nd->type != YAMLEDIT_SCALAR)
		return err_set(err, ERR_INVALID, "line %u: not a scalar",
		               nd->line + 1);
	if (nd->style == YAMLEDIT_PLAIN && nd->start == nd->end)
		return err_set(
		        err, ERR_INVALID,
		        "line %u: empty value (write a value once by hand)",
		        nd->line + 1);
	rc = yamledit_render(&b, nd->style, value, err);
	if (rc < 0) {
		buf_release(&b);
		return err_prefix(err, "line %u", nd->line + 1);
	}
	s = splice_new(e);
	if (s == NULL) {
		buf_release(&b);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	s->start = nd->start;
	s->end = nd->end;
	s->text_len = b.len;
	s->text = buf_detach(&b);
	s->target = node;
	s->expect = strdup(value);
	if (s->text == NULL || s->expect == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	return 0;
}

int
yamledit_edits_insert(struct yamledit_edits *e, size_t offset, const char *text,
                      size_t len, unsigned indent, int drop0, int drop1)
{
	struct yamledit_splice *s = splice_new(e);

	if (s == NULL)
		return -ERR_NOMEM;
	s->start = s->end = offset;
	s->text = malloc(len + 1);
	if (s->text == NULL)
		return -ERR_NOMEM;
	memcpy(s->text, text, len);
	s->text[len] = '\0';
	s->text_len = len;
	s->indent = indent;
	s->drop[0] = drop0;
	s->drop[1] = drop1;
	return 0;
}

int
yamledit_edits_delete(struct yamledit_edits *e, size_t start, size_t end,
                      int drop0, int drop1)
{
	struct yamledit_splice *s = splice_new(e);

	if (s == NULL)
		return -ERR_NOMEM;
	s->start = start;
	s->end = end;
	s->text = strdup("");
	if (s->text == NULL)
		return -ERR_NOMEM;
	s->drop[0] = drop0;
	s->drop[1] = drop1;
	return 0;
}

static int
splice_cmp(const void *a, const void *b)
{
	const struct yamledit_splice *x = a, *y = b;

	if (x->start != y->start)
		return x->start < y->start ? -1 : 1;
	/* an insertion goes before a replacement at the same offset */
	if ((x->end == x->start) != (y->end == y->start))
		return x->end == x->start ? -1 : 1;
	if (x->indent != y->indent)
		return x->indent > y->indent ? -1 : 1;
	return x->order < y->order ? -1 : (x->order > y->order);
}

/* Marks node and its descendants (contiguous in pre-order). */
static void
mark_subtree(const struct yamledit_doc *doc, int node, unsigned char *mark)
{
	if (node < 0 || (size_t)node >= doc->n)
		return;
	mark[node] = 1;
	for (size_t j = (size_t)node + 1; j < doc->n; j++) {
		int p = doc->nodes[j].parent;
		if (p < node || !mark[p])
			break;
		mark[j] = 1;
	}
}

static bool
empty_plain(const struct yamledit_node *n)
{
	return n->type == YAMLEDIT_SCALAR && n->style == YAMLEDIT_PLAIN &&
	       n->value_len == 0;
}

static int
moved(struct err *err, const char *what, unsigned line)
{
	return err_set(
	        err, ERR_INVALID,
	        "%s:%u: edit would change content outside the edited values",
	        what, line + 1);
}

/* The checks described in yamledit.h; ns[] holds new splice offsets. */
static int
verify(const struct yamledit_edits *e, const size_t *ns,
       const struct yamledit_doc *od, const struct yamledit_doc *nd,
       const char *what, struct err *err)
{
	unsigned char *dropped = calloc(od->n + 1, 1);
	unsigned char *inserted = calloc(nd->n + 1, 1);
	int *pair = calloc(od->n + 1, sizeof(int));
	int *target_of = calloc(od->n + 1, sizeof(int));
	size_t i = 0, j = 0, k, kb;
	ptrdiff_t delta;
	int rc = 0;

	if (!dropped || !inserted || !pair || !target_of) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (od->ndocs != nd->ndocs) {
		rc = err_set(err, ERR_INVALID,
		             "%s: edit changed the number of documents", what);
		goto out;
	}
	for (k = 0; k < od->n; k++)
		target_of[k] = -1;
	for (k = 0; k < e->n; k++) {
		mark_subtree(od, e->v[k].drop[0], dropped);
		mark_subtree(od, e->v[k].drop[1], dropped);
		if (e->v[k].target >= 0)
			target_of[e->v[k].target] = (int)k;
	}
	/* The new nodes and the spliced texts (sorted, disjoint) both come
	 * in document order: one walk over each, not nodes x edits. */
	for (j = 0, k = 0; j < nd->n; j++) {
		const struct yamledit_node *n = &nd->nodes[j];
		while (k < e->n && ns[k] + e->v[k].text_len <= n->start &&
		       !(e->v[k].text_len == 0 && ns[k] == n->start))
			k++;
		for (size_t q = k; q < e->n && ns[q] <= n->start; q++) {
			if (e->v[q].target >= 0 || e->v[q].text_len == 0)
				continue;
			if (n->start < ns[q] + e->v[q].text_len &&
			    (!empty_plain(n) ||
			     (n->parent >= 0 && inserted[n->parent])))
				inserted[j] = 1;
		}
	}
	for (i = 0, j = 0, kb = 0, delta = 0;; i++, j++) {
		const struct yamledit_node *o, *n;
		size_t mapped;
		while (i < od->n && dropped[i])
			i++;
		while (j < nd->n && inserted[j])
			j++;
		if (i >= od->n || j >= nd->n)
			break;
		o = &od->nodes[i];
		n = &nd->nodes[j];
		pair[i] = (int)j;
		if (o->type != n->type || o->is_key != n->is_key ||
		    o->doc != n->doc || (o->parent < 0) != (n->parent < 0) ||
		    (o->parent >= 0 && pair[o->parent] != n->parent)) {
			rc = moved(err, what, o->line);
			goto out;
		}
		/* The edits before this node (a prefix of the sorted edits,
		 * growing as the nodes go on) shift it by their size
		 * change. */
		while (kb < e->n && (e->v[kb].start == e->v[kb].end
		                             ? e->v[kb].start <= o->start
		                             : e->v[kb].end <= o->start)) {
			delta += (ptrdiff_t)e->v[kb].text_len -
			         (ptrdiff_t)(e->v[kb].end - e->v[kb].start);
			kb++;
		}
		mapped = (size_t)((ptrdiff_t)o->start + delta);
		if (!empty_plain(o) && !empty_plain(n) && mapped != n->start) {
			rc = moved(err, what, o->line);
			goto out;
		}
		if (o->type != YAMLEDIT_SCALAR)
			continue;
		if (target_of[i] >= 0) {
			const char *want = e->v[target_of[i]].expect;
			if (strlen(want) != n->value_len ||
			    memcmp(want, n->value, n->value_len) != 0) {
				rc = err_set(
				        err, ERR_INVALID,
				        "%s:%u: edited value does not read "
				        "back as written",
				        what, o->line + 1);
				goto out;
			}
			continue;
		}
		if (o->style != n->style || o->value_len != n->value_len ||
		    memcmp(o->value, n->value, o->value_len) != 0) {
			rc = moved(err, what, o->line);
			goto out;
		}
	}
	if (i < od->n || j < nd->n) {
		rc = err_set(err, ERR_INVALID,
		             "%s: edit changed the structure of the document",
		             what);
		goto out;
	}
out:
	free(dropped);
	free(inserted);
	free(pair);
	free(target_of);
	return rc;
}

int
yamledit_edits_apply(struct yamledit_edits *e, const struct yamledit_doc *doc,
                     struct buf *out, const char *what, struct err *err)
{
	struct yamledit_doc nd = YAMLEDIT_DOC_INIT;
	size_t pos = 0, *ns = NULL;
	int rc = 0;

	buf_reset(out);
	if (e->n > 1)
		qsort(e->v, e->n, sizeof(e->v[0]), splice_cmp);
	ns = calloc(e->n + 1, sizeof(*ns));
	if (ns == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	for (size_t k = 0; k < e->n; k++) {
		const struct yamledit_splice *s = &e->v[k];
		if (s->start < pos || s->end < s->start || s->end > doc->len) {
			rc = err_set(err, ERR_INTERNAL,
			             "%s: overlapping edits at byte %zu", what,
			             s->start);
			goto out;
		}
		buf_add(out, doc->src + pos, s->start - pos);
		ns[k] = out->len;
		buf_add(out, s->text, s->text_len);
		pos = s->end;
	}
	buf_add(out, doc->src + pos, doc->len - pos);
	if (!buf_ok(out)) {
		rc = err_set(err, ERR_NOMEM, "%s: out of memory", what);
		goto out;
	}
	if (e->n == 0)
		goto out;
	rc = yamledit_parse(&nd, out->ptr, out->len, what, err);
	if (rc < 0) {
		err_prefix(err, "edited result does not parse");
		goto out;
	}
	rc = verify(e, ns, doc, &nd, what, err);
out:
	yamledit_release(&nd);
	free(ns);
	return rc;
}

/* ---- unified diff (libgit2's xdiff) ---- */

/*
 * The hunks and lines come from libgit2 (git_patch_from_buffers, 3 lines
 * of context, hunks closer than 6 lines joined, as in git).  They are
 * printed here rather than with git_patch_to_buf for byte-exactness:
 * git's text adds "diff --git" and "index" lines, quotes unusual paths,
 * writes a count of 1 as "-5" instead of "-5,1" and puts the nearest line
 * starting with a letter after the hunk's "@@" (a YAML key, for a values
 * file); the plan output and its tests keep the plain "--- a/LABEL",
 * "+++ b/LABEL", "@@ -A,B +C,D @@" form.
 */
int
yamledit_diff(struct buf *out, const char *label, const char *old,
              size_t oldlen, const char *new_, size_t newlen)
{
	git_patch *patch = NULL;
	git_diff_options o;
	size_t nh;
	int rc = 0;

	git_diff_options_init(&o, GIT_DIFF_OPTIONS_VERSION);
	o.context_lines = 3;
	o.flags = GIT_DIFF_FORCE_TEXT;
	if (git_patch_from_buffers(&patch, old, oldlen, label, new_, newlen,
	                           label, &o) < 0) {
		rc = -ERR_NOMEM;
		goto out;
	}
	nh = git_patch_num_hunks(patch);
	if (nh == 0)
		goto out;
	buf_addf(out, "--- a/%s\n+++ b/%s\n", label, label);
	for (size_t h = 0; h < nh; h++) {
		const git_diff_hunk *hunk;
		size_t nl;
		if (git_patch_get_hunk(&hunk, &nl, patch, h) < 0) {
			rc = -ERR_NOMEM;
			goto out;
		}
		buf_addf(out, "@@ -%d,%d +%d,%d @@\n", hunk->old_start,
		         hunk->old_lines, hunk->new_start, hunk->new_lines);
		for (size_t l = 0; l < nl; l++) {
			const git_diff_line *line;
			if (git_patch_get_line_in_hunk(&line, patch, h, l) <
			    0) {
				rc = -ERR_NOMEM;
				goto out;
			}
			/* the "\ No newline at end of file" lines carry
			 * their own text, with the line break before it */
			if (line->origin == GIT_DIFF_LINE_CONTEXT ||
			    line->origin == GIT_DIFF_LINE_ADDITION ||
			    line->origin == GIT_DIFF_LINE_DELETION)
				buf_putc(out, line->origin);
			buf_add(out, line->content, line->content_len);
		}
	}
	if (!buf_ok(out))
		rc = -ERR_NOMEM;
out:
	git_patch_free(patch);
	return rc;
}

int
yamledit_file_read(struct buf *out, const struct fsroot *root, const char *path,
                   unsigned flags, struct err *err)
{
	return fsroot_read(root, path, flags, YAMLEDIT_MAX_FILE, out, err);
}

int
yamledit_file_finish(const struct fsroot *root, const char *path,
                     const char *label, const char *old, size_t oldlen,
                     const struct buf *newbytes,
                     const struct yamledit_opts *opts, struct err *err)
{
	int rc;

	if (newbytes->len == oldlen && memcmp(newbytes->ptr, old, oldlen) == 0)
		return 0;
	/* fsroot_write() refuses it too; a plan must not show it either */
	if ((rc = fsroot_git_check(path, err)) < 0)
		return rc;
	if (opts && opts->dry_run) {
		if (opts->diff &&
		    yamledit_diff(opts->diff, label, old, oldlen, newbytes->ptr,
		                  newbytes->len) < 0)
			return err_set(err, ERR_NOMEM, "out of memory");
		return 1;
	}
	/* the path is canonical: a link on the way is a race, refuse it */
	rc = fsroot_write(root, path, FSROOT_NOFOLLOW, newbytes->ptr,
	                  newbytes->len, 0644, err);
	return rc < 0 ? rc : 1;
}

int
yamledit_changes_format(struct buf *out, const struct wb_changes *changes,
                        bool json)
{
	cJSON *arr;
	char *txt;

	if (!json) {
		for (size_t i = 0; i < changes->n; i++) {
			const struct wb_change *c = &changes->v[i];
			buf_addf(out, "%s:%u: %s %s -> %s\n", c->file, c->line,
			         c->setter,
			         *c->old_value ? c->old_value : "\"\"",
			         *c->new_value ? c->new_value : "\"\"");
		}
		return buf_ok(out) ? 0 : -ERR_NOMEM;
	}
	arr = cJSON_CreateArray();
	if (arr == NULL)
		return -ERR_NOMEM;
	for (size_t i = 0; i < changes->n; i++) {
		const struct wb_change *c = &changes->v[i];
		cJSON *o = cJSON_CreateObject();
		if (o == NULL || !cJSON_AddItemToArray(arr, o) ||
		    !cJSON_AddStringToObject(o, "file", c->file) ||
		    !cJSON_AddNumberToObject(o, "line", c->line) ||
		    !cJSON_AddStringToObject(o, "apiVersion", c->api_version) ||
		    !cJSON_AddStringToObject(o, "kind", c->kind) ||
		    !cJSON_AddStringToObject(o, "namespace", c->namespace_) ||
		    !cJSON_AddStringToObject(o, "name", c->name) ||
		    !cJSON_AddStringToObject(o, "old", c->old_value) ||
		    !cJSON_AddStringToObject(o, "new", c->new_value) ||
		    !cJSON_AddStringToObject(o, "setter", c->setter)) {
			cJSON_Delete(arr);
			return -ERR_NOMEM;
		}
	}
	txt = json_print(arr);
	cJSON_Delete(arr);
	if (txt == NULL)
		return -ERR_NOMEM;
	buf_puts(out, txt);
	buf_putc(out, '\n');
	cJSON_free(txt);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}
