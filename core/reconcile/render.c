/*
 * render.c - a Kustomization's path as manifests.  A directory with a
 * kustomization file is built by the kustomize the machine has: a
 * configured command, else `kustomize build DIR`, else `kubectl
 * kustomize DIR` (kubectl bundles kustomize); ferry does not carry its
 * own.  A directory without one contributes its *.yaml and *.yml files in
 * path order, and a subdirectory with a kustomization file is built, as
 * Flux generates a kustomization.yaml for such a path.
 *
 * Every file ferry reads itself goes through an fsroot on the clone, so
 * links that lead out of it are refused.  It does not apply Flux's
 * Kustomization overlay fields (images, patches, namePrefix, ...): the
 * stage refuses those.
 */
#include "reconcile.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsroot.h"
#include "base/util.h"

static const char *const kustomization_files[] = { "kustomization.yaml",
	                                           "kustomization.yml",
	                                           "Kustomization", NULL };

#define RENDER_MAX_FILES 10000

/* Does directory rel of root hold a kustomization file? */
static bool
has_kustomization(const struct fsroot *root, const char *rel)
{
	for (size_t i = 0; kustomization_files[i]; i++) {
		struct buf p = BUF_INIT;
		struct stat st;
		struct err e = ERR_INIT;
		bool found;

		if (*rel)
			buf_addf(&p, "%s/%s", rel, kustomization_files[i]);
		else
			buf_puts(&p, kustomization_files[i]);
		found = buf_ok(&p) &&
		        fsroot_lstat(root, p.ptr, 0, &st, &e) == 0;
		buf_release(&p);
		if (found)
			return true;
	}
	return false;
}

/* Runs kustomize on dir (absolute); its output appended to out. */
static int
kustomize(struct buf *out, const char *dir,
          const struct reconcile_render_opts *o, struct err *err)
{
	static const char *const builtin[] = { "kustomize build",
		                               "kubectl kustomize" };
	struct buf line = BUF_INIT, output = BUF_INIT;
	struct err e = ERR_INIT;
	int rc = -ERR_NOTFOUND;

	for (size_t i = 0; i < 2 && rc == -ERR_NOTFOUND; i++) {
		const char *cmd = o->kustomize ? o->kustomize : builtin[i];
		buf_reset(&line);
		buf_reset(&output);
		/* the directory as one quoted word */
		buf_addf(&line, "%s '", cmd);
		for (const char *c = dir; *c; c++) {
			if (*c == '\'')
				buf_puts(&line, "'\\''");
			else
				buf_putc(&line, *c);
		}
		buf_putc(&line, '\'');
		if (!buf_ok(&line)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		err_clear(&e);
		output.max = RECONCILE_MAX_RENDER;
		rc = reconcile_command_run("kustomize", line.ptr, NULL, NULL, 0,
		                           o->timeout_ms, &output, NULL, &e);
		if (o->kustomize)
			break;
	}
	if (rc == -ERR_NOTFOUND && o->kustomize == NULL) {
		rc = err_set(
		        err, ERR_NOTFOUND,
		        "'%s' has a kustomization file, but neither "
		        "'kustomize' nor 'kubectl' is on PATH: install one "
		        "(Debian: kubernetes-client) or name a command with "
		        "--kustomize-command",
		        dir);
	} else if (rc < 0) {
		err_set(err, -rc, "%s", e.msg);
	}
	buf_release(&line);
	if (rc < 0) {
		buf_release(&output);
		return rc;
	}
	buf_add(out, output.ptr ? output.ptr : "", output.len);
	buf_release(&output);
	return buf_ok(out) ? 0 : err_set(err, ERR_NOMEM, "out of memory");
}

static bool
yaml_name(const char *name)
{
	size_t n = strlen(name);

	return (n > 5 && strcmp(name + n - 5, ".yaml") == 0) ||
	       (n > 4 && strcmp(name + n - 4, ".yml") == 0);
}

struct walk {
	const struct fsroot *root;
	const char *root_dir;
	const struct reconcile_render_opts *opts;
	struct buf *out;
	size_t files;
};

static int
add_document(struct buf *out, const char *text, size_t len)
{
	buf_puts(out, "---\n");
	buf_add(out, text, len);
	if (len > 0 && text[len - 1] != '\n')
		buf_putc(out, '\n');
	return buf_ok(out) ? 0 : -ERR_NOMEM;
}

static int
walk_dir(struct walk *w, const char *rel, int depth, struct err *err)
{
	struct fsroot_list l = FSROOT_LIST_INIT;
	struct buf child = BUF_INIT, text = BUF_INIT;
	int rc;

	if (depth > FSROOT_MAX_DEPTH)
		return err_set(err, ERR_INVALID, "'%s' is nested too deep",
		               rel);
	if ((rc = fsroot_list(w->root, rel, 0, &l, err)) < 0)
		return rc;
	for (size_t i = 0; i < l.n && rc == 0; i++) {
		const struct fsroot_entry *e = &l.v[i];
		buf_reset(&child);
		if (e->name[0] == '.')
			continue;
		if (*rel)
			buf_addf(&child, "%s/%s", rel, e->name);
		else
			buf_puts(&child, e->name);
		if (!buf_ok(&child)) {
			rc = err_set(err, ERR_NOMEM, "out of memory");
			break;
		}
		if (e->type == FSROOT_DIR) {
			if (has_kustomization(w->root, child.ptr)) {
				struct buf abs = BUF_INIT;
				buf_addf(&abs, "%s/%s", w->root_dir, child.ptr);
				rc = buf_ok(&abs) ? kustomize(w->out, abs.ptr,
				                              w->opts, err)
				                  : err_set(err, ERR_NOMEM,
				                            "out of memory");
				buf_release(&abs);
			} else {
				rc = walk_dir(w, child.ptr, depth + 1, err);
			}
			continue;
		}
		/* files, and links to files inside the clone */
		if ((e->type != FSROOT_FILE && e->type != FSROOT_LINK) ||
		    !yaml_name(e->name))
			continue;
		if (++w->files > RENDER_MAX_FILES) {
			rc = err_set(err, ERR_INVALID,
			             "more than %d YAML files under the path",
			             RENDER_MAX_FILES);
			break;
		}
		buf_reset(&text);
		if ((rc = fsroot_read(w->root, child.ptr, 0, FILE_MAX_SIZE,
		                      &text, err)) < 0) {
			err_prefix(err, "'%s'", child.ptr);
			break;
		}
		if (add_document(w->out, text.ptr ? text.ptr : "", text.len) <
		    0)
			rc = err_set(err, ERR_NOMEM, "out of memory");
	}
	fsroot_list_release(&l);
	buf_release(&child);
	buf_release(&text);
	return rc;
}

int
reconcile_render(struct buf *out, const char *root_dir, const char *path,
                 const struct reconcile_render_opts *opts, struct err *err)
{
	struct reconcile_render_opts def = RECONCILE_RENDER_OPTS_INIT;
	struct fsroot *root = NULL;
	struct buf rel = BUF_INIT, abs = BUF_INIT;
	struct stat st;
	int rc;

	if (opts == NULL)
		opts = &def;
	while (path && path[0] == '.' && path[1] == '/')
		path += 2;
	if (path == NULL || strcmp(path, ".") == 0)
		path = "";
	if (*path && (rc = fsroot_path_check(path, err)) < 0) {
		err_prefix(err, "spec.path");
		return rc;
	}
	if ((rc = fsroot_open(&root, root_dir, 0, err)) < 0)
		return rc;
	/* the directory as the clone resolves it (links inside followed) */
	if ((rc = fsroot_realpath(root, path, 0, &rel, err)) < 0) {
		err_prefix(err, "spec.path '%s'", path);
		goto out;
	}
	if ((rc = fsroot_lstat(root, rel.ptr ? rel.ptr : "", 0, &st, err)) < 0)
		goto out;
	if (!S_ISDIR(st.st_mode)) {
		rc = err_set(err, ERR_INVALID,
		             "spec.path '%s' is not a directory", path);
		goto out;
	}
	if (has_kustomization(root, rel.ptr ? rel.ptr : "")) {
		size_t n = strlen(root_dir);
		while (n > 1 && root_dir[n - 1] == '/')
			n--;
		buf_add(&abs, root_dir, n);
		if (rel.len)
			buf_addf(&abs, "/%s", rel.ptr);
		rc = buf_ok(&abs) ? kustomize(out, abs.ptr, opts, err)
		                  : err_set(err, ERR_NOMEM, "out of memory");
	} else {
		struct walk w = { root, root_dir, opts, out, 0 };
		rc = walk_dir(&w, rel.ptr ? rel.ptr : "", 0, err);
	}
out:
	buf_release(&rel);
	buf_release(&abs);
	fsroot_free(root);
	return rc;
}
