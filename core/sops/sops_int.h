/*
 * sops_int.h - private to core/sops: the key set, and the pieces the
 * document decryption (sops.c) takes from age.c and pgp.c.
 *
 * Thread safety: as sops.h.
 */
#ifndef FERRY_CORE_SOPS_INT_H
#define FERRY_CORE_SOPS_INT_H

#include <stddef.h>

#include "base/secret.h"
#include "sops/sops.h"

#define SOPS_X25519_BYTES 32

struct sops_age_identity {
	unsigned char secret[SOPS_X25519_BYTES];
	unsigned char recipient[SOPS_X25519_BYTES]; /* its public half */
};

struct sops_keys {
	struct sops_age_identity *age;
	size_t nage, cap_age;
	struct secret *pgp; /* armored secret keys */
	size_t npgp, cap_pgp;
};

/* HKDF-SHA256 (RFC 5869) of ikm with salt and info into out[0..outlen).
 * -ERR_INTERNAL when libcrypto fails. */
int sops_hkdf_sha256(unsigned char *out, size_t outlen,
                     const unsigned char *ikm, size_t ikmlen,
                     const unsigned char *salt, size_t saltlen,
                     const char *info, struct err *err);

/*
 * Decrypts each armored PGP message of msgs[0..n) with the PGP keys of
 * keys, in one gpg home: the first that gpg decrypts is appended to out
 * and *which_out set to its index.  -ERR_AUTH when none decrypts,
 * -ERR_NOTFOUND without gpg, -ERR_INVALID when gpg refuses the keys.
 */
int sops_pgp_decrypt(struct buf *out, size_t *which_out,
                     const char *const *msgs, const size_t *lens, size_t n,
                     const struct sops_keys *keys, struct err *err);

#endif
