/*
 * sops.h - decrypts files encrypted by SOPS (getsops/sops), as `sops -d`
 * and Flux's kustomize-controller do: YAML or JSON documents whose
 * top-level "sops" mapping holds the metadata, with values written as
 * ENC[AES256_GCM,data:...,iv:...,tag:...,type:...].
 *
 * The data key (32 bytes) is unwrapped from an age X25519 recipient with
 * the age identities given (age-encryption.org/v1: X25519, HKDF-SHA256,
 * ChaCha20-Poly1305, the header MAC and the STREAM payload), or from a
 * PGP recipient by the system's gpg with the armored secret keys given,
 * imported into a throw-away home.  Each value is decrypted with
 * AES-256-GCM and its path ("data:password:") as additional data; the
 * file's MAC (SHA-512 over the values, encrypted with lastmodified as
 * additional data) is checked.  The encryption rules of the metadata
 * (unencrypted_suffix, encrypted_regex, ... ) are followed; comments are
 * decrypted when they can be, and kept as they are otherwise, as sops
 * does.  KMS, Vault and other cloud recipients are not used, and key
 * groups split with Shamir are refused.
 *
 * The result is the input with each encrypted value replaced by its
 * plaintext (a string in double quotes when it would not read back as
 * the same string plain) and the "sops" mapping removed: every other byte
 * is kept, where sops re-emits the whole file.  A multi-line value is
 * written on one line with \n escapes, so that the lines of everything
 * else stay where they were; with SOPS_KEEP_LINES the removed metadata
 * leaves its empty lines behind too, so positions in the result are
 * those of the input.
 *
 * Errors name the file and, for a value, its position and path:
 * -ERR_AUTH when no key given decrypts the data key (the message lists
 * the recipients of the file and the keys tried, public halves only),
 * -ERR_INVALID for a value that does not decrypt or a MAC that does not
 * match (tampering), a file that is not SOPS or not well formed,
 * -ERR_NOTFOUND when gpg is needed and not installed, -ERR_NOMEM.
 * Key material and plaintext never appear in messages.
 *
 * Ownership: sops_keys owns copies of the identities it was given and
 * wipes them in sops_keys_free(); the caller owns out and should wipe it
 * (secret_wipe) before releasing it.
 *
 * Thread safety: a sops_keys may be read by several threads at once once
 * filled; sops_decrypt() is reentrant (each PGP use has its own gpg home).
 */
#ifndef FERRY_CORE_SOPS_H
#define FERRY_CORE_SOPS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define SOPS_MAX_FILE ((size_t)16 << 20) /* a file sops_decrypt() reads */
#define SOPS_MAX_DEPTH 64                /* YAML nesting */
#define SOPS_MAX_NODES 1000000           /* YAML nodes in one file */
#define SOPS_MAX_AGE_IDENTITIES 256      /* per sops_keys */
#define SOPS_MAX_PGP_KEYS 64             /* per sops_keys */

struct sops_keys;

/* An empty key set.  -ERR_NOMEM. */
int sops_keys_new(struct sops_keys **out);

/* Wipes and frees the keys.  NULL is a no-op. */
void sops_keys_free(struct sops_keys *keys);

/*
 * Adds the identities of an age identity file: one AGE-SECRET-KEY-1...
 * per line, blank lines and '#' comments allowed (what age-keygen writes,
 * what Flux reads from a *.agekey key of its decryption Secret).  source
 * names where the text came from, for messages.  -ERR_INVALID (the line,
 * never its text) for a line that is not an X25519 identity (plugin and
 * post-quantum identities included), or past SOPS_MAX_AGE_IDENTITIES.
 */
int sops_keys_add_age(struct sops_keys *keys, const char *text, size_t len,
                      const char *source, struct err *err);

/*
 * Adds an ASCII-armored OpenPGP secret key (Flux's *.asc keys).  It is
 * only checked by gpg when a file needs it.  -ERR_INVALID when it is not
 * armored, or past SOPS_MAX_PGP_KEYS.
 */
int sops_keys_add_pgp(struct sops_keys *keys, const char *armored, size_t len,
                      const char *source, struct err *err);

/*
 * Reads a key file into keys: with pgp, one armored secret key; without,
 * an age identity file.  -ERR_NOTFOUND when it cannot be read (errno's
 * message), otherwise as the two functions above.
 */
int sops_keys_add_file(struct sops_keys *keys, const char *path, bool pgp,
                       struct err *err);

/* How many age identities and PGP keys the set holds. */
size_t sops_keys_age_count(const struct sops_keys *keys);
size_t sops_keys_pgp_count(const struct sops_keys *keys);

/*
 * Appends the recipient (age1...) of the index'th age identity to out,
 * for messages.  -ERR_NOTFOUND past the end.
 */
int sops_keys_age_recipient(struct buf *out, const struct sops_keys *keys,
                            size_t index);

#define SOPS_KEEP_LINES 1u /* the removed metadata leaves empty lines */

/*
 * Decrypts the SOPS file data[0..len) (name for messages) with keys and
 * appends the plaintext document(s) to out (see above).  flags:
 * SOPS_KEEP_LINES.  Errors as above; out holds nothing new after one.
 */
int sops_decrypt(struct buf *out, const char *data, size_t len,
                 const char *name, const struct sops_keys *keys, unsigned flags,
                 struct err *err);

/*
 * Decrypts one age file (binary, or armored as "-----BEGIN AGE ENCRYPTED
 * FILE-----") with the age identities of keys and appends its plaintext
 * to out: what sops_decrypt() does for the data key of an age recipient.
 * -ERR_AUTH when no identity matches a recipient stanza, -ERR_INVALID for
 * a malformed or tampered file (header MAC, payload), -ERR_NOMEM.
 */
int sops_age_decrypt(struct buf *out, const char *data, size_t len,
                     const struct sops_keys *keys, struct err *err);

#endif
