"""State survives a restart on the same data directory."""

import os
import stat
import threading
import time

from conftest import start_daemon, unique


def test_restart_keeps_functions_and_tokens(tmp_path):
    d = start_daemon(tmp_path)
    try:
        admin = d.admin
        st = os.stat(os.path.join(d.data, "admin.token"))
        assert stat.S_IMODE(st.st_mode) == 0o600, oct(st.st_mode)
        assert stat.S_IMODE(os.stat(d.data).st_mode) == 0o700
        assert os.path.exists(os.path.join(d.data, "fnbox.db"))

        tok = d.create_token("developer", unique("own"))
        inv = d.create_token("invoker", unique("inv"))
        gone = d.create_token("invoker", unique("gone"))
        assert d.api("DELETE", f"/v1/tokens/{gone['id']}", admin).status_code == 204
        name = unique("persist")
        d.deploy_ok(name, "function main(i) { return 'v1:' + i; }\n", tok["token"])
        d.deploy_ok(name, "function main(i) { return 'v2:' + i; }\n", tok["token"])
        r = d.api("PUT", f"/v1/functions/{name}/live", tok["token"], json={"version": 1})
        assert r.status_code == 200, r.text

        d.restart()  # checks SIGTERM -> exit 0

        assert d.admin == admin, "admin.token must not change across restarts"
        r = d.invoke(name, tok["token"], input="x")
        assert r.status_code == 200 and r.json()["result"] == "v1:x", r.text
        r = d.invoke(name, inv["token"], input="y")
        assert r.status_code == 200 and r.json()["result"] == "v1:y", r.text
        assert d.invoke(name, gone["token"], input="z").status_code == 401
        meta = d.api("GET", f"/v1/functions/{name}", tok["token"]).json()
        assert meta["pinned"] is True and meta["latest_version"] == 2
        ids = {t["id"] for t in d.api("GET", "/v1/tokens", admin).json()["tokens"]}
        assert {tok["id"], inv["id"], gone["id"]} <= ids
        # new versions continue the sequence
        assert d.deploy_ok(name, "function main() { return 3; }\n", tok["token"])["version"] == 3
    finally:
        d.stop()


def test_sigterm_while_invoking(tmp_path):
    """SIGTERM during a running invocation still exits 0 within 10 s (checked by stop)."""
    d = start_daemon(tmp_path)
    tok, _ = d.developer()
    name = unique("slow")
    d.deploy_ok(name, "function main() { var t = Date.now(); while (Date.now() - t < 3000) {} return 1; }\n",
                tok, limits={"timeout_ms": 5000})
    out = []

    def call():
        try:
            out.append(d.invoke(name, tok, input={}, timeout=15).status_code)
        except Exception as e:  # noqa: BLE001 - connection closed by shutdown is fine
            out.append(type(e).__name__)

    t = threading.Thread(target=call)
    t.start()
    time.sleep(0.5)
    d.stop()
    t.join(20)
    assert out, "the in-flight request never returned"
