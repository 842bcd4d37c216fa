"""Helpers for the daemon's tests: a world (registry with notifications,
a bare Git remote with a marked file, the Flux objects that tie them
together) and a `ferry run` daemon process to start, ask and stop.

The tests run on Debian's /usr/bin/python3 and start their own Testbed
(tests/harness/testbed.py), because the registry's notification URL must
point at the daemon's receiver path, which depends on the test."""

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.error
import urllib.request

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]
TOKEN = "registry-hook-token"
RECEIVER = "registry"
NAMESPACE = "flux-system"


def hook_path(token=TOKEN, name=RECEIVER, namespace=NAMESPACE):
    """The path Flux publishes for a Receiver."""
    return "/hook/" + hashlib.sha256(
        (token + name + namespace).encode()).hexdigest()


def git(*args):
    return subprocess.run(["git", "-c", "safe.directory=*", *args],
                          capture_output=True, text=True, check=True
                          ).stdout.strip()


def wait_for(what, probe, timeout=60.0, step=0.02):
    """Polls probe() until it returns something true; returns that."""
    end = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def http(url, method="GET", body=None, headers=None, timeout=10):
    """(status, text) of one request; never raises on an HTTP error."""
    req = urllib.request.Request(url, data=body, method=method,
                                 headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class World:
    """A registry (with notifications to the daemon's receiver), a bare Git
    repository whose deploy/app.yaml marks policy flux-system:app, and the
    Flux objects: GitRepository, ImageRepository (interval 1h),
    ImagePolicy (semver >=1.0.0), ImageUpdateAutomation, a Receiver of type
    distribution and its Secret."""

    def __init__(self, name="app", interval="1h", remote="file",
                 extra_objects="", notify=True):
        self.port = testbed.free_port()
        self.name = name
        kw = {}
        if notify:
            kw = dict(registries=["notify"],
                      notify_url=f"http://127.0.0.1:{self.port}{hook_path()}",
                      notify_headers={"Authorization": f"Bearer {TOKEN}"})
        else:
            kw = dict(registries=["noauth"])
        self.tb = testbed.Testbed(git_http=(remote == "http"), **kw)
        self.tb.start()
        self.kind = "notify" if notify else "noauth"
        self.reg = self.tb.registry[self.kind]
        self.dir = tempfile.mkdtemp(prefix="daemon-", dir=self.tb.tmp)
        self.state = os.path.join(self.dir, "state")
        self.image = f"{self.reg}/team/{name}"
        self.push("1.0.0")
        src = os.path.join(self.dir, "src")
        os.makedirs(os.path.join(src, "deploy"))
        with open(os.path.join(src, "deploy", "app.yaml"), "w") as f:
            f.write(textwrap.dedent(f"""\
                apiVersion: apps/v1
                kind: Deployment
                metadata:
                  name: {name}
                spec:
                  template:
                    spec:
                      containers:
                        - name: app
                          image: {self.image}:1.0.0 # {{"$imagepolicy": "flux-system:app"}}
                """))
        secret = ""
        if remote == "http":
            self.bare = os.path.join(self.tb.git_http_root, name + ".git")
            self.url = f"{self.tb.git_http_url}/{name}.git"
            secret = (f"---\napiVersion: v1\nkind: Secret\nmetadata: "
                      f"{{name: git-auth, namespace: flux-system}}\n"
                      f"stringData: {{username: {self.tb.git_http_user}, "
                      f"password: {self.tb.git_http_password}}}\n")
        else:
            self.bare = os.path.join(self.dir, "remote.git")
            self.url = "file://" + self.bare
        testbed.git_init(self.bare, files=src, branch="main")
        self.config = os.path.join(self.dir, "flux.yaml")
        self.objects = textwrap.dedent(f"""\
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata: {{name: repo, namespace: flux-system}}
            spec:
              interval: 1h
              url: '{self.url}'
              ref: {{branch: main}}
            """) + ("  secretRef: {name: git-auth}\n" if secret else "") + \
            secret + textwrap.dedent(f"""\
            ---
            apiVersion: image.toolkit.fluxcd.io/v1
            kind: ImageRepository
            metadata: {{name: app, namespace: flux-system}}
            spec: {{image: '{self.image}', interval: {interval}, insecure: true}}
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
              interval: {interval}
              sourceRef: {{kind: GitRepository, name: repo}}
              git:
                commit:
                  author: {{name: ferry, email: bot@example.invalid}}
                  messageTemplate: 'update {{{{range .Changed.Changes}}}}{{{{.NewValue}}}}{{{{end}}}}'
              update: {{path: ./deploy, strategy: Setters}}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {{name: hook-token, namespace: flux-system}}
            stringData: {{token: {TOKEN}}}
            ---
            apiVersion: notification.toolkit.fluxcd.io/v1
            kind: Receiver
            metadata: {{name: {RECEIVER}, namespace: {NAMESPACE}}}
            spec:
              type: distribution
              secretRef: {{name: hook-token}}
              resources:
                - {{apiVersion: image.toolkit.fluxcd.io/v1, kind: ImageRepository, name: app}}
            """) + extra_objects
        self.write_config(self.objects)

    def write_config(self, text):
        with open(self.config, "w") as f:
            f.write(text)

    def push(self, *tags):
        """Pushes tags; returns {tag: digest}."""
        rows = self.tb.push_image(self.kind, f"team/{self.name}", list(tags),
                                  distinct=True)
        return {t: d for t, d, _ in rows}

    def log(self):
        """First line of each commit on main, newest first."""
        return git("--git-dir", self.bare, "log", "--format=%s",
                   "main").splitlines()

    def pushed_tags(self):
        """The tags ferry's commits set, newest first."""
        return [line.rsplit(":", 1)[1] for line in self.log()
                if line.startswith("update ")]

    def close(self):
        self.tb.stop()


class Daemon:
    """`ferry run` on a world: start, ask (`ferry get` and friends), stop."""

    def __init__(self, world, *args):
        self.world = world
        self.args = list(args)
        self.proc = None
        self.logpath = os.path.join(world.dir, "daemon.log")
        self.base = f"http://127.0.0.1:{world.port}"

    def start(self, wait=True):
        with open(self.logpath, "a") as log:
            log.write("---- start\n")
            log.flush()
            self.proc = subprocess.Popen(
                [FERRY, "run", "-f", self.world.config, "--state-dir",
                 self.world.state, "--listen",
                 f"127.0.0.1:{self.world.port}", *self.args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        if wait:
            wait_for("the daemon to start",
                     lambda: "event=started" in self.log_since_start()
                     or self.proc.poll() is not None)
            if self.proc.poll() is not None:
                raise AssertionError("the daemon exited:\n" + self.log())
        return self

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def log_since_start(self):
        return self.log().rsplit("---- start\n", 1)[-1]

    def send(self, sig):
        self.proc.send_signal(sig)

    def stop(self, sig=signal.SIGTERM, timeout=40):
        if self.proc is None or self.proc.poll() is not None:
            return self.proc.returncode if self.proc else None
        self.proc.send_signal(sig)
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            raise AssertionError("the daemon did not stop:\n" + self.log())

    def kill(self):
        self.proc.kill()
        self.proc.wait()

    def ferry(self, *args, check=False):
        r = subprocess.run([FERRY, *args, "--state-dir", self.world.state],
                           capture_output=True, text=True, timeout=180)
        if check and r.returncode != 0:
            raise AssertionError(f"ferry {' '.join(args)}: {r.returncode}\n"
                                 f"{r.stdout}{r.stderr}")
        return r

    def get(self, kind=None, name=None):
        args = ["get"] + ([kind] if kind else []) + ([name] if name else [])
        r = self.ferry(*args, "-o", "json", check=True)
        return json.loads(r.stdout)

    def status(self, kind, name="app"):
        objs = self.get(kind, name)["objects"]
        return objs[0] if objs else None

    def events(self):
        r = self.ferry("events", "-o", "json", check=True)
        return [json.loads(line) for line in r.stdout.splitlines()]
