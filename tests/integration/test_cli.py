"""Smoke test of the fnbox CLI against the real daemon (FNBOX_URL / FNBOX_TOKEN)."""

import json
import os
import subprocess

import pytest

from conftest import REPO, binary, free_port, unique

HELLO = os.path.join(REPO, "samples", "hello.js")


def _env(url, token):
    env = {k: v for k, v in os.environ.items() if not k.startswith("FNBOX_")}
    env["FNBOX_URL"] = url
    if token is not None:
        env["FNBOX_TOKEN"] = token
    return env


def fnbox(d, token, *args, url=None, stdin=None):
    p = subprocess.run([binary("fnbox")] + list(args), env=_env(url or d.base, token),
                       input=stdin, capture_output=True, text=True, timeout=30)
    for t in d.tokens:  # the CLI never echoes a token
        assert t not in p.stdout and t not in p.stderr
    return p


@pytest.fixture(scope="module")
def cli_dev(daemon):
    return daemon.developer()[0]


def test_deploy_and_invoke(daemon, cli_dev, tmp_path):
    d = daemon
    name = unique("clihello")
    src = HELLO if os.path.exists(HELLO) else None
    if src is None:
        src = str(tmp_path / "hello.js")
        with open(src, "w") as f:
            f.write("function main(input, ctx) { return {greeting: 'Hello, ' + input.name + '!'}; }\n")
    p = fnbox(d, cli_dev, "deploy", "--name", name, src)
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    out = json.loads(p.stdout)
    assert out["name"] == name and out["version"] == 1

    p = fnbox(d, cli_dev, "invoke", name, '{"name": "Ada"}')
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    out = json.loads(p.stdout)
    assert out["result"]["greeting"] == "Hello, Ada!"
    assert out["invocation_id"]

    # the daemon really has it
    r = d.invoke(name, cli_dev, input={"name": "Bo"})
    assert r.status_code == 200 and r.json()["result"]["greeting"] == "Hello, Bo!"

    # input from stdin
    p = fnbox(d, cli_dev, "invoke", name, "-", stdin='{"name": "Stdin"}')
    assert p.returncode == 0, (p.returncode, p.stdout, p.stderr)
    assert json.loads(p.stdout)["result"]["greeting"] == "Hello, Stdin!"


def test_error_exit_codes(daemon, cli_dev, tmp_path):
    d = daemon
    name = unique("clithrow")
    src = tmp_path / "throw.js"
    src.write_text("function main() {\n  throw new Error('cli boom');\n}\n")
    p = fnbox(d, cli_dev, "deploy", "--name", name, str(src))
    assert p.returncode == 0, (p.stdout, p.stderr)

    p = fnbox(d, cli_dev, "invoke", name, "{}")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "function_error" in p.stderr
    assert "invocation_id" in p.stdout  # the failed invocation is printed whole

    p = fnbox(d, cli_dev, "invoke", unique("missing"), "{}")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "not_found" in p.stderr

    bad = tmp_path / "bad.js"
    bad.write_text("function main() {\n  return (;\n}\n")
    p = fnbox(d, cli_dev, "deploy", "--name", unique("clisyn"), str(bad))
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "syntax_error" in p.stderr

    p = fnbox(d, "fnbox_" + "0" * 64, "invoke", name, "{}")
    assert p.returncode == 1, (p.returncode, p.stdout, p.stderr)
    assert "unauthorized" in p.stderr

    # nobody listening: a distinct exit status
    p = fnbox(d, cli_dev, "invoke", name, "{}", url=f"http://127.0.0.1:{free_port()}")
    assert p.returncode == 3, (p.returncode, p.stdout, p.stderr)
