/*
 * test_template.c - unit tests of the template library
 * (writeback/template/template.h): the language, errors with positions,
 * limits, data values and JSON data.  The byte-for-byte comparison with Go
 * lives in difftest.py; the Flux and Argo CD data models built on the
 * library are tested in test_template_model.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/json.h"
#include "writeback/template/template.h"

/* Renders src with JSON data; returns the rc, output in *out (malloc'd). */
static int
render(const char *src, const char *json, bool sprig, char **out,
       struct err *err)
{
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *root = NULL;
	struct buf b = BUF_INIT;
	cJSON *j = NULL;
	int rc;

	assert_int_equal(json_parse(&j, json, strlen(json), "data", err), 0);
	assert_int_equal(template_data_new(&d), 0);
	assert_int_equal(template_value_from_json(d, j, &root, err), 0);
	rc = template_parse(&t, src, strlen(src), sprig, err);
	if (rc == 0)
		rc = template_execute(t, root, &b, err);
	*out = buf_detach(&b);
	template_free(t);
	template_data_free(d);
	cJSON_Delete(j);
	return rc;
}

static void
expect(const char *src, const char *json, bool sprig, const char *want)
{
	struct err err = ERR_INIT;
	char *out = NULL;
	int rc = render(src, json, sprig, &out, &err);

	if (rc != 0)
		fail_msg("%s: %s", src, err.msg);
	assert_string_equal(out, want);
	free(out);
}

static void
expect_error(const char *src, const char *json, bool sprig,
             const char *want_prefix, const char *want_msg)
{
	struct err err = ERR_INIT;
	char *out = NULL;
	int rc = render(src, json, sprig, &out, &err);

	assert_true(rc < 0);
	assert_string_equal(out, want_prefix);
	if (strstr(err.msg, want_msg) == NULL)
		fail_msg("error '%s' lacks '%s'", err.msg, want_msg);
	free(out);
}

static void
test_template__renders_fields_and_text(void **state)
{
	(void)state;
	expect("Hello {{.name}}, {{.m.k}}!", "{\"name\":\"W\",\"m\":{\"k\":1}}",
	       false, "Hello W, 1!");
}

static void
test_template__prints_json_numbers_as_go_float64(void **state)
{
	(void)state;
	expect("{{.a}} {{.b}} {{.c}} {{.d}}",
	       "{\"a\":3,\"b\":1e21,\"c\":1000000,\"d\":2.5}", false,
	       "3 1e+21 1e+06 2.5");
}

static void
test_template__ranges_over_maps_in_sorted_key_order(void **state)
{
	(void)state;
	expect("{{range $k, $v := .}}{{$k}}={{$v}} {{end}}",
	       "{\"b\":2,\"a\":1,\"C\":3}", false, "C=3 a=1 b=2 ");
}

static void
test_template__trims_spaces_around_trim_markers(void **state)
{
	(void)state;
	expect("a \n {{- .x -}} \n b", "{\"x\":\"X\"}", false, "aXb");
}

static void
test_template__supports_break_and_continue_in_range(void **state)
{
	(void)state;
	expect("{{range .}}{{if eq . 2.0}}{{continue}}{{end}}"
	       "{{if eq . 4.0}}{{break}}{{end}}{{.}}{{end}}",
	       "[1,2,3,4,5]", false, "13");
}

static void
test_template__shows_missing_values_as_no_value(void **state)
{
	(void)state;
	expect("{{.nope}} {{print .nope}}", "{}", false, "<no value> <nil>");
}

static void
test_template__reports_parse_errors_with_the_line(void **state)
{
	(void)state;
	expect_error("a\n{{if .x}}\nb", "{}", false, "",
	             "template: msg:3: unexpected EOF");
}

static void
test_template__treats_unknown_functions_as_parse_errors(void **state)
{
	(void)state;
	expect_error("{{lower .x}}", "{}", false, "",
	             "function \"lower\" not defined");
}

static void
test_template__reports_execution_errors_with_line_and_column(void **state)
{
	(void)state;
	expect_error("ok\n  {{index .l 5}}", "{\"l\":[1]}", false, "ok\n  ",
	             "template: msg:2:4: executing \"msg\" at <index .l 5>: "
	             "error calling index: index out of range: 5");
}

static void
test_template__uses_sprig_functions_when_asked(void **state)
{
	(void)state;
	expect("{{.x | trimPrefix \"a\" | upper | quote}} {{trunc 2 .x}}",
	       "{\"x\":\"abc\"}", true, "\"BC\" ab");
}

static void
test_template__stops_runaway_recursion(void **state)
{
	(void)state;
	expect_error("{{define \"r\"}}{{template \"r\" .}}{{end}}"
	             "{{template \"r\" .}}",
	             "{}", false, "", "exceeded maximum template depth");
}

static void
test_template__bounds_the_output_size(void **state)
{
	struct err err = ERR_INIT;
	char *out = NULL;

	(void)state;
	assert_int_equal(
	        render("{{range .}}{{range $}}{{range $}}"
	               "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
	               "{{end}}{{end}}{{end}}",
	               "[1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	               "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,"
	               "1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1,1]",
	               false, &out, &err),
	        -ERR_NOMEM);
	assert_true(strlen(out) <= TEMPLATE_MAX_OUTPUT);
	free(out);
}

static void
test_template__bounds_the_size_of_function_results(void **state)
{
	(void)state;
	expect_error("{{repeat 100000000 \"abcdefgh\"}}", "{}", true, "",
	             "limit");
}

/* Flux's source_test.go data: one change in deploy.yaml. */
static void
test_template__prints_structs_through_their_string_text(void **state)
{
	struct template_data *d = NULL;
	struct template_value *root, *st;
	struct template *t = NULL;
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	static const char src[] = "{{.o}} {{.o.Name}} {{.p}}";

	(void)state;
	assert_int_equal(template_data_new(&d), 0);
	root = template_value_map(d);
	st = template_value_struct(d, "types.NamespacedName", "ns/name");
	template_struct_set(d, st, "Name", template_value_cstr(d, "name"));
	template_map_set_cstr(d, root, "o", st);
	st = template_value_struct(d, "update.Change", NULL);
	template_struct_set(d, st, "A", template_value_int(d, 1));
	template_struct_set(d, st, "B", template_value_cstr(d, "x"));
	template_map_set_cstr(d, root, "p", st);
	assert_true(template_data_ok(d));
	assert_int_equal(template_parse(&t, src, strlen(src), false, &err), 0);
	assert_int_equal(template_execute(t, root, &b, &err), 0);
	assert_string_equal(b.ptr, "ns/name name {1 x}");
	buf_release(&b);
	template_free(t);
	template_data_free(d);
}

static void
test_template__names_maps_by_their_go_type(void **state)
{
	struct template_data *d = NULL;
	struct template_value *root, *named, *keyed, *key;
	struct template *t = NULL;
	struct buf b = BUF_INIT;
	struct err err = ERR_INIT;
	static const char ok[] = "{{printf \"%T %T\" .n .k}} {{.n.a}}";
	static const char bad[] = "{{.k.Name}}";

	(void)state;
	assert_int_equal(template_data_new(&d), 0);
	root = template_value_map(d);
	named = template_value_map_named(d, "map[string]string");
	template_map_set_cstr(d, named, "a", template_value_cstr(d, "x"));
	template_map_set_cstr(d, root, "n", named);
	keyed = template_value_map_named(d, "update.ObjectChanges");
	key = template_value_struct(d, "update.ObjectIdentifier", NULL);
	template_struct_set(d, key, "Name", template_value_cstr(d, "web"));
	template_map_set(d, keyed, key, template_value_int(d, 1));
	template_map_set_cstr(d, root, "k", keyed);
	assert_true(template_data_ok(d));
	assert_int_equal(template_parse(&t, ok, strlen(ok), false, &err), 0);
	assert_int_equal(template_execute(t, root, &b, &err), 0);
	assert_string_equal(b.ptr, "map[string]string update.ObjectChanges x");
	template_free(t);
	t = NULL;
	/* a map with struct keys has no fields, as in Go */
	buf_reset(&b);
	assert_int_equal(template_parse(&t, bad, strlen(bad), false, &err), 0);
	assert_int_equal(template_execute(t, root, &b, &err), -ERR_INVALID);
	assert_non_null(strstr(
	        err.msg,
	        "can't evaluate field Name in type update.ObjectChanges"));
	buf_release(&b);
	template_free(t);
	template_data_free(d);
}

static void
test_template__finds_map_values_by_string_and_struct_keys(void **state)
{
	struct template_data *d = NULL;
	struct template_value *m, *k1, *k2, *k3, *s;

	(void)state;
	assert_int_equal(template_data_new(&d), 0);
	m = template_value_map_named(d, "update.ObjectChanges");
	k1 = template_value_struct(d, "update.ObjectIdentifier", NULL);
	template_struct_set(d, k1, "Name", template_value_cstr(d, "a"));
	k2 = template_value_struct(d, "update.ObjectIdentifier", NULL);
	template_struct_set(d, k2, "Name", template_value_cstr(d, "b"));
	k3 = template_value_struct(d, "update.ObjectIdentifier", NULL);
	template_struct_set(d, k3, "Name", template_value_cstr(d, "b"));
	template_map_set(d, m, k2, template_value_int(d, 2));
	template_map_set(d, m, k1, template_value_int(d, 1));
	assert_true(template_data_ok(d));
	/* an equal key finds the value, a missing one gives NULL */
	assert_non_null(template_map_get(m, k3));
	assert_ptr_equal(template_map_get(m, k3), template_map_get(m, k2));
	assert_non_null(template_map_get(m, k1));
	assert_ptr_not_equal(template_map_get(m, k1), template_map_get(m, k2));
	k3 = template_value_struct(d, "update.ObjectIdentifier", NULL);
	assert_null(template_map_get(m, k3));
	s = template_value_map(d);
	template_map_set_cstr(d, s, "x", template_value_int(d, 7));
	assert_non_null(template_map_get(s, template_value_cstr(d, "x")));
	assert_null(template_map_get(s, template_value_cstr(d, "y")));
	/* NULL map or key and non-maps give NULL, for chained lookups */
	assert_null(template_map_get(NULL, k1));
	assert_null(template_map_get(m, NULL));
	assert_null(template_map_get(k1, k1));
	template_data_free(d);
}

static void
test_template__keeps_the_last_of_duplicate_json_keys(void **state)
{
	(void)state;
	expect("{{.a}} {{len .}}", "{\"a\":1,\"b\":0,\"a\":2}", false, "2 2");
}

static void
test_template__bounds_range_iterations(void **state)
{
	struct buf list = BUF_INIT;
	struct err err = ERR_INIT;
	char *out = NULL;

	(void)state;
	buf_putc(&list, '[');
	for (int i = 0; i < 200; i++)
		buf_puts(&list, i ? ",0" : "0");
	buf_putc(&list, ']');
	assert_int_equal(render("{{range $}}{{range $}}{{range $}}"
	                        "{{end}}{{end}}{{end}}",
	                        list.ptr, false, &out, &err),
	                 -ERR_NOMEM);
	assert_non_null(strstr(err.msg, "range iterations"));
	free(out);
	buf_release(&list);
}

static void
test_template__executes_a_parsed_template_many_times(void **state)
{
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct err err = ERR_INIT;
	static const char src[] = "{{.}}";

	(void)state;
	assert_int_equal(template_parse(&t, src, strlen(src), false, &err), 0);
	assert_int_equal(template_data_new(&d), 0);
	for (int i = 0; i < 3; i++) {
		struct buf b = BUF_INIT;
		assert_int_equal(
		        template_execute(t, template_value_int(d, i), &b, &err),
		        0);
		assert_int_equal(b.ptr[0], '0' + i);
		buf_release(&b);
	}
	template_data_free(d);
	template_free(t);
}

/*
 * Go's parse.newNumber reads a character constant with
 * strconv.UnquoteChar: "\\x" and octal escapes are byte values up to 255,
 * not UTF-8 bytes (issue 16: '\\xFF' printed as U+FFFD's 65533).
 */
static void
test_template__reads_character_constants_past_0x7f_as_go_does(void **state)
{
	(void)state;
	expect("{{print '\\xFF'}} {{printf \"%c\" '\\xe9'}} {{'\\200'}} "
	       "{{'\\377'}} {{'\\U0001F600'}}",
	       "{}", false, "255 \xc3\xa9 128 255 128512");
	expect_error("{{'\\400'}}", "{}", false, "", "msg:1: invalid syntax");
	expect_error("{{'\\\"'}}", "{}", false, "", "msg:1: invalid syntax");
	expect_error("{{''}}", "{}", false, "", "msg:1: invalid syntax");
	expect_error("{{'ab'}}", "{}", false, "",
	             "malformed character constant: 'ab'");
}

/*
 * Imaginary and complex constants are complex128 values (parse.newNumber,
 * exec.idealConstant) and print as fmt's fmtComplex does: each part with
 * the verb, the imaginary one always signed.
 */
static void
test_template__prints_imaginary_and_complex_constants(void **state)
{
	(void)state;
	expect("{{print 1i}} {{1+2i}} {{-1.5e3i}} {{0i}} {{printf \"%T\" 1i}}",
	       "{}", false, "(0+1i) (1+2i) (0-1500i) (0+0i) complex128");
	expect("{{printf \"%.2f|%8.1f|%d\" 3i 1-1i 1i}}", "{}", false,
	       "(0.00+3.00i)|(     1.0    -1.0i)|%!d(complex128=(0+1i))");
	expect("{{if 0i}}a{{else}}b{{end}} {{eq 1i 1i}}", "{}", false,
	       "b true");
	expect_error("{{lt 1i 2i}}", "{}", false, "",
	             "error calling lt: invalid type for comparison");
	expect_error("{{1+i}}", "{}", false, "",
	             "msg:1: syntax error scanning complex number");
	expect_error("{{1e4000+1i}}", "{}", false, "",
	             "strconv.ParseFloat: parsing \"1e4000\": value out of "
	             "range");
}

/* parse/lex.go lexNumber: "bad number syntax: %q" of what it scanned. */
static void
test_template__names_malformed_numbers_as_go_does(void **state)
{
	(void)state;
	expect_error("{{+-2}}", "{}", false, "",
	             "template: msg:1: bad number syntax: \"+-2\"");
	expect_error("{{1+2}}", "{}", false, "",
	             "template: msg:1: bad number syntax: \"1+2\"");
	expect_error("{{3x}}", "{}", false, "",
	             "template: msg:1: bad number syntax: \"3x\"");
	expect_error("{{0x1i}}", "{}", false, "",
	             "template: msg:1: illegal number syntax: \"0x1i\"");
	expect_error("{{089}}", "{}", false, "",
	             "template: msg:1: integer overflow: \"089\"");
	/* ParseFloat reports no error for an underflow to zero */
	expect("{{1e-400}}", "{}", false, "0");
}

/* fmt's %b of a float is strconv's 'b' format. */
static void
test_template__prints_floats_with_the_b_verb(void **state)
{
	(void)state;
	expect("{{printf \"%b %b %b\" 1.0 -0.5 5e-324}}", "{}", false,
	       "4503599627370496p-52 -4503599627370496p-53 1p-1074");
}

/*
 * The call builtin.  No data value is a function (see call_builtin in
 * exec.c), so call fails as Go fails on a non-function.  Go 1.24's
 * evalCall passes the first argument's text to funcs.go call, which says
 * "non-function .name of type string"; Go 1.19 (the oracle) said
 * "non-function of type string".
 */
static void
test_template__call_fails_on_values_that_are_not_functions_as_go_does(
        void **state)
{
	static const char data[] = "{\"name\":\"x\",\"n\":1,\"z\":null}";

	(void)state;
	expect_error("a{{call .name}}", data, false, "a",
	             "msg:1:3: executing \"msg\" at <call .name>: error "
	             "calling call: non-function .name of type string");
	expect_error("{{call .n 1 2}}", data, false, "",
	             "error calling call: non-function .n of type float64");
	expect_error("{{.name | call}}", data, false, "",
	             "error calling call: non-function x of type string");
	expect_error("{{.n | call}}", data, false, "",
	             "non-function <float64 Value> of type float64");
	expect_error("{{call (print 1)}}", data, false, "",
	             "non-function print 1 of type string");
	expect_error("{{call .z}}", data, false, "",
	             "error calling call: call of nil");
	expect_error("{{call .missing}}", data, false, "",
	             "error calling call: call of nil");
	expect_error("{{call nil}}", data, false, "",
	             "error calling call: call of nil");
	expect_error("{{call}}", data, false, "",
	             "wrong number of args for call: want at least 1 got 0");
	/* arguments are evaluated first, and their errors come first */
	expect_error("{{call .name (index .name 9)}}", data, false, "",
	             "error calling index: index out of range: 9");
}

/*
 * Go 1.24 ranges over an integer (release notes: "Templates now support
 * range-over-func and range-over-int"; issue 66107, message fixed in
 * 69708).  Go 1.19 says "range can't iterate over 3".  A JSON number is a
 * float64 and still cannot be ranged over.
 */
static void
test_template__ranges_over_an_integer_as_go_1_24_does(void **state)
{
	(void)state;
	expect("{{range 3}}{{.}}{{end}} {{range $i := 2}}[{{$i}}]{{end}}", "{}",
	       false, "012 [0][1]");
	expect("{{range len .}}{{.}}{{end}}", "[7,8]", false, "01");
	expect("{{range 0}}x{{else}}none{{end}} {{range -2}}x{{else}}no{{end}}",
	       "{}", false, "none no");
	expect("{{range 9}}{{if eq . 3}}{{break}}{{end}}{{.}}{{end}}", "{}",
	       false, "012");
	expect_error("{{range $i, $e := 3}}{{end}}", "{}", false, "",
	             "at <3>: can't use 3 to iterate over more than one "
	             "variable");
	expect_error("{{range .n}}{{end}}", "{\"n\":3}", false, "",
	             "range can't iterate over 3");
}

/*
 * Range variables given with '=' are set by name, the index first when
 * there are two (oneIteration's IsAssign branch in the Go 1.22+ sources).
 * Go 1.19 set the top of the variable stack instead, so a variable
 * declared after $x was overwritten: the first case printed "12 [1 2] 2".
 */
static void
test_template__range_assigns_its_variables_by_name(void **state)
{
	(void)state;
	expect("{{$x := 0}}{{$y := 5}}{{range $x = .}}{{$y}}{{end}} {{$x}} "
	       "{{$y}}",
	       "[1,2]", false, "55 2 5");
	expect("{{$i := 0}}{{$x := 0}}{{$y := 5}}{{range $i, $x = .}}{{end}}"
	       "{{$i}} {{$x}} {{$y}}",
	       "[1,2]", false, "1 2 5");
}

/* Go 1.24's funcs.go eq and lt name both types; 1.19 named neither. */
static void
test_template__names_the_types_that_cannot_be_compared(void **state)
{
	(void)state;
	expect_error("{{eq \"a\" 1}}", "{}", false, "",
	             "error calling eq: incompatible types for comparison: "
	             "string and int");
	expect_error("{{lt 1 .x}}", "{\"x\":1}", false, "",
	             "error calling lt: incompatible types for comparison: "
	             "int and float64");
	expect_error("{{eq .l 1}}", "{\"l\":[]}", false, "",
	             "incompatible types for comparison: []interface {} and "
	             "int");
	expect_error("{{lt .l 1}}", "{\"l\":[]}", false, "",
	             "error calling lt: invalid type for comparison");
}

/*
 * Go's slice checks indexes against cap(), and encoding/json builds an
 * array by appending to make([]any, 0), so a 3-element array has cap 4
 * and "slice .l 1 4" ends in a nil.  The capacities past 32 elements
 * follow Go 1.22's allocation headers (runtime msize.go roundupsize): 33
 * elements get cap 71 where Go 1.19 (the oracle) gave 64.
 */
static void
test_template__slices_json_arrays_up_to_their_go_capacity(void **state)
{
	char json[256] = "[0";

	(void)state;
	expect("{{slice . 1 4}} {{slice . 0 2 4 | len}} {{slice (slice . 1 2) "
	       "0 3}}",
	       "[1,2,3]", false, "[2 3 <nil>] 2 [2 3 <nil>]");
	expect_error("{{slice . 0 5}}", "[1,2,3]", false, "",
	             "error calling slice: index out of range: 5");
	/* an empty list has no elements to point into */
	expect("{{slice . 0 0}} {{slice . 0}}", "[]", false, "[] []");
	for (int i = 1; i <= 33; i++) {
		size_t n = strlen(json);
		snprintf(json + n, sizeof(json) - n, i < 33 ? ",%d" : "]", i);
	}
	expect("{{len (slice . 0 71)}}", json, false, "71");
	expect_error("{{slice . 0 72}}", json, false, "",
	             "index out of range: 72");
	/* sprig's uniq appends too; list makes exactly its length */
	expect("{{slice (uniq .) 0 4}}", "[1,2,3]", true, "[1 2 3 <nil>]");
	expect_error("{{slice (list 1 2) 0 3}}", "{}", true, "",
	             "error calling slice:");
}

/*
 * Go 1.23 release notes: "Templates now support the new 'else with'
 * action" (parse.go parseControl reads {{with a}}_{{else with b}}_{{end}}
 * as {{with a}}_{{else}}{{with b}}_{{end}}{{end}}).  Go 1.19 (the oracle)
 * said "unexpected <with> in else".
 */
static void
test_template__chains_else_with_as_go_1_23_does(void **state)
{
	static const char data[] = "{\"a\":0,\"b\":\"B\"}";

	(void)state;
	expect("{{with .a}}A{{else with .b}}[{{.}}]{{end}}", data, false,
	       "[B]");
	expect("{{with .a}}A{{else with .c}}C{{else with .b}}{{.}}{{end}}",
	       data, false, "B");
	expect("{{with .a}}A{{else with .c}}C{{else}}none{{end}}", data, false,
	       "none");
	/* only a with chains a with, and only an if an if */
	expect_error("{{if .a}}A{{else with .b}}{{.}}{{end}}", data, false, "",
	             "template: msg:1: unexpected <with> in input");
	expect_error("{{with .a}}A{{else if .b}}{{.}}{{end}}", data, false, "",
	             "template: msg:1: unexpected <if> in input");
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_template__renders_fields_and_text),
		cmocka_unit_test(
		        test_template__prints_json_numbers_as_go_float64),
		cmocka_unit_test(
		        test_template__ranges_over_maps_in_sorted_key_order),
		cmocka_unit_test(
		        test_template__trims_spaces_around_trim_markers),
		cmocka_unit_test(
		        test_template__supports_break_and_continue_in_range),
		cmocka_unit_test(
		        test_template__shows_missing_values_as_no_value),
		cmocka_unit_test(
		        test_template__reports_parse_errors_with_the_line),
		cmocka_unit_test(
		        test_template__treats_unknown_functions_as_parse_errors),
		cmocka_unit_test(
		        test_template__reports_execution_errors_with_line_and_column),
		cmocka_unit_test(
		        test_template__uses_sprig_functions_when_asked),
		cmocka_unit_test(test_template__stops_runaway_recursion),
		cmocka_unit_test(test_template__bounds_the_output_size),
		cmocka_unit_test(
		        test_template__bounds_the_size_of_function_results),
		cmocka_unit_test(
		        test_template__prints_structs_through_their_string_text),
		cmocka_unit_test(test_template__names_maps_by_their_go_type),
		cmocka_unit_test(
		        test_template__finds_map_values_by_string_and_struct_keys),
		cmocka_unit_test(
		        test_template__keeps_the_last_of_duplicate_json_keys),
		cmocka_unit_test(test_template__bounds_range_iterations),
		cmocka_unit_test(
		        test_template__executes_a_parsed_template_many_times),
		cmocka_unit_test(
		        test_template__reads_character_constants_past_0x7f_as_go_does),
		cmocka_unit_test(
		        test_template__prints_imaginary_and_complex_constants),
		cmocka_unit_test(
		        test_template__names_malformed_numbers_as_go_does),
		cmocka_unit_test(test_template__prints_floats_with_the_b_verb),
		cmocka_unit_test(
		        test_template__call_fails_on_values_that_are_not_functions_as_go_does),
		cmocka_unit_test(
		        test_template__ranges_over_an_integer_as_go_1_24_does),
		cmocka_unit_test(
		        test_template__range_assigns_its_variables_by_name),
		cmocka_unit_test(
		        test_template__names_the_types_that_cannot_be_compared),
		cmocka_unit_test(
		        test_template__slices_json_arrays_up_to_their_go_capacity),
		cmocka_unit_test(
		        test_template__chains_else_with_as_go_1_23_does),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
