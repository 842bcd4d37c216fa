"""git http-backend behind nginx: anonymous fetch, authenticated push."""

import os
import unittest
import urllib.parse

from common import git, git_env, main, need, testbed


class GitOverHttp(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.base = need("FERRY_TEST_GIT_HTTP")
        cls.root = need("FERRY_TEST_GIT_HTTP_ROOT")
        cls.tmp = need("FERRY_TEST_TMP")
        cls.user = need("FERRY_TEST_GIT_HTTP_USER")
        cls.password = need("FERRY_TEST_GIT_HTTP_PASSWORD")

    def setUp(self):
        self.name = self.id().rsplit(".", 1)[1]
        self.bare = os.path.join(self.root, f"{self.name}.git")
        testbed.git_init(self.bare)
        self.url = f"{self.base}/{self.name}.git"
        self.work = os.path.join(self.tmp, f"http-{self.name}")

    def url_with(self, user, password):
        u = urllib.parse.urlsplit(self.url)
        return u._replace(netloc=f"{user}:{password}@{u.netloc}").geturl()

    def commit(self):
        with open(os.path.join(self.work, "change.txt"), "a") as f:
            f.write("one more line\n")
        git("-C", self.work, "add", "change.txt")
        git("-C", self.work, "commit", "-q", "-m", "change")

    def test_anonymous_clone_works(self):
        git("clone", "-q", self.url, self.work)
        self.assertTrue(os.path.exists(os.path.join(self.work, "README.md")))

    def test_anonymous_push_is_refused(self):
        git("clone", "-q", self.url, self.work)
        self.commit()
        r = git("-C", self.work, "push", "origin", "main", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertEqual(git("--git-dir", self.bare, "rev-list", "--count",
                             "main").stdout.strip(), "1")

    def test_push_with_a_wrong_password_is_refused(self):
        git("clone", "-q", self.url, self.work)
        self.commit()
        r = git("-C", self.work, "push", self.url_with(self.user, "wrong"),
                "main", check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Authentication failed", r.stderr)

    def test_push_with_the_user_and_password_works(self):
        git("clone", "-q", self.url, self.work)
        self.commit()
        helper = (f"!f() {{ echo username={self.user}; "
                  f"echo password={self.password}; }}; f")
        git("-C", self.work, "-c", f"credential.helper={helper}", "push",
            "-q", "origin", "main", env=git_env())
        self.assertEqual(git("--git-dir", self.bare, "rev-parse",
                             "main").stdout,
                         git("-C", self.work, "rev-parse", "HEAD").stdout)


if __name__ == "__main__":
    main()
