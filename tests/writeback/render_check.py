#!/usr/bin/env python3
"""Runs the ferry kustomize and helm commands over the fixture cases and
checks each result three ways: byte for byte against expected/, by
rendering (`kubectl kustomize` gives the images in the case's `images`
file) and, for Helm values, by parsing (the data equals the original data
with the keys set).  Usage: render_check.py kustomize|helm|cli (cli: the commands' output,
exit codes and dry runs, and Flux's peer cases through the command)."""
import os
import re
import shutil
import subprocess
import sys
import tempfile

import yaml

ROOT = os.environ.get("FERRY_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(ROOT, "tests", "writeback", "fixtures")
FERRY = os.environ.get("FERRY")
KUBECTL = shutil.which("kubectl") or "/usr/bin/kubectl"
failures = []
# tmpfs when there is one: the editors fsync every file they write
if os.access("/dev/shm", os.W_OK):
    tempfile.tempdir = "/dev/shm"


def fail(case, msg):
    failures.append("%s: %s" % (case, msg))


def run(args):
    return subprocess.run(args, capture_output=True, text=True)


def args_of(case_dir):
    with open(os.path.join(case_dir, "args")) as f:
        return [l for l in f.read().split("\n") if l]


def kustomize():
    if not os.access(KUBECTL, os.X_OK):
        print("kubectl not found: cannot render the kustomize cases")
        sys.exit(77)
    base = os.path.join(FIX, "kustomize")
    for case in sorted(os.listdir(base)):
        src = os.path.join(base, case)
        with tempfile.TemporaryDirectory() as tmp:
            work = os.path.join(tmp, case)
            shutil.copytree(src, work)
            r = run([FERRY, "kustomize", "set-image", work] + args_of(src))
            if r.returncode != 0:
                fail(case, "exit %d: %s" % (r.returncode, r.stderr))
                continue
            for name in os.listdir(os.path.join(src, "expected")):
                want = open(os.path.join(src, "expected", name), "rb").read()
                got = open(os.path.join(work, name), "rb").read()
                if want != got:
                    fail(case, "%s differs from expected" % name)
            r = run([KUBECTL, "kustomize", work])
            if r.returncode != 0:
                fail(case, "kubectl kustomize: %s" % r.stderr)
                continue
            images = sorted(re.findall(r"^\s*-?\s*image:\s*(\S+)\s*$", r.stdout, re.M))
            want = [l for l in open(os.path.join(src, "images")).read().split("\n") if l]
            if images != sorted(want):
                fail(case, "rendered images %s, want %s" % (images, want))
            # the argument's image must be what kustomize renders for it
            for a in args_of(src):
                name, _, rest = a.partition("=") if "=" in a else ("", "", a)
                m = re.match(r"^(.*?)(?::([\w][\w.-]*))?(?:@(.*))?$", rest)
                newname, tag, digest = m.group(1), m.group(2), m.group(3)
                ref = newname + (":" + tag if tag else "") + ("@" + digest if digest else "")
                if ref not in images and any(i.startswith(newname) for i in images):
                    fail(case, "argument %s not rendered as %s" % (a, ref))


def set_path(data, key, value):
    parts = []
    for p in key.split("."):
        m = re.match(r"^([^\[]*)((?:\[\d+\])*)$", p)
        if m.group(1):
            parts.append(m.group(1))
        parts += [int(i) for i in re.findall(r"\[(\d+)\]", m.group(2))]
    node = data
    for i, p in enumerate(parts[:-1]):
        if isinstance(p, int):
            node = node[p]
        else:
            if node.get(p) is None:
                node[p] = {}
            node = node[p]
    node[parts[-1]] = value


def helm():
    base = os.path.join(FIX, "helm")
    for case in sorted(os.listdir(base)):
        src = os.path.join(base, case)
        with tempfile.TemporaryDirectory() as tmp:
            work = os.path.join(tmp, "values.yaml")
            shutil.copy(os.path.join(src, "values.yaml"), work)
            args = args_of(src)
            r = run([FERRY, "helm", "set-values", work] + args)
            if r.returncode != 0:
                fail(case, "exit %d: %s" % (r.returncode, r.stderr))
                continue
            want = open(os.path.join(src, "expected", "values.yaml"), "rb").read()
            got = open(work, "rb").read()
            if want != got:
                fail(case, "values.yaml differs from expected")
            data = yaml.safe_load(open(os.path.join(src, "values.yaml")))
            for a in args:
                k, _, v = a.partition("=")
                set_path(data, k, v)
            if yaml.safe_load(got) != data:
                fail(case, "parsed data %r, want %r" % (yaml.safe_load(got), data))


def same_tree(case, got, want, orig):
    for dp, _, files in os.walk(got):
        for f in files:
            rel = os.path.relpath(os.path.join(dp, f), got)
            ref = os.path.join(want, rel)
            if not os.path.exists(ref):
                ref = os.path.join(orig, rel)
            if open(os.path.join(got, rel), "rb").read() != open(ref, "rb").read():
                fail(case, "%s differs from %s" % (rel, ref))


def policies_args(path):
    out = []
    for l in open(path).read().split("\n"):
        if l:
            out += ["--policy", l]
    return out


def cli():
    """The commands' contract: output lines, exit codes, dry runs."""
    peer = os.path.join(ROOT, "tests", "peer", "flux-setters")
    if not os.path.isdir(peer):
        fail("peer", "Flux peer cases missing at %s" % peer)
    else:
        with tempfile.TemporaryDirectory() as tmp:
            work = os.path.join(tmp, "t")
            shutil.copytree(os.path.join(peer, "original"), work)
            r = run([FERRY, "setters", "apply"] + policies_args(os.path.join(peer, "policies")) + [work])
            if r.returncode != 0:
                fail("peer", "exit %d: %s" % (r.returncode, r.stderr))
            same_tree("peer", work, os.path.join(peer, "expected"), os.path.join(peer, "original"))
            if "marked.yaml:14: automation-ns:policy image:v1.0.0 -> index.repo.fake/updated:v1.0.1\n" not in r.stdout:
                fail("peer", "change line missing: %r" % r.stdout)
    fx = os.path.join(FIX, "setters")
    with tempfile.TemporaryDirectory() as tmp:
        work = os.path.join(tmp, "t")
        shutil.copytree(os.path.join(fx, "original"), work)
        pol = policies_args(os.path.join(fx, "policies"))
        r = run([FERRY, "setters", "apply", "--dry-run"] + pol + [work])
        if r.returncode != 1 or "broken.yaml" not in r.stderr:
            fail("dry-run", "want exit 1 naming broken.yaml, got %d %r" % (r.returncode, r.stderr))
        if "--- a/quoted.yaml\n+++ b/quoted.yaml\n" not in r.stdout or '+          image: "ghcr.io/org/web:1.10"' not in r.stdout:
            fail("dry-run", "no diff: %r" % r.stdout[:300])
        same_tree("dry-run", work, os.path.join(fx, "original"), os.path.join(fx, "original"))
        # the diff applies with patch(1) to give the expected files
        if shutil.which("patch"):
            # bytes, not text: the CRLF file's diff keeps its CRs
            raw = subprocess.run([FERRY, "setters", "apply", "--dry-run"] + pol + [work], capture_output=True).stdout
            p = subprocess.run(["patch", "-s", "-p1", "--no-backup-if-mismatch", "-d", work], input=raw, capture_output=True)
            if p.returncode != 0:
                fail("dry-run", "patch failed: %r" % (p.stdout + p.stderr))
            same_tree("dry-run-patched", work, os.path.join(fx, "expected"), os.path.join(fx, "original"))
        work = os.path.join(tmp, "fresh")
        shutil.copytree(os.path.join(fx, "original"), work)
        r = run([FERRY, "setters", "apply", "-o", "json"] + pol + [work])
        if r.returncode != 1:
            fail("json", "want exit 1 (broken.yaml), got %d" % r.returncode)
        else:
            import json
            ch = json.loads(r.stdout)
            if len(ch) != 28 or not any(c["kind"] == "CronJob" and c["name"] == "api-migrate" for c in ch):
                fail("json", "change list %r" % ch[:2])
        same_tree("apply", work, os.path.join(fx, "expected"), os.path.join(fx, "original"))
        r = run([FERRY, "setters", "apply"] + pol + [work])
        if r.returncode != 1 or r.stdout != "":
            fail("rerun", "second run changed something: %r" % r.stdout)
    usage = [
        ["setters", "apply", "."],
        ["setters", "apply", "--policy", "bad", "."],
        ["setters", "apply", "--policy", "a:b=x:1\n#", "."],
        ["setters", "frob"],
        ["kustomize", "set-image", "."],
        ["kustomize", "set-image", ".", "app"],
        ["kustomize", "set-image", ".", "app:1.0\nx: y"],
        ["helm", "set-values", "values.yaml"],
        ["helm", "set-values", "values.yaml", "image.tag=a#b"],
        ["helm", "set-values", "values.yaml", "image..tag=1"],
    ]
    for u in usage:
        r = run([FERRY] + u)
        if r.returncode != 2:
            fail("usage", "%r: exit %d, want 2" % (u, r.returncode))
    for u in (["setters", "--help"], ["kustomize", "--help"], ["helm", "--help"],
              ["setters", "apply", "--help"], ["kustomize", "set-image", "--help"],
              ["helm", "set-values", "--help"]):
        r = run([FERRY] + u)
        if r.returncode != 0 or "Example" not in r.stdout:
            fail("help", "%r: exit %d" % (u, r.returncode))
    with tempfile.TemporaryDirectory() as tmp:
        r = run([FERRY, "kustomize", "set-image", tmp, "app:1"])
        if r.returncode != 1:
            fail("kustomize-missing", "exit %d, want 1" % r.returncode)
        r = run([FERRY, "helm", "set-values", os.path.join(tmp, "nope.yaml"), "a=b"])
        if r.returncode != 1:
            fail("helm-missing", "exit %d, want 1" % r.returncode)
        v = os.path.join(tmp, "values.yaml")
        open(v, "w").write("image:\n  tag: 1.0 # pinned\n")
        r = run([FERRY, "helm", "set-values", "--dry-run", v, "image.tag=1.10"])
        if r.returncode != 0 or '+  tag: "1.10" # pinned' not in r.stdout or open(v).read() != "image:\n  tag: 1.0 # pinned\n":
            fail("helm-dry-run", "%d %r" % (r.returncode, r.stdout))


if __name__ == "__main__":
    if not FERRY:
        print("FERRY is not set")
        sys.exit(1)
    {"kustomize": kustomize, "helm": helm, "cli": cli}[sys.argv[1]]()
    for f in failures:
        print("FAIL", f)
    print("%s: %d failure(s)" % (sys.argv[1], len(failures)))
    sys.exit(1 if failures else 0)
