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
 * Files are found as Flux finds them: a walk of subpath (a directory, or
 * one file named as below), in name order, over *.yaml, *.yml and files
 * named Kustomization that contain the bytes "$imagepolicy".  Directories named
 * .git are skipped.  Everything is read and written through root (fsroot.h), so
 * nothing outside it is ever opened: subpath must be relative and free of "..";
 * it may go through a symlink that stays inside root (the walk then starts at
 * the link's target and labels files by their real paths).  Below it, symlinked
 * directories are not entered (as Flux's filepath.Walk), and a symlinked
 * file is edited only when it resolves inside root: its target is
 * written, once even when the walk also reaches the target directly.  A
 * link that leads outside is logged and skipped.
 *
 * Every other byte of a file is kept (yamledit.h); a file is written only
 * when a value changed, atomically (fsroot_write), keeping its mode.  The
 * files are read, edited and written as a batch on opts->pool (several at
 * a time, so their fsyncs overlap; NULL: one after the other in the
 * caller); changes, diffs and problems are still reported in walk order.
 *
 * Ownership: root and policies are borrowed for the call; changes (and the
 * files written) are appended to the caller's list (wb_changes_release
 * frees them).
 *
 * Thread safety: reentrant; the items of one call run on opts->pool's
 * threads and the caller's.  Two calls must not edit the same tree at
 * once.
 */
#ifndef FERRY_WRITEBACK_SETTERS_H
#define FERRY_WRITEBACK_SETTERS_H

#include <stdbool.h>
#include <stddef.h>

#include "base/err.h"
#include "base/fsroot.h"
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
 * Applies the setters for npolicies policies to every file under subpath
 * (relative to root; NULL or "" is root itself).  Changes (file relative
 * to root, line, the document's apiVersion/kind/namespace/name, old, new,
 * setter name) are appended to changes for the files that were written
 * (or, with opts->dry_run, would be).  A file that cannot be read, parsed
 * or edited is left alone, logged and counted; the walk goes on and the
 * call then returns -ERR_INVALID with the first such file's message
 * (changes still holds the others').  -ERR_NOMEM; -ERR_INVALID for a
 * subpath that is absolute, holds "..", or leads outside root;
 * -ERR_NOTFOUND when it does not exist.
 */
int setters_apply(const struct fsroot *root, const char *subpath,
                  const struct setters_policy *policies, size_t npolicies,
                  const struct yamledit_opts *opts, struct wb_changes *changes,
                  struct err *err);

#endif
