// price-oracle: fetches a price from an exchange with a sealed API key and returns it.
//
// It reads the owner's secret `exchange_api_key` with secrets.get(), sends it as a Bearer
// token to the exchange's price endpoint with fetch(), checks the answer and returns the
// price. The key is never returned, logged or put in an error message, and when the deploy
// binds the secret to the exchange's host (`--secret exchange_api_key=HOST`), fnbox itself
// refuses any fetch that would carry the key anywhere else (secret_egress_denied).
//
// Try it against samples/mock-exchange.py (see samples/README.md):
//   /usr/bin/python3 samples/mock-exchange.py --port 18080
//   fnbox secrets put exchange_api_key     # the mock's key: demo-key-0123456789abcdef0123456789abcdef
//   fnbox deploy samples/price-oracle.js --name price-oracle \
//       --allow-host 127.0.0.1:18080 --secret exchange_api_key=127.0.0.1:18080
//   fnbox invoke price-oracle '{"symbol":"ETH","base_url":"http://127.0.0.1:18080"}'
// (fnboxd must allow plain http and the loopback range for this local test:
//  --egress-allow-http 127.0.0.1:18080 --egress-allow-private 127.0.0.0/8.)
//
// Input:
//   {"symbol": "ETH", "base_url": "https://api.exchange.example"}
//   symbol    1..16 characters: letters, digits, '.', '-', '_'; upper-cased
//   base_url  optional, default DEFAULT_BASE_URL: scheme and host[:port] only, no path,
//             no user name; it must also be in the deploy's allow_hosts, which is what
//             actually limits where the function can connect
// Output:
//   {"symbol": "ETH", "price": 3120.5, "source": "http://127.0.0.1:18080",
//    "exchange_time": 1718000000000}
// Errors (a function_error with name, message and line):
//   TypeError          input is not an object, symbol or base_url is not a string
//   RangeError         symbol or base_url has the wrong shape
//   ConfigurationError the secret is not available: not stored for this function's owner,
//                      or not granted in the deploy; or the exchange host is not allowed
//   UpstreamError      the exchange could not be reached (the message has fetch's code:
//                      timeout, dns_failure, tls_failure, ...), answered with a status other
//                      than 200, or sent no valid price
//
// Engine: Duktape 2.7 (ES5.1 syntax): no let, arrow functions, template literals,
// classes, destructuring, spread, default parameters or for-of.

var SECRET_NAME = 'exchange_api_key';
var DEFAULT_BASE_URL = 'http://127.0.0.1:18080';  // samples/mock-exchange.py; a real exchange in production
var SYMBOL_PATTERN = /^[A-Za-z0-9._-]{1,16}$/;
var BASE_URL_PATTERN = /^https?:\/\/[A-Za-z0-9.-]+(:[0-9]{1,5})?$/;
var FETCH_TIMEOUT_MS = 4000;

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function namedError(name, message) {
  var err = new Error(message);
  err.name = name;
  return err;
}

function validate(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError('input must be an object like {"symbol":"ETH"}, got ' + describe(input));
  }
  if (typeof input.symbol !== 'string') {
    throw new TypeError('symbol must be a string, got ' + describe(input.symbol));
  }
  if (!SYMBOL_PATTERN.test(input.symbol)) {
    throw new RangeError('symbol must be 1..16 letters, digits, ".", "-" or "_"');
  }
  var base = input.base_url === undefined ? DEFAULT_BASE_URL : input.base_url;
  if (typeof base !== 'string') {
    throw new TypeError('base_url must be a string, got ' + describe(base));
  }
  base = base.replace(/\/+$/, '');
  if (!BASE_URL_PATTERN.test(base)) {
    throw new RangeError('base_url must be http(s)://host[:port] without a path or user name');
  }
  return { symbol: input.symbol.toUpperCase(), base: base };
}

// Reads the API key. secrets.get throws a catchable Error when the secret is not granted
// to this function or does not exist (the same message for both, so a function cannot probe
// which secrets its owner has); this adds how to fix it.
function apiKey() {
  var key;
  try {
    key = secrets.get(SECRET_NAME);
  } catch (e) {
    throw namedError('ConfigurationError', e.message + ' (store it with `fnbox secrets put ' +
                     SECRET_NAME + '` and deploy with --secret ' + SECRET_NAME + ')');
  }
  if (typeof key !== 'string' || key.length === 0) {
    throw namedError('ConfigurationError', 'secret ' + SECRET_NAME + ' is empty');
  }
  return key;
}

// fetch() throws an Error whose .code says what went wrong. Refusals by fnbox's policy are
// configuration problems; the rest are the exchange's (or the network's).
var POLICY_CODES = {
  host_not_allowed: true, address_not_allowed: true, scheme_not_allowed: true,
  secret_egress_denied: true
};

function getJson(url, key) {
  var r;
  try {
    r = fetch(url, {
      headers: { Authorization: 'Bearer ' + key, Accept: 'application/json' },
      timeout_ms: FETCH_TIMEOUT_MS
    });
  } catch (e) {
    if (POLICY_CODES[e.code]) {
      throw namedError('ConfigurationError', 'fnbox refused the request (' + e.code + '): ' +
                       'add the exchange host to the deploy\'s allow_hosts');
    }
    throw namedError('UpstreamError', 'exchange unreachable (' + (e.code || e.name) + ')');
  }
  if (r.status !== 200) {
    throw namedError('UpstreamError', 'exchange answered ' + r.status);
  }
  try {
    return r.json();
  } catch (e2) {
    throw namedError('UpstreamError', 'exchange sent a body that is not JSON');
  }
}

function main(input, ctx) {
  var req = validate(input);
  var key = apiKey();
  var body = getJson(req.base + '/v1/prices/' + encodeURIComponent(req.symbol), key);
  if (body === null || typeof body !== 'object' || typeof body.price !== 'number' ||
      !isFinite(body.price) || !(body.price > 0)) {
    throw namedError('UpstreamError', 'exchange sent no valid price');
  }
  if (body.symbol !== undefined && body.symbol !== req.symbol) {
    throw namedError('UpstreamError', 'exchange answered for another symbol');
  }
  return {
    symbol: req.symbol,
    price: body.price,
    source: req.base,
    exchange_time: typeof body.time === 'number' ? body.time : null
  };
}
