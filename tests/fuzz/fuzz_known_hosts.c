/*
 * fuzz_known_hosts.c - feeds arbitrary known_hosts text to the host key
 * check (writeback/git.h, libssh2 underneath) and asserts, besides "no
 * crash, no leak":
 *   - the check answers 0 or -ERR_INVALID with a message, nothing else;
 *   - an entry made from the host and key (plain, or hashed as ssh-keygen
 *     -H does) matches when added before or after the text, unless the
 *     text revokes that key, and then the message says @revoked;
 *   - that entry alone refuses another key for the host as a changed key,
 *     and the same key on another port as an unknown host.
 * Input: byte 0 picks the entry's form and the key type, bytes 1-2 the
 * port, byte 3 the host name's length, then the host name (mapped onto
 * [a-zA-Z0-9.-]), 32 bytes of key material, and the known_hosts text.
 */
#define _GNU_SOURCE /* memmem */
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/util.h"
#include "writeback/git.h"

#define FUZZ_MAX_INPUT 65536
#define FUZZ_KEY_BYTES 32

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_known_hosts: invariant broken: %s\n",
		        what);
		abort();
	}
}

static const char *const key_types[] = {
	"ssh-ed25519",
	"ssh-rsa",
	"ecdsa-sha2-nistp256",
	"ecdsa-sha2-nistp384",
	"ecdsa-sha2-nistp521",
	"ssh-dss",
	"sk-ssh-ed25519@openssh.com", /* a type libssh2 1.10 does not know */
	"ssh-ed25519",
};

static void
put_string(struct buf *b, const void *p, size_t n)
{
	unsigned char len[4] = { (unsigned char)(n >> 24),
		                 (unsigned char)(n >> 16),
		                 (unsigned char)(n >> 8), (unsigned char)n };

	buf_add(b, len, 4);
	buf_add(b, p, n);
}

static int
run(const struct buf *text, const char *host, int port, const struct buf *key,
    struct err *err)
{
	int rc;

	err_clear(err);
	rc = gitrepo_known_hosts_check(text->ptr, text->len, host, port,
	                               (const unsigned char *)key->ptr,
	                               key->len, err);
	check(rc == 0 || rc == -ERR_INVALID, "result is 0 or -ERR_INVALID");
	check(rc == 0 || err->msg[0] != '\0', "a refusal has a message");
	return rc;
}

/* The known_hosts line for host:port and key, hashed when asked. */
static void
make_entry(struct buf *out, const char *host, int port, const char *type,
           const struct buf *key, int hashed, const uint8_t salt[20])
{
	struct buf name = BUF_INIT;
	unsigned char mac[EVP_MAX_MD_SIZE];
	size_t maclen = 0;

	if (port == 22)
		buf_puts(&name, host);
	else
		buf_addf(&name, "[%s]:%d", host, port);
	if (hashed) {
		/* OpenSSH hashes the lower-case name. */
		for (size_t i = 0; i < name.len; i++)
			if (name.ptr[i] >= 'A' && name.ptr[i] <= 'Z')
				name.ptr[i] = (char)(name.ptr[i] + 32);
		check(EVP_Q_mac(NULL, "HMAC", NULL, "SHA1", NULL, salt, 20,
		                (const unsigned char *)name.ptr, name.len, mac,
		                sizeof(mac), &maclen) != NULL,
		      "HMAC-SHA1");
		buf_puts(out, "|1|");
		base64_encode(out, salt, 20);
		buf_putc(out, '|');
		base64_encode(out, mac, maclen);
	} else {
		buf_add(out, name.ptr, name.len);
	}
	buf_addf(out, " %s ", type);
	base64_encode(out, key->ptr, key->len);
	buf_puts(out, " fuzz\n");
	buf_release(&name);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct buf text = BUF_INIT, key = BUF_INIT, other = BUF_INIT;
	struct buf entry = BUF_INIT, both = BUF_INIT;
	struct err err = ERR_INIT;
	char host[65];
	uint8_t material[FUZZ_KEY_BYTES] = { 0 };
	size_t hostlen, i, n;
	const char *type;
	int port, hashed, first, rc;
	static const char hostchars[] =
	        "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-";

	if (size < 4 || size > FUZZ_MAX_INPUT)
		return 0;
	hashed = data[0] & 1;
	first = (data[0] >> 1) & 1;
	type = key_types[(data[0] >> 2) %
	                 (sizeof(key_types) / sizeof(key_types[0]))];
	port = (data[1] << 8) | data[2];
	if (port == 0)
		port = 22;
	hostlen = (size_t)data[3] % 64 + 1;
	data += 4;
	size -= 4;
	for (i = 0; i < hostlen; i++)
		host[i] = hostchars[(i < size ? data[i] : i) %
		                    (sizeof(hostchars) - 1)];
	host[hostlen] = '\0';
	n = hostlen < size ? hostlen : size;
	data += n;
	size -= n;
	n = size < FUZZ_KEY_BYTES ? size : FUZZ_KEY_BYTES;
	memcpy(material, data, n);
	data += n;
	size -= n;
	buf_add(&text, data, size);

	/* The key: its type name, then key material, as an SSH blob. */
	put_string(&key, type, strlen(type));
	put_string(&key, material, sizeof(material));
	buf_add(&other, key.ptr, key.len);
	other.ptr[other.len - 1] ^= 0x5a;
	make_entry(&entry, host, port, type, &key, hashed, material);
	check(buf_ok(&text) && buf_ok(&key) && buf_ok(&other) && buf_ok(&entry),
	      "buffers");

	run(&text, host, port, &key, &err);

	if (first) {
		buf_add(&both, entry.ptr, entry.len);
		buf_add(&both, text.ptr, text.len);
	} else {
		buf_add(&both, text.ptr, text.len);
		buf_putc(&both, '\n');
		buf_add(&both, entry.ptr, entry.len);
	}
	rc = run(&both, host, port, &key, &err);
	if (rc != 0) {
		check(strstr(err.msg, "@revoked") != NULL,
		      "the key's own entry matches unless it is revoked");
		check(memmem(text.ptr, text.len, "@revoked", 8) != NULL,
		      "a revocation comes from the text");
	}

	rc = run(&entry, host, port, &other, &err);
	check(rc == -ERR_INVALID && strstr(err.msg, "does not match"),
	      "another key for a listed host is a changed key");
	rc = run(&entry, host, port == 22 ? 2222 : 22, &key, &err);
	check(rc == -ERR_INVALID && strstr(err.msg, "is not in known_hosts"),
	      "the key on another port is an unknown host");

	buf_release(&text);
	buf_release(&key);
	buf_release(&other);
	buf_release(&entry);
	buf_release(&both);
	return 0;
}
