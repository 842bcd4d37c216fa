"""testbed.py run stops what it started, however the command ends.

Runs the harness itself (not under it)."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import unittest
import urllib.parse

from common import HARNESS, main, port_open, testbed

DUMP_ENV = """
import json, os, sys, time
env = {k: v for k, v in os.environ.items() if k.startswith("FERRY_TEST_")}
env["CMD_PID"] = os.getpid()
with open(sys.argv[1] + ".tmp", "w") as f:
    json.dump(env, f)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
if sys.argv[2] == "sleep":
    time.sleep(120)
sys.exit(int(sys.argv[2]))
"""

ALL = ["--registry", "noauth", "--registry", "token", "--git-http", "--sshd"]


def ports(env):
    out = [int(env["FERRY_TEST_REGISTRY_NOAUTH"].rsplit(":", 1)[1]),
           int(env["FERRY_TEST_REGISTRY_TOKEN"].rsplit(":", 1)[1]),
           urllib.parse.urlsplit(env["FERRY_TEST_TOKEN_REALM"]).port,
           urllib.parse.urlsplit(env["FERRY_TEST_GIT_HTTP"]).port,
           int(env["FERRY_TEST_SSH_PORT"])]
    return out


class HarnessCleanup(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.mkdtemp(prefix="ferry-cleanup-test-")
        self.dump = os.path.join(self.scratch, "env.json")

    def tearDown(self):
        shutil.rmtree(self.scratch, ignore_errors=True)

    def harness(self, servers, exit_code, env=None):
        return subprocess.Popen(
            [sys.executable, HARNESS, "run", *servers, "--", sys.executable,
             "-c", DUMP_ENV, self.dump, exit_code],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            env=env)

    def read_dump(self):
        with open(self.dump) as f:
            return json.load(f)

    def assert_all_stopped(self, env):
        pids = {int(p) for p in env["FERRY_TEST_PIDS"].split()}
        self.assertEqual(len(pids), 5)  # 2 registries, fcgiwrap, nginx, sshd
        self.assertEqual(testbed.pids_alive(pids), set())
        self.assertEqual(testbed._family(pids), set())
        for port in ports(env):
            self.assertFalse(port_open(port), f"port {port} still open")
        self.assertFalse(os.path.exists(env["FERRY_TEST_TMP"]))

    def test_servers_stop_when_the_wrapped_command_fails(self):
        proc = self.harness(ALL, "3")
        out, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 3, err)
        self.assert_all_stopped(self.read_dump())

    def test_servers_stop_when_the_harness_gets_sigterm(self):
        proc = self.harness(ALL, "sleep")
        deadline = time.monotonic() + 30
        while not os.path.exists(self.dump) and time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "harness exited early")
            time.sleep(0.05)
        env = self.read_dump()
        for port in ports(env):
            self.assertTrue(port_open(port), f"port {port} not open")
        proc.send_signal(signal.SIGTERM)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 128 + signal.SIGTERM, err)
        self.assert_all_stopped(env)

    def test_servers_stop_when_the_harness_is_killed(self):
        proc = self.harness(ALL, "sleep")
        deadline = time.monotonic() + 30
        while not os.path.exists(self.dump) and time.monotonic() < deadline:
            self.assertIsNone(proc.poll(), "harness exited early")
            time.sleep(0.05)
        env = self.read_dump()
        proc.kill()  # SIGKILL: only its janitor can clean up now
        proc.wait(timeout=60)
        # the wrapped command was the harness's child: end it ourselves
        os.kill(env["CMD_PID"], signal.SIGKILL)
        proc.communicate(timeout=60)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if not testbed._family(
                    {int(p) for p in env["FERRY_TEST_PIDS"].split()}):
                break
            time.sleep(0.05)
        while (os.path.exists(env["FERRY_TEST_TMP"])
               and time.monotonic() < deadline):
            time.sleep(0.05)
        self.assert_all_stopped(env)

    def test_a_server_that_fails_to_start_is_reported_with_its_log(self):
        bindir = os.path.join(self.scratch, "bin")
        os.mkdir(bindir)
        fake = os.path.join(bindir, "docker-registry")
        with open(fake, "w") as f:
            f.write("#!/bin/sh\necho 'configuration error: no such thing' >&2"
                    "\nexit 1\n")
        os.chmod(fake, 0o755)
        env = dict(os.environ, PATH=bindir + ":" + os.environ["PATH"])
        proc = self.harness(["--registry", "noauth"], "0", env=env)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, testbed.SETUP_FAILED)
        self.assertIn("configuration error: no such thing", err)
        self.assertFalse(os.path.exists(self.dump))

    def test_a_port_taken_meanwhile_is_retried_on_another(self):
        taken = socket.socket()
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        ports = [port]
        real = testbed.free_port
        testbed.free_port = lambda: ports.pop() if ports else real()
        try:
            with testbed.Testbed(registries=["noauth"]) as tb:
                host = tb.registry["noauth"]
                with open(os.path.join(tb.tmp, "logs",
                                       "registry-noauth.log")) as f:
                    log = f.read()
                self.assertEqual(tb.push_image("noauth", "a/b", ["v"])[0][0],
                                 "v")
        finally:
            testbed.free_port = real
            taken.close()
        self.assertNotEqual(host, f"127.0.0.1:{port}")
        self.assertIn("address already in use", log)

    def test_keep_leaves_the_temp_dir_in_place(self):
        env = dict(os.environ, FERRY_TEST_KEEP="1")
        proc = self.harness(["--registry", "noauth"], "0", env=env)
        _, err = proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0, err)
        tmp = self.read_dump()["FERRY_TEST_TMP"]
        try:
            self.assertIn(tmp, err)
            self.assertTrue(os.path.exists(
                os.path.join(tmp, "logs", "registry-noauth.log")))
        finally:
            shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
