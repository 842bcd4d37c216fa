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
int cmd_get(int argc, char **argv);
int cmd_reconcile(int argc, char **argv);
int cmd_suspend(int argc, char **argv);
int cmd_resume(int argc, char **argv);
int cmd_events(int argc, char **argv);

#endif
