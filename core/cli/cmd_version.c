/*
 * cmd_version.c - `ferry version`: ferry's version and the versions of the
 * libraries it was linked with, for bug reports.
 */
#include "cli.h"
#include "ferry_version.h"

#include <cjson/cJSON.h>
#include <curl/curl.h>
#include <getopt.h>
#include <git2.h>
#include <microhttpd.h>
#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>
#include <sodium.h>
#include <string.h>
#include <yaml.h>

static const char version_help[] =
        "Usage: ferry version [-o text|json]\n"
        "\n"
        "Prints ferry's version and the libraries it runs on.\n"
        "\n"
        "Options:\n"
        "  -o, --output FORMAT   text (default) or json\n"
        "  -h, --help            show this help\n";

int
cmd_version(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c, json = 0, major, minor, rev;
	char pcre[64];
	const curl_version_info_data *cv;

	while ((c = getopt_long(argc, argv, "o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			if (cli_output_parse("version", optarg, &json) < 0)
				return CLI_USAGE;
			break;
		case 'h':
			fputs(version_help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("version", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("version", "unexpected argument '%s'",
		                       argv[optind]);
	git_libgit2_version(&major, &minor, &rev);
	pcre2_config(PCRE2_CONFIG_VERSION, pcre);
	cv = curl_version_info(CURLVERSION_NOW);
	if (json) {
		printf("{\"ferry\":\"%s\",\"libgit2\":\"%d.%d.%d\","
		       "\"libcurl\":\"%s\",\"libyaml\":\"%s\","
		       "\"pcre2\":\"%s\",\"cjson\":\"%s\","
		       "\"libsodium\":\"%s\",\"libmicrohttpd\":\"%s\"}\n",
		       FERRY_VERSION, major, minor, rev, cv->version,
		       yaml_get_version_string(), pcre, cJSON_Version(),
		       sodium_version_string(), MHD_get_version());
	} else {
		printf("ferry %s\n", FERRY_VERSION);
		printf("libgit2 %d.%d.%d, libcurl %s, libyaml %s, pcre2 %s, "
		       "cJSON %s, libsodium %s, libmicrohttpd %s\n",
		       major, minor, rev, cv->version,
		       yaml_get_version_string(), pcre, cJSON_Version(),
		       sodium_version_string(), MHD_get_version());
	}
	return CLI_OK;
}
