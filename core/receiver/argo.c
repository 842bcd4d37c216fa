/*
 * argo.c - the webhook types of Argo CD Image Updater's /webhook?type=:
 * its secret rules (?secret=, Authorization, X-Hub-Signature-256,
 * X-Webhook-Secret) and the payloads it reads (Aliyun ACR and CloudEvents
 * here; Docker Hub, GHCR, Harbor, Quay and ACR shared with the Flux types
 * in receiver.c).  It does not pick the type from the query: the caller
 * does, with receiver_argo_type_parse().
 */
#include "receiver_int.h"

#include <stdio.h>
#include <string.h>

/*
 * Checks the secret given in where.  Argo registers no handler for a type
 * without a secret unless --webhook-require-secret=false; ferry answers
 * 401 instead, or lets the request through with argo_allow_no_secret.
 * 0 when the request may go on; 1 after rx_fail(401).
 */
static int
check_secret(struct receiver_result *out, const struct receiver_config *cfg,
             const char *given, const char *where)
{
	if (!rx_has_token(cfg)) {
		if (cfg->argo_allow_no_secret)
			return 0;
		rx_fail(out, 401, ERR_AUTH,
		        "no webhook secret is configured for type '%s' "
		        "(--webhook-require-secret)",
		        receiver_type_name(cfg->type));
		return 1;
	}
	if (given == NULL || given[0] == '\0') {
		rx_fail(out, 401, ERR_AUTH, "webhook secret is missing (%s)",
		        where);
		return 1;
	}
	if (!rx_token_equal(cfg->token, given, strlen(given))) {
		rx_fail(out, 401, ERR_AUTH,
		        "webhook secret in %s does not match", where);
		return 1;
	}
	return 0;
}

static int
need_json(struct receiver_result *out, const struct receiver_request *req,
          bool cloudevents)
{
	char show[80];
	const char *ct;

	if (rx_content_type_contains(req, "application/json") ||
	    (cloudevents &&
	     rx_content_type_contains(req, "application/cloudevents+json")))
		return 0;
	ct = rx_header(req, "Content-Type");
	rx_fail(out, 400, ERR_INVALID, "invalid Content-Type '%s'",
	        rx_show(show, ct ? ct : ""));
	return 1;
}

static int
handle_ghcr(struct receiver_result *out, const struct receiver_config *cfg,
            const struct receiver_request *req)
{
	const char *event = rx_header(req, "X-GitHub-Event");
	char show[80];
	int rc;

	if (!rx_has_token(cfg)) {
		if (check_secret(out, cfg, NULL,
		                 "header 'X-Hub-Signature-256'"))
			return 0;
	} else {
		/* Argo compares the lower-case hex strings of sha256 only */
		rc = rx_check_hub_signature(
		        out, cfg, "X-Hub-Signature-256",
		        rx_header(req, "X-Hub-Signature-256"), req->body,
		        req->len, true, true);
		if (rc != 0)
			return rc < 0 ? rc : 0;
	}
	if (event == NULL || event[0] == '\0')
		return rx_fail(out, 400, ERR_INVALID,
		               "header 'X-GitHub-Event' is missing");
	if ((rc = rx_set_delivery_id(out,
	                             rx_header(req, "X-GitHub-Delivery"))) < 0)
		return rc;
	/* GitHub pings a new hook; Argo refuses it, ferry says fine */
	if (strcmp(event, "ping") == 0)
		return 0;
	if (strcmp(event, "package") != 0)
		return rx_fail(out, 400, ERR_INVALID,
		               "unsupported event type '%s'",
		               rx_show(show, event));
	return rx_parse_github_package(out, event, req->body, req->len, true);
}

/* A string value, or NULL when missing or not a string (Go's x.(string)). */
static const char *
loose_string(const cJSON *obj, const char *key)
{
	const cJSON *it = cJSON_IsObject(obj)
	                          ? cJSON_GetObjectItemCaseSensitive(obj, key)
	                          : NULL;

	return cJSON_IsString(it) ? it->valuestring : NULL;
}

static int
handle_aliyun(struct receiver_result *out, const struct receiver_config *cfg,
              const struct receiver_request *req)
{
	cJSON *root = NULL;
	const char *full = NULL, *ns = NULL, *name = NULL, *tag = NULL;
	const char *digest = NULL, *region = NULL;
	char repo[RX_MAX_NAME + 1], host[RX_MAX_NAME + 1];
	int rc = 0, n;

	if (check_secret(out, cfg, req->query_secret,
	                 "query parameter "
	                 "'secret'"))
		return 0;
	if (rx_parse_json(out, &root, req->body, req->len,
	                  "Aliyun ACR payload"))
		return 0;
	if (rx_json_string(out, root, "repository.repo_full_name", &full) < 0 ||
	    rx_json_string(out, root, "repository.namespace", &ns) < 0 ||
	    rx_json_string(out, root, "repository.name", &name) < 0 ||
	    rx_json_string(out, root, "repository.region", &region) < 0 ||
	    rx_json_string(out, root, "push_data.tag", &tag) < 0 ||
	    rx_json_string(out, root, "push_data.digest", &digest) < 0)
		goto out;
	if (full != NULL && full[0] != '\0')
		n = snprintf(repo, sizeof(repo), "%s", full);
	else if (ns != NULL && ns[0] != '\0' && name != NULL && name[0] != '\0')
		n = snprintf(repo, sizeof(repo), "%s/%s", ns, name);
	else
		n = snprintf(repo, sizeof(repo), "%s", name ? name : "");
	if (n <= 0 || (size_t)n >= sizeof(repo)) {
		rx_fail(out, 400, ERR_INVALID,
		        "payload: repository name is missing or too long");
		goto out;
	}
	/* The payload does not name an Enterprise instance's host; Argo
	 * takes it from ?registry_url=. */
	host[0] = '\0';
	if (req->query_registry_url != NULL &&
	    req->query_registry_url[0] != '\0') {
		rx_url_host(host, req->query_registry_url);
	} else if (region != NULL && region[0] != '\0') {
		n = snprintf(host, sizeof(host), "registry.%s.aliyuncs.com",
		             region);
		if (n < 0 || (size_t)n >= sizeof(host))
			host[0] = '\0';
	}
	rc = rx_event_add(out, host[0] ? host : NULL, repo, tag, digest, NULL);
out:
	cJSON_Delete(root);
	return rc;
}

/*
 * ECR's host from an EventBridge source "urn:aws:ecr:REGION:ACCOUNT:..."
 * (or arn:): ACCOUNT.dkr.ecr.REGION.amazonaws.com, data.registryId
 * replacing ACCOUNT when given.
 */
static void
ecr_host(char out[RX_MAX_NAME + 1], const char *source, const char *reg_id)
{
	const char *p[6];
	size_t n = 0;
	int len;

	out[0] = '\0';
	if (source == NULL || (strncmp(source, "urn:aws:ecr:", 12) != 0 &&
	                       strncmp(source, "arn:aws:ecr:", 12) != 0))
		return;
	p[n++] = source;
	for (const char *c = source; *c != '\0' && n < 6; c++)
		if (*c == ':')
			p[n++] = c + 1;
	if (n < 5)
		return;
	/* p[3] region, p[4] account; each ends at the next ':' */
	{
		size_t rlen = strcspn(p[3], ":");
		size_t alen = strcspn(p[4], ":");
		const char *acct = p[4];
		if (reg_id != NULL && reg_id[0] != '\0') {
			acct = reg_id;
			alen = strlen(reg_id);
		}
		if (rlen == 0 || alen == 0 || rlen > 64 || alen > 64)
			return;
		len = snprintf(out, RX_MAX_NAME + 1,
		               "%.*s.dkr.ecr.%.*s.amazonaws.com", (int)alen,
		               acct, (int)rlen, p[3]);
		if (len < 0 || len > RX_MAX_NAME)
			out[0] = '\0';
	}
}

/* The host of an http(s) source, or its first segment when it has a dot. */
static void
source_host(char out[RX_MAX_NAME + 1], const char *source)
{
	out[0] = '\0';
	if (source == NULL)
		return;
	if (strncmp(source, "http://", 7) == 0 ||
	    strncmp(source, "https://", 8) == 0) {
		rx_url_host(out, source);
		return;
	}
	if (strchr(source, '.') != NULL) {
		size_t n = strcspn(source, "/");
		if (n > 0 && n <= RX_MAX_NAME && memchr(source, '.', n)) {
			memcpy(out, source, n);
			out[n] = '\0';
		}
	}
}

static int
handle_cloudevents(struct receiver_result *out,
                   const struct receiver_config *cfg,
                   const struct receiver_request *req)
{
	const char *given = req->query_secret;
	const char *where = "query parameter 'secret'";
	const char *spec = NULL, *type = NULL, *subject = NULL, *source = NULL;
	const char *id = NULL, *repo = NULL, *tag = NULL, *digest = NULL, *v;
	char srepo[RX_MAX_NAME + 1], host[RX_MAX_NAME + 1];
	const cJSON *data = NULL;
	cJSON *root = NULL;
	int rc = 0;

	if (given == NULL || given[0] == '\0') {
		given = rx_header(req, "X-Webhook-Secret");
		where = "header 'X-Webhook-Secret'";
	}
	if (check_secret(out, cfg, given, where) || need_json(out, req, true))
		return 0;
	if (rx_parse_json(out, &root, req->body, req->len, "CloudEvent"))
		return 0;
	if (rx_json_string(out, root, "specversion", &spec) < 0 ||
	    rx_json_string(out, root, "type", &type) < 0 ||
	    rx_json_string(out, root, "subject", &subject) < 0 ||
	    rx_json_string(out, root, "source", &source) < 0 ||
	    rx_json_string(out, root, "id", &id) < 0 ||
	    rx_json_object(out, root, "data", &data) < 0)
		goto out;
	if (spec == NULL || spec[0] == '\0' || type == NULL ||
	    type[0] == '\0') {
		rx_fail(out, 400, ERR_INVALID,
		        "CloudEvent: 'specversion' or 'type' is missing");
		goto out;
	}
	if ((rc = rx_set_delivery_id(out, id)) < 0)
		goto out;
	/* "repo:tag" in the subject, split at the first ':', fills what
	 * data does not give */
	srepo[0] = '\0';
	if (subject != NULL && strchr(subject, ':') != NULL) {
		size_t n = strcspn(subject, ":");
		if (n <= RX_MAX_NAME) {
			memcpy(srepo, subject, n);
			srepo[n] = '\0';
			repo = srepo;
			tag = subject + n + 1;
		}
	}
	host[0] = '\0';
	if (strncmp(type, "com.amazon.ecr.", 15) == 0) {
		if ((v = loose_string(data, "repositoryName")) && v[0])
			repo = v;
		if ((v = loose_string(data, "imageTag")) && v[0])
			tag = v;
		digest = loose_string(data, "imageDigest");
		ecr_host(host, source, loose_string(data, "registryId"));
	} else if (strstr(type, "container") != NULL ||
	           strstr(type, "image") != NULL) {
		if ((v = loose_string(data, "repositoryName")) && v[0])
			repo = v;
		else if ((v = loose_string(data, "repository")) && v[0])
			repo = v;
		if ((v = loose_string(data, "imageTag")) && v[0])
			tag = v;
		else if ((v = loose_string(data, "tag")) && v[0])
			tag = v;
		if ((v = loose_string(data, "imageDigest")) != NULL)
			digest = v;
		else
			digest = loose_string(data, "digest");
		if ((v = loose_string(data, "registryUrl")) != NULL ||
		    (v = loose_string(data, "registry")) != NULL)
			rx_url_host(host, v);
		else
			source_host(host, source);
	} else {
		goto out; /* another kind of event: nothing to scan */
	}
	if (repo == NULL || repo[0] == '\0') {
		rx_fail(out, 400, ERR_INVALID,
		        "CloudEvent names no repository");
		goto out;
	}
	rc = rx_event_add(out, host[0] ? host : NULL, repo, tag, digest, NULL);
out:
	cJSON_Delete(root);
	return rc;
}

int
rx_handle_argo(struct receiver_result *out, const struct receiver_config *cfg,
               const struct receiver_request *req)
{
	const char *auth = rx_header(req, "Authorization");
	const char *q = "query parameter 'secret'";

	switch (cfg->type) {
	case RECEIVER_ARGO_DOCKER:
		if (check_secret(out, cfg, req->query_secret, q))
			return 0;
		return rx_parse_dockerhub(out, req->body, req->len);
	case RECEIVER_ARGO_GHCR:
		return handle_ghcr(out, cfg, req);
	case RECEIVER_ARGO_HARBOR:
		if (check_secret(out, cfg, auth, "header 'Authorization'") ||
		    need_json(out, req, false))
			return 0;
		return rx_parse_harbor(out, req->body, req->len);
	case RECEIVER_ARGO_QUAY:
		if (check_secret(out, cfg, req->query_secret, q))
			return 0;
		return rx_parse_quay(out, req->body, req->len);
	case RECEIVER_ARGO_ALIYUN_ACR:
		return handle_aliyun(out, cfg, req);
	case RECEIVER_ARGO_ACR:
		if (check_secret(out, cfg, auth, "header 'Authorization'") ||
		    need_json(out, req, false))
			return 0;
		return rx_parse_acr(out, req->body, req->len);
	case RECEIVER_ARGO_CLOUDEVENTS:
		return handle_cloudevents(out, cfg, req);
	default:
		break;
	}
	return -ERR_INTERNAL;
}
