/*
 * receiver_int.h - what the files of core/receiver/ share: header and JSON
 * lookups, the checks every type uses, and how an event is added to a
 * result.  Not a contract for other modules.
 *
 * Convention: a type's handler returns 0 once it has decided (out->status
 * set by rx_fail, or left 0 for "200"), or -ERR_NOMEM.
 *
 * Thread safety: every function is reentrant.
 */
#ifndef FERRY_CORE_RECEIVER_INT_H
#define FERRY_CORE_RECEIVER_INT_H

#include <cjson/cJSON.h>

#include "receiver.h"

/* Longest host or repository taken from a payload (as Docker's names). */
#define RX_MAX_NAME 255

/* The value of header name (case-insensitive), or NULL. */
const char *rx_header(const struct receiver_request *req, const char *name);

/*
 * Copies the media type of a Content-Type value (before any ';', trimmed,
 * lower-cased) into out; "" when ct is NULL or too long.
 */
void rx_media_type(char out[128], const char *ct);

/* true when the Content-Type header contains needle (as Argo checks). */
bool rx_content_type_contains(const struct receiver_request *req,
                              const char *needle);

/*
 * Sets out->status and a one-line reason (printf) in out->why.  Returns 0
 * so that handlers can `return rx_fail(...)`.
 */
int rx_fail(struct receiver_result *out, int status, int code, const char *fmt,
            ...) __attribute__((format(printf, 4, 5)));

/*
 * Copies at most 64 bytes of untrusted s into out, printable ASCII only
 * (others become '?'), "..." when cut; returns out.  For messages.
 */
const char *rx_show(char out[80], const char *s);

/* Constant-time: does the token equal v[0..vlen)?  false when no token. */
bool rx_token_equal(const struct secret *token, const char *v, size_t vlen);

/* true when cfg has a non-empty token. */
bool rx_has_token(const struct receiver_config *cfg);

/*
 * Checks a GitHub-style "<alg>=<hex>" signature of body keyed by the
 * token; alg sha1, sha256 or sha512 unless only_sha256.  With
 * lower_hex_only the hex must be lower-case (Argo compares the strings).
 * 0 when it matches; otherwise rx_fail(401) and 1.  -ERR_NOMEM.
 */
int rx_check_hub_signature(struct receiver_result *out,
                           const struct receiver_config *cfg,
                           const char *header_name, const char *sig,
                           const char *body, size_t len, bool only_sha256,
                           bool lower_hex_only);

/* HMAC-SHA1 of data keyed by key into mac (20 bytes).  0 or -ERR_INTERNAL. */
int rx_hmac_sha1(unsigned char mac[20], const unsigned char *key, size_t keylen,
                 const void *data, size_t len);

/*
 * Parses len bytes of JSON into *root; on bad JSON rx_fail(400) and 1.
 */
int rx_parse_json(struct receiver_result *out, cJSON **root, const char *ptr,
                  size_t len, const char *what);

/*
 * Looks up a dotted path ("push_data.tag") under obj.  Returns 1 with
 * *found set when the item exists and has the wanted type, 0 when it is
 * missing or JSON null, -1 after rx_fail(400) when it has another type.
 */
int rx_json_string(struct receiver_result *out, const cJSON *obj,
                   const char *path, const char **found);
int rx_json_object(struct receiver_result *out, const cJSON *obj,
                   const char *path, const cJSON **found);
int rx_json_array(struct receiver_result *out, const cJSON *obj,
                  const char *path, const cJSON **found);

/* strdup of an id when it is 1..RECEIVER_MAX_ID printable ASCII, else NULL */
char *rx_id_dup(const char *id);

/*
 * Sets out->delivery_id from id (rx_id_dup); a missing or unusable id
 * leaves it NULL.  -ERR_NOMEM when the copy failed.
 */
int rx_set_delivery_id(struct receiver_result *out, const char *id);

/*
 * Adds one event, after checking every field: host (NULL allowed) against
 * the reference grammar for a registry host, repository against the path
 * grammar (a one-component docker.io name gets "library/"), tag (NULL or
 * "" is none) against the tag grammar, digest (NULL or "" is none) against
 * the digest grammar.  Neither tag nor digest: nothing is added (a push
 * with nothing to do).  A field that fails: the event is dropped and
 * counted in out->nrejected, the first reason kept in out->why.  More than
 * RECEIVER_MAX_EVENTS: rx_fail(400).  id may be NULL.  0 or -ERR_NOMEM.
 */
int rx_event_add(struct receiver_result *out, const char *host,
                 const char *repository, const char *tag, const char *digest,
                 const char *id);

/*
 * Copies the host of a URL or "host/path" string (scheme and userinfo
 * dropped) into out; "" when there is none or it is too long.
 */
void rx_url_host(char out[RX_MAX_NAME + 1], const char *url);

/* Matches ev against cfg->events case-insensitively; true when allowed. */
bool rx_event_allowed(const struct receiver_config *cfg, const char *ev);

/* The payload parsers shared by Flux and Argo types (receiver.c). */
int rx_parse_github_package(struct receiver_result *out, const char *event,
                            const char *json, size_t len, bool argo);
int rx_parse_harbor(struct receiver_result *out, const char *json, size_t len);
int rx_parse_quay(struct receiver_result *out, const char *json, size_t len);
int rx_parse_acr(struct receiver_result *out, const char *json, size_t len);
int rx_parse_dockerhub(struct receiver_result *out, const char *json,
                       size_t len);

/* gcr.c */
int rx_handle_gcr(struct receiver_result *out,
                  const struct receiver_config *cfg,
                  const struct receiver_request *req);

/* argo.c: the Argo CD Image Updater types */
int rx_handle_argo(struct receiver_result *out,
                   const struct receiver_config *cfg,
                   const struct receiver_request *req);

#endif
