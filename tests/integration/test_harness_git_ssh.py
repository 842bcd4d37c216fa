"""git over a private sshd as user git, with the harness's client key."""

import os
import pwd
import subprocess
import unittest

from common import git, git_env, main, need, testbed


class GitOverSsh(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.url = need("FERRY_TEST_SSH_URL")
        cls.root = need("FERRY_TEST_SSH_ROOT")
        cls.tmp = need("FERRY_TEST_TMP")
        cls.key = need("FERRY_TEST_SSH_KEY")
        cls.known = need("FERRY_TEST_SSH_KNOWN_HOSTS")

    def setUp(self):
        self.name = self.id().rsplit(".", 1)[1]
        self.bare = os.path.join(self.root, f"{self.name}.git")
        testbed.git_init(self.bare, owner="git")
        self.remote = f"{self.url}{self.bare}"
        self.work = os.path.join(self.tmp, f"ssh-{self.name}")

    def ssh_env(self, key):
        cmd = (f"ssh -F /dev/null -i {key} -o IdentitiesOnly=yes "
               f"-o UserKnownHostsFile={self.known} -o BatchMode=yes")
        return git_env(GIT_SSH_COMMAND=cmd)

    def test_known_hosts_names_the_port_and_the_host_key(self):
        with open(self.known) as f:
            host, keytype, key = f.read().split()
        self.assertEqual(host, f"[127.0.0.1]:{need('FERRY_TEST_SSH_PORT')}")
        with open(need("FERRY_TEST_SSH_HOST_KEY_PUB")) as f:
            self.assertEqual(f.read().split()[:2], [keytype, key])
        self.assertEqual(keytype, "ssh-ed25519")

    def test_repositories_belong_to_the_git_user(self):
        st = os.stat(os.path.join(self.bare, "HEAD"))
        self.assertEqual(st.st_uid, pwd.getpwnam("git").pw_uid)

    def test_clone_and_push_with_the_client_key(self):
        env = self.ssh_env(self.key)
        git("clone", "-q", self.remote, self.work, env=env)
        with open(os.path.join(self.work, "change.txt"), "w") as f:
            f.write("over ssh\n")
        git("-C", self.work, "add", "change.txt")
        git("-C", self.work, "commit", "-q", "-m", "over ssh")
        git("-C", self.work, "push", "-q", "origin", "main", env=env)
        head = git("-C", self.work, "rev-parse", "HEAD").stdout.strip()
        r = git("ls-remote", self.remote, "refs/heads/main", env=env)
        self.assertEqual(r.stdout.split()[0], head)

    def test_the_exported_git_ssh_command_works(self):
        env = git_env(GIT_SSH_COMMAND=need("FERRY_TEST_GIT_SSH_COMMAND"))
        r = git("ls-remote", self.remote, env=env)
        self.assertIn("refs/heads/main", r.stdout)

    def test_a_wrong_key_is_refused(self):
        other = os.path.join(self.tmp, f"{self.name}-key")
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        other], check=True)
        r = git("clone", "-q", self.remote, self.work,
                env=self.ssh_env(other), check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Permission denied (publickey)", r.stderr)

    def test_an_unknown_host_key_is_refused(self):
        empty = os.path.join(self.tmp, f"{self.name}-known")
        open(empty, "w").close()
        cmd = (f"ssh -F /dev/null -i {self.key} -o IdentitiesOnly=yes "
               f"-o UserKnownHostsFile={empty} -o BatchMode=yes "
               "-o StrictHostKeyChecking=yes")
        r = git("ls-remote", self.remote, env=git_env(GIT_SSH_COMMAND=cmd),
                check=False)
        self.assertNotEqual(r.returncode, 0)
        self.assertIn("Host key verification failed", r.stderr)


if __name__ == "__main__":
    main()
