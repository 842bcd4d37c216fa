#!/usr/bin/python3
"""The status page in a real browser: Debian's Chromium, headless, driven
by Selenium, against `ferry run` with a real registry (whose own
notifications reach the daemon) and a real Git remote.

  - the overview loads with no console errors;
  - a tag pushed to the registry shows on the open page within 2 s,
    without a reload, and on the timeline;
  - a failing ImageRepository (registry stopped) shows with its reason;
  - with JavaScript off the same data is there, and it is what
    `ferry get` says;
  - a registry's error text and a commit message with markup and script
    render as text;
  - --ui-token-file: the token, the actions and their CSRF checks.

The screenshots in tests/ui/screenshots/ (overview, an image, the
timeline; light and dark) are written by Screenshots; they go to
$FERRY_UI_SCREENSHOTS when set (relative to the repository; the README's
copies were made with FERRY_UI_SCREENSHOTS=tests/ui/screenshots), else to
the build tree.
Part of their history is written into the state directory before the
daemon starts (a week of changes cannot happen in a test); the rest is
live."""

import base64
import http.server as httpserver
import json
import os
import re
import sys
import threading
import time
import unittest
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "daemon"))
from daemon import TOKEN, Daemon, World, http, wait_for  # noqa: E402

from selenium import webdriver  # noqa: E402
from selenium.webdriver.chrome.service import Service  # noqa: E402
from selenium.webdriver.common.by import By  # noqa: E402

PUSH_TO_PAGE_S = 2.0


def browser(javascript=True):
    o = webdriver.ChromeOptions()
    o.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu",
              "--disable-dev-shm-usage", "--window-size=1280,900",
              "--hide-scrollbars", "--force-device-scale-factor=1"):
        o.add_argument(a)
    o.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    if not javascript:
        o.add_experimental_option(
            "prefs", {"profile.managed_default_content_settings.javascript":
                      2})
    return webdriver.Chrome(service=Service("/usr/bin/chromedriver"),
                            options=o)


def stop(daemon):
    """Stops the daemon and checks it exited cleanly: 0, so nothing for
    the sanitizers either (the status page's threads and streams end with
    it)."""
    rc = daemon.stop()
    if rc not in (0, None):
        raise AssertionError(f"the daemon exited {rc}:\n" + daemon.log())


def severe(driver):
    """The console's errors since the last call (get_log drains it)."""
    return [e for e in driver.get_log("browser") if e["level"] == "SEVERE"]


# Read in one script call each: the live page swaps its <main> when
# something happens, which would leave a found element stale.
def text(driver, css):
    """The rendered text of the first element css finds, or None."""
    return driver.execute_script(
        "var e = document.querySelector(arguments[0]);"
        "return e ? e.innerText : null;", css)


def texts(driver, css):
    """The textContent of every element css finds."""
    return driver.execute_script(
        "return Array.from(document.querySelectorAll(arguments[0]),"
        " function (e) { return e.textContent; });", css)


class StatusPage(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.js = browser()

    @classmethod
    def tearDownClass(cls):
        cls.js.quit()

    def setUp(self):
        self.world = World()
        self.daemon = Daemon(self.world, "--retry-min", "200ms",
                             "--retry-max", "1s").start()
        d = self.daemon
        wait_for("the first run", lambda: (d.status(
            "ImageUpdateAutomation", "auto") or {}).get("ready") == "True")
        severe(self.js)

    def tearDown(self):
        try:
            stop(self.daemon)
        finally:
            self.world.close()

    def test_the_overview_loads_without_console_errors(self):
        b, d = self.js, self.daemon
        for path in ("/", "/images", "/images/flux-system/app", "/timeline",
                     "/automations", "/events?severity=error"):
            b.get(d.base + path)
            self.assertIn("ferry", b.title)
            self.assertEqual(severe(b), [], path)
        b.get(d.base + "/")
        self.assertEqual(text(b, "#failing .allgood"), "Nothing is failing.")
        # The page's script runs (CSP allows it) and the stream is open.
        wait_for("the live stream", lambda: text(b, "#live") == "live",
                 timeout=5)
        self.assertEqual(severe(b), [])

    def test_a_pushed_tag_shows_on_the_open_page_without_a_reload(self):
        b, w, d = self.js, self.world, self.daemon
        b.get(d.base + "/images/flux-system/app")
        self.assertEqual(text(b, ".latest .tag"), "1.0.0")
        wait_for("the live stream", lambda: text(b, "#live") == "live",
                 timeout=5)
        b.execute_script("window.ferryTestMark = 42")
        w.push("1.1.0")
        pushed = time.monotonic()
        wait_for("the new version on the page",
                 lambda: text(b, ".latest .tag") == "1.1.0",
                 timeout=PUSH_TO_PAGE_S, step=0.01)
        self.assertLess(time.monotonic() - pushed, PUSH_TO_PAGE_S)
        self.assertEqual(b.execute_script("return window.ferryTestMark"),
                         42, "the page was reloaded")
        self.assertEqual(text(b, ".previous .tag"), "1.0.0")
        # The image's timeline has a marker for it, with the commit once
        # the automation pushed it.
        wait_for("the commit", lambda: w.pushed_tags() == ["1.1.0"])
        commit = d.status("ImageUpdateAutomation", "auto")["lastPushCommit"]
        wait_for("the commit on the timeline", lambda: any(
            "1.1.0 (was 1.0.0)" in t and commit in t
            for t in texts(b, "svg.timeline .tl-mk title")), timeout=5)
        # ... and the fleet's timeline.
        b.get(d.base + "/timeline")
        marks = texts(b, "svg.timeline .tl-mk title")
        self.assertTrue(any(t.startswith("flux-system/app: 1.1.0")
                            for t in marks), marks)
        self.assertEqual(severe(b), [])

    def test_a_stopped_registry_shows_with_its_reason(self):
        b, w, d = self.js, self.world, self.daemon
        b.get(d.base + "/")
        wait_for("the live stream", lambda: text(b, "#live") == "live",
                 timeout=5)
        w.tb.stop_registry("notify")
        d.ferry("reconcile", "ir", "app", "-n", "flux-system")
        st = d.status("ImageRepository")
        self.assertEqual(st["ready"], "False")
        # The open overview shows it, as `ferry get` does.
        wait_for("the failure on the page", lambda: len(texts(
            b, "table.failing tbody tr")) == 1, timeout=5)
        row = text(b, "table.failing tbody tr")
        self.assertIn("flux-system/app", row)
        self.assertIn("ImageRepository", row)
        self.assertEqual(text(b, "table.failing td.msg"), st["message"])
        self.assertIn("tag list", st["message"])
        self.assertIn("ReconciliationFailed", row)
        self.assertIn("ago", row)  # its last success
        b.get(d.base + "/images/flux-system/app")
        self.assertEqual(text(b, "#repo-message"), st["message"])
        w.tb.start_registry("notify")
        self.assertEqual(severe(b), [])

    def test_without_javascript_the_same_data_is_there(self):
        w, d = self.world, self.daemon
        w.push("1.2.0")
        wait_for("the commit", lambda: w.pushed_tags() == ["1.2.0"])
        nojs = browser(javascript=False)
        try:
            pol = d.status("ImagePolicy")
            auto = d.status("ImageUpdateAutomation", "auto")
            nojs.get(d.base + "/images")
            # The script did not run: the live marker stays hidden.
            self.assertFalse(nojs.find_element(By.ID, "live").is_displayed())
            row = nojs.find_element(By.ID, "r-flux-system-app")
            self.assertEqual(row.find_element(By.CSS_SELECTOR,
                                              ".latest .tag").text,
                             pol["latestRef"]["tag"])
            self.assertIn("semver >=1.0.0", row.text)
            nojs.get(d.base + "/images/flux-system/app")
            self.assertEqual(text(nojs, ".latest .tag"), "1.2.0")
            self.assertTrue(any("1.2.0 (was 1.0.0)" in t for t in texts(
                nojs, "svg.timeline .tl-mk title")))
            nojs.get(d.base + "/automations")
            self.assertEqual(
                nojs.find_element(By.CSS_SELECTOR, ".lastpush code.commit")
                .get_attribute("title"), auto["lastPushCommit"])
            self.assertIn(f"{w.image}:1.2.0", text(nojs, ".lastpush .subject"))
            nojs.get(d.base + "/")
            self.assertEqual(text(nojs, "#failing .allgood"),
                             "Nothing is failing.")
            cards = {c.get_attribute("data-kind"): c.text for c in
                     nojs.find_elements(By.CSS_SELECTOR, ".card")}
            self.assertEqual(set(cards), {"ImageRepository", "ImagePolicy",
                                          "ImageUpdateAutomation"})
            self.assertEqual(severe(nojs), [])
        finally:
            nojs.quit()


class Kustomizations(unittest.TestCase):
    """The Kustomizations page: the revision each target holds, its
    targets, and drift found there, live; a Flux user's own Kustomization
    is shown as left to Flux."""

    def setUp(self):
        self.world = World(extra_objects="")
        self.target = os.path.join(self.world.dir, "target")
        self.world.write_config(self.world.objects + f"""---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: prod
  namespace: flux-system
  annotations: {{ferry.io/target: 'directory:{self.target}'}}
spec:
  interval: 1h
  sourceRef: {{kind: GitRepository, name: repo}}
  path: ./deploy
  prune: true
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {{name: flux-own, namespace: flux-system}}
spec:
  interval: 1h
  sourceRef: {{kind: GitRepository, name: repo}}
  path: ./deploy
  prune: true
""")
        self.daemon = Daemon(self.world).start()
        self.driver = browser()

    def tearDown(self):
        try:
            self.driver.quit()
            stop(self.daemon)
        finally:
            self.world.close()

    def applied(self):
        st = self.daemon.status("Kustomization", "prod") or {}
        return st.get("lastAppliedRevision")

    def test_the_page_shows_the_revision_targets_and_drift_live(self):
        w, d, b = self.world, self.daemon, self.driver
        first = wait_for("the first sync", self.applied)
        b.get(d.base + "/kustomizations")
        wait_for("the live stream", lambda: b.find_element(
            By.ID, "live").is_displayed(), timeout=10)
        sec = "#k-flux-system-prod "
        self.assertEqual(b.find_element(
            By.CSS_SELECTOR, sec + ".applied code.commit")
            .get_attribute("title"), first.split("@sha1:")[1])
        self.assertIn("directory:" + self.target,
                      text(b, sec + ".targets"))
        self.assertEqual(text(b, sec + ".drift"), "none found")
        self.assertIn("Left to Flux", text(b, "#k-flux-system-flux-own"))
        # A new image: the commit is synced, and the page follows.
        w.push("1.3.0")
        wait_for("the commit", lambda: w.pushed_tags() == ["1.3.0"])
        second = wait_for("the new revision", lambda: (
            self.applied() if self.applied() != first else None))
        wait_for("the page shows it", lambda: b.find_element(
            By.CSS_SELECTOR, sec + ".applied code.commit")
            .get_attribute("title") == second.split("@sha1:")[1],
            timeout=10)
        # Drift by hand: found, corrected, shown without a reload.
        files = os.listdir(self.target)
        with open(os.path.join(self.target, files[0]), "a") as f:
            f.write("# edited by hand\n")
        d.ferry("reconcile", "kustomization", "prod", "-n", "flux-system",
                check=True)
        wait_for("the drift on the page", lambda: (
            text(b, sec + ".drift") or "").startswith(
                "1 modified, 0 added, 0 removed"), timeout=10)
        self.assertIn(files[0], b.execute_script(
            "return document.querySelector(arguments[0]).textContent;",
            sec + ".drift"))
        b.get(d.base + "/")
        cards = {c.get_attribute("data-kind") for c in
                 b.find_elements(By.CSS_SELECTOR, ".card")}
        self.assertIn("Kustomization", cards)
        self.assertEqual(severe(b), [])


class Hostile(unittest.TestCase):
    """A registry whose error text and a commit message that carry markup
    and script: the page shows them as text."""

    PAYLOAD = '<script>window.ferryXss=1</script>'
    IMG = '<img src=x onerror="window.ferryXss=2">'

    def setUp(self):
        payload, img = self.PAYLOAD, self.IMG

        class Evil(httpserver.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_GET(self):
                if self.path == "/v2/":
                    body, code = b"{}", 200
                else:
                    body = json.dumps({"errors": [{
                        "code": payload, "message": img + " & <b>bold</b>"
                    }]}).encode()
                    code = 500
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

        self.evil = httpserver.ThreadingHTTPServer(("127.0.0.1", 0), Evil)
        threading.Thread(target=self.evil.serve_forever, daemon=True).start()
        port = self.evil.server_address[1]
        self.world = World(notify=False, extra_objects=f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: evil, namespace: flux-system}}
spec: {{image: '127.0.0.1:{port}/team/evil', interval: 1h, insecure: true}}
""")
        self.world.write_config(self.world.objects.replace(
            "messageTemplate: 'update ",
            "messageTemplate: '<img src=x onerror=window.ferryXss=4>"
            "<script>window.ferryXss=3</script> update "))
        self.daemon = Daemon(self.world).start()
        self.driver = browser()

    def tearDown(self):
        try:
            self.driver.quit()
            stop(self.daemon)
        finally:
            self.world.close()
            self.evil.shutdown()
            self.evil.server_close()

    def assert_inert(self):
        b = self.driver
        self.assertIsNone(b.execute_script("return window.ferryXss"))
        self.assertEqual(b.find_elements(By.CSS_SELECTOR,
                                         "main script, main img, main b"),
                         [])
        # Nothing tried to run and was stopped by the CSP either.
        self.assertEqual(severe(b), [])

    def test_registry_errors_and_commit_messages_render_as_text(self):
        w, d, b = self.world, self.daemon, self.driver
        wait_for("the evil scan to fail", lambda: (d.status(
            "ImageRepository", "evil") or {}).get("ready") == "False")
        msg = d.status("ImageRepository", "evil")["message"]
        self.assertIn(self.PAYLOAD, msg)
        self.assertIn("onerror", msg)
        b.get(d.base + "/")
        cells = [c.text for c in b.find_elements(
            By.CSS_SELECTOR, "table.failing td.msg")]
        self.assertIn(msg, cells)
        self.assert_inert()
        b.get(d.base + "/events")
        self.assertIn(self.PAYLOAD, b.find_element(By.TAG_NAME, "main").text)
        self.assert_inert()
        # A commit message with markup.
        wait_for("the first run", lambda: (d.status(
            "ImageUpdateAutomation", "auto") or {}).get("ready") == "True")
        w.push("1.1.0")
        d.ferry("reconcile", "iua", "auto", "-n", "flux-system",
                "--with-source", check=True)
        b.get(d.base + "/automations")
        subject = text(b, ".lastpush .subject")
        self.assertTrue(subject.startswith(
            "<img src=x onerror=window.ferryXss=4>"
            "<script>window.ferryXss=3</script> update"), subject)
        self.assert_inert()
        # The raw HTML has it escaped, not merely hidden.
        status, page = http(d.base + "/automations")
        self.assertIn("&lt;script&gt;window.ferryXss=3&lt;/script&gt;", page)
        self.assertEqual(len(re.findall(r"<script\b", page)), 1)


class Access(unittest.TestCase):
    """--ui-token-file: pages want the token; actions want it, a form
    token, and a request from this site."""

    UI_TOKEN = "ui-token-7Qd2xk9PzL"

    def setUp(self):
        self.world = World(notify=False)
        self.token_file = os.path.join(self.world.dir, "ui-token")
        with open(self.token_file, "w") as f:
            f.write(self.UI_TOKEN + "\n")
        self.daemon = None

    def tearDown(self):
        try:
            if self.daemon:
                stop(self.daemon)
        finally:
            self.world.close()

    def page(self, path, token=UI_TOKEN, basic=False):
        h = {}
        if token and basic:
            h["Authorization"] = "Basic " + base64.b64encode(
                f"anyone:{token}".encode()).decode()
        elif token:
            h["Authorization"] = f"Bearer {token}"
        return http(self.daemon.base + path, headers=h)

    def act(self, fields, headers=None):
        h = {"Authorization": f"Bearer {self.UI_TOKEN}",
             "Content-Type": "application/x-www-form-urlencoded"}
        h.update(headers or {})
        import urllib.request
        req = urllib.request.Request(
            self.daemon.base + "/ui/action", method="POST", headers=h,
            data=urllib.parse.urlencode(fields).encode())

        class NoRedirect(urllib.request.HTTPRedirectHandler):
            def redirect_request(self, *args, **kw):
                return None
        opener = urllib.request.build_opener(NoRedirect)
        try:
            with opener.open(req, timeout=10) as r:
                return r.status, r.headers, r.read().decode()
        except urllib.error.HTTPError as e:
            return e.code, e.headers, e.read().decode()

    def test_pages_want_the_token_and_actions_check_where_they_come_from(
            self):
        d = self.daemon = Daemon(self.world, "--ui-token-file",
                                 self.token_file).start()
        wait_for("the first run", lambda: (d.status(
            "ImageUpdateAutomation", "auto") or {}).get("ready") == "True")
        status, body = self.page("/", token=None)
        self.assertEqual(status, 401)
        status, body = self.page("/", token="wrong")
        self.assertEqual(status, 401)
        self.assertEqual(self.page("/ui/stream", token=None)[0], 401)
        # The icon and the stylesheet hold no data.
        self.assertEqual(self.page("/favicon.ico", token=None)[0], 200)
        self.assertEqual(self.page("/ui/style.css", token=None)[0], 200)
        self.assertEqual(self.page("/", basic=True)[0], 200)
        status, body = self.page("/automations")
        self.assertEqual(status, 200)
        csrf = re.search(r'name="csrf" value="([0-9a-f]{64})"', body)[1]
        fields = {"action": "suspend", "kind": "ImageUpdateAutomation",
                  "namespace": "flux-system", "name": "auto",
                  "back": "/automations", "csrf": csrf}
        # Without the form's token, from another site, or without the
        # bearer token: refused, and nothing changes.
        self.assertEqual(self.act(dict(fields, csrf="0" * 64))[0], 403)
        self.assertEqual(self.act(fields, {"Origin": "http://evil.example"}
                                  )[0], 403)
        self.assertEqual(self.act(fields, {"Sec-Fetch-Site": "cross-site"}
                                  )[0], 403)
        self.assertEqual(self.act(fields, {"Authorization": "Bearer no"}
                                  )[0], 401)
        self.assertFalse(d.status("ImageUpdateAutomation", "auto")
                         ["suspended"])
        # From the page itself: done, and back to it.
        status, headers, _ = self.act(fields, {
            "Origin": d.base, "Sec-Fetch-Site": "same-origin"})
        self.assertEqual(status, 303)
        self.assertEqual(headers["Location"], "/automations")
        self.assertTrue(d.status("ImageUpdateAutomation", "auto")
                        ["suspended"])
        self.assertIn("suspended with the status page",
                      [e["message"] for e in d.events()])
        status, _, _ = self.act(dict(fields, action="resume",
                                     back="//evil.example/"))
        self.assertEqual(status, 303)
        self.assertFalse(d.status("ImageUpdateAutomation", "auto")
                         ["suspended"])
        # A reconcile from the page runs the object.
        self.world.push("1.3.0")
        self.assertEqual(self.act(dict(fields, action="reconcile",
                                       kind="ImageRepository",
                                       name="app"))[0], 303)
        wait_for("the push", lambda: self.world.pushed_tags() == ["1.3.0"])
        # No page shows a secret: not the webhook token, not this one.
        for path in ("/", "/images", "/images/flux-system/app",
                     "/timeline", "/automations", "/events"):
            status, body = self.page(path)
            self.assertEqual(status, 200, path)
            self.assertNotIn(TOKEN, body)
            self.assertNotIn(self.UI_TOKEN, body)
        self.assertNotIn(self.UI_TOKEN, d.log())

    def test_without_a_token_the_page_is_read_only(self):
        d = self.daemon = Daemon(self.world).start()
        status, body = self.page("/", token=None)
        self.assertEqual(status, 200)
        self.assertNotIn("<form class=\"actions\"", body)
        self.assertEqual(self.act({"action": "suspend"})[0], 403)


def seed_policy(state, name, image, changes, now):
    """Writes an ImagePolicy's state document with a history of changes
    [(seconds ago, tag)], oldest first; its latestRef is the last."""
    hist, prev = [], None
    for ago_s, tag in changes:
        h = {"time": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                   time.gmtime(now - ago_s)), "tag": tag}
        if prev:
            h["previousTag"] = prev
        hist.append(h)
        prev = tag
    doc = {"latestRef": {"name": image, "tag": prev}, "history": hist}
    if len(changes) > 1:
        doc["observedPreviousRef"] = {"name": image, "tag": changes[-2][1]}
    path = os.path.join(state, "objects", "ImagePolicy", "flux-system")
    os.makedirs(path, exist_ok=True)
    with open(os.path.join(path, name + ".json"), "w") as f:
        json.dump(doc, f)


class Screenshots(unittest.TestCase):
    """The README's pictures: the overview, an image and the timeline, in
    the light and the dark colour scheme."""

    def test_screenshots_of_the_overview_an_image_and_the_timeline(self):
        out = os.environ.get("FERRY_UI_SCREENSHOTS")
        if out:
            # relative to the repository, as the README says
            out = os.path.join(os.environ.get("FERRY_SOURCE_ROOT", "."), out)
        else:
            out = os.path.join(os.environ.get("FERRY_BUILD_ROOT", HERE),
                               "ui-screenshots")
        os.makedirs(out, exist_ok=True)
        now = time.time()
        day, hour = 86400, 3600
        seeds = {
            "api": [(6 * day, "1.4.0"), (4 * day + 5 * hour, "1.4.1"),
                    (2 * day + 3 * hour, "1.4.2"), (5 * hour, "1.4.3")],
            "web": [(5 * day + 8 * hour, "2.0.0"), (3 * day, "2.1.0"),
                    (1 * day + 2 * hour, "2.1.1")],
            "worker": [(6 * day + 12 * hour, "0.9.0"),
                       (20 * hour, "1.0.0")],
        }
        extra = ""
        for name in list(seeds) + ["legacy"]:
            extra += f"""---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}, namespace: flux-system}}
spec: {{image: '{{REG}}/team/{name}', interval: 1h, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: {name}, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: {name}}}
  policy: {{semver: {{range: '>=0.1.0'}}}}
"""
        w = World(name="app")
        try:
            # "legacy" is on a registry that is not there.
            w.write_config(w.objects + extra.replace(
                "{REG}", w.reg).replace(
                f"'{w.reg}/team/legacy'", "'127.0.0.1:9/team/legacy'"))
            for name, changes in seeds.items():
                w.tb.push_image(w.kind, f"team/{name}",
                                [t for _, t in changes], distinct=True)
                seed_policy(w.state, name, f"{w.reg}/team/{name}", changes,
                            now)
            d = Daemon(w).start()
            b = browser()
            try:
                wait_for("every scan", lambda: all(
                    o.get("ready") in ("True", "False") for o in
                    d.get("ImageRepository")["objects"]))
                w.push("1.1.0")
                wait_for("the push", lambda: w.pushed_tags() == ["1.1.0"])
                for scheme in ("light", "dark"):
                    b.execute_cdp_cmd("Emulation.setEmulatedMedia", {
                        "features": [{"name": "prefers-color-scheme",
                                      "value": scheme}]})
                    for name, path in (("overview", "/"),
                                       ("image", "/images/flux-system/api"),
                                       ("timeline", "/timeline")):
                        b.set_window_size(1280, 900)
                        b.get(d.base + path)
                        h = b.execute_script(
                            "return document.documentElement.scrollHeight")
                        b.set_window_size(1280, min(max(h, 600), 1800))
                        png = os.path.join(out, f"{name}-{scheme}.png")
                        b.save_screenshot(png)
                        self.assertGreater(os.path.getsize(png), 10000)
                self.assertEqual(severe(b), [])
            finally:
                b.quit()
                stop(d)
        finally:
            w.close()


if __name__ == "__main__":
    unittest.main(verbosity=2)
