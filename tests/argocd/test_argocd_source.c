/*
 * test_argocd_source.c - Argo CD's override files edited byte for byte
 * (writeback/argocd.h): new files in Argo CD Image Updater's shape,
 * merges into what a file holds, the readers, discovery and the template
 * data of commit messages and branch names.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsroot.h"
#include "base/util.h"
#include "writeback/argocd.h"
#include "writeback/template_model.h"

struct fx {
	char dir[64];
	struct fsroot *root;
};

static int
setup(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));
	struct err e = ERR_INIT;

	snprintf(f->dir, sizeof(f->dir), "/dev/shm/ferry-argocd-XXXXXX");
	assert_non_null(mkdtemp(f->dir));
	assert_int_equal(fsroot_open(&f->root, f->dir, 0, &e), 0);
	*state = f;
	return 0;
}

static int
teardown(void **state)
{
	struct fx *f = *state;
	struct err e = ERR_INIT;

	fsroot_free(f->root);
	dir_remove_all(f->dir, &e);
	free(f);
	return 0;
}

static void
put(struct fx *f, const char *rel, const char *text)
{
	struct buf p = BUF_INIT;
	struct err e = ERR_INIT;
	char *slash;

	buf_addf(&p, "%s/%s", f->dir, rel);
	slash = strrchr(p.ptr, '/');
	*slash = '\0';
	dir_make_all(p.ptr, 0755, &e);
	*slash = '/';
	assert_int_equal(file_write_atomic(p.ptr, text, strlen(text), 0644, &e),
	                 0);
	buf_release(&p);
}

/* The file's bytes (NULL when it does not exist); the caller frees. */
static char *
get(struct fx *f, const char *rel)
{
	struct buf p = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;
	int rc;

	buf_addf(&p, "%s/%s", f->dir, rel);
	rc = file_read(&out, p.ptr, &e);
	buf_release(&p);
	if (rc < 0) {
		buf_release(&out);
		return NULL;
	}
	{
		char *text = buf_detach(&out);

		return text ? text : strdup("");
	}
}

static void
assert_file(struct fx *f, const char *rel, const char *want)
{
	char *got = get(f, rel);

	assert_non_null(got);
	assert_string_equal(got, want);
	free(got);
}

/* ---- kustomize.images ---- */

static void
test_argocd_source__writes_a_new_kustomize_file_in_argo_cds_shape(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "reg.example.com/team/web:1.2.0",
		               "side=ghcr.io/org/side:2.0@sha256:"
		               "0123456789abcdef0123456789abcdef" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	mkdir(f->dir, 0755);
	put(f, "apps/web/kustomization.yaml", "resources: []\n");
	assert_int_equal(argocd_source_kustomize(
	                         f->root, "apps/web/.argocd-source-web.yaml",
	                         imgs, 2, NULL, &ch, &e),
	                 0);
	assert_file(f, "apps/web/.argocd-source-web.yaml",
	            "kustomize:\n"
	            "  images:\n"
	            "  - reg.example.com/team/web:1.2.0\n"
	            "  - side=ghcr.io/org/side:2.0@sha256:"
	            "0123456789abcdef0123456789abcdef\n");
	assert_int_equal(ch.n, 2);
	assert_string_equal(ch.v[0].setter,
	                    "kustomize.images[reg.example.com/team/web]");
	assert_int_equal(ch.v[1].line, 4);
	assert_int_equal(ch.nfiles, 1);
	assert_string_equal(ch.files[0], "apps/web/.argocd-source-web.yaml");
	wb_changes_release(&ch);
}

static void
test_argocd_source__merges_kustomize_images_byte_for_byte(void **state)
{
	struct fx *f = *state;
	/* the same image written with docker.io, a new one, and one whose
	 * version did not change */
	const char *imgs[] = { "jannfis/foobar:1.0.1", "org/new:3",
		               "org/same:1.0" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	put(f, "a.yaml",
	    "# kept\n"
	    "kustomize:\n"
	    "  images:\n"
	    "    - existing:latest   # a comment\n"
	    "    - docker.io/jannfis/foobar:1.0.0\n"
	    "\n"
	    "    - org/same:1.0\n"
	    "helm:\n"
	    "  parameters: []\n");
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 3,
	                                         NULL, &ch, &e),
	                 0);
	assert_file(f, "a.yaml",
	            "# kept\n"
	            "kustomize:\n"
	            "  images:\n"
	            "    - existing:latest   # a comment\n"
	            "    - jannfis/foobar:1.0.1\n"
	            "\n"
	            "    - org/same:1.0\n"
	            "    - org/new:3\n"
	            "helm:\n"
	            "  parameters: []\n");
	assert_int_equal(ch.n, 2);
	assert_string_equal(ch.v[0].old_value,
	                    "docker.io/jannfis/foobar:1.0.0");
	assert_int_equal(ch.v[0].line, 5);
	assert_int_equal(ch.v[1].line, 8);
	wb_changes_release(&ch);
}

/* `kustomize edit set image` keys an entry on the name before '=': an
 * ALIAS=NAME:TAG entry is the image ALIAS, whatever NAME it points to. */
static void
test_argocd_source__matches_an_aliased_entry_on_its_alias(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "app=reg.example.com/team/web:2.0",
		               "reg.example.com/team/other:3" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	put(f, "a.yaml",
	    "kustomize:\n"
	    "  images:\n"
	    "  - app=reg.example.com/team/old:1.0\n"
	    "  - reg.example.com/team/web:0.9\n"
	    "  - other=reg.example.com/team/other:1\n");
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 2,
	                                         NULL, &ch, &e),
	                 0);
	assert_file(f, "a.yaml",
	            "kustomize:\n"
	            "  images:\n"
	            "  - app=reg.example.com/team/web:2.0\n"
	            "  - reg.example.com/team/web:0.9\n"
	            "  - other=reg.example.com/team/other:1\n"
	            "  - reg.example.com/team/other:3\n");
	assert_int_equal(ch.n, 2);
	assert_string_equal(ch.v[0].old_value,
	                    "app=reg.example.com/team/old:1.0");
	wb_changes_release(&ch);
	/* run again: what it wrote is found, nothing changes */
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 2,
	                                         NULL, &ch, &e),
	                 0);
	assert_int_equal(ch.n, 0);
	wb_changes_release(&ch);
}

static void
test_argocd_source__keeps_an_entry_when_the_new_one_has_no_version(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "org/web" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	put(f, "a.yaml", "kustomize:\n  images:\n  - org/web:1.0\n");
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 0);
	assert_file(f, "a.yaml", "kustomize:\n  images:\n  - org/web:1.0\n");
	assert_int_equal(ch.n, 0);
	assert_int_equal(ch.nfiles, 0);
	wb_changes_release(&ch);
}

static void
test_argocd_source__adds_the_missing_keys_at_their_indentation(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "org/web:2" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	put(f, "a.yaml", "helm:\n  parameters: []\n");
	put(f, "b.yaml", "kustomize:\n  namePrefix: x-\n");
	put(f, "c.yaml", "kustomize:\n  images: []\n");
	put(f, "d.yaml", "kustomize:\n");
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 0);
	assert_int_equal(argocd_source_kustomize(f->root, "b.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 0);
	assert_int_equal(argocd_source_kustomize(f->root, "c.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 0);
	assert_int_equal(argocd_source_kustomize(f->root, "d.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 0);
	assert_file(f, "a.yaml",
	            "helm:\n  parameters: []\n"
	            "kustomize:\n  images:\n  - org/web:2\n");
	assert_file(f, "b.yaml",
	            "kustomize:\n  namePrefix: x-\n  images:\n  - org/web:2\n");
	assert_file(f, "c.yaml", "kustomize:\n  images:\n  - org/web:2\n");
	assert_file(f, "d.yaml", "kustomize:\n  images:\n  - org/web:2\n");
	wb_changes_release(&ch);
}

static void
test_argocd_source__refuses_a_file_of_another_shape(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "org/web:2" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	put(f, "a.yaml", "random content\n");
	put(f, "b.yaml", "kustomize:\n  images: [org/web:1]\n");
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "not overwritten"));
	assert_file(f, "a.yaml", "random content\n");
	assert_int_equal(argocd_source_kustomize(f->root, "b.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "block list"));
	assert_int_equal(ch.n, 0);
	wb_changes_release(&ch);
}

static void
test_argocd_source__refuses_a_value_outside_the_grammar(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "org/web:1 # x" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 1,
	                                         NULL, &ch, &e),
	                 -ERR_INVALID);
	assert_null(get(f, "a.yaml"));
	wb_changes_release(&ch);
}

static void
test_argocd_source__diffs_without_writing_in_a_dry_run(void **state)
{
	struct fx *f = *state;
	const char *imgs[] = { "org/web:2" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct yamledit_opts yo = YAMLEDIT_OPTS_INIT;
	struct buf diff = BUF_INIT;
	struct err e = ERR_INIT;

	yo.dry_run = true;
	yo.diff = &diff;
	put(f, "a.yaml", "kustomize:\n  images:\n  - org/web:1\n");
	assert_int_equal(argocd_source_kustomize(f->root, "a.yaml", imgs, 1,
	                                         &yo, &ch, &e),
	                 0);
	assert_file(f, "a.yaml", "kustomize:\n  images:\n  - org/web:1\n");
	assert_non_null(strstr(diff.ptr, "-  - org/web:1\n+  - org/web:2\n"));
	assert_int_equal(ch.n, 1);
	buf_release(&diff);
	wb_changes_release(&ch);
}

/* ---- helm.parameters ---- */

static void
test_argocd_source__writes_a_new_helm_file_sorted_by_name(void **state)
{
	struct fx *f = *state;
	const struct argocd_helm_param p[] = {
		{ "image.tag", "1.2.3" },
		{ "image.name", "nginx" },
	};
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(
	        argocd_source_helm(f->root, "s.yaml", p, 2, NULL, &ch, &e), 0);
	assert_file(f, "s.yaml",
	            "helm:\n"
	            "  parameters:\n"
	            "  - name: image.name\n"
	            "    value: nginx\n"
	            "    forcestring: true\n"
	            "  - name: image.tag\n"
	            "    value: 1.2.3\n"
	            "    forcestring: true\n");
	assert_int_equal(ch.n, 2);
	assert_int_equal(ch.v[0].line, 4);
	assert_int_equal(ch.v[1].line, 7);
	wb_changes_release(&ch);
}

static void
test_argocd_source__merges_helm_parameters_byte_for_byte(void **state)
{
	struct fx *f = *state;
	const struct argocd_helm_param p[] = {
		{ "image.tag", "1.10" },
		{ "a.first", "org/a" },
		{ "image.name", "nginx" },
		{ "zzz", "org/z" },
	};
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	put(f, "s.yaml",
	    "helm:\n"
	    "  parameters:\n"
	    "  # the chart's image\n"
	    "  - name: image.name\n"
	    "    value: nginx\n"
	    "    forcestring: false\n"
	    "  - name: image.tag\n"
	    "    value: '1.2'   # pinned\n"
	    "  - name: replicas\n"
	    "    value: \"2\"\n");
	if (argocd_source_helm(f->root, "s.yaml", p, 4, NULL, &ch, &e) < 0)
		fail_msg("%s", e.msg);
	assert_file(f, "s.yaml",
	            "helm:\n"
	            "  parameters:\n"
	            "  # the chart's image\n"
	            "  - name: a.first\n"
	            "    value: org/a\n"
	            "    forcestring: true\n"
	            "  - name: image.name\n"
	            "    value: nginx\n"
	            "    forcestring: true\n"
	            "  - name: image.tag\n"
	            "    value: '1.10'   # pinned\n"
	            "    forcestring: true\n"
	            "  - name: replicas\n"
	            "    value: \"2\"\n"
	            "  - name: zzz\n"
	            "    value: org/z\n"
	            "    forcestring: true\n");
	wb_changes_release(&ch);
}

static void
test_argocd_source__updates_every_entry_of_a_name(void **state)
{
	struct fx *f = *state;
	const struct argocd_helm_param p[] = { { "image.tag", "2.0" } };
	const char *imgs[] = { "org/web:2.0" };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	/* Helm takes the last --set of a name: a stale duplicate would win */
	put(f, "h.yaml",
	    "helm:\n  parameters:\n  - name: image.tag\n    value: x\n"
	    "  - name: image.tag\n    value: 1\n    forcestring: true\n");
	put(f, "k.yaml",
	    "kustomize:\n  images:\n  - org/web:1\n"
	    "  - docker.io/org/web:1\n");
	if (argocd_source_helm(f->root, "h.yaml", p, 1, NULL, &ch, &e) < 0 ||
	    argocd_source_kustomize(f->root, "k.yaml", imgs, 1, NULL, &ch, &e) <
	            0)
		fail_msg("%s", e.msg);
	assert_file(f, "h.yaml",
	            "helm:\n  parameters:\n  - name: image.tag\n"
	            "    value: \"2.0\"\n    forcestring: true\n"
	            "  - name: image.tag\n    value: \"2.0\"\n"
	            "    forcestring: true\n");
	assert_file(f, "k.yaml",
	            "kustomize:\n  images:\n  - org/web:2.0\n"
	            "  - org/web:2.0\n");
	assert_int_equal(ch.n, 4);
	wb_changes_release(&ch);
}

static void
test_argocd_source__quotes_a_helm_value_that_would_read_as_a_number(
        void **state)
{
	struct fx *f = *state;
	const struct argocd_helm_param p[] = { { "image.tag", "1.10" } };
	struct wb_changes ch = WB_CHANGES_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(
	        argocd_source_helm(f->root, "s.yaml", p, 1, NULL, &ch, &e), 0);
	assert_file(f, "s.yaml",
	            "helm:\n  parameters:\n  - name: image.tag\n"
	            "    value: \"1.10\"\n    forcestring: true\n");
	wb_changes_release(&ch);
}

/* ---- readers ---- */

static void
test_argocd_source__reads_what_a_target_holds(void **state)
{
	struct fx *f = *state;
	struct argocd_kustomize_entry k;
	struct err e = ERR_INIT;
	char *v = NULL;

	put(f, "o.yaml",
	    "kustomize:\n  images:\n  - docker.io/org/web:1.0\n"
	    "helm:\n  parameters:\n  - {name: image.tag, value: 2.0@sha256:"
	    "0123456789abcdef0123456789abcdef}\n");
	put(f, "values.yaml",
	    "image:\n  tag: 3.0\n"
	    "sidecars:\n  - image: org/a:1\n  - image: org/b:2\n"
	    "literal.key: 4.0\n");
	put(f, "k/kustomization.yaml",
	    "images:\n  - name: org/web\n    newName: reg/org/web\n"
	    "    newTag: 5.0\n");
	assert_int_equal(argocd_source_kustomize_get(&v, f->root, "o.yaml",
	                                             "org/web", &e),
	                 0);
	assert_string_equal(v, "docker.io/org/web:1.0");
	free(v);
	assert_int_equal(
	        argocd_source_helm_get(&v, f->root, "o.yaml", "image.tag", &e),
	        0);
	assert_string_equal(v, "2.0@sha256:0123456789abcdef0123456789abcdef");
	free(v);
	assert_int_equal(
	        argocd_values_get(&v, f->root, "values.yaml", "image.tag", &e),
	        0);
	assert_string_equal(v, "3.0");
	free(v);
	assert_int_equal(argocd_values_get(&v, f->root, "values.yaml",
	                                   "sidecars[1].image", &e),
	                 0);
	assert_string_equal(v, "org/b:2");
	free(v);
	assert_int_equal(argocd_values_get(&v, f->root, "values.yaml",
	                                   "literal.key", &e),
	                 0);
	assert_string_equal(v, "4.0");
	free(v);
	assert_int_equal(
	        argocd_values_get(&v, f->root, "missing.yaml", "image.tag", &e),
	        0);
	assert_null(v);
	assert_int_equal(
	        argocd_kustomization_get(&k, f->root, "k", "org/web", &e), 0);
	assert_string_equal(k.new_name, "reg/org/web");
	assert_string_equal(k.new_tag, "5.0");
	assert_null(k.digest);
	argocd_kustomize_entry_release(&k);
	assert_int_equal(
	        argocd_kustomization_get(&k, f->root, ".", "org/web", &e),
	        -ERR_NOTFOUND);
}

static void
test_argocd_source__reads_the_image_a_directorys_manifests_run(void **state)
{
	struct fx *f = *state;
	struct err e = ERR_INIT;
	char *v = NULL;

	put(f, "app/kustomization.yaml",
	    "images:\n- name: org/web\n  newTag: 9.9\n");
	put(f, "app/a.yaml", "not: [valid\n");
	put(f, "app/b.yaml",
	    "kind: Deployment\nspec:\n  template:\n    spec:\n"
	    "      containers:\n        - name: side\n"
	    "          image: org/side:1.0\n"
	    "        - name: web\n"
	    "          image: docker.io/org/web:2.1@sha256:"
	    "0123456789abcdef0123456789abcdef\n");
	put(f, "app/sub/c.yaml", "image: org/web:3.0\n");
	assert_int_equal(
	        argocd_manifests_image_get(&v, f->root, "app", "org/web", &e),
	        0);
	assert_string_equal(v, "2.1@sha256:0123456789abcdef0123456789abcdef");
	free(v);
	assert_int_equal(
	        argocd_manifests_image_get(&v, f->root, "app", "org/none", &e),
	        0);
	assert_null(v);
}

static void
test_argocd_source__finds_the_type_as_argo_cd_does(void **state)
{
	struct fx *f = *state;
	enum argocd_app_type t;
	struct err e = ERR_INIT;

	put(f, "helm/Chart.yaml", "name: x\n");
	put(f, "both/Chart.yaml", "name: x\n");
	put(f, "both/kustomization.yml", "resources: []\n");
	put(f, "kust/Kustomization", "resources: []\n");
	put(f, "plain/deploy.yaml", "kind: Deployment\n");
	assert_int_equal(argocd_app_type_detect(&t, f->root, "helm", &e), 0);
	assert_int_equal(t, ARGOCD_APP_HELM);
	assert_int_equal(argocd_app_type_detect(&t, f->root, "both", &e), 0);
	assert_int_equal(t, ARGOCD_APP_KUSTOMIZE);
	assert_int_equal(argocd_app_type_detect(&t, f->root, "kust", &e), 0);
	assert_int_equal(t, ARGOCD_APP_KUSTOMIZE);
	assert_int_equal(argocd_app_type_detect(&t, f->root, "plain", &e), 0);
	assert_int_equal(t, ARGOCD_APP_DIRECTORY);
	assert_int_equal(argocd_app_type_detect(&t, f->root, "none", &e),
	                 -ERR_NOTFOUND);
}

static void
test_argocd_source__splits_kustomize_image_strings(void **state)
{
	struct argocd_image_ref r;

	(void)state;
	argocd_image_ref_split(&r, "a=reg:5000/org/app:1.0@sha256:abc");
	assert_int_equal(r.alias_len, 1);
	assert_int_equal(r.name_len, 16);
	assert_int_equal(r.tag_len, 3);
	assert_string_equal(r.digest, "sha256:abc");
	argocd_image_ref_split(&r, "reg:5000/org/app");
	assert_null(r.alias);
	assert_null(r.tag);
	assert_int_equal(r.name_len, 16);
	assert_true(
	        argocd_image_same("nginx", 5, "docker.io/library/nginx", 23));
	assert_true(argocd_image_same("org/a", 5, "index.docker.io/org/a", 21));
	assert_false(argocd_image_same("org/a", 5, "ghcr.io/org/a", 13));
}

/* ---- template data ---- */

static char *
render(const char *tmpl, bool branch)
{
	const struct argocd_change c[] = {
		{ "example/example", "ex", "1.0.0", "1.0.1" },
		{ "example/updater", "", "sha256:01", "sha256:7a" },
	};
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *v = NULL;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(template_parse(&t, tmpl, strlen(tmpl), false, &e), 0);
	assert_int_equal(template_data_new(&d), 0);
	if (branch)
		assert_int_equal(argocd_branch_data(d, "argocd", "guestbook",
		                                    "a1b2c3d4", c, 2, &v, &e),
		                 0);
	else
		assert_int_equal(
		        argocd_message_data(d, "example-app", c, 2, &v, &e), 0);
	assert_int_equal(template_execute(t, v, &out, &e), 0);
	template_data_free(d);
	template_free(t);
	return buf_detach(&out);
}

static void
test_argocd_source__renders_the_default_commit_message(void **state)
{
	char *m = render(TEMPLATE_ARGOCD_DEFAULT_TEMPLATE, false);

	(void)state;
	/* what `argocd-image-updater template` prints for its example */
	assert_string_equal(m, "build: automatic update of example-app\n\n"
	                       "updates image example/example tag '1.0.0' to "
	                       "'1.0.1'\n"
	                       "updates image example/updater tag 'sha256:01' "
	                       "to 'sha256:7a'\n");
	free(m);
	m = render("{{ range .AppChanges }}{{ len .Labels }}{{ end }}", false);
	assert_string_equal(m, "00");
	free(m);
}

static void
test_argocd_source__renders_branch_names_with_their_data(void **state)
{
	char *m = render("up/{{.AppNamespace}}/{{.AppName}}/{{.TargetKey}}/"
	                 "{{range .Images}}{{.Name}}:{{.Alias}}:{{.OldTag}}:"
	                 "{{.NewTag}};{{end}}",
	                 true);

	(void)state;
	assert_string_equal(m, "up/argocd/guestbook/a1b2c3d4/"
	                       "example/example:ex:1.0.0:1.0.1;"
	                       "example/updater::sha256:01:sha256:7a;");
	free(m);
	/* sha256("example/example-1.0.0-1.0.1,example/updater-sha256:01-"
	 * "sha256:7a,") */
	m = render("{{.SHA256}}", true);
	assert_string_equal(m, "90764731a6368e93b6e09652238411d3b475b5ec46ba"
	                       "9c7fd9d8a44af2cbcacd");
	free(m);
}

static void
test_argocd_source__keys_the_target_as_argo_cd_does(void **state)
{
	char key[9];

	(void)state;
	/* sha256("https://git/a.git|main|apps/.argocd-source-a.yaml")[:8] */
	argocd_target_key(key, "https://git/a.git", "main",
	                  "apps/.argocd-source-a.yaml");
	assert_string_equal(key, "cd826aa7");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
#define T(n) cmocka_unit_test_setup_teardown(n, setup, teardown)
		T(test_argocd_source__writes_a_new_kustomize_file_in_argo_cds_shape),
		T(test_argocd_source__merges_kustomize_images_byte_for_byte),
		T(test_argocd_source__keeps_an_entry_when_the_new_one_has_no_version),
		T(test_argocd_source__matches_an_aliased_entry_on_its_alias),
		T(test_argocd_source__adds_the_missing_keys_at_their_indentation),
		T(test_argocd_source__refuses_a_file_of_another_shape),
		T(test_argocd_source__refuses_a_value_outside_the_grammar),
		T(test_argocd_source__diffs_without_writing_in_a_dry_run),
		T(test_argocd_source__writes_a_new_helm_file_sorted_by_name),
		T(test_argocd_source__merges_helm_parameters_byte_for_byte),
		T(test_argocd_source__updates_every_entry_of_a_name),
		T(test_argocd_source__quotes_a_helm_value_that_would_read_as_a_number),
		T(test_argocd_source__reads_what_a_target_holds),
		T(test_argocd_source__reads_the_image_a_directorys_manifests_run),
		T(test_argocd_source__finds_the_type_as_argo_cd_does),
		T(test_argocd_source__splits_kustomize_image_strings),
		T(test_argocd_source__renders_the_default_commit_message),
		T(test_argocd_source__renders_branch_names_with_their_data),
		T(test_argocd_source__keys_the_target_as_argo_cd_does),
#undef T
	};

	git_libgit2_init(); /* the dry run's diff is libgit2's */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
