"""git-init: a bare repository used over file:// with the git CLI."""

import os
import sys
import unittest

from common import HARNESS, git, main, need, run


class BareRepoOverFile(unittest.TestCase):
    def setUp(self):
        self.tmp = need("FERRY_TEST_TMP")
        self.id = self.id().rsplit(".", 1)[1]

    def test_git_init_commits_the_files_on_the_branch(self):
        src = os.path.join(self.tmp, f"{self.id}-src")
        os.makedirs(os.path.join(src, "apps", "web"))
        with open(os.path.join(src, "apps", "web", "values.yaml"), "w") as f:
            f.write("image: 127.0.0.1:5000/team/app:1.0.0\n")
        bare = os.path.join(self.tmp, f"{self.id}.git")
        run([sys.executable, HARNESS, "git-init", "--bare", bare, "--files",
             src, "--branch", "release"])
        self.assertEqual(git("--git-dir", bare, "ls-tree", "-r",
                             "--name-only", "release").stdout.split(),
                         ["apps/web/values.yaml"])
        self.assertEqual(git("--git-dir", bare, "symbolic-ref", "HEAD")
                         .stdout.strip(), "refs/heads/release")

    def test_clone_commit_and_push_over_file_url(self):
        bare = os.path.join(self.tmp, f"{self.id}.git")
        run([sys.executable, HARNESS, "git-init", "--bare", bare])
        work = os.path.join(self.tmp, f"{self.id}-work")
        git("clone", "-q", f"file://{bare}", work)
        self.assertTrue(os.path.exists(os.path.join(work, "README.md")))
        with open(os.path.join(work, "new.txt"), "w") as f:
            f.write("x\n")
        git("-C", work, "add", "new.txt")
        git("-C", work, "commit", "-q", "-m", "add new.txt")
        git("-C", work, "push", "-q", "origin", "main")
        self.assertEqual(git("--git-dir", bare, "rev-parse", "main").stdout,
                         git("-C", work, "rev-parse", "HEAD").stdout)
        self.assertEqual(git("--git-dir", bare, "rev-list", "--count",
                             "main").stdout.strip(), "2")

    def test_deny_non_ff_refuses_a_rewritten_history(self):
        bare = os.path.join(self.tmp, f"{self.id}.git")
        run([sys.executable, HARNESS, "git-init", "--bare", bare,
             "--deny-non-ff"])
        work = os.path.join(self.tmp, f"{self.id}-work")
        git("clone", "-q", f"file://{bare}", work)
        git("-C", work, "commit", "-q", "--amend", "-m", "rewritten")
        r = git("-C", work, "push", "-q", "--force", "origin", "main",
                check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("non-fast-forward", r.stderr)


if __name__ == "__main__":
    main()
