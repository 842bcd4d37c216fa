#!/usr/bin/python3
"""The crash loop: `ferry run --once` killed with SIGKILL at a random
moment, then a full run, over and over, on one state directory and one
remote.  Whatever the kill interrupted (a scan, a state write, a clone,
a commit, a push), the next full run must succeed with no manual step,
and at the end the remote holds exactly one commit per tag, in order.

  crashloop.py [ROUNDS]      (default 100; FERRY_CRASH_ROUNDS too)

Run under tests/harness/testbed.py with --registry noauth.  The remote
is a bare repository over file://; each round pushes a new tag to the
registry first.  Kills land at a uniformly random moment of a whole run
(its length is measured first on a run that is not killed), so every
phase gets its share."""
import os
import random
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

HARNESS = os.environ["FERRY_TEST_HARNESS"]
sys.path.insert(0, os.path.dirname(HARNESS))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]
TMP = os.environ["FERRY_TEST_TMP"]
REGISTRY = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]


def git(*args):
    return subprocess.run(["git", "-c", "safe.directory=*", *args],
                          capture_output=True, text=True,
                          check=True).stdout


def main():
    rounds = int(sys.argv[1] if len(sys.argv) > 1 else
                 os.environ.get("FERRY_CRASH_ROUNDS", "100"))
    rng = random.Random(int(os.environ.get("FERRY_CRASH_SEED", "1117")))
    work = tempfile.mkdtemp(dir=TMP, prefix="crash-")
    image = f"{REGISTRY}/crash/app"
    testbed.push_image(REGISTRY, "crash/app", ["1.0.0"], distinct=True)
    src = os.path.join(work, "src", "deploy")
    os.makedirs(src)
    with open(os.path.join(src, "app.yaml"), "w") as f:
        f.write(f"image: {image}:1.0.0 # {{\"$imagepolicy\": "
                "\"flux-system:app\"}\n")
    bare = os.path.join(work, "remote.git")
    testbed.git_init(bare, files=os.path.dirname(src), branch="main")
    cfg = os.path.join(work, "flux.yaml")
    with open(cfg, "w") as f:
        f.write(textwrap.dedent(f"""\
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata: {{name: repo, namespace: flux-system}}
            spec: {{interval: 1h, url: 'file://{bare}', ref: {{branch: main}}}}
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageRepository
            metadata: {{name: app, namespace: flux-system}}
            spec: {{image: '{image}', interval: 1h, insecure: true}}
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImagePolicy
            metadata: {{name: app, namespace: flux-system}}
            spec:
              imageRepositoryRef: {{name: app}}
              policy: {{semver: {{range: '>=1.0.0'}}}}
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageUpdateAutomation
            metadata: {{name: auto, namespace: flux-system}}
            spec:
              interval: 1h
              sourceRef: {{kind: GitRepository, name: repo}}
              git:
                commit:
                  author: {{name: ferry, email: bot@example.invalid}}
                  messageTemplate: 'update {{{{range .Changed.Changes}}}}{{{{.NewValue}}}}{{{{end}}}}'
              update: {{path: ./deploy, strategy: Setters}}
            """))
    state = os.path.join(work, "state")
    args = [FERRY, "run", "--once", "-f", cfg, "--state-dir", state]
    # How long a run that writes back takes here (sanitizer builds are
    # slower): kills are spread over that.
    testbed.push_image(REGISTRY, "crash/app", ["1.0.1"], distinct=True)
    t0 = time.monotonic()
    subprocess.run(args, check=True, capture_output=True)
    span = (time.monotonic() - t0) * 1.1
    killed = 0
    for i in range(rounds):
        tag = f"1.{i + 1}.0"
        testbed.push_image(REGISTRY, "crash/app", [tag], distinct=True)
        p = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
        time.sleep(rng.uniform(0.0, span))
        if p.poll() is None:
            p.send_signal(signal.SIGKILL)
            killed += 1
        p.wait()
        full = subprocess.run(args, capture_output=True, text=True)
        if full.returncode != 0:
            sys.exit(f"round {i}: the run after the kill failed "
                     f"({full.returncode}):\n{full.stdout}{full.stderr}")
        subjects = git("--git-dir", bare, "log", "--format=%s",
                       "main").splitlines()
        if subjects[0] != f"update {image}:{tag}":
            sys.exit(f"round {i}: the remote's head is {subjects[0]!r}, "
                     f"not the update to {tag}")
    subjects = git("--git-dir", bare, "log", "--format=%s",
                   "main").splitlines()
    want = [f"update {image}:1.0.1"] + [f"update {image}:1.{i + 1}.0"
                                         for i in range(rounds)]
    got = list(reversed(subjects[:-1]))
    if got != want:
        extra = [s for s in got if got.count(s) > 1]
        sys.exit(f"the remote does not hold one commit per tag in order: "
                 f"{len(got)} commits for {rounds} tags; doubled: "
                 f"{sorted(set(extra))[:5]}")
    fsck = subprocess.run(["git", "-c", "safe.directory=*", "--git-dir",
                           bare, "fsck", "--strict"], capture_output=True,
                          text=True)
    if fsck.returncode != 0:
        sys.exit("git fsck of the remote failed:\n" + fsck.stderr)
    print(f"ok: {rounds} rounds, {killed} runs killed mid-way (kills "
          f"spread over {span * 1000:.0f} ms), one commit per tag, remote "
          "intact")


if __name__ == "__main__":
    main()
