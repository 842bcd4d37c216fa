#!/usr/bin/python3
"""Several daemons, one fleet: a real three-member etcd cluster (Debian's
etcd 3.4) on loopback ports and three `ferry run` members over
ImageRepositories, policies and bare Git remotes.

  - every object has exactly one owner, and the work is shared;
  - `ferry reconcile` may ask any member: what another member owns is
    handed to it, inputs included;
  - killing the member that owns a remote in the middle of its write-back
    hands the remote to another member, and the update lands exactly once;
  - a member paused past its lease does not push when it wakes, and says so;
  - etcd faults: one etcd member hung changes nothing; all of them down
    stops pushes (status is still served), and work resumes after.

FERRY_FLEET_KILLS sets the number of kill rounds (default 5; the bench in
bench/fleet runs 20)."""

import os
import random
import signal
import subprocess
import tempfile
import time
import unittest

from fleet import (FERRY, Etcd, Member, World, owner_of_remote, wait_for)

TTL = 3  # seconds: failover waits for the lease


def all_owned(members, nobjects):
    """Every member's `ferry get` lists nobjects objects, each with an
    owner, and they all agree; returns {object: owner} or None."""
    seen = None
    for m in members:
        doc = m.objects()
        if doc is None or len(doc["objects"]) != nobjects:
            return None
        owners = {(o["kind"], o["name"]): o.get("owner")
                  for o in doc["objects"]}
        if None in owners.values() or "" in owners.values():
            return None
        if seen is not None and owners != seen:
            return None
        seen = owners
    return seen


class Fleet(unittest.TestCase):
    def setUp(self):
        self.world = None
        self.etcd = None
        self.members = []

    def tearDown(self):
        for m in self.members:
            m.stop()
        if self.etcd:
            self.etcd.close()
        if self.world:
            self.world.close()

    def start(self, repos, remotes, n=3):
        self.world = World(repos=repos, remotes=remotes)
        self.etcd = Etcd(tempfile.mkdtemp(dir=self.world.dir, prefix="e"))
        self.members = [Member(self.world, self.etcd, f"m{i}",
                               ttl=f"{TTL}s").start() for i in range(n)]

    def test_every_object_has_one_owner_and_the_work_is_shared(self):
        self.start(repos=300, remotes=30)
        nobj = 300 + 300 + 30
        owners = wait_for("every object owned and agreed on",
                          lambda: all_owned(self.members, nobj),
                          timeout=120, step=0.5)
        counts = {}
        for o in owners.values():
            counts[o] = counts.get(o, 0) + 1
        self.assertEqual(set(counts), {"m0", "m1", "m2"})
        for m, c in counts.items():
            share = c / nobj
            self.assertTrue(0.25 <= share <= 0.42,
                            f"{m} owns {c} of {nobj} ({share:.0%})")
        # A policy belongs with its repository (it reads the scan's tags).
        for i in range(300):
            self.assertEqual(owners[("ImagePolicy", f"p{i}")],
                             owners[("ImageRepository", f"r{i}")])
        # Each remote's owner key in etcd names the member every member
        # reports, and the remote's automation is run there only.
        for k in (0, 7, 29):
            want = owners[("ImageUpdateAutomation", f"a{k}")]
            wait_for(f"remote {k} claimed",
                     lambda: owner_of_remote(self.etcd, self.world, k)
                     == want)
        # Every member's status shows the whole fleet, ready.
        doc = self.members[1].objects()
        self.assertEqual(sorted(m["id"] for m in doc["members"]),
                         ["m0", "m1", "m2"])

    def test_a_reconcile_asked_of_any_member_runs_where_it_is_owned(self):
        self.start(repos=12, remotes=12)
        w = self.world
        owners = wait_for("ownership settles",
                          lambda: all_owned(self.members, 12 + 12 + 12),
                          timeout=90, step=0.5)

        def ask(member, k, tag):
            w.push(k, tag)
            r = member.ferry("reconcile", "iua", f"a{k}", "-n", "fleet",
                             "--with-source")
            self.assertEqual(r.returncode, 0, r.stdout + r.stderr)
            wait_for(f"{tag} in remote {k}",
                     lambda: any(c.endswith(f"live{k}:{tag}")
                                 for c in w.commits(k)))
            return r.stderr

        # Remote k's automation is one member's, the scan and the policy
        # it reads another's: asked of the automation's owner, the inputs
        # run on theirs (the new tag is found there) and the push follows.
        k = next(k for k in range(w.remotes)
                 if owners[("ImageRepository", f"r{k}")] !=
                 owners[("ImageUpdateAutomation", f"a{k}")])
        scan = owners[("ImageRepository", f"r{k}")]
        auto = owners[("ImageUpdateAutomation", f"a{k}")]
        said = ask(next(m for m in self.members if m.name == auto), k,
                   "4.0.0")
        self.assertIn(f"ImageRepository fleet/r{k} handed to member "
                      f"'{scan}'", said)
        # Asked of a member that owns none of it: all of it is handed on.
        said = ask(next(m for m in self.members
                        if m.name not in (scan, auto)), k, "4.1.0")
        self.assertIn(f"ImageUpdateAutomation fleet/a{k} handed to member "
                      f"'{auto}'", said)

    def test_killing_the_owner_mid_write_back_lands_the_update_once(self):
        self.start(repos=30, remotes=3)
        w = self.world
        wait_for("ownership settles",
                 lambda: all_owned(self.members, 30 + 30 + 3), timeout=90,
                 step=0.5)
        rng = random.Random(2026)
        rounds = int(os.environ.get("FERRY_FLEET_KILLS", "5"))
        for r in range(rounds):
            k = r % w.remotes
            owner = wait_for(f"remote {k} owned",
                             lambda: owner_of_remote(self.etcd, w, k))
            victim = next(m for m in self.members if m.name == owner)
            tag = f"1.{r + 1}.0"
            w.push(k, tag)
            ask = subprocess.Popen(
                [FERRY, "reconcile", "iua", f"a{k}", "-n", "fleet",
                 "--with-source", "--state-dir", victim.state],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.15))
            victim.kill()
            ask.wait()
            # Another member takes the remote over after the lease.
            wait_for(f"round {r}: {tag} in remote {k}",
                     lambda: any(c.endswith(f"live{k}:{tag}")
                                 for c in w.commits(k)),
                     timeout=TTL * 4 + 30)
            victim.start()
        # A restarted victim takes units back with tag lists from before
        # its death: it must rescan, never move a policy backwards.
        wait_for("ownership settles after the last restart",
                 lambda: all_owned(self.members, 30 + 30 + 3), timeout=90,
                 step=0.5)
        time.sleep(TTL)
        for k in range(w.remotes):
            commits = w.commits(k)
            self.assertEqual(len(commits), len(set(commits)),
                             f"remote {k} has a doubled update: {commits}")
            tags = [c.rsplit(":", 1)[1] for c in commits]
            self.assertEqual(tags, sorted(tags, key=lambda t: tuple(
                int(x) for x in t.split("."))), commits)

    def test_a_paused_owner_does_not_push_when_it_wakes(self):
        self.start(repos=9, remotes=3, n=2)
        w = self.world
        wait_for("ownership settles",
                 lambda: all_owned(self.members, 9 + 9 + 3), timeout=90,
                 step=0.5)
        rng = random.Random(7)
        fenced = 0
        for r in range(6):
            k = r % w.remotes
            owner = wait_for(f"remote {k} owned",
                             lambda: owner_of_remote(self.etcd, w, k))
            old = next(m for m in self.members if m.name == owner)
            other = next(m for m in self.members if m is not old)
            tag = f"2.{r}.0"
            w.push(k, tag)
            before = len(old.log())
            ask = subprocess.Popen(
                [FERRY, "reconcile", "iua", f"a{k}", "-n", "fleet",
                 "--with-source", "--state-dir", old.state],
                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(rng.uniform(0.0, 0.08))
            old.signal(signal.SIGSTOP)
            # Past its lease, the other member takes the remote over and
            # pushes the update.
            wait_for(f"round {r}: the other member's push",
                     lambda: any(c.endswith(f"live{k}:{tag}")
                                 for c in w.commits(k)),
                     timeout=TTL * 4 + 30)
            old.signal(signal.SIGCONT)
            ask.wait(timeout=60)
            time.sleep(TTL)
            after = old.log()[before:]
            if ("event=pushed" not in after and
                    ("event=push_fenced" in after or
                     "event=lease_lost" in after)):
                fenced += 1
            # Whoever pushed, the update is there once.
            commits = w.commits(k)
            self.assertEqual(
                sum(c.endswith(f"live{k}:{tag}") for c in commits), 1,
                commits)
        # At least one pause landed before the push: that member then
        # did not push and said why.
        self.assertGreater(fenced, 0)

    def test_etcd_faults_stop_pushes_but_not_status(self):
        self.start(repos=9, remotes=3, n=2)
        w, e = self.world, self.etcd
        wait_for("ownership settles",
                 lambda: all_owned(self.members, 9 + 9 + 3), timeout=90,
                 step=0.5)
        # One etcd member down, the one the members talk to (the first
        # endpoint), and hung rather than gone: the fleet goes on.
        e.pause(0)
        w.push(0, "3.0.0")
        owner = next(m for m in self.members
                     if m.name == owner_of_remote(e, w, 0))
        owner.ferry("reconcile", "iua", "a0", "-n", "fleet",
                    "--with-source")
        wait_for("a push with one etcd member down",
                 lambda: w.commits(0) and w.commits(0)[-1].endswith(":3.0.0"))
        # The same member killed outright: the fleet goes on.
        e.stop(0)
        w.push(0, "3.0.1")
        owner.ferry("reconcile", "iua", "a0", "-n", "fleet",
                    "--with-source")
        wait_for("a push with one etcd member killed",
                 lambda: w.commits(0)[-1].endswith(":3.0.1"))
        # All of them down: no pushes, status still served, clear logs.
        for i in range(3):
            e.stop(i)
        w.push(1, "3.1.0")
        for m in self.members:
            m.ferry("reconcile", "iua", "a1", "-n", "fleet",
                    "--with-source", timeout=60)
        time.sleep(TTL * 2)
        self.assertFalse(any(c.endswith(":3.1.0") for c in w.commits(1)))
        for m in self.members:
            self.assertTrue(m.alive())
            self.assertIsNotNone(m.objects())
            wait_for(f"{m.name} says etcd is gone",
                     lambda: "event=lease_lost" in m.log() or
                     "event=unavailable" in m.log())
        # etcd back: the work resumes without a restart.
        for i in range(3):
            e.start(i)
        wait_for("the push after etcd returns",
                 lambda: any(c.endswith(":3.1.0") for c in w.commits(1)),
                 timeout=90)
        self.assertEqual(sum(c.endswith(":3.1.0") for c in w.commits(1)), 1)


if __name__ == "__main__":
    unittest.main(verbosity=2)
