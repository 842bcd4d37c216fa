/*
 * state.h - ferry's state directory: what it learned between runs (tag
 * lists, policy results, last pushes), as small JSON documents, and the
 * hand-off between the pipeline's stages (a scan writes a tag list that
 * the policy stage reads; a policy writes the latestRef that the
 * automation stage reads).
 *
 * Layout: DIR/objects/<kind>/<namespace>/<name>.json, written atomically
 * (temporary file, fsync, rename), so a crash leaves the old or the new
 * document, never a torn one.  DIR/lock is held (flock) while a struct state
 * is open, so two ferry processes never share a state directory.  Git
 * clones live beside them in DIR/git/ (writeback/git.h).
 *
 * Every document read or written is kept in memory too (a missing one as
 * "none"), so a stage reads the hand-off from memory, and a daemon reads
 * the disk once per object.  Tag lists are kept apart from the rest of an
 * ImageRepository's document, packed (one block per list, shared by
 * reference count), because they are most of the state's size: a daemon
 * with 1,000 repositories of 1,000 tags holds them in a few MB instead of a
 * tree of a million JSON nodes.
 *
 * A document may also be put in memory only (state_put_memory): it shadows
 * the disk for the life of the struct state and is never written.  `ferry
 * plan` hands its policy results on that way without recording them.
 *
 * Ownership: documents handed out are copies owned by the caller
 * (cJSON_Delete); tag lists are shared and released with
 * state_tags_unref().
 * Thread safety: any number of threads may use one struct state at once;
 * two puts of the same document must not race each other (the callers
 * never run one object's stage twice at once).
 */
#ifndef FERRY_CORE_STATE_H
#define FERRY_CORE_STATE_H

#include <cjson/cJSON.h>
#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"

#define STATE_KIND_IMAGEREPOSITORY "ImageRepository"

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
 * Reads the document for kind/namespace/name into *out (a copy).
 * -ERR_NOTFOUND when there is none; -ERR_INVALID when it does not parse
 * (the caller treats that as none and logs it).  An ImageRepository's
 * document comes without its tag list: read that with state_tags_get().
 */
int state_get(struct state *st, const char *kind, const char *ns,
              const char *name, cJSON **out, struct err *err);

/*
 * Calls fn(doc, payload) with the document for kind/namespace/name (NULL
 * when there is none), borrowed for the call only: fn runs under the
 * store's lock, so it copies what it needs and calls nothing of the state.
 * For readers of many documents that want part of each (the status page),
 * where state_get's whole copy is most of the cost.  Errors as state_get,
 * except that a missing document is fn(NULL) and 0.  An ImageRepository's
 * document comes without its tag list.
 */
int state_read(struct state *st, const char *kind, const char *ns,
               const char *name, void (*fn)(const cJSON *doc, void *payload),
               void *payload, struct err *err);

/* Writes the document for kind/namespace/name atomically. */
int state_put(struct state *st, const char *kind, const char *ns,
              const char *name, const cJSON *doc, struct err *err);

/* Puts the document in memory only; the disk keeps what it had. */
int state_put_memory(struct state *st, const char *kind, const char *ns,
                     const char *name, const cJSON *doc, struct err *err);

/* The tags of one ImageRepository, sorted as the scan gave them. */
struct state_tags;

/*
 * The tag list last stored for ImageRepository ns/name, or -ERR_NOTFOUND.
 * *out is a shared reference (state_tags_unref).
 */
int state_tags_get(struct state *st, const char *ns, const char *name,
                   struct state_tags **out, struct err *err);

/*
 * Stores a scan's result for ImageRepository ns/name: the tags (digests[i]
 * may be NULL, or digests itself) and the document of its other fields
 * (image, scanTime, ...; doc may be NULL), written as one document.
 * *changed_out (may be NULL) tells whether the tag list or the digests
 * differ from the stored ones.
 */
int state_tags_put(struct state *st, const char *ns, const char *name,
                   const cJSON *doc, const char *const *names,
                   const char *const *digests, size_t n, bool *changed_out,
                   struct err *err);

/*
 * Forgets the tag list of ImageRepository ns/name (the document's other
 * fields stay, its image and last scan error go): a policy reading it
 * waits for the next scan.  A member of a fleet does this when it takes a
 * repository over, since its list is from before another member's scans.
 */
int state_tags_forget(struct state *st, const char *ns, const char *name,
                      struct err *err);

size_t state_tags_count(const struct state_tags *t);
const char *state_tags_name(const struct state_tags *t, size_t i);
/* NULL when the scan did not ask for (or find) the digest. */
const char *state_tags_digest(const struct state_tags *t, size_t i);
/* The image the tags were scanned for ("" when unknown). */
const char *state_tags_image(const struct state_tags *t);

/* Releases a reference; NULL is a no-op. */
void state_tags_unref(struct state_tags *t);

#endif
