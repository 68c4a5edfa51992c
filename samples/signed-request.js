// signed-request: calls an exchange endpoint that requires an HMAC-signed request, the way
// Binance-style APIs do, and returns the account's balances.
//
// The request carries the API key in a header and, in the query string, a timestamp and
// `signature` = hex(HMAC-SHA256(api secret, <the query string before &signature=>)). The
// exchange recomputes the HMAC with its copy of the secret and accepts the request only if
// it matches and the timestamp is within recvWindow milliseconds of its clock. The API
// secret itself never leaves fnbox: only the signature does.
//
// Secrets: exchange_api_key (sent in X-API-KEY) and exchange_api_secret (signs).
// Try it against samples/mock-exchange.py (see samples/README.md):
//   fnbox secrets put exchange_api_key      # demo-key-0123456789abcdef0123456789abcdef
//   fnbox secrets put exchange_api_secret   # demo-secret-fedcba9876543210fedcba9876543210
//   fnbox deploy samples/signed-request.js --name signed-request --allow-host 127.0.0.1:18080 \
//       --secret exchange_api_key=127.0.0.1:18080 --secret exchange_api_secret=127.0.0.1:18080
//   fnbox invoke signed-request '{"base_url":"http://127.0.0.1:18080"}'
//
// Input:
//   {"base_url": "http://127.0.0.1:18080", "recv_window_ms": 5000}   both optional
//   base_url        scheme and host[:port] only (default DEFAULT_BASE_URL); it must be in
//                   the deploy's allow_hosts
//   recv_window_ms  1..60000, how stale the exchange may consider the request (default 5000)
// Output:
//   {"can_trade": true, "balances": [{"asset": "ETH", "free": "1.50000000"}, ...],
//    "signed_at": 1718000000000}
// Errors: TypeError / RangeError for bad input; ConfigurationError when a secret is not
// available; UpstreamError when the exchange cannot be reached or refuses the request (its
// own error code and message are in the message, e.g. -1022 for a bad signature).
//
// Engine: Duktape 2.7 (ES5.1 syntax).

var DEFAULT_BASE_URL = 'http://127.0.0.1:18080';
var BASE_URL_PATTERN = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;

function namedError(name, message) {
  var err = new Error(message);
  err.name = name;
  return err;
}

function secret(name) {
  try {
    var v = secrets.get(name);
    if (typeof v === 'string' && v.length > 0) return v;
  } catch (e) {
    throw namedError('ConfigurationError', e.message + ' (store it with `fnbox secrets put ' +
                     name + '` and deploy with --secret ' + name + ')');
  }
  throw namedError('ConfigurationError', 'secret ' + name + ' is empty');
}

function options(input) {
  if (input === null || input === undefined) input = {};
  if (typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError('input must be an object like {"base_url":"http://127.0.0.1:18080"}');
  }
  var base = input.base_url === undefined ? DEFAULT_BASE_URL : input.base_url;
  if (typeof base !== 'string') throw new TypeError('base_url must be a string');
  base = base.replace(/\/+$/, '');
  if (!BASE_URL_PATTERN.test(base)) {
    throw new RangeError('base_url must be http(s)://host[:port] without a path or user name');
  }
  var win = input.recv_window_ms === undefined ? 5000 : input.recv_window_ms;
  if (typeof win !== 'number' || win % 1 !== 0 || win < 1 || win > 60000) {
    throw new RangeError('recv_window_ms must be an integer between 1 and 60000');
  }
  return { base: base, recvWindow: win };
}

// The canonical query string: parameters in the order the exchange documents, each value
// percent-encoded. The signature covers exactly these bytes, so they must be sent as is.
function queryString(params) {
  var parts = [];
  for (var i = 0; i < params.length; i++) {
    parts.push(encodeURIComponent(params[i][0]) + '=' + encodeURIComponent(String(params[i][1])));
  }
  return parts.join('&');
}

function main(input, ctx) {
  var opt = options(input);
  var apiKey = secret('exchange_api_key');
  var apiSecret = secret('exchange_api_secret');

  var timestamp = Date.now();
  var query = queryString([['timestamp', timestamp], ['recvWindow', opt.recvWindow]]);
  var signature = crypto.hmacSha256(apiSecret, query);  // hex
  var url = opt.base + '/api/v3/account?' + query + '&signature=' + signature;

  var r;
  try {
    r = fetch(url, { headers: { 'X-API-KEY': apiKey }, timeout_ms: 4000 });
  } catch (e) {
    throw namedError('UpstreamError', 'exchange unreachable or refused by fnbox (' +
                     (e.code || e.name) + ')');
  }
  var body;
  try {
    body = r.json();
  } catch (e2) {
    throw namedError('UpstreamError', 'exchange answered ' + r.status + ' with a body that is not JSON');
  }
  if (r.status !== 200) {
    var detail = body && typeof body.msg === 'string' ? ': ' + body.code + ' ' + body.msg : '';
    throw namedError('UpstreamError', 'exchange answered ' + r.status + detail);
  }
  if (!body || !Array.isArray(body.balances)) {
    throw namedError('UpstreamError', 'exchange sent no balances');
  }
  var balances = [];
  for (var i = 0; i < body.balances.length; i++) {
    var b = body.balances[i];
    balances.push({ asset: String(b.asset), free: String(b.free) });
  }
  return { can_trade: body.canTrade === true, balances: balances, signed_at: timestamp };
}
