#!/usr/bin/python3
"""The .argocd-source files ferry writes, read back by a YAML parser into
the structures Argo CD Image Updater's own tests expect for the same inputs
(pkg/argocd/update_test.go: Test_MarshalParamsOverride, the "Good commit to
... override" cases of Test_CommitUpdates).

Each case gives the file as it was, the values Argo CD Image Updater would
merge in (its appSource images and the managed Helm parameters after
SetKustomizeImage / SetHelmImage), and the structure its test asserts.
ferry edits byte for byte where Argo CD re-marshals: the parsed structures
must be equal, and what ferry leaves alone must keep its bytes.

Usage: test_argocd_shape.py PATH/TO/argocd_source_tool
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

import yaml

TOOL = sys.argv.pop(1)
TMP = os.environ.get("FERRY_TEST_TMP") or (
    "/dev/shm" if os.access("/dev/shm", os.W_OK) else None)


def run(root, mode, values, name=".argocd-source-testapp.yaml"):
    res = subprocess.run([TOOL, root, name, mode] + list(values),
                         capture_output=True, text=True)
    if res.returncode != 0:
        raise AssertionError("tool failed: %s" % res.stderr)
    return res.stdout


class Shape(unittest.TestCase):
    def setUp(self):
        self.root = tempfile.mkdtemp(dir=TMP, prefix="ferry-argocd-shape-")

    def tearDown(self):
        shutil.rmtree(self.root, ignore_errors=True)

    def path(self, name=".argocd-source-testapp.yaml"):
        return os.path.join(self.root, name)

    def given(self, text, name=".argocd-source-testapp.yaml"):
        with open(self.path(name), "w") as f:
            f.write(text)

    def parsed(self, name=".argocd-source-testapp.yaml"):
        with open(self.path(name)) as f:
            return yaml.safe_load(f)

    def text(self, name=".argocd-source-testapp.yaml"):
        with open(self.path(name)) as f:
            return f.read()

    # ---- kustomize ----

    def test_valid_kustomize_source(self):
        # Test_MarshalParamsOverride "Valid Kustomize source"
        self.given("\nkustomize:\n  images:\n  - baz\n")
        run(self.root, "kustomize", ["foo", "bar"])
        self.assertEqual(self.parsed(),
                         {"kustomize": {"images": ["baz", "foo", "bar"]}})

    def test_merge_images_param(self):
        # "Merge images param"
        self.given("\nkustomize:\n  images:\n  - existing:latest\n"
                   "  - updated:old\n")
        run(self.root, "kustomize", ["new", "updated:latest"])
        self.assertEqual(self.parsed(), {"kustomize": {"images": [
            "existing:latest", "updated:latest", "new"]}})

    def test_docker_io_explicit_and_implicit_are_one_image(self):
        # "GitHub issue #1411 - should not create duplicates with
        # docker.io explicit vs implicit"
        self.given("\nkustomize:\n  images:\n"
                   "  - docker.io/jannfis/foobar:1.0.0\n")
        run(self.root, "kustomize", ["jannfis/foobar:1.0.1"])
        self.assertEqual(self.parsed(),
                         {"kustomize": {"images": ["jannfis/foobar:1.0.1"]}})

    def test_update_cycles_do_not_accumulate_duplicates(self):
        # "GitHub issue #1411 - multiple update cycles should not
        # accumulate duplicates"
        self.given("\nkustomize:\n  images:\n"
                   "  - docker.io/jannfis/foobar:1.0.0\n")
        for _ in range(3):
            run(self.root, "kustomize", ["jannfis/foobar:1.0.1"])
        self.assertEqual(self.parsed(),
                         {"kustomize": {"images": ["jannfis/foobar:1.0.1"]}})

    def test_a_new_kustomize_file(self):
        # What marshalParamsOverride writes with no original data, for an
        # app whose kustomize images the updater set (alias and digest
        # as SetKustomizeImage writes them)
        run(self.root, "kustomize", [
            "nginx=registry.example.com/nginx:1.25.3",
            "app:v2@sha256:" + "a" * 64])
        self.assertEqual(self.parsed(), {"kustomize": {"images": [
            "nginx=registry.example.com/nginx:1.25.3",
            "app:v2@sha256:" + "a" * 64]}})
        # yaml.v3 with indent 2 and compact sequences
        self.assertTrue(self.text().startswith(
            "kustomize:\n  images:\n  - nginx="))

    # ---- helm ----

    def test_only_managed_helm_parameters_are_committed(self):
        # "GitHub issue #1174 - only image-managed Helm parameters are
        # committed"
        run(self.root, "helm", ["image.name=nginx", "image.tag=1.2.3"])
        self.assertEqual(self.parsed(), {"helm": {"parameters": [
            {"name": "image.name", "value": "nginx", "forcestring": True},
            {"name": "image.tag", "value": "1.2.3", "forcestring": True},
        ]}})

    def test_good_commit_to_helm_override(self):
        # Test_CommitUpdates "Good commit to helm override": an image with
        # helm.image-name bar and helm.image-tag baz, the file holding foo
        self.given("\nhelm:\n  parameters:\n  - name: foo\n    value: foo\n"
                   "    forcestring: true\n")
        run(self.root, "helm", ["bar=bar", "baz=baz"])
        self.assertEqual(self.parsed(), {"helm": {"parameters": [
            {"name": "bar", "value": "bar", "forcestring": True},
            {"name": "baz", "value": "baz", "forcestring": True},
            {"name": "foo", "value": "foo", "forcestring": True},
        ]}})

    def test_valid_helm_source(self):
        # "Valid Helm source": what the file holds stays; an updated image
        # replaces its parameters and marks them forcestring
        self.given("\nhelm:\n  parameters:\n  - name: baz\n    value: baz\n"
                   "    forcestring: false\n")
        run(self.root, "helm", ["image.name=nginx", "image.tag=v1.0.0"])
        self.assertEqual(self.parsed(), {"helm": {"parameters": [
            {"name": "baz", "value": "baz", "forcestring": False},
            {"name": "image.name", "value": "nginx", "forcestring": True},
            {"name": "image.tag", "value": "v1.0.0", "forcestring": True},
        ]}})

    def test_a_helm_parameter_is_replaced_in_place(self):
        # mergeHelmOverride replaces the whole parameter of that name
        self.given("helm:\n  parameters:\n  - name: image.tag\n"
                   "    value: 1.0.0\n    forcestring: false\n")
        run(self.root, "helm", ["image.tag=1.10"])
        self.assertEqual(self.parsed(), {"helm": {"parameters": [
            {"name": "image.tag", "value": "1.10", "forcestring": True}]}})

    def test_digest_values_are_strings(self):
        # the digest strategy's tag@sha256 value for image-tag
        run(self.root, "helm", ["image.tag=v1@sha256:" + "b" * 64])
        self.assertEqual(self.parsed()["helm"]["parameters"][0]["value"],
                         "v1@sha256:" + "b" * 64)

    # ---- what ferry keeps that Argo CD re-marshals ----

    def test_comments_and_other_keys_keep_their_bytes(self):
        original = ("# written by hand\n"
                    "kustomize:\n"
                    "  images:\n"
                    "    - org/web:1.0   # the web tier\n"
                    "\n"
                    "    - org/api:2.0\n"
                    "plugin:\n"
                    "  env: []\n")
        self.given(original)
        run(self.root, "kustomize", ["org/web:1.1"])
        self.assertEqual(self.text(),
                         original.replace("org/web:1.0", "org/web:1.1"))

    def test_nothing_is_written_when_nothing_changes(self):
        self.given("kustomize:\n  images:\n  - org/web:1.0\n")
        before = os.stat(self.path()).st_mtime_ns
        out = run(self.root, "kustomize", ["org/web:1.0"])
        self.assertEqual(out, "")
        self.assertEqual(os.stat(self.path()).st_mtime_ns, before)


if __name__ == "__main__":
    unittest.main(verbosity=2)
