/*
 * fuzz_argocd_read.c - feeds arbitrary YAML to the reading side of
 * writeback/argocd.h: what a Helm values file holds at a value path
 * (dotted keys, [N] indexes), what an override file holds for an image or
 * a parameter, a kustomization's images: entry, the image a directory's
 * manifests run and the application's type.  Asserts, besides "no crash,
 * no leak":
 *   - a failed read hands back nothing, and says why;
 *   - a value read back is not empty (an empty or null scalar reads
 *     as no value, as Argo CD Image Updater reads it);
 *   - the type is Helm only with a Chart.yaml, Kustomize only with a
 *     kustomization file.
 * Input: byte 0's low bit puts a Chart.yaml beside the files, bit 1
 * names the file kustomization.yaml (else values.yaml); then one line
 * holding the key (a value path, an image name), then the file, which is
 * also written as deploy.yaml and .argocd-source-web.yaml.  Files go to
 * a private directory under /dev/shm (or /tmp).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/fsroot.h"
#include "base/log.h"
#include "base/util.h"
#include "writeback/argocd.h"

#define FUZZ_MAX_INPUT 8192

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_argocd_read: invariant broken: %s\n",
		        what);
		abort();
	}
}

/* The result of a reader that hands back one string. */
static void
check_value(int rc, char *v, const struct err *e)
{
	if (rc < 0) {
		check(v == NULL, "nothing on failure");
		check(e->msg[0] != '\0', "a failure says why");
		return;
	}
	if (v != NULL)
		check(*v != '\0', "a value read back is not empty");
	free(v);
}

static void
put(const char *dir, const char *name, const char *bytes, size_t len,
    bool present)
{
	struct buf p = BUF_INIT;
	struct err e = ERR_INIT;

	buf_addf(&p, "%s/%s", dir, name);
	check(buf_ok(&p), "memory");
	if (present)
		check(file_write_atomic(p.ptr, bytes, len, 0644, &e) == 0,
		      "write a file");
	else
		unlink(p.ptr);
	buf_release(&p);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char dir[64];
	struct fsroot *root = NULL;
	struct argocd_kustomize_entry ke;
	enum argocd_app_type type;
	struct err e = ERR_INIT;
	const char *nl, *body;
	char key[256], *v;
	bool chart, kust;
	size_t blen;
	int rc;

	log_configure(LOG_ERROR, LOG_FORMAT_LOGFMT, -1);
	if (size < 2 || size > FUZZ_MAX_INPUT)
		return 0;
	chart = (data[0] & 1) != 0;
	kust = (data[0] & 2) != 0;
	nl = memchr(data + 1, '\n', size - 1);
	if (nl == NULL || (size_t)(nl - (const char *)data - 1) >= sizeof(key))
		return 0;
	memcpy(key, data + 1, (size_t)(nl - (const char *)data - 1));
	key[nl - (const char *)data - 1] = '\0';
	if (strlen(key) == 0)
		return 0;
	body = nl + 1;
	blen = size - (size_t)(body - (const char *)data);
	if (dir[0] == '\0') {
		snprintf(dir, sizeof(dir), "%s/ferry-fuzz-argoread-XXXXXX",
		         access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
		if (mkdtemp(dir) == NULL)
			abort();
	}
	put(dir, "values.yaml", body, blen, !kust);
	put(dir, "kustomization.yaml", body, blen, kust);
	put(dir, "deploy.yaml", body, blen, true);
	put(dir, ".argocd-source-web.yaml", body, blen, true);
	put(dir, "Chart.yaml", "apiVersion: v2\nname: x\n", 23, chart);
	check(fsroot_open(&root, dir, 0, &e) == 0, "open the root");

	v = (char *)1;
	rc = argocd_values_get(&v, root, "values.yaml", key, &e);
	check_value(rc, v, &e);

	v = (char *)1;
	rc = argocd_source_kustomize_get(&v, root, ".argocd-source-web.yaml",
	                                 key, &e);
	check_value(rc, v, &e);

	v = (char *)1;
	rc = argocd_source_helm_get(&v, root, ".argocd-source-web.yaml", key,
	                            &e);
	check_value(rc, v, &e);

	rc = argocd_kustomization_get(&ke, root, "", key, &e);
	if (rc < 0)
		check(ke.new_name == NULL && ke.new_tag == NULL &&
		              ke.digest == NULL,
		      "no entry on failure");
	else
		check(kust, "a kustomization was there");
	argocd_kustomize_entry_release(&ke);

	v = (char *)1;
	rc = argocd_manifests_image_get(&v, root, "", key, &e);
	check_value(rc, v, &e);

	if (argocd_app_type_detect(&type, root, "", &e) == 0) {
		check(type != ARGOCD_APP_KUSTOMIZE || kust,
		      "Kustomize only with a kustomization");
		check(type != ARGOCD_APP_HELM || chart,
		      "Helm only with a Chart.yaml");
		check(!kust || type == ARGOCD_APP_KUSTOMIZE,
		      "a kustomization wins");
	}
	fsroot_free(root);
	return 0;
}
