/*
 * exec.c - walks a parsed template over a data value the way Go's
 * text/template executes: pipelines with the previous value as the final
 * argument, variables with Go's scoping, field and map-key chains, the
 * difference between a missing value ("<no value>") and a nil one, range
 * over lists and maps (sorted keys) with break and continue, if/with/else,
 * template calls with a fresh variable scope, and Go's error messages with
 * line:column and the node being executed.
 *
 * Intermediate values live in an arena freed when execution ends; errors
 * unwind with longjmp to template_execute, which frees it.
 */
#include "writeback/template/template_int.h"

#include <setjmp.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

enum { WALK_OK = 0, WALK_BREAK = 1, WALK_CONTINUE = 2 };

struct tvar {
	const char *name;
	tval v;
};

struct texec {
	const struct template *t;
	const char *tmpl_name;
	struct buf *out;
	struct tarena arena;
	struct tvar *vars;
	size_t n_vars, cap_vars;
	const struct tnode *node;
	int depth;
	int nesting;
	unsigned long iterations;
	struct err *err;
	int code;
	jmp_buf jb;
};

/* The "no final argument" marker, distinct from every value and NULL. */
static const struct template_value missing_val;
#define MISSING (&missing_val)

struct tarena *
texec_arena(struct texec *x)
{
	return &x->arena;
}

bool
texec_too_big(struct texec *x, size_t n)
{
	(void)x;
	return n > TEMPLATE_MAX_OUTPUT;
}

static void xerr(struct texec *x, const char *fmt, ...)
        __attribute__((format(printf, 2, 3), noreturn));

static void
xerr(struct texec *x, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (x->node == NULL) {
		err_set(x->err, ERR_INVALID, "template: %s: %s", x->tmpl_name,
		        msg);
	} else {
		struct buf ctx = TBUF_INIT;
		size_t pos = x->node->pos, col, line = 1, last_nl = SIZE_MAX;
		for (size_t i = 0; i < pos && i < x->t->len; i++) {
			if (x->t->src[i] == '\n') {
				line++;
				last_nl = i;
			}
		}
		col = last_nl == SIZE_MAX ? pos : pos - (last_nl + 1);
		tnode_string(&ctx, x->node);
		err_set(x->err, ERR_INVALID,
		        "template: %s:%zu:%zu: executing \"%s\" at <%s>: %s",
		        TEMPLATE_NAME, line, col, x->tmpl_name,
		        buf_ok(&ctx) ? ctx.ptr : "", msg);
		buf_release(&ctx);
	}
	x->code = -ERR_INVALID;
	longjmp(x->jb, 1);
}

static void __attribute__((noreturn)) xnomem(struct texec *x, const char *what)
{
	err_set(x->err, ERR_NOMEM, "template: %s: %s", TEMPLATE_NAME, what);
	x->code = -ERR_NOMEM;
	longjmp(x->jb, 1);
}

static void
at(struct texec *x, const struct tnode *n)
{
	x->node = n;
}

static struct template_value *
mk(struct texec *x, enum tv_kind kind)
{
	struct template_value *v = tv_new(&x->arena, kind);

	if (v == NULL)
		xnomem(x, "out of memory for intermediate values");
	return v;
}

static tval
mk_bool(struct texec *x, bool b)
{
	struct template_value *v = mk(x, TV_BOOL);

	v->u.b = b;
	return v;
}

static tval
mk_int(struct texec *x, int64_t i)
{
	struct template_value *v = mk(x, TV_INT);

	v->u.i = i;
	return v;
}

static const char *
node_str(struct texec *x, const struct tnode *n)
{
	struct buf b = TBUF_INIT;
	char *s;

	tnode_string(&b, n);
	if (!buf_ok(&b)) {
		buf_release(&b);
		xnomem(x, "out of memory");
	}
	s = tarena_strndup(&x->arena, b.ptr, b.len);
	buf_release(&b);
	if (s == NULL)
		xnomem(x, "out of memory");
	return s;
}

/* ---- variables ---- */

static size_t
mark(struct texec *x)
{
	return x->n_vars;
}

static void
pop(struct texec *x, size_t m)
{
	x->n_vars = m;
}

static void
push(struct texec *x, const char *name, tval v)
{
	if (x->n_vars == x->cap_vars) {
		size_t ncap = x->cap_vars ? x->cap_vars * 2 : 16;
		struct tvar *nv = tarena_alloc(&x->arena, ncap * sizeof(*nv));
		if (nv == NULL)
			xnomem(x, "out of memory for variables");
		if (x->n_vars)
			memcpy(nv, x->vars, x->n_vars * sizeof(*nv));
		x->vars = nv;
		x->cap_vars = ncap;
	}
	x->vars[x->n_vars].name = name;
	x->vars[x->n_vars].v = v;
	x->n_vars++;
}

static void
set_var(struct texec *x, const char *name, tval v)
{
	for (size_t i = x->n_vars; i-- > 0;) {
		if (strcmp(x->vars[i].name, name) == 0) {
			x->vars[i].v = v;
			return;
		}
	}
	xerr(x, "undefined variable: %s", name);
}

static tval
var_value(struct texec *x, const char *name)
{
	for (size_t i = x->n_vars; i-- > 0;)
		if (strcmp(x->vars[i].name, name) == 0)
			return x->vars[i].v;
	xerr(x, "undefined variable: %s", name);
}

/* ---- evaluation ---- */

static tval eval_pipeline(struct texec *x, tval dot, const struct tnode *p);
static tval eval_arg(struct texec *x, tval dot, enum targ type,
                     const struct tnode *n);
static tval eval_call(struct texec *x, tval dot, const struct tfunc *fn,
                      const struct tnode *node, struct tnode *const *args,
                      size_t nargs, tval final);

static void
not_a_function(struct texec *x, struct tnode *const *args, size_t nargs,
               tval final)
{
	if (nargs > 1 || final != MISSING)
		xerr(x, "can't give argument to non-function %s",
		     node_str(x, args[0]));
}

static bool
map_has_string_keys(tval m)
{
	return m->u.m.type_name == NULL ||
	       strncmp(m->u.m.type_name, "map[string]", 11) == 0;
}

static tval
eval_field(struct texec *x, const char *name, struct tnode *const *args,
           size_t nargs, tval final, tval recv)
{
	(void)args;
	bool has_args = nargs > 1 || final != MISSING;

	if (recv == NULL)
		return NULL;
	if (recv->kind == TV_NIL)
		xerr(x, "nil pointer evaluating interface {}.%s", name);
	if (recv->kind == TV_STRUCT) {
		for (size_t i = 0; i < recv->u.st.n; i++) {
			const struct tv_field *f = &recv->u.st.f[i];
			if (strcmp(f->name, name) != 0)
				continue;
			if (f->removed_hint != NULL)
				xerr(x, "%s was removed: %s", name,
				     f->removed_hint);
			if (has_args)
				xerr(x,
				     "%s has arguments but cannot be invoked as function",
				     name);
			return f->v;
		}
	} else if (recv->kind == TV_MAP && map_has_string_keys(recv)) {
		long i;
		if (has_args)
			xerr(x, "%s is not a method but has arguments", name);
		i = tv_map_find(recv, name, strlen(name));
		return i < 0 ? NULL : recv->u.m.v[i];
	}
	/* values inside JSON maps and lists sit in interface{} */
	xerr(x, "can't evaluate field %s in type %s", name,
	     recv->in_iface ? "interface {}" : tv_type_name(recv));
}

static tval
eval_field_chain(struct texec *x, tval recv, const char *const *idents,
                 size_t n, struct tnode *const *args, size_t nargs, tval final)
{
	for (size_t i = 0; i + 1 < n; i++)
		recv = eval_field(x, idents[i], NULL, 0, MISSING, recv);
	return eval_field(x, idents[n - 1], args, nargs, final, recv);
}

static tval
eval_field_node(struct texec *x, tval dot, const struct tnode *field,
                struct tnode *const *args, size_t nargs, tval final)
{
	at(x, field);
	return eval_field_chain(x, dot, field->idents, field->n_idents, args,
	                        nargs, final);
}

static tval
eval_chain_node(struct texec *x, tval dot, const struct tnode *chain,
                struct tnode *const *args, size_t nargs, tval final)
{
	tval recv;

	at(x, chain);
	if (chain->pipe->type == TN_NIL)
		xerr(x, "indirection through explicit nil in %s",
		     node_str(x, chain));
	recv = eval_arg(x, dot, TA_VALUE, chain->pipe);
	return eval_field_chain(x, recv, chain->idents, chain->n_idents, args,
	                        nargs, final);
}

static tval
eval_variable_node(struct texec *x, tval dot, const struct tnode *var,
                   struct tnode *const *args, size_t nargs, tval final)
{
	tval v;

	(void)dot;
	at(x, var);
	v = var_value(x, var->idents[0]);
	if (var->n_idents == 1) {
		not_a_function(x, args, nargs, final);
		return v;
	}
	return eval_field_chain(x, v, var->idents + 1, var->n_idents - 1, args,
	                        nargs, final);
}

static tval
ideal_constant(struct texec *x, const struct tnode *n)
{
	const char *s = n->quoted;
	bool hex, rune_int;

	at(x, n);
	if (n->is_complex) {
		struct template_value *v = mk(x, TV_COMPLEX);
		v->u.c.re = n->re;
		v->u.c.im = n->im;
		return v;
	}
	if (*s == '+' || *s == '-')
		s++;
	hex = s[0] == '0' && (s[1] == 'x' || s[1] == 'X') &&
	      strpbrk(s, "pP") == NULL;
	rune_int = n->quoted[0] == '\'';
	if (n->is_float && !hex && !rune_int &&
	    strpbrk(n->quoted, ".eEpP") != NULL) {
		struct template_value *v = mk(x, TV_FLOAT);
		v->u.f = n->f;
		return v;
	}
	if (n->is_int)
		return mk_int(x, n->i);
	xerr(x, "%s overflows int", n->quoted);
}

static tval
eval_function(struct texec *x, tval dot, const struct tnode *ident,
              const struct tnode *cmd, struct tnode *const *args, size_t nargs,
              tval final)
{
	at(x, ident);
	return eval_call(x, dot, ident->fn, cmd, args, nargs, final);
}

static const char *
targ_name(enum targ t)
{
	switch (t) {
	case TA_STRING:
		return "string";
	case TA_INT:
		return "int";
	case TA_VALUE:
		return "reflect.Value";
	default:
		return "interface {}";
	}
}

static tval
validate_type(struct texec *x, tval v, enum targ type)
{
	if (v == NULL) {
		if (type == TA_ANY)
			return mk(x, TV_NIL);
		if (type == TA_VALUE)
			return NULL;
		xerr(x, "invalid value; expected %s", targ_name(type));
	}
	if (type == TA_ANY || type == TA_VALUE)
		return v;
	if ((type == TA_STRING && v->kind == TV_STRING) ||
	    (type == TA_INT && v->kind == TV_INT))
		return v;
	xerr(x, "wrong type for value; expected %s; got %s", targ_name(type),
	     v->kind == TV_NIL ? "interface {}" : tv_type_name(v));
}

static tval
eval_arg(struct texec *x, tval dot, enum targ type, const struct tnode *n)
{
	struct tnode *const self[1] = { (struct tnode *)n };

	at(x, n);
	switch (n->type) {
	case TN_DOT:
		return validate_type(x, dot, type);
	case TN_NIL:
		if (type == TA_ANY)
			return mk(x, TV_NIL);
		if (type == TA_VALUE)
			return NULL;
		xerr(x, "cannot assign nil to %s", targ_name(type));
	case TN_FIELD:
		return validate_type(
		        x, eval_field_node(x, dot, n, self, 1, MISSING), type);
	case TN_VARIABLE:
		return validate_type(
		        x, eval_variable_node(x, dot, n, NULL, 0, MISSING),
		        type);
	case TN_PIPE:
		return validate_type(x, eval_pipeline(x, dot, n), type);
	case TN_IDENT:
		return validate_type(
		        x, eval_function(x, dot, n, n, NULL, 0, MISSING), type);
	case TN_CHAIN:
		return validate_type(
		        x, eval_chain_node(x, dot, n, NULL, 0, MISSING), type);
	default:
		break;
	}
	switch (type) {
	case TA_STRING:
		if (n->type == TN_STRING) {
			tval v = tv_string(&x->arena, n->text, n->len);
			if (v == NULL)
				xnomem(x, "out of memory");
			return v;
		}
		xerr(x, "expected string; found %s", node_str(x, n));
	case TA_INT:
		if (n->type == TN_NUMBER && n->is_int)
			return mk_int(x, n->i);
		xerr(x, "expected integer; found %s", node_str(x, n));
	default:
		switch (n->type) {
		case TN_BOOL:
			return mk_bool(x, n->b);
		case TN_NUMBER:
			return ideal_constant(x, n);
		case TN_STRING: {
			tval v = tv_string(&x->arena, n->text, n->len);
			if (v == NULL)
				xnomem(x, "out of memory");
			return v;
		}
		default:
			xerr(x,
			     "can't handle assignment of %s to empty interface argument",
			     node_str(x, n));
		}
	}
}

/*
 * Go's "call" builtin (evalCall's special case and funcs.go call).  Data
 * holds no function values: JSON has none, and the Flux and Argo CD models
 * have no fields of function type.  So call evaluates its arguments as Go
 * does and then fails as Go fails on a value that is not a function:
 * "call of nil" for nil or a missing value, else "non-function NAME of
 * type T", where NAME is the first argument as written, or for a piped
 * value its reflect.Value String() (the text of a string, "<T Value>"
 * otherwise).  Go 1.19 said "non-function of type T"; the name came with
 * the later sources (emptyCall), which Flux and Argo CD are built with.
 */
static tval
call_builtin(struct texec *x, tval dot, const struct tnode *node,
             struct tnode *const *args, size_t n, tval final)
{
	tval fn = NULL;
	char name[256];

	for (size_t i = 0; i < n; i++) {
		tval v = eval_arg(x, dot, TA_VALUE, args[i]);
		if (i == 0)
			fn = v;
	}
	if (n > 0) {
		struct buf b = TBUF_INIT;
		tnode_string(&b, args[0]);
		snprintf(name, sizeof(name), "%s", buf_ok(&b) ? b.ptr : "");
		buf_release(&b);
	} else {
		fn = final;
		if (final == NULL)
			snprintf(name, sizeof(name), "<invalid Value>");
		else if (final->kind == TV_STRING)
			snprintf(name, sizeof(name), "%.*s",
			         (int)(final->u.s.n > 255 ? 255 : final->u.s.n),
			         final->u.s.p);
		else
			snprintf(name, sizeof(name), "<%s Value>",
			         tv_type_name(final));
	}
	at(x, node);
	if (fn == NULL || fn->kind == TV_NIL)
		xerr(x, "error calling call: call of nil");
	xerr(x, "error calling call: non-function %s of type %s", name,
	     tv_type_name(fn));
}

static tval
eval_call(struct texec *x, tval dot, const struct tfunc *fn,
          const struct tnode *node, struct tnode *const *args, size_t nargs,
          tval final)
{
	size_t n = 0, num_in, i;
	tval *argv, result = NULL;
	struct buf msg = TBUF_INIT;
	const char *name = fn->name;

	if (args != NULL) {
		args++;
		n = nargs - 1;
	}
	num_in = n + (final != MISSING ? 1 : 0);
	if (fn->variadic) {
		if (num_in < (size_t)fn->n_params)
			xerr(x,
			     "wrong number of args for %s: want at least %d got %zu",
			     name, fn->n_params, n);
	} else if (num_in != (size_t)fn->n_params) {
		xerr(x, "wrong number of args for %s: want %d got %zu", name,
		     fn->n_params, num_in);
	}
	if (strcmp(name, "call") == 0)
		return call_builtin(x, dot, node, args, n, final);
	if (strcmp(name, "and") == 0 || strcmp(name, "or") == 0) {
		bool is_or = name[0] == 'o';
		tval v = NULL;
		for (i = 0; i < n; i++) {
			v = eval_arg(x, dot, TA_VALUE, args[i]);
			if (v != NULL && v->kind == TV_NIL)
				v = NULL;
			if (tv_truth(v) == is_or)
				return v;
		}
		if (final != MISSING)
			v = final;
		return v;
	}
	argv = tarena_alloc(&x->arena, (num_in + 1) * sizeof(*argv));
	if (argv == NULL)
		xnomem(x, "out of memory");
	for (i = 0; i < n; i++) {
		enum targ type =
		        i < (size_t)fn->n_params ? fn->params[i] : fn->vtype;
		argv[i] = eval_arg(x, dot, type, args[i]);
	}
	if (final != MISSING) {
		enum targ type;
		if (fn->variadic)
			type = num_in - 1 < (size_t)fn->n_params
			               ? fn->params[num_in - 1]
			               : fn->vtype;
		else
			type = fn->params[fn->n_params - 1];
		argv[i] = validate_type(x, final, type);
	}
	if (fn->fn(x, argv, num_in, &result, &msg) < 0) {
		char tmp[512];
		if (!buf_ok(&msg)) {
			buf_release(&msg);
			xnomem(x, "out of memory");
		}
		snprintf(tmp, sizeof(tmp), "%s", msg.ptr);
		buf_release(&msg);
		if (strcmp(tmp, "!nomem") == 0)
			xnomem(x, "value larger than the output limit");
		at(x, node);
		xerr(x, "error calling %s: %s", name, tmp);
	}
	buf_release(&msg);
	return result;
}

static tval
eval_command(struct texec *x, tval dot, const struct tnode *cmd, tval final)
{
	const struct tnode *first = cmd->kids[0];

	switch (first->type) {
	case TN_FIELD:
		return eval_field_node(x, dot, first, cmd->kids, cmd->n_kids,
		                       final);
	case TN_CHAIN:
		return eval_chain_node(x, dot, first, cmd->kids, cmd->n_kids,
		                       final);
	case TN_IDENT:
		return eval_function(x, dot, first, cmd, cmd->kids, cmd->n_kids,
		                     final);
	case TN_PIPE:
		not_a_function(x, cmd->kids, cmd->n_kids, final);
		return eval_pipeline(x, dot, first);
	case TN_VARIABLE:
		return eval_variable_node(x, dot, first, cmd->kids, cmd->n_kids,
		                          final);
	default:
		break;
	}
	at(x, first);
	not_a_function(x, cmd->kids, cmd->n_kids, final);
	switch (first->type) {
	case TN_BOOL:
		return mk_bool(x, first->b);
	case TN_DOT:
		return dot;
	case TN_NIL:
		xerr(x, "nil is not a command");
	case TN_NUMBER:
		return ideal_constant(x, first);
	case TN_STRING: {
		tval v = tv_string(&x->arena, first->text, first->len);
		if (v == NULL)
			xnomem(x, "out of memory");
		return v;
	}
	default:
		xerr(x, "can't evaluate command %s", node_str(x, first));
	}
}

static tval
eval_pipeline(struct texec *x, tval dot, const struct tnode *pipe)
{
	tval v = MISSING;

	if (pipe == NULL)
		return NULL;
	at(x, pipe);
	if (++x->nesting > TEMPLATE_MAX_EXEC_NESTING)
		xnomem(x, "nesting deeper than the limit");
	for (size_t i = 0; i < pipe->n_kids; i++) {
		v = eval_command(x, dot, pipe->kids[i], v);
		/* an interface{} holding nil becomes the invalid value, and
		 * any other one the concrete value inside it */
		if (v != NULL && v->kind == TV_NIL) {
			v = NULL;
		} else if (v != NULL && v != MISSING && v->in_iface) {
			struct template_value *c = mk(x, v->kind);
			*c = *v;
			c->in_iface = false;
			v = c;
		}
	}
	for (size_t i = 0; i < pipe->n_decl; i++) {
		if (pipe->is_assign)
			set_var(x, pipe->decl[i]->idents[0], v);
		else
			push(x, pipe->decl[i]->idents[0], v);
	}
	x->nesting--;
	return v;
}

/* ---- walking ---- */

static void
write_out(struct texec *x, const char *p, size_t n)
{
	if (n > TEMPLATE_MAX_OUTPUT || x->out->len > TEMPLATE_MAX_OUTPUT - n)
		xnomem(x, "output longer than the limit");
	if (buf_add(x->out, p, n) < 0)
		xnomem(x, "out of memory for the output");
}

static void
print_value(struct texec *x, const struct tnode *n, tval v)
{
	struct buf b = TBUF_INIT;

	at(x, n);
	if (v == NULL)
		buf_puts(&b, "<no value>");
	else
		tfmt_value(&b, v);
	if (!buf_ok(&b)) {
		buf_release(&b);
		xnomem(x, "out of memory");
	}
	write_out(x, b.ptr, b.len);
	buf_release(&b);
}

static int walk(struct texec *x, tval dot, const struct tnode *n);
static int walk_node(struct texec *x, tval dot, const struct tnode *n);

static int
walk_if_with(struct texec *x, tval dot, const struct tnode *n)
{
	size_t m = mark(x);
	tval v = eval_pipeline(x, dot, n->pipe);
	int st = WALK_OK;

	if (tv_truth(v))
		st = walk(x, n->type == TN_WITH ? v : dot, n->list);
	else if (n->else_list != NULL)
		st = walk(x, dot, n->else_list);
	pop(x, m);
	return st;
}

static void
count_iteration(struct texec *x)
{
	if (++x->iterations > TEMPLATE_MAX_ITERATIONS)
		xnomem(x, "more range iterations than the limit");
}

/*
 * Sets the range variables for one iteration as Go's oneIteration does:
 * declared ones ($i, $e := ...) are the top of the stack; assigned ones
 * ($i, $e = ...) are set by name, the index first when there are two
 * (the IsAssign branch of the Go 1.22+ sources; 1.19 overwrote whatever
 * variables were on top of the stack).
 */
static void
range_vars(struct texec *x, const struct tnode *r, tval index, tval elem)
{
	const struct tnode *pipe = r->pipe;

	if (pipe->n_decl > 0) {
		if (!pipe->is_assign)
			x->vars[x->n_vars - 1].v = elem;
		else
			set_var(x, pipe->decl[0]->idents[0],
			        pipe->n_decl > 1 ? index : elem);
	}
	if (pipe->n_decl > 1) {
		if (!pipe->is_assign)
			x->vars[x->n_vars - 2].v = index;
		else
			set_var(x, pipe->decl[1]->idents[0], elem);
	}
}

static int
walk_range(struct texec *x, tval dot, const struct tnode *r)
{
	size_t m0 = mark(x), m1, count = 0;
	tval v;
	int st = WALK_OK;

	at(x, r);
	v = eval_pipeline(x, dot, r->pipe);
	m1 = mark(x);
	if (v == NULL) {
		/* an invalid value ranges like an empty map */
	} else if (v->kind == TV_LIST || v->kind == TV_MAP) {
		size_t n = v->kind == TV_LIST ? v->u.l.n : v->u.m.n;
		for (size_t i = 0; i < n; i++) {
			tval elem =
			        v->kind == TV_LIST ? v->u.l.v[i] : v->u.m.v[i];
			count_iteration(x);
			count++;
			range_vars(x, r,
			           v->kind == TV_LIST ? mk_int(x, (int64_t)i)
			                              : v->u.m.k[i],
			           elem);
			st = walk(x, elem, r->list);
			pop(x, m1);
			if (st == WALK_BREAK)
				break;
		}
		st = WALK_OK;
	} else if (v->kind == TV_INT) {
		/* Go 1.24 ranges over an integer n: 0 .. n-1, one variable
		 * only (issue 66107; the 1.19 oracle refuses it) */
		if (r->pipe->n_decl > 1)
			xerr(x,
			     "can't use %lld to iterate over more than one "
			     "variable",
			     (long long)v->u.i);
		for (int64_t i = 0; i < v->u.i; i++) {
			tval elem = mk_int(x, i);
			count_iteration(x);
			count++;
			range_vars(x, r, NULL, elem);
			st = walk(x, elem, r->list);
			pop(x, m1);
			if (st == WALK_BREAK)
				break;
		}
		st = WALK_OK;
	} else {
		struct buf b = TBUF_INIT;
		char tmp[256];
		tfmt_value(&b, v);
		snprintf(tmp, sizeof(tmp), "%s", buf_ok(&b) ? b.ptr : "");
		buf_release(&b);
		xerr(x, "range can't iterate over %s", tmp);
	}
	if (count == 0 && r->else_list != NULL) {
		st = walk(x, dot, r->else_list);
		/* Go's range recovers a break raised in its own else list */
		if (st == WALK_BREAK)
			st = WALK_OK;
	}
	pop(x, m0);
	return st;
}

static int
walk_template(struct texec *x, tval dot, const struct tnode *t)
{
	const struct tnode *root;
	struct tvar *saved_vars = x->vars;
	size_t saved_n = x->n_vars, saved_cap = x->cap_vars;
	const char *saved_name = x->tmpl_name;

	at(x, t);
	root = template_lookup(x->t, t->name);
	if (root == NULL)
		xerr(x, "template \"%s\" not defined", t->name);
	if (x->depth >= TEMPLATE_MAX_DEPTH)
		xerr(x, "exceeded maximum template depth (%d)",
		     TEMPLATE_MAX_DEPTH);
	dot = eval_pipeline(x, dot, t->pipe);
	x->depth++;
	x->vars = NULL;
	x->n_vars = x->cap_vars = 0;
	x->tmpl_name = t->name;
	push(x, "$", dot);
	walk(x, dot, root);
	x->tmpl_name = saved_name;
	x->vars = saved_vars;
	x->n_vars = saved_n;
	x->cap_vars = saved_cap;
	x->depth--;
	return WALK_OK;
}

static int
walk(struct texec *x, tval dot, const struct tnode *n)
{
	int st;

	if (++x->nesting > TEMPLATE_MAX_EXEC_NESTING)
		xnomem(x, "nesting deeper than the limit");
	st = walk_node(x, dot, n);
	x->nesting--;
	return st;
}

static int
walk_node(struct texec *x, tval dot, const struct tnode *n)
{
	int st;

	at(x, n);
	switch (n->type) {
	case TN_ACTION: {
		tval v = eval_pipeline(x, dot, n->pipe);
		if (n->pipe->n_decl == 0)
			print_value(x, n, v);
		return WALK_OK;
	}
	case TN_BREAK:
		return WALK_BREAK;
	case TN_CONTINUE:
		return WALK_CONTINUE;
	case TN_IF:
	case TN_WITH:
		return walk_if_with(x, dot, n);
	case TN_LIST:
		for (size_t i = 0; i < n->n_kids; i++)
			if ((st = walk(x, dot, n->kids[i])) != WALK_OK)
				return st;
		return WALK_OK;
	case TN_RANGE:
		return walk_range(x, dot, n);
	case TN_TEMPLATE:
		return walk_template(x, dot, n);
	case TN_TEXT:
		write_out(x, n->text, n->len);
		return WALK_OK;
	case TN_COMMENT:
		return WALK_OK;
	default:
		xerr(x, "unknown node: %s", node_str(x, n));
	}
}

int
template_execute(const struct template *t, const struct template_value *data,
                 struct buf *out, struct err *err)
{
	struct texec *x;
	const struct tnode *root;
	int rc = 0;

	x = calloc(1, sizeof(*x));
	if (x == NULL)
		return err_set(err, ERR_NOMEM, "template: out of memory");
	x->t = t;
	x->tmpl_name = TEMPLATE_NAME;
	x->out = out;
	x->err = err;
	tarena_init(&x->arena, TEMPLATE_MAX_MEMORY);
	if (setjmp(x->jb) != 0) {
		rc = x->code;
		goto out;
	}
	if (data != NULL && data->kind == TV_NIL)
		data = NULL;
	root = template_lookup(t, TEMPLATE_NAME);
	if (root == NULL)
		xerr(x, "\"%s\" is an incomplete or empty template",
		     TEMPLATE_NAME);
	push(x, "$", data);
	walk(x, data, root);
out:
	tarena_release(&x->arena);
	free(x);
	return rc;
}
