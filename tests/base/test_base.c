/*
 * Unit tests for core/base: buffers, errors, durations, base64, log lines.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/log.h"
#include "base/proc.h"
#include "base/secret.h"
#include "base/util.h"

static void
test_buf__appends_and_stays_nul_terminated(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	assert_string_equal(b.ptr, "");
	buf_puts(&b, "tag");
	buf_addf(&b, ":%d.%d", 1, 2);
	buf_putc(&b, '!');
	assert_true(buf_ok(&b));
	assert_string_equal(b.ptr, "tag:1.2!");
	assert_int_equal(b.len, 8);
	buf_release(&b);
}

static void
test_buf__fails_past_max_and_remembers_it(void **state)
{
	struct buf b = BUF_INIT;

	(void)state;
	b.max = 4;
	assert_int_equal(buf_puts(&b, "abcd"), 0);
	assert_int_equal(buf_puts(&b, "e"), -ERR_NOMEM);
	assert_false(buf_ok(&b));
	assert_int_equal(buf_puts(&b, ""), -ERR_NOMEM);
	assert_string_equal(b.ptr, "abcd");
	buf_release(&b);
}

static void
test_buf__detach_hands_over_ownership(void **state)
{
	struct buf b = BUF_INIT;
	char *s;

	(void)state;
	buf_puts(&b, "x");
	s = buf_detach(&b);
	assert_string_equal(s, "x");
	assert_int_equal(b.len, 0);
	free(s);
	s = buf_detach(&b);
	assert_string_equal(s, "");
	free(s);
}

static void
test_err__set_returns_negative_code_and_prefix_keeps_it(void **state)
{
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(err_set(&e, ERR_AUTH, "realm '%s'", "r"), -ERR_AUTH);
	assert_int_equal(err_prefix(&e, "registry '%s'", "h"), -ERR_AUTH);
	assert_string_equal(e.msg, "registry 'h': realm 'r'");
	assert_int_equal(err_set(NULL, ERR_INVALID, "x"), -ERR_INVALID);
}

static int64_t
dur(const char *s)
{
	int64_t ns = -1;
	struct err e = ERR_INIT;

	if (parse_duration(s, strlen(s), &ns, &e) < 0)
		return INT64_MIN;
	return ns;
}

static void
test_duration__parses_go_syntax(void **state)
{
	(void)state;
	assert_true(dur("1m30s") == 90000000000LL);
	assert_true(dur("500ms") == 500000000LL);
	assert_true(dur("2h") == 7200000000000LL);
	assert_true(dur("1.5h") == 5400000000000LL);
	assert_true(dur("0") == 0);
	assert_true(dur("-1s") == -1000000000LL);
	assert_true(dur("10us") == 10000LL);
	assert_true(dur("10\xc2\xb5s") == 10000LL);
	assert_true(dur(".5s") == 500000000LL);
	assert_true(dur("1h2m3s4ms5us6ns") == 3723004005006LL);
}

static void
test_duration__rejects_what_go_rejects(void **state)
{
	(void)state;
	assert_true(dur("") == INT64_MIN);
	assert_true(dur("1") == INT64_MIN);
	assert_true(dur("5 m") == INT64_MIN);
	assert_true(dur("1d") == INT64_MIN);
	assert_true(dur("s") == INT64_MIN);
	assert_true(dur(".s") == INT64_MIN);
	assert_true(dur("99999999999h") == INT64_MIN);
	assert_true(dur("-") == INT64_MIN);
}

static void
test_duration__formats_like_go(void **state)
{
	char out[40];

	(void)state;
	format_duration(out, 90000000000LL);
	assert_string_equal(out, "1m30s");
	format_duration(out, 500000000LL);
	assert_string_equal(out, "500ms");
	format_duration(out, 7200000000000LL);
	assert_string_equal(out, "2h0m0s");
	format_duration(out, 1500000000LL);
	assert_string_equal(out, "1.5s");
	format_duration(out, 0);
	assert_string_equal(out, "0s");
}

static void
test_parse_long__checks_range_and_syntax(void **state)
{
	long long v;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(parse_long("42", 2, 0, 100, &v, "n", &e), 0);
	assert_int_equal(v, 42);
	assert_int_equal(parse_long("101", 3, 0, 100, &v, "n", &e),
	                 -ERR_INVALID);
	assert_int_equal(parse_long("4x", 2, 0, 100, &v, "n", &e),
	                 -ERR_INVALID);
	assert_int_equal(
	        parse_long("99999999999999999999", 20, 0, 100, &v, "n", &e),
	        -ERR_INVALID);
}

static void
test_base64__round_trips_and_rejects_junk(void **state)
{
	struct buf b = BUF_INIT, e64 = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	assert_int_equal(base64_decode(&b, "czNjcmV0", 8, &e), 0);
	assert_string_equal(b.ptr, "s3cret");
	assert_int_equal(base64_encode(&e64, b.ptr, b.len), 0);
	assert_string_equal(e64.ptr, "czNjcmV0");
	buf_reset(&b);
	assert_int_equal(base64_decode(&b, "c!==", 4, &e), -ERR_INVALID);
	buf_release(&b);
	buf_release(&e64);
}

static void
test_hex_digit__reads_either_case_and_refuses_the_rest(void **state)
{
	(void)state;
	assert_int_equal(hex_digit('0'), 0);
	assert_int_equal(hex_digit('9'), 9);
	assert_int_equal(hex_digit('a'), 10);
	assert_int_equal(hex_digit('F'), 15);
	assert_int_equal(hex_digit('g'), -1);
	assert_int_equal(hex_digit('%'), -1);
	assert_int_equal(hex_digit('\0'), -1);
}

static void
test_file_write_atomic__replaces_content_and_keeps_mode(void **state)
{
	char dir[] = "/tmp/ferry-test-XXXXXX";
	char path[256];
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	struct stat st;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/f.yaml", dir);
	assert_int_equal(file_write_atomic(path, "a: 1\n", 5, 0640, &e), 0);
	chmod(path, 0600);
	assert_int_equal(file_write_atomic(path, "a: 2\n", 5, 0644, &e), 0);
	assert_int_equal(stat(path, &st), 0);
	assert_int_equal(st.st_mode & 0777, 0600);
	assert_int_equal(file_read(&b, path, &e), 0);
	assert_string_equal(b.ptr, "a: 2\n");
	unlink(path);
	rmdir(dir);
	buf_release(&b);
}

static void
read_log(int fd, struct buf *out)
{
	char chunk[4096];
	ssize_t n;

	lseek(fd, 0, SEEK_SET);
	while ((n = read(fd, chunk, sizeof(chunk))) > 0)
		buf_add(out, chunk, (size_t)n);
}

static void
test_log__quotes_values_so_a_tag_cannot_forge_a_line(void **state)
{
	char path[] = "/tmp/ferry-log-XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT;

	(void)state;
	assert_true(fd >= 0);
	log_configure(LOG_INFO, LOG_FORMAT_LOGFMT, fd);
	log_info("registry", "scan_done", "tag", "v1\nlevel=error x=\"y\"", "n",
	         "3");
	log_debug("registry", "hidden");
	read_log(fd, &b);
	assert_non_null(strstr(
	        b.ptr,
	        " level=info mod=registry event=scan_done tag=\"v1\\nlevel=error x=\\\"y\\\"\" n=3\n"));
	assert_null(strstr(b.ptr, "hidden"));
	assert_non_null(strstr(b.ptr, "\n") == b.ptr + b.len - 1 ? b.ptr
	                                                         : NULL);
	log_configure(LOG_INFO, LOG_FORMAT_LOGFMT, 2);
	close(fd);
	unlink(path);
	buf_release(&b);
}

static void
test_log__json_lines_parse_as_json(void **state)
{
	char path[] = "/tmp/ferry-log-XXXXXX";
	int fd = mkstemp(path);
	struct buf b = BUF_INIT;
	struct err e = ERR_INIT;
	cJSON *j = NULL;

	(void)state;
	log_configure(LOG_DEBUG, LOG_FORMAT_JSON, fd);
	log_warn("git", "push_failed", "remote", "a\"b", "why", NULL);
	read_log(fd, &b);
	assert_int_equal(json_parse(&j, b.ptr, b.len, "log", &e), 0);
	assert_string_equal(json_get_string(j, "level"), "warn");
	assert_string_equal(json_get_string(j, "remote"), "a\"b");
	assert_string_equal(json_get_string(j, "why"), "");
	cJSON_Delete(j);
	log_configure(LOG_INFO, LOG_FORMAT_LOGFMT, 2);
	close(fd);
	unlink(path);
	buf_release(&b);
}

static void
test_log_url__strips_userinfo_and_query(void **state)
{
	char out[256];

	(void)state;
	log_url(out, sizeof(out),
	        "https://bot:s3cret@reg.example:5000/v2/a/tags/list?n=10&token=x");
	assert_string_equal(out, "https://reg.example:5000/v2/a/tags/list");
	log_url(out, sizeof(out), "/v2/a/tags/list?last=b");
	assert_string_equal(out, "/v2/a/tags/list");
}

static void
test_secret__compares_in_constant_time_and_wipes(void **state)
{
	struct secret a = SECRET_INIT, b = SECRET_INIT;

	(void)state;
	secret_set(&a, "tok", 3);
	secret_set(&b, "tok", 3);
	assert_true(secret_equal(&a, &b));
	secret_set(&b, "tox", 3);
	assert_false(secret_equal(&a, &b));
	secret_release(&a);
	assert_null(a.ptr);
	secret_release(&b);
	secret_release(&b);
}

static void
test_json_parse__reports_offset_and_depth(void **state)
{
	struct err e = ERR_INIT;
	cJSON *j = NULL;
	char deep[200];

	(void)state;
	assert_int_equal(json_parse(&j, "{\"a\": }", 7, "tags", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "tags: invalid JSON at byte offset"));
	memset(deep, '[', sizeof(deep));
	assert_int_equal(json_parse(&j, deep, sizeof(deep), "x", &e),
	                 -ERR_INVALID);
	assert_null(j);
}

static void
test_proc__feeds_stdin_and_fd3_and_collects_output(void **state)
{
	const char *argv[] = { "sh", "-c", "cat; cat <&3 >&2; exit 7", NULL };
	struct proc_io io = PROC_IO_INIT;
	struct buf out = BUF_INIT, errout = BUF_INIT;
	struct err e = ERR_INIT;
	int status;

	(void)state;
	io.in = "from stdin";
	io.in_len = 10;
	io.fd3 = "from fd3";
	io.fd3_len = 8;
	io.out = &out;
	io.errout = &errout;
	assert_int_equal(proc_run(argv, &io, &status, &e), 0);
	assert_int_equal(status, 7);
	assert_string_equal(out.ptr, "from stdin");
	assert_string_equal(errout.ptr, "from fd3");
	buf_release(&out);
	buf_release(&errout);
}

static void
test_proc__missing_program_is_not_found(void **state)
{
	const char *argv[] = { "ferry-no-such-program", NULL };
	struct proc_io io = PROC_IO_INIT;
	struct err e = ERR_INIT;
	int status;

	(void)state;
	assert_int_equal(proc_run(argv, &io, &status, &e), -ERR_NOTFOUND);
	assert_non_null(strstr(e.msg, "ferry-no-such-program"));
}

static void
test_proc__child_past_its_deadline_is_killed(void **state)
{
	const char *argv[] = { "sleep", "30", NULL };
	struct proc_io io = PROC_IO_INIT;
	struct err e = ERR_INIT;
	int status;

	(void)state;
	io.timeout_ms = 200;
	assert_int_equal(proc_run(argv, &io, &status, &e), -ERR_TRANSIENT);
}

/* A process's state letter from /proc, or 0 when it is gone. */
static char
proc_state(long pid)
{
	char path[64], line[512], *close_paren;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return 0;
	if (fgets(line, sizeof(line), f) == NULL)
		line[0] = '\0';
	fclose(f);
	close_paren = strrchr(line, ')');
	return close_paren && close_paren[1] ? close_paren[2] : 0;
}

static void
test_proc__a_child_that_closes_its_output_still_has_a_deadline(void **state)
{
	const char *argv[] = { "sh", "-c", "exec >&- 2>&-; sleep 30", NULL };
	struct proc_io io = PROC_IO_INIT;
	struct err e = ERR_INIT;
	int status;

	(void)state;
	io.timeout_ms = 200;
	assert_int_equal(proc_run(argv, &io, &status, &e), -ERR_TRANSIENT);
	assert_non_null(strstr(e.msg, "did not finish in 200 ms"));
}

static void
test_proc__what_a_child_started_dies_with_it_at_the_deadline(void **state)
{
	const char *argv[] = { "sh", "-c", "sleep 30 & echo $!; wait", NULL };
	struct proc_io io = PROC_IO_INIT;
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	char st = 'S';
	long pid;
	int status;

	(void)state;
	io.out = &out;
	io.timeout_ms = 300;
	assert_int_equal(proc_run(argv, &io, &status, &e), -ERR_TRANSIENT);
	assert_true(buf_ok(&out) && out.len > 0);
	pid = strtol(out.ptr, NULL, 10);
	assert_true(pid > 1);
	/* SIGKILL is sent; the grandchild is gone or a zombie of init's
	 * within moments */
	for (int i = 0; i < 500; i++) {
		st = proc_state(pid);
		if (st == 0 || st == 'Z' || st == 'X')
			break;
		usleep(10000);
	}
	assert_true(st == 0 || st == 'Z' || st == 'X');
	buf_release(&out);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buf__appends_and_stays_nul_terminated),
		cmocka_unit_test(test_buf__fails_past_max_and_remembers_it),
		cmocka_unit_test(test_buf__detach_hands_over_ownership),
		cmocka_unit_test(
		        test_err__set_returns_negative_code_and_prefix_keeps_it),
		cmocka_unit_test(test_duration__parses_go_syntax),
		cmocka_unit_test(test_duration__rejects_what_go_rejects),
		cmocka_unit_test(test_duration__formats_like_go),
		cmocka_unit_test(test_parse_long__checks_range_and_syntax),
		cmocka_unit_test(test_base64__round_trips_and_rejects_junk),
		cmocka_unit_test(
		        test_hex_digit__reads_either_case_and_refuses_the_rest),
		cmocka_unit_test(
		        test_file_write_atomic__replaces_content_and_keeps_mode),
		cmocka_unit_test(
		        test_log__quotes_values_so_a_tag_cannot_forge_a_line),
		cmocka_unit_test(test_log__json_lines_parse_as_json),
		cmocka_unit_test(test_log_url__strips_userinfo_and_query),
		cmocka_unit_test(
		        test_secret__compares_in_constant_time_and_wipes),
		cmocka_unit_test(test_json_parse__reports_offset_and_depth),
		cmocka_unit_test(
		        test_proc__feeds_stdin_and_fd3_and_collects_output),
		cmocka_unit_test(test_proc__missing_program_is_not_found),
		cmocka_unit_test(test_proc__child_past_its_deadline_is_killed),
		cmocka_unit_test(
		        test_proc__a_child_that_closes_its_output_still_has_a_deadline),
		cmocka_unit_test(
		        test_proc__what_a_child_started_dies_with_it_at_the_deadline),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
