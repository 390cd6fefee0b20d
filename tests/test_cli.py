"""The command line: global options before the command, one way to run `mail`, pipes."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest
from conftest import CONTENT

from livret.cli import main

LIVRET = [sys.executable, "-c", "import sys; from livret.cli import main; sys.exit(main())"]


@pytest.mark.parametrize(
    "argv",
    [
        ["--content", str(CONTENT), "check"],
        [f"--content={CONTENT}", "check"],
        ["check", "--content", str(CONTENT)],
    ],
)
def test_global_options_before_or_after_the_command(argv, capsys):
    assert main(argv) == 0
    assert capsys.readouterr().out.startswith(f"{CONTENT}: OK — 3 themes, 10 actions")


def test_global_options_before_an_implicit_build(capsys, tmp_path):
    assert main(["--content", str(CONTENT), "--output", str(tmp_path), "--list"]) == 0
    assert "  mobilites " in capsys.readouterr().out


def test_a_global_option_given_after_the_command_wins(tmp_path, capsys):
    empty = tmp_path / "nothing"
    assert main(["--content", str(empty), "check", "--content", str(CONTENT)]) == 0
    assert main(["--content", str(CONTENT), "check", "--content", str(empty)]) == 1
    assert str(empty) in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--recipients", "missing.csv"],  # refused before sending
        [],  # a required flag left out: a usage error
        ["--recipients", "missing.csv", "--port", "x"],
    ],
)
def test_livret_mail_and_python_m_livret_mail_exit_alike(args, tmp_path):
    def code(argv):
        proc = subprocess.run(argv, cwd=tmp_path, capture_output=True, text=True)
        assert "Traceback" not in proc.stderr
        return proc.returncode, proc.stderr.replace("python -m livret.mail", "livret")

    module = code([sys.executable, "-m", "livret.mail", "--content", str(CONTENT), *args])
    command = code([*LIVRET, "--content", str(CONTENT), "mail", *args])
    assert module[0] == command[0] != 0
    assert module[1].splitlines()[-1] == command[1].splitlines()[-1]


def test_a_closed_pipe_ends_quietly_like_any_command_in_a_pipe(built_copy):
    """`livret --json | head`: the reader went away; no 'Broken pipe' error."""
    copy = built_copy  # up to date: the build only prints its summary
    for argv in (
        ["--content", str(CONTENT), "--output", str(copy), "--json"],
        ["--content", str(CONTENT), "--list"],
    ):
        read, write = os.pipe()
        os.close(read)  # the reader is gone before anything is written
        try:
            proc = subprocess.run([*LIVRET, *argv], stdout=write, stderr=subprocess.PIPE)
        finally:
            os.close(write)
        assert proc.returncode == 128 + signal.SIGPIPE, proc.stderr
        assert proc.stderr == b""
