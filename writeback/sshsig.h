/*
 * sshsig.h - SSH signatures (the SSHSIG format of OpenSSH's PROTOCOL.sshsig)
 * with ed25519 keys, as `git commit -S` writes them with gpg.format=ssh.
 *
 * A key comes from an OpenSSH private key file ("-----BEGIN OPENSSH PRIVATE
 * KEY-----"), the `identity` of Flux's signingKey Secret.  Only unencrypted
 * ed25519 keys are supported: an encrypted key (cipher other than "none")
 * fails with ERR_INVALID and a message saying how to remove the passphrase,
 * because OpenSSH's bcrypt KDF is in none of our libraries.
 *
 * The signed message is the commit object without its gpgsig header; the
 * signature is over the SSHSIG envelope (namespace "git", hash sha512), so
 * `git verify-commit` with an allowed-signers file accepts it.
 *
 * Ownership: a struct sshsig_key owns its secret bytes (wiped on free).
 * Thread safety: a key may be used by one thread at a time.
 */
#ifndef FERRY_WRITEBACK_SSHSIG_H
#define FERRY_WRITEBACK_SSHSIG_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

struct sshsig_key;

/*
 * Parses an OpenSSH private key (PEM-like armor, base64 body) into *out.
 * -ERR_INVALID when it is not an unencrypted ed25519 OpenSSH key.
 */
int sshsig_key_parse(struct sshsig_key **out, const char *text, size_t len,
                     struct err *err);

/* Wipes and frees the key; NULL is a no-op. */
void sshsig_key_free(struct sshsig_key *key);

/*
 * Appends the public key in authorized_keys form ("ssh-ed25519 AAAA...
 * [comment]") to out.
 */
int sshsig_key_public(struct buf *out, const struct sshsig_key *key);

/*
 * Signs msg[0..len) under namespace ns (git uses "git") and appends the
 * armored signature ("-----BEGIN SSH SIGNATURE-----" ... "-----END SSH
 * SIGNATURE-----\n") to out.
 */
int sshsig_sign(struct buf *out, const struct sshsig_key *key, const char *ns,
                const void *msg, size_t len, struct err *err);

#endif
