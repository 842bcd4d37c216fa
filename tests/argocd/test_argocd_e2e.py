#!/usr/bin/python3
"""End to end for Argo CD users: `ferry run --once` and `ferry plan` over
Application and ImageUpdater objects, against the real registry (Debian's
docker-registry, anonymous and htpasswd) and bare Git repositories (file://
and git http-backend with basic auth), checked by reading the commits back,
parsing the written files and rendering kustomizations with kubectl.

Run under tests/harness/testbed.py with --registry noauth --registry
htpasswd --git-http --sshd.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
import unittest
import urllib.request

import yaml

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                "..", "harness"))
import testbed  # noqa: E402

FERRY = os.environ["FERRY"]
TMP = os.environ["FERRY_TEST_TMP"]
REGISTRY = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]
PRIVATE = os.environ["FERRY_TEST_REGISTRY_HTPASSWD"]
REG_USER = os.environ["FERRY_TEST_REGISTRY_USER"]
REG_PASSWORD = os.environ["FERRY_TEST_REGISTRY_PASSWORD"]
KUBECTL = shutil.which("kubectl")
ANN = "argocd-image-updater.argoproj.io/"


def sh(*args, check=True, **kw):
    return subprocess.run(args, check=check, capture_output=True, text=True,
                          **kw)


def git(*args, **kw):
    return sh("git", "-c", "safe.directory=*", *args, **kw).stdout.strip()


def push(repo, *tags, registry=REGISTRY, **kw):
    """Pushes tags; returns {tag: digest}."""
    if registry == PRIVATE:
        kw.update(user=REG_USER, password=REG_PASSWORD)
    rows = testbed.push_image(registry, repo, list(tags), distinct=True, **kw)
    return {t: d for t, d, _ in rows}


def registries_conf():
    """The ConfigMap Argo CD Image Updater reads, with registries.conf
    naming both test registries (plain HTTP)."""
    return textwrap.dedent("""\
        apiVersion: v1
        kind: ConfigMap
        metadata:
          name: argocd-image-updater-config
          namespace: argocd
        data:
          registries.conf: |
            registries:
            - name: local
              prefix: {r}
              api_url: http://{r}
            - name: private
              prefix: {p}
              api_url: http://{p}
        """).format(r=REGISTRY, p=PRIVATE)


class Repo:
    """A bare Git repository made from files, and the objects beside it."""

    counter = 0

    def __init__(self, files, transport="file"):
        Repo.counter += 1
        self.name = "argo%d" % Repo.counter
        self.dir = tempfile.mkdtemp(dir=TMP, prefix=self.name + "-")
        src = os.path.join(self.dir, "src")
        for rel, content in files.items():
            path = os.path.join(src, rel)
            os.makedirs(os.path.dirname(path), exist_ok=True)
            with open(path, "w") as f:
                f.write(textwrap.dedent(content))
        owner = None
        if transport == "file":
            self.bare = os.path.join(self.dir, "remote.git")
            self.url = "file://" + self.bare
        elif transport == "ssh":
            self.bare = os.path.join(os.environ["FERRY_TEST_SSH_ROOT"],
                                     self.name + ".git")
            self.url = os.environ["FERRY_TEST_SSH_URL"] + self.bare
            owner = "git"
        else:
            self.bare = os.path.join(os.environ["FERRY_TEST_GIT_HTTP_ROOT"],
                                     self.name + ".git")
            self.url = "%s/%s.git" % (os.environ["FERRY_TEST_GIT_HTTP"],
                                      self.name)
        testbed.git_init(self.bare, files=src, owner=owner)
        self.state = os.path.join(self.dir, "state")
        self.config = os.path.join(self.dir, "config")
        os.makedirs(self.config)

    def objects(self, text, name="objects.yaml"):
        with open(os.path.join(self.config, name), "w") as f:
            f.write(textwrap.dedent(text).replace("{url}", self.url)
                    .replace("{reg}", REGISTRY).replace("{priv}", PRIVATE))
        with open(os.path.join(self.config, "configmap.yaml"), "w") as f:
            f.write(registries_conf())

    def run(self, *extra, cmd="run", env=None):
        args = [FERRY, cmd] + (["--once"] if cmd == "run" else []) + [
            "-f", self.config, "--state-dir", self.state] + list(extra)
        # no ~/.ssh/known_hosts to fall back on
        return subprocess.run(args, capture_output=True, text=True,
                              env=dict(os.environ, HOME=self.dir,
                                       **(env or {})))

    def log(self, rev="main"):
        out = git("--git-dir", self.bare, "log", "--format=%B%x1e", rev)
        return [m.strip("\n") for m in out.split("\x1e") if m.strip("\n")]

    def file(self, path, rev="main"):
        return git("--git-dir", self.bare, "show", "%s:%s" % (rev, path))

    def show(self, fmt, rev="main"):
        return git("--git-dir", self.bare, "log", "-1", "--format=" + fmt,
                   rev)

    def checkout(self, rev="main"):
        work = tempfile.mkdtemp(dir=self.dir, prefix="work-")
        git("clone", "-q", "-b", rev, self.bare, work)
        return work


def assert_secrets_absent(test, repo, out, secrets):
    """None of secrets (strings) is in the run's output, in any file of
    its state directory (the clone included), or in what `ferry get`
    shows of that state."""
    shown = [out.stdout, out.stderr]
    for args in (["get"], ["get", "apps", "-o", "json"]):
        got = sh(FERRY, *args, "--state-dir", repo.state, check=False)
        shown += [got.stdout, got.stderr]
    files = 0
    for top, _, names in os.walk(repo.state):
        for n in names:
            path = os.path.join(top, n)
            if os.path.islink(path) or not os.path.isfile(path):
                continue
            files += 1
            with open(path, "rb") as f:
                data = f.read()
            for secret in secrets:
                test.assertNotIn(secret.encode(), data, path)
    test.assertGreater(files, 0)
    for secret in secrets:
        for text in shown:
            test.assertNotIn(secret, text)


def deployment(image, name="web"):
    return """\
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: {name}
        spec:
          selector:
            matchLabels: {{app: {name}}}
          template:
            metadata:
              labels: {{app: {name}}}
            spec:
              containers:
                - name: {name}
                  image: {image}
        """.format(name=name, image=image)


def split_image(ref):
    """NAME, TAG, DIGEST of an image reference (TAG and DIGEST None when
    absent); a ':' before the last '/' is a registry's port."""
    name, _, digest = ref.partition("@")
    slash = name.rfind("/")
    colon = name.rfind(":")
    tag = None
    if colon > slash:
        name, tag = name[:colon], name[colon + 1:]
    return name, tag, digest or None


def kustomize_edit_set_image(directory, entry):
    """What `kustomize edit set image ENTRY` does to the kustomization in
    directory, written here from its documented rules (ferry's editor is
    what is under test): OLD=NEW[:TAG][@DIGEST] sets image OLD to NEW,
    NAME[:TAG][@DIGEST] sets image NAME; an entry of that name is
    updated, else one is appended.  A new tag drops the digest and a new
    digest the tag."""
    path = os.path.join(directory, "kustomization.yaml")
    with open(path) as f:
        doc = yaml.safe_load(f) or {}
    old, eq, rest = entry.partition("=")
    if not eq:
        rest = old
    new_name, tag, digest = split_image(rest)
    key = old if eq else new_name
    images = doc.setdefault("images", [])
    item = next((i for i in images if i.get("name") == key), None)
    if item is None:
        item = {"name": key}
        images.append(item)
    if eq:
        item["newName"] = new_name
    if tag is not None:
        item["newTag"] = tag
        item.pop("digest", None)
    if digest is not None:
        item["digest"] = digest
        item.pop("newTag", None)
    with open(path, "w") as f:
        yaml.safe_dump(doc, f)


def kustomize_render(path):
    """The images of the Deployments kubectl kustomize renders at path."""
    out = sh(KUBECTL, "kustomize", path).stdout
    images = []
    for doc in yaml.safe_load_all(out):
        if doc and doc.get("kind") == "Deployment":
            for c in doc["spec"]["template"]["spec"]["containers"]:
                images.append(c["image"])
    return images


class Annotations(unittest.TestCase):
    """(a) an Application with v0.x annotations: a kustomize app, the
    default target."""

    def setUp(self):
        push("team/web", "1.0.0", "1.1.0", "1.2.0", "2.0.0")
        self.repo = Repo({
            "apps/web/kustomization.yaml": """\
                resources:
                  - deploy.yaml
                images:
                  - name: %s/team/web
                    newTag: 1.0.0
                """ % REGISTRY,
            "apps/web/deploy.yaml": deployment("%s/team/web:1.0.0"
                                               % REGISTRY),
        })
        self.repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: web
              namespace: argocd
              annotations:
                %simage-list: web={reg}/team/web:~1
                %swrite-back-method: git
            spec:
              project: default
              source:
                repoURL: {url}
                targetRevision: HEAD
                path: apps/web
              destination:
                server: https://kubernetes.default.svc
                namespace: web
              syncPolicy:
                automated: {prune: true, selfHeal: true}
            """ % (ANN, ANN))

    def test_commits_the_argocd_source_file_and_then_nothing(self):
        out = self.repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Application argocd/web: pushed", out.stdout)
        self.assertEqual(self.repo.log(), [
            "build: automatic update of web\n\n"
            "updates image team/web tag '1.0.0' to '1.2.0'",
            "Initial commit"])
        self.assertEqual(self.repo.show("%an <%ae>"),
                         "argocd-image-updater <noreply@argoproj.io>")
        self.assertEqual(
            yaml.safe_load(self.repo.file("apps/web/.argocd-source-web.yaml")),
            {"kustomize": {"images": ["%s/team/web:1.2.0" % REGISTRY]}})
        head = self.repo.show("%H")
        out = self.repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Application argocd/web: no change", out.stdout)
        self.assertEqual(self.repo.show("%H"), head)

    def test_annotations_are_not_read_without_the_flag(self):
        out = self.repo.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("Application", out.stdout)
        self.assertIn("--argocd-annotations", out.stderr)
        self.assertEqual(self.repo.log(), ["Initial commit"])

    def test_the_override_renders_as_argo_cd_applies_it(self):
        out = self.repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        work = self.repo.checkout()
        app = os.path.join(work, "apps", "web")
        # Argo CD runs `kustomize edit set image` for each override image
        # before it builds; the test does the same with its own code
        with open(os.path.join(app, ".argocd-source-web.yaml")) as f:
            images = yaml.safe_load(f)["kustomize"]["images"]
        for image in images:
            kustomize_edit_set_image(app, image)
        self.assertEqual(kustomize_render(app),
                         ["%s/team/web:1.2.0" % REGISTRY])

    def test_plan_shows_the_file_and_message_and_pushes_nothing(self):
        out = self.repo.run("--argocd-annotations", cmd="plan")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Application argocd/web: would push 1 change to main",
                      out.stdout)
        self.assertIn("+++ b/apps/web/.argocd-source-web.yaml", out.stdout)
        self.assertIn("+  - %s/team/web:1.2.0" % REGISTRY, out.stdout)
        self.assertIn("updates image team/web tag '1.0.0' to '1.2.0'",
                      out.stdout)
        self.assertEqual(self.repo.log(), ["Initial commit"])
        out = self.repo.run("--argocd-annotations", "-o", "json", cmd="plan")
        app = json.loads(out.stdout)["applications"][0]
        self.assertEqual(app["status"], "planned")
        self.assertEqual(app["target"], "apps/web/.argocd-source-web.yaml")
        self.assertEqual(app["images"][0]["tag"], "1.2.0")
        self.assertEqual(app["images"][0]["previousTag"], "1.0.0")


class GitDirectory(unittest.TestCase):
    """Nothing is written into the clone's .git: not through an annotation
    target, not through a committed symlink that stays in the clone."""

    def repo(self, link=None, target=None):
        push("team/gd", "1.0.0", "1.1.0")
        repo = Repo({"apps/gd/kustomization.yaml": "resources: []\n"})
        if link:
            # a second commit holding the symlink (link: path, target)
            work = repo.checkout()
            os.symlink(link[1], os.path.join(work, link[0]))
            git("-C", work, "add", link[0])
            git("-C", work, "-c", "user.name=t", "-c", "user.email=t@t",
                "commit", "-q", "-m", "link")
            git("-C", work, "push", "-q", "origin", "main")
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: gd
              namespace: argocd
              annotations:
                %simage-list: gd={reg}/team/gd
                %swrite-back-method: git
            %s
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/gd}
              destination: {server: https://kubernetes.default.svc}
            """ % (ANN, ANN, "    %swrite-back-target: \"%s\"" % (ANN, target)
                   if target else ""))
        return repo

    def assert_git_untouched(self, repo, out, log, cloned=True):
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn(".git", out.stdout + out.stderr)
        self.assertEqual(repo.log(), log)
        seen = 0
        for top, _, names in os.walk(repo.state):
            if "/.git/" not in top + "/":
                continue
            for n in names:
                seen += 1
                with open(os.path.join(top, n), "rb") as f:
                    self.assertNotIn(b"team/gd", f.read(), top + "/" + n)
        if cloned:
            self.assertGreater(seen, 0, "no clone under " + repo.state)

    def test_a_target_in_git_is_refused_by_validate_and_run(self):
        repo = self.repo(target="helmvalues:/.git/info/exclude")
        out = sh(FERRY, "validate", "--argocd-annotations", "-f",
                 repo.config, check=False)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("inside the repository's .git", out.stderr)
        # refused before anything is cloned
        self.assert_git_untouched(repo, repo.run("--argocd-annotations"),
                                  ["Initial commit"], cloned=False)

    def test_a_symlink_into_git_is_not_written_through(self):
        # Git's info/exclude holds only comments: a blank override file
        repo = self.repo(link=("apps/gd/.argocd-source-gd.yaml",
                               "../../.git/info/exclude"))
        out = repo.run("--argocd-annotations", cmd="plan")
        self.assertIn("inside the repository's .git", out.stdout + out.stderr)
        self.assert_git_untouched(repo, repo.run("--argocd-annotations"),
                                  ["link", "Initial commit"])


class NamingAndFilters(unittest.TestCase):
    """The default file of an Application outside Argo CD's namespace is
    .argocd-source-<ns>_<app>.yaml; newest-build with allow-tags and
    ignore-tags picks the newest image among the tags both let through."""

    def app(self, namespace, image, extra=""):
        repo = Repo({"apps/nf/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: nf
              namespace: %s
              annotations:
                %simage-list: nf=%s
                %swrite-back-method: git
            %s
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/nf}
              destination: {server: https://kubernetes.default.svc}
            """ % (namespace, ANN, image, ANN, extra))
        return repo

    def test_an_application_outside_argocd_gets_ns_underscore_app(self):
        push("team/nsapp", "1.0.0", "1.1.0")
        repo = self.app("team", "{reg}/team/nsapp")
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Application team/nf: pushed", out.stdout)
        self.assertEqual(
            yaml.safe_load(repo.file("apps/nf/.argocd-source-team_nf.yaml")),
            {"kustomize": {"images": ["%s/team/nsapp:1.1.0" % REGISTRY]}})
        names = git("--git-dir", repo.bare, "ls-tree", "--name-only",
                    "main", "apps/nf/").split("\n")
        self.assertNotIn("apps/nf/.argocd-source-nf.yaml", names)
        # in Argo CD's own namespace the name has no namespace
        repo = self.app("argocd", "{reg}/team/nsapp")
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("nsapp:1.1.0",
                      repo.file("apps/nf/.argocd-source-nf.yaml"))

    def test_newest_build_with_allow_and_ignore_tags(self):
        # created a minute apart, in this order: the newest that
        # ^1\. allows and 1.9* does not ignore is 1.2.0 (semver would
        # pick 1.5.0)
        push("team/nb", "1.0.0", "1.5.0", "1.9.0", "2.0.0", "1.2.0",
             "1.9.1", created_step=60)
        repo = self.app(
            "argocd", "{reg}/team/nb",
            "    %snf.update-strategy: newest-build\n"
            "                %snf.allow-tags: \"regexp:^1\\\\.\"\n"
            "                %snf.ignore-tags: \"1.9*\"" % (ANN, ANN, ANN))
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(
            yaml.safe_load(repo.file("apps/nf/.argocd-source-nf.yaml")),
            {"kustomize": {"images": ["%s/team/nb:1.2.0" % REGISTRY]}})
        self.assertEqual(repo.log()[0],
                         "build: automatic update of nf\n\n"
                         "updates image team/nb tag '' to '1.2.0'")


class TwoApplications(unittest.TestCase):
    """(b) an ImageUpdater selecting two Applications by label: a Helm app
    (helmvalues, separate name and tag keys) and a kustomize app
    (kustomization target), one commit each, in one pass."""

    def setUp(self):
        push("team/api", "1.0.0", "1.4.2")
        push("team/front", "0.9.0", "1.0.0", "1.1.0")
        self.repo = Repo({
            "charts/api/Chart.yaml": "apiVersion: v2\nname: api\n"
                                     "version: 0.1.0\n",
            "charts/api/values.yaml": """\
                # the API server
                replicaCount: 2

                image:
                  repository: team/api   # short form, kept short
                  tag: "1.0.0"
                  pullPolicy: IfNotPresent
                """,
            "apps/front/kustomization.yaml": """\
                resources:
                - deploy.yaml
                images:
                - name: front
                  newName: %s/team/front
                  newTag: 0.9.0
                """ % REGISTRY,
            "apps/front/deploy.yaml": deployment("front", name="front"),
        })
        self.repo.objects("""\
            apiVersion: argocd-image-updater.argoproj.io/v1alpha1
            kind: ImageUpdater
            metadata:
              name: team
              namespace: argocd
            spec:
              writeBackConfig:
                method: git
              applicationRefs:
                - namePattern: "*"
                  labelSelectors:
                    matchLabels: {team: blue}
                    matchExpressions:
                      - {key: kind, operator: In, values: [helm]}
                  writeBackConfig:
                    gitConfig: {writeBackTarget: helmvalues}
                  images:
                    - alias: api
                      imageName: {reg}/team/api:1.x
                      manifestTargets:
                        helm: {name: image.repository, tag: image.tag}
                - namePattern: "*"
                  labelSelectors:
                    matchLabels: {team: blue, kind: kustomize}
                  writeBackConfig:
                    gitConfig: {writeBackTarget: kustomization}
                  images:
                    - alias: front
                      imageName: {reg}/team/front
                      manifestTargets:
                        kustomize: {name: front}
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: api
              namespace: argocd
              labels: {team: blue, kind: helm}
            spec:
              project: default
              source:
                repoURL: {url}
                targetRevision: main
                path: charts/api
                helm: {releaseName: api}
              destination: {server: https://kubernetes.default.svc}
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: front
              namespace: argocd
              labels: {team: blue, kind: kustomize}
            spec:
              project: default
              source:
                repoURL: {url}
                targetRevision: main
                path: apps/front
              destination: {server: https://kubernetes.default.svc}
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: other
              namespace: argocd
              labels: {team: red}
            spec:
              project: default
              source: {repoURL: {url}, path: other}
              destination: {server: https://kubernetes.default.svc}
            """)

    def test_updates_both_in_one_pass_with_one_commit_each(self):
        out = self.repo.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Application argocd/api: pushed", out.stdout)
        self.assertIn("Application argocd/front: pushed", out.stdout)
        self.assertNotIn("argocd/other", out.stdout)
        log = self.repo.log()
        self.assertEqual(len(log), 3)
        self.assertEqual(sorted(log[:2]), [
            "build: automatic update of api\n\n"
            "updates image team/api tag '1.0.0' to '1.4.2'",
            "build: automatic update of front\n\n"
            "updates image team/front tag '0.9.0' to '1.1.0'"])
        # the values file: name and tag keys, byte for byte (the name was
        # short, so it stays short)
        self.assertEqual(self.repo.file("charts/api/values.yaml") + "\n",
                         textwrap.dedent("""\
            # the API server
            replicaCount: 2

            image:
              repository: team/api   # short form, kept short
              tag: "1.4.2"
              pullPolicy: IfNotPresent
            """))
        self.assertEqual(self.repo.file("apps/front/kustomization.yaml") +
                         "\n", textwrap.dedent("""\
            resources:
            - deploy.yaml
            images:
            - name: front
              newName: %s/team/front
              newTag: 1.1.0
            """ % REGISTRY))
        work = self.repo.checkout()
        self.assertEqual(kustomize_render(os.path.join(work, "apps", "front")),
                         ["%s/team/front:1.1.0" % REGISTRY])
        out = self.repo.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(len(self.repo.log()), 3)


class Digest(unittest.TestCase):
    """(c) the digest strategy: tag@sha256 into a Helm target, the digest
    field into a kustomize target."""

    def test_writes_tag_and_digest_to_helm_and_kustomize_targets(self):
        d = push("team/dig", "stable", "other")["stable"]
        repo = Repo({
            "charts/dig/Chart.yaml": "apiVersion: v2\nname: dig\n"
                                     "version: 0.1.0\n",
            "charts/dig/values.yaml": "image:\n  name: %s/team/dig\n"
                                      "  tag: stable\n" % REGISTRY,
            "apps/dig/kustomization.yaml": "resources: [deploy.yaml]\n",
            "apps/dig/deploy.yaml": deployment("%s/team/dig:stable"
                                               % REGISTRY, name="dig"),
        })
        common = """\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: %s
              namespace: argocd
              annotations:
                %simage-list: d={reg}/team/dig:stable
                %sd.update-strategy: digest
                %swrite-back-method: git
                %swrite-back-target: "%s"
                %s
            spec:
              source: {repoURL: {url}, targetRevision: main, path: %s}
              destination: {server: https://kubernetes.default.svc}
            """
        common = textwrap.dedent(common)
        repo.objects(
            common % ("dig-helm", ANN, ANN, ANN, ANN, "helmvalues",
                      ANN + "d.helm.image-name: image.name\n    " + ANN +
                      "d.helm.image-tag: image.tag", "charts/dig") + "---\n" +
            common % ("dig-kust", ANN, ANN, ANN, ANN, "kustomization",
                      "other: kept", "apps/dig"))
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        values = yaml.safe_load(repo.file("charts/dig/values.yaml"))
        self.assertEqual(values["image"]["tag"], "stable@" + d)
        self.assertEqual(values["image"]["name"], "%s/team/dig" % REGISTRY)
        kust = yaml.safe_load(repo.file("apps/dig/kustomization.yaml"))
        self.assertEqual(kust["images"], [{
            "name": "%s/team/dig" % REGISTRY, "newTag": "stable",
            "digest": d}])
        work = repo.checkout()
        self.assertEqual(kustomize_render(os.path.join(work, "apps", "dig")),
                         ["%s/team/dig:stable@%s" % (REGISTRY, d)])
        messages = repo.log()[:2]
        self.assertIn("updates image team/dig tag '' to '%s'" % d,
                      "\n".join(messages))
        # the same digest again: nothing to do
        head = repo.show("%H")
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(repo.show("%H"), head)
        # the tag moves: a new digest
        d2 = push("team/dig", "stable", created="2025-01-01T00:00:00Z")[
            "stable"]
        self.assertNotEqual(d, d2)
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(
            yaml.safe_load(repo.file("charts/dig/values.yaml"))["image"]["tag"],
            "stable@" + d2)


class Branches(unittest.TestCase):
    """(d) git-branch base:target pushes to the templated branch, with
    .AppName filled in (Argo CD Image Updater renders it empty there)."""

    def test_base_target_pushes_to_the_templated_branch(self):
        push("team/br", "1.0.0", "1.1.0")
        repo = Repo({"apps/br/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argocd-image-updater.argoproj.io/v1alpha1
            kind: ImageUpdater
            metadata: {name: br, namespace: argocd}
            spec:
              writeBackConfig:
                method: git
                gitConfig:
                  branch: "main:image-updater/{{.AppName}}-{{range .Images}}{{.NewTag}}{{end}}"
              applicationRefs:
                - namePattern: br
                  images: [{alias: br, imageName: "{reg}/team/br"}]
            ---
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata: {name: br, namespace: argocd}
            spec:
              source: {repoURL: {url}, targetRevision: HEAD, path: apps/br}
              destination: {server: https://kubernetes.default.svc}
            """)
        out = repo.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("pushed", out.stdout)
        self.assertIn("to image-updater/br-1.1.0", out.stdout)
        self.assertEqual(repo.log(), ["Initial commit"])
        self.assertEqual(len(repo.log("image-updater/br-1.1.0")), 2)
        self.assertEqual(
            yaml.safe_load(repo.file("apps/br/.argocd-source-br.yaml",
                                     "image-updater/br-1.1.0")),
            {"kustomize": {"images": ["%s/team/br:1.1.0" % REGISTRY]}})
        # again: the base has not changed and holds the old tag, the
        # target branch exists and already holds the new one
        out = repo.run()
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertEqual(len(repo.log("image-updater/br-1.1.0")), 2)

    def test_a_rendered_branch_git_refuses_fails_before_pushing(self):
        push("team/rn", "1.0.0", "1.1.0")
        repo = Repo({"apps/rn/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: rn
              namespace: argocd
              annotations:
                %simage-list: rn={reg}/team/rn
                %swrite-back-method: git
                %sgit-branch: "main:up/.{{.AppName}}"
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/rn}
              destination: {server: https://kubernetes.default.svc}
            """ % (ANN, ANN, ANN))
        out = repo.run("--argocd-annotations")
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("rendered 'up/.rn', which is not a branch name",
                      out.stdout + out.stderr)
        self.assertEqual(git("--git-dir", repo.bare, "branch", "--list"),
                         "* main")

    def test_a_target_branch_that_cannot_be_checked_out_fails_with_why(self):
        push("team/rb", "1.0.0", "1.1.0")
        repo = Repo({"apps/rb/kustomization.yaml": "resources: []\n"})
        # the target branch exists, and its tree holds a path no checkout
        # writes ('.git/x'), so the reset after the fetch fails
        gd = ("--git-dir", repo.bare)
        blob = sh("git", *gd, "hash-object", "-w", "--stdin",
                  input="x\n").stdout.strip()
        sub = sh("git", *gd, "mktree",
                 input="100644 blob %s\tx\n" % blob).stdout.strip()
        tree = sh("git", *gd, "mktree",
                  input="040000 tree %s\t.git\n" % sub).stdout.strip()
        commit = sh("git", *gd, "-c", "user.name=t", "-c", "user.email=t@t",
                    "commit-tree", tree, "-m", "bad").stdout.strip()
        git(*gd, "update-ref", "refs/heads/image-updater/rb-1.1.0", commit)
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: rb
              namespace: argocd
              annotations:
                %simage-list: rb={reg}/team/rb
                %swrite-back-method: git
                %sgit-branch: "main:image-updater/{{.AppName}}-{{range .Images}}{{.NewTag}}{{end}}"
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/rb}
              destination: {server: https://kubernetes.default.svc}
            """ % (ANN, ANN, ANN))
        out = repo.run("--argocd-annotations")
        self.assertNotEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("pushed", out.stdout)
        self.assertRegex(out.stdout + out.stderr, r"git (reset|checkout)")
        self.assertEqual(repo.log("image-updater/rb-1.1.0"), ["bad"])


class Credentials(unittest.TestCase):
    """Pull secrets in every form against the htpasswd registry, read again
    on a 401; Git credentials from git:secret."""

    def app(self, pull_secret, extra_docs="", method="git"):
        push("team/cred", "1.0.0", "1.3.0", registry=PRIVATE)
        repo = Repo({"apps/cred/kustomization.yaml": "resources: []\n"},
                    transport="http")
        repo.objects(textwrap.dedent("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: cred
              namespace: argocd
              annotations:
                %simage-list: c={priv}/team/cred
                %sc.pull-secret: "%s"
                %swrite-back-method: "%s"
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/cred}
              destination: {server: https://kubernetes.default.svc}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: git-creds, namespace: argocd}
            stringData:
              username: %s
              password: %s
            """) % (ANN, ANN, pull_secret, ANN, method,
                    os.environ["FERRY_TEST_GIT_HTTP_USER"],
                    os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"]) + extra_docs)
        return repo

    def assert_pushed(self, repo, out):
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("Application argocd/cred: pushed", out.stdout,
                      out.stderr)
        self.assertEqual(
            yaml.safe_load(repo.file("apps/cred/.argocd-source-cred.yaml")),
            {"kustomize": {"images": ["%s/team/cred:1.3.0" % PRIVATE]}})
        self.assertNotIn(REG_PASSWORD, out.stdout + out.stderr)

    def test_env_credentials(self):
        repo = self.app("env:CRED_VAR", method="git:secret:argocd/git-creds")
        out = repo.run("--argocd-annotations", env={
            "CRED_VAR": "%s:%s" % (REG_USER, REG_PASSWORD)})
        self.assert_pushed(repo, out)
        assert_secrets_absent(self, repo, out, [
            REG_PASSWORD, os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"]])

    def test_secret_field_credentials(self):
        repo = self.app("secret:argocd/reg#creds",
                        method="git:secret:argocd/git-creds",
                        extra_docs="---\napiVersion: v1\nkind: Secret\n"
                        "metadata: {name: reg, namespace: argocd}\n"
                        "stringData: {creds: \"%s:%s\"}\n"
                        % (REG_USER, REG_PASSWORD))
        self.assert_pushed(repo, repo.run("--argocd-annotations"))

    def test_pull_secret_credentials(self):
        import base64
        auth = base64.b64encode(("%s:%s" % (REG_USER, REG_PASSWORD))
                                .encode()).decode()
        cfg = json.dumps({"auths": {PRIVATE: {"auth": auth}}})
        repo = self.app("pullsecret:argocd/regcred",
                        method="git:secret:argocd/git-creds",
                        extra_docs="---\napiVersion: v1\nkind: Secret\n"
                        "metadata: {name: regcred, namespace: argocd}\n"
                        "type: kubernetes.io/dockerconfigjson\n"
                        "stringData:\n  .dockerconfigjson: '%s'\n" % cfg)
        self.assert_pushed(repo, repo.run("--argocd-annotations"))

    def test_ext_script_is_run_again_after_a_401(self):
        d = tempfile.mkdtemp(dir=TMP, prefix="ext-")
        count = os.path.join(d, "count")
        script = os.path.join(d, "creds.sh")
        with open(script, "w") as f:
            # wrong the first time, right from then on
            f.write("#!/bin/sh\nn=$(cat %s 2>/dev/null || echo 0)\n"
                    "echo $((n + 1)) > %s\n"
                    "if [ \"$n\" = 0 ]; then echo %s:wrong; "
                    "else echo %s:%s; fi\n"
                    % (count, count, REG_USER, REG_USER, REG_PASSWORD))
        os.chmod(script, 0o755)
        repo = self.app("ext:" + script, method="git:secret:argocd/git-creds")
        out = repo.run("--argocd-annotations")
        self.assert_pushed(repo, out)
        with open(count) as f:
            self.assertEqual(f.read().strip(), "2")
        self.assertIn("event=credentials_refetch", out.stderr)

    def test_ext_script_is_run_once_after_a_401_for_every_platform(self):
        d = tempfile.mkdtemp(dir=TMP, prefix="ext-")
        count = os.path.join(d, "count")
        script = os.path.join(d, "creds.sh")
        with open(script, "w") as f:
            # wrong, then right, then (were it run per platform) a longer
            # user name, which moved the buffer the others pointed into
            f.write("#!/bin/sh\nn=$(cat %s 2>/dev/null || echo 0)\n"
                    "echo $((n + 1)) > %s\n"
                    "if [ \"$n\" = 0 ]; then echo %s:wrong; "
                    "elif [ \"$n\" = 1 ]; then echo %s:%s; "
                    "else echo %s:x; fi\n"
                    % (count, count, REG_USER, REG_USER, REG_PASSWORD,
                       "u" * 300))
        os.chmod(script, 0o755)
        push("team/plat", "1.0.0", "1.1.0", registry=PRIVATE,
             platforms="linux/amd64,linux/arm64", created_step=60)
        repo = Repo({"apps/cred/kustomization.yaml": "resources: []\n"},
                    transport="http")
        repo.objects(textwrap.dedent("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: cred
              namespace: argocd
              annotations:
                %simage-list: c={priv}/team/plat
                %sc.update-strategy: newest-build
                %sc.platforms: linux/amd64,linux/arm64
                %sc.pull-secret: "ext:%s"
                %swrite-back-method: git:secret:argocd/git-creds
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/cred}
              destination: {server: https://kubernetes.default.svc}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: git-creds, namespace: argocd}
            stringData:
              username: %s
              password: %s
            """) % (ANN, ANN, ANN, ANN, script, ANN,
                    os.environ["FERRY_TEST_GIT_HTTP_USER"],
                    os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"]))
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("AddressSanitizer", out.stderr)
        self.assertEqual(
            yaml.safe_load(repo.file("apps/cred/.argocd-source-cred.yaml")),
            {"kustomize": {"images": ["%s/team/plat:1.1.0" % PRIVATE]}})
        with open(count) as f:
            self.assertEqual(f.read().strip(), "2")

    def test_registries_conf_credentials_are_read_again_after_a_401(self):
        d = tempfile.mkdtemp(dir=TMP, prefix="ext-")
        count = os.path.join(d, "count")
        script = os.path.join(d, "creds.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nn=$(cat %s 2>/dev/null || echo 0)\n"
                    "echo $((n + 1)) > %s\n"
                    "if [ \"$n\" = 0 ]; then echo %s:wrong; "
                    "else echo %s:%s; fi\n"
                    % (count, count, REG_USER, REG_USER, REG_PASSWORD))
        os.chmod(script, 0o755)
        # the image has no pull-secret: its registry's entry has them
        repo = self.app("", method="git:secret:argocd/git-creds")
        path = os.path.join(repo.config, "objects.yaml")
        with open(path) as f:
            text = "".join(line for line in f.readlines()
                           if "c.pull-secret" not in line)
        with open(path, "w") as f:
            f.write(text)
        with open(os.path.join(repo.config, "configmap.yaml"), "a") as f:
            f.write("      credentials: ext:%s\n" % script)
        out = repo.run("--argocd-annotations")
        self.assert_pushed(repo, out)
        with open(count) as f:
            self.assertEqual(f.read().strip(), "2")
        self.assertIn("event=credentials_refetch", out.stderr)

    def test_ext_script_that_hangs_is_stopped_after_its_timeout(self):
        d = tempfile.mkdtemp(dir=TMP, prefix="ext-")
        script = os.path.join(d, "hang.sh")
        with open(script, "w") as f:
            f.write("#!/bin/sh\nexec sleep 120\n")
        os.chmod(script, 0o755)
        repo = self.app("ext:" + script, method="git:secret:argocd/git-creds")
        t0 = time.time()
        out = repo.run("--argocd-annotations")
        self.assertLess(time.time() - t0, 60)
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("Application argocd/cred: failed", out.stdout)
        self.assertIn("'%s' did not finish in 10000 ms" % script,
                      out.stdout)
        self.assertEqual(out.stdout.count("image '%s/team/cred'" % PRIVATE),
                         1, out.stdout)
        self.assertEqual(repo.log(), ["Initial commit"])

    def test_repocreds_from_an_argo_cd_repository_secret(self):
        repo = self.app("env:CRED_VAR", method="git:repocreds",
                        extra_docs="---\napiVersion: v1\nkind: Secret\n"
                        "metadata:\n  name: repo\n  namespace: argocd\n"
                        "  labels: {argocd.argoproj.io/secret-type: "
                        "repository}\n"
                        "stringData:\n  url: URL\n  username: %s\n"
                        "  password: %s\n" % (
                            os.environ["FERRY_TEST_GIT_HTTP_USER"],
                            os.environ["FERRY_TEST_GIT_HTTP_PASSWORD"]))
        path = os.path.join(repo.config, "objects.yaml")
        with open(path) as f:
            text = f.read().replace("url: URL", "url: " + repo.url)
        with open(path, "w") as f:
            f.write(text)
        out = repo.run("--argocd-annotations", env={
            "CRED_VAR": "%s:%s" % (REG_USER, REG_PASSWORD)})
        self.assert_pushed(repo, out)

    def test_refused_credentials_name_the_image_once(self):
        repo = self.app("env:CRED_VAR", method="git:secret:argocd/git-creds")
        out = repo.run("--argocd-annotations",
                       env={"CRED_VAR": "%s:wrong" % REG_USER})
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("Application argocd/cred: failed: image '%s/team/cred': "
                      "HTTP 401" % PRIVATE, out.stdout)
        self.assertEqual(out.stdout.count("image '%s/team/cred'" % PRIVATE),
                         1, out.stdout)

    def test_no_git_credentials_fail_the_push(self):
        repo = self.app("env:CRED_VAR", method="git")
        out = repo.run("--argocd-annotations", env={
            "CRED_VAR": "%s:%s" % (REG_USER, REG_PASSWORD)})
        self.assertEqual(out.returncode, 1, out.stdout + out.stderr)
        self.assertIn("Application argocd/cred: failed", out.stdout)


class SshAndIndexes(unittest.TestCase):
    """git:secret with an SSH key, and image-spec at an indexed Helm
    values path (sidecars[1].image)."""

    def repo(self, secret):
        push("team/side", "1.0.0", "1.1.0")
        repo = Repo({
            "charts/x/Chart.yaml": "apiVersion: v2\nname: x\n"
                                   "version: 0.1.0\n",
            "charts/x/values.yaml": textwrap.dedent("""\
                sidecars:
                  - name: log
                    image: busybox:1.36
                  - name: side
                    image: %s/team/side:1.0.0  # the sidecar
                """ % REGISTRY),
        }, transport="ssh")
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: x
              namespace: argocd
              annotations:
                %simage-list: s={reg}/team/side
                %ss.helm.image-spec: sidecars[1].image
                %swrite-back-method: git:secret:ssh-creds
                %swrite-back-target: helmvalues
            spec:
              source: {repoURL: {url}, targetRevision: main, path: charts/x}
              destination: {server: https://kubernetes.default.svc}
            ---
            apiVersion: v1
            kind: Secret
            metadata: {name: ssh-creds, namespace: argocd}
            stringData:
            """ % (ANN, ANN, ANN, ANN))
        with open(os.path.join(repo.config, "objects.yaml"), "a") as f:
            f.write(textwrap.indent(secret, "  "))
        return repo

    def key(self):
        with open(os.environ["FERRY_TEST_SSH_KEY"]) as f:
            return f.read()

    def test_ssh_key_with_known_hosts_and_an_indexed_key(self):
        with open(os.environ["FERRY_TEST_SSH_KNOWN_HOSTS"]) as f:
            known = f.read()
        repo = self.repo("sshPrivateKey: |\n%sknown_hosts: |\n%s" % (
            textwrap.indent(self.key(), "  "),
            textwrap.indent(known, "  ")))
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertNotIn("ssh_host_key_unchecked", out.stderr)
        # the key, and each line of its body, appear nowhere
        body = [line for line in self.key().splitlines()
                if len(line) >= 16 and not line.startswith("-----")]
        self.assertTrue(body)
        assert_secrets_absent(self, repo, out, [self.key()] + body)
        self.assertEqual(repo.file("charts/x/values.yaml") + "\n",
                         textwrap.dedent("""\
            sidecars:
              - name: log
                image: busybox:1.36
              - name: side
                image: %s/team/side:1.1.0  # the sidecar
            """ % REGISTRY))

    def test_ssh_key_without_known_hosts_is_unchecked_as_argo_cd(self):
        repo = self.repo("sshPrivateKey: |\n%s" %
                         textwrap.indent(self.key(), "  "))
        out = repo.run("--argocd-annotations")
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("event=ssh_host_key_unchecked", out.stderr)
        self.assertIn("team/side:1.1.0", repo.file("charts/x/values.yaml"))


class Validate(unittest.TestCase):
    def test_method_argocd_is_refused_and_points_to_git(self):
        repo = Repo({"a/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: web
              namespace: argocd
              annotations:
                %simage-list: {reg}/team/web
            spec:
              source: {repoURL: {url}, path: a}
              destination: {server: https://kubernetes.default.svc}
            """ % ANN)
        out = sh(FERRY, "validate", "--argocd-annotations", "-f", repo.config,
                 check=False)
        self.assertEqual(out.returncode, 2, out.stdout + out.stderr)
        self.assertIn("objects.yaml:7:", out.stderr)
        self.assertIn("write-back method 'argocd' patches the Application "
                      "through the Argo CD API, which needs a cluster; ferry "
                      "writes to Git: use method 'git'", out.stderr)
        # without the flag ferry does not read the annotations at all
        out = sh(FERRY, "validate", "-f", repo.config, check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("1 Application", out.stdout)

    def test_unknown_strategy_warns_and_names_semver(self):
        repo = Repo({"a/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: web
              namespace: argocd
              annotations:
                %simage-list: w={reg}/team/web
                %sw.update-strategy: newst-build
                %swrite-back-method: git
            spec:
              source: {repoURL: {url}, path: a}
              destination: {server: https://kubernetes.default.svc}
            """ % (ANN, ANN, ANN))
        out = sh(FERRY, "validate", "--argocd-annotations", "-f", repo.config,
                 check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("level=warn", out.stderr)
        self.assertIn("unknown update strategy 'newst-build'; using semver",
                      out.stderr)
        self.assertIn("objects.yaml:8:", out.stderr)


class Example(unittest.TestCase):
    """examples/argocd: what `./scripts/quickstart argocd` runs."""

    def test_the_example_validates(self):
        root = os.environ["FERRY_SOURCE_ROOT"]
        out = sh(FERRY, "validate", "-f",
                 os.path.join(root, "examples", "argocd", "config"),
                 check=False)
        self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
        self.assertIn("ok: 3 objects (1 ImageUpdater, 2 Application)",
                      out.stdout)


class Daemon(unittest.TestCase):
    """The daemon runs Applications on their interval and `ferry get`
    lists them with their images."""

    def test_get_lists_applications_and_images(self):
        push("team/dm", "1.0.0", "1.5.0")
        repo = Repo({"apps/dm/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: dm
              namespace: argocd
              annotations:
                %simage-list: dm={reg}/team/dm
                %swrite-back-method: git
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/dm}
              destination: {server: https://kubernetes.default.svc}
            """ % (ANN, ANN))
        proc = subprocess.Popen(
            [FERRY, "run", "-f", repo.config, "--state-dir", repo.state,
             "--listen", "off", "--argocd-annotations"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            deadline = time.time() + 60
            while time.time() < deadline and len(repo.log()) < 2:
                time.sleep(0.2)
            self.assertEqual(len(repo.log()), 2)
            out = sh(FERRY, "get", "apps", "--state-dir", repo.state,
                     "-o", "json")
            obj = json.loads(out.stdout)["objects"][0]
            self.assertEqual(obj["kind"], "Application")
            self.assertEqual(obj["name"], "dm")
            self.assertEqual(obj["images"][0]["image"],
                             "%s/team/dm" % REGISTRY)
            self.assertEqual(obj["images"][0]["tag"], "1.5.0")
            out = sh(FERRY, "get", "--state-dir", repo.state)
            self.assertIn("IMAGES", out.stdout)
            self.assertIn("argocd/dm", out.stdout)
            self.assertIn("dm=%s/team/dm:1.5.0" % REGISTRY, out.stdout)
            # ferry reconcile runs it now (nothing to change)
            out = sh(FERRY, "reconcile", "app", "dm", "-n", "argocd",
                     "--state-dir", repo.state, check=False)
            self.assertEqual(out.returncode, 0, out.stdout + out.stderr)
            self.assertEqual(len(repo.log()), 2)
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0)

    def test_argo_webhook_runs_the_applications_with_its_image(self):
        push("team/hook", "1.0.0")
        repo = Repo({"apps/hook/kustomization.yaml": "resources: []\n"})
        repo.objects("""\
            apiVersion: argoproj.io/v1alpha1
            kind: Application
            metadata:
              name: hook
              namespace: argocd
              annotations:
                %simage-list: h={reg}/team/hook
                %swrite-back-method: git
            spec:
              source: {repoURL: {url}, targetRevision: main, path: apps/hook}
              destination: {server: https://kubernetes.default.svc}
            """ % (ANN, ANN))
        # an hour's interval: only the webhook can run it again
        with open(os.path.join(repo.config, "configmap.yaml"), "a") as f:
            f.write("  interval: 1h\n")
        port = testbed.free_port()
        proc = subprocess.Popen(
            [FERRY, "run", "-f", repo.config, "--state-dir", repo.state,
             "--listen", "127.0.0.1:%d" % port, "--argocd-annotations"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
            env=dict(os.environ, HARBOR_WEBHOOK_SECRET="hook-secret"))
        try:
            deadline = time.time() + 60
            while time.time() < deadline and len(repo.log()) < 2:
                time.sleep(0.2)
            self.assertEqual(len(repo.log()), 2)
            digest = push("team/hook", "1.1.0")["1.1.0"]
            body = json.dumps({
                "type": "PUSH_ARTIFACT",
                "event_data": {
                    "resources": [{
                        "digest": digest, "tag": "1.1.0",
                        "resource_url": "%s/team/hook:1.1.0" % REGISTRY}],
                    "repository": {"name": "hook", "namespace": "team",
                                   "repo_full_name": "team/hook"}}})
            req = urllib.request.Request(
                "http://127.0.0.1:%d/webhook?type=harbor" % port,
                data=body.encode(), method="POST",
                headers={"Content-Type": "application/json",
                         "Authorization": "hook-secret"})
            with urllib.request.urlopen(req, timeout=10) as r:
                self.assertEqual(r.status, 200)
                self.assertIn("triggered 1 object", r.read().decode())
            deadline = time.time() + 30
            while time.time() < deadline and len(repo.log()) < 3:
                time.sleep(0.2)
            self.assertEqual(repo.log()[0],
                             "build: automatic update of hook\n\n"
                             "updates image team/hook tag '1.0.0' to "
                             "'1.1.0'")
        finally:
            proc.send_signal(signal.SIGTERM)
            proc.communicate(timeout=60)
        self.assertEqual(proc.returncode, 0)


if __name__ == "__main__":
    unittest.main(verbosity=2)
