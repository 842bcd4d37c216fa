#!/usr/bin/python3
"""End to end, as a Flux user points ferry at a repository: run --once,
plan and the daemon against the real registry (Debian's docker-registry)
and real Git (file:// and git http-backend with basic auth).

- the Git password lives in a SOPS-encrypted Secret (a PGP recipient,
  encrypted here with gpg and the fixture key), decrypted with the key of
  the Kustomization's decryption Secret read from --secrets-dir;
- the deploy credentials of another repository come from --secrets-dir
  only (as the cluster holds them);
- the objects come from standard input (-f -), with --namespace and
  --exclude;
- a marker naming a policy no ImagePolicy provides and an emptied digest
  are shown by plan; an automation whose policy failed says failed;
- a plain-HTTP registry reached over TLS suggests spec.insecure: true.

Run under tests/harness/testbed.py with --registry noauth --git-http.
"""
import base64
import hashlib
import os
import signal
import subprocess
import tempfile
import textwrap
import time
import unittest

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

FERRY = os.environ["FERRY"]
ROOT = os.environ["FERRY_SOURCE_ROOT"]
HARNESS = os.environ["FERRY_TEST_HARNESS"]
TMP = os.environ["FERRY_TEST_TMP"]
REGISTRY = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]
PGP_KEY = os.path.join(ROOT, "tests", "sops", "fixtures", "made", "pgp.asc")

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: app
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:1.0.0 # {{"$imagepolicy": "apps:app"}}
        - name: sidecar
          image: {image}:1.0.0 # {{"$imagepolicy": "apps:sidecar"}}
values:
  tag: 1.0.0 # {{"$imagepolicy": "apps:app:tag"}}
  digest: sha256:{zeros} # {{"$imagepolicy": "apps:app:digest"}}
"""


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True,
                          **kw)


def git(*args):
    return sh("git", "-c", "safe.directory=*", *args).stdout.strip()


def push_tags(repo, *tags):
    sh("/usr/bin/python3", HARNESS, "push-image", "--registry", REGISTRY,
       "--distinct", repo, *tags)


def sops_secret(name, namespace, string_data, gpg_home, fpr):
    """A Secret as sops encrypts it with encrypted_regex
    ^(data|stringData)$ for a PGP recipient: values AES-256-GCM with
    their path as additional data, the MAC over every value."""
    key = os.urandom(32)
    mac = hashlib.sha512()

    def enc(plain, aad):
        iv = os.urandom(32)
        out = AESGCM(key).encrypt(iv, plain.encode(), aad.encode())
        return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:str]" % (
            base64.b64encode(out[:-16]).decode(),
            base64.b64encode(iv).decode(),
            base64.b64encode(out[-16:]).decode())

    clear = ["v1", "Secret", name, namespace]
    for v in clear:
        mac.update(v.encode())
    body = ("apiVersion: v1\nkind: Secret\nmetadata:\n    name: %s\n"
            "    namespace: %s\nstringData:\n" % (name, namespace))
    for k, v in string_data.items():
        mac.update(v.encode())
        body += "    %s: %s\n" % (k, enc(v, "stringData:%s:" % k))
    last = "2026-07-01T10:00:00Z"
    p = subprocess.run(["gpg", "--batch", "--quiet", "--homedir", gpg_home,
                        "--trust-model", "always", "--armor", "--encrypt",
                        "-r", fpr], input=key, capture_output=True,
                       check=True)
    wrapped = p.stdout.decode()
    body += "sops:\n    lastmodified: \"%s\"\n    mac: %s\n    pgp:\n" % (
        last, enc(mac.hexdigest().upper(), last))
    body += ("        - created_at: \"%s\"\n          enc: |-\n%s"
             "          fp: %s\n" % (last, textwrap.indent(
                 wrapped.strip("\n") + "\n", " " * 12), fpr))
    body += "    encrypted_regex: ^(data|stringData)$\n    version: 3.9.4\n"
    return body


def mount(root, namespace, name, keys):
    """A Secret as a kubelet mounts it: keys linked into ..data."""
    d = os.path.join(root, namespace, name)
    stamp = os.path.join(d, "..2026_07_01_10_00_00")
    os.makedirs(stamp)
    for k, v in keys.items():
        with open(os.path.join(stamp, k), "w") as f:
            f.write(v)
    os.symlink("..2026_07_01_10_00_00", os.path.join(d, "..data"))
    for k in keys:
        os.symlink(os.path.join("..data", k), os.path.join(d, k))


class Fleet:
    """A Git remote (HTTP with basic auth) with a marked Deployment, a
    registry repository with tags, and Flux objects for them."""

    counter = 0

    def __init__(self, policy_range=">=1.0.0", sidecar=False):
        Fleet.counter += 1
        self.name = "fleet%d" % Fleet.counter
        self.dir = tempfile.mkdtemp(dir=TMP, prefix=self.name + "-")
        self.image = "%s/team/%s" % (REGISTRY, self.name)
        push_tags("team/" + self.name, "1.0.0", "1.1.0")
        src = os.path.join(self.dir, "src", "deploy")
        os.makedirs(src)
        with open(os.path.join(src, "app.yaml"), "w") as f:
            f.write(DEPLOYMENT.format(image=self.image, zeros="0" * 64))
        self.bare = os.path.join(os.environ["FERRY_TEST_GIT_HTTP_ROOT"],
                                 self.name + ".git")
        sh("/usr/bin/python3", HARNESS, "git-init", "--bare", self.bare,
           "--files", os.path.join(self.dir, "src"), "--branch", "main")
        self.url = "%s/%s.git" % (os.environ["FERRY_TEST_GIT_HTTP"],
                                  self.name)
        self.state = os.path.join(self.dir, "state")
        self.secrets = os.path.join(self.dir, "secrets")
        os.makedirs(self.secrets)
        # the PGP key the repository's Secrets are encrypted for, in
        # the cluster as Flux's decryption Secret
        self.gpg = os.path.join(self.dir, "gnupg")
        os.makedirs(self.gpg, mode=0o700)
        sh("gpg", "--batch", "--quiet", "--homedir", self.gpg, "--import",
           PGP_KEY)
        self.fpr = [l.split(":")[9] for l in sh(
            "gpg", "--batch", "--homedir", self.gpg, "--with-colons",
            "--list-keys").stdout.splitlines() if l.startswith("fpr:")][0]
        with open(PGP_KEY) as f:
            mount(self.secrets, "flux-system", "sops-gpg",
                  {"sops.asc": f.read()})
        self.objects = textwrap.dedent("""\
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata:
              name: fleet
            spec:
              interval: 1m
              url: {url}
              ref:
                branch: main
              secretRef:
                name: git-auth
            ---
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata:
              name: apps
              namespace: flux-system
            spec:
              interval: 10m
              prune: true
              sourceRef:
                kind: GitRepository
                name: fleet
                namespace: apps
              decryption:
                provider: sops
                secretRef:
                  name: sops-gpg
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageRepository
            metadata:
              name: app
            spec:
              image: {image}
              interval: 5m
              insecure: true
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImagePolicy
            metadata:
              name: app
            spec:
              imageRepositoryRef:
                name: app
              policy:
                semver:
                  range: "{range}"
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageUpdateAutomation
            metadata:
              name: auto
            spec:
              interval: 5m
              sourceRef:
                kind: GitRepository
                name: fleet
              git:
                commit:
                  author:
                    name: ferry-bot
                    email: bot@example.invalid
              update:
                path: ./deploy
            """).format(url=self.url, image=self.image, range=policy_range)
        # the Git password: SOPS-encrypted, in the repository's files
        self.secret_file = os.path.join(self.dir, "git-auth.enc.yaml")
        with open(self.secret_file, "w") as f:
            f.write(sops_secret("git-auth", "apps", {
                "username": os.environ["FERRY_TEST_GIT_HTTP_USER"],
                "password": os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"]},
                self.gpg, self.fpr))

    def run(self, *extra, cmd="run", objects=None):
        args = [FERRY, cmd] + (["--once"] if cmd == "run" else []) + [
            "-f", "-", "-f", self.secret_file, "-n", "apps",
            "--secrets-dir", self.secrets, "--state-dir", self.state
        ] + list(extra)
        return subprocess.run(args, capture_output=True, text=True,
                              input=objects or self.objects, timeout=300)

    def file(self, path):
        return git("--git-dir", self.bare, "show", "main:" + path)

    def log(self):
        return git("--git-dir", self.bare, "log", "--format=%s",
                   "main").splitlines()


class GitOps(unittest.TestCase):
    def test_sops_password_and_stdin_objects_push_over_http(self):
        fx = Fleet()
        out = fx.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("ImageUpdateAutomation apps/auto: pushed", out.stdout)
        self.assertEqual(len(fx.log()), 2)
        self.assertIn("%s:1.1.0 # " % fx.image, fx.file("deploy/app.yaml"))
        for secret in (os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"],):
            self.assertNotIn(secret, out.stdout + out.stderr)

    def test_plan_shows_an_unknown_marker_and_an_emptied_digest(self):
        fx = Fleet()
        out = fx.run(cmd="plan")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("  note: deploy/app.yaml:12: setter 'apps:sidecar' "
                      "names no ImagePolicy of this update; left alone\n",
                      out.stdout)
        self.assertIn("  note: deploy/app.yaml:15: setter 'apps:app:digest' "
                      "emptied: its policy reflects no digest", out.stdout)
        self.assertIn('+  digest: "" # ', out.stdout)
        self.assertEqual(len(fx.log()), 1)
        out = fx.run("-o", "json", cmd="plan")
        import json
        doc = json.loads(out.stdout)
        notes = doc["imageUpdateAutomations"][0]["notes"]
        self.assertEqual(len(notes), 2, notes)

    def test_an_automation_whose_policy_failed_says_failed(self):
        fx = Fleet(policy_range=">=9.0.0")
        out = fx.run()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("ImageUpdateAutomation apps/auto: failed: ImagePolicy "
                      "'apps/app' has no latest image, so its values were "
                      "not updated: ", out.stdout)
        self.assertNotIn("no change", out.stdout)
        self.assertEqual(len(fx.log()), 1)

    def test_a_failed_line_names_its_object_once(self):
        fx = Fleet(policy_range=">=9.0.0")
        out = fx.run()
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        line = next(x for x in out.stdout.splitlines()
                    if x.startswith("ImagePolicy apps/app: failed: "))
        self.assertNotIn("apps/app", line[len("ImagePolicy apps/app:"):],
                         line)

    def test_a_plain_http_registry_reached_over_tls_suggests_insecure(self):
        fx = Fleet()
        objects = fx.objects.replace("  insecure: true\n", "")
        out = fx.run(objects=objects)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("the registry answers in plain HTTP, not TLS (set "
                      "spec.insecure: true on the ImageRepository",
                      out.stdout)

    def test_exclude_and_a_missing_secret_name_the_options(self):
        fx = Fleet()
        # the encrypted Secret left out: the message names --secrets-dir
        args = [FERRY, "validate", "-f", "-", "-n", "apps", "--secrets-dir",
                fx.secrets]
        p = subprocess.run(args, input=fx.objects, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(p.returncode, 2, p.stderr)
        self.assertIn("Secret 'apps/git-auth' not found", p.stderr)
        self.assertIn("not in --secrets-dir either", p.stderr)
        # a directory with the Secret and a broken file excluded by name
        tree = os.path.join(fx.dir, "tree")
        os.makedirs(os.path.join(tree, "tests"))
        with open(os.path.join(tree, "tests", "broken.yaml"), "w") as f:
            f.write("kind: ImagePolicy\n")
        os.rename(fx.secret_file, os.path.join(tree, "git-auth.enc.yaml"))
        p = subprocess.run(args + ["-f", tree, "--exclude", "tests"],
                           input=fx.objects, capture_output=True, text=True,
                           timeout=60)
        self.assertEqual(p.returncode, 0, p.stdout + p.stderr)

    def test_the_daemon_reads_the_same_options(self):
        fx = Fleet()
        args = [FERRY, "run", "-f", "-", "-f", fx.secret_file, "-n", "apps",
                "--secrets-dir", fx.secrets, "--state-dir", fx.state,
                "--listen", "off"]
        log = os.path.join(fx.dir, "daemon.log")
        with open(log, "w") as errf:
            d = subprocess.Popen(args, stdin=subprocess.PIPE,
                                 stdout=subprocess.DEVNULL, stderr=errf,
                                 text=True)
        d.stdin.write(fx.objects)
        d.stdin.close()
        try:
            deadline = time.time() + 120
            while time.time() < deadline and len(fx.log()) < 2:
                time.sleep(0.5)
            self.assertEqual(len(fx.log()), 2)
            # a reload reads the same standard input again
            d.send_signal(signal.SIGHUP)
            deadline = time.time() + 30
            while time.time() < deadline and \
                    "event=reloaded" not in open(log).read():
                time.sleep(0.2)
            self.assertIsNone(d.poll())
        finally:
            d.send_signal(signal.SIGTERM)
            try:
                d.wait(timeout=60)
            except subprocess.TimeoutExpired:
                d.kill()
                d.wait()
        err = open(log).read()
        self.assertEqual(d.returncode, 0, err)
        self.assertIn("event=reloaded", err)
        self.assertNotIn(os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"], err)


if __name__ == "__main__":
    unittest.main(verbosity=2)
