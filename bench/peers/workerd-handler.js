// Appended by bench/peers.sh to the body of samples/median-oracle.js to make the workerd
// peer: one ES module, one worker. JSON round trip: parse the request body, call main(),
// answer {"result": ...} as fnbox does. A throw becomes workerd's own 500.
export default {
  async fetch(request) {
    var input = JSON.parse(await request.text());
    var out = JSON.stringify({ result: main(input, {}) });
    return new Response(out, { headers: { 'content-type': 'application/json' } });
  }
};
