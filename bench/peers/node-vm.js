// The "Node http + a new vm context per request" peer for bench/peers.sh.
// Usage: node node-vm.js PORT ORACLE_FILE
// The oracle's source is compiled once as a vm.Script; every request gets a fresh context
// (a new global object and heap objects), runs the script in it, and does the JSON round
// trip inside that context. Answers {"result": ...}, or 500 on a throw.
'use strict';
const fs = require('fs');
const http = require('http');
const vm = require('vm');

const [port, file] = process.argv.slice(2);
const script = new vm.Script(
  fs.readFileSync(file, 'utf8') +
    '\n;__out = JSON.stringify({ result: main(JSON.parse(__in), {}) });\n',
  { filename: 'median-oracle.js' });

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    let status = 200;
    let out;
    try {
      const ctx = vm.createContext({ __in: Buffer.concat(chunks).toString('utf8'), __out: null });
      script.runInContext(ctx, { timeout: 5000 });
      out = ctx.__out;
    } catch (e) {
      status = 500;
      out = JSON.stringify({ error: String(e) });
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(out);
  });
}).listen(Number(port), '127.0.0.1');
