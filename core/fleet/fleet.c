/*
 * fleet.c - membership, ownership, fencing, shared state and hand-offs
 * over etcd.  Two threads: one keeps the lease alive (every third of the
 * ttl) and registers again when it was lost; one reads the fleet's keys
 * and then watches them, keeping the member list and telling the daemon
 * what changed.  Claims, fences and state writes are transactions made on
 * the caller's thread.  No consensus of our own: etcd's leases and
 * transactions are the only source of truth; the member list kept here is
 * only used to choose, never to decide who may write.
 */
#include "fleet.h"

#include <pthread.h>
#include <sodium.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/log.h"
#include "base/util.h"

#define MOD "fleet"

struct fleet {
	struct etcd *etcd;
	char *prefix; /* "/ferry/<cluster>/" */
	char id[FLEET_MAX_ID];
	char *advertise;
	int64_t ttl;
	struct fleet_callbacks cb;
	pthread_mutex_t mu; /* guards what follows */
	int64_t lease;      /* 0: none */
	int64_t last_ok_ms; /* the lease last renewed */
	char **members;     /* sorted ids */
	size_t nmembers;
	char **held; /* units this member holds */
	size_t nheld;
	bool told_unavailable;
	pthread_cond_t wake;
	pthread_t keeper, watcher;
	bool keeper_started, watcher_started;
	atomic_bool stop;
	atomic_uint_fast64_t seq;
};

static void
sleep_ms(struct fleet *f, int64_t ms)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	ts.tv_sec += (time_t)(ms / 1000);
	ts.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts.tv_nsec >= 1000000000L) {
		ts.tv_sec++;
		ts.tv_nsec -= 1000000000L;
	}
	pthread_mutex_lock(&f->mu);
	if (!atomic_load(&f->stop))
		pthread_cond_timedwait(&f->wake, &f->mu, &ts);
	pthread_mutex_unlock(&f->mu);
}

/* "<prefix><what>" into out. */
static int
key(struct buf *out, const struct fleet *f, const char *what)
{
	buf_reset(out);
	buf_addf(out, "%s%s", f->prefix, what);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* The owner key of a unit: a hash, so any unit text makes a key. */
static int
owner_key(struct buf *out, const struct fleet *f, const char *unit)
{
	unsigned char h[crypto_hash_sha256_BYTES];
	char hex[sizeof(h) * 2 + 1];

	crypto_hash_sha256(h, (const unsigned char *)unit, strlen(unit));
	sodium_bin2hex(hex, sizeof(hex), h, sizeof(h));
	buf_reset(out);
	buf_addf(out, "%sowners/%s", f->prefix, hex);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

/* ---- membership ---- */

static int
cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static void
members_set(struct fleet *f, char **ids, size_t n)
{
	qsort(ids, n, sizeof(*ids), cmp_str);
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nmembers; i++)
		free(f->members[i]);
	free(f->members);
	f->members = ids;
	f->nmembers = n;
	pthread_mutex_unlock(&f->mu);
}

/* Reads members/ whole; returns the revision read at, or -1. */
static int64_t
members_read(struct fleet *f)
{
	struct buf k = BUF_INIT;
	struct etcd_kv *kvs = NULL;
	struct err e = ERR_INIT;
	size_t n = 0, plen;
	int64_t rev = -1;
	char **ids;

	if (key(&k, f, "members/") < 0 ||
	    etcd_get(f->etcd, k.ptr, true, &kvs, &n, &rev, &e) < 0) {
		buf_release(&k);
		return -1;
	}
	plen = k.len;
	ids = calloc(n + 1, sizeof(*ids));
	for (size_t i = 0; ids && i < n; i++)
		ids[i] = strdup(kvs[i].key + plen);
	if (ids)
		members_set(f, ids, n);
	etcd_kvs_free(kvs, n);
	buf_release(&k);
	return rev;
}

static int
register_member(struct fleet *f, struct err *err)
{
	struct buf k = BUF_INIT;
	cJSON *doc = cJSON_CreateObject();
	char *text = NULL;
	int64_t lease = 0;
	int rc;

	if (doc == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	cJSON_AddStringToObject(doc, "id", f->id);
	cJSON_AddStringToObject(doc, "advertise",
	                        f->advertise ? f->advertise : "");
	cJSON_AddNumberToObject(doc, "pid", (double)getpid());
	text = cJSON_PrintUnformatted(doc);
	cJSON_Delete(doc);
	if (text == NULL || key(&k, f, "members/") < 0) {
		cJSON_free(text);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	buf_puts(&k, f->id);
	if ((rc = etcd_lease_grant(f->etcd, f->ttl, &lease, err)) == 0 &&
	    (rc = etcd_put(f->etcd, k.ptr, text, strlen(text), lease, err)) ==
	            0) {
		pthread_mutex_lock(&f->mu);
		f->lease = lease;
		f->last_ok_ms = mono_ms();
		f->told_unavailable = false;
		pthread_mutex_unlock(&f->mu);
		log_info(MOD, "registered", "member", f->id, "endpoint",
		         etcd_endpoint(f->etcd));
	}
	cJSON_free(text);
	buf_release(&k);
	return rc;
}

/* Forgets the lease and every unit held (they went with the lease). */
static void
lease_lost(struct fleet *f, const char *why)
{
	bool had;

	pthread_mutex_lock(&f->mu);
	had = f->lease != 0;
	f->lease = 0;
	for (size_t i = 0; i < f->nheld; i++)
		free(f->held[i]);
	f->nheld = 0;
	pthread_mutex_unlock(&f->mu);
	if (had) {
		log_error(MOD, "lease_lost", "member", f->id, "reason", why,
		          "advice",
		          "this member runs nothing that writes until etcd "
		          "answers again; another member takes its units over");
		if (f->cb.lease_lost)
			f->cb.lease_lost(f->cb.payload);
	}
}

static void *
keeper(void *arg)
{
	struct fleet *f = arg;

	while (!atomic_load(&f->stop)) {
		struct err e = ERR_INIT;
		int64_t lease, last;
		int rc;

		pthread_mutex_lock(&f->mu);
		lease = f->lease;
		last = f->last_ok_ms;
		pthread_mutex_unlock(&f->mu);
		if (lease == 0) {
			if (register_member(f, &e) < 0) {
				sleep_ms(f, 1000);
				continue;
			}
		} else {
			rc = etcd_lease_keepalive(f->etcd, lease, NULL, &e);
			if (rc == 0) {
				pthread_mutex_lock(&f->mu);
				f->last_ok_ms = mono_ms();
				pthread_mutex_unlock(&f->mu);
			} else if (rc == -ERR_NOTFOUND) {
				lease_lost(f, "the lease expired");
				continue;
			} else if (mono_ms() - last > f->ttl * 1000) {
				lease_lost(f, e.msg);
				continue;
			}
		}
		sleep_ms(f, f->ttl * 1000 / 3);
	}
	return NULL;
}

/* ---- the watch ---- */

struct watch_ctx {
	struct fleet *f;
	size_t plen;
	bool members_changed;
};

static void
handle_handoffs(struct fleet *f)
{
	struct buf k = BUF_INIT;
	struct etcd_kv *kvs = NULL;
	struct err e = ERR_INIT;
	size_t n = 0;

	if (key(&k, f, "handoff/") < 0)
		goto out;
	buf_addf(&k, "%s/", f->id);
	if (etcd_get(f->etcd, k.ptr, true, &kvs, &n, NULL, &e) < 0)
		goto out;
	for (size_t i = 0; i < n; i++) {
		if (f->cb.handoff)
			f->cb.handoff(kvs[i].value, kvs[i].value_len,
			              f->cb.payload);
		etcd_delete(f->etcd, kvs[i].key, false, &e);
	}
out:
	etcd_kvs_free(kvs, n);
	buf_release(&k);
}

static int
on_event(const struct etcd_event *ev, void *payload)
{
	struct watch_ctx *w = payload;
	struct fleet *f = w->f;
	const char *rest = ev->kv.key + w->plen;

	if (strncmp(rest, "members/", 8) == 0) {
		members_read(f);
		if (f->cb.members_changed)
			f->cb.members_changed(f->cb.payload);
	} else if (strncmp(rest, "state/", 6) == 0 && !ev->deleted) {
		/* state/<kind>/<ns>/<name>: tell about others' writes */
		char kind[128], ns[256], name[256];
		const char *a = rest + 6, *b = strchr(a, '/'),
		           *c = b ? strchr(b + 1, '/') : NULL;
		cJSON *doc = NULL;
		struct err e = ERR_INIT;
		if (b && c && (size_t)(b - a) < sizeof(kind) &&
		    (size_t)(c - b - 1) < sizeof(ns) &&
		    strlen(c + 1) < sizeof(name) &&
		    json_parse(&doc, ev->kv.value, ev->kv.value_len,
		               "fleet state", &e) == 0) {
			const char *writer = json_get_string(doc, "writer");
			snprintf(kind, sizeof(kind), "%.*s", (int)(b - a), a);
			snprintf(ns, sizeof(ns), "%.*s", (int)(c - b - 1),
			         b + 1);
			snprintf(name, sizeof(name), "%s", c + 1);
			if ((writer == NULL || strcmp(writer, f->id) != 0) &&
			    f->cb.state_changed)
				f->cb.state_changed(kind, ns, name,
				                    f->cb.payload);
		}
		cJSON_Delete(doc);
	} else if (strncmp(rest, "handoff/", 8) == 0 && !ev->deleted &&
	           strncmp(rest + 8, f->id, strlen(f->id)) == 0 &&
	           rest[8 + strlen(f->id)] == '/') {
		struct err e = ERR_INIT;
		if (f->cb.handoff)
			f->cb.handoff(ev->kv.value, ev->kv.value_len,
			              f->cb.payload);
		etcd_delete(f->etcd, ev->kv.key, false, &e);
	}
	return atomic_load(&f->stop) ? 1 : 0;
}

static void *
watcher(void *arg)
{
	struct fleet *f = arg;
	struct watch_ctx w = { f, strlen(f->prefix), false };

	while (!atomic_load(&f->stop)) {
		struct err e = ERR_INIT;
		int64_t rev = members_read(f), last = 0;
		if (rev < 0) {
			sleep_ms(f, 1000);
			continue;
		}
		if (f->cb.members_changed)
			f->cb.members_changed(f->cb.payload);
		handle_handoffs(f);
		/* From the revision read on: nothing falls in between. */
		if (etcd_watch(f->etcd, f->prefix, rev + 1, on_event, &w,
		               &f->stop, &last, &e) < 0 &&
		    !atomic_load(&f->stop)) {
			log_warn(MOD, "watch_restarted", "err", e.msg);
			sleep_ms(f, 500);
		}
	}
	return NULL;
}

/* ---- the calls ---- */

int
fleet_start(struct fleet **out, const struct fleet_options *o,
            const struct fleet_callbacks *cb, struct err *err)
{
	struct fleet *f = calloc(1, sizeof(*f));
	struct etcd_options eo;
	struct buf p = BUF_INIT;
	int rc;

	*out = NULL;
	if (f == NULL)
		return err_set(err, ERR_NOMEM, "out of memory");
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->wake, NULL);
	f->cb = *cb;
	f->ttl = o->ttl > 0 ? o->ttl : FLEET_DEFAULT_TTL;
	if (o->member_id) {
		if (strlen(o->member_id) >= FLEET_MAX_ID ||
		    strchr(o->member_id, '/') || *o->member_id == '\0') {
			fleet_stop(f);
			return err_set(err, ERR_INVALID,
			               "member id '%s': give at most %d "
			               "characters and no '/'",
			               o->member_id, FLEET_MAX_ID - 1);
		}
		snprintf(f->id, sizeof(f->id), "%s", o->member_id);
	} else {
		char host[40] = "ferry";
		gethostname(host, sizeof(host) - 1);
		host[sizeof(host) - 1] = '\0';
		for (char *c = host; *c; c++)
			if (*c == '/')
				*c = '-';
		snprintf(f->id, sizeof(f->id), "%s-%ld", host, (long)getpid());
	}
	buf_addf(&p, "/ferry/%s/",
	         o->cluster ? o->cluster : FLEET_DEFAULT_CLUSTER);
	f->prefix = buf_detach(&p);
	f->advertise = o->advertise ? strdup(o->advertise) : NULL;
	if (f->prefix == NULL) {
		fleet_stop(f);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	/* A call that hangs on one endpoint must leave time to renew the
	 * lease on the next: renewals come every third of the ttl, so each
	 * endpoint gets at most another third. */
	eo = o->etcd;
	if ((eo.timeout_ms > 0 ? eo.timeout_ms : ETCD_DEFAULT_TIMEOUT_MS) >
	    f->ttl * 1000 / 3)
		eo.timeout_ms = (long)(f->ttl * 1000 / 3);
	if ((rc = etcd_new(&f->etcd, &eo, err)) < 0 ||
	    (rc = register_member(f, err)) < 0) {
		fleet_stop(f);
		return rc;
	}
	if (members_read(f) < 0) {
		fleet_stop(f);
		return err_set(err, ERR_TRANSIENT,
		               "cannot read the fleet's members from etcd");
	}
	if (pthread_create(&f->keeper, NULL, keeper, f) != 0 ||
	    !(f->keeper_started = true) ||
	    pthread_create(&f->watcher, NULL, watcher, f) != 0) {
		fleet_stop(f);
		return err_set(err, ERR_NOMEM,
		               "cannot start the fleet threads");
	}
	f->watcher_started = true;
	*out = f;
	return 0;
}

void
fleet_stop(struct fleet *f)
{
	struct err e = ERR_INIT;

	if (f == NULL)
		return;
	atomic_store(&f->stop, true);
	pthread_mutex_lock(&f->mu);
	pthread_cond_broadcast(&f->wake);
	pthread_mutex_unlock(&f->mu);
	if (f->keeper_started)
		pthread_join(f->keeper, NULL);
	if (f->watcher_started)
		pthread_join(f->watcher, NULL);
	/* Leaving on purpose: the units go at once, not after the ttl. */
	if (f->etcd && f->lease)
		etcd_lease_revoke(f->etcd, f->lease, &e);
	etcd_free(f->etcd);
	for (size_t i = 0; i < f->nmembers; i++)
		free(f->members[i]);
	free(f->members);
	for (size_t i = 0; i < f->nheld; i++)
		free(f->held[i]);
	free(f->held);
	free(f->prefix);
	free(f->advertise);
	pthread_cond_destroy(&f->wake);
	pthread_mutex_destroy(&f->mu);
	free(f);
}

const char *
fleet_member(const struct fleet *f)
{
	return f->id;
}

uint64_t
fleet_requests(struct fleet *f)
{
	return etcd_requests(f->etcd);
}

bool
fleet_healthy(struct fleet *f)
{
	bool ok;

	pthread_mutex_lock(&f->mu);
	ok = f->lease != 0 && mono_ms() - f->last_ok_ms <= f->ttl * 1000;
	pthread_mutex_unlock(&f->mu);
	return ok;
}

static uint64_t
score(const char *member, const char *unit)
{
	crypto_hash_sha256_state st;
	unsigned char h[crypto_hash_sha256_BYTES];
	uint64_t s = 0;

	crypto_hash_sha256_init(&st);
	crypto_hash_sha256_update(&st, (const unsigned char *)member,
	                          strlen(member));
	crypto_hash_sha256_update(&st, (const unsigned char *)"\n", 1);
	crypto_hash_sha256_update(&st, (const unsigned char *)unit,
	                          strlen(unit));
	crypto_hash_sha256_final(&st, h);
	for (int i = 0; i < 8; i++)
		s = (s << 8) | h[i];
	return s;
}

void
fleet_owner_of(struct fleet *f, const char *unit, char out[FLEET_MAX_ID])
{
	uint64_t best = 0;
	bool any = false;

	out[0] = '\0';
	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nmembers; i++) {
		uint64_t s = score(f->members[i], unit);
		if (!any || s > best) {
			best = s;
			any = true;
			snprintf(out, FLEET_MAX_ID, "%s", f->members[i]);
		}
	}
	pthread_mutex_unlock(&f->mu);
}

static bool
held_has(struct fleet *f, const char *unit, bool remove)
{
	bool found = false;

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; i < f->nheld; i++) {
		if (strcmp(f->held[i], unit) != 0)
			continue;
		found = true;
		if (remove) {
			free(f->held[i]);
			f->held[i] = f->held[--f->nheld];
		}
		break;
	}
	pthread_mutex_unlock(&f->mu);
	return found;
}

static void
held_add(struct fleet *f, const char *unit)
{
	char **v;

	pthread_mutex_lock(&f->mu);
	v = realloc(f->held, (f->nheld + 1) * sizeof(*v));
	if (v) {
		f->held = v;
		if ((f->held[f->nheld] = strdup(unit)) != NULL)
			f->nheld++;
	}
	pthread_mutex_unlock(&f->mu);
}

static int64_t
lease_now(struct fleet *f)
{
	int64_t l;

	pthread_mutex_lock(&f->mu);
	l = f->lease;
	pthread_mutex_unlock(&f->mu);
	return l;
}

static void
tell_unavailable(struct fleet *f, const char *why)
{
	bool tell;

	pthread_mutex_lock(&f->mu);
	tell = !f->told_unavailable;
	f->told_unavailable = true;
	pthread_mutex_unlock(&f->mu);
	if (tell)
		log_error(MOD, "unavailable", "member", f->id, "reason", why,
		          "advice",
		          "pushes wait until etcd answers again; status is "
		          "still served");
}

/* Deletes unit's owner key if it is this member's. */
static void
release(struct fleet *f, const char *unit)
{
	struct buf k = BUF_INIT;
	struct err e = ERR_INIT;
	struct etcd_cmp c;
	struct etcd_op del;
	bool ok = false;

	if (owner_key(&k, f, unit) < 0)
		goto out;
	c = (struct etcd_cmp){ k.ptr, ETCD_CMP_VALUE, ETCD_EQUAL, 0, f->id };
	del = (struct etcd_op){ ETCD_OP_DELETE, k.ptr, NULL, 0, 0 };
	if (etcd_txn(f->etcd, &c, 1, &del, 1, NULL, 0, &ok, &e) == 0 && ok)
		log_info(MOD, "released", "member", f->id, "unit", unit);
out:
	held_has(f, unit, true);
	buf_release(&k);
}

enum fleet_claim
fleet_claim(struct fleet *f, const char *unit, struct err *err)
{
	char chosen[FLEET_MAX_ID];
	struct buf k = BUF_INIT;
	struct etcd_cmp c, mine[2];
	struct etcd_op put;
	int64_t lease = lease_now(f);
	bool ok = false;
	enum fleet_claim r;

	if (!fleet_healthy(f) || lease == 0) {
		tell_unavailable(f, "no live lease in etcd");
		err_set(err, ERR_TRANSIENT, "no live lease in etcd");
		return FLEET_UNAVAILABLE;
	}
	fleet_owner_of(f, unit, chosen);
	if (strcmp(chosen, f->id) != 0) {
		if (held_has(f, unit, false))
			release(f, unit);
		return FLEET_NOT_MINE;
	}
	if (held_has(f, unit, false))
		return FLEET_MINE;
	if (owner_key(&k, f, unit) < 0) {
		err_set(err, ERR_NOMEM, "out of memory");
		return FLEET_UNAVAILABLE;
	}
	c = (struct etcd_cmp){ k.ptr, ETCD_CMP_CREATE, ETCD_EQUAL, 0, NULL };
	put = (struct etcd_op){ ETCD_OP_PUT, k.ptr, f->id, strlen(f->id),
		                lease };
	mine[0] = (struct etcd_cmp){ k.ptr, ETCD_CMP_VALUE, ETCD_EQUAL, 0,
		                     f->id };
	mine[1] = (struct etcd_cmp){ k.ptr, ETCD_CMP_LEASE, ETCD_EQUAL, lease,
		                     NULL };
	/* A claim whose answer was lost (a timeout, then the next endpoint)
	 * may have been made all the same: the key is then this member's, on
	 * this lease, and no one else may take it. */
	if (etcd_txn(f->etcd, &c, 1, &put, 1, NULL, 0, &ok, err) < 0 ||
	    (!ok &&
	     etcd_txn(f->etcd, mine, 2, NULL, 0, NULL, 0, &ok, err) < 0)) {
		tell_unavailable(f, err->msg);
		r = FLEET_UNAVAILABLE;
	} else if (ok) {
		if (f->cb.claimed)
			f->cb.claimed(unit, f->cb.payload);
		held_add(f, unit);
		log_info(MOD, "claimed", "member", f->id, "unit", unit);
		r = FLEET_MINE;
	} else {
		r = FLEET_WAIT; /* the previous owner has not let go yet */
	}
	buf_release(&k);
	return r;
}

int
fleet_fence(struct fleet *f, const char *unit, struct err *err)
{
	struct buf k = BUF_INIT;
	struct etcd_cmp c[2];
	int64_t lease = lease_now(f);
	bool ok = false;
	int rc;

	if (lease == 0) {
		held_has(f, unit, true);
		return err_set(err, ERR_CONFLICT,
		               "member '%s' has no live lease: it does not own "
		               "'%s' any more",
		               f->id, unit);
	}
	if (owner_key(&k, f, unit) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	c[0] = (struct etcd_cmp){ k.ptr, ETCD_CMP_VALUE, ETCD_EQUAL, 0, f->id };
	c[1] = (struct etcd_cmp){ k.ptr, ETCD_CMP_LEASE, ETCD_EQUAL, lease,
		                  NULL };
	rc = etcd_txn(f->etcd, c, 2, NULL, 0, NULL, 0, &ok, err);
	buf_release(&k);
	if (rc < 0)
		return err_set(err, ERR_TRANSIENT,
		               "cannot check ownership of '%s' in etcd: %s",
		               unit, err->msg);
	if (!ok) {
		held_has(f, unit, true);
		return err_set(err, ERR_CONFLICT,
		               "member '%s' no longer owns '%s' (its lease "
		               "expired or another member took it over)",
		               f->id, unit);
	}
	return 0;
}

static int
state_key(struct buf *out, const struct fleet *f, const char *kind,
          const char *ns, const char *name)
{
	buf_reset(out);
	buf_addf(out, "%sstate/%s/%s/%s", f->prefix, kind, ns, name);
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

int
fleet_state_get(struct fleet *f, const char *kind, const char *ns,
                const char *name, cJSON **out, struct err *err)
{
	struct buf k = BUF_INIT;
	struct etcd_kv *kvs = NULL;
	size_t n = 0;
	int rc;

	*out = NULL;
	if (state_key(&k, f, kind, ns, name) < 0)
		return err_set(err, ERR_NOMEM, "out of memory");
	rc = etcd_get(f->etcd, k.ptr, false, &kvs, &n, NULL, err);
	if (rc == 0 && n == 0)
		rc = -ERR_NOTFOUND;
	else if (rc == 0)
		rc = json_parse(out, kvs[0].value, kvs[0].value_len, k.ptr,
		                err);
	etcd_kvs_free(kvs, n);
	buf_release(&k);
	return rc;
}

int
fleet_state_put(struct fleet *f, const char *kind, const char *ns,
                const char *name, const cJSON *doc, const char *fence_unit,
                struct err *err)
{
	struct buf k = BUF_INIT, ok_key = BUF_INIT;
	cJSON *copy = cJSON_Duplicate(doc, 1);
	char *text = NULL;
	int rc;

	if (copy == NULL || state_key(&k, f, kind, ns, name) < 0) {
		cJSON_Delete(copy);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	cJSON_DeleteItemFromObjectCaseSensitive(copy, "writer");
	cJSON_AddStringToObject(copy, "writer", f->id);
	text = cJSON_PrintUnformatted(copy);
	cJSON_Delete(copy);
	if (text == NULL) {
		buf_release(&k);
		return err_set(err, ERR_NOMEM, "out of memory");
	}
	if (fence_unit == NULL) {
		rc = etcd_put(f->etcd, k.ptr, text, strlen(text), 0, err);
	} else if (owner_key(&ok_key, f, fence_unit) < 0) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
	} else {
		int64_t lease = lease_now(f);
		struct etcd_cmp c[2] = {
			{ ok_key.ptr, ETCD_CMP_VALUE, ETCD_EQUAL, 0, f->id },
			{ ok_key.ptr, ETCD_CMP_LEASE, ETCD_EQUAL, lease, NULL },
		};
		struct etcd_op put = { ETCD_OP_PUT, k.ptr, text, strlen(text),
			               0 };
		bool ok = false;
		rc = etcd_txn(f->etcd, c, 2, &put, 1, NULL, 0, &ok, err);
		if (rc == 0 && !ok)
			rc = err_set(err, ERR_CONFLICT,
			             "member '%s' no longer owns '%s': its "
			             "record of the push was not written",
			             f->id, fence_unit);
	}
	cJSON_free(text);
	buf_release(&k);
	buf_release(&ok_key);
	return rc;
}

int
fleet_handoff(struct fleet *f, const char *member, const char *json,
              struct err *err)
{
	struct buf k = BUF_INIT;
	int rc;

	buf_addf(&k, "%shandoff/%s/%s-%llu", f->prefix, member, f->id,
	         (unsigned long long)atomic_fetch_add(&f->seq, 1));
	if (!buf_ok(&k))
		return err_set(err, ERR_NOMEM, "out of memory");
	rc = etcd_put(f->etcd, k.ptr, json, strlen(json), lease_now(f), err);
	buf_release(&k);
	return rc;
}

cJSON *
fleet_members_json(struct fleet *f)
{
	cJSON *arr = cJSON_CreateArray();

	pthread_mutex_lock(&f->mu);
	for (size_t i = 0; arr && i < f->nmembers; i++) {
		cJSON *o = cJSON_CreateObject();
		cJSON_AddStringToObject(o, "id", f->members[i]);
		cJSON_AddBoolToObject(o, "self",
		                      strcmp(f->members[i], f->id) == 0);
		cJSON_AddItemToArray(arr, o);
	}
	pthread_mutex_unlock(&f->mu);
	return arr;
}
