#!/usr/bin/env python3
"""Differential test: renders every template in corpus/ with
`ferry template render` and with Go's text/template (gotemplate-oracle) and
compares the output byte for byte.  Where the oracle fails, ferry must fail
too, with the same text rendered before the error and the same message.

corpus/NAME.tmpl uses corpus/NAME.json as data when it exists, else
corpus/_data.json; names starting with "sprig_" run with --sprig on both.
Fails (does not skip) when the oracle is missing.

The oracle is Go 1.19; Flux and Argo CD are built with Go 1.24 or later,
which ferry follows.  The cases in NEWER_GO below are where the two Go
versions answer differently; they are skipped here, each with the reason,
and test_template.c pins the newer answers.  Arguments: names of
cases to run (default: all); -v prints error messages side by side.
"""
import concurrent.futures
import os
import subprocess
import sys


# Corpus cases whose answer changed after Go 1.19 (the oracle), each with
# the change; test_template.c pins the newer answers.
_EQ_TYPES = ("Go 1.24's eq and lt name the two types: 'incompatible types "
             "for comparison: string and int'; 1.19 did not")
NEWER_GO = {
    "else_if_with": ("Go 1.23 reads '{{else with}}' as the start of an "
                     "else list: 'unexpected <with> in input' (1.19: "
                     "'unexpected <with> in else')"),
    "eq_bool_string": _EQ_TYPES,
    "eq_float_int_literal": _EQ_TYPES,
    "eq_int_float": _EQ_TYPES,
    "eq_string_int": _EQ_TYPES,
    "lt_mixed": _EQ_TYPES,
}


def oracle_split(out):
    """Returns (ok, rendered prefix, error message) of the oracle's stdout."""
    if out.startswith(b"error: "):
        return out[len(b"error: "):].decode(errors="replace").strip()
    idx = out.rfind(b"\nerror: template: ")
    if idx >= 0:
        return out[:idx], out[idx + 8:].decode(errors="replace").strip()
    return out, ""


def main():
    src = os.environ.get("FERRY_SOURCE_ROOT", os.path.join(
        os.path.dirname(__file__), "..", ".."))
    ferry = os.environ.get("FERRY")
    oracles = os.environ.get("FERRY_ORACLES", "")
    oracle = os.path.join(oracles, "gotemplate-oracle")
    verbose = "-v" in sys.argv
    only = [a for a in sys.argv[1:] if a != "-v"]
    if not ferry or not os.access(ferry, os.X_OK):
        print("FAIL: $FERRY is not set to the ferry binary")
        return 1
    if not oracles or not os.access(oracle, os.X_OK):
        print("FAIL: gotemplate-oracle not found in $FERRY_ORACLES (%r); "
              "build it with scripts/test or tests/oracles/build.sh OUTDIR"
              % oracles)
        return 1
    corpus = os.path.join(src, "tests", "template", "corpus")
    names = sorted(f[:-5] for f in os.listdir(corpus) if f.endswith(".tmpl")
                   and f[:-5] not in NEWER_GO)
    if only:
        names = [n for n in names if n in only]
    def run(name):
        """Returns a list of report lines; the first starts with FAIL on
        failure."""
        tmpl = os.path.join(corpus, name + ".tmpl")
        data = os.path.join(corpus, name + ".json")
        if not os.path.exists(data):
            data = os.path.join(corpus, "_data.json")
        sprig = ["--sprig"] if name.startswith("sprig_") else []
        o = subprocess.run([oracle, tmpl, data] + sprig, capture_output=True,
                           timeout=60)
        f = subprocess.run([ferry, "template", "render", "--template", tmpl,
                            "--data", data] + sprig, capture_output=True,
                           timeout=60, env=env)
        if o.returncode not in (0, 2):
            return "FAIL %s: oracle exited %d: %s" % (
                name, o.returncode, o.stderr.decode())
        if o.returncode == 0:
            if f.returncode != 0 or f.stdout != o.stdout:
                return ("FAIL %s: ferry rc=%d\n  go:    %r\n  ferry: %r\n"
                        "  ferry stderr: %s" % (name, f.returncode, o.stdout,
                                                f.stdout, f.stderr.decode()))
            return ""
        split = oracle_split(o.stdout)
        if isinstance(split, str):
            prefix, msg = b"", split
        else:
            prefix, msg = split
        if f.returncode != 1:
            return ("FAIL %s: go failed (%s) but ferry rc=%d output %r"
                    % (name, msg, f.returncode, f.stdout))
        if f.stdout != prefix:
            return ("FAIL %s: rendered prefix differs\n  go:    %r\n"
                    "  ferry: %r" % (name, prefix, f.stdout))
        fmsg = f.stderr.decode().strip()
        fmsg = fmsg[len("ferry template: "):]
        if fmsg != msg:
            return ("FAIL %s: error message differs\n  go:    %s\n"
                    "  ferry: %s" % (name, msg, fmsg))
        if verbose:
            return "   %s: %s" % (name, msg)
        return ""

    # Leak checks run in the unit and CLI tests; here they would only add
    # the sanitizer's exit-time scan to each of the hundreds of runs.
    env = dict(os.environ)
    env["ASAN_OPTIONS"] = env.get("ASAN_OPTIONS", "") + ":detect_leaks=0"

    failures = 0
    # ferry under the sanitizers spends most of its time waiting at exit,
    # so running several cases at once keeps the suite fast on 2 cores.
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        for report in pool.map(run, names):
            if report:
                print(report)
            if report.startswith("FAIL"):
                failures += 1
    print("%d cases, %d failed, %d skipped where newer Go differs from the "
          "oracle's 1.19" % (len(names), failures, len(NEWER_GO)))
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
