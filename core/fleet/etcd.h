/*
 * etcd.h - a small etcd v3 client over etcd's HTTP/JSON gateway (libcurl
 * and cJSON; no gRPC): keys and values, leases, transactions and watches,
 * the calls the fleet needs (core/fleet/fleet.h).  etcd 3.4 serves the
 * gateway at /v3/ on its client URLs; keys and values travel base64-coded,
 * 64-bit numbers as strings.
 *
 * Endpoints: a call goes to the endpoint that last answered, and to the
 * next ones in turn when it cannot be reached (connection refused, reset,
 * timeout); an HTTP error from a reachable endpoint is an answer, not a
 * reason to move on.  A watch gives up on an endpoint that has not
 * answered within the timeout, and ends (-ERR_TRANSIENT) when other calls
 * have moved off its endpoint, so that it follows them: an endpoint that
 * hangs (a stopped process, a lost host) holds no stream for long.
 * TLS (a CA, a client certificate) and etcd's user and password (a token
 * from /v3/auth/authenticate, renewed when refused) are set like
 * etcdctl's.
 *
 * Errors: -ERR_TRANSIENT when no endpoint answered or etcd is unavailable
 * (no leader, a timeout), -ERR_AUTH for refused credentials, -ERR_INVALID
 * for a reply that is not what the gateway sends, -ERR_NOTFOUND for a
 * lease that no longer exists.
 *
 * Ownership: results handed out are the caller's (etcd_kvs_free).
 * Thread safety: any number of threads may call at once; each call makes
 * its own transfer (connections are shared through a curl share handle).
 */
#ifndef FERRY_CORE_FLEET_ETCD_H
#define FERRY_CORE_FLEET_ETCD_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"

#define ETCD_MAX_ENDPOINTS 16
#define ETCD_MAX_REPLY ((size_t)64 << 20)
#define ETCD_DEFAULT_TIMEOUT_MS 5000

struct etcd_options {
	const char *const *endpoints; /* "http://127.0.0.1:2379", ... */
	size_t nendpoints;
	const char *cacert; /* --cacert: the CA of etcd's certificates */
	const char *cert;   /* --cert/--key: a client certificate */
	const char *key;
	const char *user;     /* --user NAME:PASSWORD split by the caller */
	const char *password; /* never logged */
	/* per request and endpoint; 0: ETCD_DEFAULT_TIMEOUT_MS */
	long timeout_ms;
};

#define ETCD_OPTIONS_INIT                                                      \
	{                                                                      \
		NULL, 0, NULL, NULL, NULL, NULL, NULL, 0                       \
	}

struct etcd;

int etcd_new(struct etcd **out, const struct etcd_options *opts,
             struct err *err);
void etcd_free(struct etcd *e);

/* The endpoint that answered last (for logs); borrowed. */
const char *etcd_endpoint(struct etcd *e);

/* Requests made since etcd_new, for the fleet's rate metric. */
uint64_t etcd_requests(struct etcd *e);

struct etcd_kv {
	char *key;
	char *value; /* NUL-terminated; value_len bytes */
	size_t value_len;
	int64_t create_revision, mod_revision, version, lease;
};

void etcd_kvs_free(struct etcd_kv *kvs, size_t n);

/*
 * The key, or with prefix every key that starts with it, into *out (*n_out
 * of them, sorted by key).  *revision_out (may be NULL) gets the store's
 * revision at the read.
 */
int etcd_get(struct etcd *e, const char *key, bool prefix, struct etcd_kv **out,
             size_t *n_out, int64_t *revision_out, struct err *err);

/* Puts value under key, bound to lease (0: none). */
int etcd_put(struct etcd *e, const char *key, const char *value, size_t len,
             int64_t lease, struct err *err);

/* Deletes the key, or every key with the prefix. */
int etcd_delete(struct etcd *e, const char *key, bool prefix, struct err *err);

/* A new lease of ttl seconds into *id_out. */
int etcd_lease_grant(struct etcd *e, int64_t ttl, int64_t *id_out,
                     struct err *err);

/*
 * Renews a lease once; *ttl_out (may be NULL) gets the TTL it has now.
 * -ERR_NOTFOUND when the lease has expired or was revoked.
 */
int etcd_lease_keepalive(struct etcd *e, int64_t id, int64_t *ttl_out,
                         struct err *err);

/* The seconds a lease has left; -ERR_NOTFOUND when it is gone. */
int etcd_lease_ttl(struct etcd *e, int64_t id, int64_t *ttl_out,
                   struct err *err);

int etcd_lease_revoke(struct etcd *e, int64_t id, struct err *err);

/* One comparison of a transaction. */
enum etcd_target {
	ETCD_CMP_CREATE,  /* the key's create_revision (0: absent) */
	ETCD_CMP_MOD,     /* its mod_revision */
	ETCD_CMP_VERSION, /* its version */
	ETCD_CMP_LEASE,   /* the lease it is bound to */
	ETCD_CMP_VALUE,   /* its value */
};

enum etcd_result {
	ETCD_EQUAL,
	ETCD_NOT_EQUAL,
	ETCD_GREATER,
	ETCD_LESS,
};

struct etcd_cmp {
	const char *key;
	enum etcd_target target;
	enum etcd_result result;
	int64_t number;    /* CREATE, MOD, VERSION, LEASE */
	const char *value; /* VALUE */
};

enum etcd_op_type {
	ETCD_OP_PUT,
	ETCD_OP_DELETE,
};

struct etcd_op {
	enum etcd_op_type type;
	const char *key;
	const char *value; /* PUT */
	size_t len;
	int64_t lease; /* PUT: 0 for none */
};

/*
 * If every comparison holds, does the ops of then, else those of
 * otherwise (either list may be empty); *succeeded_out says which.
 */
int etcd_txn(struct etcd *e, const struct etcd_cmp *cmps, size_t ncmps,
             const struct etcd_op *then, size_t nthen,
             const struct etcd_op *otherwise, size_t notherwise,
             bool *succeeded_out, struct err *err);

/* One change a watch saw. */
struct etcd_event {
	bool deleted;
	struct etcd_kv kv; /* for a deletion, only key and mod_revision */
};

/* Called for each event, in order; non-zero ends the watch. */
typedef int (*etcd_watch_fn)(const struct etcd_event *ev, void *payload);

/*
 * Watches every key with the prefix from revision start (0: from now),
 * calling fn for each change, until fn returns non-zero, *stop becomes
 * true (checked at least every second), the stream breaks or other calls
 * moved off its endpoint.  Returns 0
 * when ended by fn or stop, -ERR_TRANSIENT when the stream broke (watch
 * again from the last revision seen + 1, which *last_revision_out holds),
 * -ERR_NOTFOUND when start was compacted away (read the state again).
 */
int etcd_watch(struct etcd *e, const char *prefix, int64_t start,
               etcd_watch_fn fn, void *payload, atomic_bool *stop,
               int64_t *last_revision_out, struct err *err);

#endif
