/*
 * template_int.h - private declarations shared by the engine's files:
 * the arena, the value layout, the syntax tree, fmt-style printing and the
 * function table.  Nothing outside writeback/template/ includes it.
 *
 * Thread safety: as template.h.
 */
#ifndef FERRY_WRITEBACK_TEMPLATE_INT_H
#define FERRY_WRITEBACK_TEMPLATE_INT_H

#include "writeback/template/template.h"

/* ---- arena ---- */

struct tarena_block;
struct tarena {
	struct tarena_block *head;
	size_t used;  /* bytes handed out, for the memory limit */
	size_t limit; /* 0: none */
	bool failed;
};

void tarena_init(struct tarena *a, size_t limit);
void tarena_release(struct tarena *a);
/* Zeroed memory, or NULL (and a->failed) past the limit or out of memory. */
void *tarena_alloc(struct tarena *a, size_t n);
/* A NUL-terminated copy of len bytes. */
char *tarena_strndup(struct tarena *a, const char *s, size_t len);

/* ---- values ---- */

enum tv_kind {
	TV_NIL,
	TV_BOOL,
	TV_INT,
	TV_FLOAT,
	TV_STRING,
	TV_LIST,
	TV_MAP,
	TV_STRUCT,
	TV_COMPLEX, /* complex128: only from constants such as 1i */
};

/* Element type of a list, for Go type names ([]string, []interface {}). */
enum tv_elem { TV_ELEM_ANY, TV_ELEM_STRING };

struct tv_field {
	const char *name;
	struct template_value *v;
	const char *removed_hint; /* non-NULL: the field was removed */
};

struct template_value {
	enum tv_kind kind;
	/* stored as interface{} (a JSON value inside a map or list): Go's
	 * errors name its type "interface {}" */
	bool in_iface;
	union {
		bool b;
		int64_t i;
		double f;
		struct {
			double re, im;
		} c;
		struct {
			const char *p;
			size_t n;
		} s;
		struct {
			struct template_value **v;
			size_t n, cap; /* cap: room in v */
			enum tv_elem elem;
			/* Go's cap(), which slice may reach past n; 0 means
			 * n.  v holds avail (>= n; 0 means n) elements of
			 * the backing array, those past it are zero values */
			size_t gocap, avail;
		} l;
		struct {
			struct template_value **k, **v; /* sorted by key */
			size_t n, cap;
			const char
			        *type_name; /* NULL: map[string]interface {} */
		} m;
		struct {
			const char *type_name;
			const char *str; /* String() text or NULL */
			struct tv_field *f;
			size_t n, cap;
		} st;
	} u;
};

struct template_data {
	struct tarena arena;
};

/*
 * A value during execution is a pointer; NULL is Go's invalid reflect.Value
 * ("<no value>"), a TV_NIL value is a nil interface.
 */
typedef const struct template_value *tval;

struct template_value *tv_new(struct tarena *a, enum tv_kind kind);
struct template_value *tv_string(struct tarena *a, const char *p, size_t n);
int tv_list_push(struct tarena *a, struct template_value *l,
                 struct template_value *v);
/*
 * cap() of a slice of 16-byte elements holding pointers ([]interface {},
 * []string) that append grew one element at a time from empty to n
 * elements, as encoding/json decodes an array and sprig's uniq builds its
 * result: Go's growslice with the size classes and the 8-byte allocation
 * header of Go 1.22 and later.  Go 1.19 had no header, so its capacities
 * differ for slices of 33 to some 2000 elements.
 */
size_t tv_append_cap(size_t n);
/* Compares two map keys (strings or structs of strings/numbers). */
int tv_key_cmp(tval a, tval b);
/* Index of key in m, or -1. */
long tv_map_find(tval m, const char *key, size_t len);
/* Go type name: "string", "float64", "[]interface {}", ... */
const char *tv_type_name(tval v);
/* Go's truth: false, 0, "", empty list/map, nil; structs are true. */
bool tv_truth(tval v);

/* A buffer for intermediate text: it fails instead of growing past the
 * output limit, so that printing a huge value cannot exhaust memory. */
#define TBUF_INIT                                                              \
	{                                                                      \
		buf_empty, 0, 0, TEMPLATE_MAX_OUTPUT + 64, false               \
	}
/* Nesting of walk/eval calls one execution may reach (C stack bound). */
#define TEMPLATE_MAX_EXEC_NESTING 2000
/* Value nodes one deep comparison (eq, uniq) may visit. */
#define TEMPLATE_MAX_COMPARE 1000000

/* ---- fmt ---- */

/* Appends v as fmt's %v would (Sprint of one operand). */
void tfmt_value(struct buf *b, tval v);
/* fmt.Sprint(args...): spaces between operands when neither is a string. */
void tfmt_sprint(struct buf *b, tval *args, size_t n);
/* fmt.Sprintln(args...). */
void tfmt_sprintln(struct buf *b, tval *args, size_t n);
/* fmt.Sprintf(format, args...). */
void tfmt_sprintf(struct buf *b, const char *fmt, size_t fmtlen, tval *args,
                  size_t n);
/* strconv.Quote. */
void tfmt_quote(struct buf *b, const char *s, size_t n);
/* Decodes one UTF-8 rune at s (n > 0), its length in *size; -1 (size 1)
 * when invalid. */
long tfmt_utf8_decode(const unsigned char *s, size_t n, size_t *size);
/* unicode.IsPrint for the common ranges. */
bool tfmt_rune_printable(long r);
/* Go's shortest %v / %g formatting of a float64. */
void tfmt_float_v(struct buf *b, double f, char verb);

/* ---- syntax tree ---- */

enum tnode_type {
	TN_TEXT,
	TN_ACTION,
	TN_IF,
	TN_RANGE,
	TN_WITH,
	TN_TEMPLATE,
	TN_BREAK,
	TN_CONTINUE,
	TN_LIST,
	TN_COMMENT,
	TN_PIPE,
	TN_COMMAND,
	TN_FIELD,
	TN_VARIABLE,
	TN_CHAIN,
	TN_IDENT,
	TN_DOT,
	TN_NIL,
	TN_BOOL,
	TN_NUMBER,
	TN_STRING,
	TN_END,  /* parser only */
	TN_ELSE, /* parser only */
};

struct tfunc;

struct tnode {
	enum tnode_type type;
	size_t pos;
	int line;
	/* text/string/number: the bytes (text: as is; string: unquoted) */
	const char *text;
	size_t len;
	const char *quoted; /* string: as written; number: as written */
	size_t quoted_len;
	/* list: nodes; command: args; pipe: cmds */
	struct tnode **kids;
	size_t n_kids, cap_kids;
	/* field/variable/chain: identifiers (variable: [0] is "$x") */
	const char **idents;
	size_t n_idents;
	/* pipe declarations (variable nodes), is_assign */
	struct tnode **decl;
	size_t n_decl;
	bool is_assign;
	/* if/range/with/template/action/chain */
	struct tnode *pipe; /* chain: the operand */
	struct tnode *list, *else_list;
	const char *name; /* template name */
	/* bool/number */
	bool b;
	bool is_int, is_float, is_complex;
	double re, im; /* is_complex */
	int64_t i;
	double f;
	const struct tfunc *fn; /* identifier */
};

struct tdef {
	const char *name;
	struct tnode *root;
};

struct template
{
	struct tarena arena;
	const char *src;
	size_t len;
	struct tdef *defs;
	size_t n_defs, cap_defs;
	bool sprig;
};

/* Appends Go's String() of a node. */
void tnode_string(struct buf *b, const struct tnode *n);
/* The template named name, or NULL. */
const struct tnode *template_lookup(const struct template *t, const char *name);

/* ---- functions ---- */

enum targ {
	TA_ANY,    /* interface{} */
	TA_STRING, /* string */
	TA_INT,    /* int */
	TA_VALUE,  /* reflect.Value (builtins) */
};

struct texec;
/*
 * A function: receives evaluated args, writes the result to *out, returns
 * 0 or -1 with a message in msg (Go's error text, without "error calling").
 */
typedef int (*tfunc_fn)(struct texec *x, tval *args, size_t n, tval *out,
                        struct buf *msg);

struct tfunc {
	const char *name;
	tfunc_fn fn;
	enum targ params[3]; /* fixed parameter types */
	int n_params;
	bool variadic; /* further args of type vtype */
	enum targ vtype;
	bool sprig;
};

/* The function called name, or NULL; sprig ones only when sprig. */
const struct tfunc *tfunc_find(const char *name, size_t len, bool sprig);

/* For functions: allocation in the execution arena. */
struct tarena *texec_arena(struct texec *x);
/* The execution's output limit check for results. */
bool texec_too_big(struct texec *x, size_t n);

#endif
