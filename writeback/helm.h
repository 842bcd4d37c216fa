/*
 * helm.h - setting keys of a Helm values file, byte for byte.
 *
 * A key is a dotted path with list indexes: image.tag,
 * controller.image.digest, sidecars[1].image, a.b[0][2].c.  Each part
 * names a mapping key (any characters but '.', '[' and ']') or, in
 * brackets, an index into a sequence.  An existing scalar keeps its
 * quoting style; missing mapping keys are created, nested as needed, at
 * the indentation of their siblings (or two spaces under their parent
 * when it has none).  A missing list index, a flow-style mapping that
 * would need a new key, a path through a scalar, and a block-scalar value
 * are errors.  Values are checked against the image reference grammar
 * (a reference, a name, a tag or a digest).
 *
 * The file is read and written through a root (fsroot.h): its path is
 * relative to the root, without "..", and symlinks are followed only while
 * they stay inside the root (a link's target is what gets written).
 *
 * Ownership: root and values are borrowed; changes are appended to the
 * caller's list (setter = the key as given; old "" for a created key; line
 * is where the value is in the written file), and the file's real path to
 * its files when it was written.
 *
 * Thread safety: reentrant; one call per file at a time.
 */
#ifndef FERRY_WRITEBACK_HELM_H
#define FERRY_WRITEBACK_HELM_H

#include <stddef.h>

#include "base/err.h"
#include "base/fsroot.h"
#include "writeback/change.h"
#include "writeback/yamledit.h"

struct helm_value {
	const char *key;
	const char *value;
};

/* Parses "KEY=VALUE" in place (arg modified, out points into it) and
 * checks the key's syntax and the value's grammar.  -ERR_INVALID. */
int helm_value_parse(struct helm_value *out, char *arg, struct err *err);

/*
 * Sets the n values in file (a single-document values file, relative to
 * root) in order.  label names the file in changes, messages and diffs
 * (NULL: file).  The file is written once, only when it changed.
 * -ERR_INVALID (a rule above, a file that does not parse, a path outside
 * root), -ERR_NOTFOUND (no such file), -ERR_NOMEM.
 */
int helm_set_values(const struct fsroot *root, const char *file,
                    const char *label, const struct helm_value *vals, size_t n,
                    const struct yamledit_opts *opts,
                    struct wb_changes *changes, struct err *err);

#endif
