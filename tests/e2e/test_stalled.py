#!/usr/bin/python3
"""A registry that stalls must not hold up unrelated work.

`ferry run --once` over two ImageRepositories: one on the real registry,
one on a server that accepts connections and never answers.  The
automation that reads the healthy one pushes without waiting for the
stalled scan, and the stalled scan fails at its spec.timeout (3s here),
not after retries x the request timeout (154 s before).

Run under tests/harness/testbed.py with --registry noauth."""
import os
import socket
import subprocess
import sys
import tempfile
import textwrap
import threading
import time
import unittest

HARNESS = os.environ["FERRY_TEST_HARNESS"]
sys.path.insert(0, os.path.dirname(HARNESS))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]
TMP = os.environ["FERRY_TEST_TMP"]
REGISTRY = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]


class Staller:
    """Accepts connections and reads what comes, answering nothing."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.addr = "127.0.0.1:%d" % self.sock.getsockname()[1]
        self.conns = []
        self.stop = False
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        while not self.stop:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            self.conns.append(c)

    def close(self):
        self.stop = True
        self.sock.close()
        for c in self.conns:
            c.close()


def objects(name, image, url, timeout=""):
    return textwrap.dedent(f"""\
        ---
        apiVersion: source.toolkit.fluxcd.io/v1
        kind: GitRepository
        metadata: {{name: {name}, namespace: flux-system}}
        spec: {{interval: 1h, url: '{url}', ref: {{branch: main}}}}
        ---
        apiVersion: image.toolkit.fluxcd.io/v1
        kind: ImageRepository
        metadata: {{name: {name}, namespace: flux-system}}
        spec: {{image: '{image}', interval: 1h, insecure: true{timeout}}}
        ---
        apiVersion: image.toolkit.fluxcd.io/v1
        kind: ImagePolicy
        metadata: {{name: {name}, namespace: flux-system, labels: {{app: {name}}}}}
        spec:
          imageRepositoryRef: {{name: {name}}}
          policy: {{semver: {{range: '>=1.0.0'}}}}
        ---
        apiVersion: image.toolkit.fluxcd.io/v1
        kind: ImageUpdateAutomation
        metadata: {{name: {name}, namespace: flux-system}}
        spec:
          interval: 1h
          sourceRef: {{kind: GitRepository, name: {name}}}
          policySelector: {{matchLabels: {{app: {name}}}}}
          git:
            commit:
              author: {{name: ferry, email: bot@example.invalid}}
          update: {{path: ./deploy, strategy: Setters}}
        """)


def remote(work, name, image):
    src = os.path.join(work, "src-" + name, "deploy")
    os.makedirs(src)
    with open(os.path.join(src, "app.yaml"), "w") as f:
        f.write(f"image: {image}:1.0.0 # {{\"$imagepolicy\": "
                f"\"flux-system:{name}\"}}\n")
    bare = os.path.join(work, name + ".git")
    testbed.git_init(bare, files=os.path.dirname(src), branch="main")
    return bare


class Stalled(unittest.TestCase):
    def test_a_stalled_registry_holds_up_only_what_reads_it(self):
        staller = Staller()
        try:
            work = tempfile.mkdtemp(dir=TMP, prefix="stalled-")
            testbed.push_image(REGISTRY, "team/healthy", ["1.0.0", "1.1.0"])
            good = f"{REGISTRY}/team/healthy"
            bad = f"{staller.addr}/team/stalled"
            good_git = remote(work, "healthy", good)
            bad_git = remote(work, "stalled", bad)
            cfg = os.path.join(work, "flux.yaml")
            with open(cfg, "w") as f:
                # the stalled one comes first, so a pass that waited for
                # every scan would stall before the healthy push
                f.write(objects("stalled", bad, "file://" + bad_git,
                                ", timeout: 3s"))
                f.write(objects("healthy", good, "file://" + good_git))
            t0 = time.monotonic()
            out = subprocess.run([FERRY, "run", "--once", "-f", cfg,
                                  "--state-dir", os.path.join(work, "st")],
                                 capture_output=True, text=True, timeout=120)
            took = time.monotonic() - t0
            self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
            self.assertIn("ImageUpdateAutomation flux-system/healthy: "
                          "pushed", out.stdout)
            self.assertIn("ImageRepository flux-system/stalled: scan "
                          "failed", out.stdout)
            self.assertIn("timeout", out.stdout)
            # The deadline is the spec's 3s, not 5 x 30 s.
            self.assertLess(took, 30, out.stderr)
            # The push did not wait for the stalled scan to give up.
            log = out.stderr
            pushed = log.index("event=pushed object=healthy")
            failed = log.index("event=scan_failed object=stalled")
            self.assertLess(pushed, failed, log)
        finally:
            staller.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
