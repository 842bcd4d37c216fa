#!/usr/bin/python3
"""Writes the SOPS fixtures of tests/sops/fixtures/made/ (run by hand; the
results are committed, so tests do not depend on randomness).

There is no sops in Debian, so this script lays the files out as sops
3.x does (4-space indent, the `sops:` mapping last) and encrypts what
sops encrypts: values with AES-256-GCM, a 32-byte IV and the path
("stringData:password:") as additional data; the MAC, the upper-case hex
SHA-512 of every value in order, with lastmodified as additional data.
The data key is wrapped by the real tools: Debian's `age` (age1...
recipient, armored) and `gpg` (an unprotected cv25519 key made here).

The sops project's own fixtures (tests/sops/fixtures/sops-project/)
check the same code against files the real sops wrote.

It also writes OUTDIR/gitops/, a Flux repository in small (clusters/)
with its cluster-side Secrets as Kubernetes mounts them (secrets/), for
the loader's tests: a SOPS-encrypted pull secret decrypted with the key
of the Kustomization's decryption Secret, an encrypted Secret nothing
refers to, a deploy key and an ExternalSecret's Secret in the cluster.

Usage: make_fixtures.py OUTDIR
"""
import base64
import hashlib
import os
import subprocess
import sys
import tempfile

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

LASTMODIFIED = "2026-07-01T10:00:00Z"
VERSION = "3.9.4"


def run(*args, **kw):
    return subprocess.run(args, check=True, capture_output=True, **kw).stdout


class Sops:
    def __init__(self, key, mac_only_encrypted=False):
        self.key = key
        self.mac = hashlib.sha512()
        self.mac_only = mac_only_encrypted
        if mac_only_encrypted:
            self.mac.update(bytes([
                0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10,
                0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b, 0x0b, 0x97, 0x5b, 0x3b,
                0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2,
                0x7d, 0x69]))

    def enc(self, plain, path, kind="str", comment=False):
        """ENC[...] of plain (bytes of its sops type) at path (a list of
        keys); counted in the MAC unless it is a comment."""
        if isinstance(plain, str):
            plain = plain.encode()
        iv = os.urandom(32)
        aad = (":".join(path) + ":").encode()
        out = AESGCM(self.key).encrypt(iv, plain, aad)
        if not comment:
            self.mac.update(plain)
        return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:%s]" % (
            base64.b64encode(out[:-16]).decode(),
            base64.b64encode(iv).decode(),
            base64.b64encode(out[-16:]).decode(), kind)

    def clear(self, plain):
        """A value left in clear text: in the MAC unless mac_only."""
        if not self.mac_only:
            self.mac.update(plain.encode())
        return plain

    def mac_value(self):
        digest = self.mac.hexdigest().upper()
        iv = os.urandom(32)
        out = AESGCM(self.key).encrypt(iv, digest.encode(),
                                       LASTMODIFIED.encode())
        return "ENC[AES256_GCM,data:%s,iv:%s,tag:%s,type:str]" % (
            base64.b64encode(out[:-16]).decode(),
            base64.b64encode(iv).decode(),
            base64.b64encode(out[-16:]).decode())


def indent(text, n):
    return "".join(" " * n + l + "\n" for l in text.strip("\n").split("\n"))


def metadata(s, wrapped, rule=None, mac_only=False):
    """The sops: mapping; wrapped is [("age", recipient, armored) or
    ("pgp", fingerprint, armored)]."""
    out = "sops:\n"
    ages = [w for w in wrapped if w[0] == "age"]
    pgps = [w for w in wrapped if w[0] == "pgp"]
    if ages:
        out += "    age:\n"
        for _, rcpt, arm in ages:
            out += "        - recipient: %s\n          enc: |\n" % rcpt
            out += indent(arm, 12)
    out += '    lastmodified: "%s"\n' % LASTMODIFIED
    out += "    mac: %s\n" % s.mac_value()
    if pgps:
        out += "    pgp:\n"
        for _, fp, arm in pgps:
            out += ('        - created_at: "%s"\n          enc: |-\n'
                    % LASTMODIFIED)
            out += indent(arm, 12)
            out += "          fp: %s\n" % fp
    if rule:
        out += "    %s: %s\n" % rule
    if mac_only:
        out += "    mac_only_encrypted: true\n"
    out += "    version: %s\n" % VERSION
    return out


def main():
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    home = tempfile.mkdtemp(prefix="ferry-sops-fixtures-")
    try:
        write_all(outdir, home)
    finally:
        subprocess.run(["gpgconf", "--homedir", home, "--kill",
                        "gpg-agent"], capture_output=True)
        subprocess.run(["rm", "-rf", home])


def write_all(outdir, home):
    def put(name, text):
        with open(os.path.join(outdir, name), "w") as f:
            f.write(text)

    # keys: an age identity, another one, and an unprotected PGP key
    ident = run("age-keygen").decode()
    other = run("age-keygen").decode()
    recipient = [l for l in ident.splitlines()
                 if l.startswith("# public key: ")][0][14:]
    put("age.agekey", ident)
    put("other.agekey", other)
    gpg = ["gpg", "--batch", "--quiet", "--homedir", home]
    run(*gpg, "--passphrase", "", "--quick-gen-key",
        "ferry test <sops-test@example.invalid>", "default", "default",
        "never")
    fpr = [l.split(":")[9] for l in run(
        *gpg, "--with-colons", "--list-secret-keys").decode().splitlines()
        if l.startswith("fpr:")][0]
    put("pgp.asc", run(*gpg, "--armor", "--export-secret-keys",
                       fpr).decode())

    def age_wrap(key):
        return ("age", recipient, run("age", "-r", recipient, "-a",
                                      input=key).decode())

    def pgp_wrap(key):
        return ("pgp", fpr, run(*gpg, "--trust-model", "always", "--armor",
                                "--encrypt", "-r", fpr, input=key).decode())

    # 1, 2: the Secret a Flux user keeps, encrypted_regex as Flux's
    # guide says, for an age recipient and for a PGP one
    for name, wrap in (("age-secret", age_wrap), ("pgp-secret", pgp_wrap)):
        key = os.urandom(32)
        s = Sops(key)
        body = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
                "    namespace: %s\ntype: %s\nstringData:\n"
                "    username: %s\n    password: %s\n") % (
            s.clear("v1"), s.clear("Secret"), s.clear("git-auth"),
            s.clear("flux-system"), s.clear("Opaque"),
            s.enc("flux-bot", ["stringData", "username"]),
            s.enc("s3cr3t: with # and 'quotes'",
                  ["stringData", "password"]))
        put(name + ".enc.yaml", body + metadata(
            s, [wrap(key)], ("encrypted_regex", "^(data|stringData)$")))
        put(name + ".yaml",
            "apiVersion: v1\nkind: Secret\nmetadata:\n    name: git-auth\n"
            "    namespace: flux-system\ntype: Opaque\nstringData:\n"
            "    username: flux-bot\n"
            "    password: \"s3cr3t: with # and 'quotes'\"\n")

    # 3: every sops type, nesting, lists, comments, the _unencrypted
    # suffix (the default rule), a null and an empty string; recipients:
    # age and PGP both
    key = os.urandom(32)
    s = Sops(key)
    lines = [
        "#" + s.enc(" the test's values", [], "comment", True),
        "name: " + s.enc("app", ["name"]),
        "replicas: " + s.enc("3", ["replicas"], "int"),
        "ratio: " + s.enc("0.25", ["ratio"], "float"),
        "enabled: " + s.enc("True", ["enabled"], "bool"),
        "looks_like_a_number: " + s.enc("1.10", ["looks_like_a_number"]),
        "certificate: " + s.enc("-----BEGIN X-----\nAAAA\n-----END X-----\n",
                                ["certificate"]),
        "nested:",
        "    deeper:",
        "        #" + s.enc(" about the token", ["nested", "deeper"],
                           "comment", True),
        "        token: " + s.enc("t0k3n", ["nested", "deeper", "token"]),
        "    list:",
        "        - " + s.enc("first", ["nested", "list"]),
        "        - " + s.enc("second", ["nested", "list"]),
        "        - " + s.enc("42", ["nested", "list"], "int"),
        "empty: ''",
        "nothing: null",
        "note_unencrypted: " + s.clear("left as it is"),
        "count_unencrypted: " + s.clear("7"),
    ]
    put("types.enc.yaml", "\n".join(lines) + "\n" + metadata(
        s, [age_wrap(key), pgp_wrap(key)], ("unencrypted_suffix",
                                            "_unencrypted")))
    put("types.yaml", "\n".join([
        "# the test's values", "name: app", "replicas: 3", "ratio: 0.25",
        "enabled: true", 'looks_like_a_number: "1.10"',
        'certificate: "-----BEGIN X-----\\nAAAA\\n-----END X-----\\n"',
        "nested:", "    deeper:", "        # about the token",
        "        token: t0k3n", "    list:", "        - first",
        "        - second", "        - 42", "empty: ''", "nothing: null",
        "note_unencrypted: left as it is", "count_unencrypted: 7"]) + "\n")

    # 4: JSON, as sops writes it (tab indent, metadata last)
    key = os.urandom(32)
    s = Sops(key)
    user = s.enc("admin", ["db", "user"])
    port = s.enc("5432", ["db", "port"], "int")
    tls = s.enc("False", ["db", "tls"], "bool")
    w = age_wrap(key)
    arm = w[2].replace("\n", "\\n")
    put("db.enc.json",
        '{\n\t"db": {\n\t\t"user": "%s",\n\t\t"port": "%s",\n'
        '\t\t"tls": "%s"\n\t},\n\t"sops": {\n\t\t"age": [\n\t\t\t{\n'
        '\t\t\t\t"recipient": "%s",\n\t\t\t\t"enc": "%s"\n\t\t\t}\n'
        '\t\t],\n\t\t"lastmodified": "%s",\n\t\t"mac": "%s",\n'
        '\t\t"unencrypted_suffix": "_unencrypted",\n\t\t"version": "%s"\n'
        '\t}\n}\n' % (user, port, tls, recipient, arm, LASTMODIFIED,
                      s.mac_value(), VERSION))
    put("db.json", '{\n\t"db": {\n\t\t"user": "admin",\n\t\t"port": 5432,'
        '\n\t\t"tls": false\n\t}\n}\n')

    # 5: mac_only_encrypted: the clear values are not in the MAC
    key = os.urandom(32)
    s = Sops(key, mac_only_encrypted=True)
    body = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "data:\n    token: %s\n") % (
        s.clear("v1"), s.clear("Secret"), s.clear("api"),
        s.enc("dG9rZW4=", ["data", "token"]))
    put("mac-only.enc.yaml", body + metadata(
        s, [age_wrap(key)], ("encrypted_regex", "^data$"), mac_only=True))

    # 6: two documents under one MAC, sops metadata in each
    key = os.urandom(32)
    s = Sops(key)
    doc1 = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "stringData:\n    a: %s\n") % (
        s.clear("v1"), s.clear("Secret"), s.clear("one"),
        s.enc("alpha", ["stringData", "a"]))
    doc2 = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "stringData:\n    b: %s\n") % (
        s.clear("v1"), s.clear("Secret"), s.clear("two"),
        s.enc("beta", ["stringData", "b"]))
    meta = metadata(s, [age_wrap(key)],
                    ("encrypted_regex", "^(data|stringData)$"))
    put("two-docs.enc.yaml", doc1 + meta + "---\n" + doc2 + meta)

    # 7: everything encrypted, the kind and name too (sops' default)
    key = os.urandom(32)
    s = Sops(key)
    body = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "    namespace: %s\nstringData:\n    token: %s\n") % (
        s.enc("v1", ["apiVersion"]), s.enc("Secret", ["kind"]),
        s.enc("hidden", ["metadata", "name"]),
        s.enc("flux-system", ["metadata", "namespace"]),
        s.enc("opaque-token", ["stringData", "token"]))
    put("opaque.enc.yaml", body + metadata(
        s, [age_wrap(key)], ("unencrypted_suffix", "_unencrypted")))

    # 8: a GitRepository whose URL (with a token in it) is encrypted
    key = os.urandom(32)
    s = Sops(key)
    body = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "    namespace: %s\nspec:\n    interval: %s\n"
            "    url: %s\n") % (
        s.clear("source.toolkit.fluxcd.io/v1"), s.clear("GitRepository"),
        s.clear("fleet"), s.clear("flux-system"), s.clear("1m"),
        s.enc("https://bot:t0k3n@git.example.com/fleet.git", ["spec", "url"]))
    put("gitrepository.enc.yaml", body + metadata(
        s, [age_wrap(key)], ("encrypted_regex", "^url$")))

    write_gitops(os.path.join(outdir, "gitops"), ident, age_wrap)


def secret_doc(s, name, key, value, key_path="stringData"):
    return ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "    namespace: %s\ntype: %s\n%s:\n    %s: %s\n") % (
        s.clear("v1"), s.clear("Secret"), s.clear(name),
        s.clear("flux-system"), s.clear("Opaque"), key_path, key,
        s.enc(value, [key_path, key]))


def write_gitops(root, ident, age_wrap):
    def put(rel, text, mode=0o644):
        path = os.path.join(root, rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "w") as f:
            f.write(text)
        os.chmod(path, mode)

    rule = ("encrypted_regex", "^(data|stringData)$")
    # the pull secret: SOPS, for the age recipient of sops-age
    key = os.urandom(32)
    dockercfg = ('{"auths":{"registry.example.com":{"auth":"'
                 + base64.b64encode(b"bot:hunter2").decode() + '"}}}')
    s = Sops(key)
    body = ("apiVersion: %s\nkind: %s\nmetadata:\n    name: %s\n"
            "    namespace: %s\ntype: %s\nstringData:\n"
            "    .dockerconfigjson: %s\n") % (
        s.clear("v1"), s.clear("Secret"), s.clear("regcred"),
        s.clear("flux-system"), s.clear("kubernetes.io/dockerconfigjson"),
        s.enc(dockercfg, ["stringData", ".dockerconfigjson"]))
    put("clusters/prod/apps/regcred.enc.yaml",
        body + metadata(s, [age_wrap(key)], rule))
    # a Secret nothing refers to: skipped, whatever keys there are
    key = os.urandom(32)
    s = Sops(key)
    put("clusters/prod/apps/unused.enc.yaml",
        secret_doc(s, "unused", "password", "never-read")
        + metadata(s, [age_wrap(key)], rule))
    put("clusters/prod/flux-system/gotk-sync.yaml", """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 1m
  url: ssh://git@git.example.com/fleet.git
  ref:
    branch: main
  secretRef:
    name: flux-system
---
apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: flux-system
  namespace: flux-system
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
  decryption:
    provider: sops
    secretRef:
      name: sops-age
""")
    put("clusters/prod/apps/app.yaml", """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: app
  namespace: flux-system
spec:
  image: registry.example.com/team/app
  interval: 5m
  secretRef:
    name: regcred
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: app
  namespace: flux-system
spec:
  imageRepositoryRef:
    name: app
  policy:
    semver:
      range: ">=1.0.0"
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: registry
  namespace: flux-system
spec:
  type: generic
  resources:
    - kind: ImageRepository
      name: app
  secretRef:
    name: webhook-token
---
apiVersion: external-secrets.io/v1
kind: ExternalSecret
metadata:
  name: webhook
  namespace: flux-system
spec:
  secretStoreRef:
    kind: ClusterSecretStore
    name: vault
  target:
    name: webhook-token
  data:
    - secretKey: token
      remoteRef:
        key: flux/webhook
""")
    # the cluster's side, as a kubelet mounts Secrets: the keys are
    # links into ..data, which links to a timestamped directory
    mounts = {
        "flux-system/flux-system": {
            "identity": "-----BEGIN OPENSSH PRIVATE KEY-----\n"
                        "not a real key\n-----END OPENSSH PRIVATE KEY-----\n",
            "known_hosts": "git.example.com ssh-ed25519 AAAAnotreal\n"},
        "flux-system/sops-age": {"age.agekey": ident},
        "flux-system/webhook-token": {"token": "t0k3n-from-vault"},
    }
    for rel, keys in mounts.items():
        stamp = os.path.join(root, "secrets", rel, "..2026_07_01_10_00_00")
        os.makedirs(stamp, exist_ok=True)
        for k, v in keys.items():
            with open(os.path.join(stamp, k), "w") as f:
                f.write(v)
        data = os.path.join(root, "secrets", rel, "..data")
        if not os.path.islink(data):
            os.symlink("..2026_07_01_10_00_00", data)
        for k in keys:
            link = os.path.join(root, "secrets", rel, k)
            if not os.path.islink(link):
                os.symlink(os.path.join("..data", k), link)


if __name__ == "__main__":
    main()
