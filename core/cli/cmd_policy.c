/*
 * cmd_policy.c - `ferry policy test`: runs a tag policy over tags given as
 * arguments or on stdin and prints the tag that wins.  A thin front end over
 * policy/ (the same code the daemon runs); it reads stdin line by line and
 * keeps only the best tag, so it takes millions of tags in little memory.
 */
#include "cli.h"

#include <cjson/cJSON.h>
#include <getopt.h>
#include <stdlib.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "policy/policy.h"

static const char policy_help[] =
        "Usage: ferry policy test [OPTIONS] [TAG...]\n"
        "\n"
        "Picks the tag a Flux ImagePolicy or an Argo CD Image Updater strategy\n"
        "would pick.  Tags come from the arguments, or from stdin one per line\n"
        "when there are none; a tag that starts with '-' goes after '--' or on\n"
        "stdin (otherwise it reads as an option).  Prints the winning tag\n"
        "(always the original tag, even when --extract rewrote it) and exits 0;\n"
        "exits 3 when no tag qualifies and 2 when a range, pattern or option is\n"
        "invalid.\n"
        "Among tags of equal rank the one with the byte-wise greatest value\n"
        "wins.  Two tags with the same value (--extract can map several tags\n"
        "to one) are a tie that the later tag in the input wins, as in Flux;\n"
        "only then does the order of the input matter.\n"
        "\n"
        "Choose one policy: --semver, --alphabetical, --numerical or --strategy.\n"
        "\n"
        "Flux ImagePolicy:\n"
        "  --semver RANGE          semver.range: a Masterminds range such as\n"
        "                          '>=1.0.0 <2.0.0', '^1.2', '~1.2.x', '1.2 - 1.4.5',\n"
        "                          '>=1.0.0-0 <2.0.0' (a bound with a prerelease\n"
        "                          admits prereleases to its AND group);\n"
        "                          tags need three dot-separated parts\n"
        "  --loose                 with --semver: Argo CD's lenient parsing\n"
        "                          ('1.2' reads as 1.2.0, 'v1' as 1.0.0)\n"
        "  --alphabetical asc|desc byte-wise; asc picks the greatest\n"
        "  --numerical asc|desc    Go ParseFloat numbers; asc picks the largest;\n"
        "                          tags that are not numbers are skipped (Flux\n"
        "                          would fail the whole policy)\n"
        "  --pattern RE            filterTags.pattern (PCRE2, unanchored)\n"
        "  --extract TEMPLATE      filterTags.extract: $1, $name, ${name}, $$\n"
        "\n"
        "Argo CD Image Updater:\n"
        "  --strategy NAME         semver (lenient; --semver gives the constraint,\n"
        "                          default '*'), newest-build (stdin lines are\n"
        "                          TAG<TAB>RFC3339-time), alphabetical, digest;\n"
        "                          in any case, as Argo CD reads them ('Semver')\n"
        "  --digest-tag TAG        with --strategy digest: the mutable tag to follow\n"
        "  --allow-tags VALUE      'regexp:<RE>' or 'any' (the words in any case)\n"
        "  --ignore-tags GLOBS     comma-separated filepath.Match globs (repeatable)\n"
        "  Filters run in this order: allow-tags, ignore-tags (on the tag),\n"
        "  pattern and extract; the policy then judges the extracted value.\n"
        "\n"
        "Output:\n"
        "  --explain               one line per tag on stderr: kept or dropped, and why\n"
        "  -o, --output FORMAT     text (default) or json\n"
        "  -h, --help              show this help\n"
        "\n"
        "Examples:\n"
        "  ferry policy test --semver '^1.2' 1.2.0 v1.3.1 1.4.0-rc.1 2.0.0\n"
        "      -> v1.3.1 (prereleases need a range with a prerelease)\n"
        "  ferry policy test --semver '>=1.0.0-0' 1.0.0 1.1.0-rc.1    -> 1.1.0-rc.1\n"
        "  printf 'main-17-abc\\nmain-9-def\\n' | ferry policy test \\\n"
        "      --pattern '^main-(?P<ts>[0-9]+)' --extract '$ts' --numerical asc\n"
        "      -> main-17-abc\n"
        "  ferry policy test --strategy semver --semver '1.x' 1.2 1.10 v2\n"
        "      -> 1.10\n"
        "  printf 'latest\\t2024-05-01T10:00:00Z\\nabc123\\t2024-05-01T10:00:00Z\\n' |\n"
        "      ferry policy test --strategy newest-build    -> latest (ties by name)\n"
        "  ferry policy test --alphabetical asc --ignore-tags 'dev-*' --explain \\\n"
        "      2024-01 2024-02 dev-2025\n"
        "  ferry policy test --alphabetical desc -- -rc1 rc2    -> -rc1\n";

struct policy_cli {
	struct policy_options o;
	const char **ignore;
	size_t nignore;
	bool explain;
	bool json;
	int kinds; /* how many policy choices were given */
	bool have_strategy;
};

static void
explain_line(const char *tag, size_t tag_len, const char *value,
             size_t value_len, enum policy_verdict verdict, const char *why,
             void *payload)
{
	(void)payload;
	if (value != NULL &&
	    (value_len != tag_len || memcmp(value, tag, tag_len) != 0))
		fprintf(stderr, "%.*s: %s: %s (value '%.*s')\n", (int)tag_len,
		        tag, verdict == POLICY_KEPT ? "kept" : "dropped", why,
		        (int)value_len, value);
	else
		fprintf(stderr, "%.*s: %s: %s\n", (int)tag_len, tag,
		        verdict == POLICY_KEPT ? "kept" : "dropped", why);
}

static int
parse_order(const char *arg, enum policy_order *out)
{
	if (strcmp(arg, "asc") == 0 || strcmp(arg, "ASC") == 0)
		*out = POLICY_ASC;
	else if (strcmp(arg, "desc") == 0 || strcmp(arg, "DESC") == 0)
		*out = POLICY_DESC;
	else
		return cli_usage_error("policy test",
		                       "order '%s': expected asc or desc", arg);
	return 0;
}

static int
add_ignore(struct policy_cli *c, char *arg)
{
	char *save = NULL, *g;

	for (g = strtok_r(arg, ",", &save); g != NULL;
	     g = strtok_r(NULL, ",", &save)) {
		const char **n;
		size_t n_len;

		/* Argo CD trims the space around each entry */
		while (*g == ' ' || *g == '\t')
			g++;
		n_len = strlen(g);
		while (n_len > 0 &&
		       (g[n_len - 1] == ' ' || g[n_len - 1] == '\t'))
			g[--n_len] = '\0';
		if (*g == '\0')
			continue;
		n = reallocarray(c->ignore, c->nignore + 1, sizeof(*n));
		if (n == NULL) {
			fputs("ferry policy test: out of memory\n", stderr);
			return CLI_FAILED;
		}
		c->ignore = n;
		c->ignore[c->nignore++] = g;
	}
	return 0;
}

static int
parse_strategy(struct policy_cli *c, const char *arg)
{
	struct err e = ERR_INIT;

	c->have_strategy = true;
	c->kinds++;
	if (policy_argocd_strategy_parse(&c->o.kind, arg, strlen(arg), &e) < 0)
		return cli_usage_error("policy test", "%s", e.msg);
	c->o.loose = c->o.kind == POLICY_SEMVER;
	c->o.order = POLICY_ASC;
	return 0;
}

/*
 * Feeds one input line or argument: "TAG" or "TAG<TAB>TIME".  Returns 0,
 * CLI_USAGE for a bad line, CLI_FAILED when memory runs out.
 */
static int
feed(struct policy_run *run, const struct policy_cli *c, const char *s,
     size_t len, size_t lineno)
{
	const char *tab = memchr(s, '\t', len);
	size_t tag_len = tab != NULL ? (size_t)(tab - s) : len;
	bool has_time = false;
	int64_t t = 0;
	struct err e = ERR_INIT;

	if (c->o.kind == POLICY_NEWEST_BUILD) {
		if (tab == NULL) {
			fprintf(stderr,
			        "ferry policy test: input %zu: expected "
			        "TAG<TAB>RFC3339 for newest-build\n",
			        lineno);
			return CLI_USAGE;
		}
		if (policy_time_parse(&t, tab + 1, len - tag_len - 1, &e) < 0) {
			fprintf(stderr, "ferry policy test: input %zu: %s\n",
			        lineno, e.msg);
			return CLI_USAGE;
		}
		has_time = true;
	}
	if (policy_run_add(run, s, tag_len, has_time, t, &e) < 0) {
		fprintf(stderr, "ferry policy test: %s\n", e.msg);
		return CLI_FAILED;
	}
	return 0;
}

static int
print_result(const struct policy_run *run, const struct policy_cli *c,
             size_t ntags)
{
	const char *tag, *value = NULL;
	size_t len = 0, value_len = 0, index = 0;
	cJSON *o = NULL;
	char *text = NULL;
	int rc = CLI_OK;

	tag = policy_run_result(run, &len, &value, &value_len, &index);
	if (c->explain && tag != NULL)
		fprintf(stderr, "winner: %.*s\n", (int)len, tag);
	if (tag == NULL) {
		fprintf(stderr,
		        "ferry policy test: nothing qualified among %zu "
		        "tags\n",
		        ntags);
		rc = CLI_NOTHING;
	}
	if (!c->json) {
		if (tag != NULL)
			printf("%.*s\n", (int)len, tag);
		return rc;
	}
	o = cJSON_CreateObject();
	if (o == NULL)
		goto nomem;
	if (tag != NULL) {
		char *t = strndup(tag, len), *v = strndup(value, value_len);

		if (t == NULL || v == NULL ||
		    cJSON_AddStringToObject(o, "tag", t) == NULL ||
		    cJSON_AddStringToObject(o, "value", v) == NULL ||
		    cJSON_AddNumberToObject(o, "index", (double)index) ==
		            NULL) {
			free(t);
			free(v);
			goto nomem;
		}
		free(t);
		free(v);
	} else if (cJSON_AddNullToObject(o, "tag") == NULL) {
		goto nomem;
	}
	if (cJSON_AddNumberToObject(o, "tags", (double)ntags) == NULL)
		goto nomem;
	text = cJSON_PrintUnformatted(o);
	if (text == NULL)
		goto nomem;
	printf("%s\n", text);
	cJSON_free(text);
	cJSON_Delete(o);
	return rc;
nomem:
	cJSON_Delete(o);
	fputs("ferry policy test: out of memory\n", stderr);
	return CLI_FAILED;
}

static int
policy_test(int argc, char **argv)
{
	enum {
		OPT_SEMVER = 256,
		OPT_LOOSE,
		OPT_ALPHA,
		OPT_NUMERICAL,
		OPT_STRATEGY,
		OPT_PATTERN,
		OPT_EXTRACT,
		OPT_ALLOW,
		OPT_IGNORE,
		OPT_EXPLAIN,
		OPT_DIGEST_TAG,
	};
	static const struct option opts[] = {
		{ "semver", required_argument, NULL, OPT_SEMVER },
		{ "loose", no_argument, NULL, OPT_LOOSE },
		{ "alphabetical", required_argument, NULL, OPT_ALPHA },
		{ "numerical", required_argument, NULL, OPT_NUMERICAL },
		{ "strategy", required_argument, NULL, OPT_STRATEGY },
		{ "pattern", required_argument, NULL, OPT_PATTERN },
		{ "extract", required_argument, NULL, OPT_EXTRACT },
		{ "allow-tags", required_argument, NULL, OPT_ALLOW },
		{ "ignore-tags", required_argument, NULL, OPT_IGNORE },
		{ "explain", no_argument, NULL, OPT_EXPLAIN },
		{ "digest-tag", required_argument, NULL, OPT_DIGEST_TAG },
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct policy_cli c;
	struct policy_options init = POLICY_OPTIONS_INIT;
	struct policy *p = NULL;
	struct policy_run *run = NULL;
	struct err e = ERR_INIT;
	const char *range = NULL;
	bool loose = false;
	char *line = NULL;
	size_t cap = 0, ntags = 0;
	int opt, json = 0, rc = CLI_OK;

	memset(&c, 0, sizeof(c));
	c.o = init;
	optind = 1;
	while ((opt = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (opt) {
		case OPT_SEMVER:
			range = optarg;
			break;
		case OPT_LOOSE:
			loose = true;
			break;
		case OPT_ALPHA:
		case OPT_NUMERICAL:
			c.kinds++;
			c.o.kind = opt == OPT_ALPHA ? POLICY_ALPHABETICAL
			                            : POLICY_NUMERICAL;
			if (parse_order(optarg, &c.o.order) != 0) {
				rc = CLI_USAGE;
				goto out;
			}
			break;
		case OPT_STRATEGY:
			if ((rc = parse_strategy(&c, optarg)) != 0)
				goto out;
			break;
		case OPT_PATTERN:
			c.o.pattern = optarg;
			break;
		case OPT_EXTRACT:
			c.o.extract = optarg;
			break;
		case OPT_ALLOW:
			c.o.allow_tags = optarg;
			break;
		case OPT_IGNORE:
			if ((rc = add_ignore(&c, optarg)) != 0)
				goto out;
			break;
		case OPT_EXPLAIN:
			c.explain = true;
			break;
		case OPT_DIGEST_TAG:
			c.o.digest_tag = optarg;
			break;
		case 'o':
			if (cli_output_parse("policy test", optarg, &json) <
			    0) {
				rc = CLI_USAGE;
				goto out;
			}
			c.json = json != 0;
			break;
		case 'h':
			fputs(policy_help, stdout);
			goto out;
		default:
			/* getopt has named the option on stderr */
			rc = cli_usage_error(
			        "policy test",
			        "unknown option (a tag that starts "
			        "with '-' goes after '--' or on "
			        "stdin)");
			goto out;
		}
	}
	/* --semver alone is Flux's semver policy; with --strategy semver it
	 * is Argo CD's constraint. */
	if (range != NULL && !c.have_strategy)
		c.kinds++;
	if (c.kinds == 0) {
		rc = cli_usage_error(
		        "policy test",
		        "choose a policy: --semver, --alphabetical, "
		        "--numerical or --strategy");
		goto out;
	}
	if (c.kinds > 1) {
		rc = cli_usage_error("policy test",
		                     "choose only one of --semver, "
		                     "--alphabetical, --numerical, --strategy");
		goto out;
	}
	if (range != NULL && c.o.kind != POLICY_SEMVER) {
		rc = cli_usage_error("policy test",
		                     "--semver needs the semver strategy");
		goto out;
	}
	if (c.o.kind == POLICY_SEMVER) {
		c.o.semver_range = range != NULL ? range : "*";
		if (!c.have_strategy)
			c.o.loose = loose;
	} else if (loose) {
		rc = cli_usage_error("policy test", "--loose needs --semver");
		goto out;
	}
	if (c.o.kind == POLICY_DIGEST &&
	    (c.o.digest_tag == NULL || c.o.digest_tag[0] == '\0')) {
		rc = cli_usage_error(
		        "policy test",
		        "--strategy digest needs --digest-tag TAG");
		goto out;
	}
	if (c.o.digest_tag != NULL && c.o.kind != POLICY_DIGEST) {
		rc = cli_usage_error("policy test",
		                     "--digest-tag needs --strategy digest");
		goto out;
	}
	if (c.o.extract != NULL && c.o.extract[0] != '\0' &&
	    (c.o.pattern == NULL || c.o.pattern[0] == '\0')) {
		rc = cli_usage_error("policy test",
		                     "--extract needs --pattern");
		goto out;
	}
	c.o.ignore_tags = c.ignore;
	c.o.ignore_tags_len = c.nignore;
	if (policy_new(&p, &c.o, &e) < 0) {
		fprintf(stderr, "ferry policy test: %s\n", e.msg);
		rc = e.code == ERR_NOMEM ? CLI_FAILED : CLI_USAGE;
		goto out;
	}
	if (policy_run_new(&run, p, c.explain ? explain_line : NULL, NULL, &e) <
	    0) {
		fprintf(stderr, "ferry policy test: %s\n", e.msg);
		rc = CLI_FAILED;
		goto out;
	}
	if (optind < argc) {
		for (int i = optind; i < argc; i++) {
			rc = feed(run, &c, argv[i], strlen(argv[i]), ++ntags);
			if (rc != 0)
				goto out;
		}
	} else {
		ssize_t n;

		while ((n = getline(&line, &cap, stdin)) != -1) {
			size_t len = (size_t)n;

			while (len > 0 &&
			       (line[len - 1] == '\n' || line[len - 1] == '\r'))
				len--;
			if (len == 0)
				continue;
			rc = feed(run, &c, line, len, ++ntags);
			if (rc != 0)
				goto out;
		}
		if (ferror(stdin)) {
			fputs("ferry policy test: error reading stdin\n",
			      stderr);
			rc = CLI_FAILED;
			goto out;
		}
	}
	rc = print_result(run, &c, ntags);
out:
	free(line);
	free(c.ignore);
	policy_run_free(run);
	policy_free(p);
	return rc;
}

int
cmd_policy(int argc, char **argv)
{
	if (argc >= 2 && strcmp(argv[1], "test") == 0)
		return policy_test(argc - 1, argv + 1);
	if (argc >= 2 &&
	    (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
		fputs(policy_help, stdout);
		return CLI_OK;
	}
	return cli_usage_error("policy", "expected 'ferry policy test ...'");
}
