"""Helpers for the fleet tests and bench: a real etcd cluster (Debian's
etcd 3.4) on loopback ports, and a world of ImageRepositories, policies
and Git remotes served by several `ferry run` daemons.

Each etcd member and each daemon is a process of its own; everything is
stopped by close().  Debian's /usr/bin/python3."""

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "harness"))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]


def wait_for(what, probe, timeout=60.0, step=0.05):
    end = time.monotonic() + timeout
    while True:
        got = probe()
        if got:
            return got
        if time.monotonic() > end:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(step)


def git(*args):
    return subprocess.run(["git", "-c", "safe.directory=*", *args],
                          capture_output=True, text=True,
                          check=True).stdout


class Etcd:
    """A cluster of n etcd members on loopback ports."""

    def __init__(self, root, n=3):
        self.root = root
        self.n = n
        self.client = [testbed.free_port() for _ in range(n)]
        self.peer = [testbed.free_port() for _ in range(n)]
        self.procs = [None] * n
        self.paused = set()
        cluster = ",".join(f"e{i}=http://127.0.0.1:{self.peer[i]}"
                           for i in range(n))
        self.args = []
        for i in range(n):
            self.args.append([
                "etcd", "--name", f"e{i}",
                "--data-dir", os.path.join(root, f"etcd{i}"),
                "--listen-client-urls", f"http://127.0.0.1:{self.client[i]}",
                "--advertise-client-urls",
                f"http://127.0.0.1:{self.client[i]}",
                "--listen-peer-urls", f"http://127.0.0.1:{self.peer[i]}",
                "--initial-advertise-peer-urls",
                f"http://127.0.0.1:{self.peer[i]}",
                "--initial-cluster", cluster,
                "--initial-cluster-state", "new",
                "--initial-cluster-token", "ferry-test",
                "--heartbeat-interval", "50", "--election-timeout", "500"])
        for i in range(n):
            self.start(i)
        wait_for("etcd to elect a leader", self.healthy, timeout=30)

    def endpoints(self):
        return ",".join(f"http://127.0.0.1:{p}" for p in self.client)

    def start(self, i):
        with open(os.path.join(self.root, f"etcd{i}.log"), "a") as log:
            self.procs[i] = subprocess.Popen(self.args[i], stdout=log,
                                             stderr=log,
                                             start_new_session=True)
        self.paused.discard(i)

    def stop(self, i, sig=signal.SIGKILL):
        p = self.procs[i]
        if p and p.poll() is None:
            p.send_signal(sig)
            p.wait()
        self.procs[i] = None
        self.paused.add(i)  # keys() asks the others

    def pause(self, i):
        """Freezes member i (SIGSTOP): its port still takes connections
        and nothing answers, as with a hung process or a lost host."""
        self.procs[i].send_signal(signal.SIGSTOP)
        self.paused.add(i)

    def healthy(self):
        for p in self.client:
            r = subprocess.run(
                ["etcdctl", "--endpoints", f"127.0.0.1:{p}",
                 "--command-timeout", "1s", "endpoint", "health"],
                capture_output=True, text=True,
                env=dict(os.environ, ETCDCTL_API="3"))
            if r.returncode == 0:
                return True
        return False

    def keys(self, prefix):
        live = ",".join(f"http://127.0.0.1:{p}"
                        for i, p in enumerate(self.client)
                        if i not in self.paused)
        r = subprocess.run(
            ["etcdctl", "--endpoints", live, "get", "--prefix",
             prefix, "-w", "json"], capture_output=True, text=True,
            env=dict(os.environ, ETCDCTL_API="3"), check=True)
        import base64
        out = {}
        for kv in json.loads(r.stdout).get("kvs", []):
            out[base64.b64decode(kv["key"]).decode()] = \
                base64.b64decode(kv.get("value", "")).decode()
        return out

    def close(self):
        for i in range(self.n):
            self.stop(i)


class World:
    """REPOS ImageRepositories (one real repository, the rest symlinks to
    it in the registry's storage), one ImagePolicy each, REMOTES bare Git
    repositories with one ImageUpdateAutomation each; automation k selects
    the policies of repositories k, k+REMOTES, k+2*REMOTES, ...  Repository
    r0k's tags are pushed for real (a failover moves them)."""

    def __init__(self, repos=30, remotes=3, interval="1h"):
        self.tb = testbed.Testbed(registries=["noauth"])
        self.tb.start()
        self.dir = tempfile.mkdtemp(prefix="fleet-", dir=self.tb.tmp)
        self.reg = self.tb.registry["noauth"]
        self.repos, self.remotes = repos, remotes
        (_, digest, _), = self.tb.push_image("noauth", "fleet/base",
                                             ["1.0.0"])
        base = os.path.join(self.tb.storage["noauth"],
                            "docker/registry/v2/repositories/fleet")
        # Remote k's own repository is real (tags are pushed to it); the
        # others share one repository's tags through symlinks.
        for k in range(remotes):
            self.tb.push_image("noauth", f"fleet/live{k}", ["1.0.0"])
        for i in range(repos):
            if i >= remotes:
                os.symlink("base", os.path.join(base, f"r{i}"))
        docs, self.bares = [], []
        for k in range(remotes):
            src = os.path.join(self.dir, f"src{k}", "deploy")
            os.makedirs(src)
            with open(os.path.join(src, "app.yaml"), "w") as f:
                for i in range(k, repos, remotes):
                    f.write(f"image{i}: {self.image(i)}:1.0.0 # "
                            f"{{\"$imagepolicy\": \"fleet:p{i}\"}}\n")
            bare = os.path.join(self.dir, f"remote{k}.git")
            testbed.git_init(bare, files=os.path.dirname(src), branch="main")
            self.bares.append(bare)
            docs.append(textwrap.dedent(f"""\
                apiVersion: source.toolkit.fluxcd.io/v1
                kind: GitRepository
                metadata: {{name: g{k}, namespace: fleet}}
                spec: {{interval: 1h, url: 'file://{bare}', ref: {{branch: main}}}}
                ---
                apiVersion: image.toolkit.fluxcd.io/v1
                kind: ImageUpdateAutomation
                metadata: {{name: a{k}, namespace: fleet}}
                spec:
                  interval: {interval}
                  sourceRef: {{kind: GitRepository, name: g{k}}}
                  policySelector: {{matchLabels: {{remote: "{k}"}}}}
                  git:
                    commit:
                      author: {{name: ferry, email: bot@example.invalid}}
                      messageTemplate: 'update{{{{range .Changed.Changes}}}} {{{{.NewValue}}}}{{{{end}}}}'
                  update: {{path: ./deploy, strategy: Setters}}
                """))
        for i in range(repos):
            docs.append(textwrap.dedent(f"""\
                apiVersion: image.toolkit.fluxcd.io/v1
                kind: ImageRepository
                metadata: {{name: r{i}, namespace: fleet}}
                spec: {{image: '{self.image(i)}', interval: {interval}, insecure: true}}
                ---
                apiVersion: image.toolkit.fluxcd.io/v1
                kind: ImagePolicy
                metadata: {{name: p{i}, namespace: fleet, labels: {{remote: "{i % remotes}"}}}}
                spec:
                  imageRepositoryRef: {{name: r{i}}}
                  policy: {{semver: {{range: '>=1.0.0'}}}}
                """))
        self.config = os.path.join(self.dir, "flux.yaml")
        with open(self.config, "w") as f:
            f.write("---\n".join(docs))

    def image(self, i):
        if i < self.remotes:
            return f"{self.reg}/fleet/live{i}"
        return f"{self.reg}/fleet/r{i}"

    def push(self, k, tag):
        """Pushes a tag to remote k's own repository."""
        self.tb.push_image("noauth", f"fleet/live{k}", [tag], distinct=True)

    def commits(self, k):
        """The subjects of remote k's commits by ferry, oldest first."""
        out = git("--git-dir", self.bares[k], "log", "--format=%s", "main")
        return [s for s in reversed(out.splitlines())
                if s.startswith("update")]

    def close(self):
        self.tb.stop()


class Member:
    """One `ferry run` of the fleet."""

    def __init__(self, world, etcd, name, ttl="3s", extra=()):
        self.world, self.etcd, self.name = world, etcd, name
        self.state = os.path.join(world.dir, "state-" + name)
        self.logpath = os.path.join(world.dir, name + ".log")
        self.args = [FERRY, "run", "-f", world.config, "--state-dir",
                     self.state, "--listen", "off", "--etcd-endpoints",
                     etcd.endpoints(), "--member-id", name, "--lease-ttl",
                     ttl, "--retry-min", "200ms", "--retry-max", "2s",
                     *extra]
        self.proc = None

    def start(self):
        with open(self.logpath, "a") as log:
            log.write("---- start\n")
            log.flush()
            self.proc = subprocess.Popen(self.args, stdout=log, stderr=log,
                                         stdin=subprocess.DEVNULL)
        wait_for(f"{self.name} to start",
                 lambda: "event=started" in self.log().rsplit(
                     "---- start\n", 1)[-1] or self.proc.poll() is not None)
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.name} exited:\n{self.log()}")
        return self

    def log(self):
        with open(self.logpath, errors="replace") as f:
            return f.read()

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def kill(self):
        if self.alive():
            self.proc.kill()
            self.proc.wait()

    def signal(self, sig):
        self.proc.send_signal(sig)

    def stop(self):
        if self.alive():
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=40)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def ferry(self, *args, timeout=60):
        return subprocess.run([FERRY, *args, "--state-dir", self.state],
                              capture_output=True, text=True,
                              timeout=timeout)

    def objects(self):
        r = self.ferry("get", "-o", "json")
        if r.returncode != 0:
            return None
        return json.loads(r.stdout)


def owner_of_remote(etcd_cluster, world, k):
    """The member holding remote k's owner key in etcd, or None."""
    import hashlib
    unit = f"git:file://{world.bares[k]}"
    key = "/ferry/ferry/owners/" + hashlib.sha256(unit.encode()).hexdigest()
    return etcd_cluster.keys(key).get(key)


def cleanup_dir(path):
    shutil.rmtree(path, ignore_errors=True)
