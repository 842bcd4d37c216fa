/*
 * fuzz_config.c - feeds arbitrary bytes to the config loader as one YAML
 * file, then runs the cross-object checks, formats every diagnostic and
 * walks the lookups, so that decoding, defaults, checks and freeing all
 * run on hostile input.  Logging is off: only crashes and leaks matter.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <git2.h>

#include "base/buf.h"
#include "base/log.h"
#include "config/argocd.h"
#include "config/loader.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* GLOBAL: set by the first input, as main() initialises libgit2 once
 * (branch names are checked by libgit2, which needs it) */
static int libgit2_ready;

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct config *cfg = NULL;
	struct err err = ERR_INIT;
	struct buf line = BUF_INIT;

	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, -1);
	if (!libgit2_ready)
		libgit2_ready = git_libgit2_init() > 0;
	if (config_new(&cfg) < 0)
		return 0;
	config_argocd_annotations(cfg, size > 0 && (data[0] & 1));
	if (config_add_buffer(cfg, "fuzz.yaml", (const char *)data, size,
	                      &err) < 0)
		goto out;
	config_check(cfg, &err);
	for (size_t i = 0; i < config_diag_count(cfg); i++) {
		buf_reset(&line);
		config_diag_format(&line, config_diag_get(cfg, i));
	}
	for (size_t i = 0; i < config_count(cfg, CONFIG_IMAGEPOLICY); i++)
		config_policy_repository(
		        cfg, config_get(cfg, CONFIG_IMAGEPOLICY, i));
	for (size_t i = 0; i < config_count(cfg, CONFIG_IMAGEUPDATEAUTOMATION);
	     i++) {
		const struct config_object *a =
		        config_get(cfg, CONFIG_IMAGEUPDATEAUTOMATION, i);
		const struct config_object **list = NULL;
		size_t n = 0;

		config_source_gitrepository(cfg, a);
		if (config_automation_policies(&list, &n, cfg, a, &err) == 0)
			free(list);
	}
	for (size_t i = 0; i < config_count(cfg, CONFIG_IMAGEREPOSITORY); i++) {
		const struct config_object *r =
		        config_get(cfg, CONFIG_IMAGEREPOSITORY, i);
		const struct config_object *s = config_secret_for(
		        cfg, r, &r->u.imagerepository.secret_ref);

		config_secret_value(s, ".dockerconfigjson");
	}
	/* Argo CD: every unit's images and write-back values parse again
	 * as the pipeline parses them */
	for (size_t i = 0; i < config_argocd_unit_count(cfg); i++) {
		const struct config_argocd_unit *u =
		        config_argocd_unit_get(cfg, i);
		struct config_argocd_branch b;
		struct config_argocd_method m;
		struct config_argocd_cred c;

		if (u->branch)
			config_argocd_branch_parse(&b, u->branch, &err);
		if (u->method)
			config_argocd_method_parse(&m, u->method, &err);
		for (size_t k = 0; k < u->n_images; k++)
			if (u->images[k].pull_secret)
				config_argocd_cred_parse(
				        &c, u->images[k].pull_secret, &err);
	}
out:
	buf_release(&line);
	config_free(cfg);
	return 0;
}
