/*
 * change.h - the list of edits a write-back made, which commit messages are
 * built from (Flux's update.Result, Argo CD's change list).
 *
 * Every editor (setters, kustomize images, Helm values) appends one
 * struct wb_change per value it changed; the template data models
 * (template_model.h) read the list.
 *
 * Ownership: a wb_changes list owns every string in it; wb_changes_add()
 * copies its argument's strings.  Strings never NULL inside the list (""
 * when unknown).
 *
 * Thread safety: one thread at a time.
 */
#ifndef FERRY_WRITEBACK_CHANGE_H
#define FERRY_WRITEBACK_CHANGE_H

#include <stddef.h>

struct wb_change {
	char *file;        /* path relative to the root the editor was given */
	unsigned line;     /* 1-based line of the value in the file */
	char *api_version; /* object identifier (Flux's ObjectIdentifier); */
	char *kind;        /* "" where the document has none (a values file) */
	char *namespace_;
	char *name;
	char *old_value;
	char *new_value;
	char *setter; /* "ns:policy[:tag|:name|:digest]", or the key edited
	                 ("images[name].newTag", "image.tag") */
};

struct wb_changes {
	struct wb_change *v;
	size_t n;
	size_t cap;
};

#define WB_CHANGES_INIT                                                        \
	{                                                                      \
		NULL, 0, 0                                                     \
	}

/* Appends a copy of *c (NULL strings become ""). 0 or -ERR_NOMEM. */
int wb_changes_add(struct wb_changes *list, const struct wb_change *c);

/* Frees every change and returns the list to WB_CHANGES_INIT. */
void wb_changes_release(struct wb_changes *list);

#endif
