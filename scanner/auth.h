/*
 * auth.h - registry authentication: WWW-Authenticate challenges, token
 * responses, a token cache, and credentials from Docker config.json files
 * (or a dockerconfigjson Secret, which has the same shape) and credential
 * helpers.
 *
 * Nothing here does network I/O: registry.c sends the requests.  The one
 * side effect is auth_helper_get(), which runs docker-credential-<name>.
 *
 * Invariants: a struct auth_cred holds either nothing (anonymous), a
 * username with a password (Basic, and Basic on the token request), an
 * identity token (an OAuth2 refresh token: POST grant_type=refresh_token)
 * or a registry token (sent as Bearer as is).
 *
 * Thread safety: the parsers are reentrant; an auth_cache belongs to one
 * thread at a time.
 */
#ifndef FERRY_SCANNER_AUTH_H
#define FERRY_SCANNER_AUTH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/secret.h"

#define AUTH_MAX_PARAMS 16    /* parameters kept per challenge */
#define AUTH_MAX_HEADER 8192  /* longest WWW-Authenticate we parse */
#define AUTH_MIN_EXPIRES 60   /* seconds, token.md */
#define AUTH_EXPIRY_MARGIN 10 /* seconds taken off a token's lifetime */
#define AUTH_MAX_TOKEN 65536  /* bytes of one token */
#define AUTH_CACHE_MAX 1024   /* entries; the oldest goes first */
#define AUTH_HELPER_MAX_OUTPUT 65536
#define AUTH_HELPER_TIMEOUT_MS 30000
#define AUTH_DOCKER_HUB_KEY "https://index.docker.io/v1/"

enum auth_scheme {
	AUTH_SCHEME_OTHER = 0,
	AUTH_SCHEME_BASIC,
	AUTH_SCHEME_BEARER,
};

/* One challenge; the strings are owned by the struct. */
struct auth_challenge {
	enum auth_scheme scheme;
	char *realm;   /* NULL when absent */
	char *service; /* NULL when absent */
	char *scope;   /* NULL when absent; may hold several, space-separated */
	char *error;   /* NULL when absent: "invalid_token", ... */
};

#define AUTH_CHALLENGE_INIT                                                    \
	{                                                                      \
		AUTH_SCHEME_OTHER, NULL, NULL, NULL, NULL                      \
	}

/*
 * Parses the first challenge of one WWW-Authenticate header value
 * s[0..len): scheme (case-insensitive), then name=value parameters whose
 * values are tokens or quoted strings with '\' escapes (commas inside quotes
 * belong to the value).  A second challenge in the same header ends the
 * first.  -ERR_INVALID on a malformed header.
 */
int auth_challenge_parse(struct auth_challenge *out, const char *s, size_t len,
                         struct err *err);

void auth_challenge_release(struct auth_challenge *c);

/* A token from a token server. */
struct auth_token {
	struct secret token;   /* access_token, else token */
	struct secret refresh; /* refresh_token, when given */
	time_t expires_at;     /* issued_at (or now) + max(expires_in, 60) */
};

#define AUTH_TOKEN_INIT                                                        \
	{                                                                      \
		SECRET_INIT, SECRET_INIT, 0                                    \
	}

/*
 * Parses a token response body.  now is the time the exchange completed,
 * used when issued_at is absent.  -ERR_INVALID when no token is present.
 */
int auth_token_parse(struct auth_token *out, const char *body, size_t len,
                     time_t now, struct err *err);

void auth_token_release(struct auth_token *t);

/* Credentials for one registry. */
struct auth_cred {
	char *username; /* NULL for anonymous */
	struct secret password;
	struct secret identity_token; /* OAuth2 refresh token */
	struct secret registry_token; /* Bearer token, used as is */
};

#define AUTH_CRED_INIT                                                         \
	{                                                                      \
		NULL, SECRET_INIT, SECRET_INIT, SECRET_INIT                    \
	}

void auth_cred_release(struct auth_cred *c);

/* true when c holds nothing. */
bool auth_cred_empty(const struct auth_cred *c);

/* Copies src into dst (dst must be empty). */
int auth_cred_copy(struct auth_cred *dst, const struct auth_cred *src,
                   struct err *err);

/*
 * An identity for cache keys: a keyed hash of what c holds, never the
 * secret itself.  Writes 32 hex digits plus NUL (anonymous: "anon").
 */
void auth_cred_identity(char out[65], const struct auth_cred *c);

/*
 * Looks up credentials for registry domain (as in struct reference) in a
 * Docker config.json document json[0..len): "auths" first by exact key
 * (docker.io uses "https://index.docker.io/v1/"), then by each key reduced
 * to its host[:port].  When credHelpers names a helper for the domain, or
 * credsStore is set and auths has no entry, *helper_out is set to the
 * helper suffix (caller frees) and out stays empty.
 * 0 when found (or a helper is named), -ERR_NOTFOUND when the document has
 * nothing for the domain, -ERR_INVALID on bad JSON or a bad "auth" value.
 */
int auth_dockerconfig_lookup(struct auth_cred *out, char **helper_out,
                             const char *json, size_t len, const char *domain,
                             struct err *err);

/*
 * Runs "docker-credential-<helper> get" with the server URL for domain on
 * stdin and reads {"Username","Secret"} from stdout.  Username "<token>"
 * makes Secret an identity token.  -ERR_NOTFOUND when the helper says
 * "credentials not found", -ERR_AUTH with the helper's message otherwise.
 */
int auth_helper_get(struct auth_cred *out, const char *helper,
                    const char *domain, struct err *err);

/* The key a Docker config uses for domain ("https://index.docker.io/v1/"). */
const char *auth_config_key(const char *domain);

/* Token cache keyed on realm, service, sorted scopes and credential. */
struct auth_cache;

int auth_cache_new(struct auth_cache **out, struct err *err);
void auth_cache_free(struct auth_cache *c);

/*
 * Builds the cache key for a token request into out (appending): the scopes
 * (space-separated) are sorted so that their order does not matter.
 */
int auth_cache_key(struct buf *out, const char *realm, const char *service,
                   const char *scopes, const struct auth_cred *cred);

/*
 * The cached token for key, or NULL when absent or expired at now.
 * Borrowed: valid until the next auth_cache_put/auth_cache_drop.
 */
const struct secret *auth_cache_get(struct auth_cache *c, const char *key,
                                    time_t now);

/* Stores a copy of token for key until expires_at - AUTH_EXPIRY_MARGIN. */
int auth_cache_put(struct auth_cache *c, const char *key,
                   const struct secret *token, time_t expires_at,
                   struct err *err);

/* Forgets key (after a 401 with the cached token). */
void auth_cache_drop(struct auth_cache *c, const char *key);

#endif
