/*
 * Tests for core/state: documents round-trip, writes are atomic and stay
 * inside the directory, and the lock keeps a second process out.
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
	assert_int_equal(
	        state_get(st, "ImageRepository", "ns", "r", &got, &err),
	        -ERR_INVALID);
	cJSON_Delete(doc);
	state_free(st);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(
		        test_state__document_round_trips, setup, teardown),
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
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
