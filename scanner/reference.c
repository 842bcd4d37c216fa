/*
 * reference.c - turns an image reference ("nginx", "ghcr.io/o/r:1.0",
 * "host:5000/a/b@sha256:...") into owned, normalised strings and the API
 * host.  The grammar itself is base/imageref.c; this file only copies the
 * parts out and picks the API host.  It does not resolve hosts or look at
 * credentials.
 */
#include "reference.h"

#include <stdlib.h>
#include <string.h>

#include "base/imageref.h"

void
reference_release(struct reference *r)
{
	free(r->domain);
	free(r->path);
	free(r->tag);
	free(r->digest);
	free(r->api_host);
	*r = (struct reference)REFERENCE_INIT;
}

/* strndup of s[0..len), or NULL of a NULL s; false when memory ran out */
static bool
copy_part(char **out, const char *s, size_t len)
{
	if (s == NULL)
		return true;
	*out = strndup(s, len);
	return *out != NULL;
}

int
reference_parse(struct reference *out, const char *s, size_t len,
                struct err *err)
{
	struct imageref r;
	struct buf domain = BUF_INIT, path = BUF_INIT;
	int rc;

	*out = (struct reference)REFERENCE_INIT;
	if ((rc = imageref_parse(&r, s, len, err)) < 0)
		return rc;
	imageref_domain(&domain, &r);
	imageref_path(&path, &r);
	if (!buf_ok(&domain) || !buf_ok(&path))
		goto nomem;
	out->domain = buf_detach(&domain);
	out->path = buf_detach(&path);
	if (out->domain == NULL || out->path == NULL)
		goto nomem;
	out->api_host = strdup(r.domain != NULL ? out->domain
	                                        : REFERENCE_DOCKER_HUB_API);
	if (out->api_host == NULL || !copy_part(&out->tag, r.tag, r.tag_len) ||
	    !copy_part(&out->digest, r.digest, r.digest_len))
		goto nomem;
	return 0;
nomem:
	buf_release(&domain);
	buf_release(&path);
	reference_release(out);
	return err_set(err, ERR_NOMEM, "out of memory");
}

int
reference_name(struct buf *out, const struct reference *r)
{
	return buf_addf(out, "%s/%s", r->domain, r->path);
}
