// Appended by bench/peers.sh to the body of samples/median-oracle.js to make the script that
// bench/peers/spawn-front.js runs as a fresh `deno run` process per request: reads the input
// JSON from stdin, writes {"result": ...} to stdout; a throw exits non-zero.
const text = await new Response(Deno.stdin.readable).text();
const out = JSON.stringify({ result: main(JSON.parse(text), {}) });
await Deno.stdout.write(new TextEncoder().encode(out));
