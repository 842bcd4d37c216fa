/*
 * Fuzz target: token server replies (auth_token_parse in scanner/auth.h).
 * Invariants: a parsed token is non-empty and within AUTH_MAX_TOKEN, and
 * it lives at least AUTH_MIN_EXPIRES seconds from an issue time that is
 * never more than 5 minutes ahead of now nor a day behind it, whatever the
 * reply says.
 */
#include <stdint.h>

#include "scanner/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define NOW ((time_t)1700000000)

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_token t = AUTH_TOKEN_INIT;
	struct err e = ERR_INIT;

	if (auth_token_parse(&t, (const char *)data, size, NOW, &e) < 0) {
		if (t.token.len != 0 || t.refresh.len != 0)
			__builtin_trap();
		return 0;
	}
	if (t.token.len == 0 || t.token.len > AUTH_MAX_TOKEN)
		__builtin_trap();
	if (t.expires_at < NOW - 86400 + AUTH_MIN_EXPIRES ||
	    t.expires_at > NOW + 300 + (time_t)1000000000)
		__builtin_trap();
	auth_token_release(&t);
	return 0;
}
