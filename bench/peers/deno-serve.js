// Appended by bench/peers.sh to the body of samples/median-oracle.js to make the Deno.serve
// peer: one long-lived process, no isolation between requests. Usage: deno run
// --allow-net=127.0.0.1:PORT oracle-serve.js PORT
const port = Number(Deno.args[0]);
Deno.serve({ hostname: '127.0.0.1', port, onListen() {} }, async (request) => {
  const input = JSON.parse(await request.text());
  const out = JSON.stringify({ result: main(input, {}) });
  return new Response(out, { headers: { 'content-type': 'application/json' } });
});
