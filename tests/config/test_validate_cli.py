#!/usr/bin/env python3
"""`ferry validate` end to end: the seed fixtures are ok and the skipped
kinds are noted; each broken fixture gives exactly the expected errors with
file:line:column and field path, and exit code 2; usage errors exit 2;
Secret values never appear in any output, whatever the log level or format.

Runs the real binary ($FERRY) on the files in tests/config/fixtures/.
"""
import concurrent.futures
import json
import os
import subprocess
import sys

FERRY = os.environ["FERRY"]
ROOT = os.environ["FERRY_SOURCE_ROOT"]
FIX = os.path.join(ROOT, "tests", "config", "fixtures")

# file -> [(line, column, path, text in the message)], in report order.
BROKEN = {
    "syntax-error.yaml": [
        (15, 1, "", "YAML syntax error: did not find expected ',' or ']' "
         "while parsing a flow sequence at line 14 column 14"),
    ],
    "unknown-field.yaml": [
        (9, 3, "spec.intervall", "unknown field 'intervall'"),
    ],
    "wrong-type.yaml": [
        (8, 5, "spec.image", "expected a string, found a mapping"),
        (10, 13, "spec.insecure", "expected true or false, found a string"),
        (11, 18, "spec.exclusionList",
         "expected a list of strings, found a string"),
    ],
    "bad-duration.yaml": [
        (8, 13, "spec.interval", "invalid duration '5 minutes'"),
        (9, 12, "spec.timeout", "invalid duration '1h'"),
    ],
    "bad-regex.yaml": [
        (11, 7, "spec.exclusionList[1]",
         "invalid regular expression '^(unclosed': missing closing "
         "parenthesis"),
        (22, 14, "spec.filterTags.pattern", "uses lookaround assertions"),
    ],
    "no-strategy.yaml": [
        (18, 11, "spec.policy", "no strategy given"),
    ],
    "two-strategies.yaml": [
        (19, 5, "spec.policy",
         "2 strategies given (semver, numerical); keep exactly one"),
    ],
    "bad-enum.yaml": [
        (9, 13, "spec.provider",
         "'docker' is not valid (use generic, aws, azure or gcp)"),
        (19, 27, "spec.digestReflectionPolicy",
         "'Sometimes' is not valid (use Never, IfNotPresent or Always)"),
        (22, 14, "spec.policy.alphabetical.order",
         "'ascending' is not valid (use asc or desc)"),
    ],
    "missing-required.yaml": [
        (7, 3, "spec.image", "required field is missing"),
        (15, 23, "spec.imageRepositoryRef.name", "required field is missing"),
        (17, 13, "spec.policy.semver.range", "required field is missing"),
    ],
    "image-with-tag.yaml": [
        (7, 10, "spec.image", "must not include a tag"),
        (16, 10, "spec.image", "must not include a URL scheme"),
    ],
    "duplicate": [
        (2, 1, "metadata.name", "duplicate: GitRepository apps/app is "
         "already defined at " + os.path.join(FIX, "broken", "duplicate",
                                              "a.yaml") + ":1:1"),
    ],
    "dangling-reference.yaml": [
        (8, 5, "spec.imageRepositoryRef.name",
         "ImageRepository 'apps/no-such-repository' not found"),
        (21, 5, "spec.sourceRef.name",
         "GitRepository 'apps/no-such-gitrepository' not found"),
        (29, 11, "spec.git.commit.signingKey.secretRef.name",
         "Secret 'apps/no-such-signing-key' not found"),
    ],
    "unknown-apiversion.yaml": [
        (1, 13, "apiVersion", "ImagePolicy 'image.toolkit.fluxcd.io/v1beta1'"
         " is not supported (use image.toolkit.fluxcd.io/v1)"),
    ],
    "missing-apiversion.yaml": [
        (1, 1, "apiVersion", "ImageRepository without apiVersion (use "
         "image.toolkit.fluxcd.io/v1"),
        (9, 13, "apiVersion", "'image.toolkit.flux.io/v1' is not an "
         "apiVersion of ImagePolicy"),
    ],
    "secret-not-base64.yaml": [
        (8, 13, "data.password",
         "the value of key 'password' is not valid base64"),
    ],
    "multi-error.yaml": [
        (8, 10, "spec.image", "must not include a tag"),
        (9, 13, "spec.interval", "invalid duration 'often'"),
        (10, 13, "spec.provider", "'dockerhub' is not valid"),
        (11, 12, "spec.suspend", "expected true or false"),
        (13, 7, "spec.exclusionList[0]", "invalid regular expression"),
        (29, 14, "spec.policy.alphabetical.order", "'up' is not valid"),
        (30, 3, "spec.colour", "unknown field 'colour'"),
        (26, 5, "spec.policy", "2 strategies given (semver, alphabetical)"),
        (43, 9, "spec.git.commit.author.email", "required field is missing"),
        (45, 15, "spec.update.strategy", "'Rewrite' is not valid"),
        (38, 3, "spec.interval", "required field is missing"),
        (15, 5, "spec.secretRef.name", "Secret 'apps/missing-secret'"),
        (39, 5, "spec.sourceRef.name", "GitRepository 'apps/app' not found"),
    ],
}

CANARIES = [
    "FERRYLEAKCANARY",
    "RkVSUllMRUFLQ0FOQVJZ",  # the base64 form of the data value
]

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def ferry(*args):
    p = subprocess.run([FERRY] + list(args), capture_output=True, text=True,
                       timeout=60)
    return p.returncode, p.stdout, p.stderr


def ferry_many(arglists):
    """Runs several ferry commands at once (each waits mostly on the
    sanitizers' start and exit); results in the order given."""
    with concurrent.futures.ThreadPoolExecutor(max_workers=8) as pool:
        return list(pool.map(lambda a: ferry(*a), arglists))


def test_seed_is_ok_and_notes_skipped_kinds():
    rc, out, err = ferry("validate", "-f", os.path.join(FIX, "seed"))
    check(rc == 0, "seed: exit %d, stderr %r" % (rc, err))
    check(out.startswith(
        "ok: 9 objects (1 GitRepository, 1 ImageRepository, 1 ImagePolicy, "
        "1 ImageUpdateAutomation, 2 Kustomization, 3 Secret)\n"),
        "seed: stdout %r" % out)
    check("skipped: 3 documents of other kinds (1 HelmRelease, "
          "1 Deployment, 1 ConfigMap)" in out, "seed: skipped %r" % out)
    notices = [l for l in err.splitlines() if "event=document_skipped" in l]
    check(len(notices) == 3, "seed: one notice per skipped document %r" % err)
    check(any("kind=Deployment" in l and "workloads.yaml" in l and
              "line=2" in l for l in notices), "seed: Deployment notice")


def test_seed_as_json():
    rc, out, err = ferry("validate", "-o", "json", "-f",
                         os.path.join(FIX, "seed"))
    check(rc == 0, "seed json: exit %d" % rc)
    doc = json.loads(out)
    check(doc["ok"] is True and doc["objects"] == 9, "seed json: %r" % doc)
    check(doc["kinds"] == {"GitRepository": 1, "ImageRepository": 1,
                           "ImagePolicy": 1, "ImageUpdateAutomation": 1,
                           "Kustomization": 2, "Secret": 3},
          "seed json kinds: %r" % doc["kinds"])
    check(sorted(s["kind"] for s in doc["skipped"]) ==
          ["ConfigMap", "Deployment", "HelmRelease"], "seed json skipped")
    check(doc["errors"] == [], "seed json errors")


def test_seed_lists_what_it_does_not_act_on_as_notices():
    rc, out, err = ferry("validate", "-f", os.path.join(FIX, "seed"))
    notices = [l for l in out.splitlines() if l.startswith("notice: ")]
    check(any("image-automation.yaml:3:13: ImageRepository "
              "flux-system/api-server: apiVersion: "
              "image.toolkit.fluxcd.io/v1beta2 is no longer served" in l
              for l in notices), "seed notices: v1beta2 %r" % notices)
    check(any("Kustomization flux-system/api-server: left to Flux: it has "
              "no ferry.io/ annotations" in l for l in notices),
          "seed notices: Kustomization %r" % notices)
    rc, out, err = ferry("validate", "-o", "json", "-f",
                         os.path.join(FIX, "seed"))
    doc = json.loads(out)
    check(len(doc["notices"]) == len(notices),
          "seed json notices: %r" % doc["notices"])
    check(all(set(n) >= {"file", "line", "column", "path", "message"}
              for n in doc["notices"]), "seed json notice keys")


def test_a_whole_tree_skips_playbooks_and_templates_with_notices():
    tree = os.path.join(FIX, "tree")
    rc, out, err = ferry("validate", "-f", tree, "-n", "prod")
    check(rc == 0, "tree: exit %d %r" % (rc, err))
    check(out.startswith("ok: 2 objects (1 ImageRepository, 1 ImagePolicy)"),
          "tree: %r" % out)
    notices = [l for l in out.splitlines() if l.startswith("notice: ")]
    check(len(notices) == 3, "tree: notices %r" % notices)
    for where, text in (("ansible/site.yml:1:1:", "not Kubernetes objects"),
                        ("charts/web/templates:", "Helm chart"),
                        ("scaffold/policy.yaml:4:10:", "a template")):
        check(any(where in l and text in l for l in notices),
              "tree: no notice %r %r in %r" % (where, text, notices))
    # --exclude: a name and a path below the directory
    rc, out, err = ferry("validate", "-f", tree, "-n", "prod",
                         "--exclude", "ansible", "--exclude", "charts/*")
    notices = [l for l in out.splitlines() if l.startswith("notice: ")]
    check(rc == 0 and len(notices) == 1 and "scaffold" in notices[0],
          "tree --exclude: %d %r" % (rc, out))
    # the objects also come from standard input, with the namespace given
    with open(os.path.join(tree, "clusters", "prod",
                           "image-automation.yaml")) as f:
        text = f.read()
    p = subprocess.run([FERRY, "validate", "-o", "json", "-f", "-", "-n",
                        "prod"], input=text, capture_output=True, text=True,
                       timeout=60)
    doc = json.loads(p.stdout)
    check(p.returncode == 0 and doc["objects"] == 2,
          "stdin: %d %r" % (p.returncode, p.stdout))
    p = subprocess.run([FERRY, "validate", "-f", "-", "-f", "-"], input="",
                       capture_output=True, text=True, timeout=60)
    check(p.returncode == 2 and "given twice" in p.stderr,
          "stdin twice: %d %r" % (p.returncode, p.stderr))
    # without the namespace Flux would give them, the Deployment's marker
    # names a policy that is not there
    rc, out, err = ferry("validate", "-f", tree)
    check(rc == 0 and "deployment.yaml:10:44: setter 'prod:web' names "
          "ImagePolicy 'prod/web', which is not in the files given: the "
          "value is never updated (did you mean 'default:web'?)" in out,
          "marker: %d %r" % (rc, out))
    rc, out, err = ferry("validate", "-f", tree, "-n", "Prod")
    check(rc == 2 and "'Prod' is not a valid name" in err,
          "bad namespace: %d %r" % (rc, err))


def test_each_broken_fixture():
    names = sorted(BROKEN)
    paths = [os.path.join(FIX, "broken", n) for n in names]
    text_runs = ferry_many([("validate", "-f", p) for p in paths])
    json_runs = ferry_many([("validate", "-o", "json", "-f", p)
                            for p in paths])
    for name, path, (rc, out, err), (jrc, jout, jerr) in zip(
            names, paths, text_runs, json_runs):
        want = BROKEN[name]
        check(rc == 2, "%s: exit %d, want 2" % (name, rc))
        lines = [l for l in err.splitlines()
                 if not l.startswith("ts=") and
                 not l.startswith("ferry validate:")]
        check(len(lines) == len(want),
              "%s: %d errors, want %d:\n%s" % (name, len(lines), len(want),
                                               "\n".join(lines)))
        for line, (ln, col, fpath, text) in zip(lines, want):
            if os.path.isdir(path):
                ok = (":%d:%d: " % (ln, col)) in line
            else:
                ok = line.startswith("%s:%d:%d: " % (path, ln, col))
            check(ok, "%s: %r is not at %d:%d" % (name, line, ln, col))
            check((": %s: " % fpath if fpath else "") in line,
                  "%s: %r lacks path %r" % (name, line, fpath))
            check(text in line, "%s: %r lacks %r" % (name, line, text))
        check("ferry validate: %d configuration error" % len(want) in err,
              "%s: summary line %r" % (name, err))
        # the same errors as JSON
        check(jrc == 2, "%s json: exit %d" % (name, jrc))
        doc = json.loads(jout)
        check(doc["ok"] is False, "%s json: ok" % name)
        got = [(e["line"], e["column"], e["path"]) for e in doc["errors"]]
        check(got == [(l, c, p) for l, c, p, _ in want],
              "%s json: %r" % (name, got))
        for e, (_, _, _, text) in zip(doc["errors"], want):
            check(text in e["message"],
                  "%s json message %r lacks %r" % (name, e["message"], text))
            check(set(e) >= {"file", "line", "column", "path", "message"},
                  "%s json keys %r" % (name, sorted(e)))


def test_all_broken_fixtures_at_once_report_every_error():
    rc, out, err = ferry("validate", "-o", "json", "-f",
                         os.path.join(FIX, "broken"))
    check(rc == 2, "all broken: exit %d" % rc)
    doc = json.loads(out)
    # the duplicate dir and dangling references interact with other files
    # (apps/app exists there), so only a lower bound is exact
    check(len(doc["errors"]) >= 30, "all broken: %d errors" %
          len(doc["errors"]))
    files = {os.path.basename(e["file"]) for e in doc["errors"]}
    for name in BROKEN:
        if name != "duplicate":
            check(name in files, "all broken: nothing from %s" % name)


def test_usage_errors_exit_2():
    rc, out, err = ferry("validate")
    check(rc == 2 and "no path given" in err, "no -f: %d %r" % (rc, err))
    rc, out, err = ferry("validate", "-f", "/nonexistent/dir")
    check(rc == 2 and "/nonexistent/dir: no such file or directory" in err,
          "missing path: %d %r" % (rc, err))
    rc, out, err = ferry("validate", "-f", FIX, "-o", "yaml")
    check(rc == 2, "bad -o: %d" % rc)
    rc, out, err = ferry("validate", "stray")
    check(rc == 2 and "unexpected argument" in err, "stray: %d" % rc)


def test_help_teaches():
    rc, out, err = ferry("validate", "--help")
    check(rc == 0, "help: exit %d" % rc)
    for text in ("Usage: ferry validate -f PATH", "skipped", "Exit codes",
                 "Example", "*.yaml"):
        check(text in out, "help lacks %r" % text)
    rc, out, err = ferry("--help")
    check("validate" in out, "ferry --help lists validate")


def test_secret_values_never_appear():
    leak = os.path.join(FIX, "secret-leak")
    runs = [
        ("--log-level", "debug", "validate", "-f", leak),
        ("--log-level", "debug", "validate", "-o", "json", "-f", leak),
        ("--log-level", "debug", "--log-format", "json", "validate", "-f",
         leak),
        ("--log-level", "debug", "--log-format", "json", "validate", "-o",
         "json", "-f", leak),
        ("--log-level", "debug", "validate", "-f",
         os.path.join(leak, "objects.yaml")),
    ]
    saw_broken = False
    for args, (rc, out, err) in zip(runs, ferry_many(runs)):
        check(rc in (0, 2), "leak %r: exit %d" % (args, rc))
        # the run really read the Secrets and reported on them
        check("object_loaded" in err, "leak %r: no debug lines" % (args,))
        if "broken.yaml" in out + err:
            saw_broken = True
        for canary in CANARIES:
            check(canary not in out and canary not in err,
                  "leak %r: %s found in output:\n%s\n%s" %
                  (args, canary, out, err))
    check(saw_broken, "leak: the broken Secret was not reported")
    rc, out, err = ferry("--log-level", "debug", "validate", "-f",
                         os.path.join(leak, "objects.yaml"))
    check(rc == 0 and out.startswith("ok: 2 objects"),
          "leak objects alone: %d %r %r" % (rc, out, err))


for name, fn in sorted(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
if failures:
    print("%d failures" % len(failures), file=sys.stderr)
    sys.exit(1)
print("ok")
