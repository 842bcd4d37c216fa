/* Fuzz target: WWW-Authenticate challenge parsing (scanner/auth.h). */
#include <stdint.h>

#include "scanner/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct auth_challenge c;
	struct err e = ERR_INIT;

	if (auth_challenge_parse(&c, (const char *)data, size, &e) == 0)
		auth_challenge_release(&c);
	return 0;
}
