"""A function deployed with "sign": true gets a signed receipt with every successful result."""

from conftest import error_code, unique


def test_sign_flag_at_deploy(daemon, dev):
    token, _ = dev
    name = unique("signed")
    daemon.deploy_ok(name, "function main(i) { return i * 2; }\n", token, sign=True)
    assert daemon.api("GET", f"/v1/functions/{name}", token).json()["sign"] is True
    r = daemon.invoke(name, token, input=21)
    assert r.status_code == 200 and r.json()["result"] == 42
    receipt = r.json()["receipt"]
    assert receipt["function"] == name and len(receipt["signature"]) == 128
    # a new version without the flag: no receipt unless asked with ?sign=1
    daemon.deploy_ok(name, "function main(i) { return i * 3; }\n", token)
    r = daemon.invoke(name, token, input=1)
    assert "receipt" not in r.json()
    r = daemon.api("POST", f"/v1/functions/{name}/invoke", token, json=1, params={"sign": "1"})
    assert r.json()["receipt"]["version"] == 2
    # a failed invocation has no output to sign
    bad = unique("signed-bad")
    daemon.deploy_ok(bad, "function main() { throw new Error('no'); }\n", token, sign=True)
    r = daemon.invoke(bad, token)
    assert r.status_code == 500 and "receipt" not in r.json()
    r = daemon.deploy(unique("signed-x"), "function main() {}\n", token, sign="yes")
    assert r.status_code == 400 and error_code(r) == "invalid_request"


def test_cli_deploy_sign(daemon, dev, tmp_path):
    import json
    import os
    import subprocess

    from conftest import binary, REPO
    token, _ = dev
    name = unique("clisign")
    env = dict(os.environ, FNBOX_URL=daemon.base, FNBOX_TOKEN=token)
    p = subprocess.run([binary("fnbox"), "deploy", os.path.join(REPO, "samples", "hello.js"),
                        "--name", name, "--sign"], env=env, capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    p = subprocess.run([binary("fnbox"), "invoke", name, '{"name":"Ada"}'], env=env,
                       capture_output=True, timeout=30)
    assert p.returncode == 0, p.stderr
    assert "receipt" in json.loads(p.stdout)
