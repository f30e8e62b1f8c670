"""Builds the seeded tiny HF models of tools/make_random_models.py once per test session."""
import os
import pathlib
import subprocess
import sys

REPO = pathlib.Path(__file__).resolve().parents[2]
_built = {}


def build_random_models(root: pathlib.Path, only=None) -> pathlib.Path:
    """Runs the generator into root (idempotent per process); returns root."""
    key = (str(root), tuple(only or ()))
    if key not in _built:
        cmd = [sys.executable, str(REPO / "tools" / "make_random_models.py"), "--out", str(root)]
        if only:
            cmd += ["--only", *only]
        env = dict(os.environ, TRANSFORMERS_VERBOSITY="error", HF_HUB_OFFLINE="1")
        proc = subprocess.run(cmd, capture_output=True, text=True, env=env)
        if proc.returncode != 0:
            raise RuntimeError(f"make_random_models.py failed:\n{proc.stderr[-4000:]}")
        _built[key] = root
    return root
