#!/usr/bin/python3
"""Differential test: ferry's policy engine against semver-oracle.

semver-oracle (tests/oracles/semver) answers with Masterminds/semver v3
and Go's regexp, the libraries Flux and Argo CD Image Updater use.  This
script generates thousands of tags and hundreds of constraints from a fixed
seed and asserts that every answer agrees:

  * `check RANGE` (per tag: Flux parse validity and constraint match)
    against tests/policy/semver_check, which links policy_lib;
  * `sort` (every Flux-valid tag in precedence order) against the same;
  * `latest-flux` / `latest-loose` against `ferry policy test --semver
    [--loose]`, on random subsets of the tags, with and without a pattern
    and extract template;
  * `alphabetical` and `numerical` against the same ferry modes;
  * a range the oracle rejects (exit 2) is rejected by ferry (exit 2).

Answers where Masterminds 3.4 and 3.5 (what Argo CD Image Updater and Flux
pin, and what ferry follows) differ from the oracle's 3.2.0 are skipped,
exactly those (see newer_semver_differs below; test_policy.c pins the newer
answers with the upstream tests that define them):
  * a version with a prerelease against a range with an AND group whose
    comparisons disagree on carrying a prerelease, or whose comparisons are
    all '!=' without one (3.4.0 #267 checks prereleases per AND group and
    in '!=' too; 3.2.0 per comparison, and '!=' only for wildcards);
  * a range with a hyphen range followed by more than ',', '||' or the end
    (3.2.1 #199 ends the rewrite of "A - B" with a space; 3.2.0 glued what
    followed to B).

One deliberate difference is excluded: when an extract template turns a
tag into the empty string and that empty value wins an alphabetical
policy, the oracle prints "<none>" (it uses "" as "no answer") where ferry,
like Flux, answers with the original tag.  NaN is never generated: Go's sort
has no defined order for it and ferry skips it as "not a number".

Usage: differential.py SEMVER_CHECK_DRIVER   (FERRY and FERRY_ORACLES from
the environment; a missing oracle is a failure, not a skip).
"""
import concurrent.futures
import json
import os
import random
import re
import subprocess
import sys
import tempfile

SEED = 20251126
CLI_EVERY = 12


def die(msg):
    print("FAIL: " + msg, file=sys.stderr)
    sys.exit(1)


def gen_tags(rng, n):
    nums = ["0", "1", "2", "3", "10", "11", "20", "100"]
    pads = ["00", "01", "007", "010"]
    pres = ["rc.1", "rc.2", "rc.10", "rc9", "rc10", "alpha", "alpha.1",
            "alpha.beta", "beta", "beta.2", "beta.11", "0", "1", "2", "11",
            "x-y", "--", "a-b.c", "99999999999999999999", "18446744073709551615",
            "18446744073709551616", "01", "rc.01", "1a", "RC.1", "alpine"]
    metas = ["build.1", "001", "sha.abc123", "x-y", "20240101"]
    junk = ["latest", "main", "main-abc123", "1.2.3-", "1.2.3+", "V1.2.3",
            "1..2", "1.2.x", "x.y.z", "1.2.3.", ".1.2.3", "1.2.3-rc..1",
            "1.2.3+a..b", "18446744073709551616.0.0",
            "18446744073709551615.0.0", "0.0.18446744073709551615",
            "1.2-rc.1", "1.2-rc.1.5", "v", "vv1.2.3", "1.2.3_4", "-1.2.3",
            "1.2.3-rc.1+", "sha256-abc", "2024-01-01", "1.2.3 ", " 1.2.3",
            "1.0.0-α", "1.2.3-rc.1-2", "1.2.3--rc", "v1.2.3-0"]
    out = []
    for _ in range(n):
        k = rng.random()
        if k < 0.06:
            out.append(rng.choice(junk))
            continue
        if k < 0.12:  # calver
            out.append("%s%d.%02d.%02d" % (rng.choice(["", "v"]),
                                           rng.choice([2023, 2024, 2025]),
                                           rng.randint(1, 12),
                                           rng.randint(1, 28)))
            continue
        nparts = rng.choices([1, 2, 3, 4], [1, 2, 10, 1])[0]
        parts = []
        for _ in range(nparts):
            parts.append(rng.choice(pads) if rng.random() < 0.05
                         else rng.choice(nums))
        t = ".".join(parts)
        if rng.random() < 0.25:
            t = "v" + t
        if rng.random() < 0.3:
            t += "-" + rng.choice(pres)
        if rng.random() < 0.12:
            t += "+" + rng.choice(metas)
        out.append(t)
    return out


def gen_version(rng, wild=True):
    parts = []
    nparts = rng.choices([1, 2, 3], [1, 2, 4])[0]
    for _ in range(nparts):
        if wild and rng.random() < 0.12:
            parts.append(rng.choice(["x", "X", "*"]))
        else:
            parts.append(rng.choice(["0", "1", "2", "3", "10", "11", "01"]))
    v = ".".join(parts)
    if rng.random() < 0.08:
        v = "v" + v
    if rng.random() < 0.25:
        v += "-" + rng.choice(["0", "rc", "rc.1", "alpha", "beta.2", "1"])
    if rng.random() < 0.05:
        v += "+" + rng.choice(["build", "1"])
    return v


OPS = ["", "=", "!=", ">", "<", ">=", "=>", "<=", "=<", "~", "~>", "^"]


def gen_item(rng):
    op = rng.choice(OPS)
    sp = rng.choice(["", "", " "]) if op else ""
    return op + sp + gen_version(rng)


def gen_constraint(rng):
    k = rng.random()
    if k < 0.08:
        return rng.choice([
            "", " ", ">=", "1.2.3.4", ">=a", "~>", "!1", "1 -2", "1.2.3 ||",
            "=>=1", ">= 1.0 , , 2", "1|2", "x.|", "1.2.|", "> 1 <", "1,",
            ",1", "1 - ", "- 1", ">=1.0.0-01", ">18446744073709551616",
            "1.2.3 - 2.0.0 - 3", "||", "1 ||| 2", ">=1 , <2", "1.x.|",
            "a || 1", "v", ">=v1", "1 - 2 - 3", "~ 1", "^ 1", "= 1",
            "1.2.3-", ">= 1.2.3-rc..1", "x-1", "*-0", "1.2.3+meta",
            "1.0 - 2.0 || 3", "1.0 -2.0", "1 ,2", "1 2", "1\t2", "vx",
            ">=1.2.3-beta.2 <1.2.3", "!=1.x", "!=1.2.x-rc", "<=1.x",
            ">1.x", ">x", "<=x", "^0.0", "^0", "^0.0.x", "~0.0.0", "~*",
            "^0.x", ">=0.0.0-0", "1.x-0", "2.x-0", "^1.x-0", "*",
        ])
    if k < 0.2:  # hyphen range
        c = gen_version(rng) + " - " + gen_version(rng)
        if rng.random() < 0.3:
            c += rng.choice([" || ", "||"]) + gen_item(rng)
        return c
    ors = []
    for _ in range(rng.choices([1, 2, 3], [6, 2, 1])[0]):
        items = [gen_item(rng)
                 for _ in range(rng.choices([1, 2, 3], [5, 3, 1])[0])]
        seps = [rng.choice([" ", ", ", ",", "  "]) for _ in items[1:]]
        s = items[0]
        for sep, it in zip(seps, items[1:]):
            s += sep + it
        ors.append(s)
    return rng.choice([" || ", "||", " ||"]).join(ors)


def gen_numbers(rng, n):
    pool = ["0", "1", "2", "10", "-1", "-10", "1.5", "1.50", "01", "+3",
            "1e3", "1000", "1E3", "0x1p3", "0X10p-1", "8", "1_000", "1__0",
            "_1", "1_", ".5", "5.", "0.5", "inf", "-Inf", "+infinity",
            "Infinity", "infin", "1e400", "-1e400", "1e-400", "0x10",
            "1.7976931348623157e308", "abc", "v1", "1.2.3", "0.1",
            "0.10000000000000001", "3.0", "3", "2024.05", "20240501",
            "-0", "0.0", "1e", "1e+", "0x", "0x1.8p1", "12345678901234567890",
            "12345678901234567891"]
    out = []
    for _ in range(n):
        if rng.random() < 0.5:
            out.append(rng.choice(pool))
        else:
            out.append(str(rng.randint(-50, 2000)) +
                       rng.choice(["", "", ".%d" % rng.randint(0, 99)]))
    return out


# Masterminds' regular expressions, to tell which answers 3.2.0 and 3.4+
# may give differently (Go's \s is [\t\n\f\r ]).
_SP = r"[\t\n\f\r ]"
_CV = (r"v?([0-9|x|X|\*]+)(\.[0-9|x|X|\*]+)?(\.[0-9|x|X|\*]+)?"
       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?")
_OPS = r"=||!=|>|<|>=|=>|<=|=<|~|~>|\^"
_RANGE_RE = re.compile(r"%s*(%s)%s+-%s+(%s)%s*" % (_SP, _CV, _SP, _SP, _CV,
                                                    _SP))
_ITEM_RE = re.compile(r"(%s)%s*(%s)" % (_OPS, _SP, _CV))
_LOOSE_RE = re.compile(r"^v?([0-9]+)(\.[0-9]+)?(\.[0-9]+)?"
                       r"(-([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?"
                       r"(\+([0-9A-Za-z\-]+(\.[0-9A-Za-z\-]+)*))?$")


def _is_x(part):
    return part in ("x", "X", "*")


def range_rewrite_differs(c):
    """True when 3.2.0 glues the text after a hyphen range to its upper
    bound (anything but the end, ',' or '||' follows the match)."""
    for m in _RANGE_RE.finditer(c):
        rest = c[m.end():]
        if rest and not rest.startswith(",") and not rest.startswith("||"):
            return True
    return False


def prerelease_rule_differs(c):
    """True when some AND group of c mixes comparisons with and without a
    prerelease, or consists of '!=' comparisons of full versions without
    one: only there do 3.2.0's per-comparison rule and 3.4's per-group
    rule answer a prerelease differently."""
    for group in c.split("||"):
        items = []
        for m in _ITEM_RE.finditer(group):
            op, major, minor, patch, pre = (m.group(1), m.group(3),
                                            m.group(4), m.group(5),
                                            m.group(6))
            dirty = (_is_x(major) or not minor or _is_x(minor[1:]) or
                     not patch or _is_x(patch[1:]))
            items.append((op, dirty, bool(pre)))
        if not items:
            continue
        pres = set(p for _, _, p in items)
        if len(pres) > 1:
            return True
        if pres == {False} and all(op == "!=" and not dirty
                                   for op, dirty, _ in items):
            return True
    return False


def has_prerelease(value):
    m = _LOOSE_RE.match(value)
    return bool(m and m.group(4))


def newer_semver_differs(c, value=None):
    """Could Masterminds 3.4+ answer (c, value) differently from 3.2.0?
    With value None: for some value (the whole range is affected)."""
    if range_rewrite_differs(c):
        return True
    if value is None:
        return False
    return has_prerelease(value) and prerelease_rule_differs(c)


# ferry's start-up under ASan is dominated by the leak check at exit;
# policy-cli (tests/policy/cli.py) runs the front end with it on.
FAST_ENV = dict(os.environ)
FAST_ENV["ASAN_OPTIONS"] = (os.environ.get("ASAN_OPTIONS", "") +
                            ":detect_leaks=0").lstrip(":")


def run(argv, stdin):
    p = subprocess.run(argv, input=stdin.encode(), stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, env=FAST_ENV)
    return p.returncode, p.stdout.decode(), p.stderr.decode()


def main():
    if len(sys.argv) != 2:
        die("usage: differential.py SEMVER_CHECK_DRIVER")
    driver = sys.argv[1]
    ferry = os.environ.get("FERRY")
    oracles = os.environ.get("FERRY_ORACLES")
    if not ferry or not os.access(ferry, os.X_OK):
        die("FERRY is not set to the ferry binary")
    if not oracles:
        die("FERRY_ORACLES is not set (scripts/test exports it; the oracle "
            "is built by tests/oracles/build.sh OUTDIR)")
    oracle = os.path.join(oracles, "semver-oracle")
    if not os.access(oracle, os.X_OK):
        die("%s is missing" % oracle)

    rng = random.Random(SEED)
    tags = list(dict.fromkeys(gen_tags(rng, 4000)))  # oracle check dedups
    tags = [t for t in tags if t and "\n" not in t]
    constraints = list(dict.fromkeys(gen_constraint(rng) for _ in range(250)))
    failures = []
    checked = 0

    def fail(msg):
        failures.append(msg)

    # 1. per-tag check: one driver process, one oracle process per range
    with tempfile.TemporaryDirectory() as tmp:
        cf = os.path.join(tmp, "constraints")
        tf = os.path.join(tmp, "tags")
        with open(cf, "w") as f:
            f.write("\n".join(constraints) + "\n")
        with open(tf, "w") as f:
            f.write("\n".join(tags) + "\n")
        rc, out, err = run([driver, cf, tf], "")
        if rc != 0:
            die("semver_check failed: %s" % err)
        # precedence over every pair: the whole list sorted both ways
        src, sout, serr = run([driver, "--sort", tf], "")
        if src != 0:
            die("semver_check --sort failed: %s" % serr)
    ours = {}
    cur = None
    for line in out.split("\n"):
        if line.startswith("== "):
            cur = int(line[3:])
            ours[cur] = []
        elif line:
            ours[cur].append(line)
    tag_input = "\n".join(tags) + "\n"
    orc, oout, oerr = run([oracle, "sort"], tag_input)
    if orc != 0:
        die("oracle sort failed: %s" % oerr)
    ours_sorted = sout.rstrip("\n").split("\n")
    theirs_sorted = oout.rstrip("\n").split("\n")
    checked += len(theirs_sorted)
    if ours_sorted != theirs_sorted:
        for k, (a, b) in enumerate(zip(theirs_sorted, ours_sorted)):
            if a != b:
                fail("sort: position %d: oracle %r, ferry %r" % (k, a, b))
                break
        else:
            fail("sort: %d vs %d tags" % (len(theirs_sorted),
                                           len(ours_sorted)))

    def oracle_check(i):
        return i, run([oracle, "check", constraints[i]], tag_input)

    pool = concurrent.futures.ThreadPoolExecutor(max_workers=4)
    nvalid = 0
    skipped = 0
    for i, (rc, out, err) in pool.map(oracle_check, range(len(constraints))):
        c = constraints[i]
        if newer_semver_differs(c):
            skipped += 1
            continue
        if rc == 2:
            if ours[i] != ["error"]:
                fail("range %r: oracle rejects it, ferry accepts it" % c)
            checked += 1
            continue
        if rc != 0:
            fail("oracle check %r exited %d: %s" % (c, rc, err))
            continue
        nvalid += 1
        if ours[i] == ["error"]:
            fail("range %r: ferry rejects it, oracle accepts it" % c)
            continue
        theirs = out.rstrip("\n").split("\n")
        if len(theirs) != len(ours[i]):
            fail("range %r: %d answers vs %d" % (c, len(theirs), len(ours[i])))
            continue
        for a, b in zip(theirs, ours[i]):
            if newer_semver_differs(c, a.split("\t")[0]):
                skipped += 1
                continue
            checked += 1
            if a != b:
                fail("range %r: oracle %r, ferry %r" % (c, a, b))
    if nvalid < 200:
        fail("only %d valid constraints generated" % nvalid)

    # 2. latest-flux / latest-loose through `ferry policy test`
    jobs = []
    for i, c in enumerate(constraints):
        subset = rng.sample(tags, rng.randint(5, 120))
        loose = i % 2 == 1
        jobs.append(("semver", c, loose, subset, None, None))
    # 3. pattern + extract cases
    ptags = gen_tags(rng, 300) + [
        "main-%d-%s" % (rng.randint(1, 500), rng.choice(["abc", "def", "1a2"]))
        for _ in range(150)] + [
        "release-%d.%d.%d" % (rng.randint(0, 3), rng.randint(0, 12),
                              rng.randint(0, 9)) for _ in range(100)]
    patterns = [
        (r"^v?(?P<ver>[0-9]+\.[0-9]+\.[0-9]+)", "$ver"),
        (r"^v?(?P<ver>[0-9]+\.[0-9]+\.[0-9]+)", "${ver}"),
        (r"^main-(?P<ts>[0-9]+)-", "$ts"),
        (r"^main-(?P<ts>[0-9]+)-(?P<sha>.*)", "${ts}-$sha"),
        (r"(\d+)\.(\d+)", "$1.$2.0"),
        (r"(\d+)\.(\d+)", "${1}x"),
        (r"(\d+)\.(\d+)", "$1x"),
        (r"(\d+)\.(\d+)", "$2.$1.$10"),
        (r"(\d+)\.(\d+)", "$01$1"),
        (r"release-(.*)", "$1"),
        (r"release-(.*)", "$$1"),
        (r"release-(.*)", "${"),
        (r"release-(.*)", "x$"),
        (r"release-(.*)", "$unknown$1"),
        (r"rc", ""),
        (r"^[0-9.]+$", ""),
        (r"(?P<a>\d+)|(?P<b>[a-z]+)", "$a$b"),
        (r"(?i)RELEASE-(?P<v>.+)", "$v"),
        (r"[0-9]+$", "$0"),
    ]
    for pat, ex in patterns:
        for mode in ("semver", "alphabetical", "numerical"):
            subset = rng.sample(ptags, rng.randint(20, 200))
            if mode == "semver":
                c = rng.choice([c for c in constraints[:80]] + ["*", ">=0.0.0-0"])
                jobs.append(("semver", c, rng.random() < 0.5, subset, pat, ex))
            else:
                jobs.append((mode, rng.choice(["asc", "desc"]), False, subset,
                             pat, ex))
    # 4. alphabetical / numerical without a filter
    for _ in range(40):
        jobs.append(("alphabetical", rng.choice(["asc", "desc"]), False,
                     rng.sample(tags, rng.randint(1, 80)), None, None))
    for _ in range(70):
        jobs.append(("numerical", rng.choice(["asc", "desc"]), False,
                     gen_numbers(rng, rng.randint(1, 40)), None, None))

    def oracle_args(job):
        mode, arg, loose, subset, pat, ex = job
        om = mode
        if mode == "semver":
            om = "latest-loose" if loose else "latest-flux"
        oa = [oracle, om, arg]
        if pat is not None:
            oa += ["--pattern", pat]
            if ex:
                oa += ["--extract", ex]
        return oa

    def ferry_args(job):
        mode, arg, loose, subset, pat, ex = job
        if mode == "semver":
            fa = ["--semver", arg] + (["--loose"] if loose else [])
        else:
            fa = ["--" + mode, arg]
        if pat is not None:
            fa += ["--pattern", pat]
            if ex:
                fa += ["--extract", ex]
        return [ferry, "policy", "test", "-o", "json"] + fa

    # policy_lib answers every job from one process; every CLI_EVERY-th
    # job also goes through `ferry policy test` itself.
    with tempfile.TemporaryDirectory() as tmp:
        jf = os.path.join(tmp, "jobs")
        with open(jf, "w") as f:
            for mode, arg, loose, subset, pat, ex in jobs:
                f.write(json.dumps({"mode": mode, "arg": arg, "loose": loose,
                                    "pattern": pat, "extract": ex,
                                    "tags": subset}) + "\n")
        rc, out, err = run([driver, "--policy", jf], "")
        if rc != 0:
            die("semver_check --policy failed: %s" % err)
    lib_answers = out.rstrip("\n").split("\n")
    if len(lib_answers) != len(jobs):
        die("semver_check --policy: %d answers for %d jobs" %
            (len(lib_answers), len(jobs)))

    def one(i):
        job = jobs[i]
        stdin = "\n".join(job[3]) + "\n"
        cli = None
        if i % CLI_EVERY == 0:
            cli = run(ferry_args(job), stdin)
        return i, run(oracle_args(job), stdin), cli

    for i, (orc, oout, oerr), cli in pool.map(one, range(len(jobs))):
        job = jobs[i]
        mode, arg, loose, subset, pat, ex = job
        # an extract template may make a prerelease out of any tag
        if mode == "semver" and (
                newer_semver_differs(arg) or
                (prerelease_rule_differs(arg) and
                 (ex and "-" in ex or
                  any(has_prerelease(t) or "-" in t for t in subset)))):
            skipped += 1
            continue
        what = "%s %r%s pattern=%r extract=%r" % (
            mode, arg, " loose" if loose else "", pat, ex)
        lib, _, lib_value = lib_answers[i].partition("\t")
        expect = {2: "error", 3: "<none>"}.get(orc, oout.rstrip("\n"))
        checked += 1
        if lib != expect:
            excused = (orc == 3 and mode == "alphabetical"
                       and lib_value == "" and lib not in ("error", "<none>"))
            if not excused:
                fail("policy_lib %s: oracle %r, ferry %r (tags %r)" %
                     (what, expect, lib, subset[:100]))
        if cli is None:
            continue
        frc, fout, ferr = cli
        checked += 1
        if orc == 2:
            if frc != 2:
                fail("cli %s: oracle rejects (%s), ferry exit %d" %
                     (what, oout.strip(), frc))
            continue
        if orc == 3:
            if frc == 0:
                value = json.loads(fout).get("value")
                if value == "" and mode == "alphabetical":
                    continue  # the oracle's "" means <none>; see above
            if frc != 3:
                fail("cli %s: oracle nothing, ferry exit %d %s%s" %
                     (what, frc, fout.strip(), ferr.strip()))
            continue
        if frc != 0:
            fail("cli %s: oracle %r, ferry exit %d %s" %
                 (what, oout.strip(), frc, ferr.strip()))
            continue
        got = json.loads(fout)["tag"]
        if got != oout.rstrip("\n"):
            fail("cli %s: oracle %r, ferry %r (tags %r)" %
                 (what, oout.rstrip("\n"), got, subset[:200]))
    pool.shutdown()

    print("%d tags, %d constraints (%d valid), %d policy runs, %d answers "
          "compared, %d skipped where Masterminds 3.4+ differs from the "
          "oracle's 3.2.0" % (len(tags), len(constraints), nvalid, len(jobs),
                              checked, skipped))
    if failures:
        for f in failures[:60]:
            print("FAIL: " + f, file=sys.stderr)
        print("%d disagreements" % len(failures), file=sys.stderr)
        sys.exit(1)


if __name__ == "__main__":
    main()
