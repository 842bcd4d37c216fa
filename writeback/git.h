/*
 * git.h - the Git side of write-back, over libgit2: one cached clone per
 * remote URL in the state directory, reset to the remote head before each
 * run, commits (optionally SSH-signed), and pushes that tell a conflict
 * (someone pushed first) from every other failure.
 *
 * A clone lives in STATE_DIR/git/<sha256(url without credentials), 32 hex>/
 * with a work tree; it is fetched incrementally.  Every automation on the
 * same remote shares it, one at a time: gitrepo_open() takes a flock(2) on
 * the lock file STATE_DIR/git/<same hex>.lock beside it and holds it until
 * gitrepo_free(), so a second open of the URL, from another thread or
 * another process, waits.  The lock file itself is never removed.
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
 * Thread safety: a struct gitrepo is used by one thread at a time; any
 * number of threads and processes may open clones at once, and those of
 * one URL take turns (the clone's lock).  A thread must not open a URL
 * whose clone it already holds: it would wait for itself.
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

/*
 * Credentials for one remote, borrowed from the caller for each call.  A
 * user name and password written in the URL are used only when password
 * here is NULL (see gitrepo_open).
 */
struct gitrepo_auth {
	const char *username;                /* HTTPS basic auth; SSH user
	                                        when the URL has none */
	const struct secret *password;       /* HTTPS basic auth */
	const struct secret *bearer_token;   /* HTTPS Authorization: Bearer */
	const struct secret *ssh_identity;   /* OpenSSH private key text */
	const struct secret *ssh_passphrase; /* for ssh_identity, if any */
	const char *known_hosts;             /* known_hosts text for SSH */
	bool insecure_ignore_host_key;       /* accept any SSH host key */
};

#define GITREPO_AUTH_INIT                                                      \
	{                                                                      \
		NULL, NULL, NULL, NULL, NULL, NULL, false                      \
	}

enum gitrepo_ref_kind {
	GITREPO_REF_BRANCH = 0, /* follow refs/heads/NAME on the remote */
	GITREPO_REF_TAG = 1,    /* refs/tags/NAME */
	GITREPO_REF_COMMIT = 2, /* a full commit id */
	GITREPO_REF_NAME = 3,   /* any full ref name (refs/pull/1/head) */
};

struct gitrepo_ref {
	enum gitrepo_ref_kind kind;
	const char *value;
};

struct gitrepo;

/*
 * Opens the cached clone of url under state_dir, cloning it first when
 * there is none (or when the cached one is unusable: it is then moved
 * aside and cloned again).  Waits for the clone's lock first (see above).
 * A new clone is made in a directory of its own, <clone dir>.tmp-XXXXXX
 * (flocked while the clone runs), and renamed into place.
 *
 * Holding the lock, it removes what a process killed mid-run leaves
 * behind, since no other ferry can be using the clone: *.lock files in
 * its .git (index.lock, HEAD.lock, config.lock, packed-refs.lock,
 * refs/...lock), libgit2's temporary objects and packs, and partial clones
 * (<clone dir>.tmp-*) whose creator is gone; each is logged (warn).  A
 * clone in progress holds a flock on its temporary directory, which is
 * how a live one is told from a dead one.
 *
 * Credentials in url's userinfo (https://user:pass@host/repo.git) never
 * reach the disk: the clone keeps the URL without them (for http(s)
 * without any userinfo, as the user name may be a token; for ssh:// and
 * the rest without the password), and they are handed to the server only
 * when it asks and auth has no password, which wins.  The clone's name is
 * the hash of that URL; a clone an earlier version made under the hash of
 * the whole URL (its .git/config holding the password) is removed.
 *
 * *out is owned by the caller (gitrepo_free).
 */
int gitrepo_open(struct gitrepo **out, const char *state_dir, const char *url,
                 const struct gitrepo_auth *auth, struct err *err);

/* Closes the clone and releases its lock; NULL is a no-op. */
void gitrepo_free(struct gitrepo *repo);

/* The work tree's absolute path, ending in '/'; borrowed from repo. */
const char *gitrepo_workdir(const struct gitrepo *repo);

/*
 * Fetches from the remote and resets the work tree (and index) to the
 * commit that ref names there, removing untracked files, so the clone is
 * exactly the remote head.  Leaves HEAD detached at that commit.
 * commit_out (41 bytes, may be NULL) receives its id in hex.
 */
int gitrepo_sync(struct gitrepo *repo, const struct gitrepo_ref *ref,
                 const struct gitrepo_auth *auth, char commit_out[41],
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
int gitrepo_fetch_ref(struct gitrepo *repo, const struct gitrepo_ref *ref,
                      const struct gitrepo_auth *auth, char commit_out[41],
                      struct err *err);
int gitrepo_reset(struct gitrepo *repo, const char *commit, struct err *err);

/*
 * The remote's default branch as the clone recorded it when it was made
 * (refs/remotes/origin/HEAD), appended to out: "main".  -ERR_NOTFOUND
 * when the clone does not know it.  For refs written as HEAD (Argo CD's
 * targetRevision), which name no branch to push to.
 */
int gitrepo_default_branch(struct gitrepo *repo, struct buf *out,
                           struct err *err);

/*
 * true when name (len bytes, no NUL needed) is a branch Git creates and
 * pushes: "refs/heads/NAME" passes libgit2's git_reference_name_is_valid
 * (no component starting with '.' or ending in ".lock", no "..", "@{",
 * "//", control characters, space or any of ~^:?*[\), and NAME is not
 * "@" or "HEAD" and does not start with '-' (as `git branch` refuses).
 * Needs git_libgit2_init(); any thread.
 */
bool gitrepo_branch_name_valid(const char *name, size_t len);

/* Fetches every branch and tag of the remote, touching nothing else. */
int gitrepo_fetch(struct gitrepo *repo, const struct gitrepo_auth *auth,
                  struct err *err);

/* Appends the remote's tag names (after a sync), one per line, to out. */
int gitrepo_tags(struct gitrepo *repo, struct buf *out, struct err *err);

struct gitrepo_commit_opts {
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

#define GITREPO_COMMIT_OPTS_INIT                                               \
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
int gitrepo_commit(struct gitrepo *repo, const struct gitrepo_commit_opts *opts,
                   char commit_out[41], struct err *err);

struct gitrepo_push_opts {
	const char *branch; /* remote branch to update (refs/heads/BRANCH) */
	bool force;         /* only for a branch ferry created itself */
	const char
	        *refspec; /* optional extra refspec, as Flux's push.refspec */
	const char *const *push_options; /* NULL-terminated "key=value" list */
};

#define GITREPO_PUSH_OPTS_INIT                                                 \
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

/* Limits on known_hosts text: the whole text and one line. */
#define GITREPO_KNOWN_HOSTS_MAX ((size_t)1 << 20)
#define GITREPO_KNOWN_HOSTS_MAX_LINE ((size_t)16384)

/*
 * Checks an SSH host key (key[0..keylen), the wire blob libgit2 hands to
 * its certificate callback) against known_hosts text (text[0..len), no NUL
 * needed) for host at port.  0 when a line lists this key for the host;
 * otherwise -ERR_INVALID with a message that tells an unknown host ("is not
 * in known_hosts") from a changed key ("does not match") and from a revoked
 * one ("@revoked"), and says what to do; -ERR_NOMEM.
 *
 * The text is OpenSSH's known_hosts(5), read by libssh2: plain and hashed
 * (|1|salt|hash, from ssh-keygen -H) names, comma lists, "[host]:port" for
 * ports other than 22 (a bare name matches port 22 only, as in OpenSSH),
 * comments, CRLF line ends.  "@revoked" refuses its key for every host.
 * "@cert-authority" lines are not supported (libgit2 over libssh2 does not
 * negotiate host certificates): the message says so when they are all
 * that could have vouched for the host.  Wildcard and negated patterns
 * never match.  Unreadable lines are skipped, and counted in the message.
 *
 * Thread safety: reentrant once libssh2 is initialised (git_libgit2_init()
 * does it).
 */
int gitrepo_known_hosts_check(const char *text, size_t len, const char *host,
                              int port, const unsigned char *key, size_t keylen,
                              struct err *err);

/*
 * Pushes HEAD to the remote branch (and the extra refspec).  Each branch
 * update is a compare-and-swap on the value the last fetch saw there (its
 * refs/remotes/origin/ ref; no ref: the branch must not exist), forced or
 * not, so a push never overwrites a commit ferry did not see: over smart
 * HTTP and SSH the remote's receive-pack compares under its ref lock, and
 * for file:// and path remotes ferry writes the objects and moves the ref
 * itself under the same lock (libgit2's local transport does not compare).
 *
 * -ERR_CONFLICT when the branch moved on the remote, the update is not a
 * fast-forward and not forced, or another writer holds the ref's lock
 * (someone pushed first): the caller syncs, re-applies and tries again.
 * -ERR_INVALID when the remote refuses even a forced rewrite
 * (receive.denyNonFastForwards): retrying cannot help.
 */
int gitrepo_push(struct gitrepo *repo, const struct gitrepo_push_opts *opts,
                 const struct gitrepo_auth *auth, struct err *err);

#endif
