/*
 * git.h - the Git side of write-back, over libgit2: one cached clone per
 * remote URL in the state directory, reset to the remote head before each
 * run, commits (optionally SSH-signed), and pushes that tell a conflict
 * (someone pushed first) from every other failure.
 *
 * A clone lives in STATE_DIR/git/<sha256(url) in hex, 32 chars>/ with a work
 * tree; it is fetched incrementally.  Every automation on the same remote
 * shares it (the caller serialises them: one thread at a time per clone).
 *
 * The module does not resolve semver refs (that needs the policy engine):
 * the caller lists tags with gitrepo_tags(), picks one, and passes it as a
 * tag ref.
 *
 * Errors: -ERR_AUTH (credentials refused or missing), -ERR_NOTFOUND (ref or
 * remote missing), -ERR_CONFLICT (push rejected as non-fast-forward),
 * -ERR_INVALID (bad URL, unknown host key, bad key), -ERR_TRANSIENT
 * (network), -ERR_NOMEM.  Messages never contain credentials.
 *
 * Thread safety: a struct gitrepo is used by one thread at a time;
 * git_libgit2_init() must have been called (main() does).
 */
#ifndef FERRY_WRITEBACK_GIT_H
#define FERRY_WRITEBACK_GIT_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/secret.h"

struct sshsig_key;

/* Credentials for one remote, borrowed from the caller for each call. */
struct git_auth {
	const char *username;                /* HTTPS basic auth; SSH user
	                                        when the URL has none */
	const struct secret *password;       /* HTTPS basic auth */
	const struct secret *bearer_token;   /* HTTPS Authorization: Bearer */
	const struct secret *ssh_identity;   /* OpenSSH private key text */
	const struct secret *ssh_passphrase; /* for ssh_identity, if any */
	const char *known_hosts;             /* known_hosts text for SSH */
	bool insecure_ignore_host_key;       /* accept any SSH host key */
};

#define GIT_AUTH_INIT                                                          \
	{                                                                      \
		NULL, NULL, NULL, NULL, NULL, NULL, false                      \
	}

enum git_ref_kind {
	GIT_REF_BRANCH = 0, /* follow refs/heads/NAME on the remote */
	GIT_REF_TAG = 1,    /* refs/tags/NAME */
	GIT_REF_COMMIT = 2, /* a full commit id */
	GIT_REF_NAME = 3,   /* any full ref name (refs/pull/1/head) */
};

struct git_ref {
	enum git_ref_kind kind;
	const char *value;
};

struct gitrepo;

/*
 * Opens the cached clone of url under state_dir, cloning it first when
 * there is none (or when the cached one is unusable: it is then moved
 * aside and cloned again).  *out is owned by the caller (gitrepo_free).
 */
int gitrepo_open(struct gitrepo **out, const char *state_dir, const char *url,
                 const struct git_auth *auth, struct err *err);

/* Closes the clone; NULL is a no-op. */
void gitrepo_free(struct gitrepo *repo);

/* The work tree's absolute path, ending in '/'; borrowed from repo. */
const char *gitrepo_workdir(const struct gitrepo *repo);

/*
 * Fetches from the remote and resets the work tree (and index) to the
 * commit that ref names there, removing untracked files, so the clone is
 * exactly the remote head.  Leaves HEAD detached at that commit.
 * commit_out (41 bytes, may be NULL) receives its id in hex.
 */
int gitrepo_sync(struct gitrepo *repo, const struct git_ref *ref,
                 const struct git_auth *auth, char commit_out[41],
                 struct err *err);

/*
 * The two halves of gitrepo_sync(): fetch and resolve ref to the commit the
 * remote has (into commit_out) without touching the work tree; and reset
 * the work tree, index and HEAD to a commit (hex id), removing untracked
 * files.  Callers that can tell from the commit id alone that there is
 * nothing to do skip the reset.  When the last thing done to the work
 * tree was a gitrepo_commit(), the reset checks out only the files that
 * differ between that commit and the new one (nothing at all when they
 * are the same); otherwise (a run interrupted or failed after the reset,
 * a dry run) it resets and cleans the whole tree.
 */
int gitrepo_fetch_ref(struct gitrepo *repo, const struct git_ref *ref,
                      const struct git_auth *auth, char commit_out[41],
                      struct err *err);
int gitrepo_reset(struct gitrepo *repo, const char *commit, struct err *err);

/* Fetches every branch and tag of the remote, touching nothing else. */
int gitrepo_fetch(struct gitrepo *repo, const struct git_auth *auth,
                  struct err *err);

/* Appends the remote's tag names (after a sync), one per line, to out. */
int gitrepo_tags(struct gitrepo *repo, struct buf *out, struct err *err);

struct git_commit_opts {
	const char *author_name;  /* default "ferry" (as Flux: fluxcdbot) */
	const char *author_email; /* required */
	const char *message;
	const struct sshsig_key *ssh_signing_key; /* NULL: unsigned */
	const struct secret *gpg_key;        /* ASCII-armored; signs through
	                                        the system gpg (gpgsig.h) */
	const struct secret *gpg_passphrase; /* for gpg_key, or NULL */
	const char *const *paths; /* the files changed since gitrepo_reset(),
	                             relative to the work tree; NULL: look at
	                             every file (git add -A) */
	size_t npaths;
};

#define GIT_COMMIT_OPTS_INIT                                                   \
	{                                                                      \
		NULL, NULL, NULL, NULL, NULL, NULL, NULL, 0                    \
	}

/*
 * Stages the changes in the work tree (new, modified and deleted files:
 * opts->paths only, when given; they must name every file changed since
 * the reset, as the editors' change lists do) and commits them on top of
 * the detached HEAD.  Returns 1 and makes no commit when the tree is
 * unchanged (never an empty commit), 0 after a commit, whose id goes to
 * commit_out (41 bytes).  Either way the work tree then equals HEAD, and
 * the next gitrepo_reset() relies on that instead of looking at every
 * file.
 */
int gitrepo_commit(struct gitrepo *repo, const struct git_commit_opts *opts,
                   char commit_out[41], struct err *err);

struct git_push_opts {
	const char *branch; /* remote branch to update (refs/heads/BRANCH) */
	bool force;         /* only for a branch ferry created itself */
	const char
	        *refspec; /* optional extra refspec, as Flux's push.refspec */
	const char *const *push_options; /* NULL-terminated "key=value" list */
};

#define GIT_PUSH_OPTS_INIT                                                     \
	{                                                                      \
		NULL, false, NULL, NULL                                        \
	}

/*
 * true when the remote's branch (as last fetched) exists and its tree is
 * HEAD's tree: pushing HEAD there would change no file.  Used for a push
 * branch other than the checkout branch, which is rebuilt from the
 * checkout branch on every run and would otherwise get a new commit (and a
 * force push) each time.
 */
bool gitrepo_remote_branch_has_head_tree(struct gitrepo *repo,
                                         const char *branch);

/*
 * Pushes HEAD to the remote branch (and the extra refspec).  -ERR_CONFLICT
 * when the remote rejected it as non-fast-forward (someone pushed first):
 * the caller syncs, re-applies and tries again.
 */
int gitrepo_push(struct gitrepo *repo, const struct git_push_opts *opts,
                 const struct git_auth *auth, struct err *err);

#endif
