/*
 * receiver.h - registry and Git host webhooks, verified and parsed: what
 * happens between "a request arrived on a receiver's path" and "these
 * (host, repository, tag, digest) were pushed".  No I/O, no HTTP server, no
 * globals: the daemon's HTTP layer hands a struct receiver_request in and
 * answers with the status in the struct receiver_result it gets back.
 *
 * Order of checks, the same for every type:
 *   1. method: anything but POST is 405 (Flux does not check the method,
 *      Argo CD Image Updater refuses with 400; ferry says 405);
 *   2. size: a body over RECEIVER_MAX_BODY is 413;
 *   3. authentication: a missing, wrong or forged secret or signature is
 *      401 and nothing is triggered (Flux and Argo answer 400; ferry says
 *      401 so that an operator can tell a bad secret from a bad payload);
 *   4. payload: bad JSON, a field of the wrong JSON type, a
 *      spec.events filter that refuses the event (as Flux does), or an
 *      unsupported Content-Type is 400;
 *   5. otherwise 200, as Flux answers, with zero or more events.  A valid
 *      request with nothing to do (another action, a blob push, a push
 *      with neither tag nor digest, a GitHub ping) is 200 with no events.
 * An event whose repository, tag, digest or host fails its grammar is
 * dropped and counted in nrejected; when every event of a request was
 * dropped that way the answer is 400.
 *
 * Flux types (notification.toolkit.fluxcd.io/v1 Receiver spec.type); the
 * token is the Secret's 'token' key, which also salts the path
 * (receiver_hook_path):
 *   generic       no authentication; the body is not read.  trigger_all.
 *   generic-hmac  X-Signature: sha1=|sha256=|sha512=<hex>, the HMAC of the
 *                 raw body keyed by the token.  The body is not read.
 *                 trigger_all.
 *   github        X-Hub-Signature-256: sha256=<hex>, or when it is absent
 *                 the legacy X-Hub-Signature (sha1=, sha256= or sha512=),
 *                 HMAC of the raw body keyed by the token.  Content-Type
 *                 application/json, or application/x-www-form-urlencoded
 *                 with the JSON in the 'payload' field (the signature
 *                 covers the raw form body).  X-GitHub-Event is matched
 *                 case-insensitively against spec.events when it is not
 *                 empty.  'ping' is 200 with no events; 'package' and
 *                 'registry_package' give one event when action is
 *                 'published' and package_type is 'container' (host from
 *                 package.registry.url, else ghcr.io; repository
 *                 lower-cased owner.login/name; tag from
 *                 package_version.container_metadata.tag.name; digest from
 *                 container_metadata.tag.digest or package_version.name);
 *                 any other event (push, ...) triggers all of
 *                 spec.resources, as Flux does (trigger_all).  Delivery id:
 *                 X-GitHub-Delivery.
 *   gitlab        X-Gitlab-Token equals the token; X-Gitlab-Event against
 *                 spec.events.  trigger_all.
 *   bitbucket     as github's signature (Bitbucket Server); X-Event-Key
 *                 against spec.events.  trigger_all.
 *   harbor        Authorization equals the token.  type PUSH_ARTIFACT (or
 *                 CloudEvents type harbor.artifact.pushed with the same
 *                 fields under data): one event per
 *                 event_data.resources[] (host from resource_url; a tag
 *                 that is a digest is a digest-only push).
 *   dockerhub     no authentication (the secret path is the protection).
 *                 Host docker.io; repository.repo_name (or namespace/name,
 *                 "library/" added to a one-component name, as Docker
 *                 does); push_data.tag.  No digest.
 *   quay          no authentication.  One event per updated_tags[] (the
 *                 old map form too); host from docker_url, else quay.io;
 *                 repository.
 *   acr           no authentication.  action 'push': request.host,
 *                 target.repository, target.tag (empty on a digest push),
 *                 target.digest.  Delivery id: id.
 *   nexus         X-Nexus-Webhook-Signature: lower-case hex HMAC-SHA1 of
 *                 the raw body keyed by the token.  The body must be a
 *                 JSON object.  trigger_all.
 *   gcr           Google Pub/Sub push: Authorization: Bearer <Google OIDC
 *                 ID token>, checked as Flux >= 1.9 does: RS256 signature
 *                 against the keys in gcr_jwks (the document Google
 *                 publishes at its oauth2 v3 certs address, pasted into
 *                 the Secret's 'jwks' key: ferry does not fetch it), then
 *                 aud == the Secret's 'audience', exp not passed at
 *                 request->now, iss accounts.google.com or
 *                 https://accounts.google.com, email == the Secret's
 *                 'email' and email_verified true.  Without email, audience
 *                 and jwks every request is 401, saying so.  Body: the
 *                 push envelope {"message":{"data":<base64>,"messageId"}}
 *                 (or the unwrapped data itself); data {"action":"INSERT",
 *                 "digest":"host/path@sha256:..","tag":"host/path:tag"}
 *                 gives one event, split into host, path and tag.
 *                 Delivery id: message.messageId.
 *   cdevents      no authentication.  The body must be a CDEvent (a JSON
 *                 object with context.{id,source,type,version} strings and
 *                 a subject object; ferry checks that shape, not the whole
 *                 CDEvents schema the Go SDK checks).  The Ce-Type header
 *                 is matched case-insensitively against spec.events.
 *                 trigger_all.  Delivery id: context.id.
 *   generic-oidc  not supported (needs OIDC discovery over the network):
 *                 receiver_type_parse() refuses it.
 *
 * ferry's own type:
 *   distribution  CNCF distribution (registry:2, Debian docker-registry,
 *                 GitLab's registry) notifications: Authorization: Bearer
 *                 <token> (the endpoint's headers), Content-Type
 *                 application/vnd.docker.distribution.events.v1+json or
 *                 v2+json, body {"events":[...]}.  Each event with action
 *                 'push' of a manifest media type gives (request.host,
 *                 target.repository, target.tag or NULL, target.digest) and
 *                 carries its own id; blob pushes, pulls, mounts and
 *                 deletes are ignored.
 *
 * Argo CD Image Updater's /webhook?type=T (the type comes from the query;
 * Argo also reads an X-Registry-Type header when there is no ?type=).  The
 * token is the webhook secret (Argo: Secret argocd-image-updater-secret
 * key webhook.<T>-secret, env <T>_WEBHOOK_SECRET, flag
 * --<t>-webhook-secret; see receiver_argo_type_parse).  Without a secret a
 * request is 401, as Argo's default --webhook-require-secret=true, unless
 * argo_allow_no_secret is set (--webhook-require-secret=false):
 *   docker.io    ?secret=; repository.repo_name (or namespace/name),
 *                push_data.tag; host docker.io.
 *   ghcr.io      X-GitHub-Event must be 'package' ('ping' is 200 with no
 *                events); X-Hub-Signature-256 sha256=<lower-case hex>;
 *                payload as github's.
 *   harbor       Content-Type application/json; Authorization equals the
 *                secret; payload as harbor's.
 *   quay.io      ?secret=; payload as quay's.
 *   aliyun-acr   ?secret=; repository.repo_full_name (or namespace/name),
 *                push_data.tag and digest; host from ?registry_url=, else
 *                registry.<repository.region>.aliyuncs.com.
 *   acr          Content-Type application/json; Authorization equals the
 *                secret; payload as acr's.
 *   cloudevents  Content-Type application/json or
 *                application/cloudevents+json; ?secret= or
 *                X-Webhook-Secret; specversion and type required; type
 *                com.amazon.ecr.* (ECR through EventBridge): data.
 *                repositoryName, imageTag, imageDigest, host
 *                <registryId or account>.dkr.ecr.<region>.amazonaws.com
 *                from source urn:aws:ecr:<region>:<account>:...; other
 *                types naming 'container' or 'image': data.repositoryName
 *                or repository, imageTag or tag, imageDigest or digest,
 *                registryUrl or registry or the source's host; subject
 *                "repo:tag" fills what data lacks.  Delivery id: id.
 * Argo ignores the event's tag and rescans; ferry hands it on anyway.
 * Argo's body limit is 1 MiB; ferry applies RECEIVER_MAX_BODY to all.
 *
 * Secrets are compared in constant time (sodium_memcmp); HMAC-SHA256/512
 * come from libsodium, HMAC-SHA1 and RS256 from libcrypto (OpenSSL), which
 * libsodium lacks.  A type that needs a secret refuses every request when
 * the token is missing or empty.  No message in why ever holds a secret or
 * a header value; strings from the payload in it are cut and made
 * printable.
 *
 * Ownership: the result owns every string and the events array;
 * receiver_result_release() frees them.  The config and request are
 * borrowed for the call only.
 *
 * Thread safety: receiver_handle() and the parse functions are reentrant
 * (no state outside their arguments); a struct receiver_dedup may be used
 * by any number of threads at once.
 */
#ifndef FERRY_CORE_RECEIVER_H
#define FERRY_CORE_RECEIVER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/secret.h"

/* Flux's receiver body limit: 3 MiB. */
#define RECEIVER_MAX_BODY ((size_t)3 << 20)
/* Events one request may carry (Quay tags, distribution envelopes). */
#define RECEIVER_MAX_EVENTS 1000
/* Longest delivery or event id kept; a longer one is dropped (NULL). */
#define RECEIVER_MAX_ID 256

enum receiver_type {
	RECEIVER_GENERIC = 0,
	RECEIVER_GENERIC_HMAC,
	RECEIVER_GITHUB,
	RECEIVER_GITLAB,
	RECEIVER_BITBUCKET,
	RECEIVER_HARBOR,
	RECEIVER_DOCKERHUB,
	RECEIVER_QUAY,
	RECEIVER_GCR,
	RECEIVER_NEXUS,
	RECEIVER_ACR,
	RECEIVER_CDEVENTS,
	RECEIVER_DISTRIBUTION, /* ferry's own: CNCF distribution */
	RECEIVER_ARGO_DOCKER,
	RECEIVER_ARGO_GHCR,
	RECEIVER_ARGO_HARBOR,
	RECEIVER_ARGO_QUAY,
	RECEIVER_ARGO_ALIYUN_ACR,
	RECEIVER_ARGO_ACR,
	RECEIVER_ARGO_CLOUDEVENTS,
	RECEIVER_TYPE_COUNT
};

/*
 * Parses a Receiver's spec.type ("generic", ..., "cdevents", and ferry's
 * "distribution") into *out.  -ERR_INVALID with a message for an unknown
 * type and for "generic-oidc", which ferry does not support.
 */
int receiver_type_parse(enum receiver_type *out, const char *flux_type,
                        struct err *err);

/*
 * Parses Argo CD Image Updater's ?type= value ("docker.io", "ghcr.io",
 * "harbor", "quay.io", "aliyun-acr", "acr", "cloudevents") into *out.
 * -ERR_INVALID otherwise.
 */
int receiver_argo_type_parse(enum receiver_type *out, const char *query_type,
                             struct err *err);

/*
 * Where Argo CD Image Updater reads the webhook secret of an Argo type:
 * the key in Secret argocd-image-updater-secret ("webhook.docker-secret"),
 * the environment variable ("DOCKER_WEBHOOK_SECRET") and the flag
 * ("--docker-webhook-secret").  Static strings; NULL for a type that is
 * not Argo's.
 */
struct receiver_argo_secret_source {
	const char *secret_key;
	const char *env;
	const char *flag;
};
const struct receiver_argo_secret_source *
receiver_argo_secret_source(enum receiver_type type);

/* The spec.type or ?type= spelling of a type, for logs.  Static. */
const char *receiver_type_name(enum receiver_type type);

/* true for the Argo CD Image Updater types (/webhook?type=). */
bool receiver_type_is_argo(enum receiver_type type);

/*
 * Appends Flux's published path for a Receiver to out:
 * "/hook/" + lower-case hex(sha256(token + name + namespace)).
 * -ERR_NOMEM.
 */
int receiver_hook_path(struct buf *out, const struct secret *token,
                       const char *name, const char *ns);

/* One request header; names are looked up case-insensitively. */
struct receiver_header {
	const char *name;
	const char *value;
};

struct receiver_request {
	const char *method; /* "POST", ... */
	/* headers as received; the first of repeated names wins, as Go's
	 * Header.Get */
	const struct receiver_header *headers;
	size_t nheaders;
	const char *query_secret;       /* ?secret= (Argo), or NULL */
	const char *query_registry_url; /* ?registry_url= (Argo aliyun-acr) */
	const char *body;               /* raw bytes; no NUL needed */
	size_t len;
	int64_t now; /* seconds since the epoch (gcr token expiry) */
};

struct receiver_config {
	enum receiver_type type;
	/* Flux: the Secret's 'token'; Argo: the webhook secret.  NULL or
	 * empty: every type that authenticates answers 401. */
	const struct secret *token;
	/* spec.events; for github, gitlab, bitbucket and cdevents only */
	const char *const *events;
	size_t nevents;
	/* gcr: the Secret's 'email', 'audience' and 'jwks' (a JSON Web Key
	 * Set: {"keys":[{"kty":"RSA","kid","n","e"},...]}) */
	const char *gcr_email;
	const char *gcr_audience;
	const char *gcr_jwks;
	size_t gcr_jwks_len;
	/* Argo types: accept requests when no secret is configured
	 * (--webhook-require-secret=false). */
	bool argo_allow_no_secret;
};

#define RECEIVER_CONFIG_INIT                                                   \
	{                                                                      \
		RECEIVER_GENERIC, NULL, NULL, 0, NULL, NULL, NULL, 0, false    \
	}

/*
 * One pushed image.  Invariants when it reaches a result: repository
 * passes imageref_path_valid(); host, when not NULL, is a registry host
 * (reference grammar); tag, when not NULL, passes imageref_tag_valid();
 * digest, when not NULL, passes imageref_digest_valid(); tag and digest
 * are not both NULL.
 */
struct receiver_event {
	char *host;       /* registry host[:port] when known, else NULL */
	char *repository; /* path as the registry names it: "team/app" */
	char *tag;        /* NULL on a digest-only push */
	char *digest;     /* "sha256:..."; NULL when the payload has none */
	char *id;         /* this event's own id (distribution), else NULL */
};

struct receiver_result {
	/* HTTP status to answer: 200, 400, 401, 405, 413 (500 only when
	 * memory ran out) */
	int status;
	/* one line for logs and the response body when status >= 400; when
	 * status is 200 and nrejected > 0, why the first event was dropped.
	 * Never holds a secret. */
	struct err why;
	/* for deduplication: X-GitHub-Delivery, Pub/Sub messageId, ACR or
	 * CloudEvents id, CDEvents context.id, the id of a one-event
	 * distribution envelope; NULL when none */
	char *delivery_id;
	struct receiver_event *events;
	size_t nevents;
	size_t nrejected; /* events dropped because a field failed a grammar */
	/* an untyped request (generic, generic-hmac, gitlab, bitbucket,
	 * nexus, cdevents, a github event other than a package): trigger all
	 * of spec.resources, there is no repository to match */
	bool trigger_all;
};

#define RECEIVER_RESULT_INIT                                                   \
	{                                                                      \
		0, ERR_INIT, NULL, NULL, 0, 0, false                           \
	}

/*
 * Verifies and parses one request for the receiver cfg into *out (which
 * must be RECEIVER_RESULT_INIT or released).  Returns 0 whenever a status
 * was decided, 4xx included: the caller answers out->status.  Returns
 * -ERR_NOMEM when memory ran out (out->status is then 500) and
 * -ERR_INTERNAL for a bad cfg->type.  Reentrant.
 */
int receiver_handle(struct receiver_result *out,
                    const struct receiver_config *cfg,
                    const struct receiver_request *req);

/* Frees what the result holds and returns it to RECEIVER_RESULT_INIT. */
void receiver_result_release(struct receiver_result *r);

/*
 * Appends the deduplication key of an event to out:
 * "host/repository:tag@digest" with absent parts left empty.  The tag is
 * part of the key on purpose: moving a tag to a digest that another tag
 * already has is a new push that must trigger.  -ERR_NOMEM.
 */
int receiver_event_key(struct buf *out, const struct receiver_event *ev);

/*
 * receiver_dedup: "did I see this key in the last window_ms?", for
 * delivery ids and event keys, so that a registry's retry or a duplicate
 * delivery triggers once.  Memory is bounded: at most capacity keys (kept
 * as keyed 128-bit hashes), the oldest forgotten first.  Any number of
 * threads may use one at once (a mutex inside).
 */
struct receiver_dedup;

#define RECEIVER_DEDUP_DEFAULT_CAPACITY 4096

/* Allocates; capacity 0 means RECEIVER_DEDUP_DEFAULT_CAPACITY. */
int receiver_dedup_new(struct receiver_dedup **out, int64_t window_ms,
                       size_t capacity);

/* Frees; NULL is a no-op. */
void receiver_dedup_free(struct receiver_dedup *d);

/*
 * true when key was recorded less than window_ms before now_ms (the first
 * sighting is not moved); otherwise records key at now_ms and returns
 * false.  NULL or empty key: false, nothing recorded.
 */
bool receiver_dedup_seen(struct receiver_dedup *d, const char *key,
                         int64_t now_ms);

#endif
