"""Shared fixtures for the Python oracle tests.

The tests drive the real `thinkcache` binary (one code path for users and tests) and compare
what it prints or writes with independent oracles: HF transformers / tokenizers, or values
computed from the spec. Assets come from scripts/fetch_assets.sh; when one is missing the test
is skipped, unless TC_REQUIRE_ASSETS=1 (as in CI), which turns the skip into a failure.
"""
import os
import pathlib
import subprocess

import pytest

REPO = pathlib.Path(__file__).resolve().parents[2]
BUILD = pathlib.Path(os.environ.get("TC_BUILD_DIR", REPO / "build"))
ASSETS = pathlib.Path(os.environ.get("TC_ASSETS", REPO / "assets"))


def require(path: pathlib.Path) -> pathlib.Path:
    if not path.exists():
        msg = f"asset missing: {path} (run scripts/setup.sh)"
        if os.environ.get("TC_REQUIRE_ASSETS") == "1":
            pytest.fail(msg)
        pytest.skip(msg)
    return path


@pytest.fixture(scope="session")
def tc_bin() -> pathlib.Path:
    exe = BUILD / "thinkcache"
    if not exe.exists():
        pytest.fail(f"{exe} not built (run scripts/build.sh)")
    return exe


@pytest.fixture(scope="session")
def assets() -> pathlib.Path:
    return ASSETS


@pytest.fixture(scope="session")
def smollm2_gguf() -> pathlib.Path:
    return require(ASSETS / "smollm2" / "SmolLM2-135M-Instruct.Q4_1.gguf")


@pytest.fixture(scope="session")
def qwen25_gguf() -> pathlib.Path:
    """Qwen2.5-Coder-0.5B-Instruct Q4_K_M (qwen2, 14 query / 2 KV heads, Q5_0/Q8_0/Q4_K/Q6_K)."""
    return require(ASSETS / "qwen25" / "qwen2.5-coder-0.5b-instruct-q4_k_m.gguf")


def run_tc(tc_bin, *args, check=True, input=None, timeout=600):
    """Runs thinkcache with args; returns CompletedProcess (text mode)."""
    proc = subprocess.run([str(tc_bin), *map(str, args)], capture_output=True, text=True,
                          input=input, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"thinkcache {' '.join(map(str, args))} failed ({proc.returncode}):\n"
                             f"{proc.stderr[-4000:]}")
    return proc
