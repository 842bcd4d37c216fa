/*
 * registry.h - the registry client: lists the tags of many images at once
 * (and, when asked, their digests, creation times and platforms) over one
 * libcurl multi handle.
 *
 * A scan of one image either succeeds as a whole or leaves the caller's
 * previous result untouched: registry_scan_all() fills scans[i] only when
 * every page (and every manifest asked for) was read, and otherwise sets
 * scans[i].rc and scans[i].err and keeps scans[i].tags as they were.  So
 * the policy never sees a partial list.
 *
 * What it does per request: anonymous first, then the challenge from a 401
 * decides (Basic with the credentials, or a Bearer token from the realm,
 * cached per realm/service/scope/credential and refreshed once on a 401);
 * 429 honours Retry-After; 5xx, resets and timeouts retry with exponential
 * backoff and jitter up to max_retries; Link rel="next" is followed as
 * given, up to max_pages.  Authorization is never sent to another origin on
 * a redirect (libcurl drops custom Authorization headers on a host change;
 * CURLOPT_UNRESTRICTED_AUTH is never set).  Proxies come from the usual
 * environment variables (libcurl reads http_proxy, https_proxy, no_proxy).
 *
 * Ownership: the client owns its caches; scans[] and their tags belong to
 * the caller (registry_scan_release()).  Inputs are borrowed for the call.
 *
 * Thread safety: a registry_client is used by one thread at a time.
 */
#ifndef FERRY_SCANNER_REGISTRY_H
#define FERRY_SCANNER_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "base/secret.h"

#define REGISTRY_MAX_BODY ((size_t)16 << 20)    /* one tag list page */
#define REGISTRY_MAX_MANIFEST ((size_t)4 << 20) /* manifest, config blob */
#define REGISTRY_MAX_TOKEN_BODY ((size_t)256 << 10)
#define REGISTRY_MAX_TAGS 100000 /* tags per repository, all pages */
#define REGISTRY_MAX_PAGES 1000  /* pages per tag list */
#define REGISTRY_MAX_RETRIES 10
#define REGISTRY_MAX_RETRY_AFTER_S 300 /* longer Retry-After fails at once */
#define REGISTRY_MAX_REDIRECTS 5
#define REGISTRY_DEFAULT_EXCLUSION "^.*\\.sig$"

struct registry_options {
	long timeout_ms;         /* whole request; default 30 s */
	long connect_timeout_ms; /* default 10 s */
	int max_per_host;        /* concurrent requests per host; default 8 */
	int rate_per_host;       /* requests started per second; 0: no limit */
	int max_retries;         /* after the first try; default 4 */
	long backoff_ms;         /* first retry delay; doubles; default 200 */
	int max_pages;   /* tag list pages; default REGISTRY_MAX_PAGES */
	int hub_reserve; /* stop manifest GETs when Docker Hub's
	                    ratelimit-remaining is at or below this */
	/* Called after every response (status 0: none came), with the
	   registry's host[:port]; for metrics.  Runs on the thread driving
	   the client's loop: it must be quick and thread-safe.  May be NULL. */
	void (*observe)(const char *host, long status, void *payload);
	void *observe_payload;
};

#define REGISTRY_OPTIONS_INIT                                                  \
	{                                                                      \
		30000, 10000, 8, 0, 4, 200, REGISTRY_MAX_PAGES, 5, NULL, NULL  \
	}

enum registry_want {
	REGISTRY_WANT_DIGEST = 1 << 0,   /* HEAD each tag */
	REGISTRY_WANT_CREATED = 1 << 1,  /* manifest + config blob */
	REGISTRY_WANT_PLATFORM = 1 << 2, /* as CREATED */
};

/* What to scan.  All pointers are borrowed for the call. */
struct registry_image {
	const char *image; /* as the user wrote it: "nginx", "host/a/b" */
	/* dockerconfigjson document (a Secret's .dockerconfigjson, or a
	   config.json); NULL for none */
	const char *dockerconfig;
	size_t dockerconfig_len;
	const char *username;          /* explicit Basic credentials win */
	const struct secret *password; /* over the config; NULL for none */
	bool insecure;                 /* plain HTTP */
	const char *const *exclusions; /* regexes; NULL: the default */
	size_t n_exclusions;
	const char *ca_pem; /* certSecretRef: ca.crt, tls.crt, tls.key */
	size_t ca_pem_len;
	const char *cert_pem;
	size_t cert_pem_len;
	const char *key_pem;
	size_t key_pem_len;
	unsigned want; /* enum registry_want bits */
	/* Confirm only these tags, with one manifest HEAD each, instead of
	   listing the repository (a webhook said they were pushed): the
	   result holds the ones that exist, with their digests; a tag the
	   registry does not know is left out, not an error.  NULL: list. */
	const char *const *only_tags;
	size_t n_only_tags;
	/* The whole scan's deadline, retries and every page and manifest
	   included (an ImageRepository's spec.timeout); 0: none beyond each
	   request's own timeout and retries.  A stalled registry then fails
	   after this long, not after retries x the request timeout. */
	long scan_timeout_ms;
	const char *platform; /* "os/arch[/variant]" for index manifests;
	                         NULL: linux/amd64 */
};

struct registry_tag {
	char *name;
	char *digest;         /* NULL unless asked for */
	char *created;        /* RFC 3339 as in the config blob, or NULL */
	int64_t created_unix; /* INT64_MIN when unknown */
	char *platform;       /* "os/arch[/variant]" of the config, or NULL */
};

struct registry_scan {
	int rc;         /* 0, or the negative ERR_* of the last attempt */
	struct err err; /* why it failed ("" on success) */
	char *name;     /* canonical "domain/path" (set once parsed) */
	struct registry_tag *tags; /* byte-wise sorted, unique */
	size_t ntags;
};

#define REGISTRY_SCAN_INIT                                                     \
	{                                                                      \
		0, ERR_INIT, NULL, NULL, 0                                     \
	}

struct registry_client;

/* Creates a client.  opts may be NULL for the defaults. */
int registry_client_new(struct registry_client **out,
                        const struct registry_options *opts, struct err *err);

void registry_client_free(struct registry_client *c);

/* Called after each image finishes (done of total), for progress lines. */
typedef void (*registry_progress_fn)(size_t done, size_t total, void *payload);

/*
 * Scans n images concurrently.  For each i, on success scans[i] gets the
 * tags (replacing what it held) and rc 0; on failure scans[i].rc < 0,
 * scans[i].err says which image failed and why, and scans[i].tags is kept.
 * Returns 0 when all succeeded, else the rc of the first failure.
 */
int registry_scan_all(struct registry_client *c,
                      const struct registry_image *images,
                      struct registry_scan *scans, size_t n,
                      registry_progress_fn progress, void *payload);

/* Frees what a scan holds and returns it to REGISTRY_SCAN_INIT. */
void registry_scan_release(struct registry_scan *s);

#endif
