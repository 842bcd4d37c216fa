#!/usr/bin/python3
"""The daemon (`ferry run` without --once) end to end: the real registry
posts its own notifications to ferry's `distribution` receiver, and a
pushed tag becomes one commit in the bare Git remote while polling is at
1h; the control CLI, /metrics, reloads, shutdown, and faults (a registry
that goes away and comes back, a remote that rejects pushes).

Each test starts its own Testbed (tests/harness/testbed.py): the
registry's notification URL depends on the daemon's port."""

import json
import os
import random
import signal
import subprocess
import time
import unittest

from prometheus_client.parser import text_string_to_metric_families

from daemon import (FERRY, TOKEN, Daemon, World, git, hook_path, http,
                    wait_for)


def envelope(repo, tag, digest, event_id, host="127.0.0.1"):
    """A distribution 2.8 notification envelope, as the registry sends."""
    return json.dumps({"events": [{
        "id": event_id, "timestamp": "2026-12-02T00:00:00Z",
        "action": "push",
        "target": {"mediaType": "application/vnd.oci.image.manifest.v1+json",
                   "digest": digest, "size": 500, "length": 500,
                   "repository": repo, "tag": tag,
                   "url": f"http://x/v2/{repo}/manifests/{digest}"},
        "request": {"id": "r", "addr": "127.0.0.1", "host": host,
                    "method": "PUT", "useragent": "test"},
        "actor": {}, "source": {"addr": "x", "instanceID": "i"}}]}).encode()


class Webhooks(unittest.TestCase):
    def setUp(self):
        self.world = World()
        self.daemon = Daemon(self.world).start()

    def tearDown(self):
        self.daemon.stop()
        self.world.close()

    def test_a_pushed_tag_becomes_exactly_one_commit(self):
        w, d = self.world, self.daemon
        wait_for("the first scan", lambda: (d.status("ImagePolicy") or {})
                 .get("latestRef", {}).get("tag") == "1.0.0")
        digests = w.push("1.1.0")
        wait_for("the commit", lambda: w.pushed_tags() == ["1.1.0"])
        # The registry's own notification did it: polling is at 1h.
        self.assertIn("mod=webhook event=received type=distribution",
                      d.log())
        # A second delivery of the same push changes nothing.
        status, text = http(d.base + hook_path(), "POST",
                            envelope(f"team/{w.name}", "1.1.0",
                                     digests["1.1.0"], "another-delivery-id",
                                     w.reg),
                            {"Authorization": f"Bearer {TOKEN}",
                             "Content-Type": "application/vnd.docker."
                                             "distribution.events.v1+json"})
        self.assertEqual(status, 200, text)
        self.assertIn("duplicates dropped", text)
        time.sleep(2)
        self.assertEqual(w.pushed_tags(), ["1.1.0"])
        self.assertEqual(len(w.log()), 2)
        # What the daemon says about it.
        pol = d.status("ImagePolicy")
        self.assertEqual(pol["latestRef"]["tag"], "1.1.0")
        self.assertEqual(pol["ready"], "True")
        auto = d.status("ImageUpdateAutomation", "auto")
        self.assertEqual(auto["lastPushCommit"],
                         git("--git-dir", w.bare, "rev-parse", "main"))
        reasons = [e["reason"] for e in d.events()]
        self.assertIn("Pushed", reasons)
        self.assertIn("LatestImageChanged", reasons)

    def test_metrics_parse_as_prometheus_text(self):
        w, d = self.world, self.daemon
        w.push("1.2.0")
        wait_for("the commit", lambda: w.pushed_tags() == ["1.2.0"])
        status, text = http(d.base + "/metrics")
        self.assertEqual(status, 200)
        names = {f.name: f for f in text_string_to_metric_families(text)}
        for want in ("ferry_scans", "ferry_scan_duration_seconds",
                     "ferry_tags", "ferry_policy_changes", "ferry_commits",
                     "ferry_pushes", "ferry_webhook_requests",
                     "ferry_queue_depth", "ferry_reconcile_duration_seconds",
                     "ferry_registry_requests", "ferry_build_info"):
            self.assertIn(want, names)
        commits = [s.value for s in names["ferry_commits"].samples
                   if s.name == "ferry_commits_total"]
        self.assertEqual(commits, [1.0])
        self.assertEqual(http(d.base + "/healthz")[0], 200)
        self.assertEqual(http(d.base + "/readyz")[0], 200)

    def test_refused_requests_trigger_nothing(self):
        w, d = self.world, self.daemon
        digests = w.push("3.0.0")
        wait_for("the commit", lambda: w.pushed_tags() == ["3.0.0"])
        body = envelope(f"team/{w.name}", "9.9.9", digests["3.0.0"], "x1")
        hdr = {"Content-Type": "application/json"}
        # wrong token
        self.assertEqual(http(d.base + hook_path(), "POST", body,
                              dict(hdr, Authorization="Bearer nope"))[0],
                         401)
        # unknown path
        self.assertEqual(http(d.base + "/hook/" + "0" * 64, "POST", body,
                              hdr)[0], 404)
        # over 3 MiB
        big = b"{" + b" " * (3 << 20) + b"}"
        self.assertEqual(http(d.base + hook_path(), "POST", big,
                              dict(hdr, Authorization=f"Bearer {TOKEN}"))[0],
                         413)
        # malformed JSON
        self.assertEqual(http(d.base + hook_path(), "POST", b"{nope",
                              dict(hdr, Authorization=f"Bearer {TOKEN}"))[0],
                         400)
        # Argo CD Image Updater's endpoint without its secret
        self.assertEqual(http(d.base + "/webhook?type=docker.io", "POST",
                              b"{}", hdr)[0], 401)
        time.sleep(1)
        self.assertEqual(w.pushed_tags(), ["3.0.0"])


class Control(unittest.TestCase):
    def setUp(self):
        self.world = World(notify=False)
        self.daemon = Daemon(self.world).start()

    def tearDown(self):
        self.daemon.stop()
        self.world.close()

    def test_reconcile_with_source_runs_scan_policy_and_push(self):
        w, d = self.world, self.daemon
        wait_for("the first run", lambda: d.status(
            "ImageUpdateAutomation", "auto")["ready"] == "True")
        w.push("1.5.0")  # no notifications here: polling is at 1h
        time.sleep(1)
        self.assertEqual(w.pushed_tags(), [])
        r = d.ferry("reconcile", "iua", "auto", "-n", "flux-system",
                    "--with-source")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertIn("ImageUpdateAutomation", r.stdout)
        self.assertEqual(w.pushed_tags(), ["1.5.0"])
        # get as a table, and as JSON
        r = d.ferry("get", "-n", "flux-system", check=True)
        self.assertIn("flux-system/app", r.stdout)
        self.assertIn(f"{w.image}:1.5.0", r.stdout)
        self.assertEqual(d.status("ImagePolicy")["latestRef"]["tag"],
                         "1.5.0")
        r = d.ferry("get", "nonsense")
        self.assertEqual(r.returncode, 2)

    def test_a_suspended_automation_pushes_only_after_resume(self):
        w, d = self.world, self.daemon
        wait_for("the first run", lambda: d.status(
            "ImageUpdateAutomation", "auto")["ready"] == "True")
        r = d.ferry("suspend", "iua", "auto", "-n", "flux-system")
        self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
        self.assertTrue(d.status("ImageUpdateAutomation", "auto")
                        ["suspended"])
        w.push("1.6.0")
        d.ferry("reconcile", "ir", "app", "-n", "flux-system", check=True)
        wait_for("the policy", lambda: d.status("ImagePolicy")
                 ["latestRef"]["tag"] == "1.6.0")
        time.sleep(1)
        self.assertEqual(w.pushed_tags(), [])
        d.ferry("resume", "iua", "auto", "-n", "flux-system", check=True)
        wait_for("the push after resume",
                 lambda: w.pushed_tags() == ["1.6.0"])
        r = d.ferry("events", check=True)
        self.assertIn("Suspended", r.stdout)
        self.assertIn("Resumed", r.stdout)

    def test_get_without_a_daemon_says_how_to_start_one(self):
        d = self.daemon
        d.stop()
        r = d.ferry("get")
        self.assertEqual(r.returncode, 1)
        self.assertIn("no daemon answered", r.stderr)
        self.assertIn("ferry run -f", r.stderr)


class Tls(unittest.TestCase):
    def test_the_listener_serves_https_with_the_given_certificate(self):
        world = World(notify=False)
        certs = os.path.join(world.dir, "tls")
        os.makedirs(certs)
        key, crt = os.path.join(certs, "key.pem"), os.path.join(
            certs, "cert.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "ec",
                        "-pkeyopt", "ec_paramgen_curve:prime256v1",
                        "-nodes", "-keyout", key, "-out", crt, "-days", "2",
                        "-subj", "/CN=localhost",
                        "-addext", "subjectAltName=IP:127.0.0.1"],
                       check=True, capture_output=True)
        d = Daemon(world, "--tls-cert", crt, "--tls-key", key).start()
        try:
            self.assertIn("tls=yes", d.log())
            url = f"https://127.0.0.1:{world.port}/healthz"
            ok = subprocess.run(["curl", "-sS", "--cacert", crt, url],
                                capture_output=True, text=True)
            self.assertEqual(ok.stdout, "ok\n", ok.stderr)
            # plain HTTP on the TLS port gets nothing useful
            plain = subprocess.run(
                ["curl", "-sS", "-m", "5",
                 f"http://127.0.0.1:{world.port}/healthz"],
                capture_output=True, text=True)
            self.assertNotEqual(plain.stdout, "ok\n")
        finally:
            d.stop()
            world.close()


class Lifecycle(unittest.TestCase):
    def setUp(self):
        self.world = World(notify=False)
        self.daemon = Daemon(self.world)

    def tearDown(self):
        self.daemon.stop()
        self.world.close()

    def test_sighup_with_a_broken_configuration_keeps_the_old_one(self):
        w, d = self.world, self.daemon.start()
        wait_for("the first scan", lambda: d.status("ImageRepository"))
        w.write_config(w.objects + "---\napiVersion: image.toolkit.fluxcd."
                       "io/v1\nkind: ImagePolicy\nmetadata: {name: bad}\n"
                       "spec: {policy: {semver: {range: '>>1'}}}\n")
        d.send(signal.SIGHUP)
        wait_for("the refusal", lambda: "event=reload_refused" in d.log())
        self.assertIsNone(d.proc.poll())
        self.assertEqual(http(d.base + "/healthz")[0], 200)
        self.assertEqual(len(d.get()["objects"]), 3)
        # A valid change takes effect: a second repository appears.
        w.write_config(w.objects + "---\napiVersion: image.toolkit.fluxcd."
                       "io/v1\nkind: ImageRepository\nmetadata: "
                       "{name: second, namespace: flux-system}\n"
                       f"spec: {{image: '{w.image}', interval: 1h, "
                       "insecure: true}\n")
        d.send(signal.SIGHUP)
        wait_for("the reload", lambda: "event=reloaded" in d.log())
        wait_for("the new object's scan", lambda: (d.status(
            "ImageRepository", "second") or {}).get("ready") == "True")
        # ... and a removed one goes away.
        w.write_config(w.objects)
        d.send(signal.SIGHUP)
        wait_for("the removal", lambda: d.status(
            "ImageRepository", "second") is None)

    def test_sigterm_exits_0_and_a_restart_resumes_without_pushing_again(self):
        w, d = self.world, self.daemon.start()
        w.push("2.0.0")
        d.ferry("reconcile", "iua", "auto", "-n", "flux-system",
                "--with-source", check=True)
        self.assertEqual(w.pushed_tags(), ["2.0.0"])
        self.assertEqual(d.stop(signal.SIGTERM), 0)
        self.assertIn("event=stopped", d.log())
        d.start()
        wait_for("the runs after restart", lambda: d.status(
            "ImageUpdateAutomation", "auto")["ready"] == "True")
        self.assertEqual(d.status("ImagePolicy")["latestRef"]["tag"],
                         "2.0.0")
        time.sleep(1)
        self.assertEqual(w.pushed_tags(), ["2.0.0"])

    def test_a_stopped_registry_backs_off_and_recovers(self):
        w = self.world
        d = self.daemon
        d.args = ["--retry-min", "200ms", "--retry-max", "1s"]
        d.start()
        wait_for("the first scan", lambda: (d.status("ImageRepository")
                                            or {}).get("ready") == "True")
        w.tb.stop_registry("noauth")
        r = d.ferry("reconcile", "ir", "app", "-n", "flux-system")
        self.assertEqual(r.returncode, 1, r.stdout + r.stderr)
        st = d.status("ImageRepository")
        self.assertEqual(st["ready"], "False")
        self.assertIn("tag list", st["message"])
        wait_for("a retry", lambda: d.log().count("event=retry_scheduled "
                                                  "kind=ImageRepository") >= 2)
        # It keeps serving, and the last good list stays.
        self.assertEqual(http(d.base + "/healthz")[0], 200)
        self.assertEqual(d.status("ImagePolicy")["latestRef"]["tag"],
                         "1.0.0")
        w.tb.start_registry("noauth")
        w.push("2.1.0")
        wait_for("recovery by backoff", lambda: w.pushed_tags() == ["2.1.0"],
                 timeout=90)
        self.assertEqual(d.status("ImageRepository")["ready"], "True")
        self.assertIn("ScanFailed", [e["reason"] for e in d.events()])


class Faults(unittest.TestCase):
    def test_a_remote_that_rejects_pushes_fails_and_recovers(self):
        world = World(notify=False, remote="http")
        d = Daemon(world, "--retry-min", "200ms", "--retry-max", "1s")
        try:
            hook = os.path.join(world.bare, "hooks", "pre-receive")
            with open(hook, "w") as f:
                f.write("#!/bin/sh\necho 'rejected by policy' >&2\nexit 1\n")
            os.chmod(hook, 0o755)
            world.push("4.0.0")
            d.start()
            wait_for("the failure", lambda: "AutomationFailed" in [
                e["reason"] for e in d.events()])
            st = d.status("ImageUpdateAutomation", "auto")
            self.assertEqual(st["ready"], "False")
            self.assertEqual(world.pushed_tags(), [])
            self.assertEqual(http(d.base + "/healthz")[0], 200)
            os.remove(hook)
            wait_for("the push after the retry",
                     lambda: world.pushed_tags() == ["4.0.0"])
            time.sleep(1)
            self.assertEqual(world.pushed_tags(), ["4.0.0"])
        finally:
            d.stop()
            world.close()

    def test_kill_9_during_write_back_then_restart_pushes_each_tag_once(self):
        world = World(notify=False)
        d = Daemon(world)
        rounds = int(os.environ.get("FERRY_TEST_KILL_ROUNDS", "8"))
        rng = random.Random(4711)
        try:
            d.start()
            for i in range(rounds):
                tag = f"5.{i}.0"
                world.push(tag)
                # Ask for the run and kill the daemon at a random moment
                # of it (the write-back takes tens of ms here).
                ask = subprocess.Popen(
                    [FERRY, "reconcile", "iua", "auto", "-n", "flux-system",
                     "--with-source", "--state-dir", world.state],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
                time.sleep(rng.uniform(0.0, 0.15))
                d.kill()
                ask.wait()
                d.start()
                d.ferry("reconcile", "iua", "auto", "-n", "flux-system",
                        "--with-source", check=True)
                self.assertEqual(world.pushed_tags()[0], tag)
            # One commit per tag, each exactly once, in order.
            want = [f"5.{i}.0" for i in range(rounds)]
            self.assertEqual(list(reversed(world.pushed_tags())), want)
            # The state directory reads back.
            self.assertEqual(d.status("ImagePolicy")["latestRef"]["tag"],
                             want[-1])
            self.assertNotIn("state_unreadable", d.log())
        finally:
            d.stop()
            world.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
