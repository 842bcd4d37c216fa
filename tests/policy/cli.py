#!/usr/bin/python3
"""`ferry policy test` as a user runs it: tags from arguments and stdin,
exit codes 0/2/3, --explain on stderr, -o json, newest-build input lines,
and --help.  (Which tag wins is covered by test_policy.c and the
differential test; this checks the front end.)"""
import json
import os
import subprocess
import sys

FERRY = os.environ["FERRY"]
failures = []


def ferry(args, stdin=""):
    p = subprocess.run([FERRY, "policy", "test"] + args, input=stdin.encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def expect(name, got, want):
    if got != want:
        failures.append("%s: got %r, want %r" % (name, got, want))


rc, out, err = ferry(["--help"])
expect("help exits 0", rc, 0)
expect("help has examples", "Examples:" in out, True)

rc, out, _ = ferry(["--semver", "^1.2", "1.2.0", "v1.3.1", "1.4.0-rc.1",
                    "2.0.0"])
expect("tags as arguments", (rc, out), (0, "v1.3.1\n"))

rc, out, _ = ferry(["--semver", ">=1.0.0-0"], "1.0.0\r\n\n1.1.0-rc.1\n")
expect("tags on stdin, CRLF and blank lines", (rc, out), (0, "1.1.0-rc.1\n"))

rc, out, err = ferry(["--semver", ">5"], "1.0.0\n")
expect("nothing qualified exits 3", (rc, out), (3, ""))
expect("nothing qualified says so", "nothing qualified" in err, True)

rc, out, err = ferry(["--semver", ">=1.0 <"], "1.0.0\n")
expect("invalid range exits 2", (rc, out), (2, ""))
expect("invalid range is named", ">=1.0 <" in err, True)

rc, _, err = ferry(["--alphabetical", "asc", "--pattern", "(a"], "a\n")
expect("invalid pattern exits 2", rc, 2)
expect("invalid pattern is named", "(a" in err, True)

rc, _, _ = ferry(["--alphabetical", "sideways"], "a\n")
expect("bad order exits 2", rc, 2)
rc, _, _ = ferry([], "a\n")
expect("no policy exits 2", rc, 2)
rc, _, _ = ferry(["--extract", "$1", "--alphabetical", "asc"], "a\n")
expect("extract without pattern exits 2", rc, 2)

rc, out, err = ferry(["--numerical", "asc", "--pattern",
                      "^main-(?P<n>[0-9]+)", "--extract", "$n", "--explain",
                      "-o", "json"], "main-9-a\nmain-17-b\nlatest\n")
expect("json output", (rc, json.loads(out)),
       (0, {"tag": "main-17-b", "value": "17", "index": 1, "tags": 3}))
lines = err.strip().split("\n")
expect("explain: one line per tag and the winner", len(lines), 4)
expect("explain: dropped tag says why",
       lines[2], "latest: dropped: does not match the pattern")

rc, out, _ = ferry(["--semver", ">5", "-o", "json"], "1.0.0\n")
expect("json when nothing qualified", (rc, json.loads(out)),
       (3, {"tag": None, "tags": 1}))

rc, out, _ = ferry(["--strategy", "newest-build"],
                   "abc123\t2024-05-01T10:00:00Z\n"
                   "latest\t2024-05-01T10:00:00Z\n"
                   "old\t2024-04-01T10:00:00+02:00\n")
expect("newest-build ties by name", (rc, out), (0, "latest\n"))
rc, _, err = ferry(["--strategy", "newest-build"], "abc123\n")
expect("newest-build needs a time", rc, 2)

rc, out, _ = ferry(["--strategy", "semver", "--semver", "1.x",
                    "--ignore-tags", "1.1*,1.9", "1.2", "1.10", "1.9", "v2"])
expect("Argo CD semver with ignore-tags", (rc, out), (0, "1.2\n"))
rc, out, _ = ferry(["--strategy", "digest", "--digest-tag", "latest",
                    "1.0", "latest"])
expect("digest strategy", (rc, out), (0, "latest\n"))
rc, _, _ = ferry(["--strategy", "digest", "1.0"])
expect("digest strategy needs --digest-tag", rc, 2)

# issue 16: Masterminds 3.4+ as Flux and Argo CD pin it (the unit tests in
# test_policy.c name the upstream changes)
rc, out, _ = ferry(["--semver", ">=1.0.0-0 <2.0.0", "1.0.0", "1.1.0-rc.1"])
expect("a prerelease bound admits prereleases to its AND group",
       (rc, out), (0, "1.1.0-rc.1\n"))
rc, out, _ = ferry(["--semver", ">= 1.0.0  <= 2.0.0-beta", "1.0.1-beta"])
expect("an upper bound with a prerelease admits them too",
       (rc, out), (0, "1.0.1-beta\n"))
rc, out, _ = ferry(["--semver", "!=4.1.0", "5.1.0-alpha.1"])
expect("!= admits no prerelease", (rc, out), (3, ""))
rc, out, _ = ferry(["--semver", "1.0.0 - 2.0.0 <=2.0.0", "1.5.0"])
expect("a hyphen range followed by a comparison",
       (rc, out), (0, "1.5.0\n"))

# Argo CD lower-cases strategy names and allow-tags words
rc, out, _ = ferry(["--strategy", "Semver", "--allow-tags", "RegExp:^v",
                    "v1.0", "2.0", "v1.5"])
expect("Argo CD words in any case", (rc, out), (0, "v1.5\n"))
rc, out, _ = ferry(["--strategy", "ALPHABETICAL", "--allow-tags", "ANY",
                    "a", "b"])
expect("ANY allows every tag", (rc, out), (0, "b\n"))
rc, _, err = ferry(["--strategy", "semverx", "1.0"])
expect("unknown strategy exits 2", (rc, "semverx" in err), (2, True))

# --help tells how ties and tags starting with '-' work, and both are true
rc, out, _ = ferry(["--help"])
expect("help: ties by value go to the later tag",
       "the later tag in the input wins" in out, True)
expect("help: no claim that order never matters",
       "does not depend on the order" in out, False)
rc, out, _ = ferry(["--alphabetical", "asc", "--pattern", "^(a)",
                    "--extract", "$1", "a-1", "a-2"])
expect("same value: the later tag wins", (rc, out), (0, "a-2\n"))
rc, out, _ = ferry(["--alphabetical", "asc", "--pattern", "^(a)",
                    "--extract", "$1", "a-2", "a-1"])
expect("same value, other order: the later tag wins", (rc, out),
       (0, "a-1\n"))
rc, out, _ = ferry(["--alphabetical", "asc", "b", "a", "c"])
rc2, out2, _ = ferry(["--alphabetical", "asc", "c", "b", "a"])
expect("distinct values: order does not matter", (out, out2),
       ("c\n", "c\n"))
rc, out, err = ferry(["--alphabetical", "desc", "-rc1", "rc2"])
expect("a tag starting with '-' reads as an option",
       (rc, "after '--'" in err), (2, True))
rc, out, _ = ferry(["--alphabetical", "desc", "--", "-rc1", "rc2"])
expect("after '--' it is a tag", (rc, out), (0, "-rc1\n"))
rc, out, _ = ferry(["--alphabetical", "desc"], "-rc1\nrc2\n")
expect("on stdin it is a tag", (rc, out), (0, "-rc1\n"))

for f in failures:
    print("FAIL: " + f, file=sys.stderr)
sys.exit(1 if failures else 0)
