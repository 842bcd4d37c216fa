/*
 * change.h - the list of edits a write-back made, which commit messages are
 * built from (Flux's update.Result, Argo CD's change list).
 *
 * Every editor (setters, kustomize images, Helm values) appends one
 * struct wb_change per value it changed; the template data models
 * (template_model.h) read the list.  Beside the changes, the list holds the
 * files the editors wrote (or, in a dry run, would write), each once, as
 * canonical paths relative to the editor's root: the target of a symlinked
 * file, not the link.  That is what a commit must stage, while a change's
 * file is the path the walk found (the link, as Flux reports it).
 *
 * Ownership: a wb_changes list owns every string in it; wb_changes_add()
 * and wb_changes_add_file() copy their arguments.  Strings never NULL
 * inside the list ("" when unknown).
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
	char **files; /* files written, in the order first written */
	size_t nfiles;
	size_t capfiles;
};

#define WB_CHANGES_INIT                                                        \
	{                                                                      \
		NULL, 0, 0, NULL, 0, 0                                         \
	}

/* Appends a copy of *c (NULL strings become ""). 0 or -ERR_NOMEM. */
int wb_changes_add(struct wb_changes *list, const struct wb_change *c);

/* Appends a copy of path to files unless it is there already.  0 or
 * -ERR_NOMEM. */
int wb_changes_add_file(struct wb_changes *list, const char *path);

/* Frees every change and file and returns the list to WB_CHANGES_INIT. */
void wb_changes_release(struct wb_changes *list);

#endif
