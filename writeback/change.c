/*
 * change.c - the owned list of changes editors report.  It does not sort or
 * deduplicate: the template data model decides how to present them.
 */
#include "change.h"
#include "base/err.h"

#include <stdlib.h>
#include <string.h>

static char *
dup_or_empty(const char *s)
{
	return strdup(s ? s : "");
}

static void
change_release(struct wb_change *c)
{
	free(c->file);
	free(c->api_version);
	free(c->kind);
	free(c->namespace_);
	free(c->name);
	free(c->old_value);
	free(c->new_value);
	free(c->setter);
	memset(c, 0, sizeof(*c));
}

int
wb_changes_add(struct wb_changes *list, const struct wb_change *c)
{
	struct wb_change copy;

	if (list->n == list->cap) {
		size_t cap = list->cap ? list->cap * 2 : 8;
		struct wb_change *v = reallocarray(list->v, cap, sizeof(*v));
		if (v == NULL)
			return -ERR_NOMEM;
		list->v = v;
		list->cap = cap;
	}
	copy.file = dup_or_empty(c->file);
	copy.line = c->line;
	copy.api_version = dup_or_empty(c->api_version);
	copy.kind = dup_or_empty(c->kind);
	copy.namespace_ = dup_or_empty(c->namespace_);
	copy.name = dup_or_empty(c->name);
	copy.old_value = dup_or_empty(c->old_value);
	copy.new_value = dup_or_empty(c->new_value);
	copy.setter = dup_or_empty(c->setter);
	if (!copy.file || !copy.api_version || !copy.kind || !copy.namespace_ ||
	    !copy.name || !copy.old_value || !copy.new_value || !copy.setter) {
		change_release(&copy);
		return -ERR_NOMEM;
	}
	list->v[list->n++] = copy;
	return 0;
}

int
wb_changes_add_file(struct wb_changes *list, const char *path)
{
	char *copy;

	/* A linear scan: an editor adds each of its files once, so the
	 * scan only finds repeats across editors (a kustomization set once
	 * per policy), and it keeps the order files were written in. */
	for (size_t i = list->nfiles; i > 0; i--)
		if (strcmp(list->files[i - 1], path) == 0)
			return 0;
	if (list->nfiles == list->capfiles) {
		size_t cap = list->capfiles ? list->capfiles * 2 : 8;
		char **v = reallocarray(list->files, cap, sizeof(*v));
		if (v == NULL)
			return -ERR_NOMEM;
		list->files = v;
		list->capfiles = cap;
	}
	copy = strdup(path);
	if (copy == NULL)
		return -ERR_NOMEM;
	list->files[list->nfiles++] = copy;
	return 0;
}

void
wb_changes_release(struct wb_changes *list)
{
	for (size_t i = 0; i < list->n; i++)
		change_release(&list->v[i]);
	free(list->v);
	list->v = NULL;
	list->n = list->cap = 0;
	for (size_t i = 0; i < list->nfiles; i++)
		free(list->files[i]);
	free(list->files);
	list->files = NULL;
	list->nfiles = list->capfiles = 0;
}
