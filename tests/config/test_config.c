/*
 * test_config.c - the config loader (core/config): Flux's defaults, every
 * class of error with its position and field path, skipped documents,
 * Secrets, and the lookups.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/log.h"
#include "base/util.h"
#include "config/loader.h"

#define SECOND ((int64_t)1000000000)

/* Loads yaml as file "test.yaml" and runs the cross-object checks. */
static struct config *
load(const char *yaml)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;

	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "test.yaml", yaml, strlen(yaml), &err),
	        0);
	config_check(cfg, &err);
	return cfg;
}

/* Prints the diagnostics, so that a failing test shows what was found. */
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

/* The diagnostic with this path whose message contains text, or NULL. */
static const struct config_diag *
find_diag(const struct config *cfg, const char *path, const char *text)
{
	for (size_t i = 0; i < config_diag_count(cfg); i++) {
		const struct config_diag *d = config_diag_get(cfg, i);

		if (strcmp(d->path, path) == 0 && strstr(d->message, text))
			return d;
	}
	dump(cfg);
	return NULL;
}

static void
assert_diag_at(const struct config *cfg, const char *path, const char *text,
               int line, int column)
{
	const struct config_diag *d = find_diag(cfg, path, text);

	if (d == NULL)
		fail_msg("no diagnostic at '%s' containing '%s'", path, text);
	assert_int_equal(d->line, line);
	assert_int_equal(d->column, column);
}

/* The notice with this path whose message contains text, or NULL. */
static const struct config_diag *
find_notice(const struct config *cfg, const char *path, const char *text)
{
	for (size_t i = 0; i < config_notice_count(cfg); i++) {
		const struct config_diag *d = config_notice_get(cfg, i);

		if (strcmp(d->path, path) == 0 && strstr(d->message, text))
			return d;
	}
	return NULL;
}

static void
assert_notice_at(const struct config *cfg, const char *path, const char *text,
                 int line, int column)
{
	const struct config_diag *d = find_notice(cfg, path, text);
	struct buf b = BUF_INIT;

	if (d == NULL) {
		for (size_t i = 0; i < config_notice_count(cfg); i++) {
			buf_reset(&b);
			config_diag_format(&b, config_notice_get(cfg, i));
			fprintf(stderr, "  notice: %s\n", b.ptr);
		}
		buf_release(&b);
		fail_msg("no notice at '%s' containing '%s'", path, text);
	}
	assert_int_equal(d->line, line);
	assert_int_equal(d->column, column);
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

static const char repo_app[] = "apiVersion: image.toolkit.fluxcd.io/v1\n"
                               "kind: ImageRepository\n"
                               "metadata:\n"
                               "  name: app\n"
                               "  namespace: apps\n"
                               "spec:\n"
                               "  image: ghcr.io/org/app\n"
                               "  interval: 5m\n";

static const char git_app[] = "apiVersion: source.toolkit.fluxcd.io/v1\n"
                              "kind: GitRepository\n"
                              "metadata:\n"
                              "  name: app\n"
                              "  namespace: apps\n"
                              "spec:\n"
                              "  url: https://git.example.com/org/app.git\n"
                              "  interval: 1m\n";

/* ---- seed and defaults ---- */

static void
test_config__loads_the_seed_fixtures_without_errors(void **state)
{
	const char *root = getenv("FERRY_SOURCE_ROOT");
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf path = BUF_INIT;
	const struct config_object *o;

	(void)state;
	assert_non_null(root);
	buf_addf(&path, "%s/tests/config/fixtures/seed", root);
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_add_path(cfg, path.ptr, &err), 0);
	assert_int_equal(config_check(cfg, &err), 0);
	assert_no_diags(cfg);
	assert_int_equal(config_count(cfg, CONFIG_GITREPOSITORY), 1);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEREPOSITORY), 1);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEPOLICY), 1);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEUPDATEAUTOMATION), 1);
	assert_int_equal(config_count(cfg, CONFIG_KUSTOMIZATION), 2);
	assert_int_equal(config_count(cfg, CONFIG_SECRET), 3);
	assert_int_equal(config_skipped_count(cfg), 3);
	o = config_find(cfg, CONFIG_IMAGEUPDATEAUTOMATION, "flux-system",
	                "auto-update");
	assert_non_null(o);
	assert_non_null(
	        strstr(o->u.imageupdateautomation.git.commit.message_template,
	               "{{range .Changed.Changes}}"));
	assert_string_equal(o->u.imageupdateautomation.update.path, "./deploy");
	o = config_find(cfg, CONFIG_IMAGEPOLICY, "flux-system", "api-server");
	assert_non_null(o);
	assert_string_equal(o->u.imagepolicy.filter_tags.pattern,
	                    "^v(?P<version>[0-9]+\\.[0-9]+\\.[0-9]+)$");
	assert_string_equal(o->u.imagepolicy.policy.semver.range, ">=1.0.0");
	buf_release(&path);
	config_free(cfg);
}

static void
test_config__applies_flux_defaults_to_an_image_repository(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata:\n"
	                          "  name: app\n"
	                          "spec:\n"
	                          "  image: ghcr.io/org/app\n"
	                          "  interval: 1m30s\n");
	const struct config_object *o;

	(void)state;
	assert_no_diags(cfg);
	o = config_get(cfg, CONFIG_IMAGEREPOSITORY, 0);
	assert_non_null(o);
	assert_string_equal(o->metadata.namespace, "default");
	assert_string_equal(o->api_version, "image.toolkit.fluxcd.io/v1");
	assert_int_equal(o->u.imagerepository.interval, 90 * SECOND);
	assert_int_equal(o->u.imagerepository.timeout, 90 * SECOND);
	assert_string_equal(o->u.imagerepository.provider, "generic");
	assert_int_equal(o->u.imagerepository.exclusion_list.n, 1);
	assert_string_equal(o->u.imagerepository.exclusion_list.items[0],
	                    "^.*\\.sig$");
	assert_int_equal(o->line, 1);
	assert_int_equal(o->column, 1);
	config_free(cfg);
}

static void
test_config__keeps_a_given_exclusion_list_instead_of_the_default(void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: app}\n"
	             "spec:\n"
	             "  image: ghcr.io/org/app\n"
	             "  interval: 1m\n"
	             "  timeout: 20s\n"
	             "  exclusionList: ['^dev-', '^pr-[0-9]+$']\n");
	const struct config_imagerepository *r;

	(void)state;
	assert_no_diags(cfg);
	r = &config_get(cfg, CONFIG_IMAGEREPOSITORY, 0)->u.imagerepository;
	assert_int_equal(r->exclusion_list.n, 2);
	assert_string_equal(r->exclusion_list.items[0], "^dev-");
	assert_string_equal(r->exclusion_list.items[1], "^pr-[0-9]+$");
	assert_int_equal(r->timeout, 20 * SECOND);
	config_free(cfg);
}

static void
test_config__raises_a_timeout_below_one_second_to_one_second(void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: app}\n"
	             "spec: {image: ghcr.io/org/app, interval: 500ms}\n");

	(void)state;
	assert_no_diags(cfg);
	assert_int_equal(config_get(cfg, CONFIG_IMAGEREPOSITORY, 0)
	                         ->u.imagerepository.timeout,
	                 SECOND);
	config_free(cfg);
}

static void
test_config__applies_flux_defaults_to_policies_and_automations(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;
	const struct config_object *p, *a, *g;

	(void)state;
	buf_addf(&y, "%s---\n%s---\n", repo_app, git_app);
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  policy: {numerical: {}}\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 10m\n"
	             "  sourceRef: {name: app}\n"
	             "  git:\n"
	             "    commit:\n"
	             "      author: {email: bot@example.com}\n"
	             "      signingKey: {secretRef: {name: gpg}}\n"
	             "---\n"
	             "apiVersion: v1\n"
	             "kind: Secret\n"
	             "metadata: {name: gpg, namespace: apps}\n"
	             "stringData: {git.asc: key}\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	p = config_find(cfg, CONFIG_IMAGEPOLICY, "apps", "app");
	assert_non_null(p);
	assert_string_equal(p->u.imagepolicy.policy.numerical.order, "asc");
	assert_null(p->u.imagepolicy.policy.alphabetical.order);
	assert_string_equal(p->u.imagepolicy.digest_reflection_policy, "Never");
	assert_string_equal(p->u.imagepolicy.image_repository_ref.namespace,
	                    "apps");
	a = config_find(cfg, CONFIG_IMAGEUPDATEAUTOMATION, "apps", "app");
	assert_non_null(a);
	assert_string_equal(a->u.imageupdateautomation.update.strategy,
	                    "Setters");
	assert_string_equal(a->u.imageupdateautomation.update.path, ".");
	assert_string_equal(a->u.imageupdateautomation.source_ref.kind,
	                    "GitRepository");
	assert_string_equal(
	        a->u.imageupdateautomation.git.commit.signing_key.type, "gpg");
	g = config_source_gitrepository(cfg, a);
	assert_non_null(g);
	assert_string_equal(g->u.gitrepository.ref.branch, "master");
	assert_int_equal(g->u.gitrepository.timeout, 60 * SECOND);
	assert_ptr_equal(
	        config_policy_repository(cfg, p),
	        config_find(cfg, CONFIG_IMAGEREPOSITORY, "apps", "app"));
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__accepts_ferrys_kustomization_update_strategy(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_addf(&y, "%s---\n", git_app);
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1beta2\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 10m\n"
	             "  sourceRef: {kind: GitRepository, name: app}\n"
	             "  update: {strategy: Kustomization, path: ./clusters}\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	assert_string_equal(config_get(cfg, CONFIG_IMAGEUPDATEAUTOMATION, 0)
	                            ->u.imageupdateautomation.update.strategy,
	                    "Kustomization");
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__decodes_every_field_of_gitrepository_receiver_and_kustomization(
        void **state)
{
	struct config *cfg = load(
	        "apiVersion: source.toolkit.fluxcd.io/v1\n"
	        "kind: GitRepository\n"
	        "metadata:\n"
	        "  name: repo\n"
	        "  namespace: ns\n"
	        "  labels: {team: a}\n"
	        "  annotations: {note: x}\n"
	        "  uid: 1234\n"
	        "  generation: 3\n"
	        "  creationTimestamp: 2025-01-01T00:00:00Z\n"
	        "spec:\n"
	        "  url: ssh://git@example.com/org/repo\n"
	        "  secretRef: {name: s}\n"
	        "  provider: github\n"
	        "  interval: 2h\n"
	        "  timeout: 90s\n"
	        "  ref: {tag: v1.0.0}\n"
	        "  verify: {mode: TagAndHEAD, secretRef: {name: s}}\n"
	        "  proxySecretRef: {name: s}\n"
	        "  ignore: '/*'\n"
	        "  suspend: true\n"
	        "  recurseSubmodules: yes\n"
	        "  include:\n"
	        "    - repository: {name: other}\n"
	        "      fromPath: a\n"
	        "      toPath: b\n"
	        "  sparseCheckout: [deploy, apps]\n"
	        "status:\n"
	        "  artifact: {revision: main@sha1:abc}\n"
	        "---\n"
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: hook, namespace: ns}\n"
	        "spec:\n"
	        "  type: github\n"
	        "  events: [ping, push]\n"
	        "  resources:\n"
	        "    - kind: ImageRepository\n"
	        "      name: '*'\n"
	        "      apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "      matchLabels: {app: x}\n"
	        "  resourceFilter: 'true'\n"
	        "  secretRef: {name: s}\n"
	        "---\n"
	        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	        "kind: Kustomization\n"
	        "metadata: {name: k, namespace: ns}\n"
	        "spec:\n"
	        "  dependsOn: [{name: infra}, {name: crds, namespace: other,"
	        " readyExpr: 'true'}]\n"
	        "  decryption: {provider: sops, serviceAccountName: kms,"
	        " secretRef: {name: s}}\n"
	        "  interval: 10m\n"
	        "  kubeConfig: {secretRef: {name: s, key: value}}\n"
	        "  path: ./apps\n"
	        "  postBuild:\n"
	        "    substitute: {cluster: prod}\n"
	        "    substituteFrom: [{kind: ConfigMap, name: vars, optional: true}]\n"
	        "    substituteStrategy: Always\n"
	        "  prune: false\n"
	        "  deletionPolicy: Orphan\n"
	        "  healthCheckExprs:\n"
	        "    - {apiVersion: x/v1, kind: Y, current: 'status.ok'}\n"
	        "  namePrefix: p-\n"
	        "  nameSuffix: -s\n"
	        "  images: [{name: app, newName: ghcr.io/org/app, newTag: '1.10', digest: 'sha256:00'}]\n"
	        "  components: [../c]\n"
	        "  ignoreMissingComponents: true\n"
	        "  ignore:\n"
	        "    - paths: [/spec/replicas]\n"
	        "      target: {kind: Deployment}\n"
	        "  buildMetadata: [originAnnotations]\n"
	        "  serviceAccountName: sa\n"
	        "  sourceRef: {kind: GitRepository, name: repo}\n"
	        "  targetNamespace: apps\n"
	        "  force: true\n"
	        "  wait: false\n"
	        "  commonMetadata: {labels: {a: b}}\n"
	        "---\n"
	        "apiVersion: v1\n"
	        "kind: Secret\n"
	        "metadata: {name: s, namespace: ns}\n"
	        "stringData: {token: t}\n");
	const struct config_object *o;

	(void)state;
	assert_no_diags(cfg);
	o = config_find(cfg, CONFIG_GITREPOSITORY, "ns", "repo");
	assert_non_null(o);
	assert_string_equal(config_strmap_get(&o->metadata.labels, "team"),
	                    "a");
	assert_string_equal(o->u.gitrepository.ref.tag, "v1.0.0");
	assert_null(o->u.gitrepository.ref.branch);
	assert_int_equal(o->u.gitrepository.interval, 7200 * SECOND);
	assert_int_equal(o->u.gitrepository.timeout, 90 * SECOND);
	assert_true(o->u.gitrepository.suspend);
	assert_true(o->u.gitrepository.recurse_submodules);
	assert_string_equal(o->u.gitrepository.verify.mode, "TagAndHEAD");
	assert_int_equal(o->u.gitrepository.n_include, 1);
	assert_string_equal(o->u.gitrepository.include[0].repository.name,
	                    "other");
	assert_string_equal(o->u.gitrepository.include[0].to_path, "b");
	assert_int_equal(o->u.gitrepository.sparse_checkout.n, 2);
	o = config_find(cfg, CONFIG_RECEIVER, "ns", "hook");
	assert_non_null(o);
	assert_int_equal(o->u.receiver.interval, 600 * SECOND);
	assert_int_equal(o->u.receiver.n_resources, 1);
	assert_string_equal(o->u.receiver.resources[0].name, "*");
	assert_string_equal(
	        config_strmap_get(&o->u.receiver.resources[0].match_labels,
	                          "app"),
	        "x");
	o = config_find(cfg, CONFIG_KUSTOMIZATION, "ns", "k");
	assert_non_null(o);
	assert_int_equal(o->u.kustomization.n_depends_on, 2);
	assert_string_equal(o->u.kustomization.depends_on[0].namespace, "ns");
	assert_string_equal(o->u.kustomization.depends_on[1].namespace,
	                    "other");
	assert_string_equal(o->u.kustomization.kube_config.secret_ref.key,
	                    "value");
	assert_string_equal(o->u.kustomization.images[0].new_tag, "1.10");
	assert_int_equal(o->u.kustomization.timeout, 570 * SECOND);
	assert_int_equal(o->u.kustomization.retry_interval, 600 * SECOND);
	assert_string_equal(o->u.kustomization.deletion_policy, "Orphan");
	assert_true(o->u.kustomization.post_build.substitute_from[0].optional);
	assert_string_equal(o->u.kustomization.depends_on[1].ready_expr,
	                    "true");
	assert_true(o->u.kustomization.ignore_missing_components);
	assert_int_equal(o->u.kustomization.n_ignore, 1);
	assert_string_equal(o->u.kustomization.ignore[0].target.kind,
	                    "Deployment");
	assert_string_equal(o->u.kustomization.build_metadata.items[0],
	                    "originAnnotations");
	assert_string_equal(o->u.kustomization.post_build.substitute_strategy,
	                    "Always");
	assert_string_equal(o->u.kustomization.decryption.service_account_name,
	                    "kms");
	assert_ptr_equal(config_source_gitrepository(cfg, o),
	                 config_find(cfg, CONFIG_GITREPOSITORY, "ns", "repo"));
	config_free(cfg);
}

/* ---- error classes ---- */

static void
test_config__reports_an_unknown_field_with_its_path_and_position(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata: {name: app, namespace: apps}\n"
	                          "spec:\n"
	                          "  imageRepositoryRef: {name: app}\n"
	                          "  policy:\n"
	                          "    semver:\n"
	                          "      range: 1.x\n"
	                          "      rnage: 2.x\n");
	const struct config_diag *d;

	(void)state;
	assert_diag_at(cfg, "spec.policy.semver.rnage", "unknown field 'rnage'",
	               9, 7);
	d = find_diag(cfg, "spec.policy.semver.rnage", "unknown");
	assert_string_equal(d->object, "ImagePolicy apps/app");
	assert_string_equal(d->file, "test.yaml");
	config_free(cfg);
}

static void
test_config__reports_a_mapping_where_a_string_is_expected(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: {name: ghcr.io/org/app}\n"
	                          "  interval: 1m\n");

	(void)state;
	assert_diag_at(cfg, "spec.image", "expected a string, found a mapping",
	               5, 10);
	config_free(cfg);
}

static void
test_config__reports_a_value_that_is_not_a_boolean(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: ghcr.io/org/app\n"
	                          "  interval: 1m\n"
	                          "  suspend: 'true'\n"
	                          "  insecure: 1\n");

	(void)state;
	assert_diag_at(cfg, "spec.suspend", "expected true or false", 7, 12);
	assert_diag_at(cfg, "spec.insecure", "found a number", 8, 13);
	config_free(cfg);
}

static void
test_config__asks_to_quote_a_number_given_for_a_string(void **state)
{
	struct config *cfg =
	        load("apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	             "kind: Kustomization\n"
	             "metadata: {name: k}\n"
	             "spec:\n"
	             "  interval: 1m\n"
	             "  prune: true\n"
	             "  sourceRef: {kind: OCIRepository, name: x}\n"
	             "  images:\n"
	             "    - name: app\n"
	             "      newTag: 1.10\n");

	(void)state;
	assert_diag_at(cfg, "spec.images[0].newTag", "put it in quotes", 10,
	               15);
	config_free(cfg);
}

static void
test_config__rejects_durations_that_flux_would_reject(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: ghcr.io/org/app\n"
	                          "  interval: 1d\n"
	                          "  timeout: 1h\n"
	                          "---\n"
	                          "apiVersion: source.toolkit.fluxcd.io/v1\n"
	                          "kind: GitRepository\n"
	                          "metadata: {name: g}\n"
	                          "spec:\n"
	                          "  url: https://example.com/r\n"
	                          "  interval: -1m\n"
	                          "---\n"
	                          "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	                          "kind: Kustomization\n"
	                          "metadata: {name: k}\n"
	                          "spec:\n"
	                          "  interval: 5\n"
	                          "  retryInterval: 1.m\n"
	                          "  prune: true\n"
	                          "  sourceRef: {kind: Bucket, name: x}\n");

	(void)state;
	assert_diag_at(cfg, "spec.interval", "invalid duration '1d'", 6, 13);
	assert_diag_at(cfg, "spec.timeout", "invalid duration '1h'", 7, 12);
	assert_diag_at(cfg, "spec.interval", "invalid duration '-1m'", 14, 13);
	assert_diag_at(cfg, "spec.interval", "found a number", 20, 13);
	assert_diag_at(cfg, "spec.retryInterval", "invalid duration '1.m'", 21,
	               18);
	assert_int_equal(config_diag_count(cfg), 5);
	config_free(cfg);
}

static void
test_config__accepts_go_durations_with_several_units(void **state)
{
	struct config *cfg = load("apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	                          "kind: Kustomization\n"
	                          "metadata: {name: k}\n"
	                          "spec:\n"
	                          "  interval: 1h30m10.5s\n"
	                          "  retryInterval: 250ms\n"
	                          "  timeout: 1.5h\n"
	                          "  prune: true\n"
	                          "  sourceRef: {kind: Bucket, name: x}\n");
	const struct config_kustomization *k;

	(void)state;
	assert_no_diags(cfg);
	k = &config_get(cfg, CONFIG_KUSTOMIZATION, 0)->u.kustomization;
	assert_int_equal(k->interval, 5410 * SECOND + SECOND / 2);
	assert_int_equal(k->retry_interval, SECOND / 4);
	assert_int_equal(k->timeout, 5400 * SECOND);
	config_free(cfg);
}

static void
test_config__rejects_an_invalid_regex_in_the_exclusion_list(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: ghcr.io/org/app\n"
	                          "  interval: 1m\n"
	                          "  exclusionList:\n"
	                          "    - ok\n"
	                          "    - '(*bad'\n");

	(void)state;
	assert_diag_at(cfg, "spec.exclusionList[1]",
	               "invalid regular expression '(*bad'", 9, 7);
	config_free(cfg);
}

static void
test_config__rejects_regex_features_that_go_re2_lacks(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: ghcr.io/org/app\n"
	                          "  interval: 1m\n"
	                          "  exclusionList:\n"
	                          "    - '(a)\\1'\n"
	                          "    - '^(?!main)'\n"
	                          "    - '(?<=x)y'\n"
	                          "    - '[\\1(?=]'\n");

	(void)state;
	assert_diag_at(cfg, "spec.exclusionList[0]", "backreferences", 8, 7);
	assert_diag_at(cfg, "spec.exclusionList[1]", "lookaround", 9, 7);
	assert_diag_at(cfg, "spec.exclusionList[2]", "lookaround", 10, 7);
	/* inside a character class these are plain characters */
	assert_int_equal(config_diag_count(cfg), 3);
	config_free(cfg);
}

static void
test_config__accepts_named_groups_in_filter_tags(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_addf(&y, "%s---\n", repo_app);
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  filterTags:\n"
	             "    pattern: '^main-[a-f0-9]+-(?P<ts>[0-9]+)'\n"
	             "    extract: '$ts'\n"
	             "  policy: {numerical: {order: desc}}\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	assert_string_equal(config_get(cfg, CONFIG_IMAGEPOLICY, 0)
	                            ->u.imagepolicy.policy.numerical.order,
	                    "desc");
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__rejects_a_filter_pattern_longer_than_the_policy_accepts(
        void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: p}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  policy: {semver: {range: '*'}}\n"
	             "  filterTags: {pattern: '");
	for (int i = 0; i < 5000; i++)
		buf_putc(&y, 'a');
	buf_puts(&y, "'}\n");
	cfg = load(y.ptr);
	assert_non_null(find_diag(cfg, "spec.filterTags.pattern", "4096"));
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__rejects_a_policy_without_a_strategy(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata: {name: p}\n"
	                          "spec:\n"
	                          "  imageRepositoryRef: {name: app}\n"
	                          "  policy:\n"
	                          "    {}\n");

	(void)state;
	assert_diag_at(cfg, "spec.policy", "no strategy given", 7, 5);
	config_free(cfg);
}

static void
test_config__rejects_a_semver_range_the_policy_could_not_use(void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: a}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  policy: {semver: {range: '>=1.0.0 <<2'}}\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: b}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  policy: {semver: {range: ''}}\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: c}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  policy: {semver: {range: '^1.x-0 || ~2.3'}}\n");

	(void)state;
	assert_diag_at(cfg, "spec.policy.semver.range",
	               "invalid semver range '>=1.0.0 <<2'", 6, 28);
	assert_diag_at(cfg, "spec.policy.semver.range", "range is empty", 13,
	               28);
	/* the third one is valid; the others also lack their repository */
	assert_int_equal(config_diag_count(cfg), 5);
	config_free(cfg);
}

static void
test_config__rejects_a_policy_with_two_strategies(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata: {name: p}\n"
	                          "spec:\n"
	                          "  imageRepositoryRef: {name: app}\n"
	                          "  policy:\n"
	                          "    alphabetical: {}\n"
	                          "    numerical: {order: desc}\n");

	(void)state;
	assert_diag_at(cfg, "spec.policy",
	               "2 strategies given (alphabetical, numerical)", 7, 5);
	config_free(cfg);
}

static void
test_config__names_the_valid_values_of_an_enum(void **state)
{
	struct config *cfg =
	        load("apiVersion: notification.toolkit.fluxcd.io/v1\n"
	             "kind: Receiver\n"
	             "metadata: {name: r}\n"
	             "spec:\n"
	             "  type: jenkins\n"
	             "  resources: [{kind: ImageRepository, name: app}]\n"
	             "  secretRef: {name: s}\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: a}\n"
	             "spec:\n"
	             "  interval: 1m\n"
	             "  sourceRef: {kind: OCIRepository, name: x}\n"
	             "  git:\n"
	             "    commit:\n"
	             "      author: {email: a@b.c}\n"
	             "      signingKey: {type: pgp, secretRef: {name: k}}\n");

	(void)state;
	assert_diag_at(cfg, "spec.type", "'jenkins' is not valid (use generic,",
	               5, 9);
	assert_non_null(
	        find_diag(cfg, "spec.type", "cdevents or distribution)"));
	assert_diag_at(cfg, "spec.sourceRef.kind",
	               "'OCIRepository' is not valid (use GitRepository)", 14,
	               21);
	assert_diag_at(cfg, "spec.git.commit.signingKey.type",
	               "'pgp' is not valid (use gpg or ssh)", 18, 26);
	config_free(cfg);
}

static void
test_config__reports_missing_required_fields_at_their_parent(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageUpdateAutomation\n"
	                          "metadata:\n"
	                          "  namespace: apps\n"
	                          "spec:\n"
	                          "  sourceRef:\n"
	                          "    kind: GitRepository\n"
	                          "  git:\n"
	                          "    commit:\n"
	                          "      author:\n"
	                          "        name: bot\n");

	(void)state;
	assert_diag_at(cfg, "metadata.name", "required field is missing", 4, 3);
	assert_diag_at(cfg, "spec.interval", "required field is missing", 6, 3);
	assert_diag_at(cfg, "spec.sourceRef.name", "required field is missing",
	               7, 5);
	assert_diag_at(cfg, "spec.git.commit.author.email",
	               "required field is missing", 11, 9);
	assert_string_equal(config_diag_get(cfg, 0)->object,
	                    "ImageUpdateAutomation apps/(no name)");
	config_free(cfg);
}

static void
test_config__treats_a_null_value_as_a_missing_field(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: ~\n"
	                          "  interval:\n");

	(void)state;
	assert_diag_at(cfg, "spec.image", "required field is missing", 5, 3);
	assert_diag_at(cfg, "spec.interval", "required field is missing", 5, 3);
	config_free(cfg);
}

static void
test_config__rejects_an_image_with_a_scheme_a_tag_or_a_digest(void **state)
{
	struct config *cfg = load(
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImageRepository\n"
	        "metadata: {name: a}\n"
	        "spec: {image: 'https://ghcr.io/org/app', interval: 1m}\n"
	        "---\n"
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImageRepository\n"
	        "metadata: {name: b}\n"
	        "spec: {image: 'ghcr.io/org/app:1.0', interval: 1m}\n"
	        "---\n"
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImageRepository\n"
	        "metadata: {name: c}\n"
	        "spec: {image: 'ghcr.io/org/app@sha256:00', interval: 1m}\n"
	        "---\n"
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImageRepository\n"
	        "metadata: {name: d}\n"
	        "spec: {image: 'localhost:5000/org/app', interval: 1m}\n");

	(void)state;
	assert_diag_at(cfg, "spec.image", "must not include a URL scheme", 4,
	               15);
	assert_diag_at(cfg, "spec.image", "must not include a tag", 9, 15);
	assert_diag_at(cfg, "spec.image", "must not include a digest", 14, 15);
	/* a registry port is not a tag */
	assert_int_equal(config_diag_count(cfg), 3);
	config_free(cfg);
}

static void
test_config__rejects_a_git_url_without_a_supported_scheme(void **state)
{
	struct config *cfg = load("apiVersion: source.toolkit.fluxcd.io/v1\n"
	                          "kind: GitRepository\n"
	                          "metadata: {name: g}\n"
	                          "spec:\n"
	                          "  url: git@github.com:org/repo.git\n"
	                          "  interval: 1m\n");

	(void)state;
	assert_diag_at(cfg, "spec.url", "ssh://git@host/org/repo", 5, 8);
	config_free(cfg);
}

static void
test_config__allows_a_git_service_account_only_with_aws_or_azure(void **state)
{
	struct config *cfg = load("apiVersion: source.toolkit.fluxcd.io/v1\n"
	                          "kind: GitRepository\n"
	                          "metadata: {name: a}\n"
	                          "spec:\n"
	                          "  url: https://dev.azure.com/org/repo\n"
	                          "  interval: 1m\n"
	                          "  provider: azure\n"
	                          "  serviceAccountName: wi\n"
	                          "---\n"
	                          "apiVersion: source.toolkit.fluxcd.io/v1\n"
	                          "kind: GitRepository\n"
	                          "metadata: {name: b}\n"
	                          "spec:\n"
	                          "  url: https://github.com/org/repo\n"
	                          "  interval: 1m\n"
	                          "  serviceAccountName: wi\n");

	(void)state;
	assert_int_equal(config_diag_count(cfg), 1);
	assert_diag_at(cfg, "spec.serviceAccountName",
	               "can only be set when provider is 'azure' or 'aws'", 14,
	               3);
	config_free(cfg);
}

static void
test_config__rejects_an_invalid_object_name(void **state)
{
	struct config *cfg =
	        load("apiVersion: v1\n"
	             "kind: Secret\n"
	             "metadata: {name: My_Secret, namespace: -bad}\n");

	(void)state;
	assert_diag_at(cfg, "metadata.name", "'My_Secret' is not a valid name",
	               3, 18);
	assert_diag_at(cfg, "metadata.namespace", "'-bad' is not a valid name",
	               3, 40);
	config_free(cfg);
}

static void
test_config__reports_a_duplicate_object_naming_both_places(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;
	const struct config_diag *d;

	(void)state;
	buf_addf(&y, "%s---\n%s", git_app, git_app);
	cfg = load(y.ptr);
	d = find_diag(cfg, "metadata.name", "duplicate");
	assert_non_null(d);
	assert_int_equal(d->line, 10);
	assert_int_equal(d->column, 1);
	assert_non_null(strstr(
	        d->message,
	        "GitRepository apps/app is already defined at test.yaml:1:1"));
	assert_int_equal(config_diag_count(cfg), 1);
	/* the lookup answers with the first definition */
	assert_int_equal(
	        config_find(cfg, CONFIG_GITREPOSITORY, "apps", "app")->line, 1);
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__allows_the_same_name_in_other_kinds_and_namespaces(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_addf(&y, "%s---\n%s---\n", git_app, repo_app);
	buf_puts(&y, "apiVersion: source.toolkit.fluxcd.io/v1\n"
	             "kind: GitRepository\n"
	             "metadata: {name: app, namespace: other}\n"
	             "spec: {url: 'https://x/y', interval: 1m}\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__reports_dangling_references_at_the_reference(void **state)
{
	struct config *cfg = load(
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImageRepository\n"
	        "metadata: {name: app, namespace: apps}\n"
	        "spec:\n"
	        "  image: ghcr.io/org/app\n"
	        "  interval: 1m\n"
	        "  secretRef: {name: pull}\n"
	        "  certSecretRef:\n"
	        "    name: tls\n"
	        "  proxySecretRef: {name: proxy}\n"
	        "---\n"
	        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	        "kind: Kustomization\n"
	        "metadata: {name: k, namespace: apps}\n"
	        "spec:\n"
	        "  interval: 1m\n"
	        "  prune: true\n"
	        "  sourceRef: {kind: GitRepository, name: repo, namespace: flux}\n"
	        "  decryption: {provider: sops, secretRef: {name: age}}\n"
	        "---\n"
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImagePolicy\n"
	        "metadata: {name: p, namespace: apps}\n"
	        "spec:\n"
	        "  imageRepositoryRef: {name: app, namespace: elsewhere}\n"
	        "  policy: {semver: {range: '*'}}\n");

	(void)state;
	assert_diag_at(cfg, "spec.secretRef.name",
	               "Secret 'apps/pull' not found", 7, 14);
	assert_diag_at(cfg, "spec.certSecretRef.name",
	               "Secret 'apps/tls' not found", 9, 5);
	assert_diag_at(cfg, "spec.proxySecretRef.name",
	               "Secret 'apps/proxy' not found", 10, 19);
	assert_diag_at(cfg, "spec.sourceRef.name",
	               "GitRepository 'flux/repo' not found", 18, 14);
	assert_diag_at(cfg, "spec.decryption.secretRef.name",
	               "Secret 'apps/age' not found", 19, 43);
	assert_diag_at(cfg, "spec.imageRepositoryRef.name",
	               "ImageRepository 'elsewhere/app' not found", 25, 23);
	assert_int_equal(config_diag_count(cfg), 6);
	config_free(cfg);
}

static void
test_config__denies_a_policy_from_another_namespace_without_access_from(
        void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_addf(&y, "%s---\n", repo_app);
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: p, namespace: team}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app, namespace: apps}\n"
	             "  policy: {semver: {range: '*'}}\n");
	cfg = load(y.ptr);
	assert_diag_at(cfg, "spec.imageRepositoryRef",
	               "does not allow policies from namespace 'team'", 14, 23);
	config_free(cfg);

	buf_reset(&y);
	buf_addf(&y, "%s", repo_app);
	buf_puts(&y, "  accessFrom:\n"
	             "    namespaceSelectors: [{matchLabels: {team: x}}]\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: p, namespace: team}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app, namespace: apps}\n"
	             "  policy: {semver: {range: '*'}}\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__does_not_look_for_sources_other_than_git_repositories(void **state)
{
	struct config *cfg =
	        load("apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	             "kind: Kustomization\n"
	             "metadata: {name: k}\n"
	             "spec:\n"
	             "  interval: 1m\n"
	             "  prune: true\n"
	             "  sourceRef: {kind: OCIRepository, name: manifests}\n");

	(void)state;
	assert_no_diags(cfg);
	config_free(cfg);
}

static void
test_config__reports_every_error_not_only_the_first(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImageRepository\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  image: ghcr.io/org/app:v1\n"
	                          "  interval: soon\n"
	                          "  provider: quay\n"
	                          "  extra: 1\n"
	                          "---\n"
	                          "apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata: {name: app}\n"
	                          "spec:\n"
	                          "  imageRepositoryRef: {name: missing}\n"
	                          "  policy: {}\n");

	(void)state;
	assert_non_null(find_diag(cfg, "spec.image", "tag"));
	assert_non_null(find_diag(cfg, "spec.interval", "soon"));
	assert_non_null(find_diag(cfg, "spec.provider", "quay"));
	assert_non_null(find_diag(cfg, "spec.extra", "unknown field"));
	assert_non_null(find_diag(cfg, "spec.policy", "no strategy"));
	assert_non_null(
	        find_diag(cfg, "spec.imageRepositoryRef.name", "not found"));
	assert_int_equal(config_diag_count(cfg), 6);
	config_free(cfg);
}

static void
test_config__keeps_documents_before_a_syntax_error_and_reads_other_files(
        void **state)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char bad[] = "apiVersion: v1\n"
	                   "kind: Secret\n"
	                   "metadata: {name: first}\n"
	                   "---\n"
	                   "key: [unclosed\n"
	                   "---\n"
	                   "apiVersion: v1\n"
	                   "kind: Secret\n"
	                   "metadata: {name: never}\n";
	const char good[] = "apiVersion: v1\n"
	                    "kind: Secret\n"
	                    "metadata: {name: second}\n";
	const struct config_diag *d;

	(void)state;
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "bad.yaml", bad, strlen(bad), &err), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "good.yaml", good, strlen(good), &err),
	        0);
	assert_int_equal(config_check(cfg, &err), -ERR_INVALID);
	assert_int_equal(config_diag_count(cfg), 1);
	d = config_diag_get(cfg, 0);
	assert_string_equal(d->file, "bad.yaml");
	assert_int_equal(d->line, 6);
	assert_non_null(strstr(d->message, "YAML syntax error"));
	assert_non_null(strstr(d->message, "at line 5 column 6"));
	assert_non_null(config_find(cfg, CONFIG_SECRET, "default", "first"));
	assert_non_null(config_find(cfg, CONFIG_SECRET, "default", "second"));
	assert_null(config_find(cfg, CONFIG_SECRET, "default", "never"));
	config_free(cfg);
}

static void
test_config__skips_other_kinds_and_plain_yaml(void **state)
{
	struct config *cfg =
	        load("apiVersion: apps/v1\n"
	             "kind: Deployment\n"
	             "metadata: {name: web}\n"
	             "---\n"
	             "replicaCount: 3\n"
	             "---\n"
	             "apiVersion: kustomize.config.k8s.io/v1beta1\n"
	             "kind: Kustomization\n"
	             "resources: [a.yaml]\n"
	             "---\n"
	             "apiVersion: example.com/v1\n"
	             "kind: Secret\n"
	             "whatever: 1\n");
	const struct config_skipped *s;

	(void)state;
	assert_no_diags(cfg);
	assert_int_equal(config_skipped_count(cfg), 4);
	s = config_skipped_get(cfg, 0);
	assert_string_equal(s->kind, "Deployment");
	assert_string_equal(s->api_version, "apps/v1");
	assert_int_equal(s->line, 1);
	assert_string_equal(config_skipped_get(cfg, 1)->kind, "");
	assert_int_equal(config_skipped_get(cfg, 1)->line, 5);
	assert_string_equal(config_skipped_get(cfg, 2)->kind, "Kustomization");
	assert_string_equal(config_skipped_get(cfg, 3)->kind, "Secret");
	assert_int_equal(config_count(cfg, CONFIG_KUSTOMIZATION), 0);
	config_free(cfg);
}

static void
test_config__rejects_a_known_kind_with_an_unknown_api_version(void **state)
{
	struct config *cfg =
	        load("apiVersion: source.toolkit.fluxcd.io/v1beta2\n"
	             "kind: GitRepository\n"
	             "metadata: {name: g, namespace: flux}\n"
	             "---\n"
	             "apiVersion: v2\n"
	             "kind: Secret\n"
	             "metadata: {name: s}\n");

	(void)state;
	assert_diag_at(
	        cfg, "apiVersion",
	        "GitRepository 'source.toolkit.fluxcd.io/v1beta2' is not supported (use source.toolkit.fluxcd.io/v1)",
	        1, 13);
	assert_diag_at(cfg, "apiVersion", "(use v1)", 5, 13);
	assert_string_equal(config_diag_get(cfg, 0)->object,
	                    "GitRepository flux/g");
	assert_int_equal(config_count(cfg, CONFIG_GITREPOSITORY), 0);
	config_free(cfg);
}

static void
test_config__skips_empty_documents(void **state)
{
	struct config *cfg = load("---\n"
	                          "---\n"
	                          "# only a comment\n"
	                          "---\n"
	                          "apiVersion: v1\n"
	                          "kind: Secret\n"
	                          "metadata: {name: s}\n"
	                          "---\n");

	(void)state;
	assert_no_diags(cfg);
	assert_int_equal(config_count(cfg, CONFIG_SECRET), 1);
	assert_int_equal(config_get(cfg, CONFIG_SECRET, 0)->line, 5);
	assert_int_equal(config_skipped_count(cfg), 0);
	config_free(cfg);
}

static void
test_config__reports_a_field_given_twice(void **state)
{
	struct config *cfg = load("apiVersion: v1\n"
	                          "kind: Secret\n"
	                          "metadata:\n"
	                          "  name: a\n"
	                          "  name: b\n"
	                          "stringData: {k: v, k: w}\n");

	(void)state;
	assert_diag_at(cfg, "metadata.name", "field given twice", 5, 3);
	assert_diag_at(cfg, "stringData.k", "duplicate key 'k'", 6, 20);
	config_free(cfg);
}

/* ---- Secrets ---- */

static void
test_config__decodes_secret_data_and_prefers_string_data(void **state)
{
	struct config *cfg = load("apiVersion: v1\n"
	                          "kind: Secret\n"
	                          "metadata: {name: s, namespace: apps}\n"
	                          "type: kubernetes.io/basic-auth\n"
	                          "data:\n"
	                          "  username: Ym90\n"
	                          "  password: b2xk\n"
	                          "  empty: ''\n"
	                          "stringData:\n"
	                          "  password: new\n");
	const struct config_object *s;
	const struct secret *v;

	(void)state;
	assert_no_diags(cfg);
	s = config_find(cfg, CONFIG_SECRET, "apps", "s");
	assert_non_null(s);
	assert_string_equal(s->u.secret.type, "kubernetes.io/basic-auth");
	v = config_secret_value(s, "username");
	assert_non_null(v);
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->ptr, "bot", 3);
	v = config_secret_value(s, "password");
	assert_int_equal(v->len, 3);
	assert_memory_equal(v->ptr, "new", 3);
	v = config_secret_value(s, "empty");
	assert_non_null(v);
	assert_int_equal(v->len, 0);
	assert_null(config_secret_value(s, "missing"));
	config_free(cfg);
}

static void
test_config__never_puts_a_secret_value_into_a_diagnostic(void **state)
{
	struct config *cfg = load("apiVersion: v1\n"
	                          "kind: Secret\n"
	                          "metadata: {name: s}\n"
	                          "data:\n"
	                          "  token: hunter2-not-base64!\n"
	                          "  port: 5432\n"
	                          "stringData:\n"
	                          "  nested: {hunter3: x}\n");
	struct buf all = BUF_INIT;

	(void)state;
	assert_diag_at(cfg, "data.token", "key 'token' is not valid base64", 5,
	               10);
	assert_diag_at(cfg, "data.port", "must be a string", 6, 9);
	assert_diag_at(cfg, "stringData.nested", "must be a string", 8, 11);
	for (size_t i = 0; i < config_diag_count(cfg); i++)
		config_diag_format(&all, config_diag_get(cfg, i));
	assert_null(strstr(all.ptr, "hunter2"));
	assert_null(strstr(all.ptr, "5432"));
	buf_release(&all);
	config_free(cfg);
}

static void
test_config__finds_the_secret_of_a_secret_ref_in_the_same_namespace(
        void **state)
{
	struct config *cfg = load(
	        "apiVersion: image.toolkit.fluxcd.io/v1\n"
	        "kind: ImageRepository\n"
	        "metadata: {name: app, namespace: apps}\n"
	        "spec: {image: r/app, interval: 1m, secretRef: {name: pull}}\n"
	        "---\n"
	        "apiVersion: v1\n"
	        "kind: Secret\n"
	        "metadata: {name: pull, namespace: apps}\n"
	        "stringData: {.dockerconfigjson: '{}'}\n"
	        "---\n"
	        "apiVersion: v1\n"
	        "kind: Secret\n"
	        "metadata: {name: pull, namespace: other}\n");
	const struct config_object *r, *s;

	(void)state;
	assert_no_diags(cfg);
	r = config_get(cfg, CONFIG_IMAGEREPOSITORY, 0);
	s = config_secret_for(cfg, r, &r->u.imagerepository.secret_ref);
	assert_non_null(s);
	assert_string_equal(s->metadata.namespace, "apps");
	assert_non_null(config_secret_value(s, ".dockerconfigjson"));
	assert_null(config_secret_for(cfg, r,
	                              &r->u.imagerepository.cert_secret_ref));
	config_free(cfg);
}

/* ---- policy selection ---- */

static const char policies3[] =
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImagePolicy\n"
        "metadata: {name: p1, namespace: apps, labels: {tier: web, env: prod}}\n"
        "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '*'}}}\n"
        "---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImagePolicy\n"
        "metadata: {name: p2, namespace: apps, labels: {tier: db}}\n"
        "spec: {imageRepositoryRef: {name: app}, policy: {semver: {range: '*'}}}\n"
        "---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImagePolicy\n"
        "metadata: {name: p3, namespace: other, labels: {tier: web}}\n"
        "spec: {imageRepositoryRef: {name: app, namespace: apps},"
        " policy: {semver: {range: '*'}}}\n"
        "---\n";

static struct config *
load_with_automation(const char *selector)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	buf_addf(&y,
	         "%s  accessFrom: {namespaceSelectors: [{matchLabels: {}}]}\n"
	         "---\n%s---\n%s",
	         repo_app, git_app, policies3);
	buf_addf(&y,
	         "apiVersion: image.toolkit.fluxcd.io/v1\n"
	         "kind: ImageUpdateAutomation\n"
	         "metadata: {name: a, namespace: apps}\n"
	         "spec:\n"
	         "  interval: 1m\n"
	         "  sourceRef: {name: app}\n"
	         "%s",
	         selector);
	cfg = load(y.ptr);
	buf_release(&y);
	return cfg;
}

static void
assert_selected(const char *selector, const char *want)
{
	struct config *cfg = load_with_automation(selector);
	const struct config_object **list = NULL;
	struct err err = ERR_INIT;
	struct buf got = BUF_INIT;
	size_t n = 0;

	assert_no_diags(cfg);
	assert_int_equal(
	        config_automation_policies(
	                &list, &n, cfg,
	                config_get(cfg, CONFIG_IMAGEUPDATEAUTOMATION, 0), &err),
	        0);
	for (size_t i = 0; i < n; i++)
		buf_addf(&got, "%s%s", i ? "," : "", list[i]->metadata.name);
	assert_string_equal(got.ptr, want);
	free(list);
	buf_release(&got);
	config_free(cfg);
}

static void
test_config__selects_all_policies_of_the_namespace_without_a_selector(
        void **state)
{
	(void)state;
	assert_selected("", "p1,p2");
}

static void
test_config__selects_policies_by_match_labels(void **state)
{
	(void)state;
	assert_selected("  policySelector: {matchLabels: {tier: web}}\n", "p1");
	assert_selected(
	        "  policySelector: {matchLabels: {tier: web, env: dev}}\n", "");
}

static void
test_config__selects_policies_by_match_expressions(void **state)
{
	(void)state;
	assert_selected(
	        "  policySelector:\n"
	        "    matchExpressions:\n"
	        "      - {key: tier, operator: In, values: [db, cache]}\n",
	        "p2");
	assert_selected("  policySelector:\n"
	                "    matchExpressions:\n"
	                "      - {key: tier, operator: NotIn, values: [db]}\n",
	                "p1");
	assert_selected("  policySelector:\n"
	                "    matchExpressions:\n"
	                "      - {key: env, operator: Exists}\n",
	                "p1");
	assert_selected("  policySelector:\n"
	                "    matchExpressions:\n"
	                "      - {key: env, operator: DoesNotExist}\n",
	                "p2");
}

static void
test_config__checks_the_values_of_selector_operators(void **state)
{
	struct config *cfg = load_with_automation(
	        "  policySelector:\n"
	        "    matchExpressions:\n"
	        "      - {key: tier, operator: In}\n"
	        "      - {key: env, operator: Exists, values: [x]}\n"
	        "      - {key: env, operator: Equals, values: [x]}\n");

	(void)state;
	assert_non_null(
	        find_diag(cfg, "spec.policySelector",
	                  "matchExpressions[0]: operator In needs values"));
	assert_non_null(find_diag(
	        cfg, "spec.policySelector",
	        "matchExpressions[1]: operator Exists takes no values"));
	assert_non_null(find_diag(
	        cfg, "spec.policySelector.matchExpressions[2].operator",
	        "'Equals' is not valid"));
	config_free(cfg);
}

/* ---- cross-field rules ---- */

static void
test_config__allows_a_policy_interval_only_with_digest_reflection_always(
        void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata: {name: a}\n"
	                          "spec:\n"
	                          "  imageRepositoryRef: {name: app}\n"
	                          "  policy: {semver: {range: '*'}}\n"
	                          "  interval: 5m\n"
	                          "---\n"
	                          "apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata: {name: b}\n"
	                          "spec:\n"
	                          "  imageRepositoryRef: {name: app}\n"
	                          "  policy: {semver: {range: '*'}}\n"
	                          "  digestReflectionPolicy: Always\n");

	(void)state;
	assert_non_null(find_diag(
	        cfg, "spec.interval",
	        "only allowed when digestReflectionPolicy is Always"));
	assert_non_null(
	        find_diag(cfg, "spec.interval",
	                  "required when digestReflectionPolicy is Always"));
	config_free(cfg);
}

static void
test_config__requires_a_receiver_secret_except_for_generic_oidc(void **state)
{
	struct config *cfg = load(
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: a}\n"
	        "spec: {type: generic-hmac, resources: [{kind: ImageRepository, name: x}]}\n"
	        "---\n"
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: b}\n"
	        "spec:\n"
	        "  type: generic-oidc\n"
	        "  resources: [{kind: ImageRepository, name: x}]\n"
	        "  secretRef: {name: s}\n");

	(void)state;
	assert_diag_at(cfg, "spec.secretRef", "required field is missing", 4,
	               7);
	assert_diag_at(cfg, "spec.secretRef",
	               "is not allowed with type generic-oidc", 12, 14);
	config_free(cfg);
}

/* ---- today's Flux schemas, and what ferry does not act on ---- */

static void
test_config__accepts_receiver_oidc_providers_and_filters_with_notices(
        void **state)
{
	struct config *cfg = load(
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: ci, namespace: apps}\n"
	        "spec:\n"
	        "  type: generic-oidc\n"
	        "  oidcProviders:\n"
	        "    - issuerURL: https://token.actions.githubusercontent.com\n"
	        "      audience: flux\n"
	        "      variables:\n"
	        "        - {name: repo, expression: claims.repository}\n"
	        "      validations:\n"
	        "        - {expression: \"vars.repo == 'org/app'\", "
	        "message: wrong repository}\n"
	        "  resourceFilter: 'true'\n"
	        "  resources:\n"
	        "    - kind: ImageRepository\n"
	        "      name: app\n"
	        "      filter: \"has(req.tag)\"\n"
	        "    - {kind: ArtifactGenerator, name: gen}\n");
	const struct config_object *o;

	(void)state;
	assert_no_diags(cfg);
	o = config_find(cfg, CONFIG_RECEIVER, "apps", "ci");
	assert_non_null(o);
	assert_int_equal(o->u.receiver.n_oidc_providers, 1);
	assert_string_equal(o->u.receiver.oidc_providers[0].issuer_url,
	                    "https://token.actions.githubusercontent.com");
	assert_string_equal(o->u.receiver.oidc_providers[0].audience, "flux");
	assert_int_equal(o->u.receiver.oidc_providers[0].n_variables, 1);
	assert_string_equal(
	        o->u.receiver.oidc_providers[0].validations[0].message,
	        "wrong repository");
	assert_string_equal(o->u.receiver.resources[0].filter, "has(req.tag)");
	assert_string_equal(o->u.receiver.resources[1].kind,
	                    "ArtifactGenerator");
	assert_notice_at(cfg, "spec.oidcProviders", "does not verify OIDC", 6,
	                 3);
	assert_notice_at(cfg, "spec.resourceFilter", "CEL filters", 13, 3);
	assert_notice_at(cfg, "spec.resources[0].filter", "CEL filters", 17, 7);
	config_free(cfg);
}

static void
test_config__requires_oidc_providers_exactly_with_type_generic_oidc(
        void **state)
{
	struct config *cfg = load(
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: a}\n"
	        "spec: {type: generic-oidc, resources: [{kind: ImageRepository, name: x}]}\n"
	        "---\n"
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: b}\n"
	        "spec:\n"
	        "  type: generic\n"
	        "  secretRef: {name: s}\n"
	        "  resources: [{kind: ImageRepository, name: x}]\n"
	        "  oidcProviders:\n"
	        "    - issuerURL: ftp://issuer\n"
	        "      validations: [{expression: 'true', message: m}]\n"
	        "---\n"
	        "apiVersion: v1\n"
	        "kind: Secret\n"
	        "metadata: {name: s}\n"
	        "stringData: {token: t}\n");

	(void)state;
	assert_diag_at(cfg, "spec.oidcProviders",
	               "at least one is required with type generic-oidc", 4, 7);
	assert_diag_at(cfg, "spec.oidcProviders",
	               "is only allowed with type generic-oidc", 10, 3);
	assert_diag_at(cfg, "spec.oidcProviders[0].issuerURL",
	               "must start with http:// or https://", 14, 18);
	assert_int_equal(config_diag_count(cfg), 3);
	config_free(cfg);
}

static void
test_config__lists_fields_it_does_not_act_on_as_notices(void **state)
{
	struct config *cfg =
	        load("apiVersion: source.toolkit.fluxcd.io/v1\n"
	             "kind: GitRepository\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  url: https://git.example.com/org/app.git\n"
	             "  interval: 1m\n"
	             "  verify: {mode: HEAD, secretRef: {name: keys}}\n"
	             "  recurseSubmodules: true\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  image: ghcr.io/org/app\n"
	             "  interval: 5m\n"
	             "  serviceAccountName: puller\n"
	             "  accessFrom:\n"
	             "    namespaceSelectors: [{matchLabels: {team: a}}]\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 10m\n"
	             "  sourceRef: {kind: GitRepository, name: app}\n"
	             "  git:\n"
	             "    commit: {author: {email: bot@example.com}}\n"
	             "    push: {options: {ci.skip: ''}}\n"
	             "---\n"
	             "apiVersion: v1\n"
	             "kind: Secret\n"
	             "metadata: {name: keys, namespace: apps}\n"
	             "stringData: {author: k}\n");

	(void)state;
	assert_no_diags(cfg);
	assert_notice_at(cfg, "spec.verify", "does not verify commit", 7, 3);
	assert_notice_at(cfg, "spec.recurseSubmodules", "submodules", 8, 3);
	assert_notice_at(cfg, "spec.serviceAccountName", "service accounts", 16,
	                 3);
	assert_notice_at(cfg, "spec.accessFrom.namespaceSelectors",
	                 "no Namespace labels", 18, 5);
	assert_notice_at(cfg, "spec.git.push.options", "push options", 28, 12);
	assert_int_equal(config_notice_count(cfg), 5);
	config_free(cfg);
}

static void
test_config__refuses_a_cloud_provider_on_an_image_repository_with_advice(
        void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  image: 123.dkr.ecr.eu-west-1.amazonaws.com/app\n"
	             "  interval: 5m\n"
	             "  provider: aws\n");
	const struct config_diag *d;

	(void)state;
	assert_diag_at(cfg, "spec.provider", "provider 'aws' is not supported",
	               7, 13);
	d = find_diag(cfg, "spec.provider", "provider 'aws'");
	assert_non_null(strstr(d->message, "provider: generic"));
	assert_non_null(strstr(d->message, "aws ecr get-login-password"));
	assert_int_equal(config_diag_count(cfg), 1);
	config_free(cfg);
}

static void
test_config__refuses_a_git_provider_only_when_an_automation_clones_it(
        void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_puts(&y, "apiVersion: source.toolkit.fluxcd.io/v1\n"
	             "kind: GitRepository\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  url: https://github.com/org/app\n"
	             "  interval: 1m\n"
	             "  provider: github\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	assert_notice_at(cfg, "spec.provider", "secretRef only", 5, 3);
	config_free(cfg);
	buf_puts(&y, "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 10m\n"
	             "  sourceRef: {kind: GitRepository, name: app}\n"
	             "  git: {commit: {author: {email: bot@example.com}}}\n");
	cfg = load(y.ptr);
	assert_diag_at(
	        cfg, "spec.provider",
	        "ImageUpdateAutomation 'apps/app' clones this repository", 5,
	        3);
	config_free(cfg);
	buf_release(&y);
}

static void
test_config__notes_that_flux_no_longer_serves_image_v1beta2(void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1beta2\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec: {image: ghcr.io/org/app, interval: 5m}\n");

	(void)state;
	assert_no_diags(cfg);
	assert_notice_at(cfg, "apiVersion",
	                 "change it to image.toolkit.fluxcd.io/v1", 1, 13);
	config_free(cfg);
}

static void
test_config__follows_the_current_kustomization_schema(void **state)
{
	struct config *cfg = load(
	        "apiVersion: kustomize.toolkit.fluxcd.io/v1\n"
	        "kind: Kustomization\n"
	        "metadata: {name: k, namespace: ns}\n"
	        "spec:\n"
	        "  interval: 10m\n"
	        "  sourceRef: {kind: GitRepository, name: repo}\n"
	        "  driftIgnoreRules: [{paths: [/spec/replicas]}]\n"
	        "  buildMetadata: [everything]\n"
	        "  kubeConfig: {}\n"
	        "  targetNamespace: ''\n"
	        "  healthCheckExprs:\n"
	        "    - {apiVersion: x/v1, current: 'status.ok'}\n"
	        "---\n"
	        "apiVersion: source.toolkit.fluxcd.io/v1\n"
	        "kind: GitRepository\n"
	        "metadata: {name: repo, namespace: ns}\n"
	        "spec: {url: 'https://git.example.com/r', interval: 1m}\n");

	(void)state;
	assert_diag_at(cfg, "spec.prune", "required field is missing", 5, 3);
	assert_diag_at(cfg, "spec.driftIgnoreRules",
	               "unknown field 'driftIgnoreRules'", 7, 3);
	assert_diag_at(cfg, "spec.buildMetadata[0]",
	               "'everything' is not valid (use originAnnotations or "
	               "transformerAnnotations)",
	               8, 19);
	assert_diag_at(cfg, "spec.kubeConfig",
	               "set exactly one of secretRef and configMapRef", 9, 15);
	assert_diag_at(cfg, "spec.targetNamespace", "must not be empty", 10,
	               20);
	assert_int_equal(config_diag_count(cfg), 5);
	assert_notice_at(cfg, "",
	                 "left to Flux: it has no ferry.io/ annotations", 1, 1);
	config_free(cfg);
}

/* ---- files and directories ---- */

static void
test_config__reports_a_path_that_does_not_exist(void **state)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const struct config_diag *d;

	(void)state;
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_add_path(cfg, "/nonexistent/ferry.yaml", &err),
	                 0);
	assert_int_equal(config_check(cfg, &err), -ERR_INVALID);
	d = config_diag_get(cfg, 0);
	assert_non_null(d);
	assert_string_equal(d->file, "/nonexistent/ferry.yaml");
	assert_int_equal(d->line, 0);
	assert_string_equal(d->message, "no such file or directory");
	config_free(cfg);
}

static void
write_file(const char *dir, const char *name, const char *text)
{
	struct buf p = BUF_INIT;
	FILE *f;

	buf_addf(&p, "%s/%s", dir, name);
	f = fopen(p.ptr, "w");
	assert_non_null(f);
	fputs(text, f);
	fclose(f);
	buf_release(&p);
}

static void
test_config__walks_a_directory_tree_for_yaml_files_skipping_hidden_entries_and_symlink_loops(
        void **state)
{
	char dir[] = "/tmp/ferry-config-test-XXXXXX";
	struct buf sub = BUF_INIT, hidden = BUF_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char secret[] =
	        "apiVersion: v1\nkind: Secret\nmetadata: {name: %s}\n";
	char text[128];

	(void)state;
	assert_non_null(mkdtemp(dir));
	buf_addf(&sub, "%s/nested/deeper", dir);
	buf_addf(&hidden, "%s/.git", dir);
	assert_int_equal(mkdir(hidden.ptr, 0700), 0);
	buf_truncate(&sub, strlen(dir) + 7);
	assert_int_equal(mkdir(sub.ptr, 0700), 0);
	buf_reset(&sub);
	buf_addf(&sub, "%s/nested/deeper", dir);
	assert_int_equal(mkdir(sub.ptr, 0700), 0);
	snprintf(text, sizeof(text), secret, "a");
	write_file(dir, "a.yaml", text);
	snprintf(text, sizeof(text), secret, "b");
	write_file(dir, "nested/deeper/b.yml", text);
	snprintf(text, sizeof(text), secret, "c");
	write_file(dir, "nested/c.json", text);
	snprintf(text, sizeof(text), secret, "d");
	write_file(dir, ".git/d.yaml", text);
	write_file(dir, "nested/README.md", "# not yaml: [\n");
	/* a symlink back up the tree is not walked again */
	buf_reset(&sub);
	buf_addf(&sub, "%s/nested/deeper/loop", dir);
	assert_int_equal(symlink("../..", sub.ptr), 0);
	/* an empty directory is fine */
	buf_reset(&sub);
	buf_addf(&sub, "%s/nested/empty", dir);
	assert_int_equal(mkdir(sub.ptr, 0700), 0);

	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_add_path(cfg, dir, &err), 0);
	assert_int_equal(config_check(cfg, &err), 0);
	assert_int_equal(config_count(cfg, CONFIG_SECRET), 2);
	assert_non_null(config_find(cfg, CONFIG_SECRET, "default", "a"));
	assert_non_null(config_find(cfg, CONFIG_SECRET, "default", "b"));
	assert_non_null(
	        strstr(config_find(cfg, CONFIG_SECRET, "default", "b")->file,
	               "/nested/deeper/b.yml"));
	config_free(cfg);

	/* a file given by name is read whatever its extension */
	buf_reset(&sub);
	buf_addf(&sub, "%s/nested/c.json", dir);
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_add_path(cfg, sub.ptr, &err), 0);
	assert_int_equal(config_check(cfg, &err), 0);
	assert_int_equal(config_count(cfg, CONFIG_SECRET), 1);
	config_free(cfg);

	buf_reset(&sub);
	buf_addf(&sub, "rm -rf '%s'", dir);
	assert_int_equal(system(sub.ptr), 0);
	buf_release(&sub);
	buf_release(&hidden);
}

static void
test_config__stops_reading_a_file_nested_deeper_than_the_limit(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;
	const struct config_diag *d;

	(void)state;
	buf_puts(&y, "apiVersion: v1\nkind: Secret\nmetadata: {name: a}\n"
	             "---\nkey: ");
	for (int i = 0; i < CONFIG_MAX_DEPTH + 10; i++)
		buf_putc(&y, '[');
	for (int i = 0; i < CONFIG_MAX_DEPTH + 10; i++)
		buf_putc(&y, ']');
	buf_puts(&y,
	         "\n---\napiVersion: v1\nkind: Secret\nmetadata: {name: b}\n");
	cfg = load(y.ptr);
	assert_int_equal(config_diag_count(cfg), 1);
	d = config_diag_get(cfg, 0);
	assert_non_null(strstr(d->message, "nesting deeper than the limit"));
	assert_int_equal(d->line, 5);
	assert_int_equal(d->column, 5 + CONFIG_MAX_DEPTH);
	assert_non_null(config_find(cfg, CONFIG_SECRET, "default", "a"));
	assert_null(config_find(cfg, CONFIG_SECRET, "default", "b"));
	buf_release(&y);
	config_free(cfg);
}

static void
test_config__formats_a_diagnostic_as_one_line(void **state)
{
	struct config_diag d = {
		"f.yaml",  3, 7, "ImagePolicy ns/p", "spec.policy.semver.range",
		"is empty"
	};
	struct config_diag file_only = {
		"gone.yaml", 0, 0, NULL, "", "no such file or directory"
	};
	struct buf b = BUF_INIT;

	(void)state;
	config_diag_format(&b, &d);
	assert_string_equal(
	        b.ptr,
	        "f.yaml:3:7: ImagePolicy ns/p: spec.policy.semver.range: is empty");
	buf_reset(&b);
	config_diag_format(&b, &file_only);
	assert_string_equal(b.ptr, "gone.yaml: no such file or directory");
	buf_release(&b);
}

static void
test_config__keeps_a_quoted_value_on_one_line_in_messages(void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: app}\n"
	             "spec:\n"
	             "  image: \"ghcr.io/a:b\\nlevel=error forged\"\n"
	             "  interval: 1m\n");
	const struct config_diag *d;

	(void)state;
	d = find_diag(cfg, "spec.image", "whitespace");
	assert_non_null(d);
	assert_null(strchr(d->message, '\n'));
	config_free(cfg);
}

static void
test_config__stops_at_the_anchor_and_alias_limits_quickly(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	/* 200,000 anchors and as many aliases: libyaml's loader would look
	 * each one up by a linear search (minutes); the loader stops at the
	 * limit with a message instead. */
	buf_puts(&y, "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: "
	             "ok}\n---\nlist:\n");
	for (int i = 0; i < 200000; i++)
		buf_addf(&y, "- &a%d x\n- *a%d\n", i, i);
	assert_true(buf_ok(&y));
	cfg = load(y.ptr);
	assert_non_null(find_diag(cfg, "", "more YAML anchors than the limit"));
	assert_int_equal(config_skipped_count(cfg), 1); /* the first stays */
	config_free(cfg);
	buf_reset(&y);
	buf_puts(&y, "a: &x 1\nlist:\n");
	for (int i = 0; i < 200000; i++)
		buf_puts(&y, "- *x\n");
	cfg = load(y.ptr);
	assert_non_null(find_diag(cfg, "", "more YAML aliases than the limit"));
	config_free(cfg);
	buf_release(&y);
}

static void
test_config__reports_invalid_utf8_at_its_line(void **state)
{
	static const char yaml[] = "apiVersion: v1\nkind: ConfigMap\n"
	                           "metadata:\n  name: caf\xc3\xa9\n"
	                           "data:\n  k: \"bad \xff here\"\n";
	struct config *cfg;

	(void)state;
	cfg = load(yaml);
	assert_diag_at(cfg, "", "YAML syntax error", 6, 11);
	config_free(cfg);
}

static void
test_config__refuses_a_pull_secret_that_is_not_docker_config_json(void **state)
{
	struct config *cfg;

	(void)state;
	cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	           "kind: ImageRepository\n"
	           "metadata: {name: app, namespace: ns}\n"
	           "spec:\n"
	           "  image: ghcr.io/org/app\n"
	           "  interval: 1m\n"
	           "  secretRef: {name: pull}\n"
	           "---\n"
	           "apiVersion: v1\nkind: Secret\n"
	           "metadata: {name: pull, namespace: ns}\n"
	           "type: kubernetes.io/dockerconfigjson\n"
	           "stringData: {.dockerconfigjson: 'user:hunter2'}\n");
	assert_diag_at(cfg, "spec.secretRef.name",
	               ".dockerconfigjson: invalid JSON at byte offset", 7, 14);
	for (size_t i = 0; i < config_diag_count(cfg); i++)
		assert_null(
		        strstr(config_diag_get(cfg, i)->message, "hunter2"));
	config_free(cfg);
}

/* ---- whole trees ---- */

/* Writes dir/name, making its directories. */
static void
tree_file(const char *dir, const char *name, const char *text)
{
	struct buf p = BUF_INIT;
	struct err e = ERR_INIT;
	char *slash;

	buf_addf(&p, "%s/%s", dir, name);
	slash = strrchr(p.ptr, '/');
	*slash = '\0';
	assert_int_equal(dir_make_all(p.ptr, 0700, &e), 0);
	*slash = '/';
	assert_int_equal(file_write_atomic(p.ptr, text, strlen(text), 0600, &e),
	                 0);
	buf_release(&p);
}

static const char tree_policy[] = "apiVersion: image.toolkit.fluxcd.io/v1\n"
                                  "kind: ImagePolicy\n"
                                  "metadata: {name: app, namespace: apps}\n"
                                  "spec:\n"
                                  "  imageRepositoryRef: {name: app}\n"
                                  "  policy: {semver: {range: 1.x}}\n";

static void
test_config__skips_yaml_that_is_not_objects_with_one_notice_per_file(
        void **state)
{
	struct config *cfg = load("- hosts: all\n"
	                          "  tasks: [{name: a, apt: {name: nginx}}]\n"
	                          "---\n"
	                          "- hosts: db\n"
	                          "---\n"
	                          "just a value\n");

	(void)state;
	assert_no_diags(cfg);
	assert_int_equal(config_notice_count(cfg), 1);
	assert_notice_at(cfg, "",
	                 "not Kubernetes objects (the document is a list", 1,
	                 1);
	config_free(cfg);
}

static void
test_config__skips_a_template_that_is_not_yaml_with_a_notice(void **state)
{
	struct config *cfg = load("apiVersion: apps/v1\n"
	                          "kind: Deployment\n"
	                          "metadata:\n"
	                          "  name: web\n"
	                          "  labels:\n"
	                          "{{ include \"labels\" . | indent 4 }}\n");

	(void)state;
	assert_no_diags(cfg);
	assert_int_equal(config_notice_count(cfg), 1);
	assert_non_null(find_notice(cfg, "", "a template, not YAML"));
	config_free(cfg);
	/* without '{{' a syntax error is an error */
	cfg = load("apiVersion: v1\nkind: Secret\nmetadata: [\n");
	assert_int_equal(config_diag_count(cfg), 1);
	assert_non_null(find_diag(cfg, "", "YAML syntax error"));
	assert_int_equal(config_notice_count(cfg), 0);
	config_free(cfg);
}

static void
test_config__skips_a_go_template_that_parses_as_yaml(void **state)
{
	struct config *cfg = load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	                          "kind: ImagePolicy\n"
	                          "metadata:\n"
	                          "  name: {{ .Name }}\n"
	                          "spec: {{ .Spec }}\n");

	(void)state;
	assert_no_diags(cfg);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEPOLICY), 0);
	assert_notice_at(cfg, "", "'{{' read as a mapping key", 4, 10);
	config_free(cfg);
}

static void
test_config__reads_a_message_template_with_braces_as_usual(void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_addf(&y, "%s---\n", git_app);
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 10m\n"
	             "  sourceRef: {kind: GitRepository, name: app}\n"
	             "  git:\n"
	             "    commit:\n"
	             "      author: {email: bot@example.com}\n"
	             "      messageTemplate: |\n"
	             "        {{ range .Changed.Changes }}{{ .NewValue }}\n"
	             "        {{ end }}\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEUPDATEAUTOMATION), 1);
	assert_int_equal(config_notice_count(cfg), 0);
	config_free(cfg);
	buf_release(&y);
}

static void
test_config__reports_a_known_kind_without_or_with_a_misspelled_api_version(
        void **state)
{
	struct config *cfg =
	        load("kind: ImagePolicy\n"
	             "metadata: {name: a}\n"
	             "---\n"
	             "apiVersion: image.toolkit.flux.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: b}\n"
	             "---\n"
	             "apiVersion: source.toolkit.fluxcd.io/v1\n"
	             "kind: ImageRepository\n"
	             "metadata: {name: c}\n"
	             "---\n"
	             "apiVersion: kustomize.config.k8s.io/v1beta1\n"
	             "kind: Kustomization\n"
	             "resources: [a.yaml]\n");

	(void)state;
	assert_diag_at(cfg, "apiVersion",
	               "ImagePolicy without apiVersion (use "
	               "image.toolkit.fluxcd.io/v1",
	               1, 1);
	assert_diag_at(cfg, "apiVersion",
	               "'image.toolkit.flux.io/v1' is not an apiVersion of "
	               "ImagePolicy",
	               4, 13);
	assert_diag_at(cfg, "apiVersion",
	               "'source.toolkit.fluxcd.io/v1' is not an apiVersion of "
	               "ImageRepository",
	               8, 13);
	assert_int_equal(config_diag_count(cfg), 3);
	assert_int_equal(config_skipped_count(cfg), 1);
	config_free(cfg);
}

static void
test_config__skips_a_kustomize_file_that_leaves_out_api_version(void **state)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char text[] = "kind: Kustomization\nresources: [a.yaml]\n";

	(void)state;
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_add_buffer(cfg, "apps/kustomization.yaml", text,
	                                   strlen(text), &err),
	                 0);
	assert_int_equal(config_check(cfg, &err), 0);
	assert_int_equal(config_skipped_count(cfg), 1);
	config_free(cfg);
	/* the same in another file is a Flux Kustomization without one */
	cfg = load(text);
	assert_diag_at(cfg, "apiVersion", "Kustomization without apiVersion", 1,
	               1);
	config_free(cfg);
}

static void
test_config__gives_objects_without_a_namespace_the_one_from_the_options(
        void **state)
{
	struct config_options o = CONFIG_OPTIONS_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char text[] = "apiVersion: image.toolkit.fluxcd.io/v1\n"
	                    "kind: ImageRepository\n"
	                    "metadata: {name: app}\n"
	                    "spec: {image: ghcr.io/org/app, interval: 5m}\n"
	                    "---\n"
	                    "apiVersion: image.toolkit.fluxcd.io/v1\n"
	                    "kind: ImagePolicy\n"
	                    "metadata: {name: app}\n"
	                    "spec:\n"
	                    "  imageRepositoryRef: {name: app}\n"
	                    "  policy: {semver: {range: 1.x}}\n";

	(void)state;
	o.default_namespace = "apps";
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "t.yaml", text, strlen(text), &err), 0);
	assert_int_equal(config_check(cfg, &err), 0);
	assert_non_null(
	        config_find(cfg, CONFIG_IMAGEREPOSITORY, "apps", "app"));
	assert_non_null(config_policy_repository(
	        cfg, config_find(cfg, CONFIG_IMAGEPOLICY, "apps", "app")));
	config_free(cfg);
	/* a namespace that is not a name is refused */
	o.default_namespace = "Apps_1";
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), -ERR_INVALID);
	assert_non_null(strstr(err.msg, "'Apps_1' is not a valid name"));
	config_free(cfg);
}

static void
test_config__reads_standard_input_when_the_path_is_a_dash(void **state)
{
	struct config_options o = CONFIG_OPTIONS_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;

	(void)state;
	o.stdin_data = tree_policy;
	o.stdin_len = strlen(tree_policy);
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), 0);
	assert_int_equal(config_add_path(cfg, "-", &err), 0);
	config_check(cfg, &err);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEPOLICY), 1);
	assert_string_equal(config_get(cfg, CONFIG_IMAGEPOLICY, 0)->file,
	                    "<stdin>");
	/* its ImageRepository is missing: the message names <stdin> */
	assert_string_equal(config_diag_get(cfg, 0)->file, "<stdin>");
	config_free(cfg);
}

static void
test_config__walks_a_tree_skipping_excludes_helm_templates_and_playbooks(
        void **state)
{
	char dir[] = "/dev/shm/ferry-config-tree-XXXXXX";
	const char *excl[] = { "*.enc.yaml", "apps/*/tests" };
	struct config_options o = CONFIG_OPTIONS_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf b = BUF_INIT;

	(void)state;
	assert_non_null(mkdtemp(dir));
	tree_file(dir, "apps/web/policy.yaml", tree_policy);
	tree_file(dir, "apps/web/tests/broken.yaml", "kind: ImagePolicy\n");
	tree_file(dir, "apps/web/secret.enc.yaml", "kind: Secret\n");
	tree_file(dir, "charts/web/Chart.yaml", "apiVersion: v2\nname: web\n");
	tree_file(dir, "charts/web/templates/policy.yaml",
	          "apiVersion: image.toolkit.fluxcd.io/v1\n"
	          "kind: ImagePolicy\n"
	          "metadata:\n"
	          "  name: \"{{ .Release.Name }}\"\n");
	tree_file(dir, "ansible/site.yml", "- hosts: all\n  roles: [web]\n");
	/* templates/ without Chart.yaml beside it is an ordinary directory */
	tree_file(dir, "other/templates/repo.yaml",
	          "apiVersion: image.toolkit.fluxcd.io/v1\n"
	          "kind: ImageRepository\n"
	          "metadata: {name: app, namespace: apps}\n"
	          "spec: {image: ghcr.io/org/app, interval: 5m}\n");

	o.exclude = excl;
	o.nexclude = 2;
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), 0);
	assert_int_equal(config_add_path(cfg, dir, &err), 0);
	assert_int_equal(config_check(cfg, &err), 0);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEPOLICY), 1);
	assert_int_equal(config_count(cfg, CONFIG_IMAGEREPOSITORY), 1);
	assert_int_equal(config_notice_count(cfg), 2);
	buf_addf(&b, "%s/charts/web/templates", dir);
	assert_string_equal(config_notice_get(cfg, 1)->file, b.ptr);
	assert_non_null(strstr(config_notice_get(cfg, 1)->message,
	                       "templates of a Helm chart"));
	assert_non_null(
	        strstr(config_notice_get(cfg, 0)->file, "ansible/site.yml"));
	config_free(cfg);

	/* without the excludes, the broken files are read and reported */
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_add_path(cfg, dir, &err), 0);
	assert_int_equal(config_check(cfg, &err), -ERR_INVALID);
	assert_int_equal(config_diag_count(cfg), 2);
	config_free(cfg);
	assert_int_equal(dir_remove_all(dir, &err), 0);
	buf_release(&b);
}

/* ---- Secrets not in the files as plain objects ---- */

/* tests/sops/fixtures/made/REL */
static void
made_path(struct buf *out, const char *rel)
{
	const char *root = getenv("FERRY_SOURCE_ROOT");

	assert_non_null(root);
	buf_reset(out);
	buf_addf(out, "%s/tests/sops/fixtures/made/%s", root, rel);
}

/* Loads the made fixture files (relative to made/) plus yaml, with the
 * age key file made/age.agekey when with_key, and secrets_dir. */
static struct config *
load_with(const char *const *files, size_t nfiles, const char *yaml,
          bool with_key, const char *secrets_dir)
{
	struct config_options o = CONFIG_OPTIONS_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf key = BUF_INIT, p = BUF_INIT, dir = BUF_INIT;
	const char *keys[1];

	made_path(&key, "age.agekey");
	keys[0] = key.ptr;
	if (with_key) {
		o.sops_age_key_files = keys;
		o.nsops_age_key_files = 1;
	}
	if (secrets_dir) {
		made_path(&dir, secrets_dir);
		o.secrets_dir = dir.ptr;
	}
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), 0);
	for (size_t i = 0; i < nfiles; i++) {
		made_path(&p, files[i]);
		assert_int_equal(config_add_path(cfg, p.ptr, &err), 0);
	}
	if (yaml)
		assert_int_equal(config_add_buffer(cfg, "test.yaml", yaml,
		                                   strlen(yaml), &err),
		                 0);
	config_check(cfg, &err);
	buf_release(&key);
	buf_release(&p);
	buf_release(&dir);
	return cfg;
}

static const char repo_with_regcred[] =
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImageRepository\n"
        "metadata: {name: app, namespace: flux-system}\n"
        "spec:\n"
        "  image: registry.example.com/team/app\n"
        "  interval: 5m\n"
        "  secretRef: {name: regcred}\n";

static void
test_config__decrypts_a_sops_secret_an_object_refers_to(void **state)
{
	const char *files[] = { "gitops/clusters/prod/apps/regcred.enc.yaml" };
	struct config *cfg = load_with(files, 1, repo_with_regcred, true, NULL);
	const struct config_object *sec;
	const struct secret *v;

	(void)state;
	assert_no_diags(cfg);
	sec = config_find(cfg, CONFIG_SECRET, "flux-system", "regcred");
	assert_non_null(sec);
	/* where the encrypted document is, line for line */
	assert_int_equal(sec->line, 1);
	assert_non_null(strstr(sec->file, "regcred.enc.yaml"));
	assert_string_equal(sec->u.secret.type,
	                    "kubernetes.io/dockerconfigjson");
	v = config_secret_value(sec, ".dockerconfigjson");
	assert_non_null(v);
	assert_non_null(strstr((const char *)v->ptr, "registry.example.com"));
	config_free(cfg);
}

static void
test_config__skips_an_encrypted_secret_nothing_refers_to_whatever_the_keys(
        void **state)
{
	const char *files[] = { "gitops/clusters/prod/apps/unused.enc.yaml" };
	struct config *cfg;

	(void)state;
	for (int with_key = 0; with_key < 2; with_key++) {
		cfg = load_with(files, 1, NULL, with_key, NULL);
		assert_no_diags(cfg);
		assert_int_equal(config_count(cfg, CONFIG_SECRET), 0);
		assert_notice_at(cfg, "",
		                 "'flux-system/unused' is encrypted "
		                 "with SOPS and nothing ferry reads "
		                 "refers to it: skipped, not decrypted",
		                 1, 1);
		config_free(cfg);
	}
}

static void
test_config__says_which_key_is_missing_for_a_referenced_sops_secret(
        void **state)
{
	const char *files[] = { "gitops/clusters/prod/apps/regcred.enc.yaml" };
	struct config *cfg =
	        load_with(files, 1, repo_with_regcred, false, NULL);
	const struct config_diag *d;

	(void)state;
	assert_int_equal(config_diag_count(cfg), 1);
	d = config_diag_get(cfg, 0);
	assert_int_equal(d->line, 1);
	assert_string_equal(d->object, "Secret flux-system/regcred");
	assert_non_null(strstr(d->message, "SOPS: "));
	assert_non_null(strstr(d->message, "no key given decrypts its data "
	                                   "key (encrypted for age age1"));
	assert_non_null(strstr(d->message, "--sops-age-key-file"));
	config_free(cfg);
}

static void
test_config__reports_where_a_tampered_sops_secret_fails(void **state)
{
	char dir[] = "/dev/shm/ferry-config-sops-XXXXXX";
	struct buf src = BUF_INIT, path = BUF_INIT, key = BUF_INIT;
	struct config_options o = CONFIG_OPTIONS_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char *keys[1];
	char *p;

	(void)state;
	assert_non_null(mkdtemp(dir));
	made_path(&path, "gitops/clusters/prod/apps/regcred.enc.yaml");
	assert_int_equal(file_read(&src, path.ptr, &err), 0);
	p = strstr(src.ptr, ".dockerconfigjson: ENC[AES256_GCM,data:") + 41;
	*p = *p == 'A' ? 'B' : 'A';
	buf_reset(&path);
	buf_addf(&path, "%s/regcred.yaml", dir);
	assert_int_equal(
	        file_write_atomic(path.ptr, src.ptr, src.len, 0600, &err), 0);
	made_path(&key, "age.agekey");
	keys[0] = key.ptr;
	o.sops_age_key_files = keys;
	o.nsops_age_key_files = 1;
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), 0);
	assert_int_equal(config_add_path(cfg, path.ptr, &err), 0);
	assert_int_equal(config_add_buffer(cfg, "test.yaml", repo_with_regcred,
	                                   strlen(repo_with_regcred), &err),
	                 0);
	assert_int_equal(config_check(cfg, &err), -ERR_INVALID);
	/* one error: the value, by file, line, column and path; not a
	 * second one for the Secret being missing */
	assert_int_equal(config_diag_count(cfg), 1);
	assert_non_null(
	        strstr(config_diag_get(cfg, 0)->message,
	               "regcred.yaml:8:24: stringData..dockerconfigjson: "
	               "the value does not decrypt"));
	config_free(cfg);
	assert_int_equal(dir_remove_all(dir, &err), 0);
	buf_release(&src);
	buf_release(&path);
	buf_release(&key);
}

static void
test_config__reads_a_secret_of_a_kubernetes_mount_from_the_secrets_dir(
        void **state)
{
	const char *files[] = { "gitops/clusters/prod/flux-system" };
	struct config *cfg = load_with(files, 1, NULL, false, "gitops/secrets");
	const struct config_object *sec;

	(void)state;
	assert_no_diags(cfg);
	sec = config_find(cfg, CONFIG_SECRET, "flux-system", "flux-system");
	assert_non_null(sec);
	assert_int_equal(sec->line, 0);
	assert_non_null(strstr(sec->file, "secrets/flux-system/flux-system"));
	/* the keys, not the mount's ..data and timestamped directory */
	assert_int_equal(sec->u.secret.n_data, 2);
	assert_non_null(config_secret_value(sec, "identity"));
	assert_non_null(config_secret_value(sec, "known_hosts"));
	/* the decryption Secret too, since a Kustomization names it */
	assert_non_null(
	        config_find(cfg, CONFIG_SECRET, "flux-system", "sops-age"));
	/* and nothing that nothing refers to */
	assert_null(config_find(cfg, CONFIG_SECRET, "flux-system",
	                        "webhook-token"));
	config_free(cfg);
}

static void
test_config__decrypts_with_the_key_of_a_decryption_secret_in_the_secrets_dir(
        void **state)
{
	const char *files[] = { "gitops/clusters" };
	struct config *cfg = load_with(files, 1, NULL, false, "gitops/secrets");

	(void)state;
	assert_no_diags(cfg);
	assert_non_null(
	        config_find(cfg, CONFIG_SECRET, "flux-system", "regcred"));
	assert_non_null(config_find(cfg, CONFIG_SECRET, "flux-system",
	                            "webhook-token"));
	assert_null(config_find(cfg, CONFIG_SECRET, "flux-system", "unused"));
	config_free(cfg);
}

static void
test_config__names_the_external_secret_that_makes_a_missing_secret(void **state)
{
	const char *files[] = { "gitops/clusters/prod/apps/app.yaml",
		                "gitops/clusters/prod/apps/regcred.enc.yaml" };
	struct config *cfg = load_with(files, 2, NULL, true, NULL);
	const struct config_diag *d;

	(void)state;
	d = find_diag(cfg, "spec.secretRef.name",
	              "Secret 'flux-system/webhook-token' not found");
	assert_non_null(d);
	assert_non_null(strstr(d->message,
	                       "--secrets-dir DIR with its keys "
	                       "as DIR/flux-system/webhook-token/KEY"));
	assert_non_null(strstr(d->message, "ExternalSecret "
	                                   "'flux-system/webhook' ("));
	assert_non_null(strstr(d->message, "app.yaml:37) makes it in the "
	                                   "cluster"));
	assert_int_equal(config_diag_count(cfg), 1);
	config_free(cfg);
}

static void
test_config__decrypts_a_document_whose_name_is_encrypted_only_when_needed(
        void **state)
{
	const char *files[] = { "opaque.enc.yaml" };
	const char refers[] =
	        "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	        "kind: Receiver\n"
	        "metadata: {name: r, namespace: flux-system}\n"
	        "spec:\n"
	        "  type: generic\n"
	        "  resources: [{kind: ImageRepository, name: a}]\n"
	        "  secretRef: {name: hidden}\n";
	struct config *cfg;

	(void)state;
	/* nothing is missing: not decrypted */
	cfg = load_with(files, 1, NULL, true, NULL);
	assert_no_diags(cfg);
	assert_int_equal(config_count(cfg, CONFIG_SECRET), 0);
	assert_non_null(find_notice(cfg, "", "its name too"));
	config_free(cfg);
	/* a Secret is missing: the document is read to see if it is it */
	cfg = load_with(files, 1, refers, true, NULL);
	assert_no_diags(cfg);
	assert_non_null(
	        config_find(cfg, CONFIG_SECRET, "flux-system", "hidden"));
	config_free(cfg);
	/* without a key, the message says such documents were not read */
	cfg = load_with(files, 1, refers, false, NULL);
	assert_non_null(find_diag(cfg, "spec.secretRef.name",
	                          "1 SOPS document with an encrypted name was "
	                          "not read"));
	config_free(cfg);
}

static void
test_config__always_decrypts_an_encrypted_object_of_ferrys_kinds(void **state)
{
	const char *files[] = { "gitrepository.enc.yaml" };
	struct config *cfg = load_with(files, 1, NULL, true, NULL);
	const struct config_object *g;

	(void)state;
	assert_no_diags(cfg);
	g = config_find(cfg, CONFIG_GITREPOSITORY, "flux-system", "fleet");
	assert_non_null(g);
	assert_string_equal(g->u.gitrepository.url,
	                    "https://bot:t0k3n@git.example.com/fleet.git");
	config_free(cfg);
	cfg = load_with(files, 1, NULL, false, NULL);
	assert_non_null(find_diag(cfg, "", "no key given decrypts"));
	config_free(cfg);
}

/* ---- no silent surprises ---- */

static void
test_config__notes_a_setter_marker_whose_policy_is_not_in_the_files(
        void **state)
{
	struct buf y = BUF_INIT;
	struct config *cfg;

	(void)state;
	buf_addf(&y, "%s---\n", repo_app);
	buf_puts(&y, "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImagePolicy\n"
	             "metadata: {name: app, namespace: apps}\n"
	             "spec:\n"
	             "  imageRepositoryRef: {name: app}\n"
	             "  policy: {semver: {range: 1.x}}\n"
	             "---\n"
	             "apiVersion: apps/v1\n"
	             "kind: Deployment\n"
	             "metadata: {name: web}\n"
	             "spec:\n"
	             "  a: x:1 # {\"$imagepolicy\": \"apps:app\"}\n"
	             "  b: x:1 # {\"$imagepolicy\": \"apps:ap\"}\n"
	             "  c: x:1 # {\"$imagepolicy\": \"other:nothing:tag\"}\n"
	             "  # {\"$imagepolicy\": \"apps:app:label\"}\n"
	             "  d: x:1\n"
	             "  e: 'x # {\"$imagepolicy\": \"in:a-string\"}'\n");
	cfg = load(y.ptr);
	assert_no_diags(cfg);
	assert_notice_at(cfg, "",
	                 "setter 'apps:ap' names ImagePolicy 'apps/ap', which "
	                 "is not in the files given: the value is never "
	                 "updated (did you mean 'apps:app'?)",
	                 22, 10);
	assert_notice_at(cfg, "",
	                 "setter 'other:nothing:tag' names "
	                 "ImagePolicy 'other/nothing'",
	                 23, 10);
	assert_notice_at(cfg, "", "has the suffix 'label'", 24, 3);
	assert_int_equal(config_notice_count(cfg), 3);
	config_free(cfg);
	buf_release(&y);
}

static void
test_config__reports_a_message_template_that_fails_every_run(void **state)
{
	struct config *cfg =
	        load("apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: a, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 5m\n"
	             "  sourceRef: {kind: GitRepository, name: g}\n"
	             "  git:\n"
	             "    commit:\n"
	             "      author: {email: bot@example.com}\n"
	             "      messageTemplate: '{{ range .Updated.Images }}"
	             "{{ . }}{{ end }}'\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: b, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 5m\n"
	             "  sourceRef: {kind: GitRepository, name: g}\n"
	             "  git:\n"
	             "    commit:\n"
	             "      author: {email: bot@example.com}\n"
	             "      messageTemplate: '{{ range .Changed.Changes }'\n"
	             "---\n"
	             "apiVersion: image.toolkit.fluxcd.io/v1\n"
	             "kind: ImageUpdateAutomation\n"
	             "metadata: {name: c, namespace: apps}\n"
	             "spec:\n"
	             "  interval: 5m\n"
	             "  sourceRef: {kind: GitRepository, name: g}\n"
	             "  git:\n"
	             "    commit:\n"
	             "      author: {email: bot@example.com}\n"
	             "      messageTemplate: '{{ range .Changed.Changes }}"
	             "{{ .NewValue }}{{ end }} {{ .Values.env }}'\n"
	             "---\n"
	             "apiVersion: source.toolkit.fluxcd.io/v1\n"
	             "kind: GitRepository\n"
	             "metadata: {name: g, namespace: apps}\n"
	             "spec: {url: 'https://example.com/r', interval: 1m}\n");

	(void)state;
	assert_diag_at(cfg, "spec.git.commit.messageTemplate",
	               "the template fails on a sample change, as it would on "
	               "every run",
	               10, 24);
	assert_non_null(find_diag(cfg, "spec.git.commit.messageTemplate",
	                          "use .Changed instead"));
	assert_diag_at(cfg, "spec.git.commit.messageTemplate",
	               "the template does not parse", 21, 24);
	assert_int_equal(config_diag_count(cfg), 2);
	config_free(cfg);
}

static void
test_config__decrypts_one_sops_document_of_a_file_with_unicode_before_it(
        void **state)
{
	const char *root = getenv("FERRY_SOURCE_ROOT");
	struct config_options o = CONFIG_OPTIONS_INIT;
	struct buf text = BUF_INIT, enc = BUF_INIT, key = BUF_INIT;
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	const char *keys[1];
	const struct config_object *sec;

	(void)state;
	assert_non_null(root);
	buf_addf(&key,
	         "%s/tests/sops/fixtures/sops-project/"
	         "age-mock-identity.txt",
	         root);
	buf_addf(&text, "%s/tests/sops/fixtures/made-mock/utf8.enc.yaml", root);
	assert_int_equal(file_read(&enc, text.ptr, &err), 0);
	/* a plain document first, with characters of several bytes; the
	 * SOPS one is decrypted alone, its lines kept */
	buf_reset(&text);
	buf_puts(&text, "apiVersion: notification.toolkit.fluxcd.io/v1\n"
	                "kind: Receiver\n"
	                "metadata: {name: r, annotations: {note: ünïcödé}}\n"
	                "spec:\n"
	                "  type: generic\n"
	                "  resources: [{kind: ImageRepository, name: a}]\n"
	                "  secretRef: {name: x}\n"
	                "---\n");
	buf_add(&text, enc.ptr, enc.len);
	keys[0] = key.ptr;
	o.sops_age_key_files = keys;
	o.nsops_age_key_files = 1;
	assert_int_equal(config_new(&cfg), 0);
	assert_int_equal(config_set_options(cfg, &o, &err), 0);
	assert_int_equal(
	        config_add_buffer(cfg, "mixed.yaml", text.ptr, text.len, &err),
	        0);
	config_check(cfg, &err);
	/* decrypted, and its (not quite Secret) fields where the file has
	 * them */
	assert_diag_at(cfg, "naïve", "unknown field", 10, 1);
	assert_diag_at(cfg, "stringData.n", "must be a string", 17, 8);
	assert_diag_at(cfg, "stringData.l", "must be a string", 19, 9);
	assert_int_equal(config_diag_count(cfg), 3);
	sec = config_find(cfg, CONFIG_SECRET, "default", "x");
	assert_non_null(sec);
	assert_int_equal(sec->line, 10);
	assert_non_null(config_secret_value(sec, "a"));
	assert_memory_equal(config_secret_value(sec, "a")->ptr, "alpha", 5);
	config_free(cfg);
	buf_release(&text);
	buf_release(&enc);
	buf_release(&key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_config__loads_the_seed_fixtures_without_errors),
		cmocka_unit_test(
		        test_config__applies_flux_defaults_to_an_image_repository),
		cmocka_unit_test(
		        test_config__keeps_a_given_exclusion_list_instead_of_the_default),
		cmocka_unit_test(
		        test_config__raises_a_timeout_below_one_second_to_one_second),
		cmocka_unit_test(
		        test_config__applies_flux_defaults_to_policies_and_automations),
		cmocka_unit_test(
		        test_config__accepts_ferrys_kustomization_update_strategy),
		cmocka_unit_test(
		        test_config__decodes_every_field_of_gitrepository_receiver_and_kustomization),
		cmocka_unit_test(
		        test_config__reports_an_unknown_field_with_its_path_and_position),
		cmocka_unit_test(
		        test_config__reports_a_mapping_where_a_string_is_expected),
		cmocka_unit_test(
		        test_config__reports_a_value_that_is_not_a_boolean),
		cmocka_unit_test(
		        test_config__asks_to_quote_a_number_given_for_a_string),
		cmocka_unit_test(
		        test_config__rejects_durations_that_flux_would_reject),
		cmocka_unit_test(
		        test_config__accepts_go_durations_with_several_units),
		cmocka_unit_test(
		        test_config__rejects_an_invalid_regex_in_the_exclusion_list),
		cmocka_unit_test(
		        test_config__rejects_regex_features_that_go_re2_lacks),
		cmocka_unit_test(
		        test_config__accepts_named_groups_in_filter_tags),
		cmocka_unit_test(
		        test_config__rejects_a_filter_pattern_longer_than_the_policy_accepts),
		cmocka_unit_test(
		        test_config__rejects_a_policy_without_a_strategy),
		cmocka_unit_test(
		        test_config__rejects_a_semver_range_the_policy_could_not_use),
		cmocka_unit_test(
		        test_config__rejects_a_policy_with_two_strategies),
		cmocka_unit_test(
		        test_config__names_the_valid_values_of_an_enum),
		cmocka_unit_test(
		        test_config__reports_missing_required_fields_at_their_parent),
		cmocka_unit_test(
		        test_config__treats_a_null_value_as_a_missing_field),
		cmocka_unit_test(
		        test_config__rejects_an_image_with_a_scheme_a_tag_or_a_digest),
		cmocka_unit_test(
		        test_config__rejects_a_git_url_without_a_supported_scheme),
		cmocka_unit_test(
		        test_config__allows_a_git_service_account_only_with_aws_or_azure),
		cmocka_unit_test(test_config__rejects_an_invalid_object_name),
		cmocka_unit_test(
		        test_config__reports_a_duplicate_object_naming_both_places),
		cmocka_unit_test(
		        test_config__allows_the_same_name_in_other_kinds_and_namespaces),
		cmocka_unit_test(
		        test_config__reports_dangling_references_at_the_reference),
		cmocka_unit_test(
		        test_config__denies_a_policy_from_another_namespace_without_access_from),
		cmocka_unit_test(
		        test_config__does_not_look_for_sources_other_than_git_repositories),
		cmocka_unit_test(
		        test_config__reports_every_error_not_only_the_first),
		cmocka_unit_test(
		        test_config__keeps_documents_before_a_syntax_error_and_reads_other_files),
		cmocka_unit_test(test_config__skips_other_kinds_and_plain_yaml),
		cmocka_unit_test(
		        test_config__rejects_a_known_kind_with_an_unknown_api_version),
		cmocka_unit_test(test_config__skips_empty_documents),
		cmocka_unit_test(test_config__reports_a_field_given_twice),
		cmocka_unit_test(
		        test_config__decodes_secret_data_and_prefers_string_data),
		cmocka_unit_test(
		        test_config__never_puts_a_secret_value_into_a_diagnostic),
		cmocka_unit_test(
		        test_config__finds_the_secret_of_a_secret_ref_in_the_same_namespace),
		cmocka_unit_test(
		        test_config__selects_all_policies_of_the_namespace_without_a_selector),
		cmocka_unit_test(test_config__selects_policies_by_match_labels),
		cmocka_unit_test(
		        test_config__selects_policies_by_match_expressions),
		cmocka_unit_test(
		        test_config__checks_the_values_of_selector_operators),
		cmocka_unit_test(
		        test_config__allows_a_policy_interval_only_with_digest_reflection_always),
		cmocka_unit_test(
		        test_config__requires_a_receiver_secret_except_for_generic_oidc),
		cmocka_unit_test(
		        test_config__accepts_receiver_oidc_providers_and_filters_with_notices),
		cmocka_unit_test(
		        test_config__requires_oidc_providers_exactly_with_type_generic_oidc),
		cmocka_unit_test(
		        test_config__lists_fields_it_does_not_act_on_as_notices),
		cmocka_unit_test(
		        test_config__refuses_a_cloud_provider_on_an_image_repository_with_advice),
		cmocka_unit_test(
		        test_config__refuses_a_git_provider_only_when_an_automation_clones_it),
		cmocka_unit_test(
		        test_config__notes_that_flux_no_longer_serves_image_v1beta2),
		cmocka_unit_test(
		        test_config__follows_the_current_kustomization_schema),
		cmocka_unit_test(
		        test_config__reports_a_path_that_does_not_exist),
		cmocka_unit_test(
		        test_config__walks_a_directory_tree_for_yaml_files_skipping_hidden_entries_and_symlink_loops),
		cmocka_unit_test(
		        test_config__stops_reading_a_file_nested_deeper_than_the_limit),
		cmocka_unit_test(test_config__formats_a_diagnostic_as_one_line),
		cmocka_unit_test(
		        test_config__keeps_a_quoted_value_on_one_line_in_messages),
		cmocka_unit_test(
		        test_config__stops_at_the_anchor_and_alias_limits_quickly),
		cmocka_unit_test(test_config__reports_invalid_utf8_at_its_line),
		cmocka_unit_test(
		        test_config__refuses_a_pull_secret_that_is_not_docker_config_json),
		cmocka_unit_test(
		        test_config__skips_yaml_that_is_not_objects_with_one_notice_per_file),
		cmocka_unit_test(
		        test_config__skips_a_template_that_is_not_yaml_with_a_notice),
		cmocka_unit_test(
		        test_config__skips_a_go_template_that_parses_as_yaml),
		cmocka_unit_test(
		        test_config__reads_a_message_template_with_braces_as_usual),
		cmocka_unit_test(
		        test_config__reports_a_known_kind_without_or_with_a_misspelled_api_version),
		cmocka_unit_test(
		        test_config__skips_a_kustomize_file_that_leaves_out_api_version),
		cmocka_unit_test(
		        test_config__gives_objects_without_a_namespace_the_one_from_the_options),
		cmocka_unit_test(
		        test_config__reads_standard_input_when_the_path_is_a_dash),
		cmocka_unit_test(
		        test_config__walks_a_tree_skipping_excludes_helm_templates_and_playbooks),
		cmocka_unit_test(
		        test_config__decrypts_a_sops_secret_an_object_refers_to),
		cmocka_unit_test(
		        test_config__skips_an_encrypted_secret_nothing_refers_to_whatever_the_keys),
		cmocka_unit_test(
		        test_config__says_which_key_is_missing_for_a_referenced_sops_secret),
		cmocka_unit_test(
		        test_config__reports_where_a_tampered_sops_secret_fails),
		cmocka_unit_test(
		        test_config__reads_a_secret_of_a_kubernetes_mount_from_the_secrets_dir),
		cmocka_unit_test(
		        test_config__decrypts_with_the_key_of_a_decryption_secret_in_the_secrets_dir),
		cmocka_unit_test(
		        test_config__names_the_external_secret_that_makes_a_missing_secret),
		cmocka_unit_test(
		        test_config__decrypts_a_document_whose_name_is_encrypted_only_when_needed),
		cmocka_unit_test(
		        test_config__always_decrypts_an_encrypted_object_of_ferrys_kinds),
		cmocka_unit_test(
		        test_config__notes_a_setter_marker_whose_policy_is_not_in_the_files),
		cmocka_unit_test(
		        test_config__reports_a_message_template_that_fails_every_run),
		cmocka_unit_test(
		        test_config__decrypts_one_sops_document_of_a_file_with_unicode_before_it),
	};

	/* skipped-document notices would clutter the test output */
	log_configure(LOG_WARN, LOG_FORMAT_LOGFMT, 2);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
