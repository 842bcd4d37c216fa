/*
 * main.c - the ferry executable: initialises the libraries once, reads the
 * global logging options, and hands the rest to a subcommand.
 */
#include "cli.h"
#include "ferry_version.h"
#include "base/log.h"

#include <curl/curl.h>
#include <git2.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static void
usage(FILE *f)
{
	fprintf(f,
	        "ferry %s - keeps the container image references in Git up to date\n"
	        "\n"
	        "ferry reads the Flux objects you already have (GitRepository,\n"
	        "ImageRepository, ImagePolicy, ImageUpdateAutomation, ...) and Argo CD\n"
	        "Image Updater's (ImageUpdater, Application), lists tags from\n"
	        "registries, picks the newest allowed tag, edits the marked values in\n"
	        "Git byte for byte, commits and pushes.\n"
	        "\n"
	        "Usage: ferry [--log-format logfmt|json] [--log-level LEVEL] COMMAND [ARGS]\n"
	        "\n"
	        "Commands:\n",
	        FERRY_VERSION);
	for (const struct cli_command *c = cli_commands; c->name; c++)
		fprintf(f, "  %-16s %s\n", c->name, c->summary);
	fprintf(f,
	        "\n"
	        "Start here:\n"
	        "  ferry validate -f clusters/      check your objects, every error at once\n"
	        "  ferry plan -f clusters/          see the diff and commit message, push nothing\n"
	        "  ferry run --once -f clusters/    edit, commit and push (from cron or CI)\n"
	        "\n"
	        "Global options (anywhere on the line):\n"
	        "  --log-format FORMAT   logfmt (default) or json; logs go to stderr\n"
	        "  --log-level LEVEL     error, warn, info (default) or debug\n"
	        "  -h, --help            show this help; 'ferry COMMAND --help' for one command\n"
	        "\n"
	        "Exit codes: 0 ok, 1 failed, 2 usage or configuration error,\n"
	        "3 nothing qualified.\n");
}

/*
 * Takes --log-format/--log-level out of argv wherever they stand (before a
 * lone "--"), so that every subcommand accepts them without repeating them.
 */
static int
take_global_options(int *argcp, char **argv)
{
	enum log_level level = LOG_INFO;
	enum log_format format = LOG_FORMAT_LOGFMT;
	const char *env;
	int argc = *argcp, out = 1;

	if ((env = getenv("FERRY_LOG_LEVEL")) && *env &&
	    log_level_parse(env, &level) < 0) {
		fprintf(stderr,
		        "ferry: FERRY_LOG_LEVEL: unknown level '%s' (use error, warn, info or debug)\n",
		        env);
		return -1;
	}
	if ((env = getenv("FERRY_LOG_FORMAT")) && *env &&
	    log_format_parse(env, &format) < 0) {
		fprintf(stderr,
		        "ferry: FERRY_LOG_FORMAT: unknown format '%s' (use logfmt or json)\n",
		        env);
		return -1;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i], *val = NULL;
		int is_level = 0, is_format = 0;

		if (strcmp(a, "--") == 0) {
			while (i < argc)
				argv[out++] = argv[i++];
			break;
		}
		if (strncmp(a, "--log-level", 11) == 0 &&
		    (a[11] == '\0' || a[11] == '='))
			is_level = 1;
		else if (strncmp(a, "--log-format", 12) == 0 &&
		         (a[12] == '\0' || a[12] == '='))
			is_format = 1;
		if (!is_level && !is_format) {
			argv[out++] = argv[i];
			continue;
		}
		val = strchr(a, '=');
		if (val)
			val++;
		else if (i + 1 < argc)
			val = argv[++i];
		else {
			fprintf(stderr, "ferry: %s needs a value\n", a);
			return -1;
		}
		if (is_level && log_level_parse(val, &level) < 0) {
			fprintf(stderr,
			        "ferry: --log-level: unknown level '%s' (use error, warn, info or debug)\n",
			        val);
			return -1;
		}
		if (is_format && log_format_parse(val, &format) < 0) {
			fprintf(stderr,
			        "ferry: --log-format: unknown format '%s' (use logfmt or json)\n",
			        val);
			return -1;
		}
	}
	argv[out] = NULL;
	*argcp = out;
	log_configure(level, format, 2);
	return 0;
}

int
main(int argc, char **argv)
{
	const char *name;
	int rc;

	if (take_global_options(&argc, argv) < 0)
		return CLI_USAGE;
	if (argc < 2) {
		usage(stderr);
		return CLI_USAGE;
	}
	name = argv[1];
	if (strcmp(name, "-h") == 0 || strcmp(name, "--help") == 0 ||
	    strcmp(name, "help") == 0) {
		usage(stdout);
		return CLI_OK;
	}
	if (strcmp(name, "--version") == 0)
		name = "version";
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		if (strcmp(c->name, name) != 0)
			continue;
		/* GLOBAL: signal dispositions and library initialisation,
		 * before any thread starts.  A peer that closes a pipe or a
		 * socket (a helper program, a registry, a webhook client)
		 * must make a write fail with EPIPE, not end the process. */
		signal(SIGPIPE, SIG_IGN);
		/* Without TZ, glibc reads /etc/localtime again for every
		 * local time libgit2 asks for (each commit and reflog entry),
		 * under a lock of its own; set once, it is read once. */
		setenv("TZ", ":/etc/localtime", 0);
		tzset();
		if (sodium_init() < 0) {
			fprintf(stderr,
			        "ferry: libsodium failed to initialise\n");
			return CLI_FAILED;
		}
		git_libgit2_init();
		curl_global_init(CURL_GLOBAL_DEFAULT);
		rc = c->run(argc - 1, argv + 1);
		curl_global_cleanup();
		git_libgit2_shutdown();
		return rc;
	}
	fprintf(stderr, "ferry: unknown command '%s'\nTry 'ferry --help'.\n",
	        name);
	return CLI_USAGE;
}
