# workerd configuration for bench/peers.sh: one worker running oracle-worker.js (the body of
# samples/median-oracle.js + bench/peers/workerd-handler.js, written next to this file), HTTP
# on 127.0.0.1. The port is given at start: workerd serve workerd.capnp --socket-addr http=...
using Workerd = import "/workerd/workerd.capnp";

const config :Workerd.Config = (
  services = [(name = "oracle", worker = .oracleWorker)],
  sockets = [(name = "http", address = "127.0.0.1:8080", http = (), service = "oracle")],
);

const oracleWorker :Workerd.Worker = (
  modules = [(name = "oracle-worker.js", esModule = embed "oracle-worker.js")],
  compatibilityDate = "2025-01-01",
);
