/*
 * fuzz_argocd_source.c - feeds arbitrary YAML and one value to the Argo
 * CD override file editor (writeback/argocd.h) and asserts, besides "no
 * crash":
 *   - an edit that fails leaves the file's bytes as they were;
 *   - a changed file parses, and holds what was asked: the image has an
 *     entry in kustomize.images, the parameter its value with
 *     forcestring: true in helm.parameters;
 *   - the old lines survive in order, but for at most two (a value and
 *     its forcestring, or the line a list's "[]" was on).
 * Input: byte 0 picks kustomize (even) or helm (odd), then one line
 * holding an image string or NAME=VALUE, then the file.  Files go to a
 * private directory under /dev/shm (or /tmp).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsroot.h"
#include "base/log.h"
#include "base/util.h"
#include "writeback/argocd.h"

#define FUZZ_MAX_INPUT 8192
#define FUZZ_MAX_LINES 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_argocd_source: invariant broken: %s\n",
		        what);
		abort();
	}
}

static size_t
split_lines(const struct buf *b, const char **s, size_t *l)
{
	size_t n = 0;

	for (size_t i = 0; i < b->len && n < FUZZ_MAX_LINES;) {
		const char *nl = memchr(b->ptr + i, '\n', b->len - i);
		size_t e = nl ? (size_t)(nl - b->ptr) : b->len;

		s[n] = b->ptr + i;
		l[n++] = e - i;
		i = e + 1;
	}
	return n;
}

/* Old lines not in the longest common subsequence with the new ones. */
static size_t
lines_lost(const struct buf *oldb, const struct buf *newb)
{
	static const char *os[FUZZ_MAX_LINES], *ns[FUZZ_MAX_LINES];
	static size_t ol[FUZZ_MAX_LINES], nl[FUZZ_MAX_LINES];
	size_t on = split_lines(oldb, os, ol), nn = split_lines(newb, ns, nl);
	size_t *prev = calloc(nn + 1, sizeof(size_t));
	size_t *row = calloc(nn + 1, sizeof(size_t)), kept;

	check(prev && row, "memory");
	for (size_t i = 0; i < on; i++) {
		row[0] = 0;
		for (size_t j = 0; j < nn; j++)
			row[j + 1] = nl[j] == ol[i] && memcmp(ns[j], os[i],
			                                      ol[i]) == 0
			                     ? prev[j] + 1
			             : prev[j + 1] > row[j] ? prev[j + 1]
			                                    : row[j];
		memcpy(prev, row, (nn + 1) * sizeof(size_t));
	}
	kept = prev[nn];
	free(prev);
	free(row);
	return on - kept;
}

/* How often the image's or parameter's name appears in b. */
static size_t
occurrences(const struct buf *b, const char *arg, bool kustomize)
{
	struct argocd_image_ref r;
	size_t n = 0, len;
	const char *name = arg;

	if (kustomize) {
		argocd_image_ref_split(&r, arg);
		name = r.name;
		len = r.name_len;
	} else {
		len = (size_t)(strchr(arg, '=') - arg);
	}
	for (size_t i = 0; len > 0 && i + len <= b->len; i++)
		n += memcmp(b->ptr + i, name, len) == 0;
	return n;
}

static void
check_result(const struct buf *newb, bool kustomize, const char *arg)
{
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;
	int list, found = 0;

	check(yamledit_parse(&d, newb->ptr, newb->len, "new", &e) == 0,
	      "the edited file parses");
	list = yamledit_map_get(
	        &d,
	        yamledit_map_get(&d, d.roots[0],
	                         kustomize ? "kustomize" : "helm"),
	        kustomize ? "images" : "parameters");
	for (int c = list >= 0 ? d.nodes[list].first_child : -1; c >= 0;
	     c = d.nodes[c].next_sibling) {
		if (kustomize) {
			struct argocd_image_ref a, b;

			if (d.nodes[c].type != YAMLEDIT_SCALAR)
				continue;
			argocd_image_ref_split(&a, arg);
			argocd_image_ref_split(&b, d.nodes[c].value);
			found |= argocd_image_same(a.name, a.name_len, b.name,
			                           b.name_len);
		} else {
			const char *eq = strchr(arg, '=');
			int nm = yamledit_map_get(&d, c, "name");
			int v = yamledit_map_get(&d, c, "value");
			int fs = yamledit_map_get(&d, c, "forcestring");

			if (nm < 0 || d.nodes[nm].type != YAMLEDIT_SCALAR ||
			    strlen(d.nodes[nm].value) != (size_t)(eq - arg) ||
			    memcmp(d.nodes[nm].value, arg, (size_t)(eq - arg)))
				continue;
			check(v >= 0 && d.nodes[v].type == YAMLEDIT_SCALAR &&
			              strcmp(d.nodes[v].value, eq + 1) == 0,
			      "the parameter holds the value asked");
			check(fs >= 0 &&
			              strcmp(d.nodes[fs].value, "true") == 0 &&
			              d.nodes[fs].style == YAMLEDIT_PLAIN,
			      "forcestring: true");
			found = 1;
		}
	}
	check(found, "the entry is there");
	yamledit_release(&d);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	struct fsroot *root = NULL;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct buf path = BUF_INIT, before = BUF_INIT, after = BUF_INIT;
	struct err e = ERR_INIT;
	struct argocd_helm_param p;
	const char *nl;
	char arg[256];
	bool kustomize;
	int rc;

	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, -1);
	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	kustomize = (data[0] & 1) == 0;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL || (size_t)(nl - (const char *)data - 1) >= sizeof(arg))
		return 0;
	memcpy(arg, data + 1, (size_t)(nl - (const char *)data - 1));
	arg[nl - (const char *)data - 1] = '\0';
	if (strlen(arg) == 0 || (!kustomize && strchr(arg, '=') == NULL))
		return 0;
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/ferry-fuzz-argocd-XXXXXX",
		         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	buf_addf(&path, "%s/s.yaml", dir);
	buf_add(&before, nl + 1, size - (size_t)(nl + 1 - (const char *)data));
	if (before.ptr == NULL)
		buf_puts(&before, "");
	check(file_write_atomic(path.ptr, before.ptr, before.len, 0644, &e) ==
	              0,
	      "write the input");
	check(fsroot_open(&root, dir, 0, &e) == 0, "open the root");
	if (kustomize) {
		const char *imgs[1] = { arg };

		rc = argocd_source_kustomize(root, "s.yaml", imgs, 1, NULL, &ch,
		                             &e);
	} else {
		char *eq = strchr(arg, '=');

		*eq = '\0';
		p.name = arg;
		p.value = eq + 1;
		rc = argocd_source_helm(root, "s.yaml", &p, 1, NULL, &ch, &e);
		*eq = '=';
	}
	check(file_read(&after, path.ptr, &e) == 0, "read the result");
	if (after.ptr == NULL)
		buf_puts(&after, "");
	if (rc < 0) {
		check(after.len == before.len &&
		              memcmp(after.ptr, before.ptr, before.len) == 0,
		      "a failed edit leaves the file as it was");
	} else if (after.len != before.len ||
	           memcmp(after.ptr, before.ptr, before.len) != 0) {
		check_result(&after, kustomize, arg);
		/* a value and its forcestring per entry of the name, and
		 * the line a "[]" or a null was on */
		check(lines_lost(&before, &after) <=
		              2 * occurrences(&before, arg, kustomize) + 1,
		      "old lines survive in order");
	}
	fsroot_free(root);
	wb_changes_release(&ch);
	buf_release(&path);
	buf_release(&before);
	buf_release(&after);
	return 0;
}
