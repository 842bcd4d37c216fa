/*
 * test_argocd_config.c - Argo CD Image Updater's configuration as ferry
 * loads it (core/config/argocd.h): ImageUpdater and Application fields,
 * the v0.x annotations, precedence, selection, the value grammars and
 * every error with its position.
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
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "config/argocd.h"
#include "config/loader.h"

static struct config *
load_with(const char *yaml, bool annotations)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;

	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_argocd_annotations(cfg, annotations), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "test.yaml", yaml, strlen(yaml), &err),
	        0);
	config_check(cfg, &err);
	return cfg;
}

static struct config *
load(const char *yaml)
{
	return load_with(yaml, false);
}

static struct config *
load_annotated(const char *yaml)
{
	return load_with(yaml, true);
}

static void
dump(const struct config *cfg)
{
	struct buf b = BUF_INIT;

	for (size_t i = 0; i < config_diag_count(cfg); i++) {
		buf_reset(&b);
		config_diag_format(&b, config_diag_get(cfg, i));
		fprintf(stderr, "  diag: %s\n", b.ptr);
	}
	buf_release(&b);
}

/* The diagnostic whose path starts with path and whose message holds
 * text; fails the test when there is none. */
static const struct config_diag *
diag(const struct config *cfg, const char *path, const char *text)
{
	for (size_t i = 0; i < config_diag_count(cfg); i++) {
		const struct config_diag *d = config_diag_get(cfg, i);

		if (strncmp(d->path, path, strlen(path)) == 0 &&
		    strstr(d->message, text))
			return d;
	}
	dump(cfg);
	fail_msg("no diagnostic at '%s' containing '%s'", path, text);
	return NULL;
}

static void
assert_diag_at(const struct config *cfg, const char *path, const char *text,
               int line, int column)
{
	const struct config_diag *d = diag(cfg, path, text);

	if (d->line != line || d->column != column) {
		dump(cfg);
		fail_msg("'%s' at %d:%d, expected %d:%d", text, d->line,
		         d->column, line, column);
	}
}

static void
assert_no_diags(const struct config *cfg)
{
	if (config_diag_count(cfg) != 0) {
		dump(cfg);
		fail_msg("expected no diagnostics, got %zu",
		         config_diag_count(cfg));
	}
}

static const struct config_object *
app(const struct config *cfg, const char *name)
{
	const struct config_object *o =
	        config_find(cfg, CONFIG_APPLICATION, "argocd", name);

	assert_non_null(o);
	return o;
}

/* Runs fn with the log going to a file; returns what was logged. */
static char *
logged(struct config *(*fn)(const char *), const char *yaml,
       struct config **cfg_out)
{
	char path[] = "/dev/shm/ferry-argocd-log-XXXXXX";
	int fd = mkstemp(path);
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	assert_true(fd >= 0);
	log_configure(LOG_INFO, LOG_FORMAT_LOGFMT, fd);
	*cfg_out = fn(yaml);
	log_configure(LOG_WARN, LOG_FORMAT_LOGFMT, 2);
	assert_int_equal(file_read(&out, path, &e), 0);
	close(fd);
	unlink(path);
	return buf_detach(&out);
}

/* A kustomize Application in namespace argocd, with labels. */
#define APP(name, labels, annotations)                                         \
	"apiVersion: argoproj.io/v1alpha1\n"                                   \
	"kind: Application\n"                                                  \
	"metadata:\n"                                                          \
	"  name: " name "\n"                                                   \
	"  namespace: argocd\n"                                                \
	"  labels: " labels "\n"                                               \
	"  annotations: " annotations "\n"                                     \
	"spec:\n"                                                              \
	"  project: default\n"                                                 \
	"  source:\n"                                                          \
	"    repoURL: https://git.example.com/org/apps.git\n"                  \
	"    targetRevision: main\n"                                           \
	"    path: apps/" name "\n"                                            \
	"  destination: {server: https://kubernetes.default.svc, namespace: "  \
	"x}\n"

#define ANN "argocd-image-updater.argoproj.io/"

/* ---- ImageUpdater ---- */

static const char updater_full[] =
        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"
        "kind: ImageUpdater\n"
        "metadata:\n"
        "  name: updater\n"
        "  namespace: argocd\n"
        "spec:\n"
        "  namespace: ignored\n"
        "  commonUpdateSettings:\n"
        "    updateStrategy: alphabetical\n"
        "    forceUpdate: false\n"
        "    allowTags: regexp:^v?[0-9]\n"
        "    ignoreTags: [\"*-rc*\"]\n"
        "    pullSecret: pullsecret:argocd/regcred\n"
        "    platforms: [linux/amd64]\n"
        "  writeBackConfig:\n"
        "    method: git\n"
        "    gitConfig:\n"
        "      repository: https://git.example.com/org/other.git\n"
        "      branch: main:image-updates-{{.AppName}}\n"
        "      writeBackTarget: kustomization\n"
        "  imagesVerification: {enabled: false}\n"
        "  applicationRefs:\n"
        "    - namePattern: \"web-*\"\n"
        "      labelSelectors:\n"
        "        matchLabels: {tier: front}\n"
        "        matchExpressions:\n"
        "          - {key: env, operator: In, values: [prod, stage]}\n"
        "      useAnnotations: false\n"
        "      commonUpdateSettings:\n"
        "        updateStrategy: newest-build\n"
        "        ignoreTags: [latest]\n"
        "      writeBackConfig:\n"
        "        method: git:secret:argocd/git-creds\n"
        "        gitConfig: {branch: release}\n"
        "      images:\n"
        "        - alias: nginx\n"
        "          imageName: nginx:1.x\n"
        "          commonUpdateSettings:\n"
        "            updateStrategy: semver\n"
        "            forceUpdate: true\n"
        "          manifestTargets:\n"
        "            helm: {name: image.repository, tag: image.tag}\n"
        "        - alias: side\n"
        "          imageName: ghcr.io/org/side\n"
        "          manifestTargets:\n"
        "            kustomize: {name: org/side}\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: regcred, namespace: argocd}\n"
        "stringData:\n"
        "  .dockerconfigjson: '{\"auths\": {}}'\n"
        "---\n"
        "apiVersion: v1\n"
        "kind: Secret\n"
        "metadata: {name: git-creds, namespace: argocd}\n"
        "stringData: {username: bot, password: x}\n"
        "---\n" APP("web-1", "{tier: front, env: prod}", "{}") "---\n" APP(
                "web-2", "{tier: front, env: dev}",
                "{}") "---\n" APP("api", "{tier: front, env: prod}", "{}");

static void
test_argocd__loads_an_imageupdater_with_every_field(void **state)
{
	struct config *cfg = load(updater_full);
	const struct config_object *u;
	const struct config_imageupdater *iu;

	(void)state;
	assert_no_diags(cfg);
	u = config_find(cfg, CONFIG_IMAGEUPDATER, "argocd", "updater");
	assert_non_null(u);
	iu = &u->u.imageupdater;
	assert_string_equal(iu->settings.update_strategy, "alphabetical");
	assert_int_equal(iu->settings.force_update, CONFIG_FALSE);
	assert_string_equal(iu->write_back.git.write_back_target,
	                    "kustomization");
	assert_int_equal(iu->n_app_refs, 1);
	assert_string_equal(iu->app_refs[0].name_pattern, "web-*");
	assert_int_equal(iu->app_refs[0].use_annotations, CONFIG_FALSE);
	assert_int_equal(iu->app_refs[0].n_images, 2);
	assert_string_equal(iu->app_refs[0].images[0].targets.helm.name,
	                    "image.repository");
	assert_int_equal(iu->app_refs[0].images[0].name_len, 5);
	assert_string_equal(iu->app_refs[0].images[0].constraint, "1.x");
	assert_null(iu->app_refs[0].images[1].constraint);
	config_free(cfg);
}

static void
test_argocd__merges_settings_image_over_ref_over_spec(void **state)
{
	struct config *cfg = load(updater_full);
	const struct config_argocd_unit *u;

	(void)state;
	assert_no_diags(cfg);
	u = config_argocd_unit_for(cfg, app(cfg, "web-1"));
	assert_non_null(u);
	assert_int_equal(u->n_images, 2);
	/* image level */
	assert_int_equal(u->images[0].strategy, CONFIG_ARGOCD_SEMVER);
	assert_true(u->images[0].force_update);
	/* ref level, then spec */
	assert_int_equal(u->images[1].strategy, CONFIG_ARGOCD_NEWEST_BUILD);
	assert_false(u->images[1].force_update);
	assert_string_equal(u->images[1].ignore_tags->items[0], "latest");
	assert_string_equal(u->images[1].allow_tags, "regexp:^v?[0-9]");
	assert_string_equal(u->images[1].pull_secret,
	                    "pullsecret:argocd/regcred");
	/* write-back: ref over spec, field by field */
	assert_string_equal(u->method, "git:secret:argocd/git-creds");
	assert_string_equal(u->branch, "release");
	assert_string_equal(u->target, "kustomization");
	assert_string_equal(u->repository,
	                    "https://git.example.com/org/other.git");
	assert_false(u->annotations);
	config_free(cfg);
}

static void
test_argocd__selects_applications_by_name_pattern_and_labels(void **state)
{
	struct config *cfg = load(updater_full);

	(void)state;
	assert_no_diags(cfg);
	assert_non_null(config_argocd_unit_for(cfg, app(cfg, "web-1")));
	/* env: dev is not In [prod, stage] */
	assert_null(config_argocd_unit_for(cfg, app(cfg, "web-2")));
	/* the name does not match web-* */
	assert_null(config_argocd_unit_for(cfg, app(cfg, "api")));
	assert_int_equal(config_argocd_unit_count(cfg), 1);
	config_free(cfg);
}

#define UPDATER_HEAD(name)                                                     \
	"apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"              \
	"kind: ImageUpdater\n"                                                 \
	"metadata: {name: " name ", namespace: argocd}\n"                      \
	"spec:\n"                                                              \
	"  writeBackConfig: {method: git}\n"                                   \
	"  applicationRefs:\n"

static void
test_argocd__picks_the_most_specific_application_ref(void **state)
{
	static const char yaml[] = UPDATER_HEAD(
	        "u") "    - namePattern: \"*\"\n"
	             "      images: [{alias: a, imageName: org/any}]\n"
	             "    - namePattern: \"web-*\"\n"
	             "      images: [{alias: a, imageName: org/prefix}]\n"
	             "    - namePattern: web-1\n"
	             "      images: [{alias: a, imageName: org/exact}]\n"
	             "    - namePattern: \"*\"\n"
	             "      labelSelectors: {matchLabels: {tier: front}}\n"
	             "      images: [{alias: a, imageName: org/labels}]\n"
	             "---\n" APP("web-1", "{}", "{}") "---\n" APP(
	                     "web-2", "{}",
	                     "{}") "---\n" APP("api", "{tier: front}",
	                                       "{}") "---\n" APP("db", "{}",
	                                                         "{}");
	struct config *cfg = load(yaml);

	(void)state;
	assert_no_diags(cfg);
	/* an exact name beats a label selector, which beats literal
	 * characters, as calculateSpecificity scores them */
	assert_string_equal(config_argocd_unit_for(cfg, app(cfg, "web-1"))
	                            ->images[0]
	                            .image->image_name,
	                    "org/exact");
	assert_string_equal(config_argocd_unit_for(cfg, app(cfg, "web-2"))
	                            ->images[0]
	                            .image->image_name,
	                    "org/prefix");
	assert_string_equal(config_argocd_unit_for(cfg, app(cfg, "api"))
	                            ->images[0]
	                            .image->image_name,
	                    "org/labels");
	assert_string_equal(config_argocd_unit_for(cfg, app(cfg, "db"))
	                            ->images[0]
	                            .image->image_name,
	                    "org/any");
	config_free(cfg);
}

static void
test_argocd__selects_only_applications_of_the_updaters_namespace(void **state)
{
	static const char yaml[] =
	        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"
	        "kind: ImageUpdater\n"
	        "metadata: {name: u, namespace: team}\n"
	        "spec:\n"
	        "  writeBackConfig: {method: git}\n"
	        "  applicationRefs:\n"
	        "    - namePattern: \"*\"\n"
	        "      images: [{alias: a, imageName: org/a}]\n"
	        "---\n" APP("web", "{}", "{}");
	struct config *cfg = load(yaml);

	(void)state;
	assert_no_diags(cfg);
	assert_null(config_argocd_unit_for(cfg, app(cfg, "web")));
	config_free(cfg);
}

static void
test_argocd__reports_an_application_two_updaters_select(void **state)
{
	static const char yaml[] = UPDATER_HEAD(
	        "one") "    - namePattern: \"*\"\n"
	               "      images: [{alias: a, imageName: "
	               "org/a}]\n"
	               "---\n" UPDATER_HEAD("two") "    - namePattern: web\n"
	                                           "      images: [{alias: a, "
	                                           "imageName: org/b}]\n"
	                                           "---\n" APP("web", "{}",
	                                                       "{}");
	struct config *cfg = load(yaml);

	(void)state;
	diag(cfg, "",
	     "selected by ImageUpdater 'one' and by ImageUpdater "
	     "'two'");
	config_free(cfg);
}

static void
test_argocd__reports_the_argocd_method_and_points_to_git(void **state)
{
	static const char yaml[] =
	        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"
	        "kind: ImageUpdater\n"
	        "metadata: {name: u, namespace: argocd}\n"
	        "spec:\n"
	        "  applicationRefs:\n"
	        "    - namePattern: a\n"
	        "      images: [{alias: a, imageName: org/a}]\n"
	        "    - namePattern: b\n"
	        "      writeBackConfig: {method: argocd}\n"
	        "      images: [{alias: a, imageName: org/a}]\n"
	        "    - namePattern: c\n"
	        "      writeBackConfig: {method: git}\n"
	        "      images: [{alias: a, imageName: org/a}]\n";
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg, "spec.applicationRefs[0].writeBackConfig.method",
	               "(the default) write-back method 'argocd' patches the "
	               "Application through the Argo CD API, which needs a "
	               "cluster; ferry writes to Git: use method 'git'",
	               6, 7);
	assert_diag_at(cfg, "spec.applicationRefs[1].writeBackConfig.method",
	               "use method 'git'", 9, 33);
	assert_int_equal(config_diag_count(cfg), 2);
	config_free(cfg);
}

static void
test_argocd__reports_what_ferry_cannot_do(void **state)
{
	static const char yaml[] =
	        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"
	        "kind: ImageUpdater\n"
	        "metadata: {name: u, namespace: argocd}\n"
	        "spec:\n"
	        "  writeBackConfig:\n"
	        "    method: git\n"
	        "    gitConfig: {pullRequest: {github: {}}}\n"
	        "  applicationRefs:\n"
	        "    - namePattern: a\n"
	        "      imagesVerification:\n"
	        "        cosignKey: {secretName: cosign, key: cosign.pub}\n"
	        "      images:\n"
	        "        - alias: p\n"
	        "          imageName: org/p\n"
	        "          manifestTargets: {plugin: {name: IMAGE}}\n";
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg, "spec.writeBackConfig.gitConfig.pullRequest",
	               "ferry does not open pull requests", 7, 30);
	assert_diag_at(cfg, "spec.applicationRefs[0].imagesVerification",
	               "ferry does not verify cosign signatures", 11, 9);
	assert_diag_at(cfg,
	               "spec.applicationRefs[0].images[0].manifestTargets."
	               "plugin",
	               "plugin targets", 15, 37);
	config_free(cfg);
}

static void
test_argocd__checks_the_crd_rules_of_refs_and_images(void **state)
{
	static const char yaml[] =
	        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"
	        "kind: ImageUpdater\n"
	        "metadata: {name: u, namespace: argocd}\n"
	        "spec:\n"
	        "  writeBackConfig: {method: git}\n"
	        "  applicationRefs:\n"
	        "    - namePattern: \"[a-\"\n"
	        "    - namePattern: b\n"
	        "      images:\n"
	        "        - alias: \"-bad\"\n"
	        "          imageName: Org/App\n"
	        "          manifestTargets:\n"
	        "            helm: {tag: image.tag}\n"
	        "            kustomize: {name: org/app}\n"
	        "        - {alias: d, imageName: org/app@sha256:1234}\n";
	struct config *cfg = load(yaml);

	(void)state;
	diag(cfg, "spec.applicationRefs[0].namePattern", "namePattern:");
	diag(cfg, "spec.applicationRefs[0].images",
	     "give images, or set useAnnotations: true");
	assert_diag_at(cfg, "spec.applicationRefs[1].images[0].alias",
	               "alias '-bad' must start", 10, 18);
	assert_diag_at(cfg, "spec.applicationRefs[1].images[0].imageName",
	               "is not an image name", 11, 22);
	diag(cfg, "spec.applicationRefs[1].images[0].manifestTargets",
	     "exactly one of helm, kustomize or plugin");
	diag(cfg, "spec.applicationRefs[1].images[1].imageName",
	     "must not hold a digest");
	config_free(cfg);
}

static void
test_argocd__reports_wrong_types_with_positions(void **state)
{
	static const char yaml[] =
	        "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\n"
	        "kind: ImageUpdater\n"
	        "metadata: {name: u, namespace: argocd}\n"
	        "spec:\n"
	        "  commonUpdateSettings:\n"
	        "    forceUpdate: \"yes\"\n"
	        "    ignoreTags: latest\n"
	        "    updateStrategy: 5\n"
	        "  writeBackConfig: {method: git, extra: 1}\n"
	        "  applicationRefs:\n"
	        "    - namePattern: a\n"
	        "      useAnnotations: true\n"
	        "---\n" APP("web", "{}", "{" ANN "force-update: true}");
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg, "spec.commonUpdateSettings.forceUpdate",
	               "expected true or false, found a string", 6, 18);
	assert_diag_at(cfg, "spec.commonUpdateSettings.ignoreTags",
	               "expected a list of strings", 7, 17);
	assert_diag_at(cfg, "spec.commonUpdateSettings.updateStrategy",
	               "expected a string, found a number", 8, 21);
	assert_diag_at(cfg, "spec.writeBackConfig.extra", "unknown field", 9,
	               34);
	diag(cfg, "metadata.annotations." ANN "force-update",
	     "expected a string, found a boolean (put it in quotes)");
	config_free(cfg);
}

static void
test_argocd__warns_on_an_unknown_strategy_and_uses_semver(void **state)
{
	static const char yaml[] =
	        UPDATER_HEAD("u") "    - namePattern: web\n"
	                          "      images:\n"
	                          "        - alias: a\n"
	                          "          imageName: org/a:1.x\n"
	                          "          commonUpdateSettings: "
	                          "{updateStrategy: newest}\n"
	                          "---\n" APP("web", "{}", "{}");
	struct config *cfg = NULL;
	char *log = logged(load, yaml, &cfg);

	(void)state;
	/* Argo CD silently falls back to semver: ferry says so */
	assert_no_diags(cfg);
	assert_non_null(strstr(log, "level=warn"));
	assert_non_null(strstr(log, "event=argocd_strategy_unknown"));
	if (strstr(log, "at=test.yaml:11:50") == NULL)
		fail_msg("log: %s", log);
	assert_non_null(strstr(log, "unknown update strategy 'newest'; using "
	                            "semver"));
	assert_int_equal(config_argocd_unit_for(cfg, app(cfg, "web"))
	                         ->images[0]
	                         .strategy,
	                 CONFIG_ARGOCD_SEMVER);
	free(log);
	config_free(cfg);
}

static void
test_argocd__reads_strategy_words_in_any_case_and_old_names(void **state)
{
	enum config_argocd_strategy s;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(config_argocd_strategy_parse(&s, "Semver", &e), 0);
	assert_int_equal(s, CONFIG_ARGOCD_SEMVER);
	assert_int_equal(config_argocd_strategy_parse(&s, "latest", &e), 0);
	assert_int_equal(s, CONFIG_ARGOCD_NEWEST_BUILD);
	assert_int_equal(config_argocd_strategy_parse(&s, "name", &e), 0);
	assert_int_equal(s, CONFIG_ARGOCD_ALPHABETICAL);
	assert_int_equal(config_argocd_strategy_parse(&s, "DIGEST", &e), 0);
	assert_int_equal(s, CONFIG_ARGOCD_DIGEST);
	assert_int_equal(config_argocd_strategy_parse(&s, "newest", &e),
	                 -ERR_INVALID);
}

static void
test_argocd__checks_filters_platforms_constraints_and_secrets(void **state)
{
	static const char yaml[] = UPDATER_HEAD(
	        "u") "    - namePattern: web\n"
	             "      commonUpdateSettings:\n"
	             "        allowTags: \"regexp:(\"\n"
	             "        ignoreTags: [\"[a-\"]\n"
	             "        platforms: [linux]\n"
	             "        pullSecret: secret:other/creds#x\n"
	             "      images:\n"
	             "        - {alias: s, imageName: \"org/s:>=1.0 <<2\"}\n"
	             "        - alias: d\n"
	             "          imageName: org/d\n"
	             "          commonUpdateSettings: {updateStrategy: digest}\n"
	             "        - alias: e\n"
	             "          imageName: org/e\n"
	             "          commonUpdateSettings: {allowTags: \"foo:bar\"}\n";
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg,
	               "spec.applicationRefs[0].commonUpdateSettings."
	               "allowTags",
	               "allow-tags", 9, 20);
	diag(cfg, "spec.applicationRefs[0].commonUpdateSettings.ignoreTags[0]",
	     "ignore-tags");
	diag(cfg, "spec.applicationRefs[0].commonUpdateSettings.platforms[0]",
	     "platform 'linux' is not OS/ARCH");
	diag(cfg, "spec.applicationRefs[0].commonUpdateSettings.pullSecret",
	     "may only read Secrets of its own namespace 'argocd'");
	diag(cfg, "spec.applicationRefs[0].images[0].imageName",
	     "semver constraint");
	diag(cfg, "spec.applicationRefs[0].images[1].imageName",
	     "the digest strategy follows one tag");
	diag(cfg,
	     "spec.applicationRefs[0].images[2].commonUpdateSettings."
	     "allowTags",
	     "allow-tags");
	config_free(cfg);
}

/* ---- Application ---- */

static const char app_full[] =
        "apiVersion: argoproj.io/v1alpha1\n"
        "kind: Application\n"
        "metadata:\n"
        "  name: full\n"
        "  namespace: argocd\n"
        "  finalizers: [resources-finalizer.argocd.argoproj.io]\n"
        "spec:\n"
        "  project: default\n"
        "  revisionHistoryLimit: 3\n"
        "  info: [{name: url, value: https://example.com}]\n"
        "  destination: {name: in-cluster, namespace: x, server: "
        "https://kubernetes.default.svc}\n"
        "  ignoreDifferences:\n"
        "    - {group: apps, kind: Deployment, jsonPointers: "
        "[/spec/replicas]}\n"
        "  syncPolicy:\n"
        "    automated: {prune: true, selfHeal: true, allowEmpty: false, "
        "enabled: true}\n"
        "    syncOptions: [CreateNamespace=true]\n"
        "    retry: {limit: 5, backoff: {duration: 5s, factor: 2, "
        "maxDuration: 3m}}\n"
        "    managedNamespaceMetadata: {labels: {a: b}}\n"
        "  sources:\n"
        "    - repoURL: https://charts.example.com\n"
        "      chart: web\n"
        "      targetRevision: 1.2.3\n"
        "      helm:\n"
        "        releaseName: web\n"
        "        valueFiles: [$values/web/values.yaml]\n"
        "        parameters: [{name: image.tag, value: \"1.0\", "
        "forceString: true}]\n"
        "        valuesObject: {replicas: 2}\n"
        "        skipCrds: true\n"
        "    - repoURL: https://git.example.com/org/values.git\n"
        "      targetRevision: main\n"
        "      ref: values\n"
        "    - repoURL: https://git.example.com/org/apps.git\n"
        "      path: apps/web\n"
        "      kustomize:\n"
        "        images: [\"org/web:1.0\"]\n"
        "        namePrefix: p-\n"
        "        commonLabels: {a: b}\n"
        "        patches: [{target: {kind: Deployment}, patch: x}]\n"
        "      directory: {recurse: true, jsonnet: {libs: [x]}}\n"
        "operation: {sync: {revision: HEAD}}\n"
        "status: {sync: {status: Synced}}\n";

static void
test_argocd__accepts_every_application_field_argo_cd_accepts(void **state)
{
	struct config *cfg = load(app_full);
	const struct config_application *a;

	(void)state;
	/* the third source is both kustomize and directory */
	diag(cfg, "spec.sources[2]", "multiple application sources defined");
	assert_int_equal(config_diag_count(cfg), 1);
	a = &app(cfg, "full")->u.application;
	assert_int_equal(a->n_sources, 3);
	assert_string_equal(a->sources[0].chart, "web");
	assert_int_equal(a->sources[0].type, CONFIG_ARGOCD_TYPE_HELM);
	assert_string_equal(a->sources[0].helm.parameters[0].value, "1.0");
	assert_int_equal(a->sources[0].helm.parameters[0].force_string,
	                 CONFIG_TRUE);
	assert_string_equal(a->sources[1].ref, "values");
	assert_int_equal(a->sources[1].type, CONFIG_ARGOCD_TYPE_DETECT);
	assert_string_equal(a->sources[2].kustomize.images.items[0],
	                    "org/web:1.0");
	config_free(cfg);
}

static void
test_argocd__reports_a_misspelled_application_field(void **state)
{
	static const char yaml[] =
	        "apiVersion: argoproj.io/v1alpha1\n"
	        "kind: Application\n"
	        "metadata: {name: a, namespace: argocd}\n"
	        "spec:\n"
	        "  syncPolicy: {automated: {selfheal: true}}\n"
	        "  source: {repoURL: x, path: y, helm: {paremeters: []}}\n";
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg, "spec.syncPolicy.automated.selfheal",
	               "unknown field 'selfheal'", 5, 28);
	assert_diag_at(cfg, "spec.source.helm.paremeters",
	               "unknown field 'paremeters'", 6, 40);
	config_free(cfg);
}

/* ---- annotations ---- */

static const char annotated[] = APP(
        "web", "{}",
        "\n"
        "    " ANN
        "image-list: \"web=org/web:~1.2, side=ghcr.io/org/side:stable, "
        "org/plain\"\n"
        "    " ANN "update-strategy: alphabetical\n"
        "    " ANN "allow-tags: any\n"
        "    " ANN "ignore-tags: \"*-rc, , latest\"\n"
        "    " ANN "force-update: \"t\"\n"
        "    " ANN "pull-secret: env:REGISTRY_CREDS\n"
        "    " ANN "write-back-method: git:secret:argocd/git\n"
        "    " ANN "write-back-target: helmvalues:/values/web.yaml\n"
        "    " ANN "git-branch: main:up-{{.SHA256}}\n"
        "    " ANN "git-repository: https://git.example.com/org/v.git\n"
        "    " ANN "web.update-strategy: semver\n"
        "    " ANN "web.allow-tags: regexp:^1\n"
        "    " ANN "web.ignore-tags: 1.2.9\n"
        "    " ANN "web.force-update: \"false\"\n"
        "    " ANN "web.pull-secret: pullsecret:argocd/regcred\n"
        "    " ANN "web.platforms: \"linux/amd64, linux/arm64\"\n"
        "    " ANN "web.helm.image-name: web.image.repository\n"
        "    " ANN "web.helm.image-tag: web.image.tag\n"
        "    " ANN "side.helm.image-spec: side.image\n"
        "    " ANN "side.update-strategy: digest\n"
        "    other.example.com/key: kept") "---\n"
                                           "apiVersion: v1\nkind: Secret\nmetadata: {name: git, namespace: "
                                           "argocd}\nstringData: {username: u, password: p}\n"
                                           "---\n"
                                           "apiVersion: v1\nkind: Secret\nmetadata: {name: regcred, namespace: "
                                           "argocd}\nstringData: {.dockerconfigjson: '{}'}\n";

static void
test_argocd__reads_v0_annotations_only_when_turned_on(void **state)
{
	struct config *off = load_with(annotated, false);
	struct config *on = load_with(annotated, true);

	(void)state;
	assert_no_diags(off);
	assert_no_diags(on);
	assert_null(config_argocd_unit_for(off, app(off, "web")));
	assert_non_null(config_argocd_unit_for(on, app(on, "web")));
	assert_null(config_argocd_unit_for(on, app(on, "web"))->updater);
	assert_true(config_argocd_unit_for(on, app(on, "web"))->annotations);
	config_free(off);
	config_free(on);
}

static void
test_argocd__reads_every_annotation_key(void **state)
{
	struct config *cfg = load_with(annotated, true);
	const struct config_argocd_unit *u;
	const struct config_argocd_unit_image *web, *side, *plain;

	(void)state;
	assert_no_diags(cfg);
	u = config_argocd_unit_for(cfg, app(cfg, "web"));
	assert_int_equal(u->n_images, 3);
	web = &u->images[0];
	side = &u->images[1];
	plain = &u->images[2];
	assert_string_equal(web->image->alias, "web");
	assert_int_equal(web->image->name_len, 7);
	assert_string_equal(web->image->constraint, "~1.2");
	assert_int_equal(web->strategy, CONFIG_ARGOCD_SEMVER);
	assert_string_equal(web->allow_tags, "regexp:^1");
	assert_string_equal(web->ignore_tags->items[0], "1.2.9");
	assert_false(web->force_update);
	assert_string_equal(web->pull_secret, "pullsecret:argocd/regcred");
	assert_int_equal(web->platforms->n, 2);
	assert_string_equal(web->platforms->items[1], "linux/arm64");
	assert_string_equal(web->image->targets.helm.name,
	                    "web.image.repository");
	assert_string_equal(web->image->targets.helm.tag, "web.image.tag");
	assert_string_equal(side->image->targets.helm.spec, "side.image");
	assert_int_equal(side->strategy, CONFIG_ARGOCD_DIGEST);
	/* the application-wide settings, for the rest */
	assert_string_equal(side->allow_tags, "any");
	assert_true(side->force_update);
	assert_int_equal(side->ignore_tags->n, 3); /* empties kept, as Go */
	assert_string_equal(plain->image->alias, "");
	assert_int_equal(plain->strategy, CONFIG_ARGOCD_ALPHABETICAL);
	assert_string_equal(plain->pull_secret, "env:REGISTRY_CREDS");
	assert_string_equal(u->method, "git:secret:argocd/git");
	assert_string_equal(u->target, "helmvalues:/values/web.yaml");
	assert_string_equal(u->branch, "main:up-{{.SHA256}}");
	assert_string_equal(u->repository, "https://git.example.com/org/v.git");
	config_free(cfg);
}

static void
test_argocd__reads_kustomize_image_name_and_the_old_tag_match(void **state)
{
	static const char yaml[] =
	        APP("web", "{}",
	            "\n    " ANN "image-list: \"web=ghcr.io/org/web, "
	            "api=org/api\"\n"
	            "    " ANN "write-back-method: git\n"
	            "    " ANN "web.kustomize.image-name: org/web\n"
	            "    " ANN "web.tag-match: regexp:^v1\n"
	            "    " ANN "api.tag-match: regexp:^v1\n"
	            "    " ANN "api.allow-tags: regexp:^v2");
	struct config *cfg = NULL;
	char *log = logged(load_annotated, yaml, &cfg);
	const struct config_argocd_unit *u;

	(void)state;
	assert_no_diags(cfg);
	u = config_argocd_unit_for(cfg, app(cfg, "web"));
	assert_int_equal(u->n_images, 2);
	assert_string_equal(u->images[0].image->targets.kustomize.name,
	                    "org/web");
	/* tag-match is read as allow-tags, which wins when both are given */
	assert_string_equal(u->images[0].allow_tags, "regexp:^v1");
	assert_string_equal(u->images[1].allow_tags, "regexp:^v2");
	assert_non_null(strstr(log, "event=argocd_tag_match_deprecated"));
	assert_non_null(strstr(log, "rename it allow-tags"));
	free(log);
	config_free(cfg);
}

static void
test_argocd__reports_a_misspelled_annotation_key(void **state)
{
	static const char yaml[] =
	        APP("web", "{}",
	            "\n    " ANN "image-list: web=org/web\n"
	            "    " ANN "write-back-method: git\n"
	            "    " ANN "update-stratgy: semver\n"
	            "    " ANN "web.alow-tags: any\n"
	            "    " ANN "web.helm.image-tg: x\n"
	            "    " ANN "platforms: linux/amd64\n"
	            "    " ANN "web.write-back-target: kustomization\n"
	            "    " ANN "nope: x");
	struct config *cfg = load_with(yaml, true);

	(void)state;
	assert_diag_at(cfg, "metadata.annotations." ANN "update-stratgy",
	               "unknown Argo CD Image Updater annotation "
	               "'update-stratgy' (did you mean 'update-strategy'?)",
	               10, 5);
	diag(cfg, "metadata.annotations." ANN "web.alow-tags",
	     "(did you mean 'web.allow-tags'?)");
	diag(cfg, "metadata.annotations." ANN "web.helm.image-tg",
	     "(did you mean 'web.helm.image-tag'?)");
	diag(cfg, "metadata.annotations." ANN "platforms",
	     "is only read per image");
	diag(cfg, "metadata.annotations." ANN "web.write-back-target",
	     "is only read for the whole application");
	diag(cfg, "metadata.annotations." ANN "nope",
	     "unknown Argo CD Image Updater annotation 'nope'");
	config_free(cfg);
}

static void
test_argocd__reports_an_alias_image_list_does_not_name(void **state)
{
	static const char yaml[] = APP(
	        "web", "{}",
	        "{" ANN "image-list: web=org/web, " ANN "api.update-strategy: "
	        "digest, " ANN "write-back-method: git}");
	struct config *cfg = load_with(yaml, true);

	(void)state;
	diag(cfg, "metadata.annotations." ANN "api.update-strategy",
	     "annotation for alias 'api', which image-list does not name");
	config_free(cfg);
}

static void
test_argocd__reports_helm_and_kustomize_keys_on_one_alias(void **state)
{
	static const char yaml[] =
	        APP("web", "{}",
	            "\n    " ANN "image-list: web=org/web\n"
	            "    " ANN "write-back-method: git\n"
	            "    " ANN "web.helm.image-tag: image.tag\n"
	            "    " ANN "web.kustomize.image-name: org/web");
	struct config *cfg = load_with(yaml, true);

	(void)state;
	assert_diag_at(cfg,
	               "metadata.annotations." ANN "web.kustomize.image-name",
	               "alias 'web' has both helm and kustomize keys", 11, 5);
	config_free(cfg);
}

static void
test_argocd__reports_annotation_values_argo_cd_refuses(void **state)
{
	static const char yaml[] =
	        APP("web", "{}",
	            "\n    " ANN "image-list: \"web=org/web, x=, org/d:\"\n"
	            "    " ANN "write-back-method: gitt\n"
	            "    " ANN "git-branch: a:b:c\n"
	            "    " ANN "force-update: \"yes\"\n"
	            "    " ANN "pull-secret: vault:x\n"
	            "    " ANN "web.update-strategy: digest\n"
	            "    " ANN "web.platforms: amd64");
	struct config *cfg = load_with(yaml, true);

	(void)state;
	diag(cfg, "metadata.annotations." ANN "image-list",
	     "empty image name after 'x='");
	diag(cfg, "metadata.annotations", "write-back method 'gitt'");
	diag(cfg, "metadata.annotations", "git-branch 'a:b:c'");
	diag(cfg, "metadata.annotations." ANN "force-update",
	     "'yes' is not a boolean");
	diag(cfg, "metadata.annotations." ANN "pull-secret",
	     "unknown source 'vault'");
	diag(cfg, "metadata.annotations." ANN "web.platforms",
	     "platform 'amd64'");
	diag(cfg, "metadata.annotations." ANN "image-list",
	     "the digest strategy follows one tag: write the image 'org/web'");
	config_free(cfg);
}

static void
test_argocd__reports_the_argocd_method_of_annotations(void **state)
{
	static const char yaml[] =
	        APP("web", "{}", "{" ANN "image-list: org/web}") "---\n" APP(
	                "api", "{}",
	                "{" ANN "image-list: org/api, " ANN
	                "write-back-method: argocd}");
	struct config *cfg = load_with(yaml, true);

	(void)state;
	diag(cfg, "",
	     "write-back-method (not given: argocd): write-back "
	     "method 'argocd' patches the Application");
	diag(cfg, "", "write-back-method: write-back method 'argocd'");
	assert_int_equal(config_diag_count(cfg), 2);
	config_free(cfg);
}

static void
test_argocd__reads_annotations_when_a_ref_says_use_annotations(void **state)
{
	static const char yaml[] =
	        UPDATER_HEAD("u") "    - namePattern: \"*\"\n"
	                          "      useAnnotations: true\n"
	                          "---\n" APP("web", "{}",
	                                      "{" ANN
	                                      "image-list: org/web:1.x, " ANN
	                                      "write-back-method: git}");
	struct config *cfg = load(yaml);
	const struct config_argocd_unit *u;

	(void)state;
	assert_no_diags(cfg);
	u = config_argocd_unit_for(cfg, app(cfg, "web"));
	assert_non_null(u);
	assert_non_null(u->updater);
	assert_true(u->annotations);
	assert_string_equal(u->images[0].image->constraint, "1.x");
	config_free(cfg);
}

/* ---- references and sources ---- */

static void
test_argocd__checks_the_secrets_credentials_name(void **state)
{
	static const char yaml[] = UPDATER_HEAD(
	        "u") "    - namePattern: \"*\"\n"
	             "      writeBackConfig: {method: "
	             "\"git:secret:argocd/missing\"}\n"
	             "      commonUpdateSettings: {pullSecret: "
	             "\"secret:argocd/reg#creds\"}\n"
	             "      images: [{alias: a, imageName: "
	             "org/a}]\n"
	             "---\n" APP(
	                     "web", "{}",
	                     "{}") "---\n"
	                           "apiVersion: v1\nkind: Secret\nmetadata: "
	                           "{name: reg, namespace: argocd}\n"
	                           "stringData: {other: x}\n";
	struct config *cfg = load(yaml);

	(void)state;
	diag(cfg, "", "Secret 'argocd/missing' not found");
	diag(cfg, "", "Secret 'argocd/reg' has no 'creds' key");
	config_free(cfg);
}

static void
test_argocd__asks_for_git_repository_with_a_chart_source(void **state)
{
	static const char yaml[] =
	        UPDATER_HEAD("u") "    - namePattern: \"*\"\n"
	                          "      images: [{alias: a, imageName: "
	                          "org/a}]\n"
	                          "---\n"
	                          "apiVersion: argoproj.io/v1alpha1\n"
	                          "kind: Application\n"
	                          "metadata: {name: web, namespace: argocd}\n"
	                          "spec:\n"
	                          "  source: {repoURL: "
	                          "https://charts.example.com, chart: web, "
	                          "targetRevision: 1.0.0}\n";
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg, "",
	               "name the Git repository to write to with "
	               "git-repository",
	               14, 11);
	config_free(cfg);
}

static void
test_argocd__chooses_the_source_to_write_to(void **state)
{
	struct config *cfg = load(
	        UPDATER_HEAD("u") "    - namePattern: \"*\"\n"
	                          "      writeBackConfig: {gitConfig: "
	                          "{writeBackTarget: kustomization}}\n"
	                          "      images: [{alias: a, imageName: "
	                          "org/a}]\n"
	                          "---\n"
	                          "apiVersion: argoproj.io/v1alpha1\n"
	                          "kind: Application\n"
	                          "metadata: {name: web, namespace: argocd}\n"
	                          "spec:\n"
	                          "  sources:\n"
	                          "    - {repoURL: https://x/a.git, path: a, "
	                          "helm: {}}\n"
	                          "    - {repoURL: https://x/b.git, path: b, "
	                          "kustomize: {}}\n");

	(void)state;
	assert_no_diags(cfg);
	assert_string_equal(
	        config_argocd_unit_for(cfg, app(cfg, "web"))->source->path,
	        "b");
	config_free(cfg);
}

static void
test_argocd__reads_the_image_updater_configmap(void **state)
{
	static const char yaml[] =
	        "apiVersion: v1\n"
	        "kind: ConfigMap\n"
	        "metadata: {name: argocd-image-updater-config, namespace: "
	        "argocd}\n"
	        "data:\n"
	        "  git.user: bot\n"
	        "  git.email: bot@example.com\n"
	        "  argocd.namespace: gitops\n"
	        "  interval: 5m\n"
	        "  log.level: debug\n"
	        "  git.commit-message-template: |\n"
	        "    update {{ .AppName }}\n"
	        "  registries.conf: |\n"
	        "    registries:\n"
	        "    - name: local\n"
	        "      prefix: 127.0.0.1:5000\n"
	        "      api_url: http://127.0.0.1:5000\n"
	        "      credentials: env:LOCAL\n"
	        "      ping: yes\n"
	        "    - name: hub\n"
	        "      prefix: docker.io\n"
	        "      api_url: https://registry-1.docker.io\n"
	        "      default: yes\n"
	        "    - name: quay\n"
	        "      prefix: quay.io\n"
	        "      api_url: https://quay.io\n"
	        "      insecure: On\n"
	        "      default: false\n"
	        "---\n"
	        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: other}\n";
	struct config *cfg = load(yaml);
	const struct config_argocd_config *cm;
	const struct config_argocd_registry *r;

	(void)state;
	assert_no_diags(cfg);
	cm = config_argocd_config(cfg);
	assert_string_equal(cm->git_user, "bot");
	assert_string_equal(cm->git_email, "bot@example.com");
	assert_string_equal(cm->argocd_namespace, "gitops");
	assert_string_equal(cm->interval, "5m");
	assert_string_equal(cm->commit_template, "update {{ .AppName }}\n");
	assert_int_equal(cm->n_registries, 3);
	r = config_argocd_registry_for(cfg, "127.0.0.1:5000/team/app", 23);
	assert_non_null(r);
	assert_true(r->plain_http);
	assert_string_equal(r->credentials, "env:LOCAL");
	r = config_argocd_registry_for(cfg, "nginx", 5);
	assert_non_null(r);
	assert_string_equal(r->name, "hub");
	assert_null(config_argocd_registry_for(cfg, "ghcr.io/a/b", 11));
	/* YAML 1.1 booleans, as Image Updater's own documentation writes
	 * them */
	r = config_argocd_registry_for(cfg, "quay.io/a/b", 11);
	assert_non_null(r);
	assert_true(r->insecure);
	assert_false(r->is_default);
	/* the other ConfigMap is skipped, as before */
	assert_int_equal(config_skipped_count(cfg), 1);
	config_free(cfg);
}

static void
test_argocd__uses_argo_cd_defaults_without_a_configmap(void **state)
{
	struct config *cfg = load(APP("web", "{}", "{}"));
	const struct config_argocd_config *cm = config_argocd_config(cfg);

	(void)state;
	assert_string_equal(cm->git_user, "argocd-image-updater");
	assert_string_equal(cm->git_email, "noreply@argoproj.io");
	assert_string_equal(cm->argocd_namespace, "argocd");
	assert_null(cm->commit_template);
	config_free(cfg);
}

static void
test_argocd__reports_a_bad_configmap(void **state)
{
	static const char yaml[] =
	        "apiVersion: v1\n"
	        "kind: ConfigMap\n"
	        "metadata: {name: argocd-image-updater-config}\n"
	        "data:\n"
	        "  interval: often\n"
	        "  git.commit-message-template: \"{{ .AppName \"\n"
	        "  registries.conf: |\n"
	        "    registries:\n"
	        "    - name: local\n"
	        "      api_urll: http://x\n"
	        "      insecure: 1\n";
	struct config *cfg = load(yaml);

	(void)state;
	assert_diag_at(cfg, "data.interval",
	               "'often' is not a positive Go "
	               "duration",
	               5, 13);
	diag(cfg, "data.git.commit-message-template", "template:");
	assert_diag_at(cfg, "registries.conf[0].api_urll", "unknown field", 10,
	               7);
	diag(cfg, "registries.conf[0]", "prefix is missing");
	/* yaml.v2 does not read 1 into a bool */
	diag(cfg, "registries.conf[0].insecure", "expected true or false");
	config_free(cfg);
}

/* ---- the grammars ---- */

static void
test_argocd__parses_pull_secret_forms(void **state)
{
	struct config_argocd_cred c;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(config_argocd_cred_parse(&c, "pullsecret:ns/reg", &e),
	                 0);
	assert_int_equal(c.kind, CONFIG_ARGOCD_CRED_PULLSECRET);
	assert_int_equal(c.ns_len, 2);
	assert_int_equal(c.name_len, 3);
	assert_int_equal(
	        config_argocd_cred_parse(&c, "secret:ns/reg#creds", &e), 0);
	assert_int_equal(c.kind, CONFIG_ARGOCD_CRED_SECRET);
	assert_string_equal(c.field, "creds");
	assert_int_equal(c.name_len, 3);
	assert_int_equal(config_argocd_cred_parse(&c, "ENV:VAR", &e), 0);
	assert_int_equal(c.kind, CONFIG_ARGOCD_CRED_ENV);
	assert_string_equal(c.env, "VAR");
	assert_int_equal(
	        config_argocd_cred_parse(&c, "ghcr.io=ext:/bin/creds", &e), 0);
	assert_int_equal(c.kind, CONFIG_ARGOCD_CRED_EXT);
	assert_string_equal(c.path, "/bin/creds");
	assert_int_equal(config_argocd_cred_parse(&c, "ext:rel/path", &e),
	                 -ERR_INVALID);
	assert_int_equal(config_argocd_cred_parse(&c, "secret:ns/reg", &e),
	                 -ERR_INVALID);
	assert_int_equal(config_argocd_cred_parse(&c, "pullsecret:reg", &e),
	                 -ERR_INVALID);
	assert_int_equal(config_argocd_cred_parse(&c, "env", &e), -ERR_INVALID);
}

static void
test_argocd__parses_methods_branches_and_targets(void **state)
{
	struct config_argocd_method m;
	struct config_argocd_branch b;
	enum config_argocd_target_kind k;
	struct err e = ERR_INIT;
	char *p = NULL;

	(void)state;
	assert_int_equal(config_argocd_method_parse(&m, "git", &e), 0);
	assert_true(m.repocreds);
	assert_int_equal(
	        config_argocd_method_parse(&m, "git:secret:ns/creds", &e), 0);
	assert_int_equal(m.secret_ns_len, 2);
	assert_int_equal(m.secret_name_len, 5);
	assert_int_equal(config_argocd_method_parse(&m, "git:secret:creds", &e),
	                 0);
	assert_null(m.secret_ns);
	assert_int_equal(config_argocd_method_parse(&m, "argocd", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "use method 'git'"));

	assert_int_equal(config_argocd_branch_parse(&b, "main", &e), 0);
	assert_null(b.target);
	assert_int_equal(config_argocd_branch_parse(&b, ":up-{{.AppName}}", &e),
	                 0);
	assert_null(b.base);
	assert_int_equal(b.target_len, 15);
	assert_int_equal(config_argocd_branch_parse(&b, "main:up", &e), 0);
	assert_int_equal(b.base_len, 4);
	assert_int_equal(config_argocd_branch_parse(&b, "main:", &e),
	                 -ERR_INVALID);

#define TARGET(t, path, kind, want)                                            \
	do {                                                                   \
		assert_int_equal(                                              \
		        config_argocd_target_parse(&k, &p, t, path, "argocd",  \
		                                   "argocd", "web", &e),       \
		        0);                                                    \
		assert_int_equal(k, kind);                                     \
		assert_string_equal(p, want);                                  \
		free(p);                                                       \
	} while (0)
	TARGET(NULL, "apps/web", CONFIG_ARGOCD_TARGET_DEFAULT,
	       "apps/web/.argocd-source-web.yaml");
	TARGET("kustomization", "apps/web", CONFIG_ARGOCD_TARGET_KUSTOMIZATION,
	       "apps/web");
	TARGET("kustomization:../base", "apps/web",
	       CONFIG_ARGOCD_TARGET_KUSTOMIZATION, "apps/base");
	TARGET("kustomization:/base", "apps/web",
	       CONFIG_ARGOCD_TARGET_KUSTOMIZATION, "base");
	TARGET("helmvalues", "charts/web", CONFIG_ARGOCD_TARGET_HELMVALUES,
	       "charts/web/values.yaml");
	TARGET("helmvalues:prod.yaml", "charts/web",
	       CONFIG_ARGOCD_TARGET_HELMVALUES, "charts/web/prod.yaml");
	TARGET("helmvalues:/env/prod.yaml", "charts/web",
	       CONFIG_ARGOCD_TARGET_HELMVALUES, "env/prod.yaml");
	TARGET("overrides/web.yaml", "apps/web", CONFIG_ARGOCD_TARGET_FILE,
	       "overrides/web.yaml");
	TARGET(NULL, "", CONFIG_ARGOCD_TARGET_DEFAULT,
	       ".argocd-source-web.yaml");
	/* the root, however it is spelled */
	TARGET("kustomization", "", CONFIG_ARGOCD_TARGET_KUSTOMIZATION, ".");
	TARGET("kustomization:..", "apps", CONFIG_ARGOCD_TARGET_KUSTOMIZATION,
	       ".");
#undef TARGET
	/* a path cleaned away names no file (and leaks nothing) */
	assert_int_equal(config_argocd_target_parse(&k, &p, "overrides/..", "",
	                                            "argocd", "argocd", "web",
	                                            &e),
	                 -ERR_INVALID);
	assert_null(p);
	assert_non_null(strstr(e.msg, "names no file"));
	assert_int_equal(config_argocd_target_parse(
	                         &k, &p, "kustomization:../../..", "apps/web",
	                         "argocd", "argocd", "web", &e),
	                 -ERR_INVALID);
	assert_int_equal(config_argocd_target_parse(
	                         &k, &p, "apps/web/kustomization.yaml", "",
	                         "argocd", "argocd", "web", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "kustomization:DIRECTORY"));
}

/* Targets and source paths inside Git's own directory, in any spelling,
 * are refused at validate time (and at run time, which parses the same). */
static void
test_argocd__refuses_targets_and_paths_in_the_git_directory(void **state)
{
	static const char yaml[] =
	        APP("web", "{}",
	            "{" ANN "image-list: org/web, " ANN
	            "write-back-method: git, " ANN
	            "write-back-target: \"helmvalues:/.git/HEAD\"}");
	static const char *const targets[] = {
		"helmvalues:/.git/HEAD", ".git/refs/heads/main",
		"kustomization:/.GIT",   "helmvalues:../../.git/config",
		"a/.git/x.yaml",
	};
	enum config_argocd_target_kind k;
	struct err e = ERR_INIT;
	struct config *cfg = load_annotated(yaml);
	char *p = NULL;

	(void)state;
	diag(cfg, "", "inside the repository's .git");
	config_free(cfg);
	for (size_t i = 0; i < sizeof(targets) / sizeof(targets[0]); i++) {
		assert_int_equal(config_argocd_target_parse(
		                         &k, &p, targets[i], "apps/web",
		                         "argocd", "argocd", "web", &e),
		                 -ERR_INVALID);
		assert_null(p);
		assert_non_null(strstr(e.msg, ".git"));
	}
	/* spec.source.path: the default file would land in it */
	assert_int_equal(config_argocd_target_parse(&k, &p, NULL, ".git",
	                                            "argocd", "argocd", "web",
	                                            &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "source path '.git'"));
	assert_int_equal(config_argocd_target_parse(
	                         &k, &p, "helmvalues:/v.yaml", "apps/.Git/web",
	                         "argocd", "argocd", "web", &e),
	                 -ERR_INVALID);
	/* a name that only begins like it is fine */
	assert_int_equal(config_argocd_target_parse(&k, &p, ".github/v.yaml",
	                                            "", "argocd", "argocd",
	                                            "web", &e),
	                 0);
	free(p);
}

/* Branch names are Git's (libgit2's reference rules), for a plain
 * BRANCH, the BASE of BASE:TARGET, a TARGET without a template and the
 * targetRevision written to; a template is checked once rendered. */
static void
test_argocd__refuses_branch_names_git_refuses(void **state)
{
	static const char *const bad[] = {
		".hidden",
		"a/.b",
		"foo.lock/x",
		"x.lock",
		"@",
		"a..b",
		"-x",
		"a b",
		"a//b",
		"a/",
		"a@{1}",
		"HEAD",
		".x:up-{{.AppName}}",
		"main:.up",
		"main:up.lock",
		"main:a..b",
	};
	static const char *const good[] = {
		"main",
		"release/1.x",
		"a@b",
		"main:up-{{.AppName}}",
		":.{{.AppName}}",
		"v1.2.3",
		"feat/x-1",
	};
	static const char yaml[] =
	        "apiVersion: argoproj.io/v1alpha1\n"
	        "kind: Application\n"
	        "metadata:\n"
	        "  name: web\n"
	        "  namespace: argocd\n"
	        "  annotations: {" ANN "image-list: org/web, " ANN
	        "write-back-method: git}\n"
	        "spec:\n"
	        "  source:\n"
	        "    repoURL: https://git.example.com/org/apps.git\n"
	        "    targetRevision: release/.next\n"
	        "    path: apps/web\n";
	struct config_argocd_branch b;
	struct err e = ERR_INIT;
	struct config *cfg = NULL;

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		if (config_argocd_branch_parse(&b, bad[i], &e) != -ERR_INVALID)
			fail_msg("git-branch '%s' was accepted", bad[i]);
		assert_non_null(strstr(e.msg, "not a branch name"));
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (config_argocd_branch_parse(&b, good[i], &e) != 0)
			fail_msg("git-branch '%s': %s", good[i], e.msg);
	cfg = load_annotated(yaml);
	diag(cfg, "", "targetRevision 'release/.next' is the branch written");
	config_free(cfg);
}

static void
test_argocd__names_the_default_file_by_namespace(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	config_argocd_default_file(&b, "argocd", "argocd", "web");
	assert_string_equal(b.ptr, ".argocd-source-web.yaml");
	buf_reset(&b);
	config_argocd_default_file(&b, "argocd", "team", "web");
	assert_string_equal(b.ptr, ".argocd-source-team_web.yaml");
	buf_reset(&b);
	config_argocd_default_file(&b, "default", "team", "web");
	assert_string_equal(b.ptr, ".argocd-source-web.yaml");
	buf_release(&b);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_argocd__loads_an_imageupdater_with_every_field),
		cmocka_unit_test(
		        test_argocd__merges_settings_image_over_ref_over_spec),
		cmocka_unit_test(
		        test_argocd__selects_applications_by_name_pattern_and_labels),
		cmocka_unit_test(
		        test_argocd__picks_the_most_specific_application_ref),
		cmocka_unit_test(
		        test_argocd__selects_only_applications_of_the_updaters_namespace),
		cmocka_unit_test(
		        test_argocd__reports_an_application_two_updaters_select),
		cmocka_unit_test(
		        test_argocd__reports_the_argocd_method_and_points_to_git),
		cmocka_unit_test(test_argocd__reports_what_ferry_cannot_do),
		cmocka_unit_test(
		        test_argocd__checks_the_crd_rules_of_refs_and_images),
		cmocka_unit_test(
		        test_argocd__reports_wrong_types_with_positions),
		cmocka_unit_test(
		        test_argocd__warns_on_an_unknown_strategy_and_uses_semver),
		cmocka_unit_test(
		        test_argocd__reads_strategy_words_in_any_case_and_old_names),
		cmocka_unit_test(
		        test_argocd__checks_filters_platforms_constraints_and_secrets),
		cmocka_unit_test(
		        test_argocd__accepts_every_application_field_argo_cd_accepts),
		cmocka_unit_test(
		        test_argocd__reports_a_misspelled_application_field),
		cmocka_unit_test(
		        test_argocd__reads_v0_annotations_only_when_turned_on),
		cmocka_unit_test(test_argocd__reads_every_annotation_key),
		cmocka_unit_test(
		        test_argocd__reads_kustomize_image_name_and_the_old_tag_match),
		cmocka_unit_test(
		        test_argocd__reports_a_misspelled_annotation_key),
		cmocka_unit_test(
		        test_argocd__reports_an_alias_image_list_does_not_name),
		cmocka_unit_test(
		        test_argocd__reports_helm_and_kustomize_keys_on_one_alias),
		cmocka_unit_test(
		        test_argocd__reports_annotation_values_argo_cd_refuses),
		cmocka_unit_test(
		        test_argocd__reports_the_argocd_method_of_annotations),
		cmocka_unit_test(
		        test_argocd__reads_annotations_when_a_ref_says_use_annotations),
		cmocka_unit_test(
		        test_argocd__checks_the_secrets_credentials_name),
		cmocka_unit_test(
		        test_argocd__asks_for_git_repository_with_a_chart_source),
		cmocka_unit_test(test_argocd__chooses_the_source_to_write_to),
		cmocka_unit_test(
		        test_argocd__reads_the_image_updater_configmap),
		cmocka_unit_test(
		        test_argocd__uses_argo_cd_defaults_without_a_configmap),
		cmocka_unit_test(test_argocd__reports_a_bad_configmap),
		cmocka_unit_test(test_argocd__parses_pull_secret_forms),
		cmocka_unit_test(
		        test_argocd__parses_methods_branches_and_targets),
		cmocka_unit_test(
		        test_argocd__names_the_default_file_by_namespace),
		cmocka_unit_test(
		        test_argocd__refuses_targets_and_paths_in_the_git_directory),
		cmocka_unit_test(test_argocd__refuses_branch_names_git_refuses),
	};

	log_configure(LOG_WARN, LOG_FORMAT_LOGFMT, 2);
	git_libgit2_init(); /* branch names are libgit2's to judge */
	return cmocka_run_group_tests(tests, NULL, NULL);
}
