/*
 * value.c - the data values templates run on: an arena that owns
 * them, constructors, conversion from JSON (as Go's encoding/json fills an
 * interface{}), map key order and Go's type names and truth.
 *
 * Values are never freed one by one: the arena goes as a whole.
 */
#include "writeback/template/template_int.h"

#include <stdlib.h>

#include "base/json.h"
#include <string.h>

#define TARENA_BLOCK 65536
#define TARENA_ALIGN 16

struct tarena_block {
	struct tarena_block *next;
	size_t used, cap;
	_Alignas(TARENA_ALIGN) unsigned char mem[];
};

void
tarena_init(struct tarena *a, size_t limit)
{
	memset(a, 0, sizeof(*a));
	a->limit = limit;
}

void
tarena_release(struct tarena *a)
{
	struct tarena_block *b = a->head, *next;

	while (b != NULL) {
		next = b->next;
		free(b);
		b = next;
	}
	a->head = NULL;
	a->used = 0;
	a->failed = false;
}

void *
tarena_alloc(struct tarena *a, size_t n)
{
	struct tarena_block *b = a->head;
	size_t need, cap;
	void *p;

	if (a->failed)
		return NULL;
	if (n == 0)
		n = 1;
	if (__builtin_add_overflow(n, TARENA_ALIGN - 1, &need))
		goto fail;
	need &= ~(size_t)(TARENA_ALIGN - 1);
	if (a->limit && (need > a->limit || a->used > a->limit - need))
		goto fail;
	if (b == NULL || b->cap - b->used < need) {
		cap = need > TARENA_BLOCK ? need : TARENA_BLOCK;
		b = malloc(sizeof(*b) + cap);
		if (b == NULL)
			goto fail;
		b->used = 0;
		b->cap = cap;
		/* A big one-off block goes behind the current one, so the
		 * current block's free room is not lost. */
		if (a->head != NULL && need > TARENA_BLOCK) {
			b->next = a->head->next;
			a->head->next = b;
		} else {
			b->next = a->head;
			a->head = b;
		}
	}
	p = b->mem + b->used;
	b->used += need;
	a->used += need;
	memset(p, 0, n);
	return p;
fail:
	a->failed = true;
	return NULL;
}

char *
tarena_strndup(struct tarena *a, const char *s, size_t len)
{
	char *p;

	if (len == SIZE_MAX)
		return NULL;
	p = tarena_alloc(a, len + 1);
	if (p == NULL)
		return NULL;
	if (len)
		memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

struct template_value *
tv_new(struct tarena *a, enum tv_kind kind)
{
	struct template_value *v = tarena_alloc(a, sizeof(*v));

	if (v != NULL)
		v->kind = kind;
	return v;
}

struct template_value *
tv_string(struct tarena *a, const char *p, size_t n)
{
	struct template_value *v = tv_new(a, TV_STRING);
	char *s;

	if (v == NULL)
		return NULL;
	s = tarena_strndup(a, p, n);
	if (s == NULL)
		return NULL;
	v->u.s.p = s;
	v->u.s.n = n;
	return v;
}

/* Grows an array of pointers in the arena to hold one more. */
static int
grow_ptrs(struct tarena *a, struct template_value ***arr, size_t n, size_t *cap)
{
	struct template_value **nv;
	size_t ncap;

	if (n < *cap)
		return 0;
	ncap = *cap ? *cap * 2 : 4;
	if (ncap > SIZE_MAX / sizeof(*nv))
		return -ERR_NOMEM;
	nv = tarena_alloc(a, ncap * sizeof(*nv));
	if (nv == NULL)
		return -ERR_NOMEM;
	if (n)
		memcpy(nv, *arr, n * sizeof(*nv));
	*arr = nv;
	*cap = ncap;
	return 0;
}

int
tv_list_push(struct tarena *a, struct template_value *l,
             struct template_value *v)
{
	if (l == NULL || v == NULL || l->kind != TV_LIST)
		return -ERR_NOMEM;
	if (grow_ptrs(a, &l->u.l.v, l->u.l.n, &l->u.l.cap) < 0)
		return -ERR_NOMEM;
	l->u.l.v[l->u.l.n++] = v;
	return 0;
}

/* runtime/sizeclasses.go: the small object sizes, up to 32 KiB */
static const uint16_t size_classes[] = {
	8,     16,    24,    32,    48,    64,    80,    96,    112,   128,
	144,   160,   176,   192,   208,   224,   240,   256,   288,   320,
	352,   384,   416,   448,   480,   512,   576,   640,   704,   768,
	896,   1024,  1152,  1280,  1408,  1536,  1792,  2048,  2304,  2688,
	3072,  3200,  3456,  4096,  4864,  5376,  6144,  6528,  6784,  6912,
	8192,  9472,  9728,  10240, 10880, 12288, 13568, 14336, 16384, 18432,
	19072, 20480, 21760, 24576, 27264, 28672, 32768,
};

/* runtime.roundupsize(size, noscan=false) of Go 1.22 and later. */
static size_t
roundupsize(size_t size)
{
	size_t req = size;

	if (size <= 32768 - 8) {
		/* objects over 512 bytes with pointers carry an 8-byte
		 * header, which the usable size leaves out */
		if (size > 512)
			req += 8;
		for (size_t i = 0;
		     i < sizeof(size_classes) / sizeof(*size_classes); i++)
			if (size_classes[i] >= req)
				return size_classes[i] - (req - size);
	}
	if (size > SIZE_MAX - 8191)
		return size;
	return (size + 8191) & ~(size_t)8191;
}

size_t
tv_append_cap(size_t n)
{
	size_t cap = 0;

	while (cap < n) {
		size_t want = cap + 1, next = cap;

		/* growslice's nextslicecap: double below 256, then grow by a
		 * quarter plus 192 */
		if (cap < 256)
			next = cap * 2 < want ? want : cap * 2;
		else
			while (next < want)
				next += (next + 3 * 256) >> 2;
		if (next > SIZE_MAX / 16)
			return n;
		cap = roundupsize(next * 16) / 16;
	}
	return cap;
}

static int
bytes_cmp(const char *a, size_t an, const char *b, size_t bn)
{
	int c = memcmp(a, b, an < bn ? an : bn);

	if (c != 0)
		return c;
	return an < bn ? -1 : an > bn ? 1 : 0;
}

int
tv_key_cmp(tval a, tval b)
{
	/* fmtsort's order: strings by bytes, numbers by value, structs
	 * field by field. */
	if (a->kind != b->kind)
		return (int)a->kind - (int)b->kind;
	switch (a->kind) {
	case TV_STRING:
		return bytes_cmp(a->u.s.p, a->u.s.n, b->u.s.p, b->u.s.n);
	case TV_INT:
		return a->u.i < b->u.i ? -1 : a->u.i > b->u.i;
	case TV_FLOAT:
		return a->u.f < b->u.f ? -1 : a->u.f > b->u.f;
	case TV_BOOL:
		return (int)a->u.b - (int)b->u.b;
	case TV_STRUCT:
		for (size_t i = 0; i < a->u.st.n && i < b->u.st.n; i++) {
			int c = tv_key_cmp(a->u.st.f[i].v, b->u.st.f[i].v);
			if (c != 0)
				return c;
		}
		return (int)a->u.st.n - (int)b->u.st.n;
	default:
		return 0;
	}
}

long
tv_map_find(tval m, const char *key, size_t len)
{
	size_t lo = 0, hi = m->u.m.n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		tval k = m->u.m.k[mid];
		int c;

		if (k->kind != TV_STRING)
			return -1;
		c = bytes_cmp(k->u.s.p, k->u.s.n, key, len);
		if (c == 0)
			return (long)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

const char *
tv_type_name(tval v)
{
	if (v == NULL || v->kind == TV_NIL)
		return "<nil>";
	switch (v->kind) {
	case TV_BOOL:
		return "bool";
	case TV_INT:
		return "int";
	case TV_FLOAT:
		return "float64";
	case TV_STRING:
		return "string";
	case TV_LIST:
		return v->u.l.elem == TV_ELEM_STRING ? "[]string"
		                                     : "[]interface {}";
	case TV_MAP:
		return v->u.m.type_name ? v->u.m.type_name
		                        : "map[string]interface {}";
	case TV_STRUCT:
		return v->u.st.type_name;
	case TV_COMPLEX:
		return "complex128";
	default:
		return "<nil>";
	}
}

bool
tv_truth(tval v)
{
	if (v == NULL)
		return false;
	switch (v->kind) {
	case TV_NIL:
		return false;
	case TV_BOOL:
		return v->u.b;
	case TV_INT:
		return v->u.i != 0;
	case TV_FLOAT:
		return v->u.f != 0;
	case TV_STRING:
		return v->u.s.n > 0;
	case TV_LIST:
		return v->u.l.n > 0;
	case TV_MAP:
		return v->u.m.n > 0;
	case TV_STRUCT:
		return true;
	case TV_COMPLEX:
		return v->u.c.re != 0 || v->u.c.im != 0;
	}
	return false;
}

/* ---- public constructors ---- */

int
template_data_new(struct template_data **out)
{
	struct template_data *d = calloc(1, sizeof(*d));

	*out = NULL;
	if (d == NULL)
		return -ERR_NOMEM;
	tarena_init(&d->arena, 0);
	*out = d;
	return 0;
}

void
template_data_free(struct template_data *d)
{
	if (d == NULL)
		return;
	tarena_release(&d->arena);
	free(d);
}

bool
template_data_ok(const struct template_data *d)
{
	return d != NULL && !d->arena.failed;
}

struct template_value *
template_value_nil(struct template_data *d)
{
	return tv_new(&d->arena, TV_NIL);
}

struct template_value *
template_value_bool(struct template_data *d, bool b)
{
	struct template_value *v = tv_new(&d->arena, TV_BOOL);

	if (v != NULL)
		v->u.b = b;
	return v;
}

struct template_value *
template_value_int(struct template_data *d, int64_t i)
{
	struct template_value *v = tv_new(&d->arena, TV_INT);

	if (v != NULL)
		v->u.i = i;
	return v;
}

struct template_value *
template_value_float(struct template_data *d, double f)
{
	struct template_value *v = tv_new(&d->arena, TV_FLOAT);

	if (v != NULL)
		v->u.f = f;
	return v;
}

struct template_value *
template_value_string(struct template_data *d, const char *s, size_t len)
{
	return tv_string(&d->arena, s, len);
}

struct template_value *
template_value_cstr(struct template_data *d, const char *s)
{
	return tv_string(&d->arena, s, strlen(s));
}

struct template_value *
template_value_list(struct template_data *d)
{
	return tv_new(&d->arena, TV_LIST);
}

struct template_value *
template_value_map(struct template_data *d)
{
	return tv_new(&d->arena, TV_MAP);
}

struct template_value *
template_value_map_named(struct template_data *d, const char *type_name)
{
	struct template_value *v = tv_new(&d->arena, TV_MAP);

	if (v == NULL)
		return NULL;
	v->u.m.type_name =
	        tarena_strndup(&d->arena, type_name, strlen(type_name));
	return v->u.m.type_name != NULL ? v : NULL;
}

struct template_value *
template_value_struct(struct template_data *d, const char *type_name,
                      const char *string_text)
{
	struct template_value *v = tv_new(&d->arena, TV_STRUCT);

	if (v == NULL)
		return NULL;
	v->u.st.type_name =
	        tarena_strndup(&d->arena, type_name, strlen(type_name));
	if (string_text != NULL)
		v->u.st.str = tarena_strndup(&d->arena, string_text,
		                             strlen(string_text));
	if (v->u.st.type_name == NULL ||
	    (string_text != NULL && v->u.st.str == NULL))
		return NULL;
	return v;
}

int
template_list_append(struct template_data *d, struct template_value *list,
                     struct template_value *v)
{
	if (list == NULL || v == NULL || d->arena.failed)
		return -ERR_NOMEM;
	return tv_list_push(&d->arena, list, v);
}

struct template_value *
template_map_get(const struct template_value *map,
                 const struct template_value *key)
{
	size_t lo = 0, hi;

	if (map == NULL || key == NULL || map->kind != TV_MAP)
		return NULL;
	hi = map->u.m.n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tv_key_cmp(map->u.m.k[mid], key);

		if (c == 0)
			return map->u.m.v[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int
template_map_set(struct template_data *d, struct template_value *map,
                 struct template_value *key, struct template_value *v)
{
	size_t lo = 0, hi, n;
	struct template_value **nk, **nv;

	if (map == NULL || key == NULL || v == NULL || d->arena.failed)
		return -ERR_NOMEM;
	if (map->kind != TV_MAP ||
	    (key->kind != TV_STRING && key->kind != TV_STRUCT) ||
	    (map->u.m.n > 0 && map->u.m.k[0]->kind != key->kind))
		return -ERR_INVALID;
	n = map->u.m.n;
	hi = n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = tv_key_cmp(map->u.m.k[mid], key);
		if (c == 0) {
			map->u.m.v[mid] = v;
			return 0;
		}
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	if (n == map->u.m.cap) {
		size_t ncap = n ? n * 2 : 4;
		nk = tarena_alloc(&d->arena, ncap * sizeof(*nk));
		nv = tarena_alloc(&d->arena, ncap * sizeof(*nv));
		if (nk == NULL || nv == NULL)
			return -ERR_NOMEM;
		if (n) {
			memcpy(nk, map->u.m.k, n * sizeof(*nk));
			memcpy(nv, map->u.m.v, n * sizeof(*nv));
		}
		map->u.m.k = nk;
		map->u.m.v = nv;
		map->u.m.cap = ncap;
	}
	memmove(map->u.m.k + lo + 1, map->u.m.k + lo,
	        (n - lo) * sizeof(*map->u.m.k));
	memmove(map->u.m.v + lo + 1, map->u.m.v + lo,
	        (n - lo) * sizeof(*map->u.m.v));
	map->u.m.k[lo] = key;
	map->u.m.v[lo] = v;
	map->u.m.n++;
	return 0;
}

int
template_map_set_cstr(struct template_data *d, struct template_value *map,
                      const char *key, struct template_value *v)
{
	return template_map_set(d, map, template_value_cstr(d, key), v);
}

static int
struct_field(struct template_data *d, struct template_value *st,
             const char *name, struct tv_field **out)
{
	struct tv_field *nf;

	if (st == NULL || st->kind != TV_STRUCT || d->arena.failed)
		return -ERR_NOMEM;
	for (size_t i = 0; i < st->u.st.n; i++) {
		if (strcmp(st->u.st.f[i].name, name) == 0) {
			*out = &st->u.st.f[i];
			return 0;
		}
	}
	if (st->u.st.n == st->u.st.cap) {
		size_t ncap = st->u.st.cap ? st->u.st.cap * 2 : 4;
		nf = tarena_alloc(&d->arena, ncap * sizeof(*nf));
		if (nf == NULL)
			return -ERR_NOMEM;
		if (st->u.st.n)
			memcpy(nf, st->u.st.f, st->u.st.n * sizeof(*nf));
		st->u.st.f = nf;
		st->u.st.cap = ncap;
	}
	nf = &st->u.st.f[st->u.st.n];
	nf->name = tarena_strndup(&d->arena, name, strlen(name));
	if (nf->name == NULL)
		return -ERR_NOMEM;
	st->u.st.n++;
	*out = nf;
	return 0;
}

int
template_struct_set(struct template_data *d, struct template_value *st,
                    const char *name, struct template_value *v)
{
	struct tv_field *f;

	if (v == NULL || struct_field(d, st, name, &f) < 0)
		return -ERR_NOMEM;
	f->v = v;
	f->removed_hint = NULL;
	return 0;
}

int
template_struct_set_removed(struct template_data *d, struct template_value *st,
                            const char *name, const char *hint)
{
	struct tv_field *f;

	if (struct_field(d, st, name, &f) < 0)
		return -ERR_NOMEM;
	f->removed_hint = tarena_strndup(&d->arena, hint, strlen(hint));
	f->v = NULL;
	return f->removed_hint ? 0 : -ERR_NOMEM;
}

/* ---- JSON ---- */

struct kv_sort {
	struct template_value *k, *v;
	size_t order;
};

static int
kv_cmp(const void *a, const void *b)
{
	const struct kv_sort *x = a, *y = b;
	int c = tv_key_cmp(x->k, y->k);

	if (c != 0)
		return c;
	return x->order < y->order ? -1 : x->order > y->order;
}

static int
from_json(struct template_data *d, const cJSON *j, int depth,
          struct template_value **out, struct err *err)
{
	struct tarena *a = &d->arena;
	struct template_value *v = NULL;
	const cJSON *c;
	size_t n = 0, w;
	struct kv_sort *kv = NULL;
	int rc;

	if (depth > JSON_MAX_DEPTH + 1)
		return err_set(err, ERR_INVALID, "data: nested too deeply");
	if (cJSON_IsNull(j) || cJSON_IsInvalid(j)) {
		v = tv_new(a, TV_NIL);
	} else if (cJSON_IsBool(j)) {
		v = tv_new(a, TV_BOOL);
		if (v != NULL)
			v->u.b = cJSON_IsTrue(j);
	} else if (cJSON_IsNumber(j)) {
		v = tv_new(a, TV_FLOAT);
		if (v != NULL)
			v->u.f = j->valuedouble;
	} else if (cJSON_IsString(j)) {
		v = tv_string(a, j->valuestring, strlen(j->valuestring));
	} else if (cJSON_IsArray(j)) {
		v = tv_new(a, TV_LIST);
		for (c = j->child; v != NULL && c != NULL; c = c->next) {
			struct template_value *e;
			if ((rc = from_json(d, c, depth + 1, &e, err)) < 0)
				return rc;
			if (tv_list_push(a, v, e) < 0)
				v = NULL;
		}
		/* encoding/json appends each element to make([]any, 0) */
		if (v != NULL)
			v->u.l.gocap = tv_append_cap(v->u.l.n);
	} else if (cJSON_IsObject(j)) {
		v = tv_new(a, TV_MAP);
		for (c = j->child; c != NULL; c = c->next)
			n++;
		if (v != NULL && n > 0) {
			kv = tarena_alloc(a, n * sizeof(*kv));
			v->u.m.k = tarena_alloc(a, n * sizeof(*v->u.m.k));
			v->u.m.v = tarena_alloc(a, n * sizeof(*v->u.m.v));
			if (kv == NULL || v->u.m.k == NULL || v->u.m.v == NULL)
				goto nomem;
			n = 0;
			for (c = j->child; c != NULL; c = c->next, n++) {
				kv[n].k = tv_string(a, c->string,
				                    strlen(c->string));
				if (kv[n].k == NULL)
					goto nomem;
				if ((rc = from_json(d, c, depth + 1, &kv[n].v,
				                    err)) < 0)
					return rc;
				kv[n].order = n;
			}
			qsort(kv, n, sizeof(*kv), kv_cmp);
			/* encoding/json keeps the last of duplicate keys */
			w = 0;
			for (size_t i = 0; i < n; i++) {
				if (i + 1 < n &&
				    tv_key_cmp(kv[i].k, kv[i + 1].k) == 0)
					continue;
				v->u.m.k[w] = kv[i].k;
				v->u.m.v[w] = kv[i].v;
				w++;
			}
			v->u.m.n = w;
			v->u.m.cap = n;
		}
	} else {
		return err_set(err, ERR_INVALID,
		               "data: unsupported JSON value");
	}
	if (v == NULL)
		goto nomem;
	v->in_iface = depth > 0;
	*out = v;
	return 0;
nomem:
	return err_set(err, ERR_NOMEM, "data: out of memory");
}

int
template_value_from_json(struct template_data *d, const cJSON *json,
                         struct template_value **out, struct err *err)
{
	*out = NULL;
	return from_json(d, json, 0, out, err);
}
