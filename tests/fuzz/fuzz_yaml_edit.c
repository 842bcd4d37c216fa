/*
 * fuzz_yaml_edit.c - feeds arbitrary YAML and a marker policy, an image
 * argument or a KEY=VALUE to the three editors (setters, kustomize images,
 * Helm values) and asserts, besides "no crash":
 *   - an editor that fails leaves the file's bytes as they were;
 *   - a changed file parses;
 *   - setters: every byte outside the edited scalars is unchanged (the
 *     text between consecutive scalars is identical, and a scalar whose
 *     text changed is one the change list names, holding its new value);
 *   - kustomize / helm: the old lines survive in order except at most one
 *     per replaced or removed value, and the key asked for reads back as
 *     the value asked for.
 * Input: byte 0 picks the editor, then one line of argument, then the
 * YAML.  Files go to a private directory under /dev/shm (or /tmp).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsroot.h"
#include "base/log.h"
#include "base/util.h"
#include "writeback/helm.h"
#include "writeback/kustomize.h"
#include "writeback/setters.h"
#include "writeback/yamledit.h"

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_yaml_edit: invariant broken: %s\n", what);
		abort();
	}
}

/* Setters: bytes outside edited scalars are untouched. */
static void
check_scalars_only(const struct buf *oldb, const struct buf *newb,
                   const struct wb_changes *ch)
{
	struct yamledit_doc o = YAMLEDIT_DOC_INIT, n = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;
	size_t i = 0, j = 0, po = 0, pn = 0;

	check(yamledit_parse(&o, oldb->ptr, oldb->len, "old", &e) == 0,
	      "old parses");
	check(yamledit_parse(&n, newb->ptr, newb->len, "new", &e) == 0,
	      "edited file parses");
	check(o.n == n.n, "same number of nodes");
	for (;;) {
		const struct yamledit_node *a = NULL, *b = NULL;
		while (i < o.n && (o.nodes[i].type != YAMLEDIT_SCALAR ||
		                   o.nodes[i].start >= o.nodes[i].end))
			i++;
		while (j < n.n && (n.nodes[j].type != YAMLEDIT_SCALAR ||
		                   n.nodes[j].start >= n.nodes[j].end))
			j++;
		if (i >= o.n || j >= n.n) {
			check(i >= o.n && j >= n.n, "same scalars");
			break;
		}
		a = &o.nodes[i];
		b = &n.nodes[j];
		check(a->start >= po && b->start >= pn, "scalars in order");
		check(a->start - po == b->start - pn &&
		              memcmp(oldb->ptr + po, newb->ptr + pn,
		                     a->start - po) == 0,
		      "bytes between scalars unchanged");
		if (a->end - a->start != b->end - b->start ||
		    memcmp(oldb->ptr + a->start, newb->ptr + b->start,
		           a->end - a->start) != 0) {
			int named = 0;
			for (size_t k = 0; k < ch->n; k++)
				if (ch->v[k].line == a->line + 1 &&
				    strcmp(ch->v[k].new_value, b->value) == 0 &&
				    strcmp(ch->v[k].old_value, a->value) == 0)
					named = 1;
			check(named, "a changed scalar is in the change list");
		}
		po = a->end;
		pn = b->end;
		i++;
		j++;
	}
	check(oldb->len - po == newb->len - pn &&
	              memcmp(oldb->ptr + po, newb->ptr + pn, oldb->len - po) ==
	                      0,
	      "bytes after the last scalar unchanged");
	yamledit_release(&o);
	yamledit_release(&n);
}

static size_t
split_lines(const struct buf *b, const char **starts, size_t *lens, size_t max)
{
	size_t n = 0, i = 0;

	while (i < b->len && n < max) {
		const char *nl = memchr(b->ptr + i, '\n', b->len - i);
		size_t e = nl ? (size_t)(nl - b->ptr) + 1 : b->len;
		starts[n] = b->ptr + i;
		lens[n++] = e - i;
		i = e;
	}
	return n;
}

/* Kustomize / Helm: old lines survive in order, but for edited values. */
static void
check_lines_kept(const struct buf *oldb, const struct buf *newb,
                 const struct wb_changes *ch)
{
	static const char *os[FUZZ_MAX_INPUT], *ns[FUZZ_MAX_INPUT * 2];
	static size_t ol[FUZZ_MAX_INPUT], nl[FUZZ_MAX_INPUT * 2];
	size_t on = split_lines(oldb, os, ol, FUZZ_MAX_INPUT);
	size_t nn = split_lines(newb, ns, nl, FUZZ_MAX_INPUT * 2);
	size_t j = 0, lost = 0, edited = 0, *prev, *row;
	struct yamledit_doc n = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;

	check(yamledit_parse(&n, newb->ptr, newb->len, "new", &e) == 0,
	      "edited file parses");
	yamledit_release(&n);
	for (size_t k = 0; k < ch->n; k++)
		if (*ch->v[k].old_value)
			edited++;
	/* a quoted value may span lines: all of them may change */
	check(yamledit_parse(&n, oldb->ptr, oldb->len, "old", &e) == 0,
	      "old parses");
	for (size_t i = 0; i < n.n; i++) {
		const struct yamledit_node *a = &n.nodes[i];
		if (a->type != YAMLEDIT_SCALAR)
			continue;
		for (size_t k = 0; k < ch->n; k++)
			if (*ch->v[k].old_value &&
			    strcmp(ch->v[k].old_value, a->value) == 0) {
				for (size_t c = a->start; c < a->end; c++)
					if (oldb->ptr[c] == '\n')
						edited++;
				break;
			}
	}
	yamledit_release(&n);
	/* old lines kept = longest common subsequence of the two files */
	prev = calloc(nn + 1, sizeof(size_t));
	row = calloc(nn + 1, sizeof(size_t));
	if (prev == NULL || row == NULL)
		abort();
	for (size_t i = 0; i < on; i++) {
		row[0] = 0;
		for (j = 0; j < nn; j++) {
			if (nl[j] == ol[i] && memcmp(ns[j], os[i], ol[i]) == 0)
				row[j + 1] = prev[j] + 1;
			else
				row[j + 1] = prev[j + 1] > row[j] ? prev[j + 1]
				                                  : row[j];
		}
		memcpy(prev, row, (nn + 1) * sizeof(size_t));
	}
	lost = on - prev[nn];
	free(prev);
	free(row);
	/* a value on the last line without a line break may move off it */
	check(lost <= edited + 1, "only lines of edited values change");
}

/* A scalar's value; NULL for other nodes and for null (empty plain). */
static const char *
scalar_at(const struct yamledit_doc *d, int node)
{
	if (node < 0 || d->nodes[node].type != YAMLEDIT_SCALAR ||
	    (d->nodes[node].style == YAMLEDIT_PLAIN &&
	     d->nodes[node].value_len == 0))
		return NULL;
	return d->nodes[node].value;
}

static void
check_kustomize(const struct buf *newb, const struct kustomize_image *im)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;
	int images, found = 0;

	check(yamledit_parse(&d, newb->ptr, newb->len, "new", &e) == 0,
	      "edited kustomization parses");
	images = yamledit_map_get(&d, d.roots[0], "images");
	for (int c = images >= 0 ? d.nodes[images].first_child : -1; c >= 0;
	     c = d.nodes[c].next_sibling) {
		const char *nm = scalar_at(&d, yamledit_map_get(&d, c, "name"));
		const char *t =
		        scalar_at(&d, yamledit_map_get(&d, c, "newTag"));
		const char *nn =
		        scalar_at(&d, yamledit_map_get(&d, c, "newName"));
		const char *dg =
		        scalar_at(&d, yamledit_map_get(&d, c, "digest"));
		if (nm == NULL || strcmp(nm, im->name) != 0)
			continue;
		found = 1;
		check((t == NULL) == (im->new_tag == NULL) &&
		              (t == NULL || strcmp(t, im->new_tag) == 0),
		      "newTag as asked");
		check((nn == NULL) == (im->new_name == NULL) &&
		              (nn == NULL || strcmp(nn, im->new_name) == 0),
		      "newName as asked");
		check((dg == NULL) == (im->digest == NULL) &&
		              (dg == NULL || strcmp(dg, im->digest) == 0),
		      "digest as asked");
		break;
	}
	check(found, "the image has an entry");
	yamledit_release(&d);
}

static void
check_helm(const struct buf *newb, const char *key, const char *value)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;
	char part[256];
	const char *p = key;
	int node;

	check(yamledit_parse(&d, newb->ptr, newb->len, "new", &e) == 0,
	      "edited values parse");
	node = d.roots[0];
	while (*p && node >= 0) {
		size_t l = strcspn(p, ".[");
		if (l > 0) {
			memcpy(part, p, l < 255 ? l : 255);
			part[l < 255 ? l : 255] = '\0';
			node = yamledit_map_get(&d, node, part);
			p += l;
		}
		while (*p == '[' && node >= 0) {
			char *end;
			long idx = strtol(p + 1, &end, 10);
			node = yamledit_seq_get(&d, node, (size_t)idx);
			p = end + 1;
		}
		if (*p == '.')
			p++;
	}
	check(node >= 0 && scalar_at(&d, node) &&
	              strcmp(scalar_at(&d, node), value) == 0,
	      "the key reads back as the value");
	yamledit_release(&d);
}

static char dir[64];
static const char *const names[] = { "f.yaml", "kustomization.yaml",
	                             "values.yaml" };

static void
cleanup(void)
{
	for (int i = 0; i < 3; i++) {
		struct buf p = BUF_INIT;
		buf_addf(&p, "%s/%s", dir, names[i]);
		unlink(p.ptr);
		buf_release(&p);
	}
	rmdir(dir);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf path = BUF_INIT, oldb = BUF_INIT, newb = BUF_INIT,
	           arg = BUF_INIT;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct fsroot *root = NULL;
	struct err e = ERR_INIT;
	const uint8_t *nl;
	int mode, rc = -1;

	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	if (dir[0] == '\0') {
		/* tmpfs when there is one: the editors fsync every write */
		if (access("/dev/shm", W_OK) == 0)
			memcpy(dir, "/dev/shm/fuzz-yaml-XXXXXX", 26);
		else
			memcpy(dir, "/tmp/fuzz-yaml-XXXXXX", 22);
		if (mkdtemp(dir) == NULL)
			abort();
		atexit(cleanup);
		/* editors log each file they skip; keep the fuzzer quiet */
		log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, 2);
	}
	mode = data[0] % 3;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL || memchr(data + 1, '\0', (size_t)(nl - data - 1)))
		return 0;
	buf_add(&arg, data + 1, (size_t)(nl - data - 1));
	buf_add(&oldb, nl + 1, size - (size_t)(nl + 1 - data));
	buf_addf(&path, "%s/%s", dir, names[mode]);
	for (int i = 0; i < 3; i++) {
		struct buf p = BUF_INIT;
		buf_addf(&p, "%s/%s", dir, names[i]);
		unlink(p.ptr);
		buf_release(&p);
	}
	if (file_write_atomic(path.ptr, oldb.ptr, oldb.len, 0644, &e) < 0 ||
	    fsroot_open(&root, dir, 0, &e) < 0)
		abort();

	if (mode == 0) {
		struct buf pa = BUF_INIT;
		struct setters_policy pol[2];
		char q[] = "fz:q=example.com/q:1.0@sha256:"
		           "0123456789abcdef0123456789abcdef0123456789abcdef"
		           "0123456789abcdef";
		buf_addf(&pa, "fz:p=%s", arg.ptr);
		if (setters_policy_parse(&pol[0], pa.ptr, &e) < 0) {
			buf_reset(&pa);
			buf_puts(&pa, "fz:p=example.com/app:1.10");
			setters_policy_parse(&pol[0], pa.ptr, &e);
		}
		setters_policy_parse(&pol[1], q, &e);
		rc = setters_apply(root, ".", pol, 2, NULL, &ch, &e);
		buf_release(&pa);
	} else if (mode == 1) {
		struct kustomize_image im;
		if (kustomize_image_parse(&im, arg.ptr, &e) == 0) {
			rc = kustomize_set_images(root, ".", &im, 1, NULL, &ch,
			                          &e);
			if (rc == 0) {
				if (file_read(&newb, path.ptr, &e) < 0)
					abort();
				check_kustomize(&newb, &im);
			}
		}
	} else {
		struct helm_value hv;
		if (helm_value_parse(&hv, arg.ptr, &e) == 0) {
			rc = helm_set_values(root, names[2], NULL, &hv, 1, NULL,
			                     &ch, &e);
			if (rc == 0) {
				if (file_read(&newb, path.ptr, &e) < 0)
					abort();
				check_helm(&newb, hv.key, hv.value);
			}
		}
	}
	buf_reset(&newb);
	if (file_read(&newb, path.ptr, &e) < 0)
		abort();
	if (rc < 0) {
		check(newb.len == oldb.len &&
		              memcmp(newb.ptr, oldb.ptr, oldb.len) == 0,
		      "a failed edit leaves the file alone");
	} else if (newb.len != oldb.len ||
	           memcmp(newb.ptr, oldb.ptr, oldb.len) != 0) {
		if (mode == 0)
			check_scalars_only(&oldb, &newb, &ch);
		else
			check_lines_kept(&oldb, &newb, &ch);
	}
	wb_changes_release(&ch);
	fsroot_free(root);
	buf_release(&path);
	buf_release(&oldb);
	buf_release(&newb);
	buf_release(&arg);
	return 0;
}
