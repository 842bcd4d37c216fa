#!/usr/bin/python3
"""Paging and failure tests of the scanner (run by testbed.py with a real
noauth registry).  Distribution 2.8 does not page tag lists, so this part
cannot be real: hostile_registry.py serves the real registry's tags in
pages and fails in the ways other registries do, and the C test
test_scan_failures (argv[1]) checks that ferry follows every page, fails
as a whole with an error naming the cause, and keeps the previous list.
"""

import os
import subprocess
import sys

ROOT = os.environ["FERRY_SOURCE_ROOT"]
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hostile_registry  # noqa: E402
import testbed  # noqa: E402

UPSTREAM = os.environ["FERRY_TEST_REGISTRY_NOAUTH"]


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and a client certificate."""
    import datetime
    import ipaddress
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def cert(cn, key, issuer, issuer_key, ca=False, ip=None):
        b = (x509.CertificateBuilder()
             .subject_name(x509.Name([x509.NameAttribute(
                 NameOID.COMMON_NAME, cn)]))
             .issuer_name(issuer).public_key(key.public_key())
             .serial_number(x509.random_serial_number())
             .not_valid_before(now - datetime.timedelta(days=1))
             .not_valid_after(now + datetime.timedelta(days=2))
             .add_extension(x509.BasicConstraints(ca=ca, path_length=None),
                            critical=True))
        if ip:
            b = b.add_extension(x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address(ip))]), critical=False)
        return b.sign(issuer_key, hashes.SHA256())

    def write(name, data):
        with open(os.path.join(d, name), "wb") as f:
            f.write(data)

    def key_pem(k):
        return k.private_bytes(serialization.Encoding.PEM,
                               serialization.PrivateFormat.PKCS8,
                               serialization.NoEncryption())

    pem = serialization.Encoding.PEM
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                            "ferry-test-ca")])
    ca = cert("ferry-test-ca", ca_key, ca_name, ca_key, ca=True)
    write("ca.crt", ca.public_bytes(pem))
    for name, ip in (("server", "127.0.0.1"), ("client", None)):
        k = ec.generate_private_key(ec.SECP256R1())
        write(name + ".crt", cert("ferry-" + name, k, ca_name, ca_key,
                                  ip=ip).public_bytes(pem))
        write(name + ".key", key_pem(k))


def main():
    tags = ["1.%d.0" % i for i in range(25)]
    testbed.push_image(UPSTREAM, "team/app", tags)
    pki = os.path.join(os.environ.get("FERRY_TEST_TMP", "/tmp"), "pki")
    os.makedirs(pki, exist_ok=True)
    make_pki(pki)
    front = hostile_registry.Front(UPSTREAM, tls=(
        os.path.join(pki, "server.crt"), os.path.join(pki, "server.key"),
        os.path.join(pki, "ca.crt")))
    try:
        env = dict(os.environ)
        env["FERRY_TEST_HOSTILE_TLS"] = front.tls_addr
        env["FERRY_TEST_PKI"] = pki
        env["FERRY_TEST_HOSTILE"] = front.addr
        env["FERRY_TEST_HOSTILE_TAGS"] = ",".join(sorted(tags))
        rc = subprocess.run([sys.argv[1]], env=env, timeout=240).returncode
        if front.auth_leaks:
            print("FAIL: Authorization reached the other origin %d times"
                  % front.auth_leaks, file=sys.stderr)
            rc = rc or 1
        if front.other_hits == 0:
            print("FAIL: the redirect case never reached the other origin",
                  file=sys.stderr)
            rc = rc or 1
        return rc
    finally:
        front.close()


if __name__ == "__main__":
    sys.exit(main())
