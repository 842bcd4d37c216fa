/*
 * test_reconcile.c - the reconciler's parts (core/reconcile): command
 * words, Flux's post-build substitution, manifests split and checked,
 * rendering plain YAML and kustomizations (with the kustomize on the
 * machine), and directory targets with prune and drift.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "reconcile/reconcile.h"

/* ---- helpers ---- */

static char *
tmpdir(void)
{
	char tmpl[] = "/dev/shm/ferry-reconcile-XXXXXX";
	char *d = mkdtemp(tmpl);

	if (d == NULL) {
		char t2[] = "/tmp/ferry-reconcile-XXXXXX";
		d = mkdtemp(t2);
		assert_non_null(d);
		return strdup(d);
	}
	return strdup(d);
}

static void
rmtree(char *dir)
{
	struct err e = ERR_INIT;

	dir_remove_all(dir, &e);
	free(dir);
}

static void
write_file(const char *dir, const char *rel, const char *text)
{
	char path[4096];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	{
		char *slash = strrchr(path, '/');
		struct err e = ERR_INIT;
		*slash = '\0';
		assert_int_equal(dir_make_all(path, 0755, &e), 0);
		*slash = '/';
	}
	f = fopen(path, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
}

static char *
read_text(const char *dir, const char *rel)
{
	char path[4096];
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	char *s;

	if (file_read(&b, path, &e) < 0)
		return NULL;
	s = buf_detach(&b);
	return s ? s : strdup("");
}

static bool
exists(const char *dir, const char *rel)
{
	char path[4096];
	struct stat st;

	snprintf(path, sizeof(path), "%s/%s", dir, rel);
	return lstat(path, &st) == 0;
}

static char *
subst(const char *text, const char *const *kv)
{
	struct config_strmap vars = { 0 };
	char *keys[16], *values[16];
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	for (size_t i = 0; kv && kv[2 * i]; i++) {
		keys[i] = (char *)kv[2 * i];
		values[i] = (char *)kv[2 * i + 1];
		vars.n++;
	}
	vars.keys = keys;
	vars.values = values;
	if (reconcile_substitute(&out, text, strlen(text), &vars, &e) < 0) {
		buf_release(&out);
		return strdup(e.msg);
	}
	return out.ptr ? buf_detach(&out) : strdup("");
}

#define EXPECT_SUBST(want, text, ...)                                          \
	do {                                                                   \
		const char *kv_[] = { __VA_ARGS__, NULL };                     \
		char *got_ = subst(text, kv_);                                 \
		assert_string_equal(got_, want);                               \
		free(got_);                                                    \
	} while (0)

/* ---- words ---- */

static void
test_words__split_like_a_shell_without_expansion(void **state)
{
	char **argv = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(reconcile_words(&argv,
	                                 "kubectl apply  --server-side -f - "
	                                 "'a b' \"c \\\"d\\\" $HOME\" e\\ f ~",
	                                 &e),
	                 0);
	assert_string_equal(argv[0], "kubectl");
	assert_string_equal(argv[3], "-f");
	assert_string_equal(argv[4], "-");
	assert_string_equal(argv[5], "a b");
	assert_string_equal(argv[6], "c \"d\" $HOME");
	assert_string_equal(argv[7], "e f");
	assert_string_equal(argv[8], "~");
	assert_null(argv[9]);
	reconcile_words_free(argv);
}

static void
test_words__unterminated_quotes_and_empty_lines_are_errors(void **state)
{
	char **argv = NULL;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(reconcile_words(&argv, "sh -c 'echo", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "unterminated"));
	assert_int_equal(reconcile_words(&argv, "  \t ", &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "empty"));
	assert_null(argv);
}

/* ---- commands ---- */

static void
test_command__gets_stdin_and_environment(void **state)
{
	const char *env[] = { "FERRY_NAME=web", NULL };
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(
	        reconcile_command_run("apply command",
	                              "sh -c 'cat; echo \"$FERRY_NAME\"'", env,
	                              "in\n", 3, 5000, &out, NULL, &e),
	        0);
	assert_string_equal(out.ptr, "in\nweb\n");
	buf_release(&out);
}

static void
test_command__a_failure_quotes_its_last_line(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(reconcile_command_run("pre-sync hook",
	                                       "sh -c 'echo one >&2; echo "
	                                       "\"it broke\" >&2; exit 3'",
	                                       NULL, NULL, 0, 5000, NULL, NULL,
	                                       &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "pre-sync hook"));
	assert_non_null(strstr(e.msg, "status 3"));
	assert_non_null(strstr(e.msg, "it broke"));
	assert_int_equal(reconcile_command_run("x", "/nonexistent/ferry-cmd",
	                                       NULL, NULL, 0, 5000, NULL, NULL,
	                                       &e),
	                 -ERR_NOTFOUND);
	assert_int_equal(reconcile_command_run("x", "sleep 5", NULL, NULL, 0,
	                                       200, NULL, NULL, &e),
	                 -ERR_TRANSIENT);
}

/* ---- substitution ---- */

static void
test_substitute__replaces_braced_variables_only(void **state)
{
	(void)state;
	EXPECT_SUBST("image: app:1.2 $TAG $", "image: app:${TAG} $TAG $", "TAG",
	             "1.2");
	EXPECT_SUBST("a ${TAG} b $x", "a $${TAG} b $$x", "TAG", "1.2");
	EXPECT_SUBST("n: ", "n: ${UNSET}", "TAG", "1");
	EXPECT_SUBST("${1x} ${} ${ }", "${1x} ${} ${ }", "TAG", "1");
}

static void
test_substitute__knows_the_bash_string_forms(void **state)
{
	(void)state;
	EXPECT_SUBST("def def set set", "${U:-def} ${U:=def} ${S:-x} ${S-y}",
	             "S", "set");
	EXPECT_SUBST(" x", "${E-x} ${E:-x}", "E", "");
	EXPECT_SUBST("5 Hello HELLO hello", "${#V} ${V^} ${V^^} ${W,,}", "V",
	             "hello", "W", "HeLLo");
	EXPECT_SUBST("ell ello lo", "${V:1:3} ${V:1} ${V: -2}", "V", "hello");
	EXPECT_SUBST("prod-eu eu-west eu-west-1.x",
	             "${R/eu-west-1/prod-eu} ${R%-1} ${R//-/-}.x", "R",
	             "eu-west-1");
	EXPECT_SUBST("west-1 eu-west", "${R#eu-} ${R%%-1}", "R", "eu-west-1");
	EXPECT_SUBST("b-b A-b", "${X//a/b} ${X/#a/A}", "X", "a-b");
	EXPECT_SUBST("fallback", "${A:-${B}}", "B", "fallback");
}

static void
test_substitute__an_unterminated_expression_names_its_line(void **state)
{
	(void)state;
	EXPECT_SUBST("line 2: '${' without its '}'", "a: 1\nb: ${X\n", "X",
	             "1");
	EXPECT_SUBST("line 1: '${X@Q}' is not a substitution ferry knows",
	             "${X@Q}", "X", "1");
}

static void
test_substitute__variable_names_are_checked(void **state)
{
	struct config_strmap vars = { 0 };
	char *k[] = { "cluster-name" }, *v[] = { "x" };
	struct err e = ERR_INIT;

	(void)state;
	vars.keys = k;
	vars.values = v;
	vars.n = 1;
	assert_int_equal(reconcile_vars_check(&vars, &e), -ERR_INVALID);
	assert_non_null(strstr(e.msg, "cluster-name"));
}

/* ---- manifests ---- */

static const char two_objects[] =
        "---\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        "  name: web\n"
        "  namespace: demo\n"
        "spec:\n"
        "  template: {spec: {containers: [{name: web, image: 'app:${TAG}'}]}}\n"
        "--- # the namespace\n"
        "apiVersion: v1\n"
        "kind: Namespace\n"
        "metadata:\n"
        "  name: demo\n"
        "  annotations: {kustomize.toolkit.fluxcd.io/substitute: disabled}\n"
        "  labels: {x: '${TAG}'}\n"
        "---\n"
        "# nothing but a comment\n"
        "...\n";

static void
test_manifests__split_named_sorted_and_substituted(void **state)
{
	struct reconcile_manifests m;
	struct config_strmap vars = { 0 };
	char *k[] = { "TAG" }, *v[] = { "1.2.3" };
	struct err e = ERR_INIT;

	(void)state;
	vars.keys = k;
	vars.values = v;
	vars.n = 1;
	assert_int_equal(reconcile_manifests_parse(&m, two_objects,
	                                           strlen(two_objects), &vars,
	                                           &e),
	                 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].file, "deployment_demo_web.yaml");
	assert_string_equal(m.v[0].id, "demo_web_apps_Deployment");
	assert_non_null(strstr(m.v[0].text, "image: 'app:1.2.3'"));
	assert_string_equal(m.v[1].file, "namespace_demo.yaml");
	assert_string_equal(m.v[1].id, "_demo__Namespace");
	assert_null(m.v[1].namespace_);
	/* opted out: the text is kept as rendered */
	assert_non_null(strstr(m.v[1].text, "x: '${TAG}'"));
	assert_int_equal(strlen(m.digest), 64);
	reconcile_manifests_release(&m);
}

static void
test_manifests__a_document_that_is_no_object_is_an_error(void **state)
{
	static const char *const bad[][2] = {
		{ "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {}\n",
		  "has no metadata.name" },
		{ "---\nkind: ConfigMap\nmetadata: {name: x}\n",
		  "has no apiVersion" },
		{ "---\n- a\n- b\n", "is not a Kubernetes object" },
		{ "---\napiVersion: v1\nkind: List\nmetadata: {name: x}\n",
		  "is a List" },
		{ "# first\n---\napiVersion: v1\nkind: ConfigMap\n"
		  "metadata: {name: ../../etc}\n",
		  "not a Kubernetes name" },
		{ "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n"
		  "---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n",
		  "rendered twice" },
		{ "---\napiVersion: v1\nkind: [\n", "not YAML" },
		{ "--- --- {apiVersion: v1, kind: ConfigMap, metadata: {name: "
		  "x}}\nt\n",
		  "not YAML" },
	};
	struct err e = ERR_INIT;
	struct reconcile_manifests m;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
		err_clear(&e);
		assert_int_equal(reconcile_manifests_parse(&m, bad[i][0],
		                                           strlen(bad[i][0]),
		                                           NULL, &e),
		                 -ERR_INVALID);
		if (strstr(e.msg, bad[i][1]) == NULL)
			fail_msg("case %zu: '%s' lacks '%s'", i, e.msg,
			         bad[i][1]);
	}
	/* the position: the fifth case's object is document 2, line 2 */
	assert_int_equal(reconcile_manifests_parse(&m, bad[4][0],
	                                           strlen(bad[4][0]), NULL, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "document 2 (line 3)"));
}

/* ---- render ---- */

static void
test_render__plain_yaml_files_in_path_order(void **state)
{
	char *root = tmpdir();
	struct buf out = BUF_INIT;
	struct reconcile_manifests m;
	struct err e = ERR_INIT;

	(void)state;
	write_file(root, "deploy/b.yaml",
	           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\n");
	write_file(root, "deploy/a/c.yml",
	           "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\n");
	write_file(root, "deploy/notes.txt", "not yaml");
	write_file(root, "deploy/.hidden.yaml", "broken: [");
	assert_int_equal(reconcile_render(&out, root, "./deploy", NULL, &e), 0);
	assert_int_equal(
	        reconcile_manifests_parse(&m, out.ptr, out.len, NULL, &e), 0);
	assert_int_equal(m.n, 2);
	assert_string_equal(m.v[0].file, "configmap_b.yaml");
	assert_string_equal(m.v[1].file, "configmap_c.yaml");
	reconcile_manifests_release(&m);
	buf_release(&out);
	assert_int_equal(reconcile_render(&out, root, "deploy/../..", NULL, &e),
	                 -ERR_INVALID);
	assert_int_equal(reconcile_render(&out, root, "missing", NULL, &e),
	                 -ERR_NOTFOUND);
	buf_release(&out);
	rmtree(root);
}

static void
test_render__a_kustomization_is_built_by_the_machines_kustomize(void **state)
{
	char *root = tmpdir();
	struct buf out = BUF_INIT;
	struct reconcile_manifests m;
	struct err e = ERR_INIT;

	(void)state;
	write_file(root, "app/deployment.yaml",
	           "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: "
	           "web}\nspec:\n  template:\n    spec:\n      containers:\n"
	           "        - {name: web, image: 'reg/app:1.0.0'}\n");
	write_file(root, "app/kustomization.yaml",
	           "resources: [deployment.yaml]\n");
	write_file(root, "prod/kustomization.yaml",
	           "resources: [../app]\nnamePrefix: prod-\n"
	           "images: [{name: reg/app, newTag: 2.0.0}]\n");
	assert_int_equal(reconcile_render(&out, root, "prod", NULL, &e), 0);
	assert_int_equal(
	        reconcile_manifests_parse(&m, out.ptr, out.len, NULL, &e), 0);
	assert_int_equal(m.n, 1);
	assert_string_equal(m.v[0].file, "deployment_prod-web.yaml");
	assert_non_null(strstr(m.v[0].text, "reg/app:2.0.0"));
	reconcile_manifests_release(&m);
	buf_release(&out);
	/* a broken kustomization: kustomize's own message */
	write_file(root, "bad/kustomization.yaml",
	           "resources: [nothere.yaml]\n");
	assert_int_equal(reconcile_render(&out, root, "bad", NULL, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "kustomize"));
	buf_release(&out);
	rmtree(root);
}

static void
test_render__without_kustomize_the_error_says_what_to_install(void **state)
{
	char *root = tmpdir();
	char *path = strdup(getenv("PATH") ? getenv("PATH") : "/usr/bin");
	struct reconcile_render_opts o = RECONCILE_RENDER_OPTS_INIT;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	write_file(root, "k/kustomization.yaml", "resources: []\n");
	/* the test process is alone: PATH may change for one call */
	setenv("PATH", "/nonexistent", 1);
	assert_int_equal(reconcile_render(&out, root, "k", NULL, &e),
	                 -ERR_NOTFOUND);
	setenv("PATH", path, 1);
	assert_non_null(strstr(e.msg, "neither 'kustomize' nor 'kubectl'"));
	o.kustomize = "/nonexistent/kustomize build";
	assert_int_equal(reconcile_render(&out, root, "k", &o, &e),
	                 -ERR_NOTFOUND);
	assert_non_null(strstr(e.msg, "/nonexistent/kustomize"));
	buf_release(&out);
	free(path);
	rmtree(root);
}

/* ---- directory targets ---- */

static void
parse(struct reconcile_manifests *m, const char *yaml)
{
	struct err e = ERR_INIT;

	assert_int_equal(
	        reconcile_manifests_parse(m, yaml, strlen(yaml), NULL, &e), 0);
}

static const char set1[] =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: 1}\n"
        "---\n"
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: b}\ndata: {v: 1}\n";
static const char set2[] =
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {v: 2}\n";

static void
test_dir__writes_the_set_then_prunes_what_is_no_longer_rendered(void **state)
{
	char *root = tmpdir(), target[4200];
	struct reconcile_manifests m1, m2;
	struct reconcile_dir_result r, r2;
	struct err e = ERR_INIT;
	char *text;

	(void)state;
	snprintf(target, sizeof(target), "%s/out/app", root);
	parse(&m1, set1);
	parse(&m2, set2);
	assert_int_equal(reconcile_dir_sync(&r, target, &m1, NULL, NULL, true,
	                                    false, &e),
	                 0);
	assert_true(r.written);
	assert_int_equal(r.created.n, 2);
	assert_true(exists(target, "configmap_a.yaml"));
	assert_true(exists(target, "configmap_b.yaml"));
	/* the second sync: a changed, b gone */
	assert_int_equal(reconcile_dir_sync(&r2, target, &m2, &r.inventory,
	                                    NULL, true, false, &e),
	                 0);
	assert_int_equal(r2.configured.n, 1);
	assert_int_equal(r2.deleted.n, 1);
	assert_string_equal(r2.deleted.v[0], "configmap_b.yaml");
	assert_int_equal(r2.modified.n + r2.added.n + r2.removed.n, 0);
	assert_false(exists(target, "configmap_b.yaml"));
	text = read_text(target, "configmap_a.yaml");
	assert_non_null(strstr(text, "v: 2"));
	free(text);
	/* nothing left beside it: the old set was removed */
	{
		char parent[4200];
		struct dirent *d;
		DIR *dir;
		int n = 0;
		snprintf(parent, sizeof(parent), "%s/out", root);
		dir = opendir(parent);
		assert_non_null(dir);
		while ((d = readdir(dir)) != NULL)
			n += d->d_name[0] != '.';
		closedir(dir);
		assert_int_equal(n, 1);
	}
	reconcile_dir_result_release(&r);
	reconcile_dir_result_release(&r2);
	reconcile_manifests_release(&m1);
	reconcile_manifests_release(&m2);
	rmtree(root);
}

static void
test_dir__drift_is_reported_and_corrected(void **state)
{
	char *root = tmpdir(), target[4200];
	struct reconcile_manifests m;
	struct reconcile_dir_result r, dry, fix, again;
	struct err e = ERR_INIT;
	char *text;

	(void)state;
	snprintf(target, sizeof(target), "%s/app", root);
	parse(&m, set1);
	assert_int_equal(
	        reconcile_dir_sync(&r, target, &m, NULL, NULL, true, false, &e),
	        0);
	write_file(target, "configmap_a.yaml", "edited by hand\n");
	{
		char p[4300];
		snprintf(p, sizeof(p), "%s/configmap_b.yaml", target);
		assert_int_equal(unlink(p), 0);
	}
	write_file(target, "extra.yaml", "added by hand\n");
	/* a dry run says so and writes nothing */
	assert_int_equal(reconcile_dir_sync(&dry, target, &m, &r.inventory,
	                                    NULL, true, true, &e),
	                 0);
	assert_true(dry.changes);
	assert_false(dry.written);
	assert_int_equal(dry.modified.n, 1);
	assert_int_equal(dry.removed.n, 1);
	assert_int_equal(dry.added.n, 1);
	assert_true(exists(target, "extra.yaml"));
	assert_int_equal(reconcile_dir_sync(&fix, target, &m, &r.inventory,
	                                    NULL, true, false, &e),
	                 0);
	assert_true(fix.written);
	assert_string_equal(fix.modified.v[0], "configmap_a.yaml");
	assert_string_equal(fix.removed.v[0], "configmap_b.yaml");
	assert_string_equal(fix.added.v[0], "extra.yaml");
	assert_false(exists(target, "extra.yaml"));
	assert_true(exists(target, "configmap_b.yaml"));
	text = read_text(target, "configmap_a.yaml");
	assert_non_null(strstr(text, "v: 1"));
	free(text);
	/* and then there is nothing to do */
	assert_int_equal(reconcile_dir_sync(&again, target, &m, &fix.inventory,
	                                    NULL, true, false, &e),
	                 0);
	assert_false(again.changes);
	assert_false(again.written);
	reconcile_dir_result_release(&r);
	reconcile_dir_result_release(&dry);
	reconcile_dir_result_release(&fix);
	reconcile_dir_result_release(&again);
	reconcile_manifests_release(&m);
	rmtree(root);
}

static void
test_dir__without_prune_what_git_dropped_stays_unmanaged(void **state)
{
	char *root = tmpdir(), target[4200];
	struct reconcile_manifests m1, m2;
	struct reconcile_dir_result r, r2, r3;
	struct err e = ERR_INIT;

	(void)state;
	snprintf(target, sizeof(target), "%s/app", root);
	parse(&m1, set1);
	parse(&m2, set2);
	assert_int_equal(reconcile_dir_sync(&r, target, &m1, NULL, NULL, false,
	                                    false, &e),
	                 0);
	assert_int_equal(reconcile_dir_sync(&r2, target, &m2, &r.inventory,
	                                    NULL, false, false, &e),
	                 0);
	assert_int_equal(r2.orphaned.n, 1);
	assert_int_equal(r2.deleted.n, 0);
	assert_true(exists(target, "configmap_b.yaml"));
	assert_int_equal(r2.inventory.n, 1);
	assert_int_equal(r2.keep.n, 1);
	/* the next sync leaves it alone: not drift */
	assert_int_equal(reconcile_dir_sync(&r3, target, &m2, &r2.inventory,
	                                    &r2.keep, false, false, &e),
	                 0);
	assert_false(r3.changes);
	assert_true(exists(target, "configmap_b.yaml"));
	reconcile_dir_result_release(&r);
	reconcile_dir_result_release(&r2);
	reconcile_dir_result_release(&r3);
	reconcile_manifests_release(&m1);
	reconcile_manifests_release(&m2);
	rmtree(root);
}

static void
test_dir__a_symlink_or_relative_target_is_refused(void **state)
{
	char *root = tmpdir(), link_path[4200];
	struct reconcile_manifests m;
	struct reconcile_dir_result r;
	struct err e = ERR_INIT;

	(void)state;
	parse(&m, set2);
	snprintf(link_path, sizeof(link_path), "%s/link", root);
	assert_int_equal(symlink("/tmp", link_path), 0);
	assert_int_equal(reconcile_dir_sync(&r, link_path, &m, NULL, NULL, true,
	                                    false, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "symlink"));
	assert_int_equal(reconcile_dir_sync(&r, "relative/dir", &m, NULL, NULL,
	                                    true, false, &e),
	                 -ERR_INVALID);
	assert_int_equal(reconcile_dir_sync(&r, "/srv/../etc", &m, NULL, NULL,
	                                    true, false, &e),
	                 -ERR_INVALID);
	reconcile_manifests_release(&m);
	rmtree(root);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_words__split_like_a_shell_without_expansion),
		cmocka_unit_test(
		        test_words__unterminated_quotes_and_empty_lines_are_errors),
		cmocka_unit_test(test_command__gets_stdin_and_environment),
		cmocka_unit_test(test_command__a_failure_quotes_its_last_line),
		cmocka_unit_test(
		        test_substitute__replaces_braced_variables_only),
		cmocka_unit_test(test_substitute__knows_the_bash_string_forms),
		cmocka_unit_test(
		        test_substitute__an_unterminated_expression_names_its_line),
		cmocka_unit_test(test_substitute__variable_names_are_checked),
		cmocka_unit_test(
		        test_manifests__split_named_sorted_and_substituted),
		cmocka_unit_test(
		        test_manifests__a_document_that_is_no_object_is_an_error),
		cmocka_unit_test(test_render__plain_yaml_files_in_path_order),
		cmocka_unit_test(
		        test_render__a_kustomization_is_built_by_the_machines_kustomize),
		cmocka_unit_test(
		        test_render__without_kustomize_the_error_says_what_to_install),
		cmocka_unit_test(
		        test_dir__writes_the_set_then_prunes_what_is_no_longer_rendered),
		cmocka_unit_test(test_dir__drift_is_reported_and_corrected),
		cmocka_unit_test(
		        test_dir__without_prune_what_git_dropped_stays_unmanaged),
		cmocka_unit_test(
		        test_dir__a_symlink_or_relative_target_is_refused),
	};

	if (sodium_init() < 0)
		return 1;
	return cmocka_run_group_tests(tests, NULL, NULL);
}
