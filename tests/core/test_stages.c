/*
 * Tests of core/pipeline's per-object stages against real servers: the
 * registry (Debian's docker-registry) and bare Git repositories (file://,
 * and git http-backend for hooks).  Each stage runs alone, by key, with
 * the state store as the only hand-off, over one long-lived registry
 * client; some run at once on several threads (this test also runs in the
 * ThreadSanitizer build).  Run under
 * `tests/harness/testbed.py run --registry noauth --git-http`.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <git2.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "pipeline/pipeline.h"

static const char *
env(const char *name)
{
	const char *v = getenv(name);

	if (v == NULL || *v == '\0') {
		print_error(
		        "%s is not set: run under tests/harness/testbed.py\n",
		        name);
		fail();
	}
	return v;
}

static int sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static int
sh(const char *fmt, ...)
{
	char cmd[8192];
	va_list ap;
	int rc;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static char *capture(const char *fmt, ...)
        __attribute__((format(printf, 1, 2)));

static char *
capture(const char *fmt, ...)
{
	char cmd[8192], chunk[4096];
	struct buf out = BUF_INIT;
	size_t n;
	va_list ap;
	FILE *p;

	va_start(ap, fmt);
	vsnprintf(cmd, sizeof(cmd), fmt, ap);
	va_end(ap);
	p = popen(cmd, "r");
	if (p == NULL)
		return NULL;
	while ((n = fread(chunk, 1, sizeof(chunk), p)) > 0)
		buf_add(&out, chunk, n);
	pclose(p);
	while (out.len && out.ptr[out.len - 1] == '\n')
		buf_truncate(&out, out.len - 1);
	return buf_detach(&out);
}

/* One test's world: a state directory, a registry client, a config. */
struct world {
	char dir[512];
	struct config *cfg;
	struct state *st;
	struct registry_client *registry;
	struct pool *pool;
	struct pipeline_ctx ctx;
};

static int counter;

static void
world_open(struct world *w)
{
	struct err e = ERR_INIT;

	memset(w, 0, sizeof(*w));
	snprintf(w->dir, sizeof(w->dir), "%s/stages-%d-%d",
	         env("FERRY_TEST_TMP"), (int)getpid(), ++counter);
	assert_int_equal(sh("mkdir -p '%s/src/deploy'", w->dir), 0);
	assert_int_equal(config_new(&w->cfg), 0);
	assert_int_equal(state_open(&w->st, w->dir, &e), 0);
	assert_int_equal(registry_client_new(&w->registry, NULL, &e), 0);
	assert_int_equal(pool_new(&w->pool, 2, &e), 0);
	w->ctx = (struct pipeline_ctx)PIPELINE_CTX_INIT;
	w->ctx.st = w->st;
	w->ctx.registry = w->registry;
	w->ctx.pool = w->pool;
	w->ctx.backoff_ms = 10;
}

/* Loads YAML (a format) as the world's configuration. */
static void world_config(struct world *w, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

static void
world_config(struct world *w, const char *fmt, ...)
{
	static char text[65536];
	struct err e = ERR_INIT;
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	assert_true(n > 0 && (size_t)n < sizeof(text));
	if (w->cfg == NULL)
		assert_int_equal(config_new(&w->cfg), 0);
	assert_int_equal(
	        config_add_buffer(w->cfg, "stages.yaml", text, (size_t)n, &e),
	        0);
	if (config_check(w->cfg, &e) < 0) {
		struct buf d = BUF_INIT;
		for (size_t i = 0; i < config_diag_count(w->cfg); i++) {
			buf_reset(&d);
			config_diag_format(&d, config_diag_get(w->cfg, i));
			print_error("%s\n", d.ptr);
		}
		fail();
	}
	w->ctx.cfg = w->cfg;
}

/* Replaces the configuration (a reload: the state stays). */
static void
world_reload(struct world *w)
{
	config_free(w->cfg);
	w->cfg = NULL;
	w->ctx.cfg = NULL;
}

static void
world_close(struct world *w)
{
	pool_free(w->pool);
	registry_client_free(w->registry);
	state_free(w->st);
	config_free(w->cfg);
}

static void
push_tags(const char *repo, const char *tags)
{
	assert_int_equal(sh("/usr/bin/python3 '%s' push-image --registry '%s' "
	                    "--distinct '%s' %s >/dev/null",
	                    env("FERRY_TEST_HARNESS"),
	                    env("FERRY_TEST_REGISTRY_NOAUTH"), repo, tags),
	                 0);
}

static const char repo_yaml[] =
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImageRepository\n"
        "metadata: {name: %s, namespace: flux-system}\n"
        "spec: {image: '%s/%s', interval: 1h, insecure: %s}\n"
        "---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImagePolicy\n"
        "metadata: {name: %s, namespace: flux-system}\n"
        "spec:\n"
        "  imageRepositoryRef: {name: %s}\n"
        "  policy: {semver: {range: '%s'}}\n"
        "---\n";

static const char automation_yaml[] =
        "apiVersion: source.toolkit.fluxcd.io/v1\n"
        "kind: GitRepository\n"
        "metadata: {name: %s, namespace: flux-system}\n"
        "spec: {interval: 1h, url: '%s', ref: {branch: main}%s}\n"
        "---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\n"
        "kind: ImageUpdateAutomation\n"
        "metadata: {name: %s, namespace: flux-system}\n"
        "spec:\n"
        "  interval: 1h\n"
        "  sourceRef: {kind: GitRepository, name: %s}\n"
        "  git:\n"
        "    commit:\n"
        "      author: {name: ferry, email: bot@example.invalid}\n"
        "      messageTemplate: 'update{{range .Changed.Changes}}"
        " {{.NewValue}}{{end}}'\n"
        "  update: {path: ./%s, strategy: Setters}\n"
        "---\n";

static struct pipeline_key
key(enum config_kind kind, const char *name)
{
	struct pipeline_key k = { kind, "flux-system", name };
	return k;
}

static void
scan_ok(struct world *w, const char *name, size_t ntags, bool changed)
{
	struct pipeline_key k = key(CONFIG_IMAGEREPOSITORY, name);
	struct pipeline_repo r;

	assert_int_equal(pipeline_scan(&w->ctx, &k, &r), 0);
	assert_true(r.scanned);
	assert_int_equal(r.ntags, ntags);
	assert_int_equal(r.changed, changed);
	pipeline_repo_release(&r);
}

static void
select_ok(struct world *w, const char *name, const char *tag, bool changed)
{
	struct pipeline_key k = key(CONFIG_IMAGEPOLICY, name);
	struct pipeline_policy p;

	assert_int_equal(pipeline_select(&w->ctx, &k, &p), 0);
	assert_string_equal(p.tag, tag);
	assert_int_equal(p.changed, changed);
	pipeline_policy_release(&p);
}

static void
test_stages__a_scan_hands_its_tags_to_the_policy_through_the_state(void **state)
{
	struct world w;
	const char *reg = env("FERRY_TEST_REGISTRY_NOAUTH");

	(void)state;
	push_tags("stages/one", "1.0.0 1.1.0 2.0.0");
	world_open(&w);
	world_config(&w, repo_yaml, "one", reg, "stages/one", "true", "one",
	             "one", "^1");
	scan_ok(&w, "one", 3, true);
	scan_ok(&w, "one", 3, false); /* nothing new: nothing to enqueue */
	select_ok(&w, "one", "1.1.0", true);
	select_ok(&w, "one", "1.1.0", false);
	push_tags("stages/one", "1.2.0");
	scan_ok(&w, "one", 4, true);
	select_ok(&w, "one", "1.2.0", true);
	{
		/* Every change is kept in the policy's history, newest last. */
		struct err e = ERR_INIT;
		cJSON *doc = NULL, *h;
		assert_int_equal(state_get(w.st, "ImagePolicy", "flux-system",
		                           "one", &doc, &e),
		                 0);
		h = cJSON_GetObjectItem(doc, "history");
		assert_int_equal(cJSON_GetArraySize(h), 2);
		assert_string_equal(
		        cJSON_GetObjectItem(cJSON_GetArrayItem(h, 1), "tag")
		                ->valuestring,
		        "1.2.0");
		assert_string_equal(
		        cJSON_GetObjectItem(cJSON_GetArrayItem(h, 1),
		                            "previousTag")
		                ->valuestring,
		        "1.1.0");
		cJSON_Delete(doc);
	}
	world_close(&w);
}

static void
test_stages__a_failed_scan_keeps_the_stored_tags_for_the_policy(void **state)
{
	struct world w;
	const char *reg = env("FERRY_TEST_REGISTRY_NOAUTH");
	struct pipeline_key k = key(CONFIG_IMAGEREPOSITORY, "two");
	struct pipeline_repo r;

	(void)state;
	push_tags("stages/two", "1.0.0 1.3.0");
	world_open(&w);
	world_config(&w, repo_yaml, "two", reg, "stages/two", "true", "two",
	             "two", "^1");
	scan_ok(&w, "two", 2, true);
	/* The same image over TLS, which this registry does not speak: the
	 * scan fails, the list of the last good scan stays. */
	world_reload(&w);
	world_config(&w, repo_yaml, "two", reg, "stages/two", "false", "two",
	             "two", "^1");
	assert_true(pipeline_scan(&w.ctx, &k, &r) < 0);
	assert_false(r.scanned);
	assert_int_equal(r.ntags, 2);
	assert_true(strlen(r.err.msg) > 0);
	pipeline_repo_release(&r);
	{
		/* The status keeps when the last good scan was and how long
		 * it took, beside why this one failed. */
		struct err e = ERR_INIT;
		cJSON *doc = NULL, *res;
		assert_int_equal(state_get(w.st, "ImageRepository",
		                           "flux-system", "two", &doc, &e),
		                 0);
		res = cJSON_GetObjectItem(doc, "lastScanResult");
		assert_non_null(cJSON_GetObjectItem(doc, "lastSuccessTime"));
		assert_true(cJSON_IsNumber(
		        cJSON_GetObjectItem(res, "scanDurationMs")));
		assert_non_null(cJSON_GetObjectItem(doc, "lastScanError"));
		cJSON_Delete(doc);
	}
	select_ok(&w, "two", "1.3.0", true);
	world_close(&w);
}

static void
test_stages__a_policy_without_tags_says_why(void **state)
{
	struct world w;
	struct pipeline_key k = key(CONFIG_IMAGEPOLICY, "three");
	struct pipeline_policy p;

	(void)state;
	world_open(&w);
	world_config(&w, repo_yaml, "three", env("FERRY_TEST_REGISTRY_NOAUTH"),
	             "stages/three", "true", "three", "three", "*");
	assert_true(pipeline_select(&w.ctx, &k, &p) < 0);
	assert_non_null(strstr(p.err.msg, "has not been scanned"));
	pipeline_policy_release(&p);
	k.name = "absent";
	assert_int_equal(pipeline_select(&w.ctx, &k, &p), -ERR_NOTFOUND);
	assert_non_null(strstr(p.err.msg, "not in the configuration"));
	pipeline_policy_release(&p);
	world_close(&w);
}

static void
test_stages__a_webhook_tag_is_confirmed_and_added_without_a_listing(
        void **state)
{
	struct world w;
	struct pipeline_key k = key(CONFIG_IMAGEREPOSITORY, "eight");
	const char *const tags[] = { "1.8.0", "9.9.9-never-pushed" };
	struct pipeline_repo r;

	(void)state;
	push_tags("stages/eight", "1.0.0");
	world_open(&w);
	world_config(&w, repo_yaml, "eight", env("FERRY_TEST_REGISTRY_NOAUTH"),
	             "stages/eight", "true", "eight", "eight", "^1");
	/* Nothing stored yet: a confirmation has nothing to add to. */
	assert_int_equal(pipeline_scan_tags(&w.ctx, &k, tags, 1, &r),
	                 -ERR_NOTFOUND);
	pipeline_repo_release(&r);
	scan_ok(&w, "eight", 1, true);
	push_tags("stages/eight", "1.8.0");
	assert_int_equal(pipeline_scan_tags(&w.ctx, &k, tags, 2, &r), 0);
	assert_true(r.changed);
	assert_int_equal(r.ntags, 2); /* the tag that is not there is not */
	pipeline_repo_release(&r);
	assert_int_equal(pipeline_scan_tags(&w.ctx, &k, tags, 1, &r), 0);
	assert_false(r.changed);
	pipeline_repo_release(&r);
	select_ok(&w, "eight", "1.8.0", true);
	/* The full scan that follows agrees: nothing changes. */
	scan_ok(&w, "eight", 2, false);
	world_close(&w);
}

/* A bare repository whose deploy/<dir>/app.yaml marks policy <pol>. */
static void
make_remote(const char *bare, const char *src, const char *dir,
            const char *image, const char *pol)
{
	char path[1024];
	FILE *f;

	assert_int_equal(sh("mkdir -p '%s/%s'", src, dir), 0);
	snprintf(path, sizeof(path), "%s/%s/app.yaml", src, dir);
	f = fopen(path, "w");
	assert_non_null(f);
	fprintf(f,
	        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: %s}\n"
	        "spec:\n  template:\n    spec:\n      containers:\n"
	        "        - name: app\n          image: %s:1.0.0 # "
	        "{\"$imagepolicy\": \"flux-system:%s\"}\n",
	        pol, image, pol);
	fclose(f);
	assert_int_equal(sh("/usr/bin/python3 '%s' git-init --bare '%s' "
	                    "--files '%s' --branch main >/dev/null",
	                    env("FERRY_TEST_HARNESS"), bare, src),
	                 0);
}

static char *
remote_log(const char *bare)
{
	return capture("git -c safe.directory='*' --git-dir '%s' log "
	               "--format=%%s main",
	               bare);
}

static void
automate(struct world *w, const char *name, enum pipeline_status want,
         int *attempts)
{
	struct pipeline_key k = key(CONFIG_IMAGEUPDATEAUTOMATION, name);
	struct pipeline_automation a;
	int attempt = 1;

	for (;; attempt++) {
		pipeline_automate(&w->ctx, &k, attempt, &a);
		if (a.retry_after_ms <= 0)
			break;
		assert_int_equal(a.rc, -ERR_CONFLICT);
		assert_int_equal(a.attempts, attempt);
		pipeline_automation_release(&a);
	}
	if (a.status != want)
		print_error("%s: %s (%s)\n", name,
		            pipeline_status_name(a.status), a.err.msg);
	assert_int_equal(a.status, want);
	if (attempts)
		*attempts = attempt;
	pipeline_automation_release(&a);
}

static void
test_stages__an_automation_pushes_the_stored_latest_ref_once(void **state)
{
	struct world w;
	const char *reg = env("FERRY_TEST_REGISTRY_NOAUTH");
	char bare[600], src[600], image[300], url[700];
	char *log;

	(void)state;
	push_tags("stages/four", "1.0.0 1.4.0");
	world_open(&w);
	snprintf(bare, sizeof(bare), "%s/four.git", w.dir);
	snprintf(src, sizeof(src), "%s/src", w.dir);
	snprintf(image, sizeof(image), "%s/stages/four", reg);
	snprintf(url, sizeof(url), "file://%s", bare);
	make_remote(bare, src, "deploy", image, "four");
	world_config(&w, repo_yaml, "four", reg, "stages/four", "true", "four",
	             "four", ">=1.0.0");
	world_config(&w, automation_yaml, "four", url, "", "four", "four",
	             "deploy");
	/* No policy has a latestRef stored yet: nothing to do. */
	automate(&w, "four", PIPELINE_NO_CHANGE, NULL);
	scan_ok(&w, "four", 2, true);
	select_ok(&w, "four", "1.4.0", true);
	automate(&w, "four", PIPELINE_PUSHED, NULL);
	automate(&w, "four", PIPELINE_NO_CHANGE, NULL);
	log = remote_log(bare);
	assert_non_null(log);
	assert_non_null(strstr(log, ":1.4.0\n"));
	assert_null(strstr(log + 1, "update")); /* one commit by ferry */
	free(log);
	world_close(&w);
}

static void
test_stages__a_push_conflict_returns_retry_after_instead_of_sleeping(
        void **state)
{
	struct world w;
	const char *reg = env("FERRY_TEST_REGISTRY_NOAUTH");
	char bare[600], src[600], image[300], url[700], secret[512], hook[700];
	char *log;
	int attempts = 0;
	FILE *f;

	(void)state;
	push_tags("stages/five", "1.0.0 1.5.0");
	world_open(&w);
	snprintf(bare, sizeof(bare), "%s/stages-five-%d.git",
	         env("FERRY_TEST_GIT_HTTP_ROOT"), (int)getpid());
	snprintf(url, sizeof(url), "%s/stages-five-%d.git",
	         env("FERRY_TEST_GIT_HTTP"), (int)getpid());
	snprintf(src, sizeof(src), "%s/src", w.dir);
	snprintf(image, sizeof(image), "%s/stages/five", reg);
	make_remote(bare, src, "deploy", image, "five");
	/* Over HTTP, where receive-pack runs hooks: the first push finds
	 * the branch moved by another client, once. */
	snprintf(hook, sizeof(hook), "%s/hooks/pre-receive", bare);
	f = fopen(hook, "w");
	assert_non_null(f);
	fputs("#!/bin/sh\n"
	      "[ -e \"$GIT_DIR/raced\" ] && exit 0\n"
	      "touch \"$GIT_DIR/raced\"\n"
	      "unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY "
	      "GIT_ALTERNATE_OBJECT_DIRECTORIES\n"
	      "parent=$(git rev-parse refs/heads/main)\n"
	      "tree=$(git rev-parse \"$parent^{tree}\")\n"
	      "other=$(echo someone else | GIT_AUTHOR_NAME=o "
	      "GIT_AUTHOR_EMAIL=o@x GIT_COMMITTER_NAME=o GIT_COMMITTER_EMAIL=o@x "
	      "git commit-tree \"$tree\" -p \"$parent\")\n"
	      "git update-ref refs/heads/main \"$other\" \"$parent\"\n"
	      "exit 0\n",
	      f);
	fclose(f);
	assert_int_equal(sh("chmod 755 '%s'", hook), 0);
	snprintf(secret, sizeof(secret),
	         "apiVersion: v1\nkind: Secret\n"
	         "metadata: {name: five-auth, namespace: flux-system}\n"
	         "stringData: {username: '%s', password: '%s'}\n---\n",
	         env("FERRY_TEST_GIT_HTTP_USER"),
	         env("FERRY_TEST_GIT_HTTP_PASSWORD"));
	{
		struct buf y = BUF_INIT;
		buf_puts(&y, secret);
		buf_addf(&y, repo_yaml, "five", reg, "stages/five", "true",
		         "five", "five", ">=1.0.0");
		buf_addf(&y, automation_yaml, "five", url,
		         ", secretRef: {name: five-auth}", "five", "five",
		         "deploy");
		world_config(&w, "%s", y.ptr);
		buf_release(&y);
	}
	scan_ok(&w, "five", 2, true);
	select_ok(&w, "five", "1.5.0", true);
	automate(&w, "five", PIPELINE_PUSHED, &attempts);
	assert_int_equal(attempts, 2);
	log = remote_log(bare);
	assert_non_null(log);
	{
		char want[600];
		snprintf(want, sizeof(want),
		         "update %s:1.5.0\nsomeone else\nInitial commit",
		         image);
		assert_string_equal(log, want);
	}
	free(log);
	world_close(&w);
}

/* ---- stages at once, on several threads ---- */

struct job {
	struct world *w;
	struct pipeline_key key;
	int rc;
	enum pipeline_status status;
};

static void *
run_scan(void *arg)
{
	struct job *j = arg;
	struct pipeline_repo r;

	j->rc = pipeline_scan(&j->w->ctx, &j->key, &r);
	pipeline_repo_release(&r);
	return NULL;
}

static void *
run_automation(void *arg)
{
	struct job *j = arg;
	struct pipeline_automation a;

	for (int attempt = 1;; attempt++) {
		j->rc = pipeline_automate(&j->w->ctx, &j->key, attempt, &a);
		j->status = a.status;
		if (a.retry_after_ms <= 0)
			break;
		pipeline_automation_release(&a);
	}
	pipeline_automation_release(&a);
	return NULL;
}

static void
run_two(void *(*fn)(void *), struct job *a, struct job *b)
{
	pthread_t ta, tb;

	assert_int_equal(pthread_create(&ta, NULL, fn, a), 0);
	assert_int_equal(pthread_create(&tb, NULL, fn, b), 0);
	pthread_join(ta, NULL);
	pthread_join(tb, NULL);
}

static void
test_stages__two_stages_on_different_objects_run_at_once(void **state)
{
	struct world w;
	const char *reg = env("FERRY_TEST_REGISTRY_NOAUTH");
	char bare[2][600], src[2][600], image[2][300], url[2][700];
	const char *names[2] = { "six", "seven" };
	struct job j[2];
	struct buf y = BUF_INIT;

	(void)state;
	push_tags("stages/six", "1.0.0 1.6.0");
	push_tags("stages/seven", "1.0.0 1.7.0");
	world_open(&w);
	for (int i = 0; i < 2; i++) {
		snprintf(bare[i], sizeof(bare[i]), "%s/%s.git", w.dir,
		         names[i]);
		snprintf(src[i], sizeof(src[i]), "%s/src-%s", w.dir, names[i]);
		snprintf(image[i], sizeof(image[i]), "%s/stages/%s", reg,
		         names[i]);
		snprintf(url[i], sizeof(url[i]), "file://%s", bare[i]);
		make_remote(bare[i], src[i], "deploy", image[i], names[i]);
		buf_addf(&y, repo_yaml, names[i], reg,
		         image[i] + strlen(reg) + 1, "true", names[i], names[i],
		         ">=1.0.0");
		buf_addf(&y, automation_yaml, names[i], url[i], "", names[i],
		         names[i], "deploy");
	}
	world_config(&w, "%s", y.ptr);
	buf_release(&y);
	for (int i = 0; i < 2; i++)
		j[i] = (struct job){ &w, key(CONFIG_IMAGEREPOSITORY, names[i]),
			             -1, PIPELINE_FAILED };
	/* Two scans through one client, from two threads. */
	run_two(run_scan, &j[0], &j[1]);
	assert_int_equal(j[0].rc, 0);
	assert_int_equal(j[1].rc, 0);
	select_ok(&w, "six", "1.6.0", true);
	select_ok(&w, "seven", "1.7.0", true);
	for (int i = 0; i < 2; i++)
		j[i].key = key(CONFIG_IMAGEUPDATEAUTOMATION, names[i]);
	run_two(run_automation, &j[0], &j[1]);
	for (int i = 0; i < 2; i++) {
		char *log = remote_log(bare[i]);
		assert_int_equal(j[i].rc, 0);
		assert_int_equal(j[i].status, PIPELINE_PUSHED);
		assert_non_null(log);
		assert_non_null(strstr(log, i ? ":1.7.0\n" : ":1.6.0\n"));
		free(log);
	}
	world_close(&w);
}

static void
test_stages__two_automations_on_one_clone_take_turns(void **state)
{
	struct world w;
	const char *reg = env("FERRY_TEST_REGISTRY_NOAUTH");
	char bare[600], src[600], url[700], image[2][300];
	const char *names[2] = { "nine", "ten" };
	struct job j[2];
	struct buf y = BUF_INIT;
	char *log;

	(void)state;
	push_tags("stages/nine", "1.0.0 1.9.0");
	push_tags("stages/ten", "1.0.0 1.10.0");
	world_open(&w);
	snprintf(bare, sizeof(bare), "%s/shared.git", w.dir);
	snprintf(src, sizeof(src), "%s/src-shared", w.dir);
	snprintf(url, sizeof(url), "file://%s", bare);
	/* One remote, one file per automation, each its own policy. */
	for (int i = 0; i < 2; i++) {
		char path[1024];
		FILE *f;
		snprintf(image[i], sizeof(image[i]), "%s/stages/%s", reg,
		         names[i]);
		assert_int_equal(sh("mkdir -p '%s/%s'", src, names[i]), 0);
		snprintf(path, sizeof(path), "%s/%s/app.yaml", src, names[i]);
		f = fopen(path, "w");
		assert_non_null(f);
		fprintf(f,
		        "image: %s:1.0.0 # {\"$imagepolicy\": "
		        "\"flux-system:%s\"}\n",
		        image[i], names[i]);
		fclose(f);
		buf_addf(&y, repo_yaml, names[i], reg,
		         image[i] + strlen(reg) + 1, "true", names[i], names[i],
		         ">=1.0.0");
		buf_addf(&y, automation_yaml, names[i], url, "", names[i],
		         names[i], names[i]);
	}
	assert_int_equal(sh("/usr/bin/python3 '%s' git-init --bare '%s' "
	                    "--files '%s' --branch main >/dev/null",
	                    env("FERRY_TEST_HARNESS"), bare, src),
	                 0);
	world_config(&w, "%s", y.ptr);
	buf_release(&y);
	for (int i = 0; i < 2; i++) {
		scan_ok(&w, names[i], 2, true);
		select_ok(&w, names[i], i ? "1.10.0" : "1.9.0", true);
		j[i] = (struct job){
			&w, key(CONFIG_IMAGEUPDATEAUTOMATION, names[i]), -1,
			PIPELINE_FAILED
		};
	}
	/* Both at once on one cached clone: the clone's lock makes them
	 * take turns; each pushes its own change on top of the other's. */
	run_two(run_automation, &j[0], &j[1]);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(j[i].rc, 0);
		assert_int_equal(j[i].status, PIPELINE_PUSHED);
	}
	log = remote_log(bare);
	assert_non_null(log);
	assert_non_null(strstr(log, ":1.9.0"));
	assert_non_null(strstr(log, ":1.10.0"));
	free(log);
	world_close(&w);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_stages__a_scan_hands_its_tags_to_the_policy_through_the_state),
		cmocka_unit_test(
		        test_stages__a_failed_scan_keeps_the_stored_tags_for_the_policy),
		cmocka_unit_test(test_stages__a_policy_without_tags_says_why),
		cmocka_unit_test(
		        test_stages__a_webhook_tag_is_confirmed_and_added_without_a_listing),
		cmocka_unit_test(
		        test_stages__an_automation_pushes_the_stored_latest_ref_once),
		cmocka_unit_test(
		        test_stages__a_push_conflict_returns_retry_after_instead_of_sleeping),
		cmocka_unit_test(
		        test_stages__two_stages_on_different_objects_run_at_once),
		cmocka_unit_test(
		        test_stages__two_automations_on_one_clone_take_turns),
	};
	int rc;

	setvbuf(stdout, NULL, _IONBF, 0);
	git_libgit2_init();
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	git_libgit2_shutdown();
	return rc;
}
