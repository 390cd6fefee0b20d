"""Setup as a newcomer meets it (issue #17, "Setup as a newcomer meets it"; issue #19, the lock):
`make` asks only for what building needs, installs every package at its locked version, and
prints no setuptools warning; the tests' tools come with `make test`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ROOT

TEST_TOOLS = ("default-jre-headless", "chromium", "chromium-driver")


def _make_n(*args: str) -> list[str]:
    """The commands `make` would run for `args`, all of them (-B: as on a fresh checkout)."""
    proc = subprocess.run(
        ["make", "-n", "-B", "--no-print-directory", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return proc.stdout.splitlines()


def test_make_installs_what_building_needs_and_make_test_adds_the_test_tools():
    build = _make_n()
    assert any(line.startswith("scripts/sysdeps.sh build") for line in build), build
    assert not any("sysdeps.sh test" in line for line in build), build
    assert not any("[test" in line for line in build), "make installs the test tools"
    test = _make_n("test")
    assert any(line.startswith("scripts/sysdeps.sh test") for line in test), test
    assert any("'.[test,lint]'" in line for line in test), test
    fast = _make_n("test-fast")
    assert any(line.startswith("scripts/sysdeps.sh test-fast") for line in fast), fast
    # every install follows the lock (constraints.txt); pip itself is not locked
    for line in build + test:
        if " pip install" in line and "--upgrade pip" not in line:
            assert "-c constraints.txt" in line, line


def _bare_system(tmp_path: Path) -> dict[str, str]:
    """A PATH holding WeasyPrint's libraries (ldconfig lists them) and nothing else: no Java,
    no Chromium, no poppler, no apt-get, no sudo; a user who is not root."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    for tool in ("grep", "cat"):
        (bin_dir / tool).symlink_to(shutil.which(tool))
    libs = ("libpango-1.0.so.0", "libpangoft2-1.0.so.0", "libharfbuzz-subset.so.0")
    listing = "".join(f"\t{lib} (libc6,x86-64) => /usr/lib/{lib}\\n" for lib in libs)
    listing += "\tlibfontconfig.so.1 (libc6,x86-64) => /usr/lib/libfontconfig.so.1\\n"
    (bin_dir / "ldconfig").write_text(f"#!/bin/bash\nprintf '{listing}'\n")
    (bin_dir / "id").write_text("#!/bin/bash\necho 1000\n")
    for stub in ("ldconfig", "id"):
        (bin_dir / stub).chmod(0o755)
    return {"PATH": str(bin_dir), "HOME": str(tmp_path), "LC_ALL": "C"}


def _sysdeps(mode: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["/bin/bash", str(ROOT / "scripts" / "sysdeps.sh"), mode],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
    )


def test_building_asks_for_neither_java_nor_chromium(tmp_path):
    """The issue's newcomer: no root, no Java. `make` used to stop with « cannot install the
    system libraries WeasyPrint needs: default-jre-headless »."""
    env = _bare_system(tmp_path)
    build = _sysdeps("build", env)
    assert build.returncode == 0, build.stderr
    assert build.stdout == build.stderr == ""
    # The same machine, for the tests: every tool is asked for, with the command to run.
    test = _sysdeps("test", env)
    assert test.returncode == 1
    for package in (*TEST_TOOLS, "poppler-utils"):
        assert package in test.stderr
    assert "apt-get install -y" in test.stderr


def _no_setuptools_warning(output: str) -> None:
    noise = [
        line
        for line in output.splitlines()
        if "Warning" in line or "setuptools" in line or line.strip() == "!!"
    ]
    assert not noise, output


@pytest.mark.slow
def test_building_a_wheel_prints_no_setuptools_warning(tmp_path):
    """« Package 'livret.preview.static' is absent from the packages configuration »: 40
    lines on every install, from an incomplete packages list."""
    proc = subprocess.run(
        [sys.executable, "-m", "pip", "-q", "wheel", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    _no_setuptools_warning(proc.stdout + proc.stderr)
    assert list(tmp_path.glob("livret-*.whl"))


@pytest.mark.slow
def test_makes_editable_install_prints_no_setuptools_warning(tmp_path):
    """The install line of `make`, run as it is (into a venv of its own, dependencies aside)."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=300)
    [line] = [
        line
        for line in _make_n(f"VENV={venv}", f"{venv}/.installed")
        if " pip install" in line and " -e ." in line
    ]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONWARNINGS"}
    proc = subprocess.run(
        f"{line} --no-deps",
        shell=True,
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr
    _no_setuptools_warning(proc.stdout + proc.stderr)
    shown = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            "import livret.design as d; print(d.shipped('styles'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert Path(shown.stdout.strip()) == ROOT / "styles"
