#!/usr/bin/python3
"""A tiny mock exchange for trying samples/price-oracle.js and samples/signed-request.js.

Standard library only; listens on 127.0.0.1 only (never on another interface).

    /usr/bin/python3 samples/mock-exchange.py [--port 18080] [--api-key KEY] [--api-secret SECRET]

--port 0 picks a free port. Once listening it prints one line to stdout,
`mock-exchange listening on http://127.0.0.1:PORT`, then serves until Ctrl-C / SIGTERM.
Without --api-key / --api-secret it uses the demo values below (or $MOCK_EXCHANGE_API_KEY,
$MOCK_EXCHANGE_API_SECRET); store the same values as the fnbox secrets exchange_api_key
and exchange_api_secret.

Endpoints (JSON in, JSON out):

  GET /v1/prices/<SYMBOL>       Authorization: Bearer <api key>
      200 {"symbol":"ETH","price":3120.5,"time":<ms>}
      401 {"error":"invalid api key"}      404 {"error":"unknown symbol"}

  GET /api/v3/account?timestamp=<ms>&recvWindow=<ms>&signature=<hex>
      X-API-KEY: <api key>
      signature = hex(HMAC-SHA256(api secret, the query string before "&signature="))
      -- the way Binance-style exchange APIs sign requests; the timestamp must be within
      recvWindow (default 5000, at most 60000) milliseconds of the server's clock.
      200 {"canTrade":true,"balances":[...]}
      401 {"code":-2015,"msg":"Invalid API-key."}
      400 {"code":-1022,"msg":"Signature for this request is not valid."}
      400 {"code":-1021,"msg":"Timestamp outside recvWindow."}
"""

import argparse
import hashlib
import hmac
import json
import os
import signal
import sys
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, urlsplit

DEMO_API_KEY = "demo-key-0123456789abcdef0123456789abcdef"
DEMO_API_SECRET = "demo-secret-fedcba9876543210fedcba9876543210"

PRICES = {"BTC": 64250.0, "ETH": 3120.5, "SOL": 145.25, "LINK": 14.82, "NEO": 11.07}

BALANCES = [{"asset": "ETH", "free": "1.50000000", "locked": "0.00000000"},
            {"asset": "USDT", "free": "2500.00000000", "locked": "100.00000000"}]


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "mock-exchange/1"
    timeout = 30  # a client that stops talking is dropped

    def log_message(self, fmt, *args):
        sys.stderr.write("mock-exchange: %s %s\n" % (self.address_string(), fmt % args))

    def reply(self, status, obj):
        body = json.dumps(obj).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        url = urlsplit(self.path)
        if url.path.startswith("/v1/prices/"):
            return self.price(url.path[len("/v1/prices/"):])
        if url.path == "/api/v3/account":
            return self.account(url.query)
        return self.reply(404, {"error": "no such endpoint"})

    def price(self, symbol):
        if self.headers.get("Authorization", "") != "Bearer " + self.server.api_key:
            return self.reply(401, {"error": "invalid api key"})
        symbol = symbol.upper()
        if symbol not in PRICES:
            return self.reply(404, {"error": "unknown symbol", "symbol": symbol})
        return self.reply(200, {"symbol": symbol, "price": PRICES[symbol],
                                "time": int(time.time() * 1000)})

    def account(self, query):
        if self.headers.get("X-API-KEY", "") != self.server.api_key:
            return self.reply(401, {"code": -2015, "msg": "Invalid API-key."})
        signed, sep, signature = query.rpartition("&signature=")
        if not sep:
            return self.reply(400, {"code": -1102, "msg": "Mandatory parameter 'signature' was not sent."})
        want = hmac.new(self.server.api_secret.encode(), signed.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(signature.lower().encode(), want.encode()):
            return self.reply(400, {"code": -1022, "msg": "Signature for this request is not valid."})
        params = dict(parse_qsl(signed))
        try:
            timestamp = int(params["timestamp"])
            window = min(int(params.get("recvWindow", "5000")), 60000)
        except (KeyError, ValueError):
            return self.reply(400, {"code": -1102, "msg": "Mandatory parameter 'timestamp' was not sent."})
        if abs(time.time() * 1000 - timestamp) > window:
            return self.reply(400, {"code": -1021, "msg": "Timestamp outside recvWindow."})
        return self.reply(200, {"canTrade": True, "balances": BALANCES})


def main():
    ap = argparse.ArgumentParser(description="Mock exchange API on 127.0.0.1 for the fnbox samples.")
    ap.add_argument("--port", type=int, default=18080, help="port on 127.0.0.1 (0: any free port)")
    ap.add_argument("--api-key", default=os.environ.get("MOCK_EXCHANGE_API_KEY", DEMO_API_KEY))
    ap.add_argument("--api-secret", default=os.environ.get("MOCK_EXCHANGE_API_SECRET", DEMO_API_SECRET))
    args = ap.parse_args()

    try:
        server = ThreadingHTTPServer(("127.0.0.1", args.port), Handler)
    except OSError as e:
        sys.exit("mock-exchange: cannot listen on 127.0.0.1:%d: %s (choose another --port, "
                 "or --port 0 for any free one)" % (args.port, e.strerror or e))
    server.daemon_threads = True
    server.api_key = args.api_key
    server.api_secret = args.api_secret
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("mock-exchange listening on http://127.0.0.1:%d" % server.server_address[1], flush=True)
    try:
        server.serve_forever()
    except (KeyboardInterrupt, SystemExit):
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
