/*
 * setters.h - Flux image-policy setter markers, applied byte for byte.
 *
 * A scalar whose line comment (or, failing that, its one-line head
 * comment) is exactly a JSON object of strings holding
 * "$imagepolicy": "NS:NAME[:tag|:name|:digest]" is a setter.  For a known
 * policy NS/NAME the scalar gets:
 *   NS:NAME          the full reference, image:tag[@digest]
 *   NS:NAME:tag      the tag
 *   NS:NAME:name     the image name as the policy has it
 *   NS:NAME:digest   the digest, empty when the policy reflects none (as
 *                    Flux does: an old digest beside a new tag would run
 *                    the old image); the emptying is noted and logged
 * Markers for unknown policies, other suffixes, mapping keys, block
 * scalars and empty values are left alone (the last two are reported).
 * With opts->notes, a marker naming a policy not given and an emptied
 * digest are noted there ("FILE:LINE: ...").
 *
 * Files are found as Flux finds them: a walk of root/subpath (root may
 * also be one file, with subpath "."), in name order, over *.yaml, *.yml and
 * files named Kustomization that contain the bytes "$imagepolicy".  Symlinked
 * directories are not entered; a symlinked file is edited only when it resolves
 * inside root (the target is written).  subpath must be relative and free of
 * "..".  Directories named .git are skipped.
 *
 * Every other byte of a file is kept (yamledit.h); a file is written only
 * when a value changed, atomically (file_write_atomic), keeping its mode.
 * Edited files are written after the walk by a few threads at once, so
 * their fsyncs overlap; the change list is still in walk order.
 *
 * Ownership: policies are borrowed for the call; changes are appended to
 * the caller's list (wb_changes_release frees them).
 *
 * Thread safety: reentrant (it starts and joins its own writer threads);
 * two calls must not edit the same tree at once.
 */
#ifndef FERRY_WRITEBACK_SETTERS_H
#define FERRY_WRITEBACK_SETTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "writeback/change.h"
#include "writeback/yamledit.h"

/* A policy's latest image, as the setters see it.  Strings borrowed. */
struct setters_policy {
	const char *namespace_;
	const char *name;
	const char *image;  /* repository as the policy has it */
	const char *tag;    /* "" or NULL when the policy selects by digest */
	const char *digest; /* "" or NULL when none is known */
};

#define SETTERS_MAX_NAME 512 /* longest setter name kept from a marker */

/*
 * If comment[0..len) (a comment's text after '#', spaces trimmed) is a
 * setter marker, copies its setter ("NS:NAME[:SUFFIX]") into name and
 * returns true.  The grammar is Flux's: the comment is exactly a JSON
 * object of strings holding "$imagepolicy".
 */
bool setters_marker_parse(const char *comment, size_t len,
                          char name[SETTERS_MAX_NAME]);

/*
 * Parses "NS:NAME=REF" (the --policy argument) in place: arg is modified
 * and out points into it.  REF is IMAGE[:TAG][@DIGEST] and is checked
 * against the reference grammar.  -ERR_INVALID with a message otherwise.
 */
int setters_policy_parse(struct setters_policy *out, char *arg,
                         struct err *err);

/*
 * Applies the setters for npolicies policies to every file under
 * root/subpath.  Changes (file relative to root, line, the document's
 * apiVersion/kind/namespace/name, old, new, setter name) are appended to
 * changes for the files that were written (or, with opts->dry_run, would
 * be).  A file that cannot be read, parsed or edited is left alone, logged
 * and counted; the walk goes on and the call then returns -ERR_INVALID
 * with the first such file's message (changes still holds the others').
 * -ERR_NOMEM; -ERR_INVALID for a bad root or subpath.
 */
int setters_apply(const char *root, const char *subpath,
                  const struct setters_policy *policies, size_t npolicies,
                  const struct yamledit_opts *opts, struct wb_changes *changes,
                  struct err *err);

#endif
