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
