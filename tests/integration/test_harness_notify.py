"""The notify registry, driven through the harness as a Python module.

Runs on its own (not under testbed.py run): it starts the Testbed itself
and plays the webhook receiver on FERRY_TEST_NOTIFY_PORT."""

import http.server
import json
import queue
import threading
import unittest

from common import main, port_open, testbed


class Hook:
    """A webhook receiver on 127.0.0.1:port that queues what it gets."""

    def __init__(self, port):
        self.events = queue.Queue()
        events = self.events

        class Handler(http.server.BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                events.put((self.path, dict(self.headers), json.loads(body)))
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", port),
                                                      Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


class NotifyRegistry(unittest.TestCase):
    def test_a_manifest_push_is_posted_to_the_webhook(self):
        with testbed.Testbed(registries=["notify"]) as tb:
            port = int(tb.env["FERRY_TEST_NOTIFY_PORT"])
            self.assertEqual(tb.env["FERRY_TEST_NOTIFY_URL"],
                             f"http://127.0.0.1:{port}/hook")
            hook = Hook(port)
            try:
                (tag, digest, _), = tb.push_image("notify", "team/app",
                                                  ["1.4.0"])
                path, headers, envelope = hook.events.get(timeout=20)
            finally:
                hook.close()
            registry_port = int(tb.registry["notify"].rsplit(":", 1)[1])
        self.assertEqual(path, "/hook")
        self.assertEqual(headers["Content-Type"],
                         "application/vnd.docker.distribution.events.v1+json")
        event, = envelope["events"]
        self.assertEqual(event["action"], "push")
        self.assertEqual(event["target"]["repository"], "team/app")
        self.assertEqual(event["target"]["tag"], tag)
        self.assertEqual(event["target"]["digest"], digest)
        self.assertFalse(port_open(registry_port))

    def test_the_webhook_url_and_headers_can_be_chosen(self):
        port = testbed.free_port()
        hook = Hook(port)
        try:
            with testbed.Testbed(
                    registries=["notify"],
                    notify_url=f"http://127.0.0.1:{port}/receiver/abc",
                    notify_headers={"Authorization": "Bearer hook-secret"}
            ) as tb:
                self.assertNotIn("FERRY_TEST_NOTIFY_PORT", tb.env)
                tb.push_image("notify", "team/web", ["2.0.0"])
                path, headers, envelope = hook.events.get(timeout=20)
        finally:
            hook.close()
        self.assertEqual(path, "/receiver/abc")
        self.assertEqual(headers["Authorization"], "Bearer hook-secret")
        self.assertEqual(envelope["events"][0]["target"]["tag"], "2.0.0")


if __name__ == "__main__":
    main()
