/*
 * test_yaml.c - unit tests of the byte-exact YAML editors: the splice
 * layer (yamledit), Flux setters (our fixture tree and Flux's own cases),
 * kustomize images and Helm values through the C API.  The rendering
 * checks (kubectl kustomize, parsed values) are in render_check.py.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/fsroot.h"
#include "base/pool.h"
#include "base/util.h"
#include "writeback/helm.h"
#include "writeback/kustomize.h"
#include "writeback/setters.h"
#include "writeback/yamledit.h"

#define DIGEST                                                                 \
	"sha256:d1834b683db09d3f77b36963bdeb1dc6f02b6b5a97f04366268d9eba6e907361"

/* ---- helpers ---- */

static char *
fixture(const char *rel)
{
	const char *root = getenv("FERRY_SOURCE_ROOT");
	struct buf b = BUF_INIT;

	buf_addf(&b, "%s/%s", root ? root : ".", rel);
	return buf_detach(&b);
}

static void
copy_tree(const char *from, const char *to)
{
	DIR *d = opendir(from);
	struct dirent *de;

	assert_non_null(d);
	assert_true(mkdir(to, 0755) == 0 || errno == EEXIST);
	while ((de = readdir(d)) != NULL) {
		struct buf a = BUF_INIT, b = BUF_INIT, data = BUF_INIT;
		struct stat st;
		struct err e = ERR_INIT;
		if (de->d_name[0] == '.' &&
		    (de->d_name[1] == '\0' || de->d_name[1] == '.'))
			continue;
		buf_addf(&a, "%s/%s", from, de->d_name);
		buf_addf(&b, "%s/%s", to, de->d_name);
		assert_int_equal(lstat(a.ptr, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			copy_tree(a.ptr, b.ptr);
		} else {
			assert_int_equal(file_read(&data, a.ptr, &e), 0);
			assert_int_equal(file_write_atomic(b.ptr, data.ptr,
			                                   data.len, 0644, &e),
			                 0);
		}
		buf_release(&a);
		buf_release(&b);
		buf_release(&data);
	}
	closedir(d);
}

static char *
tmpdir(void)
{
	/* tmpfs when there is one: the editors fsync every file */
	char shm[] = "/dev/shm/ferry-yaml-XXXXXX",
	     tmp[] = "/tmp/ferry-yaml-XXXXXX";
	char *d = mkdtemp(access("/dev/shm", W_OK) == 0 ? shm : tmp);

	assert_non_null(d);
	return strdup(d);
}

static void
rm_tree(const char *path)
{
	DIR *d = opendir(path);
	struct dirent *de;

	if (d == NULL) {
		unlink(path);
		return;
	}
	while ((de = readdir(d)) != NULL) {
		struct buf p = BUF_INIT;
		struct stat st;
		if (strcmp(de->d_name, ".") == 0 ||
		    strcmp(de->d_name, "..") == 0)
			continue;
		buf_addf(&p, "%s/%s", path, de->d_name);
		if (lstat(p.ptr, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(p.ptr);
		else
			unlink(p.ptr);
		buf_release(&p);
	}
	closedir(d);
	rmdir(path);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	struct buf p = BUF_INIT;
	struct err e = ERR_INIT;

	buf_addf(&p, "%s/%s", dir, name);
	assert_int_equal(file_write_atomic(p.ptr, text, strlen(text), 0644, &e),
	                 0);
	buf_release(&p);
}

static char *
read_file(const char *dir, const char *name)
{
	struct buf p = BUF_INIT, d = BUF_INIT;
	struct err e = ERR_INIT;

	buf_addf(&p, "%s/%s", dir, name);
	assert_int_equal(file_read(&d, p.ptr, &e), 0);
	buf_release(&p);
	return buf_detach(&d);
}

/* The editors work beneath a root; the tests name a directory. */
static int
setters_in(const char *dir, const char *sub, const struct setters_policy *pol,
           size_t n, const struct yamledit_opts *o, struct wb_changes *ch,
           struct err *e)
{
	struct fsroot *r = NULL;
	int rc = fsroot_open(&r, dir, 0, e);

	if (rc == 0)
		rc = setters_apply(r, sub, pol, n, o, ch, e);
	fsroot_free(r);
	return rc;
}

static int
kustomize_in(const char *dir, const struct kustomize_image *im, size_t n,
             const struct yamledit_opts *o, struct wb_changes *ch,
             struct err *e)
{
	struct fsroot *r = NULL;
	int rc = fsroot_open(&r, dir, 0, e);

	if (rc == 0)
		rc = kustomize_set_images(r, ".", im, n, o, ch, e);
	fsroot_free(r);
	return rc;
}

static int
helm_in(const char *dir, const char *file, const char *label,
        const struct helm_value *v, size_t n, const struct yamledit_opts *o,
        struct wb_changes *ch, struct err *e)
{
	struct fsroot *r = NULL;
	int rc = fsroot_open(&r, dir, 0, e);

	if (rc == 0)
		rc = helm_set_values(r, file, label, v, n, o, ch, e);
	fsroot_free(r);
	return rc;
}

/* Every file of got equals the one in want (when there) or in orig. */
static void
assert_tree(const char *got, const char *want, const char *orig,
            const char *rel)
{
	struct buf g = BUF_INIT;
	DIR *d;
	struct dirent *de;

	buf_addf(&g, "%s/%s", got, rel);
	d = opendir(g.ptr);
	assert_non_null(d);
	while ((de = readdir(d)) != NULL) {
		struct buf r = BUF_INIT, a = BUF_INIT, b = BUF_INIT,
		           da = BUF_INIT, db = BUF_INIT;
		struct stat st;
		struct err e = ERR_INIT;
		if (de->d_name[0] == '.')
			continue;
		buf_addf(&r, "%s%s%s", rel, *rel ? "/" : "", de->d_name);
		buf_addf(&a, "%s/%s", got, r.ptr);
		assert_int_equal(lstat(a.ptr, &st), 0);
		if (S_ISDIR(st.st_mode)) {
			assert_tree(got, want, orig, r.ptr);
		} else {
			buf_addf(&b, "%s/%s", want, r.ptr);
			if (access(b.ptr, F_OK) != 0) {
				buf_reset(&b);
				buf_addf(&b, "%s/%s", orig, r.ptr);
			}
			assert_int_equal(file_read(&da, a.ptr, &e), 0);
			assert_int_equal(file_read(&db, b.ptr, &e), 0);
			if (da.len != db.len ||
			    memcmp(da.ptr, db.ptr, da.len) != 0)
				fail_msg("%s differs from %s:\n%s", a.ptr,
				         b.ptr, da.ptr);
		}
		buf_release(&r);
		buf_release(&a);
		buf_release(&b);
		buf_release(&da);
		buf_release(&db);
	}
	closedir(d);
	buf_release(&g);
}

/* Reads "NS:NAME=REF" lines into policies (strings kept in *store). */
static size_t
load_policies(const char *file, struct setters_policy *pol, size_t max,
              char **store)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	size_t n = 0;
	char *p;

	assert_int_equal(file_read(&b, file, &e), 0);
	*store = buf_detach(&b);
	for (p = *store; *p && n < max;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (*p) {
			assert_int_equal(setters_policy_parse(&pol[n], p, &e),
			                 0);
			n++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	return n;
}

/* ---- yamledit ---- */

static void
test_yamledit__renders_number_like_values_double_quoted_in_plain_style(
        void **state)
{
	static const char *const quoted[] = {
		"1.10", "16",   "yes",  "no",         "on",    "Off", "null",
		"~",    "true", "0x1F", "0o17",       "1e3",   "-1",  "+.5",
		".inf", ".NaN", "1:20", "2024-01-01", "1_000", "=",   NULL
	};
	static const char *const plain[] = {
		"v1.10",  "1.2.3",      "1.10-rc1", "nginx:1.27", "sha256:abc",
		"latest", "yes-please", "0x",       NULL
	};
	struct err e = ERR_INIT;

	(void)state;
	for (int i = 0; quoted[i]; i++) {
		struct buf b = BUF_INIT;
		assert_int_equal(
		        yamledit_render(&b, YAMLEDIT_PLAIN, quoted[i], &e), 0);
		assert_true(b.len == strlen(quoted[i]) + 2);
		assert_int_equal(b.ptr[0], '"');
		buf_release(&b);
	}
	for (int i = 0; plain[i]; i++) {
		struct buf b = BUF_INIT;
		assert_int_equal(
		        yamledit_render(&b, YAMLEDIT_PLAIN, plain[i], &e), 0);
		assert_string_equal(b.ptr, plain[i]);
		buf_release(&b);
	}
}

static void
test_yamledit__keeps_single_and_double_quote_styles(void **state)
{
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(yamledit_render(&b, YAMLEDIT_SINGLE, "1.10", &e), 0);
	assert_string_equal(b.ptr, "'1.10'");
	buf_reset(&b);
	assert_int_equal(yamledit_render(&b, YAMLEDIT_DOUBLE, "a\"b", &e), 0);
	assert_string_equal(b.ptr, "\"a\\\"b\"");
	buf_reset(&b);
	assert_int_equal(yamledit_render(&b, YAMLEDIT_LITERAL, "x", &e),
	                 -ERR_INVALID);
	buf_release(&b);
}

static void
test_yamledit__value_check_rejects_yaml_injection(void **state)
{
	static const char *const bad[] = { "1.0\nevil: true",
		                           "1.0 # x",
		                           "a: b",
		                           "'q'",
		                           "\"q\"",
		                           "{a}",
		                           "[a]",
		                           "1.0,2",
		                           "a b",
		                           "-x",
		                           ".x",

		                           "app:",
		                           "app@sha256:short",
		                           "",
		                           "a\r",
		                           "x:y:z/w",
		                           NULL };
	struct err e = ERR_INIT;

	(void)state;
	for (int i = 0; bad[i]; i++)
		assert_int_equal(yamledit_value_check(YAMLEDIT_VALUE_ANY,
		                                      bad[i], strlen(bad[i]),
		                                      &e),
		                 -ERR_INVALID);
	assert_int_equal(
	        yamledit_value_check(YAMLEDIT_VALUE_TAG, "1.0/x", 5, &e),
	        -ERR_INVALID);
	assert_int_equal(
	        yamledit_value_check(YAMLEDIT_VALUE_DIGEST, "sha256:1", 8, &e),
	        -ERR_INVALID);
}

static void
test_yamledit__value_check_accepts_references_tags_and_digests(void **state)
{
	static const char *const ok[] = { "nginx",
		                          "nginx:1.27.1",
		                          "ghcr.io/org/app:v1.0.0-rc.1",
		                          "127.0.0.1:5000/team/app:1.1.0",
		                          "localhost/app",
		                          "registry.local:5000/a/b/c@" DIGEST,
		                          "app:1.0@" DIGEST,
		                          "[::1]:5000/app:1",
		                          "V1.0_RC",
		                          "1.10",
		                          DIGEST,
		                          "my_app__x-y.z",
		                          NULL };
	struct err e = ERR_INIT;

	(void)state;
	for (int i = 0; ok[i]; i++)
		assert_int_equal(yamledit_value_check(YAMLEDIT_VALUE_ANY, ok[i],
		                                      strlen(ok[i]), &e),
		                 0);
}

static void
test_yamledit__maps_marks_to_bytes_in_utf8_and_crlf_files(void **state)
{
	static const char src[] = "\xef\xbb\xbf# caf\xc3\xa9\r\n"
	                          "k\xc3\xa9y: \"\xe2\x98\x95\"\r\n"
	                          "image: app:1 # c\r\n";
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;
	int v;

	(void)state;
	assert_int_equal(yamledit_parse(&d, src, sizeof(src) - 1, "t", &e), 0);
	assert_string_equal(d.eol, "\r\n");
	v = yamledit_map_get(&d, d.roots[0], "image");
	assert_true(v >= 0);
	assert_int_equal(d.nodes[v].end - d.nodes[v].start, 5);
	assert_memory_equal(src + d.nodes[v].start, "app:1", 5);
	v = yamledit_map_get(&d, d.roots[0], "k\xc3\xa9y");
	assert_true(v >= 0);
	assert_memory_equal(src + d.nodes[v].start, "\"\xe2\x98\x95\"", 5);
	assert_int_equal(d.nodes[v].end - d.nodes[v].start, 5);
	yamledit_release(&d);
}

static void
test_yamledit__refuses_a_file_that_does_not_parse(void **state)
{
	static const char src[] = "a: [1, 2\nb: c\n";
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(
	        yamledit_parse(&d, src, sizeof(src) - 1, "bad.yaml", &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "bad.yaml:"));
	/* duplicate keys are refused, as Go's yaml.v3 refuses them */
	assert_int_equal(
	        yamledit_parse(&d, "a: 1\nb: 2\na: 3\n", 15, "dup", &e),
	        -ERR_INVALID);
	assert_non_null(
	        strstr(e.msg, "dup:3: mapping key 'a' is defined twice"));
}

static void
test_yamledit__apply_refuses_an_edit_that_changes_other_content(void **state)
{
	static const char src[] = "a: 1\nb: x\nc: 3\n";
	struct yamledit_doc d = YAMLEDIT_DOC_INIT;
	struct yamledit_edits ed = YAMLEDIT_EDITS_INIT;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	int v;

	(void)state;
	assert_int_equal(yamledit_parse(&d, src, sizeof(src) - 1, "t", &e), 0);
	v = yamledit_map_get(&d, d.roots[0], "b");
	/* a splice that swallows the next key must be refused */
	assert_int_equal(yamledit_edits_replace(&ed, &d, v, "z", &e), 0);
	ed.v[0].end += 6; /* "x\nc: 3" */
	assert_int_equal(yamledit_edits_apply(&ed, &d, &out, "t", &e),
	                 -ERR_INVALID);
	yamledit_edits_release(&ed);
	/* a splice that does not parse must be refused */
	assert_int_equal(yamledit_edits_insert(&ed, 5, "[\n", 2, 0, -1, -1), 0);
	assert_int_equal(yamledit_edits_apply(&ed, &d, &out, "t", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "does not parse"));
	yamledit_edits_release(&ed);
	/* the honest edit goes through */
	assert_int_equal(yamledit_edits_replace(&ed, &d, v, "z", &e), 0);
	assert_int_equal(yamledit_edits_apply(&ed, &d, &out, "t", &e), 0);
	assert_string_equal(out.ptr, "a: 1\nb: z\nc: 3\n");
	yamledit_edits_release(&ed);
	yamledit_release(&d);
	buf_release(&out);
}

static void
test_yamledit__diff_is_a_unified_diff_with_context(void **state)
{
	static const char a[] = "1\n2\n3\n4\n5\n6\n7\n8\n9\n10\n11\n12\n";
	static const char b[] = "1\n2\nthree\n4\n5\n6\n7\n8\n9\n10\n11\n12\n"
	                        "13";
	static const char want[] = "--- a/f\n+++ b/f\n"
	                           "@@ -1,6 +1,6 @@\n 1\n 2\n-3\n+three\n 4\n"
	                           " 5\n 6\n"
	                           "@@ -10,3 +10,4 @@\n 10\n 11\n 12\n+13\n"
	                           "\\ No newline at end of file\n";
	struct buf out = BUF_INIT;

	(void)state;
	assert_int_equal(
	        yamledit_diff(&out, "f", a, sizeof(a) - 1, b, sizeof(b) - 1),
	        0);
	assert_string_equal(out.ptr, want);
	buf_release(&out);
}

/* ---- setters ---- */

static void
test_setters__fixture_tree_matches_expected_byte_for_byte(void **state)
{
	char *orig = fixture("tests/writeback/fixtures/setters/original");
	char *want = fixture("tests/writeback/fixtures/setters/expected");
	char *pfile = fixture("tests/writeback/fixtures/setters/policies");
	char *dir = tmpdir(), *store = NULL;
	struct setters_policy pol[16];
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	size_t n;
	int rc;

	(void)state;
	n = load_policies(pfile, pol, 16, &store);
	copy_tree(orig, dir);
	rc = setters_in(dir, ".", pol, n, NULL, &ch, &e);
	/* broken.yaml does not parse: reported, left alone, others done */
	assert_int_equal(rc, -ERR_INVALID);
	assert_non_null(strstr(e.msg, "broken.yaml"));
	assert_tree(dir, want, orig, "");
	assert_int_equal(ch.n, 28);
	rm_tree(dir);
	free(dir);
	free(store);
	free(orig);
	free(want);
	free(pfile);
	wb_changes_release(&ch);
}

static void
test_setters__flux_peer_cases_match_expected(void **state)
{
	char *orig = fixture("tests/peer/flux-setters/original");
	char *want = fixture("tests/peer/flux-setters/expected");
	char *pfile = fixture("tests/peer/flux-setters/policies");
	char *dir = tmpdir(), *store = NULL;
	struct setters_policy pol[8];
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	size_t n;
	bool saw = false;

	(void)state;
	if (access(pfile, R_OK) != 0)
		fail_msg("Flux peer cases missing at %s", pfile);
	n = load_policies(pfile, pol, 8, &store);
	copy_tree(orig, dir);
	assert_int_equal(setters_in(dir, ".", pol, n, NULL, &ch, &e), 0);
	assert_tree(dir, want, orig, "");
	assert_int_equal(ch.n, 7);
	/* the change Flux's test lists */
	for (size_t i = 0; i < ch.n; i++)
		if (strcmp(ch.v[i].setter,
		           "automation-ns:policy-with-digest") == 0) {
			assert_string_equal(ch.v[i].old_value, "image");
			assert_string_equal(
			        ch.v[i].new_value,
			        "image:v1.0.0@sha256:6745aaad46d795c9836632e1f"
			        "b62f24b7e7f4c843144da8e47a5465c411a14be");
			assert_string_equal(ch.v[i].file, "kustomization.yml");
			saw = true;
		}
	assert_true(saw);
	rm_tree(dir);
	free(dir);
	free(store);
	free(orig);
	free(want);
	free(pfile);
	wb_changes_release(&ch);
}

static struct setters_policy web_policy = { "apps", "web", "ghcr.io/org/web",
	                                    "1.10", "" };

static void
test_setters__up_to_date_file_is_not_written(void **state)
{
	char *dir = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct stat before, after;
	struct timeval old[2] = { { 1000000000, 0 }, { 1000000000, 0 } };
	struct buf path = BUF_INIT;

	(void)state;
	write_file(dir, "a.yaml",
	           "image: ghcr.io/org/web:1.10 # {\"$imagepolicy\": "
	           "\"apps:web\"}\n");
	buf_addf(&path, "%s/a.yaml", dir);
	assert_int_equal(utimes(path.ptr, old), 0);
	assert_int_equal(stat(path.ptr, &before), 0);
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, NULL, &ch, &e),
	                 0);
	assert_int_equal(ch.n, 0);
	assert_int_equal(stat(path.ptr, &after), 0);
	assert_int_equal(before.st_mtime, after.st_mtime);
	assert_int_equal(before.st_ino, after.st_ino);
	p = read_file(dir, "a.yaml");
	assert_non_null(strstr(p, "web:1.10 #"));
	free(p);
	buf_release(&path);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__empties_a_digest_its_policy_does_not_reflect_and_notes_it(
        void **state)
{
	char *dir = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct buf notes = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	write_file(dir, "values.yaml",
	           "tag: \"1.9\" # {\"$imagepolicy\": \"apps:web:tag\"}\n"
	           "digest: sha256:1111111111111111111111111111111111111111111"
	           "111111111111111111111 # {\"$imagepolicy\": "
	           "\"apps:web:digest\"}\n");
	o.notes = &notes;
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, &o, &ch, &e), 0);
	assert_int_equal(ch.n, 2);
	p = read_file(dir, "values.yaml");
	assert_string_equal(p, "tag: \"1.10\" # {\"$imagepolicy\": "
	                       "\"apps:web:tag\"}\n"
	                       "digest: \"\" # {\"$imagepolicy\": "
	                       "\"apps:web:digest\"}\n");
	assert_string_equal(
	        notes.ptr,
	        "values.yaml:2: setter 'apps:web:digest' emptied: its policy "
	        "reflects no digest (spec.digestReflectionPolicy), and the old "
	        "one beside a new tag would run the old image\n");
	/* once empty, nothing more to say */
	buf_reset(&notes);
	wb_changes_release(&ch);
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, &o, &ch, &e), 0);
	assert_int_equal(ch.n, 0);
	assert_int_equal(notes.len, 0);
	free(p);
	buf_release(&notes);
	wb_changes_release(&ch);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__notes_a_marker_of_a_policy_not_given(void **state)
{
	char *dir = tmpdir();
	struct wb_changes ch = WB_CHANGES_INIT;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct buf notes = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	write_file(dir, "a.yaml",
	           "a: x:1 # {\"$imagepolicy\": \"apps:nosuch\"}\n"
	           "b: x:1 # {\"$imagepolicy\": \"apps:web:colour\"}\n");
	o.notes = &notes;
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, &o, &ch, &e), 0);
	assert_int_equal(ch.n, 0);
	assert_string_equal(notes.ptr,
	                    "a.yaml:1: setter 'apps:nosuch' names no "
	                    "ImagePolicy of this update; left alone\n"
	                    "a.yaml:2: setter 'apps:web:colour' has a suffix "
	                    "other than tag, name or digest; left alone\n");
	buf_release(&notes);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__applies_to_one_file_given_instead_of_a_directory(void **state)
{
	char *dir = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	(void)state;
	write_file(dir, "a.yaml",
	           "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	           "\"apps:web\"}\n");
	write_file(dir, "b.yaml",
	           "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	           "\"apps:web\"}\n");
	write_file(dir, "notes.txt",
	           "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	           "\"apps:web\"}\n");
	/* the command opens the file's directory as the root */
	assert_int_equal(
	        setters_in(dir, "a.yaml", &web_policy, 1, NULL, &ch, &e), 0);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].file, "a.yaml");
	p = read_file(dir, "a.yaml");
	assert_non_null(strstr(p, "web:1.10 #"));
	free(p);
	p = read_file(dir, "b.yaml");
	assert_non_null(strstr(p, "web:1.9 #"));
	free(p);
	/* a file setters are not read from: says what to give */
	assert_int_equal(
	        setters_in(dir, "notes.txt", &web_policy, 1, NULL, &ch, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "'notes.txt' is a file, and setters are "
	                              "read from *.yaml, *.yml and "
	                              "Kustomization files only"));
	wb_changes_release(&ch);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__dry_run_writes_nothing_and_returns_the_diff(void **state)
{
	static const char text[] =
	        "a: 1\nimage: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	        "\"apps:web\"}\n";
	char *dir = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct buf diff = BUF_INIT;
	struct yamledit_opts o = { true, &diff };
	struct err e = ERR_INIT;

	(void)state;
	write_file(dir, "a.yaml", text);
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, &o, &ch, &e), 0);
	assert_int_equal(ch.n, 1);
	assert_int_equal(ch.v[0].line, 2);
	p = read_file(dir, "a.yaml");
	assert_string_equal(p, text);
	assert_non_null(strstr(diff.ptr, "--- a/a.yaml\n+++ b/a.yaml\n"));
	assert_non_null(strstr(
	        diff.ptr, "+image: ghcr.io/org/web:1.10 # {\"$imagepolicy\""));
	free(p);
	buf_release(&diff);
	wb_changes_release(&ch);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__changes_carry_object_identity(void **state)
{
	char *orig = fixture("tests/writeback/fixtures/setters/original");
	char *pfile = fixture("tests/writeback/fixtures/setters/policies");
	char *dir = tmpdir(), *store = NULL;
	struct setters_policy pol[16];
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	size_t n, found = 0;

	(void)state;
	n = load_policies(pfile, pol, 16, &store);
	copy_tree(orig, dir);
	setters_in(dir, ".", pol, n, NULL, &ch, &e);
	for (size_t i = 0; i < ch.n; i++) {
		if (strcmp(ch.v[i].file, "multidoc.yaml") != 0)
			continue;
		found++;
		assert_string_equal(ch.v[i].namespace_, "backend");
		if (ch.v[i].line == 23) {
			assert_string_equal(ch.v[i].kind, "Deployment");
			assert_string_equal(ch.v[i].api_version, "apps/v1");
			assert_string_equal(ch.v[i].name, "api");
		} else {
			assert_int_equal(ch.v[i].line, 39);
			assert_string_equal(ch.v[i].kind, "CronJob");
			assert_string_equal(ch.v[i].name, "api-migrate");
		}
		assert_string_equal(ch.v[i].setter, "apps:api");
		assert_string_equal(
		        ch.v[i].new_value,
		        "registry.local:5000/team/api:2.0.1@" DIGEST);
	}
	assert_int_equal(found, 2);
	rm_tree(dir);
	free(dir);
	free(store);
	free(orig);
	free(pfile);
	wb_changes_release(&ch);
}

static void
test_setters__does_not_follow_symlinks_out_of_the_root(void **state)
{
	static const char text[] =
	        "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	        "\"apps:web\"}\n";
	char *out = tmpdir(), *root = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf a = BUF_INIT, b = BUF_INIT, c = BUF_INIT;

	(void)state;
	write_file(out, "outside.yaml", text);
	write_file(root, "inside.yaml", text);
	buf_addf(&a, "%s/outside.yaml", out);
	buf_addf(&b, "%s/link.yaml", root);
	buf_addf(&c, "%s/linkdir", root);
	assert_int_equal(symlink(a.ptr, b.ptr), 0);
	assert_int_equal(symlink(out, c.ptr), 0);
	/* a link inside the root to a file the walk also reaches: one edit;
	 * an absolute link is refused even when it points inside */
	buf_reset(&a);
	buf_reset(&b);
	buf_addf(&a, "%s/inside.yaml", root);
	buf_addf(&b, "%s/inlink.yaml", root);
	assert_int_equal(symlink("inside.yaml", b.ptr), 0);
	buf_reset(&c);
	buf_addf(&c, "%s/abslink.yaml", root);
	assert_int_equal(symlink(a.ptr, c.ptr), 0);
	buf_reset(&c);
	buf_addf(&c, "%s/linkdir", root);
	assert_int_equal(setters_in(root, ".", &web_policy, 1, NULL, &ch, &e),
	                 0);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].file, "inside.yaml");
	assert_int_equal(ch.nfiles, 1);
	assert_string_equal(ch.files[0], "inside.yaml");
	{
		struct stat st;
		assert_int_equal(lstat(b.ptr, &st), 0);
		assert_true(S_ISLNK(st.st_mode));
	}
	p = read_file(out, "outside.yaml");
	assert_string_equal(p, text);
	free(p);
	/* the update path itself may not leave the root */
	assert_int_equal(
	        setters_in(root, "../x", &web_policy, 1, NULL, &ch, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, ".."));
	assert_int_equal(
	        setters_in(root, "linkdir", &web_policy, 1, NULL, &ch, &e),
	        -ERR_INVALID);
	assert_int_equal(
	        setters_in(root, "/etc", &web_policy, 1, NULL, &ch, &e),
	        -ERR_INVALID);
	buf_release(&a);
	buf_release(&b);
	buf_release(&c);
	wb_changes_release(&ch);
	rm_tree(root);
	rm_tree(out);
	free(root);
	free(out);
}

static void
test_setters__only_walks_the_update_path(void **state)
{
	static const char text[] =
	        "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	        "\"apps:web\"}\n";
	char *root = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf d = BUF_INIT;

	(void)state;
	buf_addf(&d, "%s/yes", root);
	mkdir(d.ptr, 0755);
	buf_reset(&d);
	buf_addf(&d, "%s/no", root);
	mkdir(d.ptr, 0755);
	write_file(root, "yes/a.yaml", text);
	write_file(root, "no/a.yaml", text);
	assert_int_equal(
	        setters_in(root, "./yes", &web_policy, 1, NULL, &ch, &e), 0);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].file, "yes/a.yaml");
	p = read_file(root, "no/a.yaml");
	assert_string_equal(p, text);
	free(p);
	buf_release(&d);
	wb_changes_release(&ch);
	rm_tree(root);
	free(root);
}

static void
test_setters__reports_a_marker_on_a_block_scalar_and_keeps_the_file(
        void **state)
{
	static const char text[] =
	        "image: |  # {\"$imagepolicy\": \"apps:web\"}\n"
	        "  ghcr.io/org/web:1.9\n"
	        "tag: 1.9 # {\"$imagepolicy\": \"apps:web:tag\"}\n";
	char *dir = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	(void)state;
	write_file(dir, "a.yaml", text);
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, NULL, &ch, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "block scalars"));
	p = read_file(dir, "a.yaml");
	assert_string_equal(p, text);
	free(p);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__keeps_the_file_mode(void **state)
{
	char *dir = tmpdir();
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf path = BUF_INIT;
	struct stat st;

	(void)state;
	write_file(dir, "a.yml",
	           "image: x:1 # {\"$imagepolicy\": \"apps:web:tag\"}\n");
	buf_addf(&path, "%s/a.yml", dir);
	assert_int_equal(chmod(path.ptr, 0600), 0);
	assert_int_equal(setters_in(dir, ".", &web_policy, 1, NULL, &ch, &e),
	                 0);
	assert_int_equal(stat(path.ptr, &st), 0);
	assert_int_equal(st.st_mode & 07777, 0600);
	buf_release(&path);
	wb_changes_release(&ch);
	rm_tree(dir);
	free(dir);
}

static void
test_setters__policy_argument_splits_image_tag_and_digest(void **state)
{
	char a[] = "ns:p=127.0.0.1:5000/team/app:1.2@" DIGEST;
	char b[] = "ns:p=app";
	char c[] = "nocolon=app:1";
	char d[] = "ns:p=app:1\n#";
	struct setters_policy p;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(setters_policy_parse(&p, a, &e), 0);
	assert_string_equal(p.namespace_, "ns");
	assert_string_equal(p.name, "p");
	assert_string_equal(p.image, "127.0.0.1:5000/team/app");
	assert_string_equal(p.tag, "1.2");
	assert_string_equal(p.digest, DIGEST);
	assert_int_equal(setters_policy_parse(&p, b, &e), 0);
	assert_string_equal(p.tag, "");
	assert_int_equal(setters_policy_parse(&p, c, &e), -ERR_INVALID);
	assert_int_equal(setters_policy_parse(&p, d, &e), -ERR_INVALID);
}

static void
test_setters__a_pool_gives_the_result_of_the_caller_alone(void **state)
{
	char *orig = fixture("tests/writeback/fixtures/setters/original");
	char *want = fixture("tests/writeback/fixtures/setters/expected");
	char *pfile = fixture("tests/writeback/fixtures/setters/policies");
	char *a = tmpdir(), *b = tmpdir(), *store = NULL;
	struct setters_policy pol[16];
	struct wb_changes ca = WB_CHANGES_INIT, cb = WB_CHANGES_INIT;
	struct buf da = BUF_INIT, db = BUF_INIT;
	struct yamledit_opts oa = YAMLEDIT_OPTS_INIT, ob = YAMLEDIT_OPTS_INIT;
	struct pool *pool = NULL;
	struct err e = ERR_INIT;
	size_t n;

	(void)state;
	n = load_policies(pfile, pol, 16, &store);
	copy_tree(orig, a);
	copy_tree(orig, b);
	assert_int_equal(pool_new(&pool, 3, &e), 0);
	ob.pool = pool;
	assert_int_equal(setters_in(a, ".", pol, n, &oa, &ca, &e),
	                 -ERR_INVALID);
	assert_int_equal(setters_in(b, ".", pol, n, &ob, &cb, &e),
	                 -ERR_INVALID);
	assert_tree(a, want, orig, "");
	assert_tree(b, want, orig, "");
	assert_int_equal(ca.n, cb.n);
	for (size_t i = 0; i < ca.n; i++) {
		assert_string_equal(ca.v[i].file, cb.v[i].file);
		assert_int_equal(ca.v[i].line, cb.v[i].line);
		assert_string_equal(ca.v[i].setter, cb.v[i].setter);
	}
	assert_int_equal(ca.nfiles, cb.nfiles);
	for (size_t i = 0; i < ca.nfiles; i++)
		assert_string_equal(ca.files[i], cb.files[i]);
	/* and the dry-run diffs come in the same order */
	wb_changes_release(&ca);
	wb_changes_release(&cb);
	rm_tree(a);
	rm_tree(b);
	copy_tree(orig, a);
	copy_tree(orig, b);
	oa.dry_run = ob.dry_run = true;
	oa.diff = &da;
	ob.diff = &db;
	setters_in(a, ".", pol, n, &oa, &ca, &e);
	setters_in(b, ".", pol, n, &ob, &cb, &e);
	assert_true(da.len > 0);
	assert_string_equal(da.ptr, db.ptr);
	pool_free(pool);
	buf_release(&da);
	buf_release(&db);
	wb_changes_release(&ca);
	wb_changes_release(&cb);
	rm_tree(a);
	rm_tree(b);
	free(a);
	free(b);
	free(store);
	free(orig);
	free(want);
	free(pfile);
}

/*
 * A tree with a way out: root/deploy/linkdir -> ../../outside (a
 * directory beside the root holding files with private lines), and
 * root/nested/inner -> ../deploy, which stays inside but leads to the
 * link that does not.
 */
struct escape {
	char *top, root[256], outside[256];
};

static void
escape_init(struct escape *x)
{
	static const char marked[] =
	        "# private line\n"
	        "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	        "\"apps:web\"}\n";
	static const char kust[] = "# private line\n"
	                           "images:\n- name: app\n  newTag: '1'\n";
	struct buf p = BUF_INIT;

	x->top = tmpdir();
	snprintf(x->root, sizeof(x->root), "%s/root", x->top);
	snprintf(x->outside, sizeof(x->outside), "%s/outside", x->top);
	assert_int_equal(mkdir(x->root, 0755), 0);
	assert_int_equal(mkdir(x->outside, 0755), 0);
	write_file(x->outside, "app.yaml", marked);
	write_file(x->outside, "kustomization.yaml", kust);
	write_file(x->outside, "values.yaml", "# private line\ntag: '1'\n");
	buf_addf(&p, "%s/deploy", x->root);
	assert_int_equal(mkdir(p.ptr, 0755), 0);
	buf_reset(&p);
	buf_addf(&p, "%s/nested", x->root);
	assert_int_equal(mkdir(p.ptr, 0755), 0);
	buf_reset(&p);
	buf_addf(&p, "%s/deploy/linkdir", x->root);
	assert_int_equal(symlink("../../outside", p.ptr), 0);
	buf_reset(&p);
	buf_addf(&p, "%s/nested/inner", x->root);
	assert_int_equal(symlink("../deploy", p.ptr), 0);
	buf_reset(&p);
	buf_addf(&p, "%s/deploy/values.yaml", x->root);
	assert_int_equal(symlink("../../outside/values.yaml", p.ptr), 0);
	buf_reset(&p);
	buf_addf(&p, "%s/deploy/kustomization.yaml", x->root);
	assert_int_equal(symlink("linkdir/kustomization.yaml", p.ptr), 0);
	buf_release(&p);
}

/* Nothing outside changed, and no diff or message shows its content. */
static void
escape_check(struct escape *x, const struct buf *diff, const struct err *e)
{
	char *p = read_file(x->outside, "app.yaml");

	assert_non_null(strstr(p, "web:1.9 #"));
	free(p);
	p = read_file(x->outside, "kustomization.yaml");
	assert_non_null(strstr(p, "newTag: '1'"));
	free(p);
	p = read_file(x->outside, "values.yaml");
	assert_string_equal(p, "# private line\ntag: '1'\n");
	free(p);
	assert_null(strstr(diff->ptr, "private"));
	assert_null(strstr(e->msg, "private"));
}

static void
escape_release(struct escape *x)
{
	rm_tree(x->top);
	free(x->top);
}

static void
test_setters__update_path_through_a_link_leading_outside_is_refused(
        void **state)
{
	static const char *const paths[] = {
		"deploy/linkdir",          "nested/inner/linkdir",
		"deploy/linkdir/app.yaml", "../outside",
		"deploy/../../outside",    NULL
	};
	struct escape x;
	struct buf diff = BUF_INIT;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct err e = ERR_INIT;

	(void)state;
	escape_init(&x);
	for (int dry = 0; dry < 2; dry++) {
		o.dry_run = dry;
		o.diff = &diff;
		for (int i = 0; paths[i]; i++) {
			struct wb_changes ch = WB_CHANGES_INIT;
			assert_int_equal(setters_in(x.root, paths[i],
			                            &web_policy, 1, &o, &ch,
			                            &e),
			                 -ERR_INVALID);
			assert_int_equal(ch.n, 0);
			escape_check(&x, &diff, &e);
		}
		/* a walk of the whole root does not enter them either */
		{
			struct wb_changes ch = WB_CHANGES_INIT;
			assert_int_equal(setters_in(x.root, ".", &web_policy, 1,
			                            &o, &ch, &e),
			                 0);
			assert_int_equal(ch.n, 0);
			escape_check(&x, &diff, &e);
		}
	}
	assert_string_equal(diff.ptr, "");
	buf_release(&diff);
	escape_release(&x);
}

static void
test_setters__a_linked_file_inside_is_edited_once_at_its_target(void **state)
{
	static const char text[] =
	        "image: ghcr.io/org/web:1.9 # {\"$imagepolicy\": "
	        "\"apps:web\"}\n";
	char *root = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf d = BUF_INIT;
	struct stat st;

	(void)state;
	buf_addf(&d, "%s/shared", root);
	assert_int_equal(mkdir(d.ptr, 0755), 0);
	buf_reset(&d);
	buf_addf(&d, "%s/deploy", root);
	assert_int_equal(mkdir(d.ptr, 0755), 0);
	write_file(root, "shared/app.yaml", text);
	buf_reset(&d);
	buf_addf(&d, "%s/deploy/app.yaml", root);
	assert_int_equal(symlink("../shared/app.yaml", d.ptr), 0);
	/* only the link is under the update path: its target is written */
	assert_int_equal(
	        setters_in(root, "deploy", &web_policy, 1, NULL, &ch, &e), 0);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].file, "deploy/app.yaml");
	assert_int_equal(ch.nfiles, 1);
	assert_string_equal(ch.files[0], "shared/app.yaml");
	assert_int_equal(lstat(d.ptr, &st), 0);
	assert_true(S_ISLNK(st.st_mode));
	p = read_file(root, "shared/app.yaml");
	assert_non_null(strstr(p, "web:1.10 #"));
	free(p);
	buf_release(&d);
	wb_changes_release(&ch);
	rm_tree(root);
	free(root);
}

/* ---- kustomize ---- */

static void
test_kustomize__refuses_a_directory_or_file_leading_outside(void **state)
{
	static const char *const dirs[] = { "deploy/linkdir",
		                            "nested/inner/linkdir",
		                            "../outside", "deploy", NULL };
	char arg[] = "app:2";
	struct kustomize_image im;
	struct escape x;
	struct buf diff = BUF_INIT;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct fsroot *r = NULL;
	struct err e = ERR_INIT;

	(void)state;
	escape_init(&x);
	assert_int_equal(kustomize_image_parse(&im, arg, &e), 0);
	assert_int_equal(fsroot_open(&r, x.root, 0, &e), 0);
	for (int dry = 0; dry < 2; dry++) {
		o.dry_run = dry;
		o.diff = &diff;
		for (int i = 0; dirs[i]; i++) {
			struct wb_changes ch = WB_CHANGES_INIT;
			char *entry = NULL;
			/* deploy/kustomization.yaml is itself a link out */
			int want = strcmp(dirs[i], "deploy") == 0
			                   ? -ERR_NOTFOUND
			                   : -ERR_INVALID;
			assert_int_equal(kustomize_set_images(r, dirs[i], &im,
			                                      1, &o, &ch, &e),
			                 want);
			escape_check(&x, &diff, &e);
			assert_int_equal(kustomize_image_entry(
			                         &entry, r, dirs[i], "app", &e),
			                 want == -ERR_NOTFOUND ? 0 : want);
			assert_null(entry);
			assert_int_equal(ch.n, 0);
		}
	}
	assert_string_equal(diff.ptr, "");
	fsroot_free(r);
	buf_release(&diff);
	escape_release(&x);
}

static void
test_kustomize__image_entry_is_found_by_name_or_new_name(void **state)
{
	char *dir = tmpdir();
	struct fsroot *r = NULL;
	struct err e = ERR_INIT;
	char *entry = NULL;

	(void)state;
	write_file(dir, "kustomization.yaml",
	           "images:\n- name: app\n  newName: ghcr.io/org/app\n"
	           "- name: ghcr.io/org/db\n  newTag: '1'\n");
	assert_int_equal(fsroot_open(&r, dir, 0, &e), 0);
	assert_int_equal(
	        kustomize_image_entry(&entry, r, ".", "ghcr.io/org/app", &e),
	        0);
	assert_string_equal(entry, "app");
	free(entry);
	assert_int_equal(
	        kustomize_image_entry(&entry, r, "", "ghcr.io/org/db", &e), 0);
	assert_string_equal(entry, "ghcr.io/org/db");
	free(entry);
	assert_int_equal(kustomize_image_entry(&entry, r, ".", "other", &e), 0);
	assert_null(entry);
	fsroot_free(r);
	rm_tree(dir);
	free(dir);
}

static void
test_kustomize__image_argument_parses_like_kustomize_edit_set_image(
        void **state)
{
	char a[] = "nginx:1.27";
	char b[] = "app=127.0.0.1:5000/team/app:1.1.0";
	char c[] = "127.0.0.1:5000/x@" DIGEST;
	char d[] = "app=mirror/app";
	char e1[] = "app";
	char f[] = "app:1.0\nx: y";
	struct kustomize_image im;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(kustomize_image_parse(&im, a, &e), 0);
	assert_string_equal(im.name, "nginx");
	assert_string_equal(im.new_tag, "1.27");
	assert_null(im.new_name);
	assert_null(im.digest);
	assert_int_equal(kustomize_image_parse(&im, b, &e), 0);
	assert_string_equal(im.name, "app");
	assert_string_equal(im.new_name, "127.0.0.1:5000/team/app");
	assert_string_equal(im.new_tag, "1.1.0");
	assert_int_equal(kustomize_image_parse(&im, c, &e), 0);
	assert_string_equal(im.name, "127.0.0.1:5000/x");
	assert_string_equal(im.digest, DIGEST);
	assert_null(im.new_tag);
	assert_int_equal(kustomize_image_parse(&im, d, &e), 0);
	assert_string_equal(im.new_name, "mirror/app");
	assert_null(im.new_tag);
	assert_int_equal(kustomize_image_parse(&im, e1, &e), -ERR_INVALID);
	assert_int_equal(kustomize_image_parse(&im, f, &e), -ERR_INVALID);
}

static void
test_kustomize__fixture_cases_match_expected_byte_for_byte(void **state)
{
	static const char *const cases[] = {
		"update-tag",    "append-entry",
		"create-images", "null-images",
		"flow-empty",    "replace-and-remove",
		"crlf",          NULL
	};
	static const char *const names[] = { "kustomization.yaml",
		                             "kustomization.yml",
		                             "Kustomization", NULL };

	(void)state;
	for (int i = 0; cases[i]; i++) {
		struct buf rel = BUF_INIT;
		char *src, *dir = tmpdir(), *args, *want = NULL;
		struct kustomize_image im[8];
		struct wb_changes ch = WB_CHANGES_INIT;
		struct err e = ERR_INIT;
		size_t n = 0;
		char *p;

		buf_addf(&rel, "tests/writeback/fixtures/kustomize/%s",
		         cases[i]);
		src = fixture(rel.ptr);
		copy_tree(src, dir);
		args = read_file(src, "args");
		for (p = strtok_r(args, "\n", &want); p;
		     p = strtok_r(NULL, "\n", &want))
			assert_int_equal(kustomize_image_parse(&im[n++], p, &e),
			                 0);
		assert_int_equal(kustomize_in(dir, im, n, NULL, &ch, &e), 0);
		assert_true(ch.n > 0);
		for (int k = 0; names[k]; k++) {
			struct buf w = BUF_INIT, g = BUF_INIT;
			struct err e2 = ERR_INIT;
			buf_addf(&w, "%s/expected/%s", src, names[k]);
			buf_addf(&g, "%s/%s", dir, names[k]);
			if (access(w.ptr, F_OK) == 0) {
				struct buf a = BUF_INIT, b = BUF_INIT;
				assert_int_equal(file_read(&a, w.ptr, &e2), 0);
				assert_int_equal(file_read(&b, g.ptr, &e2), 0);
				assert_int_equal(a.len, b.len);
				assert_memory_equal(a.ptr, b.ptr, a.len);
				buf_release(&a);
				buf_release(&b);
			}
			buf_release(&w);
			buf_release(&g);
		}
		/* a second run finds nothing to do */
		wb_changes_release(&ch);
		assert_int_equal(kustomize_in(dir, im, n, NULL, &ch, &e), 0);
		assert_int_equal(ch.n, 0);
		free(args);
		rm_tree(dir);
		free(dir);
		free(src);
		buf_release(&rel);
	}
}

static void
test_kustomize__star_keeps_what_the_entry_has_as_kustomize_does(void **state)
{
	char *dir = tmpdir(), *p;
	struct kustomize_image im[3];
	char a0[] = "app=*:1.2.0", a1[] = "db:*", a2[] = "new=*:2.0";
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	(void)state;
	write_file(dir, "kustomization.yaml",
	           "images:\n"
	           "  - name: app\n"
	           "    newName: ghcr.io/org/app\n"
	           "    newTag: 1.0.0\n"
	           "  - name: db\n"
	           "    newTag: \"15\"\n"
	           "    digest: sha256:1111111111111111111111111111111111111111"
	           "111111111111111111111111\n");
	assert_int_equal(kustomize_image_parse(&im[0], a0, &e), 0);
	assert_string_equal(im[0].new_name, "*");
	assert_int_equal(kustomize_image_parse(&im[1], a1, &e), 0);
	assert_int_equal(kustomize_image_parse(&im[2], a2, &e), 0);
	assert_int_equal(kustomize_in(dir, im, 3, NULL, &ch, &e), 0);
	p = read_file(dir, "kustomization.yaml");
	/* app keeps its newName; db keeps its tag and, not given, loses its
	 * digest; a new entry has no newName to keep */
	assert_string_equal(p, "images:\n"
	                       "  - name: app\n"
	                       "    newName: ghcr.io/org/app\n"
	                       "    newTag: 1.2.0\n"
	                       "  - name: db\n"
	                       "    newTag: \"15\"\n"
	                       "  - name: new\n"
	                       "    newTag: \"2.0\"\n");
	free(p);
	wb_changes_release(&ch);
	rm_tree(dir);
	free(dir);
}

static void
test_kustomize__refuses_what_it_cannot_edit_and_leaves_the_file(void **state)
{
	static const char *const bad[] = {
		"images: [{name: app, newTag: '1'}]\n",
		"images:\n- {name: app, newTag: '1'}\n",
		"- a\n- b\n",
		"a: 1\n---\nb: 2\n",
		"images:\n- newTag: '1'\n  name: app\n",
		"images: [\n",
		NULL,
	};
	char arg[] = "app@" DIGEST;
	struct kustomize_image im;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(kustomize_image_parse(&im, arg, &e), 0);
	for (int i = 0; bad[i]; i++) {
		char *dir = tmpdir(), *p;
		struct wb_changes ch = WB_CHANGES_INIT;
		write_file(dir, "kustomization.yaml", bad[i]);
		assert_int_equal(kustomize_in(dir, &im, 1, NULL, &ch, &e),
		                 -ERR_INVALID);
		p = read_file(dir, "kustomization.yaml");
		assert_string_equal(p, bad[i]);
		free(p);
		rm_tree(dir);
		free(dir);
	}
	{
		char *dir = tmpdir();
		struct wb_changes ch = WB_CHANGES_INIT;
		assert_int_equal(kustomize_in(dir, &im, 1, NULL, &ch, &e),
		                 -ERR_NOTFOUND);
		rm_tree(dir);
		free(dir);
	}
}

/* ---- helm ---- */

static void
test_helm__sets_existing_and_creates_missing_keys(void **state)
{
	static const char text[] = "image:\n    repository: nginx\n"
	                           "    tag: '1.25' # pinned\n"
	                           "side:\n  - image: a:1\n";
	static const char want[] = "image:\n    repository: nginx\n"
	                           "    tag: '1.26' # pinned\n"
	                           "    digest: " DIGEST "\n"
	                           "side:\n  - image: a:2\n"
	                           "    pullPolicy: Always\n";
	char *dir = tmpdir(), *p;
	char a1[] = "image.tag=1.26", a2[] = "image.digest=" DIGEST,
	     a3[] = "side[0].image=a:2", a4[] = "side[0].pullPolicy=Always";
	struct helm_value v[4];
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf path = BUF_INIT;

	(void)state;
	write_file(dir, "values.yaml", text);
	buf_addf(&path, "%s/values.yaml", dir);
	assert_int_equal(helm_value_parse(&v[0], a1, &e), 0);
	assert_int_equal(helm_value_parse(&v[1], a2, &e), 0);
	assert_int_equal(helm_value_parse(&v[2], a3, &e), 0);
	assert_int_equal(helm_value_parse(&v[3], a4, &e), 0);
	assert_int_equal(
	        helm_in(dir, "values.yaml", "values.yaml", v, 4, NULL, &ch, &e),
	        0);
	p = read_file(dir, "values.yaml");
	assert_string_equal(p, want);
	assert_int_equal(ch.n, 4);
	assert_string_equal(ch.v[0].setter, "image.tag");
	assert_string_equal(ch.v[0].old_value, "1.25");
	assert_int_equal(ch.v[0].line, 3);
	free(p);
	buf_release(&path);
	wb_changes_release(&ch);
	rm_tree(dir);
	free(dir);
}

static void
test_helm__refuses_missing_indexes_flow_mappings_and_bad_values(void **state)
{
	static const char text[] = "side:\n- image: a:1\nres: {a: 1}\n";
	static const char *const keys[] = { "side[3].image", "res.b",
		                            "side.image", "side[0].image.x",
		                            NULL };
	char *dir = tmpdir(), *p;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf path = BUF_INIT;
	struct helm_value v;
	char bad1[] = "image.tag=1.0\nevil: 1", bad2[] = "image..tag=1",
	     bad3[] = "image.tag", bad4[] = "a[x]=1";

	(void)state;
	write_file(dir, "values.yaml", text);
	buf_addf(&path, "%s/values.yaml", dir);
	for (int i = 0; keys[i]; i++) {
		v.key = keys[i];
		v.value = "b:2";
		assert_int_equal(
		        helm_in(dir, "values.yaml", NULL, &v, 1, NULL, &ch, &e),
		        -ERR_INVALID);
	}
	p = read_file(dir, "values.yaml");
	assert_string_equal(p, text);
	free(p);
	assert_int_equal(helm_value_parse(&v, bad1, &e), -ERR_INVALID);
	assert_int_equal(helm_value_parse(&v, bad2, &e), -ERR_INVALID);
	assert_int_equal(helm_value_parse(&v, bad3, &e), -ERR_INVALID);
	assert_int_equal(helm_value_parse(&v, bad4, &e), -ERR_INVALID);
	buf_release(&path);
	rm_tree(dir);
	free(dir);
}

static void
test_helm__a_values_file_linked_outside_is_refused_inside_followed(void **state)
{
	char a1[] = "tag=2";
	struct helm_value v;
	struct escape x;
	struct buf diff = BUF_INIT, d = BUF_INIT;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct fsroot *r = NULL;
	struct err e = ERR_INIT;
	char *p;

	(void)state;
	escape_init(&x);
	assert_int_equal(helm_value_parse(&v, a1, &e), 0);
	assert_int_equal(fsroot_open(&r, x.root, 0, &e), 0);
	o.diff = &diff;
	for (int dry = 0; dry < 2; dry++) {
		o.dry_run = dry;
		assert_int_equal(helm_set_values(r, "deploy/values.yaml", NULL,
		                                 &v, 1, &o, &ch, &e),
		                 -ERR_INVALID);
		escape_check(&x, &diff, &e);
		assert_int_equal(helm_set_values(r,
		                                 "deploy/linkdir/values.yaml",
		                                 NULL, &v, 1, &o, &ch, &e),
		                 -ERR_INVALID);
		escape_check(&x, &diff, &e);
		assert_int_equal(helm_set_values(r, "../outside/values.yaml",
		                                 NULL, &v, 1, &o, &ch, &e),
		                 -ERR_INVALID);
		escape_check(&x, &diff, &e);
	}
	assert_int_equal(ch.n, 0);
	/* a link that stays inside: the target is written, the link kept */
	write_file(x.root, "nested/values.yaml", "tag: '1'\n");
	buf_addf(&d, "%s/deploy/prod.yaml", x.root);
	assert_int_equal(symlink("../nested/values.yaml", d.ptr), 0);
	o.dry_run = false;
	assert_int_equal(helm_set_values(r, "deploy/prod.yaml", NULL, &v, 1, &o,
	                                 &ch, &e),
	                 0);
	assert_int_equal(ch.n, 1);
	assert_string_equal(ch.v[0].file, "deploy/prod.yaml");
	assert_int_equal(ch.nfiles, 1);
	assert_string_equal(ch.files[0], "nested/values.yaml");
	p = read_file(x.root, "nested/values.yaml");
	assert_string_equal(p, "tag: '2'\n");
	free(p);
	fsroot_free(r);
	buf_release(&d);
	buf_release(&diff);
	wb_changes_release(&ch);
	escape_release(&x);
}

static void
test_setters__a_mapping_of_many_keys_costs_linear_time(void **state)
{
	struct setters_policy pol;
	struct yamledit_opts o = YAMLEDIT_OPTS_INIT;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;
	struct buf y = BUF_INIT;
	char *dir = tmpdir(), arg[] = "ns:app=reg.example/app:2.0.0", *got;

	(void)state;
	/* 200,000 keys in one mapping, a marker on every tenth: finding a
	 * value's key walked the mapping from its start, so this took
	 * minutes (80,000 keys: 13.8 s); now it is linear. */
	for (int i = 0; i < 200000; i++)
		buf_addf(&y, "k%d: reg.example/app:1.0.0%s\n", i,
		         i % 10 ? "" : " # {\"$imagepolicy\": \"ns:app\"}");
	assert_true(buf_ok(&y));
	write_file(dir, "big.yaml", y.ptr);
	assert_int_equal(setters_policy_parse(&pol, arg, &e), 0);
	if (setters_in(dir, ".", &pol, 1, &o, &ch, &e) != 0)
		fail_msg("%s", e.msg);
	assert_int_equal(ch.n, 20000);
	got = read_file(dir, "big.yaml");
	assert_non_null(strstr(got, "k199990: reg.example/app:2.0.0 #"));
	assert_non_null(strstr(got, "k199991: reg.example/app:1.0.0\n"));
	free(got);
	wb_changes_release(&ch);
	buf_release(&y);
	rm_tree(dir);
	free(dir);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_yamledit__renders_number_like_values_double_quoted_in_plain_style),
		cmocka_unit_test(
		        test_yamledit__keeps_single_and_double_quote_styles),
		cmocka_unit_test(
		        test_yamledit__value_check_rejects_yaml_injection),
		cmocka_unit_test(
		        test_yamledit__value_check_accepts_references_tags_and_digests),
		cmocka_unit_test(
		        test_yamledit__maps_marks_to_bytes_in_utf8_and_crlf_files),
		cmocka_unit_test(
		        test_yamledit__refuses_a_file_that_does_not_parse),
		cmocka_unit_test(
		        test_yamledit__apply_refuses_an_edit_that_changes_other_content),
		cmocka_unit_test(
		        test_yamledit__diff_is_a_unified_diff_with_context),
		cmocka_unit_test(
		        test_setters__fixture_tree_matches_expected_byte_for_byte),
		cmocka_unit_test(test_setters__flux_peer_cases_match_expected),
		cmocka_unit_test(test_setters__up_to_date_file_is_not_written),
		cmocka_unit_test(
		        test_setters__empties_a_digest_its_policy_does_not_reflect_and_notes_it),
		cmocka_unit_test(
		        test_setters__notes_a_marker_of_a_policy_not_given),
		cmocka_unit_test(
		        test_setters__applies_to_one_file_given_instead_of_a_directory),
		cmocka_unit_test(
		        test_setters__dry_run_writes_nothing_and_returns_the_diff),
		cmocka_unit_test(test_setters__changes_carry_object_identity),
		cmocka_unit_test(
		        test_setters__does_not_follow_symlinks_out_of_the_root),
		cmocka_unit_test(test_setters__only_walks_the_update_path),
		cmocka_unit_test(
		        test_setters__reports_a_marker_on_a_block_scalar_and_keeps_the_file),
		cmocka_unit_test(test_setters__keeps_the_file_mode),
		cmocka_unit_test(
		        test_setters__policy_argument_splits_image_tag_and_digest),
		cmocka_unit_test(
		        test_setters__a_pool_gives_the_result_of_the_caller_alone),
		cmocka_unit_test(
		        test_setters__update_path_through_a_link_leading_outside_is_refused),
		cmocka_unit_test(
		        test_setters__a_linked_file_inside_is_edited_once_at_its_target),
		cmocka_unit_test(
		        test_kustomize__image_argument_parses_like_kustomize_edit_set_image),
		cmocka_unit_test(
		        test_kustomize__fixture_cases_match_expected_byte_for_byte),
		cmocka_unit_test(
		        test_kustomize__star_keeps_what_the_entry_has_as_kustomize_does),
		cmocka_unit_test(
		        test_kustomize__refuses_what_it_cannot_edit_and_leaves_the_file),
		cmocka_unit_test(
		        test_kustomize__refuses_a_directory_or_file_leading_outside),
		cmocka_unit_test(
		        test_kustomize__image_entry_is_found_by_name_or_new_name),
		cmocka_unit_test(
		        test_helm__sets_existing_and_creates_missing_keys),
		cmocka_unit_test(
		        test_helm__refuses_missing_indexes_flow_mappings_and_bad_values),
		cmocka_unit_test(
		        test_helm__a_values_file_linked_outside_is_refused_inside_followed),
		cmocka_unit_test(
		        test_setters__a_mapping_of_many_keys_costs_linear_time),
	};

	int rc;

	git_libgit2_init(); /* the diff is libgit2's */
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
