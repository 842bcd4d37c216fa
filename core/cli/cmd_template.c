/*
 * cmd_template.c - `ferry template render`: renders a commit message
 * template with JSON data, exactly as Go's text/template would, so users
 * can preview the templates they bring from Flux or Argo CD.
 */
#include "cli.h"

#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "base/buf.h"
#include "base/err.h"
#include "base/json.h"
#include "base/util.h"
#include "writeback/template/template.h"

static const char template_help[] =
        "Usage: ferry template render --template FILE --data FILE.json "
        "[--sprig]\n"
        "\n"
        "Renders a commit message template (Go text/template, as Flux and\n"
        "Argo CD Image Updater use) with the JSON data in FILE.json and\n"
        "prints the result exactly, without adding a newline.  JSON objects\n"
        "become maps (iterated in sorted key order), numbers float64.\n"
        "On an error the text rendered so far is printed, the error goes to\n"
        "stderr, and the exit status is 1.\n"
        "\n"
        "Options:\n"
        "  -t, --template FILE   the template\n"
        "  -d, --data FILE       the data, a JSON document\n"
        "  -s, --sprig           add sprig's functions, as Flux does\n"
        "  -h, --help            show this help\n"
        "\n"
        "Example:\n"
        "  $ cat msg.tmpl\n"
        "  chore(image): update images\n"
        "  {{ range .changes }}- {{ .old }} -> {{ .new | lower }}\n"
        "  {{ end }}\n"
        "  $ cat data.json\n"
        "  {\"changes\": [{\"old\": \"app:1.0\", \"new\": \"app:1.1\"}]}\n"
        "  $ ferry template render --template msg.tmpl --data data.json "
        "--sprig\n"
        "  chore(image): update images\n"
        "  - app:1.0 -> app:1.1\n";

static int
render(const char *tpath, const char *dpath, bool sprig)
{
	struct buf src = BUF_INIT, data = BUF_INIT, out = BUF_INIT;
	struct err err = ERR_INIT;
	struct template *t = NULL;
	struct template_data *d = NULL;
	struct template_value *root = NULL;
	cJSON *json = NULL;
	int rc = CLI_FAILED;

	if (file_read(&src, tpath, &err) < 0 ||
	    file_read(&data, dpath, &err) < 0)
		goto out;
	if (json_parse(&json, data.ptr, data.len, dpath, &err) < 0)
		goto out;
	if (template_data_new(&d) < 0) {
		err_set(&err, ERR_NOMEM, "out of memory");
		goto out;
	}
	if (template_value_from_json(d, json, &root, &err) < 0)
		goto out;
	if (template_parse(&t, src.ptr, src.len, sprig, &err) < 0)
		goto out;
	if (template_execute(t, root, &out, &err) < 0) {
		fwrite(out.ptr, 1, out.len, stdout);
		goto out;
	}
	if (fwrite(out.ptr, 1, out.len, stdout) != out.len ||
	    fflush(stdout) != 0) {
		err_set(&err, ERR_TRANSIENT, "writing the output failed");
		goto out;
	}
	rc = CLI_OK;
out:
	if (rc != CLI_OK) {
		fflush(stdout);
		fprintf(stderr, "ferry template: %s\n", err.msg);
	}
	template_free(t);
	template_data_free(d);
	cJSON_Delete(json);
	buf_release(&src);
	buf_release(&data);
	buf_release(&out);
	return rc;
}

int
cmd_template(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "template", required_argument, NULL, 't' },
		{ "data", required_argument, NULL, 'd' },
		{ "sprig", no_argument, NULL, 's' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	const char *tpath = NULL, *dpath = NULL;
	bool sprig = false;
	int c;

	while ((c = getopt_long(argc, argv, "+t:d:sh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tpath = optarg;
			break;
		case 'd':
			dpath = optarg;
			break;
		case 's':
			sprig = true;
			break;
		case 'h':
			fputs(template_help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("template", "unknown option");
		}
	}
	if (optind >= argc)
		return cli_usage_error("template",
		                       "missing subcommand 'render'");
	if (strcmp(argv[optind], "render") != 0)
		return cli_usage_error("template", "unknown subcommand '%s'",
		                       argv[optind]);
	/* options may also follow "render" */
	optind++;
	while ((c = getopt_long(argc, argv, "+t:d:sh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			tpath = optarg;
			break;
		case 'd':
			dpath = optarg;
			break;
		case 's':
			sprig = true;
			break;
		case 'h':
			fputs(template_help, stdout);
			return CLI_OK;
		default:
			return cli_usage_error("template", "unknown option");
		}
	}
	if (optind < argc)
		return cli_usage_error("template", "unexpected argument '%s'",
		                       argv[optind]);
	if (tpath == NULL || dpath == NULL)
		return cli_usage_error("template",
		                       "render needs --template and --data");
	return render(tpath, dpath, sprig);
}
