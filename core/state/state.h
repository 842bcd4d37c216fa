/*
 * state.h - ferry's state directory: what it learned between runs (tag
 * lists, policy results, last pushes), as small JSON documents.
 *
 * Layout: DIR/objects/<kind>/<namespace>/<name>.json, written atomically
 * (temporary file, fsync, rename), so a crash leaves the old or the new
 * document, never a torn one.  DIR/lock is held (flock) while a struct state
 * is open, so two ferry processes never share a state directory.  Git
 * clones live beside them in DIR/git/ (writeback/git.h).
 *
 * Ownership: documents handed out are owned by the caller (cJSON_Delete).
 * Thread safety: one thread at a time per struct state.
 */
#ifndef FERRY_CORE_STATE_H
#define FERRY_CORE_STATE_H

#include <cjson/cJSON.h>

#include "base/buf.h"
#include "base/err.h"

struct state;

/*
 * The default state directory: $XDG_STATE_HOME/ferry, else
 * /var/lib/ferry for root, else $HOME/.local/state/ferry.  Appends to out.
 */
int state_default_dir(struct buf *out);

/*
 * Opens (creating it if needed) the state directory dir and takes its lock.
 * -ERR_CONFLICT when another process holds it.
 */
int state_open(struct state **out, const char *dir, struct err *err);

/* Releases the lock and frees; NULL is a no-op. */
void state_free(struct state *st);

/* The directory; borrowed. */
const char *state_dir(const struct state *st);

/*
 * Reads the document for kind/namespace/name into *out.  -ERR_NOTFOUND
 * when there is none; -ERR_INVALID when it does not parse (the caller
 * treats that as none and logs it).
 */
int state_get(struct state *st, const char *kind, const char *ns,
              const char *name, cJSON **out, struct err *err);

/* Writes the document for kind/namespace/name atomically. */
int state_put(struct state *st, const char *kind, const char *ns,
              const char *name, const cJSON *doc, struct err *err);

#endif
