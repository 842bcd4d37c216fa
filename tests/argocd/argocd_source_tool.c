/*
 * argocd_source_tool.c - runs the override file editor of
 * writeback/argocd.h on one file, for test_argocd_shape.py:
 *
 *   argocd_source_tool DIR FILE kustomize IMAGE...
 *   argocd_source_tool DIR FILE helm NAME=VALUE...
 *
 * FILE is relative to DIR, which is the root.  Prints one line per change
 * ("SETTER OLD -> NEW"); exits 1 with the error on stderr.
 */
#include <git2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/fsroot.h"
#include "writeback/argocd.h"

int
main(int argc, char **argv)
{
	struct argocd_helm_param *params = NULL;
	struct wb_changes ch = WB_CHANGES_INIT;
	struct fsroot *root = NULL;
	struct err e = ERR_INIT;
	size_t n = argc > 4 ? (size_t)argc - 4 : 0;
	int rc;

	if (argc < 4 || (strcmp(argv[3], "kustomize") != 0 &&
	                 strcmp(argv[3], "helm") != 0)) {
		fprintf(stderr, "usage: %s DIR FILE kustomize|helm VALUE...\n",
		        argv[0]);
		return 2;
	}
	git_libgit2_init();
	if (fsroot_open(&root, argv[1], 0, &e) < 0) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	if (strcmp(argv[3], "kustomize") == 0) {
		rc = argocd_source_kustomize(root, argv[2],
		                             (const char *const *)argv + 4, n,
		                             NULL, &ch, &e);
	} else {
		params = calloc(n + 1, sizeof(*params));
		for (size_t i = 0; params && i < n; i++) {
			char *eq = strchr(argv[4 + i], '=');

			if (eq == NULL) {
				fprintf(stderr, "'%s': NAME=VALUE\n",
				        argv[4 + i]);
				return 2;
			}
			*eq = '\0';
			params[i].name = argv[4 + i];
			params[i].value = eq + 1;
		}
		rc = params ? argocd_source_helm(root, argv[2], params, n, NULL,
		                                 &ch, &e)
		            : -ERR_NOMEM;
	}
	if (rc < 0)
		fprintf(stderr, "%s\n", e.msg[0] ? e.msg : "out of memory");
	for (size_t i = 0; rc == 0 && i < ch.n; i++)
		printf("%s %s -> %s\n", ch.v[i].setter, ch.v[i].old_value,
		       ch.v[i].new_value);
	wb_changes_release(&ch);
	free(params);
	fsroot_free(root);
	git_libgit2_shutdown();
	return rc < 0 ? 1 : 0;
}
