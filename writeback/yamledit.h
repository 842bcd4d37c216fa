/*
 * yamledit.h - byte-exact YAML editing: the splice layer under the setter,
 * kustomize-images and Helm-values editors.
 *
 * A file is parsed with libyaml into a flat node table that keeps, for each
 * node, the byte range of its text in the original ([start, end), after any
 * anchor or tag), its line and column, its style and its place in the tree.
 * Editors never re-serialise: they collect splices (replace a scalar's
 * bytes, insert lines, delete lines) and yamledit_edits_apply() builds the
 * new bytes, parses them again and checks that every node not edited is
 * still there with the same value, style and parent, in the same order.
 * Anything else (the result does not parse, a node moved, an edited scalar
 * reads back as something else) is refused and nothing is written.
 *
 * Rendering rules (yamledit_render):
 *   - a scalar keeps its style: plain, 'single' or "double" quoted;
 *   - a plain scalar whose new value would read as a non-string in YAML 1.1
 *     or 1.2 (null, bool incl. yes/no/on/off, int incl. 0x/0o/0b/sexagesimal,
 *     float incl. .inf/.nan, timestamps, '=', '<<') or could not be written
 *     plain at all is written double quoted instead, so a tag like 1.10
 *     stays a string;
 *   - block scalars (| and >) are never edited: -ERR_INVALID.  Turning one
 *     into a quoted one-liner would change the line structure under a
 *     comment a user wrote for it; the user can quote the value once.
 *
 * Values are validated before rendering (yamledit_value_check): image
 * names, tags, digests and references follow the distribution/reference
 * grammar, so a value can never contain a newline, '#', ': ', quotes or
 * flow indicators.
 *
 * Ownership: a yamledit_doc borrows the source bytes given to
 * yamledit_parse (they must outlive it) and owns its node table; node
 * values are owned by the doc.  yamledit_edits owns its splice texts.
 *
 * Thread safety: one thread at a time per doc / edits; the functions keep
 * no global state.
 */
#ifndef FERRY_WRITEBACK_YAMLEDIT_H
#define FERRY_WRITEBACK_YAMLEDIT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

/* Largest file an editor will open (bytes). */
#define YAMLEDIT_MAX_FILE ((size_t)16 << 20)
/* Deepest nesting accepted (libyaml recurses on the C stack per level). */
#define YAMLEDIT_MAX_DEPTH 256

enum yamledit_type {
	YAMLEDIT_SCALAR,
	YAMLEDIT_MAPPING,
	YAMLEDIT_SEQUENCE,
	YAMLEDIT_ALIAS,
};

enum yamledit_style {
	YAMLEDIT_PLAIN,
	YAMLEDIT_SINGLE,
	YAMLEDIT_DOUBLE,
	YAMLEDIT_LITERAL,
	YAMLEDIT_FOLDED,
	YAMLEDIT_BLOCK, /* block mapping or sequence */
	YAMLEDIT_FLOW,  /* flow mapping or sequence */
};

struct yamledit_node {
	enum yamledit_type type;
	enum yamledit_style style;
	size_t start;    /* byte offset of the node's own text */
	size_t end;      /* byte offset just past it */
	unsigned line;   /* 0-based line of start */
	unsigned col;    /* 0-based column (characters) of start */
	int parent;      /* index, -1 for a document root */
	int first_child; /* mapping: key, value, key, value...; -1 if none */
	int last_child;
	int next_sibling; /* -1 at the end */
	int prev_sibling; /* -1 at the start: a mapping value's key */
	int doc;          /* 0-based document number */
	bool is_key;      /* a mapping key */
	char *value;      /* scalar value (NUL-terminated), else NULL */
	size_t value_len;
};

struct yamledit_doc {
	const char *src; /* borrowed */
	size_t len;
	struct yamledit_node *nodes;
	size_t n;
	size_t cap;
	int *roots; /* root node of each document */
	size_t ndocs;
	const char *eol; /* "\n" or "\r\n", from the first line break */
};

#define YAMLEDIT_DOC_INIT                                                      \
	{                                                                      \
		NULL, 0, NULL, 0, 0, NULL, 0, "\n"                             \
	}

/*
 * Parses src[0..len) (UTF-8; a UTF-16 BOM or NUL byte is refused).  what
 * names the file in messages ("path:line:col: problem").  On failure *out
 * is left released.  -ERR_INVALID, -ERR_NOMEM.
 */
int yamledit_parse(struct yamledit_doc *out, const char *src, size_t len,
                   const char *what, struct err *err);

void yamledit_release(struct yamledit_doc *doc);

/* Value node of key in mapping node map, or -1.  Borrowed index. */
int yamledit_map_get(const struct yamledit_doc *doc, int map, const char *key);

/* Key node whose value is node value (value must be a mapping value), or -1. */
int yamledit_key_of(const struct yamledit_doc *doc, int value);

/* The i-th item of sequence node seq, or -1. */
int yamledit_seq_get(const struct yamledit_doc *doc, int seq, size_t i);

/*
 * The object a document describes (Flux's ObjectIdentifier): the scalar
 * values of apiVersion, kind, metadata.namespace and metadata.name of
 * document docno's root mapping, "" where absent.  Borrowed from doc.
 */
void yamledit_doc_object(const struct yamledit_doc *doc, int docno,
                         const char **api_version, const char **kind,
                         const char **namespace_, const char **name);

/*
 * Where new lines after node go: just past the line holding the end of its
 * last descendant.  *need_eol is set when that is the end of a file whose
 * last line has no line break (the caller writes doc->eol first).
 */
size_t yamledit_after(const struct yamledit_doc *doc, int node, bool *need_eol);

/* Largest end offset of node and its descendants. */
size_t yamledit_subtree_end(const struct yamledit_doc *doc, int node);

/* Offset of the start of the line holding off, and just past its end
 * (after the line break, or len). */
size_t yamledit_line_start(const struct yamledit_doc *doc, size_t off);
size_t yamledit_line_next(const struct yamledit_doc *doc, size_t off);

/*
 * The comment after a scalar on its line ("# ..." with only blanks
 * between), trimmed of the '#'s and blanks.  Sets p and n; 0 when there is
 * none.  A '#' inside a quoted scalar is part of the scalar, never this.
 */
int yamledit_line_comment(const struct yamledit_doc *doc, int node,
                          const char **p, size_t *n);

/*
 * The head comment of a scalar: a single comment line directly above the
 * line where the scalar's entry starts (its key for a mapping value), when
 * that entry is the first thing on its line.  Same trimming as above.
 */
int yamledit_head_comment(const struct yamledit_doc *doc, int node,
                          const char **p, size_t *n);

/* Value kinds for yamledit_value_check. */
enum yamledit_value_kind {
	YAMLEDIT_VALUE_NAME,   /* [host[:port]/]path */
	YAMLEDIT_VALUE_TAG,    /* [A-Za-z0-9_][A-Za-z0-9_.-]{0,127} */
	YAMLEDIT_VALUE_DIGEST, /* algorithm:hex (32+ hex digits) */
	YAMLEDIT_VALUE_REF,    /* name[:tag][@digest] */
	YAMLEDIT_VALUE_ANY,    /* one of the four above */
};

/* 0 if s[0..len) is a valid value of that kind, else -ERR_INVALID. */
int yamledit_value_check(enum yamledit_value_kind kind, const char *s,
                         size_t len, struct err *err);

/* true when a plain scalar s would not read back as the string s. */
bool yamledit_plain_is_unsafe(const char *s, size_t len);

/* Appends value rendered in style (see the rules above) to out. */
int yamledit_render(struct buf *out, enum yamledit_style style,
                    const char *value, struct err *err);

struct yamledit_splice {
	size_t start, end; /* original bytes replaced */
	char *text;        /* owned */
	size_t text_len;
	int target;      /* scalar replaced in place (checked to read back as
	                    expect), or -1 */
	char *expect;    /* owned; value target must read back as */
	int drop[2];     /* subtrees this splice removes, or -1 */
	unsigned indent; /* insertions at one offset: deeper ones first */
	size_t order;    /* then in the order they were added */
};

struct yamledit_edits {
	struct yamledit_splice *v;
	size_t n, cap;
};

#define YAMLEDIT_EDITS_INIT                                                    \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

void yamledit_edits_release(struct yamledit_edits *e);

/*
 * Replaces scalar node with value in its style.  -ERR_INVALID for a
 * non-scalar, a block scalar, an empty (implicit null) scalar.
 */
int yamledit_edits_replace(struct yamledit_edits *e,
                           const struct yamledit_doc *doc, int node,
                           const char *value, struct err *err);

/* Inserts text (copied) at offset; drop0/drop1 are subtrees it replaces
 * (an implicit null value that becomes a collection), or -1.  indent
 * orders insertions at one offset (deeper first). */
int yamledit_edits_insert(struct yamledit_edits *e, size_t offset,
                          const char *text, size_t len, unsigned indent,
                          int drop0, int drop1);

/* Deletes original bytes [start, end), which hold subtrees drop0/drop1. */
int yamledit_edits_delete(struct yamledit_edits *e, size_t start, size_t end,
                          int drop0, int drop1);

/*
 * Builds the edited bytes into out (reset first), parses them and checks
 * them against doc as described at the top.  Splices are sorted by offset
 * and must not overlap.  -ERR_INVALID (message prefixed with what) when
 * the result is refused, -ERR_NOMEM.
 */
int yamledit_edits_apply(struct yamledit_edits *e,
                         const struct yamledit_doc *doc, struct buf *out,
                         const char *what, struct err *err);

/*
 * Appends a unified diff (libgit2's, on lines; 3 lines of context;
 * "--- a/label" and "+++ b/label", "@@ -A,B +C,D @@") of old against new
 * to out; nothing when they are equal.  0 or -ERR_NOMEM.  Needs
 * git_libgit2_init() (main() calls it).
 */
int yamledit_diff(struct buf *out, const char *label, const char *old,
                  size_t oldlen, const char *new_, size_t newlen);

struct fsroot;
struct pool;

/*
 * Options common to the three editors: dry_run writes nothing and, when
 * diff is set, appends a unified diff of every file that would change.
 * pool (borrowed; NULL runs everything in the caller) is where an editor
 * that works on many files at once (setters) fans out.
 * When notes is set, an editor appends one line per value it left alone
 * or set with a caveat the caller should show ("FILE:LINE: what").
 */
struct yamledit_opts {
	bool dry_run;
	struct buf *diff;
	struct pool *pool;
	struct buf *notes;
};

#define YAMLEDIT_OPTS_INIT                                                     \
	{                                                                      \
		false, NULL, NULL, NULL                                        \
	}

/*
 * Finishes file path (relative to root, canonical: not through a link)
 * whose bytes were old: nothing when new bytes equal old (the file is not
 * touched); with opts->dry_run the diff (headers naming label) is
 * appended to opts->diff; otherwise the file is written with
 * fsroot_write() (atomic, mode kept).  Returns 1 when the file was (or
 * would be) written, 0 when it was left alone, or a negative ERR_*.
 */
int yamledit_file_finish(const struct fsroot *root, const char *path,
                         const char *label, const char *old, size_t oldlen,
                         const struct buf *newbytes,
                         const struct yamledit_opts *opts, struct err *err);

/*
 * Formats a change list for the command line: one "file:line: setter old
 * -> new" line per change, or (json) a JSON array of objects with keys
 * file, line, apiVersion, kind, namespace, name, old, new, setter.
 */
struct wb_changes;
int yamledit_changes_format(struct buf *out, const struct wb_changes *changes,
                            bool json);

/*
 * Reads regular file path beneath root (at most YAMLEDIT_MAX_FILE bytes;
 * fsroot rules and flags) into out.  Errors as fsroot_read().
 */
int yamledit_file_read(struct buf *out, const struct fsroot *root,
                       const char *path, unsigned flags, struct err *err);

#endif
