/*
 * fuzz_argocd_values.c - feeds one arbitrary string to the grammars of
 * Argo CD Image Updater's values (core/config/argocd.h: update strategy,
 * pull secret, write-back method, git-branch, write-back target, the
 * default file name; writeback/argocd.h: the kustomize image string) and
 * asserts, besides "no crash, no leak":
 *   - every view a parser hands back lies inside the string it was given,
 *     and the parts it names are not empty where the grammar says so;
 *   - a write-back target that parses names a path inside the
 *     repository (relative, no ".." component) and nothing on failure.
 * Input: byte 0 picks the source path the target is relative to (an
 * Application's spec.source.path), the rest is the value.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <git2.h>

#include "base/buf.h"
#include "base/log.h"
#include "config/argocd.h"
#include "writeback/argocd.h"

#define FUZZ_MAX_INPUT 4096

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLOBAL: set by the first input, as main() initialises libgit2 once
 * (branch names are checked by libgit2, which needs it) */
static int libgit2_ready;

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_argocd_values: invariant broken: %s\n",
		        what);
		abort();
	}
}

/* p[0..len) lies inside s[0..n]. */
static void
inside(const char *s, size_t n, const char *p, size_t len, const char *what)
{
	if (p == NULL)
		return;
	check(p >= s && p + len <= s + n, what);
}

static void
check_target(const char *s, const char *source_path)
{
	enum config_argocd_target_kind kind;
	struct err e = ERR_INIT;
	char *path = (char *)1;
	int rc = config_argocd_target_parse(&kind, &path, s, source_path,
	                                    "argocd", "apps", "web", &e);

	if (rc < 0) {
		check(path == NULL, "no path on failure");
		check(e.msg[0] != '\0', "a failure says why");
		return;
	}
	check(path != NULL && path[0] != '\0', "a target names a path");
	check(path[0] != '/', "the path is relative");
	for (const char *p = path; *p;) {
		size_t n = strcspn(p, "/");

		check(!(n == 2 && p[0] == '.' && p[1] == '.'),
		      "the path stays inside the repository");
		p += n + (p[n] == '/');
	}
	free(path);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const sources[] = { "", "apps/web", ".", "a/b/c" };
	struct config_argocd_cred cred;
	struct config_argocd_method m;
	struct config_argocd_branch b;
	struct argocd_image_ref r;
	enum config_argocd_strategy st;
	struct buf file = BUF_INIT;
	struct err e = ERR_INIT;
	char *s;
	size_t n;

	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, -1);
	if (!libgit2_ready)
		libgit2_ready = git_libgit2_init() > 0;
	if (size < 1 || size > FUZZ_MAX_INPUT)
		return 0;
	n = size - 1;
	if ((s = malloc(n + 1)) == NULL)
		return 0;
	memcpy(s, data + 1, n);
	s[n] = '\0';
	n = strlen(s); /* the grammars take C strings */

	if (config_argocd_strategy_parse(&st, s, &e) == 0)
		check(strcmp(config_argocd_strategy_name(st), "") != 0,
		      "a strategy has a name");

	if (config_argocd_cred_parse(&cred, s, &e) == 0) {
		switch (cred.kind) {
		case CONFIG_ARGOCD_CRED_SECRET:
			check(cred.field && *cred.field, "secret: a field");
			inside(s, n, cred.field, strlen(cred.field), "field");
			/* fall through */
		case CONFIG_ARGOCD_CRED_PULLSECRET:
			check(cred.ns_len > 0 && cred.name_len > 0,
			      "a namespace and a name");
			inside(s, n, cred.ns, cred.ns_len, "namespace");
			inside(s, n, cred.name, cred.name_len, "name");
			check(memchr(cred.name, '/', cred.name_len) == NULL,
			      "one slash");
			break;
		case CONFIG_ARGOCD_CRED_ENV:
			check(cred.env && *cred.env, "env: a variable");
			inside(s, n, cred.env, strlen(cred.env), "variable");
			break;
		case CONFIG_ARGOCD_CRED_EXT:
			check(cred.path && cred.path[0] == '/',
			      "ext: an absolute path");
			inside(s, n, cred.path, strlen(cred.path), "script");
			break;
		}
	}

	if (config_argocd_method_parse(&m, s, &e) == 0) {
		check(m.repocreds != (m.secret_name != NULL),
		      "repocreds or a secret");
		inside(s, n, m.secret_ns, m.secret_ns_len, "secret namespace");
		inside(s, n, m.secret_name, m.secret_name_len, "secret name");
		check(m.secret_name == NULL || m.secret_name_len > 0,
		      "a secret has a name");
	} else {
		check(strcmp(s, "argocd") != 0 ||
		              strstr(e.msg, "use method 'git'") != NULL,
		      "argocd points to git");
	}

	if (config_argocd_branch_parse(&b, s, &e) == 0) {
		check(b.base || b.target, "a branch or a target");
		inside(s, n, b.base, b.base_len, "base");
		inside(s, n, b.target, b.target_len, "target");
		check(b.base == NULL || b.base_len > 0, "a base is not empty");
		check(b.target == NULL || b.target_len > 0,
		      "a target is not empty");
	}

	check_target(s, sources[data[0] & 3]);
	check_target(s, s);

	if (config_argocd_default_file(&file, "argocd", s, s) == 0)
		check(buf_ok(&file) &&
		              strncmp(file.ptr, ".argocd-source-", 15) == 0,
		      "the default file's name");
	buf_release(&file);

	argocd_image_ref_split(&r, s);
	inside(s, n, r.alias, r.alias_len, "alias");
	inside(s, n, r.name, r.name_len, "image name");
	inside(s, n, r.tag, r.tag_len, "tag");
	inside(s, n, r.digest, r.digest_len, "digest");
	check(r.alias_len + r.name_len + r.tag_len + r.digest_len <= n,
	      "the parts do not overlap");
	free(s);
	return 0;
}
