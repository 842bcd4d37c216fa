/*
 * test_sops.c - core/sops against files the real sops wrote (the sops
 * project's own fixtures and test keys) and files made with Debian's age
 * and gpg (fixtures/made/, see make_fixtures.py): the data key from age
 * and PGP recipients, every value type, comments, JSON, the MAC, and the
 * errors for a wrong key and for tampering.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/util.h"
#include "sops/sops.h"

static void
fixture(struct buf *out, const char *rel)
{
	const char *root = getenv("FERRY_SOURCE_ROOT");
	struct buf path = BUF_INIT;
	struct err e = ERR_INIT;

	assert_non_null(root);
	buf_addf(&path, "%s/tests/sops/fixtures/%s", root, rel);
	buf_reset(out);
	if (file_read(out, path.ptr, &e) < 0)
		fail_msg("%s", e.msg);
	buf_release(&path);
}

static struct sops_keys *
keys_from(const char *age_rel, const char *pgp_rel)
{
	struct sops_keys *k = NULL;
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;

	assert_int_equal(sops_keys_new(&k), 0);
	if (age_rel) {
		fixture(&text, age_rel);
		if (sops_keys_add_age(k, text.ptr, text.len, age_rel, &e) < 0)
			fail_msg("%s", e.msg);
	}
	if (pgp_rel) {
		fixture(&text, pgp_rel);
		if (sops_keys_add_pgp(k, text.ptr, text.len, pgp_rel, &e) < 0)
			fail_msg("%s", e.msg);
	}
	buf_release(&text);
	return k;
}

/* Decrypts fixture rel; its result or the error in *err. */
static int
decrypt(struct buf *out, const char *rel, const struct sops_keys *k,
        unsigned flags, struct err *err)
{
	struct buf in = BUF_INIT;
	int rc;

	fixture(&in, rel);
	buf_reset(out);
	rc = sops_decrypt(out, in.ptr, in.len, rel, k, flags, err);
	buf_release(&in);
	return rc;
}

static void
assert_decrypts_to(const char *rel, const char *want_rel,
                   const struct sops_keys *k)
{
	struct buf out = BUF_INIT, want = BUF_INIT;
	struct err e = ERR_INIT;

	if (decrypt(&out, rel, k, 0, &e) < 0)
		fail_msg("%s: %s", rel, e.msg);
	fixture(&want, want_rel);
	assert_string_equal(out.ptr, want.ptr);
	buf_release(&out);
	buf_release(&want);
}

/* ---- the sops project's files ---- */

static void
test_sops__decrypts_the_sops_projects_files_with_its_pgp_test_key(void **state)
{
	struct sops_keys *k =
	        keys_from(NULL, "sops-project/sops_functional_tests_key.asc");
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	cJSON *doc = NULL;

	(void)state;
	/* every value decrypts and the MAC sops wrote matches ours */
	if (decrypt(&out, "sops-project/example.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_non_null(strstr(out.ptr, "myapp1: t00m4nys3cr3tzupdated\n"));
	assert_non_null(strstr(out.ptr, "        password: c4r1b0u\n"));
	assert_non_null(strstr(
	        out.ptr,
	        "        # private key for secret operations in app2\n"));
	assert_non_null(strstr(out.ptr, "    - true\n    - false\n"));
	assert_null(strstr(out.ptr, "ENC["));
	assert_null(strstr(out.ptr, "sops:"));
	assert_null(strstr(out.ptr, "lastmodified"));
	/* JSON stays JSON */
	if (decrypt(&out, "sops-project/example.json", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(json_parse(&doc, out.ptr, out.len, "out", &e), 0);
	assert_string_equal(json_get_string(doc, "firstName"), "John");
	assert_true(cJSON_GetObjectItemCaseSensitive(doc, "age")->valuedouble ==
	            25.4);
	assert_null(cJSON_GetObjectItemCaseSensitive(doc, "sops"));
	cJSON_Delete(doc);
	doc = NULL;
	if (decrypt(&out, "sops-project/format.enc.json", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(json_parse(&doc, out.ptr, out.len, "out", &e), 0);
	assert_string_equal(json_get_string(doc, "foo"), "bar");
	cJSON_Delete(doc);
	if (decrypt(&out, "sops-project/format.enc.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(out.ptr, "foo: bar\n");
	if (decrypt(&out, "sops-project/multiple_keys.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	buf_release(&out);
	sops_keys_free(k);
}

static void
test_sops__decrypts_comments_as_the_sops_project_expects(void **state)
{
	struct sops_keys *k =
	        keys_from(NULL, "sops-project/sops_functional_tests_key.asc");
	struct buf out = BUF_INIT, want = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	if (decrypt(&out, "sops-project/comments.enc.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	fixture(&want, "sops-project/comments.yaml");
	/* the project's plain file lacks the final newline */
	buf_putc(&want, '\n');
	assert_string_equal(out.ptr, want.ptr);
	buf_release(&out);
	buf_release(&want);
	sops_keys_free(k);
}

static void
test_sops__decrypts_the_age_data_key_of_the_sops_projects_test(void **state)
{
	struct sops_keys *k =
	        keys_from("sops-project/age-mock-identity.txt", NULL);
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	fixture(&in, "sops-project/age-mock-encrypted-key.txt");
	if (sops_age_decrypt(&out, in.ptr, in.len, k, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(out.len, 4);
	assert_memory_equal(out.ptr, "data", 4);
	/* the recipient sops' test names for that identity */
	buf_reset(&out);
	assert_int_equal(sops_keys_age_recipient(&out, k, 0), 0);
	assert_string_equal(out.ptr, "age1lzd99uklcjnc0e7d860axevet2cz99ce9pq6"
	                             "tzuzd05l5nr28ams36nvun");
	buf_release(&in);
	buf_release(&out);
	sops_keys_free(k);
}

/* ---- files made with Debian's age and gpg ---- */

static void
test_sops__decrypts_a_flux_secret_whose_data_key_age_wrapped(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);

	(void)state;
	assert_decrypts_to("made/age-secret.enc.yaml", "made/age-secret.yaml",
	                   k);
	sops_keys_free(k);
}

static void
test_sops__decrypts_a_flux_secret_whose_data_key_gpg_wrapped(void **state)
{
	struct sops_keys *k = keys_from(NULL, "made/pgp.asc");

	(void)state;
	assert_decrypts_to("made/pgp-secret.enc.yaml", "made/pgp-secret.yaml",
	                   k);
	sops_keys_free(k);
}

static void
test_sops__decrypts_every_value_type_nesting_lists_and_comments(void **state)
{
	struct sops_keys *age = keys_from("made/age.agekey", NULL);
	struct sops_keys *pgp = keys_from(NULL, "made/pgp.asc");

	(void)state;
	/* recipients of both kinds: either key opens it */
	assert_decrypts_to("made/types.enc.yaml", "made/types.yaml", age);
	assert_decrypts_to("made/types.enc.yaml", "made/types.yaml", pgp);
	assert_decrypts_to("made/db.enc.json", "made/db.json", age);
	sops_keys_free(age);
	sops_keys_free(pgp);
}

static void
test_sops__checks_a_mac_over_encrypted_values_only_when_the_file_says(
        void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;
	char *p;

	(void)state;
	if (decrypt(&out, "made/mac-only.enc.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_non_null(strstr(out.ptr, "    token: dG9rZW4=\n"));
	/* a clear value may change then: it is not in the MAC */
	fixture(&in, "made/mac-only.enc.yaml");
	p = strstr(in.ptr, "name: api");
	p[8] = 'x';
	buf_reset(&out);
	assert_int_equal(sops_decrypt(&out, in.ptr, in.len, "f.yaml", k, 0, &e),
	                 0);
	buf_release(&in);
	buf_release(&out);
	sops_keys_free(k);
}

static void
test_sops__decrypts_two_documents_under_one_mac(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;

	(void)state;
	if (decrypt(&out, "made/two-docs.enc.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_string_equal(out.ptr, "apiVersion: v1\nkind: Secret\nmetadata:\n"
	                             "    name: one\nstringData:\n"
	                             "    a: alpha\n---\napiVersion: v1\n"
	                             "kind: Secret\nmetadata:\n    name: two\n"
	                             "stringData:\n    b: beta\n");
	buf_release(&out);
	sops_keys_free(k);
}

static void
test_sops__keeps_every_line_in_place_when_asked(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;
	size_t lin = 0, lout = 0;

	(void)state;
	fixture(&in, "made/two-docs.enc.yaml");
	if (decrypt(&out, "made/two-docs.enc.yaml", k, SOPS_KEEP_LINES, &e) < 0)
		fail_msg("%s", e.msg);
	for (size_t i = 0; i < in.len; i++)
		lin += in.ptr[i] == '\n';
	for (size_t i = 0; i < out.len; i++)
		lout += out.ptr[i] == '\n';
	assert_int_equal(lin, lout);
	/* the second document starts on the same line as before */
	assert_int_equal(strstr(out.ptr, "name: two") - out.ptr > 0, 1);
	{
		size_t a = 0, b = 0;
		for (const char *p = in.ptr; p < strstr(in.ptr, "name: two");
		     p++)
			a += *p == '\n';
		for (const char *p = out.ptr; p < strstr(out.ptr, "name: two");
		     p++)
			b += *p == '\n';
		assert_int_equal(a, b);
	}
	buf_release(&in);
	buf_release(&out);
	sops_keys_free(k);
}

static void
test_sops__splices_by_bytes_where_libyaml_counts_characters(void **state)
{
	struct sops_keys *k =
	        keys_from("sops-project/age-mock-identity.txt", NULL);
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	cJSON *doc = NULL;

	(void)state;
	/* non-ASCII keys and a comment before the values: every position
	 * libyaml gives is a character index, not a byte offset */
	if (decrypt(&out, "made-mock/utf8.enc.json", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_int_equal(json_parse(&doc, out.ptr, out.len, "out", &e), 0);
	assert_string_equal(json_get_string(doc, "a"), "b");
	assert_null(cJSON_GetObjectItemCaseSensitive(doc, "sops"));
	cJSON_Delete(doc);
	if (decrypt(&out, "made-mock/utf8.enc.yaml", k, 0, &e) < 0)
		fail_msg("%s", e.msg);
	assert_non_null(strstr(out.ptr, "naïve: null\napiVersion: v1\n"));
	assert_non_null(strstr(out.ptr, "    a: alpha\n    n: 12\n"));
	assert_non_null(strstr(out.ptr, "        - item\n        # note\n"));
	assert_null(strstr(out.ptr, "sops:"));
	buf_release(&out);
	sops_keys_free(k);
}

/* ---- wrong keys and tampering ---- */

static void
test_sops__says_which_recipients_a_wrong_key_misses(void **state)
{
	struct sops_keys *k = keys_from("made/other.agekey", NULL);
	struct buf out = BUF_INIT, in = BUF_INIT, mine = BUF_INIT;
	struct err e = ERR_INIT;
	const char *r;

	(void)state;
	assert_int_equal(decrypt(&out, "made/age-secret.enc.yaml", k, 0, &e),
	                 -ERR_AUTH);
	fixture(&in, "made/age-secret.enc.yaml");
	r = strstr(in.ptr, "recipient: ") + 11;
	assert_non_null(strstr(e.msg, "made/age-secret.enc.yaml: no key given "
	                              "decrypts its data key"));
	assert_non_null(strstr(e.msg, "age age1"));
	assert_non_null(strstr(e.msg, "tried 1 age identity ("));
	/* the file's recipient and ours are named: public halves only */
	assert_int_equal(strncmp(strstr(e.msg, "age age1") + 4, r, 62), 0);
	assert_int_equal(sops_keys_age_recipient(&mine, k, 0), 0);
	assert_non_null(strstr(e.msg, mine.ptr));
	assert_null(strstr(e.msg, "AGE-SECRET-KEY"));
	assert_int_equal(out.len, 0);
	/* no key at all */
	sops_keys_free(k);
	assert_int_equal(sops_keys_new(&k), 0);
	assert_int_equal(decrypt(&out, "made/pgp-secret.enc.yaml", k, 0, &e),
	                 -ERR_AUTH);
	assert_non_null(strstr(e.msg, "PGP "));
	assert_non_null(strstr(e.msg, "tried 0 age identities and 0 PGP keys"));
	buf_release(&in);
	buf_release(&out);
	buf_release(&mine);
	sops_keys_free(k);
}

static void
test_sops__names_the_file_line_and_path_of_a_tampered_value(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;
	char *p;

	(void)state;
	fixture(&in, "made/age-secret.enc.yaml");
	p = strstr(strstr(in.ptr, "password: ENC["), "data:") + 5;
	*p = *p == 'A' ? 'B' : 'A';
	assert_int_equal(
	        sops_decrypt(&out, in.ptr, in.len, "secret.yaml", k, 0, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "secret.yaml:9:15: stringData.password: "
	                              "the value does not decrypt"));
	assert_int_equal(out.len, 0);
	buf_release(&in);
	buf_release(&out);
	sops_keys_free(k);
}

static void
test_sops__refuses_a_file_changed_outside_its_encrypted_values(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf in = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;
	char *p;

	(void)state;
	/* a clear value: the MAC covers it */
	fixture(&in, "made/age-secret.enc.yaml");
	p = strstr(in.ptr, "name: git-auth") + 6;
	*p = 'G';
	assert_int_equal(sops_decrypt(&out, in.ptr, in.len, "s.yaml", k, 0, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "s.yaml: the MAC does not match"));
	/* two values swapped: each still decrypts?  No: the path is part
	 * of the value, so the swap is caught at the value */
	fixture(&in, "made/two-docs.enc.yaml");
	p = strstr(in.ptr, "    a: ENC[");
	memcpy(p, "    b", 5);
	assert_int_equal(sops_decrypt(&out, in.ptr, in.len, "t.yaml", k, 0, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg,
	                       "t.yaml:6:8: stringData.b: the value does "
	                       "not decrypt"));
	/* an encrypted value replaced by a clear one */
	fixture(&in, "made/types.enc.yaml");
	p = strstr(in.ptr, "name: ENC[");
	memcpy(p, "name: plain  ", 13);
	assert_int_equal(sops_decrypt(&out, in.ptr, in.len, "u.yaml", k, 0, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "u.yaml:2:7: name: not an encrypted "
	                              "value"));
	buf_release(&in);
	buf_release(&out);
	sops_keys_free(k);
}

static void
test_sops__refuses_a_tampered_age_file(void **state)
{
	struct sops_keys *k =
	        keys_from("sops-project/age-mock-identity.txt", NULL);
	struct buf in = BUF_INIT, bin = BUF_INIT, out = BUF_INIT;
	struct err e = ERR_INIT;
	const char *b = NULL;
	size_t n = 0;
	char saved;

	(void)state;
	fixture(&in, "sops-project/age-mock-encrypted-key.txt");
	/* de-armor by hand, then flip a byte of the header MAC and one of
	 * the payload */
	{
		struct buf b64 = BUF_INIT;
		const char *p = strchr(in.ptr, '\n') + 1;
		const char *end = strstr(p, "-----END");

		for (; p < end; p++)
			if (*p != '\n')
				buf_putc(&b64, *p);
		assert_int_equal(base64_decode(&bin, b64.ptr, b64.len, &e), 0);
		buf_release(&b64);
	}
	assert_int_equal(sops_age_decrypt(&out, bin.ptr, bin.len, k, &e), 0);
	b = strstr(bin.ptr, "\n--- ");
	assert_non_null(b);
	n = (size_t)(b - bin.ptr) + 5;
	saved = bin.ptr[n];
	bin.ptr[n] = saved == 'A' ? 'B' : 'A';
	buf_reset(&out);
	assert_int_equal(sops_age_decrypt(&out, bin.ptr, bin.len, k, &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "header MAC"));
	bin.ptr[n] = saved;
	bin.ptr[bin.len - 1] ^= 1;
	assert_int_equal(sops_age_decrypt(&out, bin.ptr, bin.len, k, &e),
	                 -ERR_INVALID);
	if (strstr(e.msg, "payload does not decrypt") == NULL)
		fail_msg("%s", e.msg);
	buf_release(&in);
	buf_release(&bin);
	buf_release(&out);
	sops_keys_free(k);
}

/* ---- identities and files that are not SOPS ---- */

static void
test_sops__reads_identity_files_and_names_a_bad_line_without_its_text(
        void **state)
{
	struct sops_keys *k = NULL;
	struct buf text = BUF_INIT;
	struct err e = ERR_INIT;
	char *p;

	(void)state;
	assert_int_equal(sops_keys_new(&k), 0);
	fixture(&text, "made/age.agekey");
	/* age-keygen's file: comments, then the identity; CRLF is fine */
	assert_int_equal(sops_keys_add_age(k, text.ptr, text.len, "a", &e), 0);
	buf_puts(&text, "\r\n# another\r\n\r\n");
	assert_int_equal(sops_keys_add_age(k, text.ptr, text.len, "b", &e), 0);
	assert_int_equal(sops_keys_age_count(k), 2);
	/* a damaged identity: the checksum catches it, the line is named */
	p = strstr(text.ptr, "AGE-SECRET-KEY-1") + 20;
	*p = *p == 'Q' ? 'P' : 'Q';
	assert_int_equal(sops_keys_add_age(k, text.ptr, text.len, "c", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "c:3: not an age identity"));
	assert_null(strstr(e.msg, "AGE-SECRET-KEY-1"));
	assert_int_equal(sops_keys_add_age(k, "AGE-PLUGIN-YUBIKEY-1QQQQQQ\n",
	                                   27, "d", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "d:1: an age plugin identity"));
	assert_int_equal(sops_keys_add_age(k, "# nothing\n", 10, "e", &e),
	                 -ERR_INVALID);
	assert_non_null(strstr(e.msg, "e: no age identity"));
	assert_int_equal(sops_keys_add_pgp(k, "not armored", 11, "f", &e),
	                 -ERR_INVALID);
	buf_release(&text);
	sops_keys_free(k);
}

static void
test_sops__derives_the_recipient_age_keygen_printed(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf text = BUF_INIT, r = BUF_INIT;
	const char *pub;

	(void)state;
	fixture(&text, "made/age.agekey");
	pub = strstr(text.ptr, "# public key: ") + 14;
	assert_int_equal(sops_keys_age_recipient(&r, k, 0), 0);
	assert_int_equal(strncmp(pub, r.ptr, r.len), 0);
	assert_int_equal(pub[r.len], '\n');
	buf_release(&text);
	buf_release(&r);
	sops_keys_free(k);
}

static void
test_sops__refuses_files_that_are_not_sops(void **state)
{
	struct sops_keys *k = keys_from("made/age.agekey", NULL);
	struct buf out = BUF_INIT;
	struct err e = ERR_INIT;
	const char plain[] = "apiVersion: v1\nkind: Secret\n";
	const char alias[] = "a: &x [1]\nb: *x\nsops: {mac: m, lastmodified: "
	                     "t}\n";
	const char seq[] = "- a\n- b\n";

	(void)state;
	assert_int_equal(
	        sops_decrypt(&out, plain, strlen(plain), "p.yaml", k, 0, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "p.yaml: not a SOPS file"));
	assert_int_equal(
	        sops_decrypt(&out, alias, strlen(alias), "a.yaml", k, 0, &e),
	        -ERR_INVALID);
	assert_non_null(strstr(e.msg, "a.yaml:2:4: a YAML alias"));
	assert_int_equal(
	        sops_decrypt(&out, seq, strlen(seq), "s.yaml", k, 0, &e),
	        -ERR_INVALID);
	assert_int_equal(sops_decrypt(&out, "", 0, "e.yaml", k, 0, &e),
	                 -ERR_INVALID);
	assert_int_equal(out.len, 0);
	buf_release(&out);
	sops_keys_free(k);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(
		        test_sops__decrypts_the_sops_projects_files_with_its_pgp_test_key),
		cmocka_unit_test(
		        test_sops__decrypts_comments_as_the_sops_project_expects),
		cmocka_unit_test(
		        test_sops__decrypts_the_age_data_key_of_the_sops_projects_test),
		cmocka_unit_test(
		        test_sops__decrypts_a_flux_secret_whose_data_key_age_wrapped),
		cmocka_unit_test(
		        test_sops__decrypts_a_flux_secret_whose_data_key_gpg_wrapped),
		cmocka_unit_test(
		        test_sops__decrypts_every_value_type_nesting_lists_and_comments),
		cmocka_unit_test(
		        test_sops__checks_a_mac_over_encrypted_values_only_when_the_file_says),
		cmocka_unit_test(
		        test_sops__decrypts_two_documents_under_one_mac),
		cmocka_unit_test(
		        test_sops__keeps_every_line_in_place_when_asked),
		cmocka_unit_test(
		        test_sops__splices_by_bytes_where_libyaml_counts_characters),
		cmocka_unit_test(
		        test_sops__says_which_recipients_a_wrong_key_misses),
		cmocka_unit_test(
		        test_sops__names_the_file_line_and_path_of_a_tampered_value),
		cmocka_unit_test(
		        test_sops__refuses_a_file_changed_outside_its_encrypted_values),
		cmocka_unit_test(test_sops__refuses_a_tampered_age_file),
		cmocka_unit_test(
		        test_sops__reads_identity_files_and_names_a_bad_line_without_its_text),
		cmocka_unit_test(
		        test_sops__derives_the_recipient_age_keygen_printed),
		cmocka_unit_test(test_sops__refuses_files_that_are_not_sops),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
