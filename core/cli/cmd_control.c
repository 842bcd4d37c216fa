/*
 * cmd_control.c - the commands that talk to a running daemon through its
 * control socket (core/daemon/control.c): `ferry get`, `ferry reconcile`,
 * `ferry suspend`, `ferry resume` and `ferry events`.  They print what the
 * daemon answers, as a table or (-o json) as it came; they change nothing
 * themselves.
 */
#define _GNU_SOURCE /* strptime, timegm */
#include "cli.h"

#include <curl/curl.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/buf.h"
#include "base/json.h"
#include "base/util.h"
#include "daemon/daemon.h"
#include "state/state.h"

#define CONTROL_MAX_REPLY ((size_t)64 << 20)

static const char get_help[] =
        "Usage: ferry get [KIND [NAME]] [-n NAMESPACE] [-A] [-o text|json]\n"
        "\n"
        "Shows the status the running daemon keeps for each object, as 'flux get'\n"
        "does: whether it is ready and why, what it last did, when it runs next.\n"
        "\n"
        "KIND is one of (singular, plural or short):\n"
        "  imagerepository, imagerepositories, repos, ir\n"
        "  imagepolicy, imagepolicies, policies, ip\n"
        "  imageupdateautomation, imageupdateautomations, automations, iua\n"
        "  kustomization, kustomizations, ks\n"
        "  application, applications, apps, app (Argo CD: the images of each\n"
        "    Application an ImageUpdater or its annotations update)\n"
        "  all (default)\n"
        "\n"
        "For a Kustomization it shows the last applied revision; -o json has\n"
        "the rest of its status: lastAttemptedRevision, lastFailure (phase and\n"
        "message), lastSync (files created, configured, deleted), lastDrift,\n"
        "targets, inventory.\n"
        "\n"
        "Options:\n"
        "  -n, --namespace NS    only objects in NS (default: every namespace)\n"
        "  -A, --all-namespaces  every namespace (the default; for flux users)\n"
        "  --state-dir DIR       the daemon's state directory (its socket is there)\n"
        "  --control-socket PATH the daemon's control socket, if elsewhere\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 shown, 1 no daemon answered, 2 bad arguments.\n"
        "\n"
        "Examples:\n"
        "  ferry get\n"
        "  ferry get imagepolicy app -n flux-system -o json\n"
        "  ferry get kustomizations\n";

static const char reconcile_help[] =
        "Usage: ferry reconcile KIND NAME [-n NAMESPACE] [--with-source]\n"
        "                       [--timeout DURATION] [-o text|json]\n"
        "\n"
        "Asks the running daemon to run an object now, waits for that run and\n"
        "prints its result.  With --with-source the inputs run first: for an\n"
        "ImagePolicy its ImageRepository's scan, for an ImageUpdateAutomation the\n"
        "scans and policies it reads (as 'flux reconcile ... --with-source').\n"
        "A Kustomization always fetches its GitRepository first, and syncs its\n"
        "targets even when they hold the revision already (hooks included).\n"
        "In a fleet, a run that another member owns is handed to that member\n"
        "and not waited for; each one handed over is named on stderr.\n"
        "\n"
        "KIND: imagerepository (ir), imagepolicy (ip), imageupdateautomation (iua),\n"
        "kustomization (ks), application (app).\n"
        "\n"
        "Options:\n"
        "  -n, --namespace NS    the object's namespace (default 'default')\n"
        "  --with-source         run the inputs first\n"
        "  --timeout DURATION    how long to wait (Go duration, default 2m)\n"
        "  --state-dir DIR, --control-socket PATH   as for ferry get\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "  -h, --help            show this help\n"
        "\n"
        "Exit codes: 0 the run ended ready (or was handed to its owner), 1 it\n"
        "failed or no daemon answered, 2 bad arguments.\n"
        "\n"
        "Examples:\n"
        "  ferry reconcile iua apps -n flux-system --with-source\n"
        "  ferry reconcile kustomization prod -n flux-system\n";

static const char suspend_help[] =
        "Usage: ferry suspend|resume KIND NAME [-n NAMESPACE] [-o text|json]\n"
        "\n"
        "Suspends an object in the running daemon (its runs are skipped until it\n"
        "is resumed), or resumes it and runs it at once.  The files are not\n"
        "changed: the suspension is kept in the state directory, across\n"
        "restarts.  An object with spec.suspend: true in its file stays\n"
        "suspended whatever this says.\n"
        "\n"
        "Options: -n NS, --state-dir DIR, --control-socket PATH, -o, -h as for\n"
        "ferry reconcile.\n";

static const char events_help[] =
        "Usage: ferry events [--watch] [--since SEQ] [-o text|json]\n"
        "\n"
        "Prints what the running daemon did, newest last: tags that changed,\n"
        "latest images that moved, commits pushed, scans and pushes that failed,\n"
        "reloads.  The daemon keeps the last 1,000 events in memory.\n"
        "\n"
        "Options:\n"
        "  -w, --watch           keep printing new events until interrupted\n"
        "  --since SEQ           only events after sequence number SEQ\n"
        "  --state-dir DIR, --control-socket PATH   as for ferry get\n"
        "  -o, --output FORMAT   text (default) or json (one object per line)\n"
        "  -h, --help            show this help\n";

/* Where to connect, from --control-socket or --state-dir. */
static int
socket_path(struct buf *out, const char *sock, const char *state_dir)
{
	if (sock)
		return buf_puts(out, sock);
	if (state_dir)
		buf_puts(out, state_dir);
	else
		state_default_dir(out);
	buf_addf(out, "/%s", DAEMON_CONTROL_SOCKET);
	return buf_ok(out) ? 0 : -1;
}

static size_t
on_body(char *p, size_t size, size_t n, void *payload)
{
	struct buf *b = payload;

	return buf_add(b, p, size * n) == 0 ? size * n : 0;
}

/*
 * One call to the control API: method and path with its query.  *doc_out
 * gets the JSON reply (also for an HTTP error), *status_out its status.
 * Prints why and returns -1 when no daemon answered.
 */
static int
call(const char *cmd, const char *sock, const char *method, const char *path,
     long timeout_ms, cJSON **doc_out, long *status_out)
{
	CURL *h = curl_easy_init();
	struct buf body = BUF_INIT, url = BUF_INIT;
	struct err e = ERR_INIT;
	char errbuf[CURL_ERROR_SIZE] = "";
	CURLcode rc;
	int ret = -1;

	*doc_out = NULL;
	body.max = CONTROL_MAX_REPLY;
	buf_addf(&url, "http://localhost%s", path);
	if (h == NULL || !buf_ok(&url))
		goto out;
	curl_easy_setopt(h, CURLOPT_UNIX_SOCKET_PATH, sock);
	curl_easy_setopt(h, CURLOPT_URL, url.ptr);
	curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
	if (strcmp(method, "POST") == 0)
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, "");
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, errbuf);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
	rc = curl_easy_perform(h);
	if (rc != CURLE_OK) {
		fprintf(stderr,
		        "ferry %s: no daemon answered on '%s' (%s); start one "
		        "with 'ferry run -f PATH', or give its --state-dir or "
		        "--control-socket\n",
		        cmd, sock, errbuf[0] ? errbuf : curl_easy_strerror(rc));
		goto out;
	}
	curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, status_out);
	if (json_parse(doc_out, body.ptr, body.len, "daemon reply", &e) < 0) {
		fprintf(stderr, "ferry %s: %s\n", cmd, e.msg);
		goto out;
	}
	ret = 0;
out:
	curl_easy_cleanup(h);
	buf_release(&body);
	buf_release(&url);
	return ret;
}

/* Maps what users type to the API's kind names; NULL for "all". */
static int
parse_kind(const char *s, const char **out)
{
	static const struct {
		const char *kind;
		const char *names[6];
	} kinds[] = {
		{ "ImageRepository",
		  { "imagerepository", "imagerepositories", "repos", "repo",
		    "ir", NULL } },
		{ "ImagePolicy",
		  { "imagepolicy", "imagepolicies", "policies", "policy", "ip",
		    NULL } },
		{ "ImageUpdateAutomation",
		  { "imageupdateautomation", "imageupdateautomations",
		    "automations", "automation", "iua", NULL } },
		{ "Kustomization",
		  { "kustomization", "kustomizations", "ks", NULL } },
		{ "Application",
		  { "application", "applications", "apps", "app", NULL } },
	};

	*out = NULL;
	if (strcasecmp(s, "all") == 0)
		return 0;
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
		if (strcasecmp(s, kinds[k].kind) == 0) {
			*out = kinds[k].kind;
			return 0;
		}
		for (size_t i = 0; kinds[k].names[i]; i++)
			if (strcasecmp(s, kinds[k].names[i]) == 0) {
				*out = kinds[k].kind;
				return 0;
			}
	}
	return -1;
}

/* Appends "&key=value" with value escaped. */
static void
query_add(struct buf *q, const char *key, const char *value)
{
	char *esc = curl_easy_escape(NULL, value, 0);

	buf_addf(q, "%c%s=%s", q->len == 0 || !strchr(q->ptr, '?') ? '?' : '&',
	         key, esc ? esc : "");
	curl_free(esc);
}

struct common {
	const char *state_dir, *sock, *ns;
	int json;
};

/* Parses the options every control command has; -1 to go on with
 * argv[optind], else the exit code. */
static int
common_options(int argc, char **argv, const char *cmd, const char *help,
               struct common *c, bool *with_source, long *timeout_ms,
               bool *watch, unsigned long long *since)
{
	static const struct option opts[] = {
		{ "namespace", required_argument, NULL, 'n' },
		{ "all-namespaces", no_argument, NULL, 'A' },
		{ "state-dir", required_argument, NULL, 'S' },
		{ "control-socket", required_argument, NULL, 'U' },
		{ "output", required_argument, NULL, 'o' },
		{ "with-source", no_argument, NULL, 'W' },
		{ "timeout", required_argument, NULL, 'T' },
		{ "watch", no_argument, NULL, 'w' },
		{ "since", required_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct err e = ERR_INIT;
	int64_t ns;
	long long n;
	int o;

	while ((o = getopt_long(argc, argv, "n:Ao:wh", opts, NULL)) != -1) {
		switch (o) {
		case 'n':
			c->ns = optarg;
			break;
		case 'A':
			c->ns = NULL;
			break;
		case 'S':
			c->state_dir = optarg;
			break;
		case 'U':
			c->sock = optarg;
			break;
		case 'o':
			if (cli_output_parse(cmd, optarg, &c->json) < 0)
				return CLI_USAGE;
			break;
		case 'W':
			if (with_source == NULL)
				return cli_usage_error(cmd, "unknown option");
			*with_source = true;
			break;
		case 'T':
			if (timeout_ms == NULL)
				return cli_usage_error(cmd, "unknown option");
			if (parse_duration(optarg, strlen(optarg), &ns, &e) <
			            0 ||
			    ns <= 0)
				return cli_usage_error(
				        cmd,
				        "--timeout: give a Go duration (2m)");
			*timeout_ms = (long)(ns / 1000000);
			break;
		case 'w':
			if (watch == NULL)
				return cli_usage_error(cmd, "unknown option");
			*watch = true;
			break;
		case 's':
			if (since == NULL ||
			    parse_long(optarg, strlen(optarg), 0, INT64_MAX, &n,
			               "--since", &e) < 0)
				return cli_usage_error(cmd, "--since: give a "
				                            "sequence number");
			*since = (unsigned long long)n;
			break;
		case 'h':
			fputs(help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error(cmd, "unknown option");
		}
	}
	return -1;
}

static const char *
str(const cJSON *o, const char *key)
{
	const char *s = json_get_string(o, key);
	return s ? s : "";
}

/* "2026-12-02T10:00:00Z" -> "3m ago" style age, or the text itself. */
static void
since_text(char *out, size_t n, const char *rfc3339)
{
	struct tm tm = { 0 };
	time_t t, now = time(NULL);
	long d;

	if (rfc3339 == NULL || *rfc3339 == '\0' ||
	    strptime(rfc3339, "%Y-%m-%dT%H:%M:%SZ", &tm) == NULL) {
		snprintf(out, n, "-");
		return;
	}
	t = timegm(&tm);
	d = (long)(now - t);
	if (d < 0)
		d = 0;
	if (d < 120)
		snprintf(out, n, "%lds ago", d);
	else if (d < 7200)
		snprintf(out, n, "%ldm ago", d / 60);
	else if (d < 172800)
		snprintf(out, n, "%ldh ago", d / 3600);
	else
		snprintf(out, n, "%ldd ago", d / 86400);
}

/* The one column that differs by kind: last scan, latest image, last
 * push. */
static void
what_text(char *out, size_t n, const cJSON *o)
{
	const char *kind = str(o, "kind");
	const cJSON *r;
	char ago[32];

	if (strcmp(kind, "ImageRepository") == 0) {
		r = cJSON_GetObjectItemCaseSensitive(o, "lastScanResult");
		since_text(ago, sizeof(ago), json_get_string(r, "scanTime"));
		if (r)
			snprintf(out, n, "%d tags, %s",
			         cJSON_GetObjectItemCaseSensitive(r, "tagCount")
			                 ? cJSON_GetObjectItemCaseSensitive(
			                           r, "tagCount")
			                           ->valueint
			                 : 0,
			         ago);
		else
			snprintf(out, n, "-");
	} else if (strcmp(kind, "ImagePolicy") == 0) {
		r = cJSON_GetObjectItemCaseSensitive(o, "latestRef");
		if (r && json_get_string(r, "tag"))
			snprintf(out, n, "%s:%s%s%.19s", str(r, "name"),
			         str(r, "tag"),
			         json_get_string(r, "digest") ? "@" : "",
			         str(r, "digest"));
		else
			snprintf(out, n, "-");
	} else if (strcmp(kind, "Kustomization") == 0) {
		const char *rev = json_get_string(o, "lastAppliedRevision");
		const char *at = rev ? strstr(rev, "sha1:") : NULL;
		since_text(ago, sizeof(ago),
		           json_get_string(o, "lastAppliedTime"));
		if (rev && at)
			snprintf(out, n, "%.*s%.12s %s", (int)(at - rev), rev,
			         at, ago);
		else
			snprintf(out, n, "%s", rev ? rev : "-");
	} else if (strcmp(kind, "Application") == 0) {
		/* its images and what each is at: "alias=image:tag, ..." */
		struct buf b = BUF_INIT;
		const cJSON *im;

		cJSON_ArrayForEach(
		        im, cJSON_GetObjectItemCaseSensitive(o, "images"))
		{
			const char *a = str(im, "alias");
			buf_addf(&b, "%s%s%s%s:%s", b.len ? ", " : "", a,
			         *a ? "=" : "", str(im, "image"),
			         json_get_string(im, "tag") ? str(im, "tag")
			                                    : "-");
		}
		snprintf(out, n, "%s", b.len && buf_ok(&b) ? b.ptr : "-");
		buf_release(&b);
	} else {
		since_text(ago, sizeof(ago),
		           json_get_string(o, "lastPushTime"));
		if (json_get_string(o, "lastPushCommit"))
			snprintf(out, n, "%.12s %s", str(o, "lastPushCommit"),
			         ago);
		else
			snprintf(out, n, "-");
	}
}

static void
print_table(const cJSON *list)
{
	static const char *const kinds[] = { "ImageRepository", "ImagePolicy",
		                             "ImageUpdateAutomation",
		                             "Kustomization", "Application" };
	static const char *const heads[] = { "LAST SCAN", "LATEST IMAGE",
		                             "LAST PUSH", "LAST APPLIED",
		                             "IMAGES" };
	const cJSON *o;
	bool fleet = false;

	/* In a fleet every object has an owner: show it. */
	cJSON_ArrayForEach(o, list)
	{
		if (json_get_string(o, "owner"))
			fleet = true;
	}
	for (size_t k = 0; k < sizeof(kinds) / sizeof(*kinds); k++) {
		bool any = false;
		cJSON_ArrayForEach(o, list)
		{
			char name[600], what[600];
			const char *msg = str(o, "message");
			if (strcmp(str(o, "kind"), kinds[k]) != 0)
				continue;
			if (!any)
				printf("%s%-40s %-40s %s%-9s %-7s %s\n",
				       k && cJSON_GetArraySize(list) ? "\n"
				                                     : "",
				       kinds[k], heads[k],
				       fleet ? "OWNER      " : "", "SUSPENDED",
				       "READY", "MESSAGE");
			any = true;
			snprintf(name, sizeof(name), "%s/%s",
			         str(o, "namespace"), str(o, "name"));
			what_text(what, sizeof(what), o);
			printf("%-40s %-40s ", name, what);
			if (fleet)
				printf("%-10.10s ", str(o, "owner"));
			printf("%-9s %-7s %.*s\n",
			       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(
			               o, "suspended"))
			               ? "True"
			               : "False",
			       str(o, "ready"), (int)strcspn(msg, "\n"), msg);
		}
	}
}

/* A fleet's members, after the table. */
static void
print_members(const cJSON *doc)
{
	const cJSON *m;
	bool first = true;

	cJSON_ArrayForEach(m, cJSON_GetObjectItemCaseSensitive(doc, "members"))
	{
		printf("%s%s%s", first ? "\nMembers: " : ", ", str(m, "id"),
		       cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(m, "self"))
		               ? " (this one)"
		               : "");
		first = false;
	}
	if (!first)
		printf("\n");
}

static void
print_json(const cJSON *doc)
{
	char *text = cJSON_Print(doc);

	if (text)
		printf("%s\n", text);
	cJSON_free(text);
}

/* The runs a reconcile handed to other members of a fleet, on stderr. */
static void
print_handed_off(const char *cmd, const cJSON *doc)
{
	const cJSON *h;

	cJSON_ArrayForEach(h,
	                   cJSON_GetObjectItemCaseSensitive(doc, "handedOff"))
	{
		fprintf(stderr,
		        "ferry %s: %s %s/%s handed to member '%s', which owns "
		        "it (not waited for; see 'ferry get' there)\n",
		        cmd, str(h, "kind"), str(h, "namespace"),
		        str(h, "name"), str(h, "member"));
	}
}

static int
get_or_act(int argc, char **argv, const char *cmd, const char *help,
           const char *api)
{
	struct common c = { 0 };
	struct buf sock = BUF_INIT, q = BUF_INIT;
	const char *kind = NULL, *name = NULL;
	bool with_source = false;
	long timeout_ms = 2 * 60 * 1000;
	cJSON *doc = NULL, *list;
	long status = 0;
	int rc;

	rc = common_options(argc, argv, cmd, help, &c,
	                    api ? &with_source : NULL, api ? &timeout_ms : NULL,
	                    NULL, NULL);
	if (rc >= 0)
		return rc;
	if (optind < argc && parse_kind(argv[optind], &kind) < 0)
		return cli_usage_error(cmd, "unknown kind '%s'", argv[optind]);
	if (optind < argc)
		optind++;
	if (optind < argc)
		name = argv[optind++];
	if (optind < argc)
		return cli_usage_error(cmd, "unexpected argument '%s'",
		                       argv[optind]);
	if (api && (kind == NULL || name == NULL))
		return cli_usage_error(cmd, "give KIND and NAME");
	if (socket_path(&sock, c.sock, c.state_dir) < 0)
		return CLI_FAILED;
	buf_puts(&q, api ? api : "/v1/objects");
	if (kind)
		query_add(&q, "kind", kind);
	if (c.ns || api)
		query_add(&q, "namespace", c.ns ? c.ns : "default");
	if (name)
		query_add(&q, "name", name);
	if (with_source)
		query_add(&q, "withSource", "true");
	if (api) {
		char t[32];
		snprintf(t, sizeof(t), "%ld", timeout_ms);
		query_add(&q, "timeout", t);
	}
	if (!buf_ok(&q) || call(cmd, sock.ptr, api ? "POST" : "GET", q.ptr,
	                        timeout_ms + 10000, &doc, &status) < 0) {
		rc = CLI_FAILED;
		goto out;
	}
	if (status != 200 && status != 202) {
		fprintf(stderr, "ferry %s: %s\n", cmd, str(doc, "error"));
		rc = status == 404 || status == 400 ? CLI_USAGE : CLI_FAILED;
		goto out;
	}
	print_handed_off(cmd, doc);
	if (c.json) {
		print_json(doc);
	} else if (api) {
		list = cJSON_CreateArray();
		cJSON_AddItemReferenceToArray(list, doc);
		print_table(list);
		cJSON_Delete(list);
	} else {
		list = cJSON_GetObjectItemCaseSensitive(doc, "objects");
		if (name && cJSON_GetArraySize(list) == 0) {
			fprintf(stderr, "ferry %s: no %s named '%s'\n", cmd,
			        kind ? kind : "object", name);
			rc = CLI_USAGE;
			goto out;
		}
		print_table(list);
		print_members(doc);
	}
	rc = CLI_OK;
	/* reconcile reports the run's outcome in its exit code, when the
	 * run was here (202: handed to the member that owns the object) */
	if (api && strcmp(api, "/v1/reconcile") == 0 && status == 200 &&
	    strcmp(str(doc, "ready"), "True") != 0)
		rc = CLI_FAILED;
out:
	cJSON_Delete(doc);
	buf_release(&sock);
	buf_release(&q);
	return rc;
}

int
cmd_get(int argc, char **argv)
{
	return get_or_act(argc, argv, "get", get_help, NULL);
}

int
cmd_reconcile(int argc, char **argv)
{
	return get_or_act(argc, argv, "reconcile", reconcile_help,
	                  "/v1/reconcile");
}

int
cmd_suspend(int argc, char **argv)
{
	return get_or_act(argc, argv, "suspend", suspend_help, "/v1/suspend");
}

int
cmd_resume(int argc, char **argv)
{
	return get_or_act(argc, argv, "resume", suspend_help, "/v1/resume");
}

int
cmd_events(int argc, char **argv)
{
	struct common c = { 0 };
	struct buf sock = BUF_INIT, q = BUF_INIT;
	unsigned long long since = 0;
	bool watch = false;
	cJSON *doc = NULL;
	long status = 0;
	int rc = common_options(argc, argv, "events", events_help, &c, NULL,
	                        NULL, &watch, &since);

	if (rc >= 0)
		return rc;
	if (optind < argc)
		return cli_usage_error("events", "unexpected argument '%s'",
		                       argv[optind]);
	if (socket_path(&sock, c.sock, c.state_dir) < 0)
		return CLI_FAILED;
	setvbuf(stdout, NULL, _IOLBF, 0);
	do {
		const cJSON *e;
		buf_reset(&q);
		buf_addf(&q, "/v1/events?after=%llu&wait=%d", since,
		         watch ? 30000 : 0);
		cJSON_Delete(doc);
		if (call("events", sock.ptr, "GET", q.ptr, 60000, &doc,
		         &status) < 0 ||
		    status != 200) {
			rc = CLI_FAILED;
			goto out;
		}
		cJSON_ArrayForEach(
		        e, cJSON_GetObjectItemCaseSensitive(doc, "events"))
		{
			const cJSON *seq =
			        cJSON_GetObjectItemCaseSensitive(e, "seq");
			const cJSON *ms =
			        cJSON_GetObjectItemCaseSensitive(e, "timeMs");
			char when[32];
			time_t t = ms ? (time_t)(ms->valuedouble / 1000) : 0;
			struct tm tm;
			if (seq)
				since = (unsigned long long)seq->valuedouble;
			if (c.json) {
				char *line = cJSON_PrintUnformatted(e);
				if (line)
					printf("%s\n", line);
				cJSON_free(line);
				continue;
			}
			gmtime_r(&t, &tm);
			strftime(when, sizeof(when), "%Y-%m-%dT%H:%M:%SZ", &tm);
			printf("%s %-5s %s %s/%s %s: %s\n", when,
			       str(e, "severity"), str(e, "kind"),
			       str(e, "namespace"), str(e, "name"),
			       str(e, "reason"), str(e, "message"));
		}
	} while (watch);
	rc = CLI_OK;
out:
	cJSON_Delete(doc);
	buf_release(&sock);
	buf_release(&q);
	return rc;
}
