/*
 * cli.h - the ferry command line: one function per subcommand.
 *
 * Each cmd_* takes the arguments after the subcommand name (argv[0] is the
 * subcommand itself, as getopt expects), prints its own --help, and returns
 * an exit code:
 */
#ifndef FERRY_CLI_H
#define FERRY_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "base/buf.h"
#include "config/loader.h"

enum cli_exit {
	CLI_OK = 0,      /* done */
	CLI_FAILED = 1,  /* the work failed (network, git, a file) */
	CLI_USAGE = 2,   /* bad arguments or configuration */
	CLI_NOTHING = 3, /* nothing qualified (no tag matched a policy) */
};

struct cli_command {
	const char *name;
	const char *summary;
	int (*run)(int argc, char **argv);
};

/* The table of subcommands, ended by a zeroed entry (cli.c). */
extern const struct cli_command cli_commands[];

/*
 * Output format for commands that have -o: text or json.  Parses "text",
 * "json"; prints a usage error and returns -1 otherwise.
 */
int cli_output_parse(const char *cmd, const char *arg, int *json_out);

/* Prints "ferry CMD: message\nTry 'ferry CMD --help'.\n" and returns 2. */
int cli_usage_error(const char *cmd, const char *fmt, ...)
        __attribute__((format(printf, 2, 3)));

/*
 * For commands with one verb ("ferry setters apply ..."): prints help for
 * "CMD --help", a usage error when the verb is not `verb`, and otherwise
 * moves argc and argv past the command so that argv[0] is the verb, for
 * getopt.  Returns -1 to go on, or the exit code to return.
 */
int cli_verb(int *argc, char ***argv, const char *cmd, const char *verb,
             const char *help);

/*
 * cli_verb() plus the options kustomize and helm share (-n/--dry-run,
 * -o/--output, -h/--help), parsed with getopt; on -1 the operands start at
 * argv[optind].
 */
int cli_edit_args(int *argc, char ***argv, const char *cmd, const char *verb,
                  const char *help, bool *dry_run, int *json);

struct buf;
struct wb_changes;

/*
 * The output of the editing commands: the unified diff for a text dry run,
 * otherwise the change list (text lines or JSON).  CLI_OK or CLI_FAILED.
 */
int cli_edit_print(bool dry_run, bool json, const struct buf *diff,
                   const struct wb_changes *changes);

/*
 * The options of every command that loads a configuration (validate,
 * run, plan): -f PATH (- for standard input), --exclude GLOB,
 * -n/--namespace NS, --secrets-dir DIR, --sops-age-key-file FILE (else
 * $SOPS_AGE_KEY_FILE), --sops-pgp-key-file FILE and --argocd-annotations.  Add
 * CLI_CONFIG_LONGOPTS to the getopt table and CLI_CONFIG_SHORTOPTS to the short
 * string, hand every option to cli_config_option(), then call
 * cli_config_ready() (cmd_validate.c).
 */
#define CLI_MAX_PATHS 256

enum {
	CLI_OPT_EXCLUDE = 0x1000,
	CLI_OPT_SECRETS_DIR,
	CLI_OPT_AGE_KEY,
	CLI_OPT_PGP_KEY,
	CLI_OPT_ARGOCD_ANNOTATIONS,
};

#define CLI_CONFIG_SHORTOPTS "f:n:"
/* one option per line reads better than clang-format's layout */
/* clang-format off */
#define CLI_CONFIG_LONGOPTS                                                    \
	{ "file", required_argument, NULL, 'f' },                              \
	{ "exclude", required_argument, NULL, CLI_OPT_EXCLUDE },               \
	{ "namespace", required_argument, NULL, 'n' },                         \
	{ "secrets-dir", required_argument, NULL, CLI_OPT_SECRETS_DIR },       \
	{ "sops-age-key-file", required_argument, NULL, CLI_OPT_AGE_KEY },     \
	{ "sops-pgp-key-file", required_argument, NULL, CLI_OPT_PGP_KEY },     \
	{ "argocd-annotations", no_argument, NULL, CLI_OPT_ARGOCD_ANNOTATIONS }
/* clang-format on */
#define CLI_CONFIG_HELP                                                               \
	"  -f, --file PATH       a file or directory of objects (repeatable;\n"       \
	"                        - reads standard input)\n"                           \
	"  --exclude GLOB        what a directory walk skips (repeatable): a\n"       \
	"                        name ('*.enc.yaml', 'charts') or a path below\n"     \
	"                        the directory ('apps/*/tests')\n"                    \
	"  -n, --namespace NS    namespace of objects that name none (default\n"      \
	"                        'default'; Flux's targetNamespace)\n"                \
	"  --secrets-dir DIR     Secrets not in the files, as Kubernetes mounts\n"    \
	"                        them: DIR/NAMESPACE/NAME/KEY (deploy keys,\n"        \
	"                        what an ExternalSecret makes)\n"                     \
	"  --sops-age-key-file FILE  age identities for SOPS-encrypted Secrets\n"     \
	"                        (repeatable; default $SOPS_AGE_KEY_FILE), besides\n" \
	"                        the *.agekey keys of a Kustomization's\n"            \
	"                        spec.decryption.secretRef\n"                         \
	"  --sops-pgp-key-file FILE  an armored PGP secret key, the same way\n"       \
	"                        (repeatable; besides its *.asc keys)\n"              \
	"  --argocd-annotations  also read Argo CD Applications' v0.x\n"              \
	"                        image-updater annotations where no ImageUpdater\n"   \
	"                        selects them (the v0.x era)\n"

#define CLI_MAX_KEY_FILES 16

struct cli_config {
	const char *paths[CLI_MAX_PATHS];
	size_t npaths;
	const char *exclude[CLI_MAX_PATHS];
	size_t nexclude;
	const char *age_keys[CLI_MAX_KEY_FILES];
	size_t nage_keys;
	const char *pgp_keys[CLI_MAX_KEY_FILES];
	size_t npgp_keys;
	struct buf stdin_data; /* what "-" read */
	struct config_options opts;
};

#define CLI_CONFIG_INIT                                                        \
	{                                                                      \
		{ NULL }, 0, { NULL }, 0, { NULL }, 0, { NULL }, 0, BUF_INIT,  \
		        CONFIG_OPTIONS_INIT                                    \
	}

/*
 * Takes option c (as getopt_long returned it) when it is one of the
 * configuration options: 1 when taken, 0 when it is not one of them, -1
 * after printing a usage error.
 */
int cli_config_option(struct cli_config *cc, const char *cmd, int c,
                      const char *arg);

/*
 * After the options: checks that a path was given, reads standard input
 * once when a path is "-", and fills cc->opts.  CLI_OK or the exit code
 * (the message printed).
 */
int cli_config_ready(struct cli_config *cc, const char *cmd);

/* Allocates a config, sets cc's options and reads every path into it;
 * prints the message and returns the exit code when that fails. */
int cli_config_read(struct config **out, const struct cli_config *cc,
                    const char *cmd);

/* Frees what cc holds (the bytes read from standard input, wiped). */
void cli_config_release(struct cli_config *cc);

int cmd_version(int argc, char **argv);
int cmd_run(int argc, char **argv);
int cmd_plan(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_policy(int argc, char **argv);
int cmd_setters(int argc, char **argv);
int cmd_kustomize(int argc, char **argv);
int cmd_helm(int argc, char **argv);
int cmd_scan(int argc, char **argv);
int cmd_validate(int argc, char **argv);
int cmd_decrypt(int argc, char **argv);
int cmd_get(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
int cmd_suspend(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_events(int argc, char **argv);

#endif
