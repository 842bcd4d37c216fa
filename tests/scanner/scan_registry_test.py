#!/usr/bin/python3
"""Integration test: `ferry scan` against the real registry (Debian's
docker-registry 2.8, started by tests/harness/testbed.py) in its three auth
configurations: none, htpasswd (Basic) and token (Bearer).

Repositories hold 1 to 3,000 tags; the tags, digests and creation times
ferry prints are checked against what the harness pushed.  Run as:

  testbed.py run --registry noauth --registry htpasswd --registry token -- \
      python3 scan_registry_test.py
"""

import base64
import json
import os
import subprocess
import sys
import tempfile
import time
import urllib.parse

ROOT = os.environ["FERRY_SOURCE_ROOT"]
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]
NOAUTH = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]
HTPASSWD = os.environ["FERRY_TEST_REGISTRY_HTPASSWD"]
TOKEN = os.environ["FERRY_TEST_REGISTRY_TOKEN"]
USER = os.environ["FERRY_TEST_REGISTRY_USER"]
PASSWORD = os.environ["FERRY_TEST_REGISTRY_PASSWORD"]
REALM = os.environ["FERRY_TEST_TOKEN_REALM"]
TMP = os.environ.get("FERRY_TEST_TMP") or tempfile.mkdtemp()

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def ferry(*args, stdin=None, env=None):
    e = dict(os.environ)
    e["DOCKER_CONFIG"] = os.path.join(TMP, "no-docker-config")
    e.update(env or {})
    p = subprocess.run([FERRY, "--log-level", "debug", "scan", *args],
                       input=stdin, capture_output=True, text=True,
                       env=e, timeout=300)
    return p.returncode, p.stdout, p.stderr


def docker_config(host, user, password):
    path = os.path.join(TMP, "config-%s.json" % host.replace(":", "_"))
    auth = base64.b64encode(("%s:%s" % (user, password)).encode()).decode()
    with open(path, "w") as f:
        json.dump({"auths": {"http://%s/v1/" % host: {"auth": auth}}}, f)
    return path


def expect_pushed(name, out, pushed, image, created=True):
    """out is -o json output for one image; pushed the harness's list."""
    lines = [json.loads(l) for l in out.splitlines() if l.strip()]
    check(len(lines) == 1, "%s: one JSON object, got %d" % (name, len(lines)))
    if not lines:
        return
    o = lines[0]
    check(o.get("image") == image, "%s: image field" % name)
    want = sorted((t, d, c) for (t, d, c) in pushed
                  if not t.endswith(".sig"))
    got_tags = o.get("tags", [])
    check(got_tags == sorted(t for t, _, _ in want),
          "%s: tags differ (%d vs %d)" % (name, len(got_tags), len(want)))
    details = {d["tag"]: d for d in o.get("details", [])}
    bad = [t for t, d, c in want
           if details.get(t, {}).get("digest") != d or
           (created and details.get(t, {}).get("created") != c)]
    check(not bad, "%s: digest/created differ for %s" % (name, bad[:5]))


def test_noauth_sizes():
    sizes = {"one/tag": 1, "some/tags": 57, "many/tags": 3000}
    pushed = {}
    for repo, n in sizes.items():
        tags = ["v%d.%d.%d" % (i // 100, (i // 10) % 10, i % 10)
                for i in range(n)]
        if n > 1:
            tags.append("sha256-%s.sig" % ("ab" * 32))
        # distinct digests cost a blob per tag: keep the 3,000 cheap
        pushed[repo] = testbed.push_image(NOAUTH, repo, tags,
                                          distinct=n < 1000,
                                          created_step=60 if n < 1000
                                          else None)
    images = ["%s/%s" % (NOAUTH, r) for r in sizes]
    # all three at once, text output
    rc, out, err = ferry("--insecure", *images)
    check(rc == 0, "noauth text: exit %d: %s" % (rc, err[-500:]))
    lines = out.splitlines()
    check(len(lines) == 1 + 57 + 3000,
          "noauth text: %d lines" % len(lines))
    check(all(l.count("\t") == 1 for l in lines), "noauth text: columns")
    check(lines == sorted(lines, key=lambda l: (
        images.index(l.split("\t")[0]), l.split("\t")[1].encode())),
        "noauth text: order (images as given, tags byte-wise)")
    check(not any(".sig" in l for l in lines), "noauth text: .sig excluded")
    # created and digests, checked against the push
    for repo in ("one/tag", "some/tags"):
        img = "%s/%s" % (NOAUTH, repo)
        rc, out, err = ferry("--insecure", "--created", "-o", "json", img)
        check(rc == 0, "noauth created %s: %s" % (repo, err[-300:]))
        expect_pushed("noauth created " + repo, out, pushed[repo], img)
    img = "%s/many/tags" % NOAUTH
    rc, out, err = ferry("--insecure", "-o", "json", img)
    check(rc == 0, "noauth json 3000: %s" % err[-300:])
    o = json.loads(out)
    check(o["name"] == img and o["tags"] == sorted(
        t for t, _, _ in pushed["many/tags"] if not t.endswith(".sig")),
        "noauth json 3000: tags differ")
    # own exclusion list replaces the default
    rc, out, err = ferry("--insecure", "--exclude", r"^v0\.", "--exclude",
                         "^v[12]", "%s/some/tags" % NOAUTH)
    check(rc == 0 and out.splitlines() == [
        "%s/some/tags\tsha256-%s.sig" % (NOAUTH, "ab" * 32)],
        "noauth exclusions: %r" % out[:200])


def test_noauth_index_and_docker_media():
    tags = testbed.push_image(NOAUTH, "multi/arch", ["1.0", "2.0"],
                              platforms="linux/amd64,linux/arm64/v8",
                              attestation=True, created_step=3600)
    img = "%s/multi/arch" % NOAUTH
    rc, out, err = ferry("--insecure", "--platform", "linux/arm64/v8",
                         "--created", "-o", "json", img)
    check(rc == 0, "index: %s" % err[-300:])
    o = json.loads(out)
    check([d["platform"] for d in o["details"]] == ["linux/arm64/v8"] * 2,
          "index: platform picked %r" % o.get("details"))
    expect_pushed("index", out, tags, img)
    dtags = testbed.push_image(NOAUTH, "docker/media", ["a", "b"],
                               media="docker", distinct=True,
                               created_step=1)
    img = "%s/docker/media" % NOAUTH
    rc, out, err = ferry("--insecure", "--created", "-o", "json", img)
    check(rc == 0, "docker media: %s" % err[-300:])
    expect_pushed("docker media", out, dtags, img)


def test_noauth_errors():
    rc, out, err = ferry("--insecure", "%s/does/not-exist" % NOAUTH)
    check(rc == 1 and "not found" in err and "does/not-exist" in err and
          "404" in err, "404: %d %r" % (rc, err[-300:]))
    rc, out, err = ferry("--insecure", "%s/Bad/Name" % NOAUTH)
    check(rc == 1 and "lower-case" in err, "grammar: %r" % err[-300:])
    rc, out, err = ferry("--insecure", "%s/one/tag:latest" % NOAUTH)
    check(rc == 1 and "without a tag" in err, "tag given: %r" % err[-300:])
    rc, out, err = ferry("--insecure", "--retries", "0", "--timeout", "2s",
                         "127.0.0.1:1/x")
    check(rc == 1 and "127.0.0.1:1" in err, "refused: %r" % err[-300:])
    # one bad image does not hide the good one's tags
    rc, out, err = ferry("--insecure", "%s/does/not-exist" % NOAUTH,
                         "%s/one/tag" % NOAUTH)
    check(rc == 1 and out == "%s/one/tag\tv0.0.0\n" % NOAUTH,
          "mixed: %r" % out)


def test_htpasswd():
    testbed.push_image(HTPASSWD, "basic/app", ["1", "2"], user=USER,
                       password=PASSWORD)
    img = "%s/basic/app" % HTPASSWD
    rc, out, err = ferry("--insecure", img)
    check(rc == 1 and "401" in err and "Basic realm" in err and
          "no credentials" in err, "basic anon: %r" % err[-300:])
    rc, out, err = ferry("--insecure", "-u", USER, "--password-stdin", img,
                         stdin=PASSWORD + "\n")
    check(rc == 0 and out.splitlines() == [img + "\t1", img + "\t2"],
          "basic user: %d %r %r" % (rc, out, err[-300:]))
    check(PASSWORD not in err, "basic: password in the log")
    rc, out, err = ferry("--insecure", "--digests", "--docker-config",
                         docker_config(HTPASSWD, USER, PASSWORD), img)
    check(rc == 0 and len(out.splitlines()) == 2, "basic config: %r" % err)
    rc, out, err = ferry("--insecure", "-u", USER, "--password-stdin", img,
                         stdin="wrong\n")
    check(rc == 1 and "refused" in err, "basic wrong: %r" % err[-300:])


def test_credential_sources():
    """DOCKER_CONFIG, credHelpers and identitytoken (OAuth2 refresh)."""
    img = "%s/basic/app" % HTPASSWD
    cfgdir = os.path.join(TMP, "dockercfg")
    os.makedirs(cfgdir, exist_ok=True)
    with open(os.path.join(cfgdir, "config.json"), "w") as f:
        json.dump({"credHelpers": {HTPASSWD: "ferryenv"}}, f)
    path = os.path.join(ROOT, "tests", "scanner", "bin") + ":" + \
        os.environ.get("PATH", "/usr/bin:/bin")
    rc, out, err = ferry("--insecure", img,
                         env={"DOCKER_CONFIG": cfgdir, "PATH": path})
    check(rc == 0 and out.splitlines() == [img + "\t1", img + "\t2"],
          "credHelpers: %d %r" % (rc, err[-300:]))
    check(PASSWORD not in err, "credHelpers: password in the log")
    # an identity token is a refresh token: POST grant_type=refresh_token
    import urllib.request
    q = urllib.parse.urlencode({"service": testbed.TOKEN_SERVICE,
                                "scope": "repository:tok/app:pull",
                                "offline_token": "true",
                                "client_id": "ferry-test"})
    req = urllib.request.Request(REALM + "?" + q)
    req.add_header("Authorization", "Basic " + base64.b64encode(
        ("%s:%s" % (USER, PASSWORD)).encode()).decode())
    rt = json.load(urllib.request.urlopen(req, timeout=10))["refresh_token"]
    cfg = os.path.join(TMP, "identity.json")
    with open(cfg, "w") as f:
        json.dump({"auths": {TOKEN: {"identitytoken": rt}}}, f)
    img = "%s/tok/app" % TOKEN
    rc, out, err = ferry("--insecure", "--docker-config", cfg, img)
    check(rc == 0 and out.splitlines() == [img + "\t1.0", img + "\t1.1"],
          "identitytoken: %d %r" % (rc, err[-300:]))
    check(rt not in err, "identitytoken: refresh token in the log")


def test_token():
    pushed = testbed.push_image(TOKEN, "tok/app", ["1.0", "1.1", "x.sig"],
                                user=USER, password=PASSWORD,
                                token_realm=REALM, distinct=True,
                                created_step=30)
    testbed.push_image(TOKEN, "tok/other", ["9"], user=USER,
                       password=PASSWORD, token_realm=REALM)
    img = "%s/tok/app" % TOKEN
    other = "%s/tok/other" % TOKEN
    cfg = docker_config(TOKEN, USER, PASSWORD)
    rc, out, err = ferry("--insecure", "--created", "-o", "json",
                         "--docker-config", cfg, img)
    check(rc == 0, "token: %s" % err[-300:])
    expect_pushed("token", out, pushed, img)
    check(PASSWORD not in err and "Bearer ey" not in err,
          "token: secret in the log")
    check("realm" not in out, "token: nothing auth-related on stdout")
    # two repositories on the same registry in one process
    rc, out, err = ferry("--insecure", "--docker-config", cfg, img, other)
    check(rc == 0 and out.splitlines() == [img + "\t1.0", img + "\t1.1",
                                           other + "\t9"],
          "token two repos: %r %r" % (out, err[-300:]))
    rc, out, err = ferry("--insecure", img)
    check(rc == 1 and "token server" in err and REALM.split("/token")[0]
          in err and "401" in err, "token anon: %r" % err[-300:])
    rc, out, err = ferry("--insecure", "-u", USER, "--password-stdin", img,
                         stdin="wrong\n")
    check(rc == 1 and "refused" in err, "token wrong: %r" % err[-300:])


def main():
    for t in (test_noauth_sizes, test_noauth_index_and_docker_media,
              test_noauth_errors, test_htpasswd, test_token,
              test_credential_sources):
        start = time.monotonic()
        try:
            t()
        except Exception as e:  # report and go on with the next test
            check(False, "%s raised %r" % (t.__name__, e))
        print("%s: %.1f s" % (t.__name__, time.monotonic() - start))
    if failures:
        print("%d check(s) failed" % len(failures), file=sys.stderr)
        return 1
    print("all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
