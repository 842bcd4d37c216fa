"""The token realm with --token-anonymous-pull (Docker Hub's public repos)."""

import unittest

from common import curl, curl_json, main, need, push_cli
from test_harness_token import claims


class AnonymousPullTokens(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = need("FERRY_TEST_REGISTRY_TOKEN")
        cls.realm = need("FERRY_TEST_TOKEN_REALM")
        cls.service = need("FERRY_TEST_TOKEN_SERVICE")
        need("FERRY_TEST_TOKEN_ANONYMOUS_PULL")
        cls.pushed = push_cli("--registry", "token", "library/app", "1.0.0")

    def anonymous_token(self, scope, extra=""):
        code, _, reply = curl_json(
            f"{self.realm}?service={self.service}&scope={scope}{extra}")
        self.assertEqual(code, 200)
        self.assertNotIn("refresh_token", reply)
        return reply["token"]

    def test_a_request_without_credentials_gets_a_pull_only_token(self):
        token = self.anonymous_token("repository:library/app:pull,push",
                                     "&offline_token=true")
        access, = claims(token)["access"]
        self.assertEqual(access["actions"], ["pull"])
        code, _, body = curl_json(
            "-H", f"Authorization: Bearer {token}",
            f"http://{self.host}/v2/library/app/tags/list")
        self.assertEqual(code, 200)
        self.assertEqual(body["tags"], ["1.0.0"])

    def test_the_anonymous_token_cannot_push(self):
        token = self.anonymous_token("repository:library/app:pull,push")
        code, _, _ = curl("-X", "POST", "-H", f"Authorization: Bearer {token}",
                          f"http://{self.host}/v2/library/app/blobs/uploads/")
        self.assertEqual(code, 401)

    def test_a_wrong_password_still_gets_no_token(self):
        code, _, reply = curl_json(
            "-u", f"{need('FERRY_TEST_REGISTRY_USER')}:wrong",
            f"{self.realm}?service={self.service}"
            "&scope=repository:library/app:pull")
        self.assertEqual(code, 401)
        self.assertNotIn("token", reply)


if __name__ == "__main__":
    main()
