"""Shared helpers for the integration tests (run by /usr/bin/python3).

Tests run under `testbed.py run ...`, which exports FERRY_TEST_*; see
tests/harness/README.md.  This module puts the harness on sys.path."""

import json
import os
import socket
import subprocess
import sys
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
HARNESS = os.path.join(os.path.dirname(HERE), "harness", "testbed.py")
sys.path.insert(0, os.path.dirname(HARNESS))

import testbed  # noqa: E402  (needs the path above)

__all__ = ["HARNESS", "testbed", "need", "run", "git", "git_env", "push_cli",
           "curl", "curl_json", "port_open", "main"]

GIT_ENV = {
    "GIT_AUTHOR_NAME": "Integration Test",
    "GIT_AUTHOR_EMAIL": "it@example.invalid",
    "GIT_COMMITTER_NAME": "Integration Test",
    "GIT_COMMITTER_EMAIL": "it@example.invalid",
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_CONFIG_GLOBAL": "/dev/null",
}


def need(name):
    """The value of a FERRY_TEST_* variable; fails when it is missing."""
    value = os.environ.get(name)
    if not value:
        raise AssertionError(f"{name} is not set: run under testbed.py run")
    return value


def run(argv, check=True, env=None, input=None):
    """Runs argv, capturing text output; raises with it on failure."""
    r = subprocess.run(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                       env=env, input=input, text=True)
    if check and r.returncode != 0:
        raise AssertionError(f"{argv} -> {r.returncode}\n{r.stdout}{r.stderr}")
    return r


def git_env(**extra):
    env = dict(os.environ, **GIT_ENV)
    env.update(extra)
    return env


def git(*args, check=True, env=None):
    return run(["git", *args], check=check, env=env or git_env())


def push_cli(*args):
    """testbed.py push-image ARGS; returns [(tag, digest, created)]."""
    r = run([sys.executable, HARNESS, "push-image", *args])
    return [tuple(line.split("\t")) for line in r.stdout.splitlines()]


def curl(*args):
    """Runs curl; returns (status, headers with lower-case names, body)."""
    r = run(["curl", "-sS", "-D", "-", "-w", "\n%{http_code}", *args])
    out, _, code = r.stdout.rpartition("\n")
    head, _, body = out.replace("\r\n", "\n").partition("\n\n")
    # curl may print several header blocks (e.g. 100 Continue): keep the last
    while body.startswith("HTTP/"):
        head, _, body = body.partition("\n\n")
    headers = {}
    for line in head.splitlines()[1:]:
        k, _, v = line.partition(":")
        headers[k.strip().lower()] = v.strip()
    return int(code), headers, body


def curl_json(*args):
    code, headers, body = curl(*args)
    return code, headers, (json.loads(body) if body.strip() else None)


def port_open(port):
    """Whether something accepts TCP connections on 127.0.0.1:port."""
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1):
            return True
    except OSError:
        return False


def main():
    unittest.main(verbosity=2)
