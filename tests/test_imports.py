"""Imports match the extras: each module imports only what its extra installs.

Each check runs in a fresh interpreter, where an import finder refuses the modules that must
not be needed, so a module imported by accident (or at module level) fails loudly.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

BLOCK = """
import sys

class Refuse:
    def __init__(self, names):
        self.names = names

    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in self.names:
            raise ImportError(f"{name} is not installed (blocked by the test)")
        return None

sys.meta_path.insert(0, Refuse(BLOCKED))
"""


def run(code: str, *, blocked: set[str]) -> subprocess.CompletedProcess[str]:
    script = BLOCK.replace("BLOCKED", repr(sorted(blocked))) + textwrap.dedent(code)
    return subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )


@pytest.mark.parametrize(
    "module", ["mintgate.adapters", "mintgate.adapters.testing", "mintgate.adapters.sqlite"]
)
def test_the_adapters_package_and_its_test_server_need_no_extra(module: str) -> None:
    done = run(f"import {module}", blocked={"httpx", "jwt", "cryptography", "coredis"})
    assert done.returncode == 0, done.stderr


def test_the_command_dispatcher_imports_no_extra_and_no_subcommand() -> None:
    code = """
    import sys
    import mintgate.adapters.cli
    assert "mintgate.simulations" not in sys.modules, "subcommands load lazily"
    try:
        mintgate.adapters.cli.main(["--help"])
    except SystemExit as done:
        assert done.code == 0
    assert "mintgate.simulations" not in sys.modules
    """
    done = run(code, blocked={"httpx", "jwt", "cryptography", "coredis", "rich", "matplotlib"})
    assert done.returncode == 0, done.stderr
    assert "simulate" in done.stdout
    assert "demo" in done.stdout


def test_the_oauth2_module_needs_httpx_and_says_so() -> None:
    done = run("import mintgate.adapters.oauth2", blocked={"httpx"})
    assert done.returncode != 0
    assert "httpx is not installed" in done.stderr


def test_the_crypto_module_needs_cryptography_and_says_so() -> None:
    done = run("import mintgate.adapters.crypto", blocked={"cryptography"})
    assert done.returncode != 0
    assert "cryptography is not installed" in done.stderr


def test_an_asyncio_program_never_imports_trio() -> None:
    code = """
    import asyncio
    import mintgate.shell
    import mintgate.shell.pytest_plugin
    from mintgate.shell import Minted, RefreshingProvider

    async def mint():
        return Minted("token", expires_in=3600)

    async def main():
        async with RefreshingProvider(mint) as provider:
            assert (await provider.token()).value == "token"
            assert provider.current() is not None

    asyncio.run(main())
    print("ok")
    """
    done = run(code, blocked={"trio"})
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "ok"


OPEN_FOR_SUBCLASSING = {
    "CredentialError",  # a mint may raise its own subclass
    "ErrorKind",  # enums with members cannot be subclassed anyway
    "BreakerState",
    "MintReason",
    "NoticeKind",
    "Step",  # a NamedTuple
    "Hook",  # protocols
    "MintHook",
    "TokenSource",
    "Cipher",
    "StateStore",
    "CredentialType",
    "StoreError",  # store errors: a store for another backend may raise its own subclasses
    "RecordNotFound",
    "RecordExists",
    "RecordUnreadable",
    "RevisionConflict",
    "StaleFence",
    "StoreUnavailable",
    "MigrationError",
    "UnknownType",
    "KeyringError",  # crypto errors: a program may raise its own kinds of them
    "SealRefused",
}


@pytest.mark.parametrize(
    "module",
    ["mintgate.policy", "mintgate.shell", "mintgate.adapters.oauth2", "mintgate.adapters.crypto"],
)
def test_public_classes_not_meant_for_subclassing_are_final(module: str) -> None:
    namespace = __import__(module, fromlist=["_"])
    public = getattr(namespace, "__all__", None) or list(vars(namespace))
    classes = {
        name: value
        for name in public
        if isinstance(value := getattr(namespace, name), type) and not name.startswith("_")
    }
    assert classes
    open_ = sorted(
        name
        for name, cls in classes.items()
        if name not in OPEN_FOR_SUBCLASSING and not getattr(cls, "__final__", False)
    )
    assert open_ == []
