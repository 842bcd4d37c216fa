#!/usr/bin/env python3
"""Tests of `ferry template render` as a command: exit codes (0 rendered,
1 template or data error with the message on stderr, 2 bad arguments),
output printed exactly without an added newline, and --help."""
import os
import subprocess
import sys
import tempfile


def run(*args):
    return subprocess.run([os.environ["FERRY"], "template"] + list(args),
                          capture_output=True, timeout=60)


def main():
    failures = []

    def check(name, cond):
        print(("ok   " if cond else "FAIL ") + name)
        if not cond:
            failures.append(name)

    with tempfile.TemporaryDirectory() as d:
        tmpl = os.path.join(d, "t.tmpl")
        data = os.path.join(d, "d.json")
        bad = os.path.join(d, "bad.tmpl")
        fails = os.path.join(d, "fails.tmpl")
        with open(tmpl, "w") as f:
            f.write("{{.name | upper}}")
        with open(data, "w") as f:
            f.write('{"name": "x"}')
        with open(bad, "w") as f:
            f.write("{{if}}")
        with open(fails, "w") as f:
            f.write("ok {{index .name 5}}")
        r = run("render", "--template", tmpl, "--data", data, "--sprig")
        check("renders_exactly_without_a_newline",
              r.returncode == 0 and r.stdout == b"X")
        r = run("render", "--template", tmpl, "--data", data)
        check("fails_with_exit_1_on_unknown_function",
              r.returncode == 1 and b'function "upper" not defined'
              in r.stderr)
        r = run("render", "--template", bad, "--data", data)
        check("fails_with_exit_1_on_parse_error",
              r.returncode == 1 and b"template: msg:1: missing value for if"
              in r.stderr)
        r = run("render", "--template", fails, "--data", data)
        check("prints_the_prefix_and_the_error_on_execution_failure",
              r.returncode == 1 and r.stdout == b"ok " and
              b"msg:1:5: executing" in r.stderr)
        r = run("render", "--template", tmpl)
        check("exits_2_without_data", r.returncode == 2)
        r = run("render", "--template", tmpl, "--data", data, "extra")
        check("exits_2_on_extra_argument", r.returncode == 2)
        r = run("draw")
        check("exits_2_on_unknown_subcommand", r.returncode == 2)
        r = run("render", "--template", tmpl, "--data",
                os.path.join(d, "missing.json"))
        check("exits_1_on_missing_data_file", r.returncode == 1)
        r = run("--help")
        check("help_teaches_with_an_example",
              r.returncode == 0 and b"Example" in r.stdout and
              b"ferry template render" in r.stdout)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
