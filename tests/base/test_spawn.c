/*
 * Tests for the reentrant building blocks of core/base: temporary names
 * unique per call, and helper programs that exit before reading their
 * input without raising SIGPIPE in the caller.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/proc.h"
#include "base/util.h"

static void
test_tmp_name__differs_on_every_call_and_names_the_process(void **state)
{
	struct buf a = BUF_INIT, b = BUF_INIT, pid = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(tmp_name(&a, "/x/file.yaml", &e), 0);
	assert_int_equal(tmp_name(&b, "/x/file.yaml", &e), 0);
	assert_string_not_equal(a.ptr, b.ptr);
	buf_addf(&pid, "/x/file.yaml" TMP_NAME_MARK "%ld-", (long)getpid());
	assert_memory_equal(a.ptr, pid.ptr, pid.len);
	assert_int_equal(a.len, pid.len + 16);
	buf_release(&a);
	buf_release(&b);
	buf_release(&pid);
}

static void
test_proc__a_child_that_ignores_its_input_raises_no_sigpipe(void **state)
{
	const char *const argv[] = { "true", NULL };
	struct proc_io io = PROC_IO_INIT;
	struct err e = ERR_INIT;
	size_t len = (size_t)4 << 20; /* far more than a pipe holds */
	char *big = malloc(len);
	int status = -1;

	(void)state;
	/* The default disposition, as a program linking the library has. */
	signal(SIGPIPE, SIG_DFL);
	assert_non_null(big);
	memset(big, 'x', len);
	io.in = big;
	io.in_len = len;
	assert_int_equal(proc_run(argv, &io, &status, &e), 0);
	assert_int_equal(status, 0);
	free(big);
}

static void
test_proc__the_child_gets_sigpipe_at_its_default(void **state)
{
	/* ferry ignores SIGPIPE; a child must not inherit that, or `yes |
	 * head` style helpers never end. */
	const char *const argv[] = { "sh", "-c", "yes | head -c 10 >/dev/null",
		                     NULL };
	struct proc_io io = PROC_IO_INIT;
	struct err e = ERR_INIT;
	int status = -1;

	(void)state;
	signal(SIGPIPE, SIG_IGN);
	io.timeout_ms = 20000;
	assert_int_equal(proc_run(argv, &io, &status, &e), 0);
	assert_int_equal(status, 0);
	signal(SIGPIPE, SIG_DFL);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_tmp_name__differs_on_every_call_and_names_the_process),
		cmocka_unit_test(
		        test_proc__a_child_that_ignores_its_input_raises_no_sigpipe),
		cmocka_unit_test(
		        test_proc__the_child_gets_sigpipe_at_its_default),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
