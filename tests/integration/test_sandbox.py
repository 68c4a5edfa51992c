"""Seccomp kills a forbidden syscall (test-hook binary); the hook is absent in production."""

import pytest

from conftest import binary, error_code, start_daemon, unique

HOOK = """function main(input) {
  console.log('before');
  __fnbox_test_syscall('socket');
  return 'survived the forbidden syscall';
}
"""


@pytest.fixture(scope="module")
def hooked(tmp_path_factory):
    d = start_daemon(tmp_path_factory.mktemp("testhooks"), binary_name="fnboxd-testhooks")
    yield d
    d.stop()


def test_forbidden_syscall_kills_worker(hooked):
    d = hooked
    token, _ = d.developer()
    name = unique("sock")
    d.deploy_ok(name, HOOK, token)
    for _ in range(2):
        r = d.invoke(name, token, input={})
        assert r.status_code == 500, (r.status_code, r.text)
        assert error_code(r) == "sandbox_violation", r.text
        assert isinstance(r.json()["invocation_id"], str)
        assert "survived" not in r.text
        d.assert_serving(token)


def test_hook_exists_in_testhooks_build(hooked):
    d = hooked
    token, _ = d.developer()
    name = unique("hooktype")
    d.deploy_ok(name, "function main() { return typeof __fnbox_test_syscall; }\n", token)
    r = d.invoke(name, token, input={})
    assert r.status_code == 200 and r.json()["result"] == "function", r.text


def test_hook_absent_in_production(daemon, dev):
    d = daemon
    token, _ = dev
    name = unique("sock")
    d.deploy_ok(name, HOOK, token)
    r = d.invoke(name, token, input={})
    assert r.status_code == 500, (r.status_code, r.text)
    assert error_code(r) == "function_error", r.text
    assert r.json()["error"]["name"] == "ReferenceError", r.text
    assert r.json()["error"]["line"] == 3, r.text
    assert r.json()["logs"] == ["before"]

    name2 = unique("hooktype")
    d.deploy_ok(name2, "function main() { var g = (function () { return this; })();"
                       " return [typeof __fnbox_test_syscall, '__fnbox_test_syscall' in g]; }\n",
                token)
    r = d.invoke(name2, token, input={})
    assert r.status_code == 200 and r.json()["result"] == ["undefined", False], r.text
    d.assert_serving(token)


def test_production_binary_has_no_hook_string():
    """The production executable must not even contain the hook's name."""
    with open(binary("fnboxd"), "rb") as f:
        assert b"__fnbox_test_syscall" not in f.read()
