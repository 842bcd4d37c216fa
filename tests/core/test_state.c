/*
 * Tests for core/state: documents round-trip, writes are atomic and stay
 * inside the directory, and the lock keeps a second process out.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "base/util.h"
#include "state/state.h"

static int
setup(void **state)
{
	char *dir = strdup("/tmp/ferry-state-XXXXXX");

	if (dir == NULL || mkdtemp(dir) == NULL)
		return -1;
	*state = dir;
	return 0;
}

static int
teardown(void **state)
{
	dir_remove_all(*state, NULL);
	free(*state);
	return 0;
}

static void
test_state__document_round_trips(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject(), *got = NULL;

	assert_int_equal(state_open(&st, *state, &err), 0);
	cJSON_AddStringToObject(doc, "tag", "1.2.3");
	assert_int_equal(
	        state_put(st, "ImagePolicy", "flux-system", "app", doc, &err),
	        0);
	assert_int_equal(
	        state_get(st, "ImagePolicy", "flux-system", "app", &got, &err),
	        0);
	assert_string_equal(cJSON_GetObjectItem(got, "tag")->valuestring,
	                    "1.2.3");
	cJSON_Delete(doc);
	cJSON_Delete(got);
	state_free(st);
}

static void
copy_tag(const cJSON *doc, void *payload)
{
	const cJSON *t = cJSON_GetObjectItemCaseSensitive(doc, "tag");

	snprintf(payload, 32, "%s",
	         doc == NULL         ? "(none)"
	         : cJSON_IsString(t) ? t->valuestring
	                             : "(no tag)");
}

static void
test_state__a_reader_borrows_the_document_or_sees_none(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject();
	char got[32] = "";

	assert_int_equal(state_open(&st, *state, &err), 0);
	cJSON_AddStringToObject(doc, "tag", "1.2.3");
	assert_int_equal(
	        state_put(st, "ImagePolicy", "flux-system", "app", doc, &err),
	        0);
	state_free(st);
	/* From the disk after a restart, then from memory. */
	assert_int_equal(state_open(&st, *state, &err), 0);
	for (int i = 0; i < 2; i++) {
		got[0] = '\0';
		assert_int_equal(state_read(st, "ImagePolicy", "flux-system",
		                            "app", copy_tag, got, &err),
		                 0);
		assert_string_equal(got, "1.2.3");
	}
	assert_int_equal(state_read(st, "ImagePolicy", "flux-system", "none",
	                            copy_tag, got, &err),
	                 0);
	assert_string_equal(got, "(none)");
	assert_int_equal(state_read(st, "ImagePolicy", "flux-system", "../x",
	                            copy_tag, got, &err),
	                 -ERR_INVALID);
	cJSON_Delete(doc);
	state_free(st);
}

static void
test_state__missing_document_is_not_found(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	cJSON *got = NULL;

	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(state_get(st, "ImagePolicy", "ns", "none", &got, &err),
	                 -ERR_NOTFOUND);
	assert_null(got);
	state_free(st);
}

static void
test_state__names_cannot_escape_the_directory(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject();

	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(state_put(st, "ImagePolicy", "..", "x", doc, &err),
	                 -ERR_INVALID);
	assert_int_equal(
	        state_put(st, "ImagePolicy", "ns", "../../etc/x", doc, &err),
	        -ERR_INVALID);
	cJSON_Delete(doc);
	state_free(st);
}

static void
test_state__second_process_is_refused_while_locked(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	pid_t pid;
	int status;

	assert_int_equal(state_open(&st, *state, &err), 0);
	pid = fork();
	if (pid == 0) {
		struct state *other = NULL;
		struct err e2 = ERR_INIT;
		int rc = state_open(&other, *state, &e2);
		_exit(rc == -ERR_CONFLICT && strstr(e2.msg, "in use") ? 0 : 1);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_int_equal(WEXITSTATUS(status), 0);
	state_free(st);
	assert_int_equal(state_open(&st, *state, &err), 0);
	state_free(st);
}

static void
test_state__torn_document_reads_as_invalid_not_a_crash(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject(), *got = NULL;
	char path[512];
	FILE *f;

	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(state_put(st, "ImageRepository", "ns", "r", doc, &err),
	                 0);
	snprintf(path, sizeof(path), "%s/objects/ImageRepository/ns/r.json",
	         (char *)*state);
	f = fopen(path, "w");
	assert_non_null(f);
	fputs("{\"tags\": [\"1.0", f);
	fclose(f);
	/* A new process reads the disk, not this one's memory. */
	state_free(st);
	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(
	        state_get(st, "ImageRepository", "ns", "r", &got, &err),
	        -ERR_INVALID);
	cJSON_Delete(doc);
	state_free(st);
}

static void
put_tags(struct state *st, const char *name, const char *image,
         const char *const *tags, const char *const *digests, size_t n,
         bool *changed)
{
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject();

	cJSON_AddStringToObject(doc, "image", image);
	cJSON_AddStringToObject(doc, "scanTime", "2026-12-02T00:00:00Z");
	assert_int_equal(state_tags_put(st, "ns", name, doc, tags, digests, n,
	                                changed, &err),
	                 0);
	cJSON_Delete(doc);
}

static void
test_state__tag_lists_survive_a_restart_with_their_digests(void **state)
{
	static const char *const tags[] = { "1.0.0", "1.1.0", "2.0.0" };
	static const char *const digests[] = { "sha256:aa", NULL, "sha256:cc" };
	struct state *st = NULL;
	struct state_tags *t = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = NULL;

	assert_int_equal(state_open(&st, *state, &err), 0);
	put_tags(st, "app", "reg/app", tags, digests, 3, NULL);
	state_free(st);
	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(state_tags_get(st, "ns", "app", &t, &err), 0);
	assert_int_equal(state_tags_count(t), 3);
	assert_string_equal(state_tags_image(t), "reg/app");
	assert_string_equal(state_tags_name(t, 1), "1.1.0");
	assert_string_equal(state_tags_digest(t, 0), "sha256:aa");
	assert_null(state_tags_digest(t, 1));
	assert_string_equal(state_tags_digest(t, 2), "sha256:cc");
	/* The rest of the document comes without the list. */
	assert_int_equal(
	        state_get(st, "ImageRepository", "ns", "app", &doc, &err), 0);
	assert_string_equal(cJSON_GetObjectItem(doc, "scanTime")->valuestring,
	                    "2026-12-02T00:00:00Z");
	assert_null(cJSON_GetObjectItem(doc, "tags"));
	cJSON_Delete(doc);
	state_tags_unref(t);
	state_free(st);
}

static void
test_state__a_tag_list_put_says_whether_it_changed(void **state)
{
	static const char *const a[] = { "1.0.0", "1.1.0" };
	static const char *const b[] = { "1.0.0", "1.1.0", "1.2.0" };
	static const char *const d[] = { "sha256:aa", "sha256:bb" };
	struct state *st = NULL;
	struct err err = ERR_INIT;
	bool changed = false;

	assert_int_equal(state_open(&st, *state, &err), 0);
	put_tags(st, "app", "reg/app", a, NULL, 2, &changed);
	assert_true(changed);
	put_tags(st, "app", "reg/app", a, NULL, 2, &changed);
	assert_false(changed);
	put_tags(st, "app", "reg/app", b, NULL, 3, &changed);
	assert_true(changed);
	put_tags(st, "app", "reg/app", a, d, 2, &changed);
	assert_true(changed); /* digests are part of the list */
	put_tags(st, "app", "reg/other", a, d, 2, &changed);
	assert_true(changed); /* so is the image */
	state_free(st);
}

static void
test_state__a_document_without_tags_keeps_the_stored_list(void **state)
{
	static const char *const a[] = { "1.0.0" };
	struct state *st = NULL;
	struct state_tags *t = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject();

	assert_int_equal(state_open(&st, *state, &err), 0);
	put_tags(st, "app", "reg/app", a, NULL, 1, NULL);
	cJSON_AddStringToObject(doc, "image", "reg/app");
	cJSON_AddStringToObject(doc, "lastError", "HTTP 500");
	assert_int_equal(
	        state_put(st, "ImageRepository", "ns", "app", doc, &err), 0);
	state_free(st);
	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(state_tags_get(st, "ns", "app", &t, &err), 0);
	assert_int_equal(state_tags_count(t), 1);
	state_tags_unref(t);
	cJSON_Delete(doc);
	state_free(st);
}

static void
test_state__a_memory_put_shadows_the_disk_and_is_never_written(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	cJSON *doc = cJSON_CreateObject(), *got = NULL;

	assert_int_equal(state_open(&st, *state, &err), 0);
	cJSON_AddStringToObject(doc, "tag", "1.0.0");
	assert_int_equal(state_put(st, "ImagePolicy", "ns", "p", doc, &err), 0);
	cJSON_ReplaceItemInObject(doc, "tag", cJSON_CreateString("2.0.0"));
	assert_int_equal(
	        state_put_memory(st, "ImagePolicy", "ns", "p", doc, &err), 0);
	assert_int_equal(state_get(st, "ImagePolicy", "ns", "p", &got, &err),
	                 0);
	assert_string_equal(cJSON_GetObjectItem(got, "tag")->valuestring,
	                    "2.0.0");
	cJSON_Delete(got);
	state_free(st);
	assert_int_equal(state_open(&st, *state, &err), 0);
	assert_int_equal(state_get(st, "ImagePolicy", "ns", "p", &got, &err),
	                 0);
	assert_string_equal(cJSON_GetObjectItem(got, "tag")->valuestring,
	                    "1.0.0");
	cJSON_Delete(got);
	cJSON_Delete(doc);
	state_free(st);
}

struct worker {
	struct state *st;
	int id;
	int failures;
};

static void *
worker_run(void *arg)
{
	static const char *const tags[] = { "1", "2", "3" };
	struct worker *w = arg;
	char name[32];

	for (int i = 0; i < 200; i++) {
		struct err err = ERR_INIT;
		struct state_tags *t = NULL;
		cJSON *doc = cJSON_CreateObject(), *got = NULL;

		snprintf(name, sizeof(name), "r%d-%d", w->id, i % 10);
		cJSON_AddStringToObject(doc, "image", name);
		if (state_tags_put(w->st, "ns", name, doc, tags, NULL, 3, NULL,
		                   &err) < 0 ||
		    state_tags_get(w->st, "ns", name, &t, &err) < 0 ||
		    state_tags_count(t) != 3 ||
		    strcmp(state_tags_image(t), name) != 0 ||
		    state_get(w->st, "ImageRepository", "ns", name, &got,
		              &err) < 0)
			w->failures++;
		/* Everyone reads one shared document too. */
		cJSON_Delete(got);
		got = NULL;
		state_get(w->st, "ImagePolicy", "ns", "shared", &got, &err);
		cJSON_Delete(got);
		state_tags_unref(t);
		cJSON_Delete(doc);
	}
	return NULL;
}

static void
test_state__threads_read_and_write_different_objects_at_once(void **state)
{
	struct state *st = NULL;
	struct err err = ERR_INIT;
	struct worker w[4];
	pthread_t th[4];

	assert_int_equal(state_open(&st, *state, &err), 0);
	for (int i = 0; i < 4; i++) {
		w[i] = (struct worker){ st, i, 0 };
		assert_int_equal(
		        pthread_create(&th[i], NULL, worker_run, &w[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		pthread_join(th[i], NULL);
		assert_int_equal(w[i].failures, 0);
	}
	state_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_state__document_round_trips, setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__a_reader_borrows_the_document_or_sees_none,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__missing_document_is_not_found, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__names_cannot_escape_the_directory, setup,
		        teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__second_process_is_refused_while_locked,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__torn_document_reads_as_invalid_not_a_crash,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__tag_lists_survive_a_restart_with_their_digests,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__a_tag_list_put_says_whether_it_changed,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__a_document_without_tags_keeps_the_stored_list,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__a_memory_put_shadows_the_disk_and_is_never_written,
		        setup, teardown),
		cmocka_unit_test_setup_teardown(
		        test_state__threads_read_and_write_different_objects_at_once,
		        setup, teardown),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
