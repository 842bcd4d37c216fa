"""The registry with token auth and the harness's token server."""

import base64
import json
import unittest
import urllib.parse

from common import curl, curl_json, main, need, push_cli, testbed


def b64json(part):
    return json.loads(base64.urlsafe_b64decode(part + "=" * (-len(part) % 4)))


def claims(token):
    return b64json(token.split(".")[1])


def header(token):
    return b64json(token.split(".")[0])


class TokenRegistry(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.host = need("FERRY_TEST_REGISTRY_TOKEN")
        cls.realm = need("FERRY_TEST_TOKEN_REALM")
        cls.user = need("FERRY_TEST_REGISTRY_USER")
        cls.password = need("FERRY_TEST_REGISTRY_PASSWORD")
        cls.pushed = push_cli("--registry", cls.host, "--user", cls.user,
                              "--password", cls.password, "--token-realm",
                              cls.realm, "team/app", "1.0.0", "1.2.0")
        cls.tags_url = f"http://{cls.host}/v2/team/app/tags/list"

    def challenge(self):
        code, headers, _ = curl(self.tags_url)
        self.assertEqual(code, 401)
        scheme, _, params = headers["www-authenticate"].partition(" ")
        self.assertEqual(scheme, "Bearer")
        return testbed.parse_challenge(params)

    def get_token(self, scope, password=None, extra=""):
        query = urllib.parse.urlencode(
            [("service", need("FERRY_TEST_TOKEN_SERVICE")), ("scope", scope)])
        return curl_json("-u", f"{self.user}:{password or self.password}",
                         f"{self.realm}?{query}{extra}")

    def test_registry_answers_401_with_a_bearer_challenge(self):
        c = self.challenge()
        self.assertEqual(c["realm"], self.realm)
        self.assertEqual(c["service"], need("FERRY_TEST_TOKEN_SERVICE"))
        self.assertEqual(c["scope"], "repository:team/app:pull")

    def test_token_from_the_realm_with_basic_auth_lists_tags(self):
        c = self.challenge()
        code, _, reply = self.get_token(c["scope"])
        self.assertEqual(code, 200)
        self.assertEqual(reply["token"], reply["access_token"])
        self.assertIn("issued_at", reply)
        self.assertIn("x5c", header(reply["token"]))
        self.assertEqual(header(reply["token"])["alg"], "ES256")
        self.assertIsInstance(claims(reply["token"])["aud"], str)
        code, _, body = curl_json(
            "-H", f"Authorization: Bearer {reply['token']}", self.tags_url)
        self.assertEqual(code, 200)
        self.assertEqual(sorted(body["tags"]), ["1.0.0", "1.2.0"])

    def test_expires_in_is_the_one_given_to_the_harness(self):
        _, _, reply = self.get_token("repository:team/app:pull")
        self.assertEqual(reply["expires_in"],
                         int(need("FERRY_TEST_TOKEN_EXPIRY")))
        c = claims(reply["token"])
        self.assertEqual(c["exp"] - c["iat"], reply["expires_in"])

    def test_a_wrong_password_gets_no_token(self):
        code, headers, reply = self.get_token("repository:team/app:pull",
                                              password="wrong")
        self.assertEqual(code, 401)
        self.assertNotIn("token", reply or {})

    def test_a_request_without_credentials_gets_no_token(self):
        code, headers, reply = curl_json(f"{self.realm}?service=x&scope="
                                         "repository:team/app:pull")
        self.assertEqual(code, 401)
        self.assertNotIn("token", reply)

    def test_stats_count_issued_tokens_and_denials(self):
        _, _, before = curl_json(need("FERRY_TEST_TOKEN_STATS"))
        self.get_token("repository:team/app:pull")
        self.get_token("repository:team/app:pull", password="wrong")
        _, _, after = curl_json(need("FERRY_TEST_TOKEN_STATS"))
        self.assertEqual(after["tokens"], before["tokens"] + 1)
        self.assertEqual(after["denied"], before["denied"] + 1)

    def test_repeated_scopes_are_all_granted(self):
        query = urllib.parse.urlencode(
            [("service", need("FERRY_TEST_TOKEN_SERVICE")),
             ("scope", "repository:team/app:pull"),
             ("scope", "repository:team/other:pull,push")])
        code, _, reply = curl_json("-u", f"{self.user}:{self.password}",
                                   f"{self.realm}?{query}")
        self.assertEqual(code, 200)
        access = claims(reply["token"])["access"]
        self.assertEqual([(a["name"], a["actions"]) for a in access],
                         [("team/app", ["pull"]),
                          ("team/other", ["pull", "push"])])

    def test_token_for_another_repository_is_refused(self):
        _, _, reply = self.get_token("repository:team/other:pull")
        code, _, _ = curl("-H", f"Authorization: Bearer {reply['token']}",
                          self.tags_url)
        self.assertEqual(code, 401)

    def test_oauth2_password_grant_and_refresh_token_give_working_tokens(self):
        form = ["-d", "grant_type=password", "-d", f"username={self.user}",
                "-d", f"password={self.password}", "-d",
                f"service={need('FERRY_TEST_TOKEN_SERVICE')}", "-d",
                "scope=repository:team/app:pull", "-d", "access_type=offline",
                "-d", "client_id=ferry-test"]
        code, _, reply = curl_json(*form, self.realm)
        self.assertEqual(code, 200)
        refresh = reply["refresh_token"]
        code, _, _ = curl(
            "-H", f"Authorization: Bearer {reply['access_token']}",
            self.tags_url)
        self.assertEqual(code, 200)
        code, _, again = curl_json(
            "-d", "grant_type=refresh_token", "-d", f"refresh_token={refresh}",
            "-d", f"service={need('FERRY_TEST_TOKEN_SERVICE')}",
            "-d", "scope=repository:team/app:pull", self.realm)
        self.assertEqual(code, 200)
        code, _, _ = curl(
            "-H", f"Authorization: Bearer {again['access_token']}",
            self.tags_url)
        self.assertEqual(code, 200)

    def test_oauth2_password_grant_with_a_wrong_password_is_refused(self):
        code, _, reply = curl_json(
            "-d", "grant_type=password", "-d", f"username={self.user}",
            "-d", "password=wrong", "-d", "scope=repository:team/app:pull",
            self.realm)
        self.assertEqual(code, 401)
        self.assertNotIn("access_token", reply)

    def test_push_through_the_token_flow_gives_the_printed_digest(self):
        _, _, reply = self.get_token("repository:team/app:pull")
        code, headers, _ = curl(
            "-I", "-H", f"Authorization: Bearer {reply['token']}",
            "-H", "Accept: " + testbed.MANIFEST_ACCEPT,
            f"http://{self.host}/v2/team/app/manifests/1.2.0")
        self.assertEqual(code, 200)
        self.assertEqual(headers["docker-content-digest"], self.pushed[1][1])


if __name__ == "__main__":
    main()
