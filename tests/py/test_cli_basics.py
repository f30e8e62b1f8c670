"""The CLI's own contract: usage, unknown commands and options are clear errors."""
from conftest import run_tc


def test_help_lists_commands(tc_bin):
    p = run_tc(tc_bin, "--help")
    assert "usage: thinkcache <command>" in p.stdout


def test_unknown_command_is_an_error(tc_bin):
    p = run_tc(tc_bin, "frobnicate", check=False)
    assert p.returncode != 0
    assert "unknown command 'frobnicate'" in p.stderr
