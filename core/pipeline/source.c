/*
 * source.c - a GitRepository as a source the Kustomization stage reads:
 * its credentials from the Secret of its secretRef, the ref it follows in
 * Flux's precedence (commit, name, semver, tag, branch), a semver range
 * resolved to the remote's highest tag in range, and the revision text
 * Flux puts in status.  It fetches; it never writes to the remote.
 *
 * automate.c reads an ImageUpdateAutomation's source through it too, with
 * the automation's checkout ref in place of the GitRepository's.
 */
#include "pipeline_int.h"

#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "policy/policy.h"

void
pipeline_git_source_init(struct pipeline_git_source *src,
                         const struct config *cfg,
                         const struct config_object *git,
                         const struct config_git_ref *ref)
{
	const struct config_gitrepository *g = &git->u.gitrepository;
	const struct config_git_ref *r = ref ? ref : &g->ref;
	const struct secret *user, *kh;

	memset(src, 0, sizeof(*src));
	src->git = git;
	user = pipeline_secret(cfg, git, &g->secret_ref, "username");
	src->auth.username = user ? (const char *)user->ptr : NULL;
	src->auth.password =
	        pipeline_secret(cfg, git, &g->secret_ref, "password");
	src->auth.bearer_token =
	        pipeline_secret(cfg, git, &g->secret_ref, "bearerToken");
	src->auth.ssh_identity =
	        pipeline_secret(cfg, git, &g->secret_ref, "identity");
	if (src->auth.ssh_identity)
		src->auth.ssh_passphrase = src->auth.password;
	kh = pipeline_secret(cfg, git, &g->secret_ref, "known_hosts");
	src->auth.known_hosts = kh ? (const char *)kh->ptr : NULL;
	if (r->commit) {
		src->ref.kind = GITREPO_REF_COMMIT;
		src->ref.value = r->commit;
	} else if (r->name) {
		src->ref.kind = GITREPO_REF_NAME;
		src->ref.value = r->name;
	} else if (r->semver) {
		src->ref.kind = GITREPO_REF_TAG;
		src->semver = r->semver;
	} else if (r->tag) {
		src->ref.kind = GITREPO_REF_TAG;
		src->ref.value = r->tag;
	} else {
		src->ref.kind = GITREPO_REF_BRANCH;
		src->ref.value = r->branch ? r->branch : "master";
		src->branch = src->ref.value;
	}
}

void
pipeline_git_source_release(struct pipeline_git_source *src)
{
	free(src->resolved);
	memset(src, 0, sizeof(*src));
}

int
pipeline_git_semver_tag(struct gitrepo *repo, const struct gitrepo_auth *auth,
                        const char *range, const char *what, char **tag_out,
                        struct err *err)
{
	struct policy_options po = POLICY_OPTIONS_INIT;
	struct policy *pol = NULL;
	struct policy_tag *pts = NULL;
	struct buf tags = BUF_INIT;
	size_t n = 0, idx = 0;
	int rc;

	if ((rc = gitrepo_fetch(repo, auth, err)) < 0 ||
	    (rc = gitrepo_tags(repo, &tags, err)) < 0)
		goto out;
	po.kind = POLICY_SEMVER;
	po.semver_range = range;
	po.loose = true;
	if ((rc = policy_new(&pol, &po, err)) < 0) {
		err_prefix(err, "%s '%s'", what, range);
		goto out;
	}
	for (size_t i = 0; i < tags.len; i++)
		n += tags.ptr[i] == '\n';
	if ((pts = calloc(n ? n : 1, sizeof(*pts))) == NULL) {
		rc = err_set(err, ERR_NOMEM, "out of memory");
		goto out;
	}
	n = 0;
	for (char *p = tags.ptr; p && *p;) {
		char *nl = strchr(p, '\n');
		if (nl)
			*nl = '\0';
		if (*p) {
			pts[n].name = p;
			pts[n].len = strlen(p);
			n++;
		}
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	if ((rc = policy_select(pol, pts, n, &idx, NULL, NULL, err)) < 0) {
		err_prefix(err,
		           "no tag of the Git repository matches semver '%s'",
		           range);
		goto out;
	}
	free(*tag_out);
	if ((*tag_out = strdup(pts[idx].name)) == NULL)
		rc = err_set(err, ERR_NOMEM, "out of memory");
out:
	free(pts);
	policy_free(pol);
	buf_release(&tags);
	return rc;
}

static int
resolve_semver(struct pipeline_git_source *src, struct gitrepo *repo,
               struct err *err)
{
	int rc = pipeline_git_semver_tag(repo, &src->auth, src->semver,
	                                 "GitRepository ref.semver",
	                                 &src->resolved, err);

	src->ref.value = src->resolved;
	return rc;
}

int
pipeline_git_source_fetch(struct pipeline_git_source *src, struct gitrepo *repo,
                          char commit_out[41], struct err *err)
{
	int rc;

	if (src->semver && (rc = resolve_semver(src, repo, err)) < 0)
		return rc;
	return gitrepo_fetch_ref(repo, &src->ref, &src->auth, commit_out, err);
}

char *
pipeline_git_revision(const struct pipeline_git_source *src, const char *commit)
{
	struct buf b = BUF_INIT;

	if (src->ref.kind == GITREPO_REF_COMMIT || src->ref.value == NULL)
		buf_addf(&b, "sha1:%s", commit);
	else
		buf_addf(&b, "%s@sha1:%s", src->ref.value, commit);
	return buf_detach(&b);
}
