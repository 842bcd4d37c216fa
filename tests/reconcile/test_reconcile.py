#!/usr/bin/python3
"""The built-in reconciler end to end (issue 13): a new tag in the real
registry, ferry's automation commit in a bare Git remote, and a
Kustomization that syncs the commit to its targets: a directory (rendered
with the kustomize on the machine), a command fed the manifests, notify
URLs and Alerts served by small local test servers.  Drift, prune,
failures, hooks, retries and dependsOn.

Run under tests/harness/testbed.py with --registry noauth.
"""
import hashlib
import hmac
import http.server
import json
import os
import shutil
import signal
import socket
import subprocess
import tempfile
import textwrap
import threading
import time
import unittest

FERRY = os.environ["FERRY"]
HARNESS = os.environ["FERRY_TEST_HARNESS"]
TMP = os.environ["FERRY_TEST_TMP"]
REGISTRY = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]

DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: demo
spec:
  template:
    spec:
      containers:
        - name: web
          image: {image}:1.0.0 # {{"$imagepolicy": "flux-system:app"}}
"""

SERVICE = """\
apiVersion: v1
kind: Service
metadata:
  name: web
  namespace: demo
spec:
  ports: [{port: 80}]
"""

BASE_KUSTOMIZATION = "resources: [deployment.yaml, service.yaml]\n"
OVERLAY = ("resources: [../../base]\nnamePrefix: prod-\n"
           "commonLabels: {env: prod}\n")


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True,
                          **kw)


def git(*args, cwd=None):
    return sh("git", "-c", "safe.directory=*", "-c", "user.name=test",
              "-c", "user.email=test@example.invalid", *args,
              cwd=cwd).stdout.strip()


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, probe, timeout=60.0, step=0.05):
    end = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError("timed out waiting for " + what)
        time.sleep(step)


def indent(s, n):
    return textwrap.indent(s, " " * n)


class Receiver:
    """A local HTTP server that keeps every request (path, headers,
    body) and answers with a fixed status."""

    def __init__(self, status=200, body=b"ok"):
        self.requests = []
        self.status = status
        outer = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def handle_any(self):
                n = int(self.headers.get("Content-Length") or 0)
                data = self.rfile.read(n) if n else b""
                outer.requests.append({"method": self.command,
                                       "path": self.path,
                                       "headers": dict(self.headers),
                                       "body": data})
                self.send_response(outer.status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            do_POST = handle_any
            do_GET = handle_any

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                      Handler)
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class World:
    """A registry repository with tags, a bare Git remote with a base and
    a prod overlay (the base's Deployment marked for policy
    flux-system:app), and the Flux objects, including one Kustomization
    whose annotations and spec the test gives."""

    counter = 0

    def __init__(self, annotations=None, ks_spec="", extra="",
                 automation=True, path="./deploy/overlays/prod",
                 ks_interval="1h"):
        World.counter += 1
        self.name = "rec%d" % World.counter
        self.dir = tempfile.mkdtemp(dir=TMP, prefix=self.name + "-")
        self.image = "%s/team/%s" % (REGISTRY, self.name)
        self.push_tags("1.0.0")
        src = os.path.join(self.dir, "src")
        for rel, text in {
                "deploy/base/deployment.yaml":
                    DEPLOYMENT.format(image=self.image),
                "deploy/base/service.yaml": SERVICE,
                "deploy/base/kustomization.yaml": BASE_KUSTOMIZATION,
                "deploy/overlays/prod/kustomization.yaml": OVERLAY}.items():
            p = os.path.join(src, rel)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            with open(p, "w") as f:
                f.write(text)
        self.bare = os.path.join(self.dir, "remote.git")
        sh("/usr/bin/python3", HARNESS, "git-init", "--bare", self.bare,
           "--files", src, "--branch", "main")
        self.url = "file://" + self.bare
        self.state = os.path.join(self.dir, "state")
        self.target = os.path.join(self.dir, "out", "prod")
        self.config = os.path.join(self.dir, "flux.yaml")
        self.annotations = annotations if annotations is not None else {
            "ferry.io/target": "directory:" + self.target}
        self.ks_spec = ks_spec
        self.extra = extra
        self.automation = automation
        self.path = path
        self.ks_interval = ks_interval
        self.write_config()

    def write_config(self):
        ann = "".join("    %s: %s\n" % (k, json.dumps(v))
                      for k, v in self.annotations.items())
        docs = [textwrap.dedent("""\
            apiVersion: source.toolkit.fluxcd.io/v1
            kind: GitRepository
            metadata: {{name: repo, namespace: flux-system}}
            spec: {{interval: 1h, url: '{url}', ref: {{branch: main}}}}
            """).format(url=self.url)]
        if self.automation:
            docs.append(textwrap.dedent("""\
                apiVersion: image.toolkit.fluxcd.io/v1
                kind: ImageRepository
                metadata: {{name: app, namespace: flux-system}}
                spec: {{image: '{image}', interval: 1h, insecure: true}}
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
                  interval: 1h
                  sourceRef: {{kind: GitRepository, name: repo}}
                  git:
                    commit:
                      author: {{name: ferry, email: bot@example.invalid}}
                      messageTemplate: 'update images'
                  update: {{path: ./deploy, strategy: Setters}}
                """).format(image=self.image))
        docs.append(textwrap.dedent("""\
            apiVersion: kustomize.toolkit.fluxcd.io/v1
            kind: Kustomization
            metadata:
              name: prod
              namespace: flux-system
              annotations:
            """) + (ann or "    {}\n") + textwrap.dedent("""\
            spec:
              interval: {interval}
              sourceRef: {{kind: GitRepository, name: repo}}
              path: {path}
              prune: true
            """).format(interval=self.ks_interval, path=self.path)
            + self.ks_spec)
        if self.extra:
            docs.append(self.extra)
        with open(self.config, "w") as f:
            f.write("\n---\n".join(docs))

    def push_tags(self, *tags):
        sh("/usr/bin/python3", HARNESS, "push-image", "--registry", REGISTRY,
           "--distinct", "team/" + self.name, *tags)

    def ferry(self, *args, check=False):
        r = subprocess.run([FERRY, *args, "-f", self.config, "--state-dir",
                            self.state], capture_output=True, text=True,
                           timeout=300)
        if check and r.returncode != 0:
            raise AssertionError("ferry %s: %d\n%s%s" % (
                " ".join(args), r.returncode, r.stdout, r.stderr))
        return r

    def once(self, check=True):
        return self.ferry("run", "--once", check=check)

    def head(self):
        return git("--git-dir", self.bare, "rev-parse", "main")

    def commit(self, change, message="edit by hand"):
        """Clones the remote, lets change(worktree) edit it, pushes."""
        work = tempfile.mkdtemp(dir=self.dir, prefix="work-")
        git("clone", "-q", self.bare, work)
        change(work)
        git("add", "-A", cwd=work)
        git("commit", "-q", "-m", message, cwd=work)
        git("push", "-q", "origin", "HEAD:main", cwd=work)
        shutil.rmtree(work)
        return self.head()

    def files(self):
        if not os.path.isdir(self.target):
            return {}
        out = {}
        for n in sorted(os.listdir(self.target)):
            with open(os.path.join(self.target, n)) as f:
                out[n] = f.read()
        return out

    def status(self):
        p = os.path.join(self.state, "objects", "Kustomization",
                         "flux-system", "prod.json")
        with open(p) as f:
            return json.load(f)


def ready(status):
    for c in status.get("conditions", []):
        if c["type"] == "Ready":
            return c
    return {}


class Daemon:
    def __init__(self, world, *args):
        self.world = world
        self.port = free_port()
        self.log = os.path.join(world.dir, "daemon.log")
        with open(self.log, "a") as log:
            self.proc = subprocess.Popen(
                [FERRY, "run", "-f", world.config, "--state-dir",
                 world.state, "--listen", "127.0.0.1:%d" % self.port,
                 "--retry-min", "1s", *args],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log)
        wait_for("the daemon to start",
                 lambda: "event=started" in self.text() or
                 self.proc.poll() is not None)
        if self.proc.poll() is not None:
            raise AssertionError("the daemon exited:\n" + self.text())

    def text(self):
        with open(self.log, errors="replace") as f:
            return f.read()

    def ferry(self, *args):
        return subprocess.run([FERRY, *args, "--state-dir",
                               self.world.state], capture_output=True,
                              text=True, timeout=180)

    def events(self):
        r = self.ferry("events", "-o", "json")
        return [json.loads(l) for l in r.stdout.splitlines()]

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError("the daemon did not stop")


def bump(w):
    """Commits a change the render shows (a new Service port)."""
    bump.port += 1

    def edit(wt):
        with open(os.path.join(wt, "deploy/base/service.yaml"), "w") as f:
            f.write(SERVICE.replace("port: 80", "port: %d" % bump.port))
    return w.commit(edit)


bump.port = 8000


def prod_deployment(files):
    return files.get("deployment_demo_prod-web.yaml", "")


class EndToEnd(unittest.TestCase):
    def test_a_new_tag_reaches_a_directory_target_in_one_run(self):
        w = World()
        w.once()
        self.assertIn(w.image + ":1.0.0", prod_deployment(w.files()))
        w.push_tags("1.1.0")
        r = w.once()
        head = w.head()
        files = w.files()
        # rendered by the machine's kustomize: the overlay's prefix and
        # label, the automation's new tag
        self.assertEqual(sorted(files), ["deployment_demo_prod-web.yaml",
                                         "service_demo_prod-web.yaml"])
        self.assertIn("image: %s:1.1.0" % w.image,
                      prod_deployment(files))
        self.assertIn("env: prod", prod_deployment(files))
        st = w.status()
        self.assertEqual(st["lastAppliedRevision"], "main@sha1:" + head)
        self.assertEqual(ready(st)["status"], "True")
        self.assertIn("Kustomization flux-system/prod: Applied revision: "
                      "main@sha1:" + head, r.stdout)

    def test_the_daemon_syncs_a_push_at_once(self):
        w = World()
        d = Daemon(w)
        try:
            wait_for("the first sync", lambda: w.files())
            w.push_tags("1.2.0")
            t0 = time.monotonic()
            r = d.ferry("reconcile", "iua", "auto", "-n", "flux-system",
                        "--with-source")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            # intervals are an hour: only the push can have done it
            wait_for("the commit in the target",
                     lambda: ":1.2.0" in prod_deployment(w.files()),
                     timeout=30)
            self.assertLess(time.monotonic() - t0, 30)
            got = json.loads(d.ferry("get", "kustomizations", "-o",
                                     "json").stdout)["objects"][0]
            wait_for("the status", lambda: json.loads(d.ferry(
                "get", "ks", "prod", "-o", "json").stdout)["objects"][0].get(
                "lastAppliedRevision") == "main@sha1:" + w.head())
            self.assertEqual(got["kind"], "Kustomization")
            table = d.ferry("get", "kustomizations").stdout
            self.assertIn("flux-system/prod", table)
            self.assertIn("LAST APPLIED", table)
            r = d.ferry("reconcile", "kustomization", "prod", "-n",
                        "flux-system")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        finally:
            d.stop()

    def test_a_command_target_gets_the_manifests_and_its_environment(self):
        out = os.path.join(TMP, "cmd-%d" % time.monotonic_ns())
        os.makedirs(out)
        w = World(annotations={
            "ferry.io/target": "command",
            "ferry.io/apply-command":
                "sh -c 'cat > %s/stdin.yaml; env | grep ^FERRY_ | sort "
                "> %s/env'" % (out, out)})
        w.push_tags("1.3.0")
        w.once()
        with open(os.path.join(out, "stdin.yaml")) as f:
            stdin = f.read()
        with open(os.path.join(out, "env")) as f:
            env = dict(l.split("=", 1) for l in f.read().splitlines())
        self.assertIn("image: %s:1.3.0" % w.image, stdin)
        self.assertIn("kind: Service", stdin)
        self.assertEqual(env["FERRY_REVISION"], "main@sha1:" + w.head())
        self.assertEqual(env["FERRY_NAME"], "prod")
        self.assertEqual(env["FERRY_NAMESPACE"], "flux-system")
        self.assertEqual(env["FERRY_PATH"], "./deploy/overlays/prod")

    def test_notify_urls_get_signed_calls(self):
        flux = Receiver()
        argo = Receiver()
        try:
            w = World(annotations={
                "ferry.io/target": "directory:" + os.path.join(TMP, "nt%d"
                                                               % time.monotonic_ns()),
                "ferry.io/notify-url": flux.url + "/hook/abc",
                "ferry.io/notify-secret": "receiver-token",
                "ferry.io/notify-url-argo": argo.url + "/api/webhook",
                "ferry.io/notify-secret-argo": "argo-token"},
                extra=textwrap.dedent("""\
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: receiver-token, namespace: flux-system}
                    stringData: {token: flux-hmac-key}
                    ---
                    apiVersion: v1
                    kind: Secret
                    metadata: {name: argo-token, namespace: flux-system}
                    stringData: {token: argo-hook-secret}
                    """))
            w.once()
            head = w.head()
            self.assertEqual(len(flux.requests), 1)
            req = flux.requests[0]
            self.assertEqual(req["path"], "/hook/abc")
            want = "sha256=" + hmac.new(b"flux-hmac-key", req["body"],
                                        hashlib.sha256).hexdigest()
            self.assertEqual(req["headers"]["X-Signature"], want)
            body = json.loads(req["body"])
            self.assertEqual(body["involvedObject"]["kind"], "Kustomization")
            self.assertEqual(body["metadata"]["revision"],
                             "main@sha1:" + head)
            self.assertEqual(len(argo.requests), 1)
            req = argo.requests[0]
            self.assertEqual(req["headers"]["X-GitHub-Event"], "push")
            want = "sha256=" + hmac.new(b"argo-hook-secret", req["body"],
                                        hashlib.sha256).hexdigest()
            self.assertEqual(req["headers"]["X-Hub-Signature-256"], want)
            body = json.loads(req["body"])
            self.assertEqual(body["ref"], "refs/heads/main")
            self.assertEqual(body["after"], head)
            # nothing new: no second call
            w.once()
            self.assertEqual(len(flux.requests), 1)
        finally:
            flux.close()
            argo.close()

    def test_alerts_reach_slack_and_generic_hmac_providers(self):
        slack = Receiver(body=b"ok")
        hook = Receiver()
        try:
            w = World(extra=textwrap.dedent("""\
                apiVersion: notification.toolkit.fluxcd.io/v1beta3
                kind: Provider
                metadata: {{name: slack, namespace: flux-system}}
                spec: {{type: slack, channel: deploys, address: '{slack}/services/T0/B0/x'}}
                ---
                apiVersion: notification.toolkit.fluxcd.io/v1beta3
                kind: Provider
                metadata: {{name: hook, namespace: flux-system}}
                spec: {{type: generic-hmac, address: '{hook}/events', secretRef: {{name: hook-key}}}}
                ---
                apiVersion: v1
                kind: Secret
                metadata: {{name: hook-key, namespace: flux-system}}
                stringData: {{token: alert-key}}
                ---
                apiVersion: notification.toolkit.fluxcd.io/v1beta3
                kind: Alert
                metadata: {{name: to-slack, namespace: flux-system}}
                spec:
                  providerRef: {{name: slack}}
                  summary: test cluster
                  eventSources:
                    - {{kind: ImageUpdateAutomation, name: '*'}}
                    - {{kind: Kustomization, name: '*'}}
                ---
                apiVersion: notification.toolkit.fluxcd.io/v1beta3
                kind: Alert
                metadata: {{name: errors, namespace: flux-system}}
                spec:
                  providerRef: {{name: hook}}
                  eventSeverity: error
                  eventSources: [{{kind: Kustomization, name: prod}}]
                """).format(slack=slack.url, hook=hook.url))
            w.push_tags("1.4.0")
            w.once()
            texts = [json.loads(r["body"])["attachments"][0]
                     for r in slack.requests]
            authors = sorted(a["author_name"] for a in texts)
            self.assertEqual(authors, ["imageupdateautomation/auto.flux-system",
                                       "kustomization/prod.flux-system"])
            pushed = [a for a in texts
                      if a["author_name"].startswith("image")][0]
            self.assertIn("pushed", pushed["text"])
            self.assertIn({"title": "commit", "value": w.head(),
                           "short": False}, pushed["fields"])
            self.assertIn({"title": "summary", "value": "test cluster",
                           "short": False}, pushed["fields"])
            self.assertEqual(json.loads(slack.requests[0]["body"])["channel"],
                             "deploys")
            # error severity: the success went nowhere
            self.assertEqual(hook.requests, [])
            # a broken overlay: the failure goes to both
            w.commit(lambda wt: open(os.path.join(
                wt, "deploy/overlays/prod/kustomization.yaml"), "w").write(
                "resources: [../../nothere]\n"))
            r = w.once(check=False)
            self.assertEqual(r.returncode, 1)
            self.assertEqual(len(hook.requests), 1)
            req = hook.requests[0]
            want = "sha256=" + hmac.new(b"alert-key", req["body"],
                                        hashlib.sha256).hexdigest()
            self.assertEqual(req["headers"]["X-Signature"], want)
            ev = json.loads(req["body"])
            self.assertEqual(ev["severity"], "error")
            self.assertEqual(ev["reason"], "BuildFailed")
            self.assertEqual(ev["involvedObject"]["name"], "prod")
        finally:
            slack.close()
            hook.close()


class DriftAndPrune(unittest.TestCase):
    def test_drift_is_restored_on_the_next_interval_and_reported(self):
        hook = Receiver()
        w = World(automation=False, ks_interval="2s",
                  extra=textwrap.dedent("""\
                      apiVersion: notification.toolkit.fluxcd.io/v1beta3
                      kind: Provider
                      metadata: {{name: hook, namespace: flux-system}}
                      spec: {{type: generic, address: '{url}/drift'}}
                      ---
                      apiVersion: notification.toolkit.fluxcd.io/v1beta3
                      kind: Alert
                      metadata: {{name: drift, namespace: flux-system}}
                      spec:
                        providerRef: {{name: hook}}
                        inclusionList: ['^Corrected drift']
                        eventSources: [{{kind: Kustomization, name: '*'}}]
                      """).format(url=hook.url))
        d = Daemon(w)
        try:
            files = wait_for("the first sync", lambda: w.files())
            dep = os.path.join(w.target, "deployment_demo_prod-web.yaml")
            with open(dep, "a") as f:
                f.write("# edited by hand\n")
            os.unlink(os.path.join(w.target, "service_demo_prod-web.yaml"))
            with open(os.path.join(w.target, "extra.yaml"), "w") as f:
                f.write("kind: Nothing\n")
            wait_for("drift corrected", lambda: w.files() == files,
                     timeout=30)
            drift = wait_for("the report", lambda: w.status().get(
                "lastDrift"))
            self.assertEqual(drift["modified"],
                             ["deployment_demo_prod-web.yaml"])
            self.assertEqual(drift["removed"],
                             ["service_demo_prod-web.yaml"])
            self.assertEqual(drift["added"], ["extra.yaml"])
            ev = wait_for("the event", lambda: [
                e for e in d.events() if e["reason"] == "DriftCorrected"])
            self.assertIn("extra.yaml", ev[0]["message"])
            # and the daemon sent it to the Alert that asks for it
            got = wait_for("the notification", lambda: hook.requests)
            body = json.loads(got[0]["body"])
            self.assertEqual(body["reason"], "DriftCorrected")
            self.assertEqual(body["involvedObject"]["name"], "prod")
        finally:
            d.stop()
            hook.close()

    def test_a_resource_removed_in_git_disappears_from_the_target(self):
        w = World(automation=False)
        w.once()
        self.assertIn("service_demo_prod-web.yaml", w.files())
        w.commit(lambda wt: open(os.path.join(
            wt, "deploy/base/kustomization.yaml"), "w").write(
            "resources: [deployment.yaml]\n"))
        w.once()
        self.assertEqual(sorted(w.files()), ["deployment_demo_prod-web.yaml"])
        self.assertEqual(w.status()["lastSync"]["deleted"],
                         ["service_demo_prod-web.yaml"])

    def test_without_prune_a_removed_resource_stays(self):
        w = World(automation=False)
        w.write_config()
        with open(w.config) as f:
            text = f.read().replace("prune: true", "prune: false")
        with open(w.config, "w") as f:
            f.write(text)
        w.once()
        w.commit(lambda wt: open(os.path.join(
            wt, "deploy/base/kustomization.yaml"), "w").write(
            "resources: [deployment.yaml]\n"))
        w.once()
        self.assertIn("service_demo_prod-web.yaml", w.files())
        self.assertEqual(w.status()["unmanaged"],
                         ["service_demo_prod-web.yaml"])
        # and later runs leave it alone
        w.once()
        self.assertIn("service_demo_prod-web.yaml", w.files())


class Failures(unittest.TestCase):
    """Each failure: status says why, the last good state stays in place,
    sync-fail runs."""

    def world(self, extra_annotations, ks_spec=""):
        self.marker = os.path.join(TMP, "syncfail-%d" % time.monotonic_ns())
        target = os.path.join(TMP, "fail-%d" % time.monotonic_ns())
        ann = {"ferry.io/target": "directory:" + target,
               "ferry.io/sync-fail":
                   "sh -c 'echo \"$FERRY_FAILED_PHASE $FERRY_ERROR\" >> %s'"
                   % self.marker}
        w = World(annotations=ann, ks_spec=ks_spec, automation=False)
        w.target = target
        w.once()
        self.good = w.files()
        self.good_rev = w.status()["lastAppliedRevision"]
        self.assertTrue(self.good)
        ann.update(extra_annotations)
        w.annotations = ann
        w.write_config()
        return w

    def check_failed(self, w, phase, reason, text):
        r = w.once(check=False)
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        st = w.status()
        self.assertEqual(st["lastFailure"]["phase"], phase)
        self.assertIn(text, st["lastFailure"]["message"])
        self.assertEqual(ready(st)["status"], "False")
        self.assertEqual(ready(st)["reason"], reason)
        self.assertEqual(st["lastAppliedRevision"], self.good_rev)
        self.assertEqual(w.files(), self.good)
        with open(self.marker) as f:
            last = f.read().splitlines()[-1]
        self.assertTrue(last.startswith(phase + " "), last)
        self.assertIn(text, last)
        return st

    def test_a_render_error_keeps_the_last_good_state(self):
        w = self.world({})
        head = w.commit(lambda wt: open(os.path.join(
            wt, "deploy/overlays/prod/kustomization.yaml"), "w").write(
            "resources: [../../nothere]\n"))
        st = self.check_failed(w, "render", "BuildFailed", "kustomize")
        self.assertEqual(st["lastAttemptedRevision"], "main@sha1:" + head)

    def test_a_failing_apply_command_keeps_the_last_good_state(self):
        w = World(annotations={}, automation=False)
        self.marker = os.path.join(TMP, "syncfail-%d" % time.monotonic_ns())
        w.annotations = {
            "ferry.io/target": "command",
            "ferry.io/apply-command": "sh -c 'echo applied >&2; exit 4'",
            "ferry.io/sync-fail":
                "sh -c 'echo \"$FERRY_FAILED_PHASE $FERRY_ERROR\" >> %s'"
                % self.marker}
        w.write_config()
        r = w.once(check=False)
        self.assertEqual(r.returncode, 1)
        st = w.status()
        self.assertEqual(st["lastFailure"]["phase"], "apply")
        self.assertIn("exited with status 4: applied",
                      st["lastFailure"]["message"])
        self.assertNotIn("lastAppliedRevision", st)
        with open(self.marker) as f:
            self.assertTrue(f.read().startswith("apply "))

    def test_a_failing_pre_sync_hook_stops_the_sync(self):
        w = self.world({"ferry.io/pre-sync": "sh -c 'echo not today >&2; "
                                             "exit 1'"})
        bump(w)
        self.check_failed(w, "pre-sync", "ReconciliationFailed",
                          "not today")

    def test_a_failing_health_check_fails_after_its_timeout(self):
        # Flux's smallest timeout is 30s: the check is retried until then
        w = self.world({"ferry.io/health-command": "sh -c 'echo sick >&2; "
                                                   "exit 1'"},
                       ks_spec="  wait: true\n  timeout: 30s\n")
        bump(w)
        t0 = time.monotonic()
        st = self.check_failed(w, "health", "HealthCheckFailed", "sick")
        self.assertGreaterEqual(time.monotonic() - t0, 28)
        # the new set was in place while the check ran; it was rolled back
        self.assertIn("got " + self.good_rev + " back",
                      st["lastFailure"]["message"])

    def test_a_passing_health_url_completes_the_sync(self):
        ok = Receiver()
        try:
            w = self.world({"ferry.io/health-command": ok.url + "/healthz"},
                           ks_spec="  wait: true\n")
            head = bump(w)
            w.once()
            self.assertEqual(w.status()["lastAppliedRevision"],
                             "main@sha1:" + head)
            self.assertEqual(ok.requests[-1]["method"], "GET")
        finally:
            ok.close()

    def test_failures_retry_with_backoff(self):
        stamps = os.path.join(TMP, "stamps-%d" % time.monotonic_ns())
        w = World(annotations={
            "ferry.io/target": "command",
            "ferry.io/apply-command":
                "sh -c 'date +%%s.%%N >> %s; exit 1'" % stamps},
            automation=False, ks_spec="  retryInterval: 1s\n")
        d = Daemon(w)
        try:
            wait_for("four attempts", lambda: os.path.exists(stamps) and
                     len(open(stamps).read().split()) >= 4, timeout=40)
            t = [float(x) for x in open(stamps).read().split()]
            gaps = [b - a for a, b in zip(t, t[1:])]
            self.assertGreater(gaps[2], gaps[0] * 1.5, gaps)
            st = w.status()
            self.assertGreaterEqual(st["failures"], 3)
            self.assertEqual(st["lastFailure"]["phase"], "apply")
        finally:
            d.stop()


class Ordering(unittest.TestCase):
    def test_depends_on_orders_kustomizations(self):
        log = os.path.join(TMP, "order-%d" % time.monotonic_ns())
        w = World(annotations={
            "ferry.io/target": "command",
            "ferry.io/apply-command": "sh -c 'echo prod >> %s'" % log},
            automation=False,
            ks_spec="  dependsOn: [{name: infra}]\n",
            extra=textwrap.dedent("""\
                apiVersion: kustomize.toolkit.fluxcd.io/v1
                kind: Kustomization
                metadata:
                  name: infra
                  namespace: flux-system
                  annotations:
                    ferry.io/target: command
                    ferry.io/apply-command: "sh -c 'echo infra >> {log}'"
                spec:
                  interval: 1h
                  sourceRef: {{kind: GitRepository, name: repo}}
                  path: ./deploy/base
                  prune: false
                """).format(log=log))
        w.once()
        with open(log) as f:
            self.assertEqual(f.read().split(), ["infra", "prod"])

    def test_a_kustomization_without_ferry_annotations_is_left_to_flux(self):
        # A Flux user's own Kustomization (here one that decrypts with
        # SOPS in the cluster) is not synced by ferry, not refused, and
        # a Kustomization that depends on it is not held back.
        log = os.path.join(TMP, "flux-%d" % time.monotonic_ns())
        w = World(annotations={
            "ferry.io/target": "command",
            "ferry.io/apply-command": "sh -c 'echo prod >> %s'" % log},
            automation=False,
            ks_spec="  dependsOn: [{name: infra}]\n",
            extra=textwrap.dedent("""\
                apiVersion: kustomize.toolkit.fluxcd.io/v1
                kind: Kustomization
                metadata:
                  name: infra
                  namespace: flux-system
                spec:
                  interval: 1h
                  sourceRef: {kind: GitRepository, name: repo}
                  path: ./deploy/base
                  prune: true
                  decryption: {provider: sops}
                """))
        r = w.once()
        self.assertIn("Kustomization flux-system/infra: left to Flux "
                      "(no ferry.io/ annotations)", r.stdout)
        with open(log) as f:
            self.assertEqual(f.read().split(), ["prod"])
        self.assertFalse(os.path.exists(os.path.join(
            w.state, "objects", "Kustomization", "flux-system",
            "infra.json")))

    def test_a_field_ferry_cannot_apply_is_refused_not_ignored(self):
        w = World(automation=False, ks_spec="  targetNamespace: other\n")
        r = w.once(check=False)
        self.assertEqual(r.returncode, 1)
        st = w.status()
        self.assertIn("spec.targetNamespace", st["lastFailure"]["message"])
        self.assertIn("Stalled", [c["type"] for c in st["conditions"]])
        self.assertEqual(w.files(), {})

    def test_plan_shows_the_targets_a_run_would_touch(self):
        w = World()
        w.push_tags("2.0.0")
        r = w.ferry("plan", check=True)
        self.assertIn("Kustomization flux-system/prod: would sync", r.stdout)
        self.assertIn("create deployment_demo_prod-web.yaml", r.stdout)
        self.assertIn("target: directory:" + w.target, r.stdout)
        self.assertIn("then again at the commit ImageUpdateAutomation "
                      "flux-system/auto would push to main", r.stdout)
        self.assertEqual(w.files(), {})
        self.assertFalse(os.path.exists(os.path.join(
            w.state, "objects", "Kustomization")))


if __name__ == "__main__":
    unittest.main(verbosity=2)
