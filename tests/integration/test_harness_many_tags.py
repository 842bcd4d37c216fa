"""push-image with many tags over one connection, listed in one request."""

import sys
import time
import unittest

from common import HARNESS, curl, curl_json, main, need, push_cli, run, testbed

COUNT = 1000


class ManyTags(unittest.TestCase):
    def test_a_thousand_distinct_tags_are_pushed_and_listed(self):
        host = need("FERRY_TEST_REGISTRY_NOAUTH")
        tags = [f"1.{i // 100}.{i % 100}" for i in range(COUNT)]
        started = time.monotonic()
        pushed = push_cli("--registry", host, "--distinct", "perf/app", *tags)
        print(f"{COUNT} tags pushed in {time.monotonic() - started:.1f} s")
        self.assertEqual([p[0] for p in pushed], tags)
        self.assertEqual(len({p[1] for p in pushed}), COUNT)
        code, _, body = curl_json(f"http://{host}/v2/perf/app/tags/list")
        self.assertEqual(code, 200)
        # distribution 2.8 returns every tag at once, in no order
        self.assertEqual(sorted(body["tags"]), sorted(tags))

    def test_tags_linked_into_storage_are_listed_and_resolve(self):
        host = need("FERRY_TEST_REGISTRY_NOAUTH")
        (_, digest, _), = push_cli("--registry", host, "linked/app", "seed")
        run([sys.executable, HARNESS, "link-tags", "--storage",
             need("FERRY_TEST_REGISTRY_NOAUTH_STORAGE"), "--count", "2000",
             "--prefix", "2.0.", "linked/app", digest, "latest"])
        code, _, body = curl_json(f"http://{host}/v2/linked/app/tags/list")
        self.assertEqual(code, 200)
        self.assertEqual(len(body["tags"]), 2002)
        self.assertIn("2.0.1999", body["tags"])
        code, headers, _ = curl(
            "-I", "-H", "Accept: " + testbed.MANIFEST_ACCEPT,
            f"http://{host}/v2/linked/app/manifests/2.0.1999")
        self.assertEqual(code, 200)
        self.assertEqual(headers["docker-content-digest"], digest)


if __name__ == "__main__":
    main()
