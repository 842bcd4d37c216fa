/*
 * Fuzz target: Docker config.json documents (auth_dockerconfig_lookup in
 * scanner/auth.h), looked up for Docker Hub, a registry host and a host
 * with a port.  Invariants: a success names either a credential helper
 * (its name plain enough to become part of a program name, no credentials
 * beside it) or credentials, never both nor neither; a failure returns
 * nothing.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "scanner/auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char *const domains[] = { "docker.io", "ghcr.io",
	                               "localhost:5000" };

static bool
plain_name(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '-' || *s == '_' ||
		      *s == '.'))
			return false;
	return true;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	for (size_t d = 0; d < sizeof(domains) / sizeof(domains[0]); d++) {
		struct auth_cred c = AUTH_CRED_INIT;
		struct err e = ERR_INIT;
		char *helper = NULL;
		int rc = auth_dockerconfig_lookup(
		        &c, &helper, (const char *)data, size, domains[d], &e);

		if (rc < 0) {
			if (helper != NULL || !auth_cred_empty(&c))
				__builtin_trap();
			continue;
		}
		if ((helper != NULL) == !auth_cred_empty(&c))
			__builtin_trap();
		if (helper != NULL && !plain_name(helper))
			__builtin_trap();
		if (c.username != NULL && c.username[0] == '\0' &&
		    c.password.len > 0)
			__builtin_trap();
		free(helper);
		auth_cred_release(&c);
	}
	return 0;
}
