// median-oracle: a pure-compute price oracle.
//
// Takes quotes for one symbol from several sources and reports their median, the spread
// (highest minus lowest price) and which sources contributed. No secrets, no network:
// the caller supplies the quotes, the function only validates and aggregates them, so the
// result is a deterministic function of the input.
//
// Input:
//   {"symbol": "ETH",
//    "quotes": [{"source": "a", "price": 3120.5}, {"source": "b", "price": 3119.0}, ...]}
//   symbol  non-empty string (at most 32 characters)
//   quotes  1..50 entries; each an object whose price is a finite number > 0 and whose
//           source, if present, is a non-empty string (a missing source is named "#<index>")
// Output:
//   {"symbol": "ETH", "median": 3120.5, "count": 3, "spread": 2.5, "sources": ["a", "b", "c"]}
//   sources are listed in input order.
// Errors (thrown, reported by fnbox as a function_error with name, message and line):
//   TypeError   a value has the wrong type (input not an object, symbol not a string,
//               quotes not an array, a quote not an object, a price not a number)
//   RangeError  a value has the right type but is out of range (empty symbol, 0 or more
//               than 50 quotes, a price that is zero, negative, NaN or infinite)
//
// Engine: Duktape 2.7 (ES5.1 syntax): no let, arrow functions, template literals,
// classes, destructuring, spread, default parameters or for-of.

var MAX_QUOTES = 50;
var MAX_SYMBOL_LENGTH = 32;

function describe(value) {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  return typeof value;
}

function validate(input) {
  if (input === null || typeof input !== 'object' || Array.isArray(input)) {
    throw new TypeError('input must be an object like {"symbol":"ETH","quotes":[...]}, got ' +
                        describe(input));
  }
  if (typeof input.symbol !== 'string') {
    throw new TypeError('symbol must be a string, got ' + describe(input.symbol));
  }
  if (input.symbol.length === 0 || input.symbol.length > MAX_SYMBOL_LENGTH) {
    throw new RangeError('symbol must be 1..' + MAX_SYMBOL_LENGTH + ' characters long, got ' +
                         input.symbol.length);
  }
  if (!Array.isArray(input.quotes)) {
    throw new TypeError('quotes must be an array, got ' + describe(input.quotes));
  }
  if (input.quotes.length < 1 || input.quotes.length > MAX_QUOTES) {
    throw new RangeError('quotes must have 1..' + MAX_QUOTES + ' entries, got ' +
                         input.quotes.length);
  }
  for (var i = 0; i < input.quotes.length; i++) {
    var q = input.quotes[i];
    var where = 'quotes[' + i + ']';
    if (q === null || typeof q !== 'object' || Array.isArray(q)) {
      throw new TypeError(where + ' must be an object with a price, got ' + describe(q));
    }
    if (typeof q.price !== 'number') {
      throw new TypeError(where + '.price must be a number, got ' + describe(q.price));
    }
    if (!isFinite(q.price) || !(q.price > 0)) {
      throw new RangeError(where + '.price must be a finite positive number, got ' +
                           String(q.price));
    }
    if (q.source !== undefined && (typeof q.source !== 'string' || q.source.length === 0)) {
      throw new TypeError(where + '.source must be a non-empty string when present, got ' +
                          describe(q.source));
    }
  }
}

function median(sortedPrices) {
  var n = sortedPrices.length;
  var mid = Math.floor(n / 2);
  if (n % 2 === 1) return sortedPrices[mid];
  // Mean of the two middle values, written so that it cannot overflow to Infinity.
  var lo = sortedPrices[mid - 1];
  var hi = sortedPrices[mid];
  return lo + (hi - lo) / 2;
}

function main(input, ctx) {
  validate(input);
  var prices = [];
  var sources = [];
  for (var i = 0; i < input.quotes.length; i++) {
    var q = input.quotes[i];
    prices.push(q.price);
    sources.push(q.source !== undefined ? q.source : '#' + i);
  }
  prices.sort(function (a, b) { return a - b; });  // numeric: the default sort is by string
  return {
    symbol: input.symbol,
    median: median(prices),
    count: prices.length,
    spread: prices[prices.length - 1] - prices[0],
    sources: sources
  };
}
