// The HTTP front-end of the "`deno run` per invocation" peer for bench/peers.sh: every
// request spawns a fresh process, DENO RUN_ARGS... SCRIPT, writes the request body to its
// stdin and answers with its stdout (200 when it exits 0, else 500; killed after 10 s).
// Usage: node spawn-front.js PORT DENO SCRIPT   (DENO_DIR etc. come from the environment)
'use strict';
const http = require('http');
const { spawn } = require('child_process');

const [port, deno, script] = process.argv.slice(2);
const args = ['run', '--quiet', '--no-prompt', '--no-config', script];

http.createServer((req, res) => {
  const chunks = [];
  req.on('data', (c) => chunks.push(c));
  req.on('end', () => {
    const out = [];
    let done = false;
    const finish = (status, body) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    const child = spawn(deno, args, { stdio: ['pipe', 'pipe', 'ignore'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), 10000);
    child.on('error', (e) => finish(500, JSON.stringify({ error: String(e) })));
    child.stdin.on('error', () => {});
    child.stdout.on('data', (c) => out.push(c));
    child.on('close', (code) => {
      if (code === 0) finish(200, Buffer.concat(out));
      else finish(500, JSON.stringify({ error: 'deno exited with ' + code }));
    });
    child.stdin.end(Buffer.concat(chunks));
  });
}).listen(Number(port), '127.0.0.1');
