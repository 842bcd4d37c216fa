"""The anonymous registry: push-image, tag lists and manifest digests."""

import unittest

from common import curl, curl_json, main, need, push_cli, testbed


class AnonymousRegistry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = need("FERRY_TEST_REGISTRY_NOAUTH")
        cls.pushed = push_cli("--registry", cls.host, "--distinct",
                              "--created", "2025-03-01T10:00:00Z",
                              "--created-step", "3600",
                              "team/app", "1.0.0", "1.1.0", "2.0.0")

    def head_digest(self, repo, ref):
        code, headers, _ = curl(
            "-I", "-H", "Accept: " + testbed.MANIFEST_ACCEPT,
            f"http://{self.host}/v2/{repo}/manifests/{ref}")
        self.assertEqual(code, 200)
        return headers["docker-content-digest"], headers["content-type"]

    def test_push_image_prints_one_line_per_tag(self):
        self.assertEqual([p[0] for p in self.pushed],
                         ["1.0.0", "1.1.0", "2.0.0"])
        digests = {p[1] for p in self.pushed}
        self.assertEqual(len(digests), 3)
        for _, digest, _ in self.pushed:
            self.assertRegex(digest, r"^sha256:[0-9a-f]{64}$")

    def test_pushed_tags_are_listed_by_curl(self):
        code, _, body = curl_json(f"http://{self.host}/v2/team/app/tags/list")
        self.assertEqual(code, 200)
        self.assertEqual(body["name"], "team/app")
        self.assertEqual(sorted(body["tags"]), ["1.0.0", "1.1.0", "2.0.0"])

    def test_manifest_head_with_full_accept_gives_the_printed_digest(self):
        for tag, digest, _ in self.pushed:
            got, ctype = self.head_digest("team/app", tag)
            self.assertEqual(got, digest)
            self.assertEqual(ctype, testbed.MT_OCI_MANIFEST)

    def test_created_step_spaces_the_config_created_times(self):
        self.assertEqual([p[2] for p in self.pushed],
                         ["2025-03-01T10:00:00Z", "2025-03-01T11:00:00Z",
                          "2025-03-01T12:00:00Z"])
        tag, _, created = self.pushed[1]
        _, _, manifest = curl_json(
            "-H", "Accept: " + testbed.MANIFEST_ACCEPT,
            f"http://{self.host}/v2/team/app/manifests/{tag}")
        code, _, config = curl_json(
            "-L", f"http://{self.host}/v2/team/app/blobs/"
            f"{manifest['config']['digest']}")
        self.assertEqual(code, 200)
        self.assertEqual(config["created"], created)
        self.assertEqual((config["os"], config["architecture"]),
                         ("linux", "amd64"))
        self.assertEqual(len(config["rootfs"]["diff_ids"]),
                         len(manifest["layers"]))

    def test_docker_media_type_manifest_resolves_to_its_digest(self):
        pushed = push_cli("--registry", self.host, "--media", "docker",
                          "team/docker", "v1")
        got, ctype = self.head_digest("team/docker", "v1")
        self.assertEqual(got, pushed[0][1])
        self.assertEqual(ctype, testbed.MT_DOCKER_MANIFEST)

    def test_index_push_lists_and_resolves_with_its_platforms(self):
        pushed = push_cli("--registry", self.host, "--platforms",
                          "linux/amd64,linux/arm64,linux/arm/v7",
                          "--attestation", "team/multi", "1.0.0", "1.1.0")
        _, _, body = curl_json(f"http://{self.host}/v2/team/multi/tags/list")
        self.assertEqual(sorted(body["tags"]), ["1.0.0", "1.1.0"])
        got, ctype = self.head_digest("team/multi", "1.1.0")
        self.assertEqual(got, pushed[1][1])
        self.assertEqual(ctype, testbed.MT_OCI_INDEX)
        _, _, index = curl_json(
            "-H", "Accept: " + testbed.MANIFEST_ACCEPT,
            f"http://{self.host}/v2/team/multi/manifests/1.1.0")
        plats = [(m["platform"]["os"], m["platform"]["architecture"],
                  m["platform"].get("variant")) for m in index["manifests"]]
        self.assertEqual(plats[:3], [("linux", "amd64", None),
                                     ("linux", "arm64", None),
                                     ("linux", "arm", "v7")])
        attest = [m for m in index["manifests"]
                  if m.get("annotations", {}).get(
                      "vnd.docker.reference.type") == "attestation-manifest"]
        self.assertEqual(len(attest), 3)
        self.assertEqual(attest[0]["platform"],
                         {"os": "unknown", "architecture": "unknown"})
        self.assertEqual(attest[0]["annotations"]
                         ["vnd.docker.reference.digest"],
                         index["manifests"][0]["digest"])
        for m in index["manifests"]:
            got, _ = self.head_digest("team/multi", m["digest"])
            self.assertEqual(got, m["digest"])

    def test_docker_manifest_list_push_resolves(self):
        pushed = push_cli("--registry", self.host, "--media", "docker",
                          "--platforms", "linux/amd64,linux/arm64",
                          "team/multidocker", "v1")
        got, ctype = self.head_digest("team/multidocker", "v1")
        self.assertEqual(got, pushed[0][1])
        self.assertEqual(ctype, testbed.MT_DOCKER_LIST)

    def test_tags_without_distinct_share_one_digest(self):
        pushed = push_cli("--registry", self.host, "team/same", "a", "b")
        self.assertEqual(pushed[0][1], pushed[1][1])


if __name__ == "__main__":
    main()
