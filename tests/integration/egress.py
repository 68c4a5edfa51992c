"""Local upstream servers for the fetch() tests: a real HTTP server and a real HTTPS server on
127.0.0.1, with a CA and a server certificate made here with the `openssl` command.

Nothing here leaves 127.0.0.1: servers bind 127.0.0.1 only, and the "evil" hosts the tests
name are under `.invalid`, which never resolves.

    pki = make_pki(tmpdir)              # CA + server cert (SAN 127.0.0.1, localhost), pins
    srv = Upstream(pki=None | pki)      # .port, .hits(), .url(path), stop()

Endpoints (every request is recorded in `hits` before it is answered):

    /fixed                       a fixed body (FIXED_BODY) for provenance checks
    /echo[?status=N]             JSON: method, path, query, headers (lower-cased), body
    /price/<SYM>                 mock exchange: {"symbol","price"}; needs Authorization:
                                 Bearer <api_key> (401 otherwise)
    /api/v3/account?timestamp=T&recvWindow=W&signature=S
                                 signed endpoint: X-API-KEY: <api_key> and S =
                                 hex(HMAC-SHA256(api_secret, <query without &signature=...>)),
                                 timestamp within recvWindow (default 5000 ms) of now
    /redirect?to=URL[&code=302]  a redirect to URL
    /huge?bytes=N                N bytes with a Content-Length
    /endless                     chunked, never-ending (bounded: 64 MiB or 30 s)
    /drip?seconds=N              Content-Length N, one byte per second (N <= 20)
    /hang?seconds=N              accepts, sends nothing for N s (N <= 20)
    /bigheaders?n=N              N response headers of 1000 bytes each (N <= 10000)
    /setcookie                   Set-Cookie: fnbox_session=...
"""

import base64
import hashlib
import hmac
import json
import os
import ssl
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

FIXED_BODY = b'{"source":"fnbox-test-upstream","value":42,"note":"fixed body for provenance"}\n'
API_KEY = "tk_live_3f9a1c0e5b7d4a2f8c6e1d0b9a7f5e3c"
API_SECRET = "ts_6d2b8e4f0a1c3e5b7d9f1a3c5e7b9d0f2a4c6e8b"
PRICES = {"BTC": 64250.0, "ETH": 3120.5, "SOL": 145.25}
MAX_BOUNDED_SECONDS = 20
ENDLESS_CAP = 64 * 1024 * 1024


# ---- PKI ------------------------------------------------------------------------------

def _openssl(*args, input=None):
    p = subprocess.run(["openssl", *args], input=input, capture_output=True, timeout=60)
    if p.returncode != 0:
        raise RuntimeError(f"openssl {' '.join(args)} failed: {p.stderr.decode(errors='replace')}")
    return p.stdout


def spki_pin(cert_path):
    """curl's pin of a certificate's public key: 'sha256//' + base64(SHA-256(SPKI DER))."""
    pub = _openssl("x509", "-in", cert_path, "-noout", "-pubkey")
    der = _openssl("pkey", "-pubin", "-outform", "DER", input=pub)
    return "sha256//" + base64.b64encode(hashlib.sha256(der).digest()).decode()


def cert_der_sha256(cert_path):
    der = _openssl("x509", "-in", cert_path, "-outform", "DER")
    return hashlib.sha256(der).hexdigest()


class Pki:
    def __init__(self, d):
        self.dir = str(d)
        self.ca_cert = os.path.join(self.dir, "ca.pem")
        self.ca_key = os.path.join(self.dir, "ca.key")
        self.cert = os.path.join(self.dir, "server.pem")
        self.key = os.path.join(self.dir, "server.key")
        self.other_key = os.path.join(self.dir, "other.key")
        self.other_cert = os.path.join(self.dir, "other.pem")


def make_pki(d):
    """A CA, a server certificate for 127.0.0.1 and localhost signed by it, and a second,
    unrelated key/certificate (for a pin that does not match). EC P-256: fast to make."""
    os.makedirs(str(d), exist_ok=True)
    p = Pki(d)
    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
    _openssl("req", "-x509", *ec, "-keyout", p.ca_key, "-out", p.ca_cert, "-days", "2",
             "-subj", "/CN=fnbox test CA", "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    csr = os.path.join(p.dir, "server.csr")
    _openssl("req", "-new", *ec, "-keyout", p.key, "-out", csr, "-subj", "/CN=127.0.0.1")
    ext = os.path.join(p.dir, "server.ext")
    with open(ext, "w") as f:
        f.write("basicConstraints=CA:FALSE\n"
                "keyUsage=critical,digitalSignature\n"
                "extendedKeyUsage=serverAuth\n"
                "subjectAltName=IP:127.0.0.1,DNS:localhost,DNS:api.localhost,DNS:a.b.localhost\n")
    _openssl("x509", "-req", "-in", csr, "-CA", p.ca_cert, "-CAkey", p.ca_key,
             "-CAcreateserial", "-out", p.cert, "-days", "2", "-extfile", ext)
    _openssl("req", "-x509", *ec, "-keyout", p.other_key, "-out", p.other_cert, "-days", "2",
             "-subj", "/CN=127.0.0.1", "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    p.pin = spki_pin(p.cert)
    p.wrong_pin = spki_pin(p.other_cert)
    p.ca_pin = spki_pin(p.ca_cert)
    p.cert_sha256 = cert_der_sha256(p.cert)
    assert p.pin != p.wrong_pin
    return p


# ---- server ---------------------------------------------------------------------------

def sign_query(secret, query):
    return hmac.new(secret.encode(), query.encode(), hashlib.sha256).hexdigest()


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 30  # per-connection socket timeout: nothing waits forever on a client
    server_version = "fnbox-test-upstream/1"

    def log_message(self, *args):  # quiet
        pass

    # -- plumbing --
    def _record(self):
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(min(length, 4 * 1024 * 1024)) if length > 0 else b""
        split = urlsplit(self.path)
        hit = {"method": self.command, "path": split.path, "query": split.query,
               "raw_path": self.path,
               "headers": [(k.lower(), v) for k, v in self.headers.items()],
               "body": body, "time": time.time()}
        self.server.upstream._add_hit(hit)
        return hit

    def _send(self, status, body=b"", ctype="application/json", extra=()):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in extra:
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)
        self.server.upstream._sent(self.path, body)

    def _stopping(self):
        return self.server.upstream.stopping.is_set()

    def do_GET(self):
        self._dispatch()

    def do_POST(self):
        self._dispatch()

    def do_PUT(self):
        self._dispatch()

    def do_DELETE(self):
        self._dispatch()

    def do_PATCH(self):
        self._dispatch()

    def do_HEAD(self):
        self._dispatch()

    # -- routes --
    def _dispatch(self):
        hit = self._record()
        q = dict(parse_qsl(hit["query"], keep_blank_values=True))
        path = hit["path"]
        try:
            if path == "/fixed":
                return self._send(200, FIXED_BODY)
            if path == "/echo" or path.startswith("/echo/"):
                status = int(q.get("status", "200"))
                return self._send(status, {
                    "method": hit["method"], "path": path, "query": hit["query"],
                    "headers": {k: v for k, v in hit["headers"]},
                    "header_list": hit["headers"],
                    "body": hit["body"].decode("utf-8", "replace")},
                    extra=[("X-Upstream-Test", "Yes")])
            if path.startswith("/price/"):
                return self._price(hit, path[len("/price/"):])
            if path == "/api/v3/account":
                return self._account(hit)
            if path == "/redirect":
                code = int(q.get("code", "302"))
                return self._send(code, b"", "text/plain", [("Location", q.get("to", "/"))])
            if path == "/huge":
                return self._huge(int(q.get("bytes", "0")))
            if path == "/endless":
                return self._endless()
            if path == "/drip":
                return self._drip(min(int(q.get("seconds", "20")), MAX_BOUNDED_SECONDS))
            if path == "/hang":
                end = time.monotonic() + min(float(q.get("seconds", "20")), MAX_BOUNDED_SECONDS)
                while time.monotonic() < end and not self._stopping():
                    time.sleep(0.05)
                return self._send(200, b"late\n", "text/plain")
            if path == "/bigheaders":
                n = min(int(q.get("n", "100")), 10000)
                return self._send(200, b"{}", extra=[("X-Pad-%d" % i, "p" * 1000) for i in range(n)])
            if path == "/setcookie":
                return self._send(200, b"{}", extra=[("Set-Cookie", "fnbox_session=c00k1e; Path=/")])
            return self._send(404, {"error": "no such path", "path": path})
        except (BrokenPipeError, ConnectionResetError, ssl.SSLError, OSError):
            self.close_connection = True

    def _price(self, hit, symbol):
        auth = dict(hit["headers"]).get("authorization", "")
        if auth != "Bearer " + self.server.upstream.api_key:
            return self._send(401, {"error": "invalid api key"})
        sym = symbol.upper()
        if sym not in PRICES:
            return self._send(404, {"error": "unknown symbol", "symbol": sym})
        return self._send(200, {"symbol": sym, "price": PRICES[sym],
                                "time": int(time.time() * 1000)})

    def _account(self, hit):
        hdrs = dict(hit["headers"])
        if hdrs.get("x-api-key") != self.server.upstream.api_key:
            return self._send(401, {"code": -2015, "msg": "Invalid API-key."})
        query = hit["query"]
        marker = "&signature="
        if marker not in query:
            return self._send(400, {"code": -1102, "msg": "signature is missing"})
        signed, sig = query.rsplit(marker, 1)
        want = sign_query(self.server.upstream.api_secret, signed)
        if not hmac.compare_digest(sig.lower(), want):
            return self._send(400, {"code": -1022, "msg": "Signature for this request is not valid."})
        q = dict(parse_qsl(signed))
        try:
            ts = int(q["timestamp"])
            window = int(q.get("recvWindow", "5000"))
        except (KeyError, ValueError):
            return self._send(400, {"code": -1102, "msg": "timestamp is missing"})
        if abs(time.time() * 1000 - ts) > window:
            return self._send(400, {"code": -1021, "msg": "Timestamp outside recvWindow."})
        return self._send(200, {"canTrade": True,
                                "balances": [{"asset": "ETH", "free": "1.50000000"},
                                             {"asset": "USDT", "free": "2500.00"}]})

    def _huge(self, n):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(n))
        self.end_headers()
        chunk = b"x" * 65536
        left = n
        while left > 0 and not self._stopping():
            k = min(left, len(chunk))
            self.wfile.write(chunk[:k])
            left -= k

    def _endless(self):
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Transfer-Encoding", "chunked")
        self.end_headers()
        chunk = b"y" * 16384
        framed = b"%x\r\n" % len(chunk) + chunk + b"\r\n"
        sent, end = 0, time.monotonic() + 30
        while sent < ENDLESS_CAP and time.monotonic() < end and not self._stopping():
            self.wfile.write(framed)
            sent += len(chunk)
            self.server.upstream._count_endless(len(chunk))
        self.close_connection = True  # never a terminating chunk

    def _drip(self, seconds):
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(seconds))
        self.end_headers()
        self.wfile.flush()
        for _ in range(seconds):
            if self._stopping():
                break
            self.wfile.write(b".")
            self.wfile.flush()
            self.server.upstream.stopping.wait(1.0)
        self.close_connection = True


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, upstream, ctx):
        self.upstream = upstream
        self.tls = ctx
        super().__init__(("127.0.0.1", 0), _Handler)

    def get_request(self):
        sock, addr = super().get_request()
        if self.tls is not None:
            sock.settimeout(30)
            # the handshake happens in the handler's thread, on its first read
            sock = self.tls.wrap_socket(sock, server_side=True, do_handshake_on_connect=False)
        return sock, addr

    def handle_error(self, request, client_address):  # a client that went away: quiet
        pass


class Upstream:
    """One HTTP (pki None) or HTTPS server on 127.0.0.1:<free port>, in a thread."""

    def __init__(self, pki=None, api_key=API_KEY, api_secret=API_SECRET):
        self.api_key = api_key
        self.api_secret = api_secret
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        self._hits = []
        self._bodies = {}
        self.endless_bytes = 0
        ctx = None
        if pki is not None:
            ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            ctx.load_cert_chain(pki.cert, pki.key)
        self.scheme = "https" if ctx else "http"
        self.server = _Server(self, ctx)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever,
                                       kwargs={"poll_interval": 0.1}, daemon=True)
        self.thread.start()

    # -- for tests --
    def hostport(self, host="127.0.0.1"):
        return f"{host}:{self.port}"

    def url(self, path="/", host="127.0.0.1"):
        return f"{self.scheme}://{host}:{self.port}{path}"

    def hits(self, path=None):
        with self._lock:
            return [h for h in self._hits if path is None or h["path"] == path]

    def hit_count(self):
        with self._lock:
            return len(self._hits)

    def sent_body(self, raw_path):
        with self._lock:
            return self._bodies.get(raw_path)

    def stop(self):
        self.stopping.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=10)

    # -- from handlers --
    def _add_hit(self, hit):
        with self._lock:
            self._hits.append(hit)

    def _sent(self, raw_path, body):
        with self._lock:
            self._bodies[raw_path] = body

    def _count_endless(self, n):
        with self._lock:
            self.endless_bytes += n
