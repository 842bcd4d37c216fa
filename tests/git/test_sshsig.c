/*
 * Tests for writeback/sshsig: keys from ssh-keygen, signatures checked by
 * OpenSSH's own `ssh-keygen -Y verify` (the code git runs for verify-commit).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/util.h"
#include "writeback/sshsig.h"

static char tmpdir[] = "/tmp/ferry-sshsig-XXXXXX";

static int
run(const char *cmd)
{
	int rc = system(cmd);
	return rc == -1 ? -1 : WEXITSTATUS(rc);
}

static int
setup(void **state)
{
	char cmd[512];

	(void)state;
	if (mkdtemp(tmpdir) == NULL)
		return -1;
	snprintf(
	        cmd, sizeof(cmd),
	        "ssh-keygen -q -t ed25519 -N '' -C bot@example.invalid -f %s/key && "
	        "ssh-keygen -q -t ed25519 -N 'pass' -f %s/enc && "
	        "ssh-keygen -q -t ecdsa -N '' -f %s/ecdsa",
	        tmpdir, tmpdir, tmpdir);
	return run(cmd) == 0 ? 0 : -1;
}

static int
teardown(void **state)
{
	char cmd[512];

	(void)state;
	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	return run(cmd);
}

static struct sshsig_key *
load_key(const char *name, struct err *err)
{
	struct buf text = BUF_INIT;
	struct sshsig_key *key = NULL;
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	if (file_read(&text, path, err) == 0)
		sshsig_key_parse(&key, text.ptr, text.len, err);
	buf_release(&text);
	return key;
}

static void
test_sshsig__public_key_matches_ssh_keygen(void **state)
{
	struct err err = ERR_INIT;
	struct sshsig_key *key = load_key("key", &err);
	struct buf pub = BUF_INIT, want = BUF_INIT;
	char path[512];

	(void)state;
	assert_non_null(key);
	assert_int_equal(sshsig_key_public(&pub, key), 0);
	snprintf(path, sizeof(path), "%s/key.pub", tmpdir);
	assert_int_equal(file_read(&want, path, &err), 0);
	buf_putc(&pub, '\n');
	assert_string_equal(pub.ptr, want.ptr);
	buf_release(&pub);
	buf_release(&want);
	sshsig_key_free(key);
}

static void
test_sshsig__signature_verifies_with_ssh_keygen_and_tampering_fails(
        void **state)
{
	struct err err = ERR_INIT;
	struct sshsig_key *key = load_key("key", &err);
	struct buf sig = BUF_INIT, pub = BUF_INIT, signers = BUF_INIT;
	const char *msg =
	        "tree 4b825dc642cb6eb9a060e54bf8d69288fbee4904\n\nhello\n";
	char path[512], cmd[2048];

	(void)state;
	assert_non_null(key);
	assert_int_equal(sshsig_sign(&sig, key, "git", msg, strlen(msg), &err),
	                 0);
	assert_non_null(strstr(sig.ptr, "-----BEGIN SSH SIGNATURE-----\n"));
	snprintf(path, sizeof(path), "%s/msg.sig", tmpdir);
	assert_int_equal(file_write_atomic(path, sig.ptr, sig.len, 0644, &err),
	                 0);
	snprintf(path, sizeof(path), "%s/msg", tmpdir);
	assert_int_equal(file_write_atomic(path, msg, strlen(msg), 0644, &err),
	                 0);
	sshsig_key_public(&pub, key);
	buf_addf(&signers, "bot@example.invalid namespaces=\"git\" %s\n",
	         pub.ptr);
	snprintf(path, sizeof(path), "%s/allowed", tmpdir);
	assert_int_equal(
	        file_write_atomic(path, signers.ptr, signers.len, 0644, &err),
	        0);
	snprintf(
	        cmd, sizeof(cmd),
	        "ssh-keygen -Y verify -f %s/allowed -I bot@example.invalid -n git -s %s/msg.sig < %s/msg >/dev/null 2>&1",
	        tmpdir, tmpdir, tmpdir);
	assert_int_equal(run(cmd), 0);
	snprintf(
	        cmd, sizeof(cmd),
	        "printf 'tampered' | ssh-keygen -Y verify -f %s/allowed -I bot@example.invalid -n git -s %s/msg.sig >/dev/null 2>&1",
	        tmpdir, tmpdir);
	assert_int_not_equal(run(cmd), 0);
	snprintf(
	        cmd, sizeof(cmd),
	        "ssh-keygen -Y verify -f %s/allowed -I bot@example.invalid -n file -s %s/msg.sig < %s/msg >/dev/null 2>&1",
	        tmpdir, tmpdir, tmpdir);
	assert_int_not_equal(run(cmd), 0);
	buf_release(&sig);
	buf_release(&pub);
	buf_release(&signers);
	sshsig_key_free(key);
}

static void
test_sshsig__encrypted_key_is_refused_with_advice(void **state)
{
	struct err err = ERR_INIT;
	struct sshsig_key *key = load_key("enc", &err);

	(void)state;
	assert_null(key);
	assert_int_equal(err.code, ERR_INVALID);
	assert_non_null(strstr(err.msg, "ssh-keygen -p"));
}

static void
test_sshsig__non_ed25519_key_is_refused(void **state)
{
	struct err err = ERR_INIT;
	struct sshsig_key *key = load_key("ecdsa", &err);

	(void)state;
	assert_null(key);
	assert_non_null(strstr(err.msg, "only ed25519"));
}

static void
test_sshsig__garbage_is_refused_without_crashing(void **state)
{
	struct err err = ERR_INIT;
	struct sshsig_key *key = NULL;
	const char *junk =
	        "-----BEGIN OPENSSH PRIVATE KEY-----\nb3BlbnNzaC1rZXktdjEAAAAABG5vbmU=\n-----END OPENSSH PRIVATE KEY-----\n";

	(void)state;
	assert_int_equal(sshsig_key_parse(&key, junk, strlen(junk), &err),
	                 -ERR_INVALID);
	assert_int_equal(sshsig_key_parse(&key, "x", 1, &err), -ERR_INVALID);
	assert_null(key);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sshsig__public_key_matches_ssh_keygen),
		cmocka_unit_test(
		        test_sshsig__signature_verifies_with_ssh_keygen_and_tampering_fails),
		cmocka_unit_test(
		        test_sshsig__encrypted_key_is_refused_with_advice),
		cmocka_unit_test(test_sshsig__non_ed25519_key_is_refused),
		cmocka_unit_test(
		        test_sshsig__garbage_is_refused_without_crashing),
	};
	return cmocka_run_group_tests(tests, setup, teardown);
}
