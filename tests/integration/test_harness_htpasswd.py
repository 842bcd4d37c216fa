"""The registry with htpasswd (bcrypt) basic auth."""

import unittest

from common import curl, curl_json, main, need, push_cli


class HtpasswdRegistry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = need("FERRY_TEST_REGISTRY_HTPASSWD")
        cls.user = need("FERRY_TEST_REGISTRY_USER")
        cls.password = need("FERRY_TEST_REGISTRY_PASSWORD")

    def test_request_without_credentials_gets_401_with_a_basic_challenge(self):
        code, headers, _ = curl(f"http://{self.host}/v2/")
        self.assertEqual(code, 401)
        self.assertRegex(headers["www-authenticate"], r'^Basic realm="[^"]+"')

    def test_request_with_a_wrong_password_gets_401(self):
        code, _, _ = curl("-u", f"{self.user}:not-{self.password}",
                          f"http://{self.host}/v2/")
        self.assertEqual(code, 401)

    def test_request_with_the_credentials_gets_200(self):
        code, _, _ = curl("-u", f"{self.user}:{self.password}",
                          f"http://{self.host}/v2/")
        self.assertEqual(code, 200)

    def test_push_with_credentials_lands_tags_listed_only_with_them(self):
        push_cli("--registry", self.host, "--user", self.user, "--password",
                 self.password, "team/private", "1.0.0", "1.0.1")
        url = f"http://{self.host}/v2/team/private/tags/list"
        code, _, body = curl_json("-u", f"{self.user}:{self.password}", url)
        self.assertEqual(code, 200)
        self.assertEqual(sorted(body["tags"]), ["1.0.0", "1.0.1"])
        code, _, _ = curl(url)
        self.assertEqual(code, 401)

    def test_push_image_takes_the_kind_and_the_account_from_the_env(self):
        (tag, digest, _), = push_cli("--registry", "htpasswd", "team/kind",
                                     "v1")
        code, headers, _ = curl(
            "-I", "-u", f"{self.user}:{self.password}",
            "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
            f"http://{self.host}/v2/team/kind/manifests/v1")
        self.assertEqual(code, 200)
        self.assertEqual(headers["docker-content-digest"], digest)


if __name__ == "__main__":
    main()
