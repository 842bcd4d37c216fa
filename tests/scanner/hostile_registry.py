#!/usr/bin/python3
"""A hostile registry front for the scanner's paging and failure tests.

Distribution 2.8 (Debian's docker-registry, which the harness runs) does not
page tag lists: it ignores `n` and `last` and never sends `Link`.  So paging
cannot be tested against the real registry alone.  This server sits in
front of it, reads the real tag list from it, and serves it the ways other
registries do (relative or absolute `Link`, opaque cursors, no `Link`) or
fails the ways registries and networks fail (429 with Retry-After, 500s,
reset connections, stalled and truncated bodies, malformed JSON, redirects
to another origin).  Everything else (`/v2/`, manifests, blobs) is passed
through to the real registry.

The behaviour is chosen by the first path component of the repository:
`/v2/<case>/<repo...>/tags/list` serves `<repo>` from the real registry in
the manner of `<case>`.  It binds to 127.0.0.1 only.
"""

import base64
import http.client
import http.server
import json
import secrets
import socket
import ssl
import threading
import time
import urllib.parse

PAGE = 10


class Front:
    def __init__(self, upstream, tls=None):
        self.upstream = upstream  # "127.0.0.1:PORT" of the real registry
        self.lock = threading.Lock()
        self.counts = {}          # case -> requests seen
        self.cursors = {}         # opaque cursor -> last tag
        self.auth_leaks = 0       # Authorization seen by the other origin
        self.other_hits = 0
        self.passed = {"GET": 0, "HEAD": 0}  # requests passed through
        self.tokens = 0           # tokens issued by /token
        self.token_auth = 0       # /token requests that carried credentials
        self.posts = 0            # POSTs refused with 404
        self.valid_token = None   # the one token "tok" cases accept
        self.proxied = 0          # requests that came as a proxy
        self.main = _server(self, other=False)
        self.other = _server(self, other=True)
        self.servers = [self.main, self.other]
        if tls is not None:
            # tls = (cert, key, client CA): HTTPS that wants a client cert
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(tls[0], tls[1])
            ctx.load_verify_locations(tls[2])
            ctx.verify_mode = ssl.CERT_REQUIRED
            self.tls = _server(self, other=False)
            self.tls.socket = ctx.wrap_socket(self.tls.socket,
                                              server_side=True)
            self.servers.append(self.tls)
            self.tls_addr = "127.0.0.1:%d" % self.tls.server_address[1]
        self.threads = [threading.Thread(target=s.serve_forever, daemon=True)
                        for s in self.servers]
        for t in self.threads:
            t.start()
        self.addr = "127.0.0.1:%d" % self.main.server_address[1]
        self.other_addr = "127.0.0.1:%d" % self.other.server_address[1]

    def count(self, case):
        with self.lock:
            self.counts[case] = self.counts.get(case, 0) + 1
            return self.counts[case]

    def close(self):
        for s in self.servers:
            s.shutdown()
            s.server_close()

    def upstream_request(self, method, path, headers):
        c = http.client.HTTPConnection(self.upstream, timeout=30)
        try:
            c.request(method, path, headers=headers)
            r = c.getresponse()
            return r.status, r.getheaders(), r.read()
        finally:
            c.close()

    def real_tags(self, repo):
        status, _, body = self.upstream_request(
            "GET", "/v2/%s/tags/list" % repo, {})
        if status != 200:
            return status, None
        return 200, sorted(json.loads(body)["tags"] or [])


def _server(front, other):
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, fmt, *args):
            pass

        def send_json(self, status, obj, extra=()):
            body = json.dumps(obj).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            for k, v in extra:
                self.send_header(k, v)
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

        def error(self, status, code, msg, extra=()):
            self.send_json(status, {"errors": [{"code": code,
                                                "message": msg}]}, extra)

        def do_HEAD(self):
            self.do_GET()

        def do_POST(self):
            # no OAuth2 POST endpoint here (as on many token servers):
            # clients must fall back to GET
            n = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(n)
            with front.lock:
                front.posts += 1
            return self.error(404, "NOT_FOUND", "no POST here")

        def do_GET(self):
            if self.path.startswith("http://"):
                # a proxy request (absolute URI): serve it as our own
                with front.lock:
                    front.proxied += 1
                u = urllib.parse.urlsplit(self.path)
                self.path = u.path + ("?" + u.query if u.query else "")
            u = urllib.parse.urlsplit(self.path)
            q = urllib.parse.parse_qs(u.query)
            parts = u.path.split("/")
            if other:
                return self.other_origin(u, parts)
            if u.path == "/_stats":
                with front.lock:
                    return self.send_json(200, {
                        "proxied": front.proxied,
                        "posts": front.posts,
                        "get": front.passed["GET"],
                        "head": front.passed["HEAD"],
                        "tokens": front.tokens,
                        "token_auth": front.token_auth})
            if u.path == "/_revoke":
                front.valid_token = None
                return self.send_json(200, {})
            if u.path == "/token":
                with front.lock:
                    front.tokens += 1
                    if self.headers.get("Authorization") or "account" in q:
                        front.token_auth += 1
                    front.valid_token = "tok-%d" % front.tokens
                    return self.send_json(200, {
                        "token": front.valid_token, "expires_in": 300})
            if u.path == "/v2/" or len(parts) < 4:
                return self.passthrough(self.path)
            case, rest = parts[2], "/".join(parts[3:])
            if not rest.endswith("/tags/list"):
                extra = []
                if case.startswith("hub-"):
                    # Docker Hub counts manifest GETs; 3 are left here
                    extra = [("ratelimit-limit", "100;w=21600"),
                             ("ratelimit-remaining", "3;w=21600")]
                return self.passthrough("/v2/" + rest, extra)
            repo = rest[:-len("/tags/list")]
            n = front.count(case)
            status, tags = front.real_tags(repo)
            if tags is None:
                return self.error(status, "NAME_UNKNOWN", "no such repo")
            base = "/v2/%s/%s/tags/list" % (case, repo)
            kind = case.split("-")[0]
            if kind in ("rel", "abs", "cursor", "loop", "page2fail"):
                size = int(q.get("n", [PAGE])[0])
                last = q.get("last", [None])[0]
                if "next_page" in q:
                    last = front.cursors.get(q["next_page"][0])
                if kind == "page2fail" and n > 1:
                    return self.error(500, "UNKNOWN", "page 2 broke")
                start = 0
                if last is not None:
                    start = len([t for t in tags if t <= last])
                page = tags[start:start + size]
                link = None
                if kind == "loop":
                    link = "<%s?n=%d&last=loop%d>; rel=\"next\"" % (
                        base, size, n)
                    page = tags[:size]
                elif start + size < len(tags):
                    if kind in ("rel", "page2fail"):
                        link = "<%s?n=%d&last=%s>; rel=\"next\"" % (
                            base, size, urllib.parse.quote(page[-1]))
                    elif kind == "abs":
                        link = ("<http://%s%s?last=%s&n=%d>; "
                                "rel=\"next\"" % (front.addr, base,
                                                  page[-1], size))
                    else:
                        cur = base64.urlsafe_b64encode(
                            secrets.token_bytes(12)).decode()
                        front.cursors[cur] = page[-1]
                        link = ("<%s?next_page=%s&n=%d>; title=\"a, b\";"
                                " rel=\"next\"" % (base, cur, size))
                extra = [("Link", link)] if link else []
                return self.send_json(200, {"name": repo, "tags": page},
                                      extra)
            if kind in ("tok", "tokdeny"):
                want = "Bearer %s" % front.valid_token
                if kind == "tok" and self.headers.get("Authorization") == want:
                    return self.send_json(200, {"name": repo, "tags": tags})
                return self.error(401, "UNAUTHORIZED", "token needed", [(
                    "WWW-Authenticate",
                    'Bearer realm="http://%s/token",service="hostile",'
                    'scope="repository:%s/%s:pull"' % (front.addr, case,
                                                        repo))])
            if kind in ("nolink", "hub"):
                return self.send_json(200, {"name": repo, "tags": tags})
            if kind == "429":
                if case == "429-once" and n > 1:
                    return self.send_json(200, {"name": repo, "tags": tags})
                return self.error(429, "TOOMANYREQUESTS", "slow down",
                                  [("Retry-After", "1")])
            if kind == "500":
                if case == "500-once" and n > 1:
                    return self.send_json(200, {"name": repo, "tags": tags})
                return self.error(500, "UNKNOWN", "internal error")
            if kind == "reset":
                self.connection.setsockopt(
                    socket.SOL_SOCKET, socket.SO_LINGER,
                    b"\x01\x00\x00\x00\x00\x00\x00\x00")
                self.connection.close()
                self.close_connection = True
                return
            if kind == "stall":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"name":"x","tags":[')
                self.wfile.flush()
                time.sleep(10)
                self.close_connection = True
                return
            if kind == "truncated":
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", "1000")
                self.end_headers()
                self.wfile.write(b'{"name":"x","tags":["a"')
                self.close_connection = True
                return
            if kind == "badjson":
                body = b'{"name":"x","tags":["a",'
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                return
            if kind == "notags":
                return self.send_json(200, {"name": repo, "tags": "1.0"})
            if kind == "huge":
                size = 17 << 20
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(size))
                self.end_headers()
                chunk = b" " * 65536
                try:
                    for _ in range(size // len(chunk)):
                        self.wfile.write(chunk)
                except OSError:
                    pass
                self.close_connection = True
                return
            if kind == "bighdr":
                # one 1 MiB response header: past curl's 100 KiB limit
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("X-Padding", "x" * (1 << 20))
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"{}")
                self.close_connection = True
                return
            if kind == "redirect":
                if self.headers.get("Authorization") is None:
                    return self.error(401, "UNAUTHORIZED", "auth first", [
                        ("WWW-Authenticate", 'Basic realm="hostile"')])
                self.send_response(307)
                self.send_header("Location", "http://%s/v2/%s/tags/list" %
                                 (front.other_addr, repo))
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            return self.error(404, "NAME_UNKNOWN", "unknown case " + case)

        def other_origin(self, u, parts):
            with front.lock:
                front.other_hits += 1
                if self.headers.get("Authorization") is not None:
                    front.auth_leaks += 1
            if self.headers.get("Authorization") is not None:
                return self.error(400, "LEAK", "Authorization was forwarded")
            repo = "/".join(parts[2:-2])
            status, tags = front.real_tags(repo)
            if tags is None:
                return self.error(status, "NAME_UNKNOWN", "no such repo")
            return self.send_json(200, {"name": repo, "tags": tags})

        def passthrough(self, path, extra=()):
            with front.lock:
                front.passed[self.command] = \
                    front.passed.get(self.command, 0) + 1
            hdrs = {k: v for k, v in self.headers.items()
                    if k.lower() in ("accept", "authorization")}
            status, headers, body = front.upstream_request(
                self.command, path, hdrs)
            self.send_response(status)
            for k, v in headers:
                if k.lower() not in ("connection", "transfer-encoding",
                                     "content-length", "date"):
                    self.send_header(k, v)
            for k, v in extra:
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(body)) if
                             self.command != "HEAD" else
                             dict((a.lower(), b) for a, b in headers).get(
                                 "content-length", "0"))
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)

    srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.daemon_threads = True
    return srv
