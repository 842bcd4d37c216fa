#!/usr/bin/python3
"""End to end: `ferry plan` and `ferry run --once` never read or write a
file outside the clone, whatever the repository holds (a symlinked
directory, a chain of links, an update.path with '..'), for every update
strategy; a link that stays inside the repository is followed and its
target committed.  Against the real registry and a real bare repository,
through the test harness (run with --registry noauth).

Each fixture puts, beside the clone's state directory, a directory
`outside` holding a marked Deployment and a kustomization, both with a
private line: before the fix, plan printed them and run rewrote them.
"""
import os
import unittest

from test_run import DEPLOYMENT, FERRY, Fixture, git, sh

# From a link at STATE/git/<clone>/deploy/linkdir, four levels up is the
# fixture's directory, where `outside` is.
CLIMB_OUT = "../../../../outside"

KUSTOMIZATION = (
    "apiVersion: kustomize.config.k8s.io/v1beta1\n"
    "kind: Kustomization\n"
    "resources:\n  - deployment.yaml\n"
    "images:\n  - name: app\n    newName: {image}\n    newTag: 1.0.0\n")

DEPLOYMENT_PLAIN = (
    "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n"
    "spec:\n  template:\n    spec:\n      containers:\n"
    "        - name: app\n          image: app\n")

PRIVATE = "    # private line: must never leave this directory\n"


class PathFixture(Fixture):
    """A Fixture whose repository also holds symlinks, and an `outside`
    directory a link may try to reach."""

    def __init__(self, strategy, path, links):
        if strategy == "Kustomization":
            files = {"deploy/kustomization.yaml": KUSTOMIZATION,
                     "deploy/deployment.yaml": DEPLOYMENT_PLAIN}
        else:
            files = {"deploy/app.yaml": DEPLOYMENT}
        Fixture.__init__(self, strategy=strategy, files=files)
        self.outside = os.path.join(self.dir, "outside")
        os.makedirs(self.outside)
        # the private line sits next to the value an editor would change,
        # so a diff of the file would show it
        self.outside_files = {
            "app.yaml": DEPLOYMENT.format(image=self.image).replace(
                "        - name: app\n", "        - name: app\n" + PRIVATE),
            "kustomization.yaml": KUSTOMIZATION.format(
                image=self.image).replace("    newTag", PRIVATE + "    newTag"),
        }
        for name, text in self.outside_files.items():
            with open(os.path.join(self.outside, name), "w") as f:
                f.write(text)
        work = os.path.join(self.dir, "links")
        git("clone", "-q", self.bare, work)
        for rel, target in links.items():
            p = os.path.join(work, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            os.symlink(target.replace("@OUTSIDE@", self.outside), p)
        git("-C", work, "add", "-A")
        git("-C", work, "-c", "user.name=o", "-c", "user.email=o@x",
            "commit", "-qm", "links")
        git("-C", work, "push", "-q", "origin", "main")
        with open(self.config) as f:
            cfg = f.read()
        with open(self.config, "w") as f:
            f.write(cfg.replace("    path: ./deploy\n", "    path: %s\n"
                                % path.replace("@OUTSIDE@", self.outside)))

    def assert_outside_untouched(self, test, out):
        text = out.stdout + out.stderr
        test.assertNotIn("private line", text)
        for name, want in self.outside_files.items():
            with open(os.path.join(self.outside, name)) as f:
                test.assertEqual(f.read(), want, name)
        test.assertEqual(sorted(os.listdir(self.outside)),
                         sorted(self.outside_files))
        test.assertEqual(self.log(), ["links", "Initial commit"])


# Each case: (name, update.path, links, exit status, words in the output)
CASES = [
    ("a_symlinked_directory", "./deploy/linkdir",
     {"deploy/linkdir": CLIMB_OUT}, 1, ["outside the root"]),
    ("an_absolute_symlinked_directory", "./deploy/abslink",
     {"deploy/abslink": "@OUTSIDE@"}, 1, ["outside the root"]),
    ("a_nested_symlink", "./nested/inner/linkdir",
     {"deploy/linkdir": CLIMB_OUT, "nested/inner": "../deploy"}, 1,
     ["outside the root"]),
    ("dotdot_in_update_path", "../../../outside", {"deploy/x": "app.yaml"},
     2, ["spec.update.path", "must not contain '..'"]),
    ("an_absolute_update_path", "@OUTSIDE@", {"deploy/x": "app.yaml"},
     2, ["spec.update.path", "must be relative"]),
]


def make_test(strategy, cmd, path, links, status, words):
    def test(self):
        fx = PathFixture(strategy, path, links)
        out = fx.run(cmd=cmd)
        fx.assert_outside_untouched(self, out)
        self.assertEqual(out.returncode, status, out.stdout + out.stderr)
        for w in words:
            self.assertIn(w, out.stdout + out.stderr)
    return test


class NothingOutsideTheClone(unittest.TestCase):
    def test_a_link_inside_the_repository_is_followed_and_its_target_committed(
            self):
        fx = PathFixture("Kustomization", "./prod", {"prod": "deploy"})
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(fx.log()[0], "chore(image): update images")
        changed = git("--git-dir", fx.bare, "diff", "--name-only",
                      "main~1", "main")
        self.assertEqual(changed, "deploy/kustomization.yaml")
        self.assertIn("    newTag: 1.1.0\n",
                      fx.file("deploy/kustomization.yaml") + "\n")
        # the link is still a link
        self.assertEqual(git("--git-dir", fx.bare, "ls-tree", "main", "prod")
                         .split()[0], "120000")

    def test_setters_skip_a_linked_file_leading_outside_and_edit_the_rest(
            self):
        fx = PathFixture("Setters", "./deploy",
                         {"deploy/other.yaml": CLIMB_OUT + "/app.yaml",
                          "deploy/sub/linkdir": CLIMB_OUT})
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("symlink_skipped", out.stderr)
        self.assertNotIn("private line", out.stdout + out.stderr)
        changed = git("--git-dir", fx.bare, "diff", "--name-only",
                      "main~1", "main")
        self.assertEqual(changed, "deploy/app.yaml")
        for name, want in fx.outside_files.items():
            with open(os.path.join(fx.outside, name)) as f:
                self.assertEqual(f.read(), want, name)

    def test_validate_names_the_update_path_with_file_line_and_column(self):
        fx = PathFixture("Setters", "../../../x", {"deploy/x": "app.yaml"})
        out = sh(FERRY, "validate", "-f", fx.config, check=False)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        line = [l for l in (out.stdout + out.stderr).splitlines()
                if "spec.update.path" in l][0]
        # path:line:col: object: field: message
        where = line.split(": ")[0].split(":")
        self.assertEqual(where[0], fx.config)
        with open(fx.config) as f:
            lines = f.read().splitlines()
        row, col = int(where[1]), int(where[2])
        self.assertEqual(lines[row - 1][col - 1:], "../../../x")
        self.assertIn("must not contain '..'", line)


for _strategy in ("Setters", "Kustomization"):
    for _cmd in ("plan", "run"):
        for _name, _path, _links, _status, _words in CASES:
            setattr(NothingOutsideTheClone,
                    "test_%s_%s_with_%s_touches_nothing_outside" % (
                        _cmd, _strategy.lower(), _name),
                    make_test(_strategy, _cmd, _path, _links, _status,
                              _words))


if __name__ == "__main__":
    unittest.main(verbosity=2)
