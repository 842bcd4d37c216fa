/*
 * fleet.h - several ferry daemons as one fleet, coordinated through etcd
 * (core/fleet/etcd.h): membership, ownership of units of work, fencing of
 * pushes, the state a takeover needs, and webhooks handed to the owner.
 *
 * Keys, under /ferry/<cluster>/ :
 *   members/<id>            the member's description, bound to its lease
 *   owners/<sha256(unit)>   the member that owns a unit, bound to the
 *                           owner's lease (created in a transaction)
 *   state/<kind>/<ns>/<name> a document a takeover needs (a policy's
 *                           latestRef, an automation's last push)
 *   handoff/<id>/<seq>      work for member <id> (a webhook another
 *                           member verified)
 *
 * Membership: a member registers with a lease (ttl seconds) and keeps it
 * alive; a member whose process dies, pauses or loses etcd for longer than
 * the ttl drops out, and its owner keys go with its lease.
 *
 * Ownership: a unit (a Git remote for automations, an ImageRepository for
 * scans and the policies on it) belongs to the live member that rendezvous
 * hashing picks: the highest sha256(member, unit).  A member runs a unit
 * only after claiming its owner key; when membership changes, the member
 * that is no longer chosen releases the key after its run in flight, and
 * only then can the new one claim it, so two members never run one unit.
 *
 * Fencing: right before a push, fleet_fence() checks in one transaction
 * that the owner key is still this member's and bound to its live lease;
 * a member that was paused past its lease (its key gone with the lease)
 * learns there that it lost the unit and does not push.  The push itself
 * is a compare-and-swap on the remote's branch, so even a pause between
 * the check and the push cannot overwrite the new owner's commit.  The
 * state that records a push is written in a transaction conditioned on
 * the same key.
 *
 * Thread safety: every call may come from any thread; the callbacks run
 * on the fleet's watch thread.
 */
#ifndef FERRY_CORE_FLEET_H
#define FERRY_CORE_FLEET_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/err.h"
#include "fleet/etcd.h"

#define FLEET_DEFAULT_CLUSTER "ferry"
#define FLEET_DEFAULT_TTL 10 /* seconds */
#define FLEET_MAX_MEMBERS 256
#define FLEET_MAX_ID 64

/* What the fleet tells the daemon, on its watch thread. */
struct fleet_callbacks {
	/* the member list changed: ownership must be looked at again */
	void (*members_changed)(void *payload);
	/* another member stored a document (a policy's latestRef) */
	void (*state_changed)(const char *kind, const char *ns,
	                      const char *name, void *payload);
	/* another member handed this one work: JSON it wrote */
	void (*handoff)(const char *json, size_t len, void *payload);
	/* the lease was lost (etcd unreachable past the ttl, or expired):
	 * every unit is gone; the fleet registers again when it can */
	void (*lease_lost)(void *payload);
	/* this member has just won unit's owner key, on the thread calling
	 * fleet_claim(), before any run of the unit may start: what it
	 * cached about the unit is from before another member's runs */
	void (*claimed)(const char *unit, void *payload);
	void *payload;
};

struct fleet_options {
	struct etcd_options etcd;
	const char *cluster;   /* NULL: FLEET_DEFAULT_CLUSTER */
	const char *member_id; /* NULL: hostname-pid */
	const char *advertise; /* shown to others (the listen address) */
	int64_t ttl;           /* seconds; 0: FLEET_DEFAULT_TTL; each etcd
	                          call waits at most a third of it on one
	                          endpoint */
};

#define FLEET_OPTIONS_INIT                                                     \
	{                                                                      \
		ETCD_OPTIONS_INIT, NULL, NULL, NULL, 0                         \
	}

struct fleet;

/*
 * Connects, registers this member and starts the keepalive and watch
 * threads.  -ERR_TRANSIENT when etcd cannot be reached at all.
 */
int fleet_start(struct fleet **out, const struct fleet_options *opts,
                const struct fleet_callbacks *cb, struct err *err);

/* Revokes the lease (every owner key goes with it) and stops; NULL is a
 * no-op. */
void fleet_stop(struct fleet *f);

/* This member's id; borrowed. */
const char *fleet_member(const struct fleet *f);

/* true while the lease is alive and etcd answered within the ttl. */
bool fleet_healthy(struct fleet *f);

/* etcd requests made so far (for the rate at rest). */
uint64_t fleet_requests(struct fleet *f);

/*
 * The live member rendezvous hashing picks for unit, into out (""
 * when the member list is not known).
 */
void fleet_owner_of(struct fleet *f, const char *unit, char out[FLEET_MAX_ID]);

enum fleet_claim {
	FLEET_MINE,        /* this member holds the owner key: run it */
	FLEET_NOT_MINE,    /* another member is chosen */
	FLEET_WAIT,        /* chosen, but the previous owner still holds it */
	FLEET_UNAVAILABLE, /* etcd cannot be reached, or no lease: run
	                      nothing that writes */
};

/*
 * Makes sure this member holds unit when it is the chosen one (claiming
 * the owner key in a transaction), and releases it when it is not.
 */
enum fleet_claim fleet_claim(struct fleet *f, const char *unit,
                             struct err *err);

/*
 * Checks, in one transaction, that this member still holds unit's owner
 * key on its live lease.  0, or -ERR_CONFLICT (lost: do not push) or
 * -ERR_TRANSIENT (etcd unreachable: do not push).
 */
int fleet_fence(struct fleet *f, const char *unit, struct err *err);

/*
 * The shared copy of a document, or -ERR_NOTFOUND.  *out is the caller's.
 */
int fleet_state_get(struct fleet *f, const char *kind, const char *ns,
                    const char *name, cJSON **out, struct err *err);

/*
 * Stores the shared copy of a document.  With fence_unit, only while this
 * member holds that unit (one transaction): -ERR_CONFLICT otherwise.
 */
int fleet_state_put(struct fleet *f, const char *kind, const char *ns,
                    const char *name, const cJSON *doc, const char *fence_unit,
                    struct err *err);

/* Hands work (JSON) to member id; it arrives there through handoff. */
int fleet_handoff(struct fleet *f, const char *member, const char *json,
                  struct err *err);

/* The live members' ids and what they advertise, as a JSON array. */
cJSON *fleet_members_json(struct fleet *f);

#endif
