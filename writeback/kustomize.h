/*
 * kustomize.h - `kustomize edit set image` on a kustomization's images:
 * list, byte for byte.
 *
 * An image argument is NAME[=NEWNAME][:TAG][@DIGEST] (kustomize's own
 * syntax).  As in kustomize, the argument describes the whole entry for
 * NAME: newName, newTag and digest are set when given and removed when
 * not; "*" as NEWNAME, TAG or DIGEST keeps what the entry has (and
 * removes it when the entry has none), as `kustomize edit set image
 * 'name=*:tag'` does.  Without '=NEWNAME' a TAG or a
 * DIGEST is required.  The entry whose name is NAME is updated in place;
 * when there is none a new entry is appended to images: (after the last
 * one, with the list's indentation); when images: is missing it is added
 * at the end of the document.  Entries are not re-sorted.
 *
 * Limits (refused with -ERR_INVALID, file untouched): a kustomization of
 * more than one document, a flow-style root, a non-empty flow-style
 * images: list or entry, removing a key that shares its line with the
 * entry's '-', block-scalar values.
 *
 * The kustomization is found, read and written through a root (fsroot.h):
 * dir is relative to it, must not hold "..", and may go through symlinks
 * only while they stay inside the root; the kustomization file itself
 * must be a regular file, not a link.  File names in changes, messages
 * and diffs are the file's real path relative to the root.
 *
 * Ownership: root and images are borrowed; changes are appended to the
 * caller's list (setter "images[NAME].newTag" and so on; old "" when a
 * key is added, new "" when it is removed; line is where the value is in
 * the written file, the entry's name line for a removed key), and the
 * file to its files when it was written.
 *
 * Thread safety: reentrant; one call per directory at a time.
 */
#ifndef FERRY_WRITEBACK_KUSTOMIZE_H
#define FERRY_WRITEBACK_KUSTOMIZE_H

#include <stddef.h>

#include "base/err.h"
#include "base/fsroot.h"
#include "writeback/change.h"
#include "writeback/yamledit.h"

struct kustomize_image {
	const char *name;
	const char *new_name; /* NULL: remove newName */
	const char *new_tag;  /* NULL: remove newTag */
	const char *digest;   /* NULL: remove digest */
};

/* Parses an image argument in place (arg is modified, out points into
 * it) and checks each part against the reference grammar.  -ERR_INVALID. */
int kustomize_image_parse(struct kustomize_image *out, char *arg,
                          struct err *err);

/*
 * Finds the kustomization file of dir (kustomization.yaml,
 * kustomization.yml or Kustomization; exactly one must exist) beneath
 * root and sets the n images in it.  -ERR_NOTFOUND (no kustomization, or
 * no dir), -ERR_INVALID (a limit above, a file that does not parse, two
 * images with one name, a dir that is absolute, holds ".." or leads
 * outside root), -ERR_NOMEM.
 */
int kustomize_set_images(const struct fsroot *root, const char *dir,
                         const struct kustomize_image *imgs, size_t n,
                         const struct yamledit_opts *opts,
                         struct wb_changes *changes, struct err *err);

/*
 * The name of the images entry in dir's kustomization whose name or
 * newName is image, into *out (the caller frees it); *out is NULL when
 * dir has no kustomization or no entry matches.  Errors as
 * kustomize_set_images() for a file that cannot be read or parsed and for
 * a dir outside root.
 */
int kustomize_image_entry(char **out, const struct fsroot *root,
                          const char *dir, const char *image, struct err *err);

#endif
