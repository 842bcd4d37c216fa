/*
 * reconcile.h - the parts of ferry's built-in reconciler that do not
 * know the pipeline: render a Kustomization's path, substitute its
 * postBuild variables, split and check the manifests, write them to a
 * directory target, and run its commands.  core/pipeline/sync.c (the
 * Kustomization stage) puts them together.
 *
 *   render      a path with a kustomization file is built by the
 *               kustomize the machine has (`kustomize build DIR`, else
 *               `kubectl kustomize DIR`, or a configured command);
 *               otherwise the YAML files under it are read in path
 *               order, and subdirectories with a kustomization file
 *               are built, as Flux's generator does;
 *   manifests   the rendered text split into its documents, each a
 *               Kubernetes object (apiVersion, kind, metadata.name),
 *               with Flux's postBuild.substitute applied per object and
 *               a file name per object: KIND_NAMESPACE_NAME.yaml (kind in
 *               lower case; KIND_NAME.yaml without a namespace);
 *   directory   a directory that holds exactly what a revision renders:
 *               written as a new directory beside it, then swapped in
 *               with one rename (RENAME_EXCHANGE), so a reader sees the
 *               old set or the new one; what was changed, added or
 *               deleted by hand since is reported as drift;
 *   commands    annotation values split into words as a POSIX shell
 *               does (quotes, backslash), with no expansion and no
 *               shell, run with a deadline.
 *
 * Ownership: results are the caller's (the *_release functions).
 * Thread safety: every function is reentrant; two calls must not write
 * the same directory target at once (the daemon runs one Kustomization
 * at a time, and two Kustomizations must not share a target).
 */
#ifndef FERRY_CORE_RECONCILE_H
#define FERRY_CORE_RECONCILE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "config/objects.h"

#define RECONCILE_MAX_WORDS 256     /* words in one command */
#define RECONCILE_MAX_COMMAND 65536 /* bytes of one command line */
#define RECONCILE_MAX_OBJECTS 20000 /* objects one render may hold */
#define RECONCILE_MAX_RENDER ((size_t)64 << 20) /* bytes of a render */
#define RECONCILE_MAX_DEPTH 16 /* nesting of ${...} in defaults */
#define RECONCILE_FILE_MODE 0644
#define RECONCILE_DIR_MODE 0755

/* ---- names ---- */

/* A list of owned strings. */
struct reconcile_names {
	char **v;
	size_t n;
};

int reconcile_names_add(struct reconcile_names *l, const char *s);
bool reconcile_names_has(const struct reconcile_names *l, const char *s);
void reconcile_names_release(struct reconcile_names *l);

/* ---- commands ---- */

/*
 * Splits line into words: blanks separate words; '...' keeps everything
 * up to the next '; "..." keeps everything but \" \\ \$ \` and a
 * backslash-newline; a backslash outside quotes keeps the next
 * character.  Nothing is expanded ($VAR, ~, globs stay as they are).
 * *argv_out is NULL-terminated (reconcile_words_free).  -ERR_INVALID for
 * an unterminated quote, no word at all, or more than RECONCILE_MAX_WORDS
 * words.
 */
int reconcile_words(char ***argv_out, const char *line, struct err *err);
void reconcile_words_free(char **argv);

/*
 * Runs command line `line` (split by reconcile_words) with in on stdin and
 * env ("K=V", NULL-terminated, added to ferry's environment), killed
 * after timeout_ms.  Its stdout is appended to output, its stderr to
 * errors (either may be NULL).  0 when it exits 0; -ERR_INVALID when it exits
 * with another status (the message quotes the last line it wrote),
 * -ERR_TRANSIENT when it timed out, -ERR_NOTFOUND when the program does
 * not exist.  what names it in messages ("apply command").
 */
int reconcile_command_run(const char *what, const char *line,
                          const char *const *env, const void *in, size_t in_len,
                          int timeout_ms, struct buf *output,
                          struct buf *errors, struct err *err);

/* ---- render ---- */

struct reconcile_render_opts {
	const char *kustomize; /* command line, DIR appended; NULL: kustomize
	                          build, else kubectl kustomize */
	int timeout_ms;        /* for each kustomize run */
};

#define RECONCILE_RENDER_OPTS_INIT                                             \
	{                                                                      \
		NULL, 60000                                                    \
	}

/*
 * Renders path (relative to root_dir, "" or "." for root_dir itself;
 * leading "./" are dropped) into out (appended), as documents separated
 * by "---" lines.  Nothing outside root_dir is read by ferry (links that
 * lead out are refused, as fsroot does); kustomize reads what its own
 * load restrictor lets it.  -ERR_NOTFOUND when path does not exist or
 * neither kustomize nor kubectl is installed (the message says so),
 * -ERR_INVALID when kustomize fails (its message quoted) or path is not
 * a directory, -ERR_TRANSIENT when it timed out.
 */
int reconcile_render(struct buf *out, const char *root_dir, const char *path,
                     const struct reconcile_render_opts *opts, struct err *err);

/* ---- manifests ---- */

struct reconcile_object {
	char *api_version;
	char *kind;
	char *namespace_; /* NULL: cluster-scoped (no metadata.namespace) */
	char *name;
	char *id;   /* Flux's inventory id: NS_NAME_GROUP_KIND */
	char *file; /* deployment_demo_app.yaml */
	char *text; /* the document, ending in a newline */
	size_t len;
	char sha256[65];
};

struct reconcile_manifests {
	struct reconcile_object *v;
	size_t n;
	char digest[65]; /* sha256 over every file name and text */
};

/*
 * Splits yaml[0..len) into its documents (empty ones dropped) and checks
 * each is a Kubernetes object: a mapping with apiVersion, kind and
 * metadata.name strings, names that can be file names, no object twice.
 * With vars (NULL or empty: no substitution, as in Flux) each document's
 * ${VAR} expressions are substituted first (reconcile_substitute), except
 * in objects labelled or annotated kustomize.toolkit.fluxcd.io/substitute:
 * disabled.  Objects are sorted by file name.  -ERR_INVALID with the
 * document's number and line, -ERR_NOMEM.
 */
int reconcile_manifests_parse(struct reconcile_manifests *out, const char *yaml,
                              size_t len, const struct config_strmap *vars,
                              struct err *err);

/* Every document, "---"-separated, for a command's stdin. */
int reconcile_manifests_join(struct buf *out,
                             const struct reconcile_manifests *m);

void reconcile_manifests_release(struct reconcile_manifests *m);

/*
 * Flux's post-build substitution on one document: ${NAME} and the bash
 * forms ${NAME:-word}, ${NAME-word}, ${NAME:=word}, ${NAME=word},
 * ${#NAME}, ${NAME:offset[:length]}, ${NAME^} ${NAME^^} ${NAME,}
 * ${NAME,,}, ${NAME#s} ${NAME##s} ${NAME%s} ${NAME%%s}, ${NAME/s/r}
 * ${NAME//s/r} ${NAME/#s/r} ${NAME/%s/r} (s taken literally); "$$"
 * writes "$"; $NAME without braces is left alone.  An unset NAME is "".
 * -ERR_INVALID for an unterminated ${ (with its line).
 */
int reconcile_substitute(struct buf *out, const char *text, size_t len,
                         const struct config_strmap *vars, struct err *err);

/* 0 when every key of vars is a valid variable name (Flux's
 * ^[_[:alpha:]][_[:alpha:][:digit:]]*$), else -ERR_INVALID naming it. */
int reconcile_vars_check(const struct config_strmap *vars, struct err *err);

/* ---- directory targets ---- */

/* What ferry wrote to a target: file name, object id, content hash. */
struct reconcile_entry {
	char *file;
	char *id;
	char sha256[65];
};

struct reconcile_inventory {
	struct reconcile_entry *v;
	size_t n;
};

int reconcile_inventory_add(struct reconcile_inventory *inv, const char *file,
                            const char *id, const char *sha256);
const struct reconcile_entry *
reconcile_inventory_find(const struct reconcile_inventory *inv,
                         const char *file);
void reconcile_inventory_release(struct reconcile_inventory *inv);

struct reconcile_dir_result {
	struct reconcile_names created;    /* new files */
	struct reconcile_names configured; /* files the revision changed */
	struct reconcile_names deleted;    /* pruned: no longer rendered */
	struct reconcile_names orphaned;   /* no longer rendered, kept
	                                      (prune: false) */
	/* drift: what changed by hand since ferry last wrote it */
	struct reconcile_names modified;
	struct reconcile_names added;
	struct reconcile_names removed;
	bool changes;                         /* something to write */
	bool written;                         /* it was written */
	struct reconcile_inventory inventory; /* managed after this sync */
	struct reconcile_names keep;          /* left alone from now on */
};

/*
 * Makes directory target (absolute) hold exactly m's files, as ferry last
 * wrote them (prev: its inventory, may be empty; kept: files it leaves
 * alone, from prune: false).  A file no longer rendered is deleted with
 * prune, otherwise kept unmanaged; a file nobody rendered is drift and
 * goes.  With dry_run only out says what would change.  The new set is
 * written beside target (TARGET.ferry-tmp-*), then swapped in; the parent
 * directory is created when missing.  -ERR_INVALID when target is not an
 * absolute path, is a symlink or is not a directory; other errors of
 * reading and writing.
 */
int reconcile_dir_sync(struct reconcile_dir_result *out, const char *target,
                       const struct reconcile_manifests *m,
                       const struct reconcile_inventory *prev,
                       const struct reconcile_names *kept, bool prune,
                       bool dry_run, struct err *err);

void reconcile_dir_result_release(struct reconcile_dir_result *r);

#endif
