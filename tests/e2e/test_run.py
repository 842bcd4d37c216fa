#!/usr/bin/python3
"""End to end: `ferry run --once` and `ferry plan` against the real registry
(Debian's docker-registry) and real Git (bare repos over file://, git
http-backend behind nginx with basic auth, sshd on loopback).

Run under tests/harness/testbed.py with --registry noauth --git-http --sshd.
"""
import os
import shutil
import subprocess
import tempfile
import textwrap
import unittest

FERRY = os.environ["FERRY"]
HARNESS = os.environ["FERRY_TEST_HARNESS"]
TMP = os.environ["FERRY_TEST_TMP"]
REGISTRY = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]
SECRET_PW = os.environ.get("FERRY_TEST_GIT_HTTP_PASSWORD", "")

# The seed's commit message template, as Flux users write it.
SEED_TEMPLATE = """chore(image): update images
Automated image update:
{{range .Changed.Changes}}
- {{.OldValue}} -> {{.NewValue}}
{{end}}
"""

DEPLOYMENT = """\
---
# the app
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
  namespace: prod
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:1.0.0 # {{"$imagepolicy": "flux-system:app"}}

          # keep this comment and the blank line above
          ports: [ {{containerPort: 8080}} ]
"""


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True, **kw)


def read(path):
    with open(path) as f:
        return f.read()


def git(*args, **kw):
    return sh("git", "-c", "safe.directory=*", *args, **kw).stdout.strip()


def push_tags(repo, *tags):
    """Pushes tags; returns {tag: digest}."""
    out = sh("/usr/bin/python3", HARNESS, "push-image", "--registry", REGISTRY,
             "--distinct", repo, *tags).stdout
    return {l.split("\t")[0]: l.split("\t")[1] for l in out.splitlines() if "\t" in l}


def indent(s, n):
    return textwrap.indent(s, " " * n)


class Fixture:
    """A bare repo with a marked Deployment, a registry repo with tags,
    and the Flux objects that tie them together."""

    counter = 0

    def __init__(self, transport="file", template=SEED_TEMPLATE,
                 strategy="Setters", extra_spec="", secret=None,
                 files=None, push_branch=None, signing=None, policy_extra=""):
        Fixture.counter += 1
        self.name = "app%d" % Fixture.counter
        self.dir = tempfile.mkdtemp(dir=TMP, prefix=self.name + "-")
        self.image = "%s/team/%s" % (REGISTRY, self.name)
        self.pushed = push_tags("team/" + self.name, "1.0.0", "1.1.0",
                                "2.0.0-rc.1", "latest")
        src = os.path.join(self.dir, "src")
        os.makedirs(os.path.join(src, "deploy"))
        for rel, content in (files or {"deploy/app.yaml": DEPLOYMENT}).items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(content.format(image=self.image))
        if transport == "file":
            self.bare = os.path.join(self.dir, "remote.git")
            self.url = "file://" + self.bare
            owner = None
        elif transport == "http":
            self.bare = os.path.join(os.environ["FERRY_TEST_GIT_HTTP_ROOT"],
                                     self.name + ".git")
            self.url = "%s/%s.git" % (os.environ["FERRY_TEST_GIT_HTTP"], self.name)
            owner = None
        else:
            self.bare = os.path.join(os.environ["FERRY_TEST_SSH_ROOT"],
                                     self.name + ".git")
            self.url = "%s%s" % (os.environ["FERRY_TEST_SSH_URL"], self.bare)
            owner = "git"
        cmd = ["/usr/bin/python3", HARNESS, "git-init", "--bare", self.bare,
               "--files", src, "--branch", "main"]
        if owner:
            cmd += ["--owner", owner]
        sh(*cmd)
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "flux.yaml")
        secret_ref = ""
        docs = []
        if secret:
            secret_ref = "  secretRef:\n    name: git-auth\n"
            docs.append("apiVersion: v1\nkind: Secret\nmetadata:\n"
                        "  name: git-auth\n  namespace: flux-system\n"
                        "stringData:\n" + indent(secret, 2))
        push = "    push:\n      branch: %s\n" % push_branch if push_branch else ""
        sign = ""
        if signing:
            sign = ("      signingKey:\n        type: %s\n"
                    "        secretRef:\n          name: signing\n" % signing[0])
            docs.append("apiVersion: v1\nkind: Secret\nmetadata:\n"
                        "  name: signing\n  namespace: flux-system\n"
                        "stringData:\n" + indent(signing[1], 2))
        docs.append(textwrap.dedent("""\
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata:
              name: repo
              namespace: flux-system
            spec:
              interval: 1m
              url: {url}
              ref:
                branch: main
            """).format(url=self.url) + secret_ref)
        docs.append(textwrap.dedent("""\
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageRepository
            metadata:
              name: app
              namespace: flux-system
            spec:
              image: {image}
              interval: 5m
              insecure: true
            """).format(image=self.image))
        docs.append(textwrap.dedent("""\
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImagePolicy
            metadata:
              name: app
              namespace: flux-system
            spec:
              imageRepositoryRef:
                name: app
              policy:
                semver:
                  range: ">=1.0.0"
            """) + policy_extra)
        docs.append(textwrap.dedent("""\
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageUpdateAutomation
            metadata:
              name: auto
              namespace: flux-system
            spec:
              interval: 5m
              sourceRef:
                kind: GitRepository
                name: repo
              git:
                commit:
                  author:
                    name: ferry-bot
                    email: bot@example.invalid
            """) + sign + "      messageTemplate: |\n" + indent(template, 8)
            + push + "  update:\n    path: ./deploy\n    strategy: %s\n"
            % strategy + extra_spec)
        with open(self.config, "w") as f:
            f.write("\n---\n".join(docs))

    def run(self, *extra, cmd="run"):
        args = [FERRY, cmd] + (["--once"] if cmd == "run" else []) + [
            "-f", self.config, "--state-dir", self.state] + list(extra)
        env = dict(os.environ)
        if "FERRY_TEST_SSH_KNOWN_HOSTS" in env:
            env["HOME"] = self.dir  # no ~/.ssh/known_hosts to fall back on
        return subprocess.run(args, capture_output=True, text=True, env=env)

    def log(self, rev="main"):
        """First line of each commit message, newest first."""
        out = git("--git-dir", self.bare, "log", "--format=%B%x1e", rev)
        return [m.strip("\n").split("\n")[0] for m in out.split("\x1e")
                if m.strip("\n")]

    def show(self, fmt, rev="main"):
        return git("--git-dir", self.bare, "log", "-1", "--format=" + fmt, rev)

    def file(self, path, rev="main"):
        return git("--git-dir", self.bare, "show", "%s:%s" % (rev, path))


class RunOnce(unittest.TestCase):
    def assert_one_update_commit(self, fx, out):
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("ImageUpdateAutomation flux-system/auto: pushed", out.stdout)
        self.assertEqual(fx.log(), ["chore(image): update images", "Initial commit"])
        diff = git("--git-dir", fx.bare, "diff", "main~1", "main")
        changed = [l for l in diff.splitlines()
                   if l.startswith(("+", "-")) and not l.startswith(("+++", "---"))]
        self.assertEqual(changed, [
            '-          image: %s:1.0.0 # {"$imagepolicy": "flux-system:app"}' % fx.image,
            '+          image: %s:1.1.0 # {"$imagepolicy": "flux-system:app"}' % fx.image,
        ])

    def test_new_tag_leads_to_exactly_one_commit_with_the_seed_template(self):
        fx = Fixture()
        out = fx.run()
        self.assert_one_update_commit(fx, out)
        raw = sh("git", "-c", "safe.directory=*", "--git-dir", fx.bare,
                 "cat-file", "commit", "main").stdout
        message = raw.split("\n\n", 1)[1]
        self.assertEqual(message, "chore(image): update images\n"
                         "Automated image update:\n\n- %s:1.0.0 -> %s:1.1.0\n\n"
                         % (fx.image, fx.image))
        self.assertEqual(fx.show("%an <%ae>"), "ferry-bot <bot@example.invalid>")

    def test_second_run_with_nothing_new_changes_nothing(self):
        fx = Fixture()
        self.assertEqual(fx.run().returncode, 0)
        head = fx.show("%H")
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("ImageUpdateAutomation flux-system/auto: no change", out.stdout)
        self.assertEqual(fx.show("%H"), head)

    def test_a_revert_by_someone_else_is_updated_again(self):
        # The next run must not be skipped when the remote head moved.
        fx = Fixture()
        self.assertEqual(fx.run().returncode, 0)
        work = os.path.join(fx.dir, "other")
        git("clone", "-q", fx.bare, work)
        path = os.path.join(work, "deploy", "app.yaml")
        with open(path) as f:
            text = f.read()
        with open(path, "w") as f:
            f.write(text.replace(":1.1.0 ", ":1.0.0 "))
        git("-C", work, "-c", "user.name=o", "-c", "user.email=o@x",
            "commit", "-qam", "revert")
        git("-C", work, "push", "-q", "origin", "main")
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("pushed", out.stdout)
        self.assertEqual(fx.log()[:2], ["chore(image): update images", "revert"])

    def test_reflected_digest_is_written_with_the_tag(self):
        fx = Fixture(policy_extra="  digestReflectionPolicy: Always\n"
                     "  interval: 5m\n")
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("image: %s:1.1.0@%s # " % (fx.image, fx.pushed["1.1.0"]),
                      fx.file("deploy/app.yaml"))

    def test_checkout_by_semver_range_starts_from_the_highest_tag(self):
        fx = Fixture(push_branch="image-updates")
        git("--git-dir", fx.bare, "tag", "v1.0.0", "main")
        git("--git-dir", fx.bare, "tag", "v0.9.0", "main")
        with open(fx.config) as f:
            cfg = f.read().replace("    branch: main\n", "    semver: \">=1.0.0\"\n", 1)
        with open(fx.config, "w") as f:
            f.write(cfg)
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(fx.log("image-updates"),
                         ["chore(image): update images", "Initial commit"])
        self.assertEqual(fx.log("main"), ["Initial commit"])

    def test_a_newer_tag_later_makes_one_more_commit(self):
        fx = Fixture()
        self.assertEqual(fx.run().returncode, 0)
        push_tags("team/" + fx.name, "1.2.0")
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("(was %s:1.1.0)" % fx.image, out.stdout)
        self.assertEqual(len(fx.log()), 3)
        self.assertIn("%s:1.2.0" % fx.image, fx.file("deploy/app.yaml"))

    def test_everything_but_the_marked_value_is_kept_byte_for_byte(self):
        fx = Fixture()
        self.assertEqual(fx.run().returncode, 0)
        want = DEPLOYMENT.format(image=fx.image).replace(
            "%s:1.0.0" % fx.image, "%s:1.1.0" % fx.image)
        self.assertEqual(fx.file("deploy/app.yaml") + "\n", want)

    def test_http_push_with_basic_auth(self):
        fx = Fixture("http", secret="username: %s\npassword: %s\n" % (
            os.environ["FERRY_TEST_GIT_HTTP_USER"], SECRET_PW))
        self.assert_one_update_commit(fx, fx.run())

    def test_ssh_push_with_identity_and_known_hosts(self):
        key = read(os.environ["FERRY_TEST_SSH_KEY"])
        known = read(os.environ["FERRY_TEST_SSH_KNOWN_HOSTS"])
        fx = Fixture("ssh", secret="identity: |\n%sknown_hosts: |\n%s" % (
            indent(key, 2), indent(known, 2)))
        self.assert_one_update_commit(fx, fx.run())

    def test_plan_shows_diff_and_message_and_pushes_nothing(self):
        fx = Fixture()
        out = fx.run(cmd="plan")
        self.assertEqual(out.returncode, 0, out.stderr)
        self.assertIn("would push 1 change to main", out.stdout)
        self.assertIn('+          image: %s:1.1.0' % fx.image, out.stdout)
        self.assertIn("- %s:1.0.0 -> %s:1.1.0" % (fx.image, fx.image), out.stdout)
        self.assertEqual(fx.log(), ["Initial commit"])

    def test_plan_json_is_machine_readable(self):
        import json
        fx = Fixture()
        out = fx.run("-o", "json", cmd="plan")
        self.assertEqual(out.returncode, 0, out.stderr)
        doc = json.loads(out.stdout)
        a = doc["imageUpdateAutomations"][0]
        self.assertEqual(a["status"], "planned")
        self.assertEqual(a["changes"][0]["new"], "%s:1.1.0" % fx.image)
        self.assertEqual(doc["imagePolicies"][0]["tag"], "1.1.0")

    def test_ssh_signed_commit_passes_verify_commit(self):
        keyfile = os.path.join(TMP, "sign-%d" % os.getpid())
        if not os.path.exists(keyfile):
            sh("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "bot", "-f", keyfile)
        key = read(keyfile)
        fx = Fixture(signing=("ssh", "identity: |\n" + indent(key, 2)))
        self.assertEqual(fx.run().returncode, 0)
        allowed = os.path.join(fx.dir, "allowed")
        with open(allowed, "w") as f:
            f.write("bot@example.invalid namespaces=\"git\" %s" % read(keyfile + ".pub"))
        ok = sh("git", "-c", "safe.directory=*", "--git-dir", fx.bare, "-c",
                "gpg.ssh.allowedSignersFile=" + allowed, "verify-commit", "main",
                check=False)
        self.assertEqual(ok.returncode, 0, ok.stderr)

    def test_kustomization_strategy_edits_images_without_markers(self):
        files = {
            "deploy/kustomization.yaml": (
                "apiVersion: kustomize.config.k8s.io/v1beta1\n"
                "kind: Kustomization\n"
                "resources:\n  - deployment.yaml\n"
                "images:\n  - name: app\n    newName: {image}\n    newTag: 1.0.0\n"),
            "deploy/deployment.yaml": (
                "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n"
                "spec:\n  selector:\n    matchLabels: {{app: app}}\n  template:\n"
                "    metadata:\n      labels: {{app: app}}\n    spec:\n"
                "      containers:\n        - name: app\n          image: app\n"),
        }
        fx = Fixture(strategy="Kustomization", files=files)
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        k = fx.file("deploy/kustomization.yaml")
        self.assertIn("    newTag: 1.1.0\n", k + "\n")
        self.assertIn("    newName: %s\n" % fx.image, k + "\n")
        if shutil.which("kubectl"):
            work = os.path.join(fx.dir, "checkout")
            git("clone", "-q", fx.bare, work)
            rendered = sh("kubectl", "kustomize", os.path.join(work, "deploy")).stdout
            self.assertIn("image: %s:1.1.0" % fx.image, rendered)

    def test_push_branch_is_created_and_not_recommitted_on_the_next_run(self):
        fx = Fixture(push_branch="image-updates")
        self.assertEqual(fx.run().returncode, 0)
        self.assertEqual(fx.log("main"), ["Initial commit"])
        self.assertEqual(fx.log("image-updates")[0], "chore(image): update images")
        head = fx.show("%H", "image-updates")
        out = fx.run()
        self.assertIn("no change", out.stdout)
        self.assertEqual(fx.show("%H", "image-updates"), head)


class Conflicts(unittest.TestCase):
    def test_a_push_between_fetch_and_push_is_retried_on_top(self):
        # Over HTTP, so that git's receive-pack (and its hooks) runs; the
        # file:// transport of libgit2 runs in-process, without hooks.
        fx = Fixture("http", secret="username: %s\npassword: %s\n" % (
            os.environ["FERRY_TEST_GIT_HTTP_USER"], SECRET_PW))
        # The first push ferry makes finds the branch moved: a pre-receive
        # hook lets another client's commit land first, once.
        hook = os.path.join(fx.bare, "hooks", "pre-receive")
        with open(hook, "w") as f:
            f.write(textwrap.dedent("""\
                #!/bin/sh
                [ -e "$GIT_DIR/raced" ] && exit 0
                touch "$GIT_DIR/raced"
                unset GIT_QUARANTINE_PATH GIT_OBJECT_DIRECTORY GIT_ALTERNATE_OBJECT_DIRECTORIES
                parent=$(git rev-parse refs/heads/main)
                tree=$(git rev-parse "$parent^{tree}")
                other=$(echo "someone else" | GIT_AUTHOR_NAME=o GIT_AUTHOR_EMAIL=o@x \\
                    GIT_COMMITTER_NAME=o GIT_COMMITTER_EMAIL=o@x \\
                    git commit-tree "$tree" -p "$parent")
                git update-ref refs/heads/main "$other" "$parent"
                exit 0
                """))
        os.chmod(hook, 0o755)
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(fx.log(), ["chore(image): update images",
                                    "someone else", "Initial commit"])


class Failures(unittest.TestCase):
    def assert_failed_cleanly(self, fx, out, words):
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("ImageUpdateAutomation flux-system/auto: failed", out.stdout)
        for w in words:
            self.assertIn(w, out.stdout)
        self.assertEqual(fx.log(), ["Initial commit"])

    def test_wrong_git_password_fails_and_the_next_good_run_works(self):
        fx = Fixture("http", secret="username: %s\npassword: wrong-pw-4711\n"
                     % os.environ["FERRY_TEST_GIT_HTTP_USER"])
        out = fx.run()
        self.assert_failed_cleanly(fx, out, ["authentication failed"])
        self.assertNotIn("wrong-pw-4711", out.stdout + out.stderr)
        with open(fx.config) as f:
            cfg = f.read().replace("wrong-pw-4711", SECRET_PW)
        with open(fx.config, "w") as f:
            f.write(cfg)
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(len(fx.log()), 2)

    def test_unknown_ssh_host_key_fails(self):
        key = read(os.environ["FERRY_TEST_SSH_KEY"])
        fx = Fixture("ssh", secret="identity: |\n%s" % indent(key, 2))
        self.assert_failed_cleanly(fx, fx.run(), ["not in known_hosts"])

    def test_remote_gone_fails(self):
        fx = Fixture()
        moved = fx.bare + ".moved"
        os.rename(fx.bare, moved)
        out = fx.run()
        os.rename(moved, fx.bare)
        self.assert_failed_cleanly(fx, out, ["git clone"])

    def test_registry_down_fails_and_pushes_nothing(self):
        fx = Fixture()
        with open(fx.config) as f:
            cfg = f.read().replace(REGISTRY, "127.0.0.1:1")
        with open(fx.config, "w") as f:
            f.write(cfg)
        out = fx.run()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("ImageRepository flux-system/app: scan failed", out.stdout)
        self.assertEqual(fx.log(), ["Initial commit"])

    def test_registry_down_later_keeps_the_last_good_tags(self):
        fx = Fixture()
        self.assertEqual(fx.run().returncode, 0)
        with open(fx.config) as f:
            cfg = f.read()
        # Same image name, but the registry cannot be reached: simulate by
        # an unreachable proxy for plain HTTP.
        env_proxy = dict(os.environ, http_proxy="http://127.0.0.1:1",
                         HTTP_PROXY="http://127.0.0.1:1", no_proxy="", NO_PROXY="")
        out = subprocess.run([FERRY, "run", "--once", "-f", fx.config,
                              "--state-dir", fx.state],
                             capture_output=True, text=True, env=env_proxy)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("kept the last good tag list", out.stdout)
        self.assertIn("ImagePolicy flux-system/app: %s:1.1.0" % fx.image, out.stdout)
        self.assertIn("ImageUpdateAutomation flux-system/auto: no change", out.stdout)
        self.assertEqual(cfg, read(fx.config))


if __name__ == "__main__":
    unittest.main(verbosity=2)
