#!/usr/bin/env python3
"""`ferry decrypt` end to end on the fixtures: the same bytes as the
expected plaintext, keys from options, SOPS_AGE_KEY_FILE and standard
input, and the exit codes and messages for a wrong key, tampering and a
file that is not SOPS.  Plaintext never reaches stderr.
"""
import os
import subprocess
import sys

FERRY = os.environ["FERRY"]
ROOT = os.environ["FERRY_SOURCE_ROOT"]
FIX = os.path.join(ROOT, "tests", "sops", "fixtures")
MADE = os.path.join(FIX, "made")
AGE = os.path.join(MADE, "age.agekey")
OTHER = os.path.join(MADE, "other.agekey")
PGP = os.path.join(MADE, "pgp.asc")

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL: " + what, file=sys.stderr)


def ferry(*args, stdin=None, env=None):
    e = dict(os.environ)
    e.pop("SOPS_AGE_KEY_FILE", None)
    e.update(env or {})
    p = subprocess.run([FERRY] + list(args), capture_output=True, text=True,
                       input=stdin, env=e, timeout=60)
    return p.returncode, p.stdout, p.stderr


def read(name):
    with open(os.path.join(MADE, name)) as f:
        return f.read()


def test_decrypt_prints_the_plaintext():
    rc, out, err = ferry("decrypt", "--sops-age-key-file", AGE,
                         os.path.join(MADE, "age-secret.enc.yaml"))
    check(rc == 0 and out == read("age-secret.yaml"),
          "age: %d %r %r" % (rc, out, err))
    rc, out, err = ferry("decrypt", "--sops-pgp-key-file", PGP,
                         os.path.join(MADE, "pgp-secret.enc.yaml"))
    check(rc == 0 and out == read("pgp-secret.yaml"),
          "pgp: %d %r %r" % (rc, out, err))
    rc, out, err = ferry("decrypt", os.path.join(MADE, "types.enc.yaml"),
                         env={"SOPS_AGE_KEY_FILE": AGE})
    check(rc == 0 and out == read("types.yaml"),
          "SOPS_AGE_KEY_FILE: %d %r" % (rc, err))
    rc, out, err = ferry("decrypt", "--sops-age-key-file", AGE, "-",
                         stdin=read("db.enc.json"))
    check(rc == 0 and out == read("db.json"), "stdin: %d %r" % (rc, err))


def test_a_wrong_key_and_tampering_fail_with_where():
    rc, out, err = ferry("decrypt", "--sops-age-key-file", OTHER,
                         os.path.join(MADE, "age-secret.enc.yaml"))
    check(rc == 1 and out == "" and "no key given decrypts its data key"
          in err and "age age1" in err, "wrong key: %d %r" % (rc, err))
    text = read("age-secret.enc.yaml")
    i = text.index("password: ENC[AES256_GCM,data:") + 31
    bad = text[:i] + ("B" if text[i] == "A" else "A") + text[i + 1:]
    rc, out, err = ferry("decrypt", "--sops-age-key-file", AGE, "-",
                         stdin=bad)
    check(rc == 1 and out == "" and
          "<stdin>:9:15: stringData.password: the value does not decrypt"
          in err, "tampered: %d %r" % (rc, err))
    check("s3cr3t" not in err and "flux-bot" not in err,
          "tampered: plaintext in %r" % err)


GITOPS = os.path.join(MADE, "gitops")
CANARIES = ["Ym90Omh1bnRlcjI=", "t0k3n-from-vault", "never-read",
            "not a real key", "AGE-SECRET-KEY-"]


def test_validate_reads_sops_secrets_and_the_secrets_dir():
    clusters = os.path.join(GITOPS, "clusters")
    secrets = os.path.join(GITOPS, "secrets")
    rc, out, err = ferry("--log-level", "debug", "validate", "-f", clusters,
                         "--secrets-dir", secrets)
    check(rc == 0 and out.startswith("ok: 9 objects") and "4 Secret" in out,
          "gitops: %d %r %r" % (rc, out, err))
    check("notice: %s:1:1: Secret 'flux-system/unused' is encrypted with "
          "SOPS and nothing ferry reads refers to it" % os.path.join(
              clusters, "prod", "apps", "unused.enc.yaml") in out,
          "gitops: unused notice %r" % out)
    for canary in CANARIES:
        check(canary not in out + err, "gitops: %s printed" % canary)
    # without the cluster's Secrets: each one named, with the option and
    # the ExternalSecret that makes one of them
    rc, out, err = ferry("validate", "-f", clusters)
    check(rc == 2, "no secrets dir: exit %d" % rc)
    check("regcred.enc.yaml:1:1: Secret flux-system/regcred: SOPS: " in err
          and "no key given decrypts its data key" in err,
          "no secrets dir: sops %r" % err)
    check("Secret 'flux-system/webhook-token' not found" in err and
          "ExternalSecret 'flux-system/webhook'" in err and
          "--secrets-dir" in err, "no secrets dir: external %r" % err)
    check("Secret 'flux-system/sops-age' not found" in err,
          "no secrets dir: decryption secret %r" % err)
    # the key from SOPS_AGE_KEY_FILE is enough for the encrypted one
    rc, out, err = ferry("validate", "-f", clusters,
                         env={"SOPS_AGE_KEY_FILE": AGE})
    check("SOPS" not in err and "regcred" not in err,
          "SOPS_AGE_KEY_FILE: %r" % err)
    # a wrong key is named with the file's recipient
    rc, out, err = ferry("validate", "-f", clusters, "--sops-age-key-file",
                         OTHER)
    check(rc == 2 and "tried 1 age identity (age1" in err,
          "wrong key: %d %r" % (rc, err))
    for canary in CANARIES:
        check(canary not in out + err, "wrong key: %s printed" % canary)


def test_usage():
    rc, out, err = ferry("decrypt", "--sops-age-key-file", AGE,
                         os.path.join(ROOT, "tests", "config", "fixtures",
                                      "seed", "platform.yaml"))
    check(rc == 2 and "not a SOPS file" in err, "plain: %d %r" % (rc, err))
    rc, out, err = ferry("decrypt")
    check(rc == 2 and "give one FILE" in err, "no file: %d" % rc)
    rc, out, err = ferry("decrypt", "--sops-age-key-file", PGP, "x")
    check(rc == 2 and "not an age identity" in err,
          "pgp as age: %d %r" % (rc, err))
    rc, out, err = ferry("decrypt", "--help")
    check(rc == 0 and "sops -d" in out, "help: %d" % rc)
    rc, out, err = ferry("--help")
    check("decrypt" in out, "ferry --help lists decrypt")


for name, fn in sorted(globals().items()):
    if name.startswith("test_") and callable(fn):
        fn()
if failures:
    print("%d failures" % len(failures), file=sys.stderr)
    sys.exit(1)
print("ok")
