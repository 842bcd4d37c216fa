#!/usr/bin/python3
"""The README's first command, scripts/quickstart, end to end: both
variants (Flux's objects with the built-in reconciler, and Argo CD's)
run against a real registry and a bare Git repository and end with a
second pass that changes nothing.

The script is run as a newcomer runs it, with three test settings: the
ferry under test (so nothing is installed or built), a directory of the
test's own and a free port for its registry."""

import os
import shutil
import subprocess
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
TOP = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, os.path.join(TOP, "tests", "harness"))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]


def quickstart(*args):
    work = tempfile.mkdtemp(prefix="quickstart-", dir="/dev/shm")
    env = dict(os.environ, FERRY_QUICKSTART_FERRY=FERRY,
               FERRY_QUICKSTART_DIR=os.path.join(work, "q"),
               FERRY_QUICKSTART_PORT=str(testbed.free_port()))
    try:
        r = subprocess.run(["sh", os.path.join(TOP, "scripts", "quickstart"),
                            *args], capture_output=True, text=True, env=env,
                           timeout=600)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    if r.returncode != 0:
        raise AssertionError(f"scripts/quickstart {' '.join(args)}: "
                             f"{r.returncode}\n{r.stdout}{r.stderr}")
    return r.stdout


class Quickstart(unittest.TestCase):
    def test_the_flux_example_ends_with_the_rendered_new_image(self):
        out = quickstart()
        self.assertIn("ImagePolicy flux-system/podinfo: ", out)
        rendered = out.split("the rendered manifests ferry synced")[1]
        self.assertRegex(rendered, r"image: 127\.0\.0\.1:\d+/demo/podinfo:"
                                   r"v1\.2\.0")
        last = out.split("ferry run --once again")[1]
        self.assertIn("ImageUpdateAutomation flux-system/app-config: "
                      "no change", last)
        self.assertIn("Kustomization flux-system/podinfo-prod: up to date",
                      last)
        self.assertIn("Done.", last)

    def test_the_argocd_example_commits_once_per_application(self):
        out = quickstart("argocd")
        commits = out.split("the commits ferry pushed")[1]
        self.assertEqual(commits.count("\ncommit "), 2)
        self.assertIn(".argocd-source-podinfo.yaml", commits)
        self.assertNotIn("rendered manifests", out)
        last = out.split("ferry run --once again")[1]
        self.assertIn("Application argocd/podinfo: no change", last)
        self.assertIn("Application argocd/podinfo-helm: no change", last)
        self.assertIn("Done.", last)


if __name__ == "__main__":
    unittest.main(verbosity=2)
