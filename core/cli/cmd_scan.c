/*
 * cmd_scan.c - `ferry scan IMAGE...`: lists the tags of images straight
 * from their registries, all images at once, with the same client the
 * daemon uses.  It prints and exits; it keeps no state.
 */
#include "cli.h"

#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/secret.h"
#include "base/util.h"
#include "scanner/registry.h"

#define SCAN_MAX_EXCLUDES 64
#define SCAN_MAX_PASSWORD 4096

static const char scan_help[] =
        "Usage: ferry scan [options] IMAGE...\n"
        "\n"
        "Lists the tags of each IMAGE (a repository such as 'nginx',\n"
        "'ghcr.io/org/app' or '127.0.0.1:5000/team/app', without a tag) from\n"
        "its registry, all images concurrently.  Prints 'IMAGE<TAB>TAG' lines,\n"
        "IMAGE as given, tags in byte-wise order.  Tags matching an exclusion\n"
        "pattern (default '^.*\\.sig$', cosign signatures) and tags outside\n"
        "the OCI grammar are left out.\n"
        "\n"
        "Options:\n"
        "  -o, --output FORMAT     text (default) or json: one object per image\n"
        "                          per line, with the canonical name and tags\n"
        "      --digests           add each tag's manifest digest (one HEAD each)\n"
        "      --created           add each tag's creation time (config blob)\n"
        "      --platform OS/ARCH  platform to read out of multi-arch indexes\n"
        "                          (default linux/amd64); adds the platform\n"
        "      --exclude REGEX     leave out matching tags (repeatable; replaces\n"
        "                          the default)\n"
        "      --docker-config PATH  credentials from a Docker config.json or a\n"
        "                          dockerconfigjson (default $DOCKER_CONFIG/\n"
        "                          config.json, then ~/.docker/config.json)\n"
        "  -u, --username USER     Basic credentials; the password is read from\n"
        "      --password-stdin    standard input\n"
        "      --insecure          plain HTTP (registries without TLS)\n"
        "      --ca-file PATH      CA bundle to verify the registry with\n"
        "      --cert-file PATH    client certificate (with --key-file)\n"
        "      --key-file PATH\n"
        "      --timeout DURATION  per request, Go syntax (default 30s)\n"
        "      --retries N         retries of 429/5xx/timeouts (default 4)\n"
        "      --concurrency N     requests in flight per registry (default 8)\n"
        "      --rate N            requests started per second per registry\n"
        "  -h, --help              show this help\n"
        "\n"
        "Exit status: 0 when every image was scanned, 1 when any failed (the\n"
        "message names the image and the cause), 2 on bad arguments.\n"
        "\n"
        "Example:\n"
        "  ferry scan --insecure --digests 127.0.0.1:5000/team/app\n";

enum {
	OPT_DIGESTS = 256,
	OPT_CREATED,
	OPT_PLATFORM,
	OPT_EXCLUDE,
	OPT_DOCKER_CONFIG,
	OPT_PASSWORD_STDIN,
	OPT_INSECURE,
	OPT_CA,
	OPT_CERT,
	OPT_KEY,
	OPT_TIMEOUT,
	OPT_RETRIES,
	OPT_CONCURRENCY,
	OPT_RATE,
};

static void
progress_line(size_t done, size_t total, void *payload)
{
	(void)payload;
	fprintf(stderr, "\rscanned %zu of %zu images", done, total);
	if (done == total)
		fputs("\r\033[K", stderr);
	fflush(stderr);
}

static int
read_password(struct secret *out)
{
	struct buf b = BUF_INIT;
	char chunk[512];
	size_t n;
	int rc = 0;

	b.max = SCAN_MAX_PASSWORD;
	while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0)
		buf_add(&b, chunk, n);
	while (b.len > 0 &&
	       (b.ptr[b.len - 1] == '\n' || b.ptr[b.len - 1] == '\r'))
		buf_truncate(&b, b.len - 1);
	if (!buf_ok(&b) || secret_set(out, b.ptr, b.len) < 0)
		rc = -1;
	secret_wipe(b.ptr, b.len);
	buf_release(&b);
	return rc;
}

static int
read_file_opt(struct buf *out, const char *path, const char *what)
{
	struct err e = ERR_INIT;

	if (file_read(out, path, &e) < 0) {
		fprintf(stderr, "ferry scan: %s: %s\n", what, e.msg);
		return -1;
	}
	return 0;
}

static void
print_text(const char *image, const struct registry_scan *s, unsigned want)
{
	size_t i;

	for (i = 0; i < s->ntags; i++) {
		const struct registry_tag *t = &s->tags[i];
		printf("%s\t%s", image, t->name);
		if (want & REGISTRY_WANT_DIGEST)
			printf("\t%s", t->digest ? t->digest : "-");
		if (want & REGISTRY_WANT_CREATED)
			printf("\t%s", t->created ? t->created : "-");
		if (want & REGISTRY_WANT_PLATFORM)
			printf("\t%s", t->platform ? t->platform : "-");
		putchar('\n');
	}
}

static int
print_json(const char *image, const struct registry_scan *s, unsigned want)
{
	cJSON *o = cJSON_CreateObject(), *tags, *det, *d;
	char *txt;
	size_t i;

	if (o == NULL)
		return -1;
	cJSON_AddStringToObject(o, "image", image);
	if (s->rc < 0) {
		cJSON_AddStringToObject(o, "error", s->err.msg);
		cJSON_AddStringToObject(o, "code", err_code_name(-s->rc));
	} else {
		cJSON_AddStringToObject(o, "name", s->name);
		tags = cJSON_AddArrayToObject(o, "tags");
		det = want ? cJSON_AddArrayToObject(o, "details") : NULL;
		for (i = 0; i < s->ntags && tags; i++) {
			const struct registry_tag *t = &s->tags[i];
			cJSON_AddItemToArray(tags, cJSON_CreateString(t->name));
			if (det == NULL)
				continue;
			d = cJSON_CreateObject();
			if (d == NULL)
				break;
			cJSON_AddStringToObject(d, "tag", t->name);
			if (t->digest)
				cJSON_AddStringToObject(d, "digest", t->digest);
			if (want & REGISTRY_WANT_CREATED) {
				if (t->created)
					cJSON_AddStringToObject(d, "created",
					                        t->created);
				else
					cJSON_AddNullToObject(d, "created");
			}
			if (want & REGISTRY_WANT_PLATFORM) {
				if (t->platform)
					cJSON_AddStringToObject(d, "platform",
					                        t->platform);
				else
					cJSON_AddNullToObject(d, "platform");
			}
			cJSON_AddItemToArray(det, d);
		}
	}
	txt = json_print(o);
	cJSON_Delete(o);
	if (txt == NULL)
		return -1;
	puts(txt);
	cJSON_free(txt);
	return 0;
}

int
cmd_scan(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "digests", no_argument, NULL, OPT_DIGESTS },
		{ "created", no_argument, NULL, OPT_CREATED },
		{ "platform", required_argument, NULL, OPT_PLATFORM },
		{ "exclude", required_argument, NULL, OPT_EXCLUDE },
		{ "docker-config", required_argument, NULL, OPT_DOCKER_CONFIG },
		{ "username", required_argument, NULL, 'u' },
		{ "password-stdin", no_argument, NULL, OPT_PASSWORD_STDIN },
		{ "insecure", no_argument, NULL, OPT_INSECURE },
		{ "ca-file", required_argument, NULL, OPT_CA },
		{ "cert-file", required_argument, NULL, OPT_CERT },
		{ "key-file", required_argument, NULL, OPT_KEY },
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "retries", required_argument, NULL, OPT_RETRIES },
		{ "concurrency", required_argument, NULL, OPT_CONCURRENCY },
		{ "rate", required_argument, NULL, OPT_RATE },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct registry_options ro = REGISTRY_OPTIONS_INIT;
	struct registry_client *client = NULL;
	struct registry_image *imgs = NULL;
	struct registry_scan *scans = NULL;
	const char *excludes[SCAN_MAX_EXCLUDES];
	size_t nexcl = 0, n, i;
	const char *config_path = NULL, *username = NULL, *platform = NULL;
	const char *ca_path = NULL, *cert_path = NULL, *key_path = NULL;
	struct buf config = BUF_INIT, ca = BUF_INIT, cert = BUF_INIT,
	           key = BUF_INIT, def = BUF_INIT;
	struct secret password = SECRET_INIT;
	bool pw_stdin = false, insecure = false, have_config = false;
	unsigned want = 0;
	int c, json = 0, rc = CLI_OK;
	long long v;
	int64_t ns;
	struct err e = ERR_INIT;

	while ((c = getopt_long(argc, argv, "o:u:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (cli_output_parse("scan", optarg, &json) < 0)
				return CLI_USAGE;
			break;
		case OPT_DIGESTS:
			want |= REGISTRY_WANT_DIGEST;
			break;
		case OPT_CREATED:
			want |= REGISTRY_WANT_DIGEST | REGISTRY_WANT_CREATED;
			break;
		case OPT_PLATFORM:
			if (strchr(optarg, '/') == NULL)
				return cli_usage_error(
				        "scan",
				        "--platform takes OS/ARCH[/VARIANT], "
				        "not '%s'",
				        optarg);
			platform = optarg;
			want |= REGISTRY_WANT_DIGEST | REGISTRY_WANT_PLATFORM;
			break;
		case OPT_EXCLUDE:
			if (nexcl == SCAN_MAX_EXCLUDES)
				return cli_usage_error(
				        "scan", "at most %d --exclude patterns",
				        SCAN_MAX_EXCLUDES);
			excludes[nexcl++] = optarg;
			break;
		case OPT_DOCKER_CONFIG:
			config_path = optarg;
			break;
		case 'u':
			username = optarg;
			break;
		case OPT_PASSWORD_STDIN:
			pw_stdin = true;
			break;
		case OPT_INSECURE:
			insecure = true;
			break;
		case OPT_CA:
			ca_path = optarg;
			break;
		case OPT_CERT:
			cert_path = optarg;
			break;
		case OPT_KEY:
			key_path = optarg;
			break;
		case OPT_TIMEOUT:
			if (parse_duration(optarg, strlen(optarg), &ns, &e) <
			            0 ||
			    ns < 1000000)
				return cli_usage_error(
				        "scan",
				        "--timeout takes a duration of at "
				        "least 1ms, such as 30s, not '%s'",
				        optarg);
			ro.timeout_ms = (long)(ns / 1000000);
			if (ro.connect_timeout_ms > ro.timeout_ms)
				ro.connect_timeout_ms = ro.timeout_ms;
			break;
		case OPT_RETRIES:
			if (parse_long(optarg, strlen(optarg), 0,
			               REGISTRY_MAX_RETRIES, &v, "--retries",
			               &e) < 0)
				return cli_usage_error("scan", "%s", e.msg);
			ro.max_retries = (int)v;
			break;
		case OPT_CONCURRENCY:
			if (parse_long(optarg, strlen(optarg), 1, 256, &v,
			               "--concurrency", &e) < 0)
				return cli_usage_error("scan", "%s", e.msg);
			ro.max_per_host = (int)v;
			break;
		case OPT_RATE:
			if (parse_long(optarg, strlen(optarg), 0, 1000, &v,
			               "--rate", &e) < 0)
				return cli_usage_error("scan", "%s", e.msg);
			ro.rate_per_host = (int)v;
			break;
		case 'h':
			fputs(scan_help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("scan", "unknown option");
		}
	}
	n = (size_t)(argc - optind);
	if (n == 0)
		return cli_usage_error("scan", "give at least one IMAGE");
	if (pw_stdin && username == NULL)
		return cli_usage_error("scan",
		                       "--password-stdin needs --username");
	if (username != NULL && !pw_stdin)
		return cli_usage_error("scan",
		                       "--username needs --password-stdin");
	if ((cert_path == NULL) != (key_path == NULL))
		return cli_usage_error(
		        "scan", "--cert-file and --key-file go together");
	if (pw_stdin && read_password(&password) < 0) {
		fprintf(stderr, "ferry scan: cannot read the password\n");
		return CLI_FAILED;
	}
	if (config_path != NULL) {
		if (read_file_opt(&config, config_path, "--docker-config") <
		    0) {
			rc = CLI_USAGE;
			goto out;
		}
		have_config = true;
	} else {
		const char *dc = getenv("DOCKER_CONFIG"),
		           *home = getenv("HOME");
		if (dc != NULL && dc[0])
			buf_addf(&def, "%s/config.json", dc);
		else if (home != NULL && home[0])
			buf_addf(&def, "%s/.docker/config.json", home);
		if (def.len > 0 && buf_ok(&def) && access(def.ptr, R_OK) == 0) {
			if (read_file_opt(&config, def.ptr, "docker config") <
			    0) {
				rc = CLI_USAGE;
				goto out;
			}
			have_config = true;
		}
	}
	if ((ca_path && read_file_opt(&ca, ca_path, "--ca-file") < 0) ||
	    (cert_path && read_file_opt(&cert, cert_path, "--cert-file") < 0) ||
	    (key_path && read_file_opt(&key, key_path, "--key-file") < 0)) {
		rc = CLI_USAGE;
		goto out;
	}
	imgs = calloc(n, sizeof(*imgs));
	scans = calloc(n, sizeof(*scans));
	if (imgs == NULL || scans == NULL) {
		fprintf(stderr, "ferry scan: out of memory\n");
		rc = CLI_FAILED;
		goto out;
	}
	for (i = 0; i < n; i++) {
		struct registry_image *im = &imgs[i];
		im->image = argv[optind + (int)i];
		if (have_config) {
			im->dockerconfig = config.ptr;
			im->dockerconfig_len = config.len;
		}
		im->username = username;
		im->password = username ? &password : NULL;
		im->insecure = insecure;
		im->exclusions = nexcl ? excludes : NULL;
		im->n_exclusions = nexcl;
		if (ca_path) {
			im->ca_pem = ca.ptr;
			im->ca_pem_len = ca.len;
		}
		if (cert_path) {
			im->cert_pem = cert.ptr;
			im->cert_pem_len = cert.len;
			im->key_pem = key.ptr;
			im->key_pem_len = key.len;
		}
		im->want = want;
		im->platform = platform;
		scans[i] = (struct registry_scan)REGISTRY_SCAN_INIT;
	}
	if (registry_client_new(&client, &ro, &e) < 0) {
		fprintf(stderr, "ferry scan: %s\n", e.msg);
		rc = CLI_FAILED;
		goto out;
	}
	registry_scan_all(client, imgs, scans, n,
	                  (n > 1 && isatty(2)) ? progress_line : NULL, NULL);
	for (i = 0; i < n; i++) {
		if (scans[i].rc < 0) {
			fprintf(stderr, "ferry scan: %s\n", scans[i].err.msg);
			rc = CLI_FAILED;
		}
		if (json)
			print_json(imgs[i].image, &scans[i], want);
		else if (scans[i].rc == 0)
			print_text(imgs[i].image, &scans[i], want);
	}
	if (fflush(stdout) != 0) {
		fprintf(stderr, "ferry scan: cannot write the output\n");
		rc = CLI_FAILED;
	}
out:
	if (scans)
		for (i = 0; i < n; i++)
			registry_scan_release(&scans[i]);
	free(scans);
	free(imgs);
	registry_client_free(client);
	secret_release(&password);
	secret_wipe(config.ptr, config.len);
	buf_release(&config);
	buf_release(&ca);
	buf_release(&cert);
	secret_wipe(key.ptr, key.len);
	buf_release(&key);
	buf_release(&def);
	return rc;
}
