#!/usr/bin/python3
"""Real servers on 127.0.0.1 for ferry's integration tests.

Runs on Debian's /usr/bin/python3 (stdlib plus python3-jwt and
python3-cryptography).  Usable as a CLI:

  testbed.py run [--registry KIND]... [--git-http] [--sshd] -- CMD [ARGS...]
  testbed.py push-image --registry HOST:PORT [...] REPO TAG [TAG...]
  testbed.py git-init --bare DIR [--owner git] [--files SRCDIR] [--branch main]

and as a module:

  with testbed.Testbed(registries=["noauth"], git_http=True) as tb:
      tb.env["FERRY_TEST_REGISTRY_NOAUTH"]
      tb.push_image("noauth", "team/app", ["1.0.0"])
      tb.git_init(os.path.join(tb.git_http_root, "app.git"))

Every server runs in its own session (setsid), on a port the kernel picked,
with its configuration and data under one temporary directory.  Everything
started is stopped on exit, on exceptions and on SIGINT/SIGTERM/SIGHUP, and
by a janitor process if the harness is killed outright; the directory is
removed unless FERRY_TEST_KEEP=1.  See README.md beside this file for the
environment handed to tests.
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import hmac
import http.client
import http.server
import io
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REGISTRY_KINDS = ("noauth", "htpasswd", "token", "notify")
SETUP_FAILED = 99  # meson reads 99 as "test setup error", not a test failure

MT_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
MT_OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MT_OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
MT_OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
MT_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MT_DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
MT_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
MT_DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"
MT_IN_TOTO = "application/vnd.in-toto+json"
# distribution 2.8 answers 404 for an OCI manifest, or converts a docker one
# to schema 1, unless the Accept list names the stored type.
MANIFEST_ACCEPT = ", ".join(
    [MT_OCI_MANIFEST, MT_DOCKER_MANIFEST, MT_OCI_INDEX, MT_DOCKER_LIST])

TOKEN_SERVICE = "ferry-testbed-registry"
TOKEN_ISSUER = "ferry-testbed-issuer"
DEFAULT_CREATED = "2024-01-01T00:00:00Z"


class TestbedError(Exception):
    """A server did not start, or a helper failed."""


class _Stop(BaseException):
    """Raised from a signal handler so `finally` blocks clean up."""

    def __init__(self, signum):
        super().__init__(signum)
        self.signum = signum


# ---------------------------------------------------------------------------
# processes


def free_port():
    """A TCP port on 127.0.0.1 that the kernel reports free right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _proc_table():
    """{pid: (ppid, pgid, state)} for every process, from /proc."""
    out = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        # comm may hold spaces and parentheses: split after the last ')'
        fields = stat[stat.rfind(")") + 2:].split()
        out[int(name)] = (int(fields[1]), int(fields[2]), fields[0])
    return out


def _family(roots):
    """Live (non-zombie) processes in the groups of `roots` or below them.

    sshd puts each connection in a new session, so group membership alone
    misses those children; the parent links catch them."""
    table = _proc_table()
    found = set()
    for pid, (_, pgid, state) in table.items():
        if pgid in roots and state != "Z":
            found.add(pid)
    grew = True
    seen = set(roots) | found
    while grew:
        grew = False
        for pid, (ppid, _, state) in table.items():
            if ppid in seen and pid not in seen:
                seen.add(pid)
                if state != "Z":
                    found.add(pid)
                grew = True
    return found


def pids_alive(pids):
    """The subset of `pids` that exist and are not zombies."""
    table = _proc_table()
    return {p for p in pids if p in table and table[p][2] != "Z"}


def terminate(roots, grace=3.0):
    """SIGTERM the sessions of `roots` and their descendants, all at once;
    SIGKILL what is left after `grace` seconds.  Zombies count as gone."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        for pid in _family(roots):
            try:
                os.kill(pid, sig)
            except ProcessLookupError:
                pass
        deadline = time.monotonic() + grace
        while time.monotonic() < deadline:
            if not _family(roots):
                return
            time.sleep(0.02)


def _janitor(tmp, keep):
    """A watcher in its own session (`testbed.py _janitor TMP KEEP`).

    It reads server pids from stdin, one a line.  End of input means the
    harness has gone, in whatever way (even SIGKILL, which meson sends 0.5 s
    after its SIGTERM): it then kills whatever of those servers is left and
    removes TMP, unless KEEP is 1."""
    for sig in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
        signal.signal(sig, signal.SIG_IGN)
    pids = set()
    for line in sys.stdin:
        if line.strip().isdigit():
            pids.add(int(line))
    if pids:
        terminate(pids, grace=1.0)
    if keep != "1":
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


class Proc:
    """One server process started in its own session, logging to a file."""

    def __init__(self, name, argv, log, env=None, cwd=None):
        self.name, self.argv, self.log = name, argv, log
        with open(log, "ab") as out:
            try:
                self.popen = subprocess.Popen(
                    argv, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, env=env, cwd=cwd,
                    start_new_session=True)
            except OSError as e:
                raise TestbedError(
                    f"{name}: cannot run {argv[0]}: {e} "
                    "(./scripts/deps test installs it)") from None
        self.pid = self.popen.pid

    def running(self):
        return self.popen.poll() is None

    def log_text(self):
        try:
            with open(self.log, errors="replace") as f:
                return f.read()
        except OSError:
            return ""

    def stop(self):
        terminate({self.pid})
        self.reap()

    def reap(self):
        try:
            self.popen.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass


def _wait_until(what, proc, probe, timeout=20.0):
    """Call probe() until it returns true; fail early if proc exited."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and not proc.running():
            raise TestbedError(f"{what} exited with status "
                               f"{proc.popen.returncode}")
        try:
            if probe():
                return
        except OSError:
            pass
        time.sleep(0.03)
    raise TestbedError(f"{what} did not answer within {timeout:.0f} s")


def _listener_inodes(port):
    """Socket inodes listening on 127.0.0.1:port (or any address), from
    /proc/net/tcp."""
    inodes = set()
    wanted = {f"0100007F:{port:04X}", f"00000000:{port:04X}"}
    try:
        with open("/proc/net/tcp") as f:
            next(f)
            for line in f:
                fields = line.split()
                if fields[1] in wanted and fields[3] == "0A":  # LISTEN
                    inodes.add(fields[9])
    except OSError:
        pass
    return inodes


def listens(pid, port):
    """Whether process pid (or its family) holds the listener of port, so a
    probe cannot be answered by another program that took the port."""
    inodes = {f"socket:[{i}]" for i in _listener_inodes(port)}
    if not inodes:
        return False
    for p in _family({pid}) | {pid}:
        try:
            fds = os.listdir(f"/proc/{p}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{p}/fd/{fd}") in inodes:
                    return True
            except OSError:
                continue
    return False


def _http_answers(port, path):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
    try:
        conn.request("GET", path)
        conn.getresponse().read()
        return True
    finally:
        conn.close()


def _ssh_answers(port):
    with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
        return s.recv(64).startswith(b"SSH-")


def _run(argv, **kw):
    """subprocess.run that raises TestbedError with the output on failure."""
    kw.setdefault("stdout", subprocess.PIPE)
    kw.setdefault("stderr", subprocess.STDOUT)
    try:
        r = subprocess.run(argv, **kw)
    except OSError as e:
        raise TestbedError(f"cannot run {argv[0]}: {e}") from None
    if r.returncode != 0:
        out = b"".join(x for x in (r.stdout, r.stderr) if isinstance(x, bytes))
        out = out.decode(errors="replace")
        raise TestbedError(f"{' '.join(argv)} failed ({r.returncode}): "
                           f"{out.strip()}")
    return r


# ---------------------------------------------------------------------------
# token server (the Docker Hub flow), run in a thread of the harness


def _token_key():
    """A fresh P-256 key and its self-signed certificate (PEM bytes)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME,
                                         "ferry-testbed-token")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(days=1))
            .not_valid_after(now + datetime.timedelta(days=30))
            .sign(key, hashes.SHA256()))
    key_pem = key.private_bytes(serialization.Encoding.PEM,
                                serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption())
    cert_der = cert.public_bytes(serialization.Encoding.DER)
    return key_pem, cert.public_bytes(serialization.Encoding.PEM), cert_der


class TokenServer:
    """Issues registry JWTs (ES256, key named by an x5c header).

    GET /token?service=S&scope=A&scope=B with Basic auth, optionally
    offline_token=true (without Authorization and with anonymous_pull: a
    token allowing pull only).  POST /token with an OAuth2 form:
    grant_type=password (username, password, access_type=offline for a
    refresh token) or grant_type=refresh_token.  GET /stats counts what was
    issued."""

    def __init__(self, users, expiry, key_pem, cert_der,
                 anonymous_pull=False):
        self.users = users  # name -> (password, set of actions)
        self.anonymous_pull = anonymous_pull
        self.expiry = expiry
        self.key_pem = key_pem
        self.x5c = [base64.b64encode(cert_der).decode()]
        self.refresh = {}  # refresh token -> user
        self.stats = {"tokens": 0, "refresh_tokens": 0, "denied": 0}
        self.lock = threading.Lock()
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, fmt, *args):
                pass

            def reply(self, code, obj, headers=()):
                body = json.dumps(obj).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                for k, v in headers:
                    self.send_header(k, v)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                q = urllib.parse.parse_qs(url.query)
                if url.path == "/stats":
                    with server.lock:
                        return self.reply(200, dict(server.stats))
                if url.path != "/token":
                    return self.reply(404, {"error": "not found"})
                auth = self.headers.get("Authorization")
                user = server.basic_user(auth)
                if auth is None and server.anonymous_pull:
                    user = ""  # Docker Hub: anonymous pull of public repos
                if user is None:
                    server.count("denied")
                    return self.reply(
                        401, {"errors": [{"code": "UNAUTHORIZED",
                                          "message": "bad credentials"}]},
                        [("WWW-Authenticate", 'Basic realm="token"')])
                offline = (user != ""
                           and q.get("offline_token", [""])[0] == "true")
                self.reply(200, server.issue(user, q.get("service", [""])[0],
                                             q.get("scope", []), offline))

            def do_POST(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path != "/token":
                    return self.reply(404, {"error": "not found"})
                n = int(self.headers.get("Content-Length") or 0)
                q = urllib.parse.parse_qs(self.rfile.read(n).decode())
                form = {k: v[0] for k, v in q.items()}
                grant = form.get("grant_type", "")
                user = None
                if grant == "password":
                    user = server.check(form.get("username", ""),
                                        form.get("password", ""))
                elif grant == "refresh_token":
                    with server.lock:
                        user = server.refresh.get(
                            form.get("refresh_token", ""))
                if user is None:
                    server.count("denied")
                    return self.reply(400 if grant not in (
                        "password", "refresh_token") else 401,
                        {"error": "invalid_grant"})
                scopes = form.get("scope", "").split()
                offline = (grant == "password"
                           and form.get("access_type") == "offline")
                self.reply(200, server.issue(user, form.get("service", ""),
                                             scopes, offline))

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     Handler)
        self.httpd.daemon_threads = True
        self.port = self.httpd.server_address[1]
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       name="token-server", daemon=True)
        # Signals must reach the main thread: one delivered to this thread
        # would not interrupt the main thread's waitpid().
        sigs = {signal.SIGINT, signal.SIGTERM, signal.SIGHUP}
        old = signal.pthread_sigmask(signal.SIG_BLOCK, sigs)
        try:
            self.thread.start()
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, old)

    def count(self, what):
        with self.lock:
            self.stats[what] += 1

    def check(self, user, password):
        ent = self.users.get(user)
        if ent is None or not hmac.compare_digest(ent[0].encode(),
                                                  password.encode()):
            return None
        return user

    def basic_user(self, header):
        if not header or not header.lower().startswith("basic "):
            return None
        try:
            raw = base64.b64decode(header[6:].strip()).decode()
        except (ValueError, UnicodeDecodeError):
            return None
        user, _, password = raw.partition(":")
        return self.check(user, password)

    def issue(self, user, service, scopes, offline):
        import jwt

        allowed = self.users[user][1] if user else {"pull"}
        access = []
        for scope in scopes:
            typ, _, rest = scope.partition(":")
            name, _, acts = rest.rpartition(":")
            if not typ or not name:
                continue
            if typ == "registry" and name == "catalog":
                granted = ["*"] if "catalog" in allowed else []
            else:
                granted = [a for a in acts.split(",") if a in allowed]
            access.append({"type": typ, "name": name, "actions": granted})
        now = int(time.time())
        claims = {"iss": TOKEN_ISSUER, "sub": user,
                  "aud": service,  # a string: distribution 2.8 rejects lists
                  "exp": now + self.expiry, "nbf": now - 10, "iat": now,
                  "jti": secrets.token_hex(16), "access": access}
        token = jwt.encode(claims, self.key_pem, algorithm="ES256",
                           headers={"typ": "JWT", "x5c": self.x5c})
        reply = {"token": token, "access_token": token,
                 "expires_in": self.expiry,
                 "issued_at": time.strftime("%Y-%m-%dT%H:%M:%SZ",
                                            time.gmtime(now))}
        self.count("tokens")
        if offline:
            rt = secrets.token_urlsafe(24)
            with self.lock:
                self.refresh[rt] = user
            reply["refresh_token"] = rt
            self.count("refresh_tokens")
        return reply

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


# ---------------------------------------------------------------------------
# the testbed


def _registry_config(addr, root, secret, extra):
    return f"""version: 0.1
log:
  level: info
  accesslog:
    disabled: true
storage:
  cache:
    blobdescriptor: inmemory
  filesystem:
    rootdirectory: {root}
  delete:
    enabled: true
  maintenance:
    uploadpurging:
      enabled: false
http:
  addr: {addr}
  secret: {secret}
health:
  storagedriver:
    enabled: false
{extra}"""


NGINX_CONF = """daemon off;
user root;
worker_processes 1;
pid {d}/nginx.pid;
error_log stderr info;
events {{ worker_connections 64; }}
http {{
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    # Fetching is anonymous; anything that talks to receive-pack needs a user.
    map "$uri $arg_service" $git_auth {{
        "~git-receive-pack" "ferry-testbed git push";
        default off;
    }}
    server {{
        listen 127.0.0.1:{port};
        client_max_body_size 0;
        # A named capture: the map's regex would overwrite a plain $1.
        location ~ ^/git(?<git_path>/.*)$ {{
            auth_basic $git_auth;
            auth_basic_user_file {d}/htpasswd;
            include /etc/nginx/fastcgi_params;
            fastcgi_param SCRIPT_FILENAME /usr/lib/git-core/git-http-backend;
            fastcgi_param GIT_PROJECT_ROOT {root};
            fastcgi_param GIT_HTTP_EXPORT_ALL "";
            fastcgi_param PATH_INFO $git_path;
            # http-backend enables receive-pack only when REMOTE_USER is set.
            fastcgi_param REMOTE_USER $remote_user;
            fastcgi_buffering off;
            fastcgi_request_buffering off;
            fastcgi_pass unix:{d}/fcgiwrap.sock;
        }}
    }}
}}
"""

SSHD_CONF = """Port {port}
ListenAddress 127.0.0.1
HostKey {d}/host_ed25519
PidFile {d}/sshd.pid
AuthorizedKeysFile {d}/authorized_keys
StrictModes no
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
PermitRootLogin no
AllowUsers git
AllowTcpForwarding no
AllowAgentForwarding no
X11Forwarding no
PermitTTY no
PrintMotd no
LogLevel VERBOSE
"""


def _ensure_git_user():
    """The sshd logs in as `git` (shell git-shell), whose account must not be
    locked: with UsePAM no, sshd refuses a '!' password field."""
    if os.geteuid() != 0:
        raise TestbedError("--sshd needs root (sshd, a git user, /run/sshd)")
    try:
        pwd.getpwnam("git")
    except KeyError:
        _run(["useradd", "--system", "--no-create-home", "--home-dir",
              "/nonexistent", "--shell", "/usr/bin/git-shell", "git"])
    locked = True
    try:
        with open("/etc/shadow") as f:
            for line in f:
                fields = line.split(":")
                if fields[0] == "git":
                    locked = fields[1].startswith("!")
    except OSError:
        pass
    if locked:
        _run(["usermod", "-p", "*", "git"])
    os.makedirs("/run/sshd", mode=0o755, exist_ok=True)


class Testbed:
    """Starts the requested servers; a context manager that stops them.

    After start(), `env` holds the FERRY_TEST_* variables (see README.md)
    and the attributes below hold the same values."""

    def __init__(self, registries=(), git_http=False, sshd=False,
                 notify_url=None, notify_headers=None, token_expiry=300,
                 token_anonymous_pull=False, keep=None):
        if isinstance(registries, str):
            registries = [registries]
        for kind in registries:
            if kind not in REGISTRY_KINDS:
                raise ValueError(f"unknown registry kind {kind!r}")
        self.kinds = list(dict.fromkeys(registries))
        self.want_git_http = git_http
        self.want_sshd = sshd
        self.notify_url = notify_url
        self.notify_headers = dict(notify_headers or {})
        self.token_expiry = int(token_expiry)
        self.token_anonymous_pull = token_anonymous_pull
        self.keep = (os.environ.get("FERRY_TEST_KEEP") == "1"
                     if keep is None else keep)
        self.tmp = None
        self.procs = []
        self.token = None
        self.env = {}
        self.registry = {}  # kind -> "127.0.0.1:PORT"
        self.storage = {}  # kind -> the registry's filesystem storage root
        self.user = "ferry-bot"
        self.password = secrets.token_hex(10)
        self.git_http_user = "ferry-pusher"
        self.git_http_password = secrets.token_hex(10)
        self.token_realm = None
        self.git_http_url = self.git_http_root = None
        self.ssh_port = self.ssh_url = self.ssh_root = None
        self.ssh_key = self.ssh_key_pub = self.ssh_known_hosts = None
        self.ssh_host_key_pub = None
        self._prev_signals = {}
        self._janitor = None

    # -- lifecycle --------------------------------------------------------

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.stop()
        return False

    def start(self):
        # A SIGTERM (meson's timeout) becomes SystemExit, so a `with` block
        # still stops the servers.
        if (threading.current_thread() is threading.main_thread()
                and signal.getsignal(signal.SIGTERM) == signal.SIG_DFL):
            self._prev_signals[signal.SIGTERM] = signal.signal(
                signal.SIGTERM, _exit_on_signal)
        self.tmp = tempfile.mkdtemp(prefix="ferry-testbed-", dir=_scratch())
        # sshd's git-shell runs as user git and must reach repos inside.
        os.chmod(self.tmp, 0o755)
        os.mkdir(self._path("logs"))
        self._janitor = subprocess.Popen(
            [sys.executable, os.path.abspath(__file__), "_janitor", self.tmp,
             "1" if self.keep else "0"],
            stdin=subprocess.PIPE, stdout=subprocess.DEVNULL,
            start_new_session=True, text=True)
        self.env["FERRY_TEST_TMP"] = self.tmp
        self.env["FERRY_TEST_HARNESS"] = os.path.abspath(__file__)
        try:
            if any(k != "noauth" for k in self.kinds):
                self._write_htpasswd(self._path("registry.htpasswd"),
                                     self.user, self.password)
                self.env["FERRY_TEST_REGISTRY_USER"] = self.user
                self.env["FERRY_TEST_REGISTRY_PASSWORD"] = self.password
            for kind in self.kinds:
                self._start_registry(kind)
            if self.want_git_http:
                self._start_git_http()
            if self.want_sshd:
                self._start_sshd()
            self.env["FERRY_TEST_PIDS"] = " ".join(
                str(p.pid) for p in self.procs)
        except BaseException:
            self.stop()
            raise
        return self

    def stop(self):
        """Stops every server and removes the directory."""
        procs, self.procs = self.procs, []
        terminate({p.pid for p in procs})
        for p in procs:
            p.reap()
        for sig, handler in self._prev_signals.items():
            signal.signal(sig, handler)
        self._prev_signals = {}
        if self.token is not None:
            self.token.stop()
            self.token = None
        if self.tmp and os.path.isdir(self.tmp):
            if self.keep:
                sys.stderr.write(f"testbed: kept {self.tmp}\n")
            else:
                shutil.rmtree(self.tmp, ignore_errors=True)
        if self._janitor is not None:
            try:
                self._janitor.stdin.close()
                self._janitor.wait(timeout=10)
            except (OSError, subprocess.TimeoutExpired):
                pass
            self._janitor = None

    def _started(self, proc):
        """Records a server so that stop() and the janitor end it."""
        self.procs.append(proc)
        try:
            self._janitor.stdin.write(f"{proc.pid}\n")
            self._janitor.stdin.flush()
        except OSError:
            pass

    def _path(self, *parts):
        return os.path.join(self.tmp, *parts)

    def _spawn(self, name, argv, ready, env=None, attempts=3):
        """Starts argv (a function of a fresh port) until ready(port).

        Ports are only reserved by probing, so another process may take one
        first; an 'address already in use' start is retried on a new port."""
        for attempt in range(attempts):
            port = free_port()
            log = self._path("logs", f"{name}.log")
            proc = Proc(name, argv(port), log, env=env)
            self._started(proc)
            try:
                _wait_until(name, proc, lambda: listens(proc.pid, port)
                            and ready(port))
                return port
            except TestbedError as e:
                text = proc.log_text()
                self.procs.remove(proc)
                proc.stop()
                if "in use" in text and attempt + 1 < attempts:
                    continue
                raise TestbedError(f"{e}\n--- {log} ---\n{text}") from None
        raise TestbedError(f"{name}: no free port")

    @staticmethod
    def _write_htpasswd(path, user, password):
        # bcrypt cost 5: the registry pays the cost on every request.
        r = _run(["htpasswd", "-niB", "-C", "5", user],
                 input=password.encode(), stderr=subprocess.PIPE)
        with open(path, "wb") as f:
            f.write(r.stdout)

    # -- outages ----------------------------------------------------------

    def stop_registry(self, kind):
        """Stops one registry; its data and port stay for start_registry."""
        for proc in list(self.procs):
            if proc.name == f"registry-{kind}":
                self.procs.remove(proc)
                proc.stop()

    def start_registry(self, kind):
        """Starts a stopped registry again, on its old port, with its data
        (the port is free unless something took it meanwhile)."""
        port = int(self.registry[kind].rsplit(":", 1)[1])
        conf = self._path(f"registry-{kind}.yml")
        proc = Proc(f"registry-{kind}", ["docker-registry", "serve", conf],
                    self._path("logs", f"registry-{kind}.log"))
        self._started(proc)
        _wait_until(f"registry-{kind}", proc,
                    lambda: listens(proc.pid, port)
                    and _http_answers(port, "/v2/"))

    # -- registries -------------------------------------------------------

    def _start_registry(self, kind):
        extra = ""
        if kind == "htpasswd":
            extra = ("auth:\n  htpasswd:\n    realm: ferry-testbed\n"
                     f"    path: {self._path('registry.htpasswd')}\n")
        elif kind == "token":
            key_pem, cert_pem, cert_der = _token_key()
            bundle = self._path("token.crt")
            with open(bundle, "wb") as f:
                f.write(cert_pem)
            users = {self.user: (self.password,
                                 {"pull", "push", "delete", "catalog"})}
            self.token = TokenServer(users, self.token_expiry, key_pem,
                                     cert_der, self.token_anonymous_pull)
            self.token_realm = f"http://127.0.0.1:{self.token.port}/token"
            extra = ("auth:\n  token:\n"
                     f"    realm: {self.token_realm}\n"
                     f"    service: {TOKEN_SERVICE}\n"
                     f"    issuer: {TOKEN_ISSUER}\n"
                     f"    rootcertbundle: {bundle}\n")
            self.env["FERRY_TEST_TOKEN_REALM"] = self.token_realm
            self.env["FERRY_TEST_TOKEN_SERVICE"] = TOKEN_SERVICE
            self.env["FERRY_TEST_TOKEN_EXPIRY"] = str(self.token_expiry)
            self.env["FERRY_TEST_TOKEN_STATS"] = (
                f"http://127.0.0.1:{self.token.port}/stats")
            if self.token_anonymous_pull:
                self.env["FERRY_TEST_TOKEN_ANONYMOUS_PULL"] = "1"
        elif kind == "notify":
            url = self.notify_url
            if not url:
                hook_port = free_port()
                url = f"http://127.0.0.1:{hook_port}/hook"
                self.env["FERRY_TEST_NOTIFY_PORT"] = str(hook_port)
            self.env["FERRY_TEST_NOTIFY_URL"] = url
            headers = ""
            if self.notify_headers:
                # JSON is YAML: a map of header name to a list of values
                headers = "      headers: " + json.dumps(
                    {k: [v] for k, v in self.notify_headers.items()}) + "\n"
            extra = ("notifications:\n  events:\n"
                     "    includereferences: true\n"
                     "  endpoints:\n"
                     "    - name: ferry-testbed\n"
                     f"      url: {json.dumps(url)}\n"
                     f"{headers}"
                     "      timeout: 2s\n      threshold: 3\n"
                     "      backoff: 1s\n"
                     "      ignore:\n"
                     "        mediatypes: [application/octet-stream]\n"
                     "        actions: [pull]\n")
        data = self._path(f"registry-{kind}")
        conf = self._path(f"registry-{kind}.yml")
        secret = secrets.token_hex(16)

        def argv(port):
            with open(conf, "w") as f:
                f.write(_registry_config(f"127.0.0.1:{port}", data, secret,
                                         extra))
            return ["docker-registry", "serve", conf]

        port = self._spawn(f"registry-{kind}", argv,
                           lambda p: _http_answers(p, "/v2/"))
        self.registry[kind] = f"127.0.0.1:{port}"
        self.storage[kind] = data
        self.env[f"FERRY_TEST_REGISTRY_{kind.upper()}"] = self.registry[kind]
        self.env[f"FERRY_TEST_REGISTRY_{kind.upper()}_STORAGE"] = data

    # -- git over HTTP ----------------------------------------------------

    def _start_git_http(self):
        d = self._path("git-http")
        root = self._path("git-http-repos")
        for sub in ("tmp", "tmp/body"):
            os.makedirs(os.path.join(d, sub), exist_ok=True)
        os.makedirs(root)
        self._write_htpasswd(os.path.join(d, "htpasswd"), self.git_http_user,
                             self.git_http_password)
        sock = os.path.join(d, "fcgiwrap.sock")
        fcgi = Proc("fcgiwrap", ["fcgiwrap", "-f", "-c", "2", "-s",
                                 f"unix:{sock}"],
                    self._path("logs", "fcgiwrap.log"))
        self._started(fcgi)
        try:
            _wait_until("fcgiwrap", fcgi, lambda: os.path.exists(sock))
        except TestbedError as e:
            raise TestbedError(f"{e}\n{fcgi.log_text()}") from None
        conf = os.path.join(d, "nginx.conf")

        def argv(port):
            with open(conf, "w") as f:
                f.write(NGINX_CONF.format(d=d, port=port, root=root))
            return ["nginx", "-e", "stderr", "-p", d, "-c", conf]

        def ready(port):
            return _http_answers(port, "/git/")

        port = self._spawn("nginx", argv, ready)
        self.git_http_url = f"http://127.0.0.1:{port}/git"
        self.git_http_root = root
        self.env.update({
            "FERRY_TEST_GIT_HTTP": self.git_http_url,
            "FERRY_TEST_GIT_HTTP_ROOT": root,
            "FERRY_TEST_GIT_HTTP_USER": self.git_http_user,
            "FERRY_TEST_GIT_HTTP_PASSWORD": self.git_http_password,
        })

    # -- git over SSH -----------------------------------------------------

    def _start_sshd(self):
        _ensure_git_user()
        d = self._path("sshd")
        os.makedirs(d)
        root = self._path("ssh-repos")
        os.makedirs(root)
        git = pwd.getpwnam("git")
        os.chown(root, git.pw_uid, git.pw_gid)
        host = os.path.join(d, "host_ed25519")
        client = os.path.join(d, "client_ed25519")
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
              "ferry-testbed-host", "-f", host])
        _run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C",
              "ferry-testbed-client", "-f", client])
        with open(client + ".pub") as f:
            client_pub = f.read().strip()
        with open(os.path.join(d, "authorized_keys"), "w") as f:
            f.write(f"restrict {client_pub}\n")
        with open(host + ".pub") as f:
            host_pub = " ".join(f.read().split()[:2])
        conf = os.path.join(d, "sshd_config")
        known = os.path.join(d, "known_hosts")

        def argv(port):
            with open(conf, "w") as f:
                f.write(SSHD_CONF.format(d=d, port=port))
            return ["/usr/sbin/sshd", "-D", "-e", "-f", conf]

        port = self._spawn("sshd", argv, _ssh_answers)
        with open(known, "w") as f:
            f.write(f"[127.0.0.1]:{port} {host_pub}\n")
        self.ssh_port = port
        self.ssh_url = f"ssh://git@127.0.0.1:{port}"
        self.ssh_root = root
        self.ssh_key, self.ssh_key_pub = client, client + ".pub"
        self.ssh_known_hosts = known
        self.ssh_host_key_pub = host + ".pub"
        self.env.update({
            "FERRY_TEST_SSH_PORT": str(port),
            "FERRY_TEST_SSH_URL": self.ssh_url,
            "FERRY_TEST_SSH_ROOT": root,
            "FERRY_TEST_SSH_KEY": client,
            "FERRY_TEST_SSH_KEY_PUB": client + ".pub",
            "FERRY_TEST_SSH_KNOWN_HOSTS": known,
            "FERRY_TEST_SSH_HOST_KEY_PUB": host + ".pub",
            "FERRY_TEST_GIT_SSH_COMMAND": ssh_command(client, known),
        })

    # -- helpers bound to this testbed ------------------------------------

    def push_image(self, kind, repo, tags, **kw):
        """push_image() against the registry of `kind`, with its creds."""
        if kind not in self.registry:
            raise TestbedError(f"registry {kind!r} was not started")
        if kind in ("htpasswd", "token"):
            kw.setdefault("user", self.user)
            kw.setdefault("password", self.password)
        if kind == "token":
            kw.setdefault("token_realm", self.token_realm)
        return push_image(self.registry[kind], repo, tags, **kw)

    def git_init(self, path, **kw):
        return git_init(path, **kw)

    def token_stats(self):
        """Counts of tokens issued and requests denied by the token server."""
        return dict(self.token.stats) if self.token else {}


def _scratch():
    """Where temp dirs go: $FERRY_TEST_TMPDIR, else /dev/shm (the registry
    writes several small files per tag, many times faster on tmpfs than on
    a busy disk), else the default temp dir."""
    explicit = os.environ.get("FERRY_TEST_TMPDIR")
    if explicit:
        return explicit
    if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK):
        return "/dev/shm"
    return None


def _exit_on_signal(signum, frame):
    raise SystemExit(128 + signum)


def ssh_command(key, known_hosts):
    """A GIT_SSH_COMMAND value that uses only `key` and `known_hosts`."""
    return (f"ssh -F /dev/null -i {key} -o IdentitiesOnly=yes "
            f"-o UserKnownHostsFile={known_hosts} -o BatchMode=yes "
            "-o StrictHostKeyChecking=yes")


# ---------------------------------------------------------------------------
# registry client for pushing images


class RegistryClient:
    """Talks to one registry over one keep-alive HTTP connection.

    Authentication follows the registry's challenge: Basic with user and
    password, or Bearer through the token realm (overridable) with Basic
    credentials, one token per repository."""

    def __init__(self, host, user=None, password=None, token_realm=None):
        self.host = host
        self.user, self.password = user, password
        self.token_realm = token_realm
        self.conn = None
        self.auth = {}  # repo -> Authorization header value

    def close(self):
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def _basic(self):
        raw = f"{self.user}:{self.password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _send(self, method, path, body, headers):
        for attempt in (0, 1):
            if self.conn is None:
                self.conn = http.client.HTTPConnection(self.host, timeout=30)
            try:
                self.conn.request(method, path, body=body, headers=headers)
                resp = self.conn.getresponse()
                data = resp.read()
                return resp, data
            except (http.client.RemoteDisconnected, ConnectionResetError,
                    BrokenPipeError):
                self.close()
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def request(self, method, path, repo, body=None, headers=None):
        """One request; on a 401 challenge authenticates and retries once."""
        hdrs = dict(headers or {})
        if repo in self.auth:
            hdrs["Authorization"] = self.auth[repo]
        resp, data = self._send(method, path, body, hdrs)
        if resp.status != 401 or not self.user:
            return resp, data
        challenge = resp.getheader("WWW-Authenticate", "")
        scheme, _, params = challenge.partition(" ")
        if scheme.lower() == "basic":
            self.auth[repo] = self._basic()
        elif scheme.lower() == "bearer":
            self.auth[repo] = "Bearer " + self._token(parse_challenge(params),
                                                      repo)
        else:
            return resp, data
        hdrs["Authorization"] = self.auth[repo]
        return self._send(method, path, body, hdrs)

    def _token(self, challenge, repo):
        realm = self.token_realm or challenge.get("realm")
        if not realm:
            raise TestbedError("Bearer challenge without a realm")
        query = urllib.parse.urlencode(
            [("service", challenge.get("service", "")),
             ("scope", f"repository:{repo}:pull,push")])
        url = urllib.parse.urlsplit(realm)
        conn = http.client.HTTPConnection(url.netloc, timeout=30)
        try:
            conn.request("GET", f"{url.path}?{query}",
                         headers={"Authorization": self._basic()})
            resp = conn.getresponse()
            data = resp.read()
        finally:
            conn.close()
        if resp.status != 200:
            raise TestbedError(f"token realm {realm}: HTTP {resp.status} "
                               f"{data[:200]!r}")
        reply = json.loads(data)
        return reply.get("token") or reply["access_token"]

    def put_blob(self, repo, blob, check=True):
        """Uploads blob (bytes); returns its digest.  With check, a HEAD
        first skips blobs the registry already has."""
        digest = sha256(blob)
        if check:
            resp, _ = self.request("HEAD", f"/v2/{repo}/blobs/{digest}", repo)
            if resp.status == 200:
                return digest
        resp, data = self.request("POST", f"/v2/{repo}/blobs/uploads/", repo,
                                  body=b"")
        if resp.status != 202:
            raise TestbedError(f"start upload {repo}: HTTP {resp.status} "
                               f"{data[:300]!r}")
        loc = urllib.parse.urlsplit(resp.getheader("Location"))
        sep = "&" if loc.query else ""
        path = f"{loc.path}?{loc.query}{sep}digest={digest}"
        resp, data = self.request(
            "PUT", path, repo, body=blob,
            headers={"Content-Type": "application/octet-stream"})
        if resp.status != 201:
            raise TestbedError(f"upload {digest}: HTTP {resp.status} "
                               f"{data[:300]!r}")
        return digest

    def put_manifest(self, repo, ref, media_type, body):
        """PUTs a manifest under ref (tag or digest); returns its digest."""
        resp, data = self.request("PUT", f"/v2/{repo}/manifests/{ref}", repo,
                                  body=body,
                                  headers={"Content-Type": media_type})
        if resp.status != 201:
            raise TestbedError(f"manifest {repo}:{ref}: HTTP {resp.status} "
                               f"{data[:300]!r}")
        digest = sha256(body)
        got = resp.getheader("Docker-Content-Digest")
        if got and got != digest:
            raise TestbedError(f"registry digest {got} != {digest}")
        return digest


def parse_challenge(params):
    """'realm="x",service="y"' -> {'realm': 'x', 'service': 'y'}."""
    out = {}
    i = 0
    while i < len(params):
        eq = params.find("=", i)
        if eq < 0:
            break
        key = params[i:eq].strip(" ,")
        i = eq + 1
        if i < len(params) and params[i] == '"':
            end = params.find('"', i + 1)
            end = len(params) if end < 0 else end
            out[key] = params[i + 1:end]
            i = end + 1
        else:
            end = params.find(",", i)
            end = len(params) if end < 0 else end
            out[key] = params[i:end].strip()
            i = end
        i += 1 if i < len(params) and params[i] == "," else 0
    return out


def sha256(data):
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _canon(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def _layer():
    """A deterministic gzipped tar with one small file: (gz, diff_id)."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.USTAR_FORMAT) as t:
        content = b"pushed by ferry's test harness\n"
        info = tarfile.TarInfo("etc/ferry-testbed.txt")
        info.size, info.mtime, info.mode = len(content), 0, 0o644
        t.addfile(info, io.BytesIO(content))
    tar = raw.getvalue()
    return gzip.compress(tar, mtime=0), sha256(tar)


def parse_time(text):
    """RFC 3339 (with Z or an offset) -> aware datetime."""
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    when = datetime.datetime.fromisoformat(text)
    if when.tzinfo is None:
        when = when.replace(tzinfo=datetime.timezone.utc)
    return when


def format_time(when):
    return when.astimezone(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")


def _platforms(text):
    out = []
    for item in text.split(","):
        parts = item.strip().split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {item!r}: want os/arch[/variant]")
        out.append(parts)
    return out


def push_image(host, repo, tags, user=None, password=None, token_realm=None,
               media="oci", created=None, created_step=None, distinct=False,
               platforms=None, attestation=False):
    """Pushes an image (or, with platforms, an image index) under each tag.

    Blobs are shared; every tag gets a distinct digest when `distinct` is
    set or `created_step` (seconds between tags' created times) is given.
    Returns [(tag, digest, created RFC 3339)] in the order of `tags`."""
    if media not in ("oci", "docker"):
        raise ValueError("media must be oci or docker")
    if attestation and (media != "oci" or not platforms):
        raise ValueError("attestation needs media oci and platforms")
    if isinstance(platforms, str):
        platforms = _platforms(platforms)
    oci = media == "oci"
    mt_manifest = MT_OCI_MANIFEST if oci else MT_DOCKER_MANIFEST
    mt_config = MT_OCI_CONFIG if oci else MT_DOCKER_CONFIG
    mt_layer = MT_OCI_LAYER if oci else MT_DOCKER_LAYER
    base = parse_time(created or DEFAULT_CREATED)
    client = RegistryClient(host, user, password, token_realm)
    layer, diff_id = _layer()
    results = []
    try:
        layer_digest = client.put_blob(repo, layer)
        layer_desc = {"mediaType": mt_layer, "digest": layer_digest,
                      "size": len(layer)}
        cache = {}  # canonical config -> descriptor, so blobs go up once

        def image(when_text, os_, arch, variant, label):
            config = {"created": when_text, "architecture": arch, "os": os_,
                      "config": {"Labels": label},
                      "rootfs": {"type": "layers", "diff_ids": [diff_id]},
                      "history": [{"created": when_text,
                                   "created_by": "ferry testbed push-image"}]}
            if variant:
                config["variant"] = variant
            blob = _canon(config)
            if blob not in cache:
                cache[blob] = {"mediaType": mt_config,
                               "digest": client.put_blob(repo, blob,
                                                         check=False),
                               "size": len(blob)}
            return {"schemaVersion": 2, "mediaType": mt_manifest,
                    "config": cache[blob], "layers": [layer_desc]}

        for i, tag in enumerate(tags):
            when = base
            if created_step is not None:
                when = base + datetime.timedelta(seconds=i * created_step)
            when_text = format_time(when)
            # docker manifests carry no annotations: vary the config instead
            label = ({"org.opencontainers.image.version": tag}
                     if distinct and not oci else {})
            note = ({"org.opencontainers.image.version": tag}
                    if distinct and oci else None)
            if not platforms:
                m = image(when_text, "linux", "amd64", None, label)
                if note:
                    m["annotations"] = note
                body = _canon(m)
                digest = client.put_manifest(repo, tag, mt_manifest, body)
                results.append((tag, digest, when_text))
                continue
            entries = []
            for plat in platforms:
                os_, arch = plat[0], plat[1]
                variant = plat[2] if len(plat) > 2 else None
                m = image(when_text, os_, arch, variant, label)
                body = _canon(m)
                d = sha256(body)
                client.put_manifest(repo, d, mt_manifest, body)
                p = {"architecture": arch, "os": os_}
                if variant:
                    p["variant"] = variant
                entries.append({"mediaType": mt_manifest, "digest": d,
                                "size": len(body), "platform": p})
            if attestation:
                for e in list(entries):
                    entries.append(_attestation(client, repo, e["digest"],
                                                layer_desc))
            index = {"schemaVersion": 2,
                     "mediaType": MT_OCI_INDEX if oci else MT_DOCKER_LIST,
                     "manifests": entries}
            if note:
                index["annotations"] = note
            body = _canon(index)
            digest = client.put_manifest(repo, tag, index["mediaType"], body)
            results.append((tag, digest, when_text))
    finally:
        client.close()
    return results


def _attestation(client, repo, subject, layer_desc):
    """An attestation manifest as BuildKit writes them, for `subject`."""
    statement = _canon({
        "_type": "https://in-toto.io/Statement/v0.1",
        "predicateType": "https://spdx.dev/Document",
        "subject": [{"name": repo,
                     "digest": {"sha256": subject.split(":", 1)[1]}}],
        "predicate": {"spdxVersion": "SPDX-2.3"}})
    rootfs = {"type": "layers", "diff_ids": [sha256(statement)]}
    config = _canon({"architecture": "unknown", "os": "unknown",
                     "config": {}, "rootfs": rootfs})
    m = {"schemaVersion": 2, "mediaType": MT_OCI_MANIFEST,
         "config": {"mediaType": MT_OCI_CONFIG,
                    "digest": client.put_blob(repo, config),
                    "size": len(config)},
         "layers": [{"mediaType": MT_IN_TOTO,
                     "digest": client.put_blob(repo, statement),
                     "size": len(statement),
                     "annotations": {"in-toto.io/predicate-type":
                                     "https://spdx.dev/Document"}}]}
    body = _canon(m)
    d = client.put_manifest(repo, sha256(body), MT_OCI_MANIFEST, body)
    return {"mediaType": MT_OCI_MANIFEST, "digest": d, "size": len(body),
            "platform": {"architecture": "unknown", "os": "unknown"},
            "annotations": {"vnd.docker.reference.digest": subject,
                            "vnd.docker.reference.type":
                            "attestation-manifest"}}


def link_tags(storage, repo, digest, tags):
    """Creates tags straight in a registry's filesystem storage.

    Each tag is two link files naming `digest`, a manifest already pushed
    to `repo` through the API.  Much faster than PUTs for tens of thousands
    of tags; the registry lists them at once."""
    hexd = digest.split(":", 1)[1]
    base = os.path.join(storage, "docker", "registry", "v2", "repositories",
                        repo, "_manifests")
    if not os.path.exists(os.path.join(base, "revisions", "sha256", hexd)):
        raise TestbedError(f"{repo}@{digest} was not pushed to {storage}")
    for tag in tags:
        for d in (os.path.join(base, "tags", tag, "current"),
                  os.path.join(base, "tags", tag, "index", "sha256", hexd)):
            os.makedirs(d, exist_ok=True)
            with open(os.path.join(d, "link"), "w") as f:
                f.write(digest)


# ---------------------------------------------------------------------------
# bare Git repositories


def git_init(path, owner=None, files=None, branch="main", deny_non_ff=False):
    """Makes a bare repository at `path` with one commit on `branch`.

    The commit holds a copy of directory `files`, or a README.  With `owner`
    (a user name, such as git for the sshd) the repository is chowned to it,
    which is what keeps git from calling it dubious when that user serves it.
    Returns the commit id."""
    if os.path.exists(path):
        raise TestbedError(f"{path} exists")
    ident = {"GIT_AUTHOR_NAME": "Ferry Testbed",
             "GIT_AUTHOR_EMAIL": "testbed@example.invalid",
             "GIT_COMMITTER_NAME": "Ferry Testbed",
             "GIT_COMMITTER_EMAIL": "testbed@example.invalid",
             "GIT_AUTHOR_DATE": "2024-01-01T00:00:00Z",
             "GIT_COMMITTER_DATE": "2024-01-01T00:00:00Z"}
    env = dict(os.environ, **ident)
    _run(["git", "init", "-q", "--bare", "-b", branch, path], env=env)
    if deny_non_ff:
        _run(["git", "-C", path, "config", "receive.denyNonFastForwards",
              "true"])
    scratch = tempfile.mkdtemp(prefix="ferry-git-init-")
    work = os.path.join(scratch, "tree")
    try:
        os.mkdir(work)
        if files:
            shutil.copytree(files, work, dirs_exist_ok=True,
                            ignore=shutil.ignore_patterns(".git"))
        else:
            with open(os.path.join(work, "README.md"), "w") as f:
                f.write("# test repository\n\nMade by ferry's test harness.\n")
        gd = ["git", f"--git-dir={path}", f"--work-tree={work}"]
        idx = dict(env, GIT_INDEX_FILE=os.path.join(scratch, "index"))
        _run(gd + ["add", "-A", "."], env=idx)
        _run(gd + ["commit", "-q", "--allow-empty", "-m", "Initial commit"],
             env=idx)
        commit = subprocess.run(
            ["git", f"--git-dir={path}", "rev-parse", "HEAD"], env=env,
            stdout=subprocess.PIPE, check=True).stdout.decode().strip()
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    if owner:
        pw = pwd.getpwnam(owner)
        for dirpath, dirnames, filenames in os.walk(path):
            os.chown(dirpath, pw.pw_uid, pw.pw_gid)
            for name in filenames:
                os.chown(os.path.join(dirpath, name), pw.pw_uid, pw.pw_gid)
    return commit


# ---------------------------------------------------------------------------
# CLI


_OWN_VARS = ("FERRY_TEST_REGISTRY_", "FERRY_TEST_TOKEN_", "FERRY_TEST_NOTIFY_",
             "FERRY_TEST_GIT_", "FERRY_TEST_SSH_")
_OWN_NAMES = ("FERRY_TEST_TMP", "FERRY_TEST_PIDS", "FERRY_TEST_HARNESS")


def _cmd_run(args):
    cmd = args.cmd
    if cmd and cmd[0] == "--":
        cmd = cmd[1:]
    if not cmd:
        sys.stderr.write("testbed run: no command after --\n")
        return 2
    headers = {}
    for h in args.notify_header:
        name, sep, value = h.partition(":")
        if not sep or not name.strip():
            sys.stderr.write(f"testbed run: --notify-header {h!r}: "
                             "want 'NAME: VALUE'\n")
            return 2
        headers[name.strip()] = value.strip()
    tb = Testbed(registries=args.registry, git_http=args.git_http,
                 sshd=args.sshd, notify_url=args.notify_url,
                 notify_headers=headers, token_expiry=args.token_expiry,
                 token_anonymous_pull=args.token_anonymous_pull)
    child = None
    # A signal while Popen runs is held until we know the child's pid: the
    # child may already be running (and must be told) when Popen returns.
    hold = {"on": False, "signum": None}

    def on_signal(signum, frame):
        if hold["on"]:
            hold["signum"] = signum
            return
        raise _Stop(signum)

    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, on_signal)
    try:
        try:
            tb.start()
        except TestbedError as e:
            sys.stderr.write(f"testbed: {e}\n")
            return SETUP_FAILED
        # Variables of an enclosing harness would name servers not running.
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(_OWN_VARS) and k not in _OWN_NAMES}
        env.update(tb.env)
        hold["on"] = True
        try:
            child = subprocess.Popen(cmd, env=env)
        except OSError as e:
            sys.stderr.write(f"testbed: {cmd[0]}: {e}\n")
            return 127
        finally:
            hold["on"] = False
        if hold["signum"] is not None:
            raise _Stop(hold["signum"])
        while True:  # wake up now and then, so handlers run in any case
            try:
                rc = child.wait(timeout=0.5)
                break
            except subprocess.TimeoutExpired:
                continue
        return 128 - rc if rc < 0 else rc
    except _Stop as stop:
        # meson follows its SIGTERM with a SIGKILL 0.5 s later: stop the
        # servers first (the janitor finishes the job if we are cut short).
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        if child is not None and child.poll() is None:
            child.send_signal(stop.signum)
        tb.stop()
        if child is not None:
            try:
                child.wait(timeout=5)
            except subprocess.TimeoutExpired:
                child.kill()
                child.wait()
        return 128 + stop.signum
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
            signal.signal(sig, signal.SIG_IGN)
        tb.stop()


def _cmd_push(args):
    # Under `testbed.py run`, a kind names the registry and the account
    # comes from the environment (it is only sent when challenged).
    if args.registry in REGISTRY_KINDS:
        var = f"FERRY_TEST_REGISTRY_{args.registry.upper()}"
        if not os.environ.get(var):
            sys.stderr.write(f"testbed push-image: {var} is not set\n")
            return 2
        args.registry = os.environ[var]
    if args.user is None:
        args.user = os.environ.get("FERRY_TEST_REGISTRY_USER")
    if args.password is None:
        args.password = os.environ.get("FERRY_TEST_REGISTRY_PASSWORD")
    try:
        rows = push_image(args.registry, args.repo, args.tags,
                          user=args.user, password=args.password,
                          token_realm=args.token_realm, media=args.media,
                          created=args.created,
                          created_step=args.created_step,
                          distinct=args.distinct,
                          platforms=args.platforms,
                          attestation=args.attestation)
    except (TestbedError, ValueError, OSError) as e:
        sys.stderr.write(f"testbed push-image: {e}\n")
        return 1
    out = "".join(f"{t}\t{d}\t{c}\n" for t, d, c in rows)
    sys.stdout.write(out)
    return 0


def _cmd_link_tags(args):
    tags = list(args.tags)
    if args.count:
        tags += [f"{args.prefix}{i}" for i in range(args.count)]
    try:
        link_tags(args.storage, args.repo, args.digest, tags)
    except (TestbedError, OSError) as e:
        sys.stderr.write(f"testbed link-tags: {e}\n")
        return 1
    return 0


def _cmd_git_init(args):
    try:
        git_init(args.bare, owner=args.owner, files=args.files,
                 branch=args.branch, deny_non_ff=args.deny_non_ff)
    except (TestbedError, OSError, KeyError) as e:
        sys.stderr.write(f"testbed git-init: {e}\n")
        return 1
    return 0


def main(argv=None):
    p = argparse.ArgumentParser(
        prog="testbed.py",
        description="Real test servers on 127.0.0.1 for ferry (see "
                    "tests/harness/README.md).")
    sub = p.add_subparsers(dest="command", required=True)

    r = sub.add_parser("run", help="start servers, run CMD, stop them",
                       usage="%(prog)s [--registry KIND]... [--git-http] "
                             "[--sshd] -- CMD [ARGS...]")
    r.add_argument("--registry", action="append", default=[],
                   choices=REGISTRY_KINDS)
    r.add_argument("--notify-url",
                   help="webhook of the notify registry (default: a free "
                        "port, exported as FERRY_TEST_NOTIFY_PORT)")
    r.add_argument("--notify-header", action="append", default=[],
                   metavar="'NAME: VALUE'",
                   help="header the notify registry adds to its POSTs")
    r.add_argument("--token-expiry", type=int, default=300,
                   help="expires_in of issued tokens, seconds (300)")
    r.add_argument("--token-anonymous-pull", action="store_true",
                   help="the token realm gives a pull-only token to requests "
                        "without credentials, as Docker Hub does")
    r.add_argument("--git-http", action="store_true")
    r.add_argument("--sshd", action="store_true")
    r.add_argument("cmd", nargs=argparse.REMAINDER)

    ph = sub.add_parser("push-image", help="push an image under tags")
    ph.add_argument("--registry", required=True, metavar="HOST:PORT",
                    help="or a kind (noauth, htpasswd, token, notify) to use "
                         "$FERRY_TEST_REGISTRY_<KIND>")
    ph.add_argument("--user", help="default $FERRY_TEST_REGISTRY_USER")
    ph.add_argument("--password",
                    help="default $FERRY_TEST_REGISTRY_PASSWORD")
    ph.add_argument("--token-realm", metavar="URL")
    ph.add_argument("--media", choices=("oci", "docker"), default="oci")
    ph.add_argument("--created", metavar="RFC3339",
                    help=f"created time of the config ({DEFAULT_CREATED})")
    ph.add_argument("--created-step", type=float, metavar="SECONDS",
                    help="tag i is created at --created + i*SECONDS")
    ph.add_argument("--distinct", action="store_true",
                    help="give every tag its own digest")
    ph.add_argument("--platforms", metavar="OS/ARCH[,...]",
                    help="push an image index with one image per platform")
    ph.add_argument("--attestation", action="store_true",
                    help="add BuildKit-style attestation manifests to the "
                         "index (oci)")
    ph.add_argument("repo")
    ph.add_argument("tags", nargs="+")

    lt = sub.add_parser("link-tags",
                        help="write tags into a registry's storage")
    lt.add_argument("--storage", required=True, metavar="DIR",
                    help="e.g. $FERRY_TEST_REGISTRY_NOAUTH_STORAGE")
    lt.add_argument("--count", type=int, default=0,
                    help="also tags PREFIX0 .. PREFIX<COUNT-1>")
    lt.add_argument("--prefix", default="t")
    lt.add_argument("repo")
    lt.add_argument("digest", help="of a manifest pushed to REPO")
    lt.add_argument("tags", nargs="*")

    g = sub.add_parser("git-init", help="make a bare repo with one commit")
    g.add_argument("--bare", required=True, metavar="DIR")
    g.add_argument("--owner")
    g.add_argument("--files", metavar="SRCDIR")
    g.add_argument("--branch", default="main")
    g.add_argument("--deny-non-ff", action="store_true",
                   help="set receive.denyNonFastForwards")

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["_janitor"] and len(argv) == 3:
        return _janitor(argv[1], argv[2])
    args = p.parse_args(argv)
    if args.command == "run":
        return _cmd_run(args)
    if args.command == "push-image":
        if args.platforms:
            try:
                args.platforms = _platforms(args.platforms)
            except ValueError as e:
                p.error(str(e))
        return _cmd_push(args)
    if args.command == "link-tags":
        return _cmd_link_tags(args)
    return _cmd_git_init(args)


if __name__ == "__main__":
    sys.exit(main())
