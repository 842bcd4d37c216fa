/*
 * Fuzz target: a render's manifests (core/reconcile/reconcile.h), with
 * post-build substitution.  Invariant: what parses once parses again,
 * joined and without substitution, into the same objects (the digest of
 * names and texts), and every file name is KIND[_NS]_NAME.yaml without a
 * path separator.
 */
#include <stdint.h>
#include <string.h>

#include "reconcile/reconcile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char *keys[] = { "TAG", "EMPTY", "cluster" };
	static char *values[] = { "1.2.3", "", "prod-${TAG}" };
	struct config_strmap vars = { keys, values, 3 };
	struct reconcile_manifests m, again;
	struct buf joined = BUF_INIT;
	struct err e = ERR_INIT;

	if (reconcile_manifests_parse(&m, (const char *)data, size, &vars, &e) <
	    0)
		return 0;
	for (size_t i = 0; i < m.n; i++)
		if (strchr(m.v[i].file, '/') || m.v[i].file[0] == '.' ||
		    strlen(m.v[i].file) < 6)
			__builtin_trap();
	if (reconcile_manifests_join(&joined, &m) < 0)
		__builtin_trap();
	if (reconcile_manifests_parse(&again, joined.ptr, joined.len, NULL,
	                              &e) < 0 ||
	    again.n != m.n || strcmp(again.digest, m.digest) != 0)
		__builtin_trap();
	reconcile_manifests_release(&again);
	reconcile_manifests_release(&m);
	buf_release(&joined);
	return 0;
}
