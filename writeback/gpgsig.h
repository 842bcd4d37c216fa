/*
 * gpgsig.h - OpenPGP commit signatures through the system's gpg, for
 * Flux's signingKey type gpg (Secret keys git.asc and passphrase).
 *
 * Each signature runs gpg in a fresh temporary home directory (mode 0700)
 * into which the key is imported, and removes it afterwards (stopping the
 * gpg-agent gpg starts), so the user's own keyrings are never touched and
 * nothing of the key stays on disk after the call.
 *
 * Errors: -ERR_NOTFOUND when gpg is not installed (the message says to
 * install gnupg or use type: ssh), -ERR_INVALID when gpg refuses the key or
 * the passphrase (gpg's own message, which holds no secret).
 *
 * Thread safety: reentrant (each call has its own home directory).
 */
#ifndef FERRY_WRITEBACK_GPGSIG_H
#define FERRY_WRITEBACK_GPGSIG_H

#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/secret.h"

/*
 * Signs msg[0..len) with the ASCII-armored secret key (passphrase may be
 * NULL) and appends the armored detached signature to out.
 */
int gpgsig_sign(struct buf *out, const struct secret *armored_key,
                const struct secret *passphrase, const void *msg, size_t len,
                struct err *err);

#endif
