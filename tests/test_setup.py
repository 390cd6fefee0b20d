"""Setup as a newcomer meets it (issue #17, "Setup as a newcomer meets it"; issue #19, the lock):
`make` asks only for what building needs, installs every package at its locked version, and
prints no setuptools warning; the tests' tools come with `make test`."""

from __future__ import annotations

import ast
import os
import shlex
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
            "import livret.rendering.design as d; print(d.shipped('styles'))",
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
        cwd=tmp_path,
    )
    assert Path(shown.stdout.strip()) == ROOT / "styles"


# --- the fast tier (issue #19) ------------------------------------------------------------------

# What the fast tier never does: drive Chromium, run Java (veraPDF), install a wheel, kill or
# interrupt a real process. Looked for in the source of each test it collects.
NOT_FAST = (
    "selenium",
    "webdriver",
    "verapdf",
    '"wheel"',
    "SIGKILL",
    "SIGINT",
    "SIGTERM",
    "send_signal(",
    "os.kill(",
    "kill(victim",
)
# Modules that no test names, exercised through the one that uses them.
THROUGH = {
    "livret.reading.policy": "livret.reading.loader",
    "livret.mail": "livret.mail.cli",
    "livret.preview": "livret.preview.server",
    "livret.console": "livret.cli",
    "livret.mail.lists": "livret.mail.cli",
    "livret.building.web.assets": "livret.building.web",
}


def _fast_items() -> list[str]:
    [line] = [line for line in _make_n("test-fast") if "pytest" in line]
    words = shlex.split(line)
    expression = words[len(words) - 1 - words[::-1].index("-m") + 1]
    assert {"browser", "java", "slow"} <= set(expression.replace("not", "").split()) - {"and"}
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"]
        + ["-m", expression],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return [line for line in proc.stdout.splitlines() if "::" in line]


def _functions(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    return {
        node.name: ast.get_source_segment(text, node) or ""
        for node in ast.walk(ast.parse(text))
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
    }


def _livret_imports(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("livret"):
            names.add(str(node.module))
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Import):
            names.update(a.name for a in node.names if a.name.startswith("livret"))
    return names


@pytest.mark.slow  # a pytest session of its own (collecting the suite)
def test_make_test_fast_leaves_out_browser_java_wheels_and_kills_and_touches_every_module():
    items = _fast_items()
    files = {item.split("::")[0] for item in items}
    assert "tests/test_preview_browser.py" not in files
    assert "tests/test_conformance.py" not in files
    sources: dict[str, dict[str, str]] = {}
    for item in items:
        file, name = item.split("::")[0], item.split("::")[-1].split("[")[0]
        if file not in sources:
            sources[file] = _functions(ROOT / file)
        source = sources[file][name]
        found = [word for word in NOT_FAST if word in source]
        assert not found, f"{item} is in make test-fast but uses {found}: mark it"
    # Every module of livret is named by a test of the fast tier (or used by one that is).
    named: set[str] = set()
    for file in files:
        named |= _livret_imports(ROOT / file)
    modules = {
        ".".join(p.relative_to(ROOT).with_suffix("").parts).removesuffix(".__init__")
        for p in (ROOT / "livret").rglob("*.py")
        if p.name != "__main__.py"
    }
    missing = {m for m in modules - named if THROUGH.get(m) not in named}
    assert not missing, f"no test of make test-fast touches {sorted(missing)}"


def test_without_java_conformance_says_what_to_install(monkeypatch, tmp_path):
    """A newcomer's machine without Java: `make conformance` (and the veraPDF tests) name the
    packages to install instead of failing somewhere in Java."""
    from livret import conformance

    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    why = conformance.unavailable()
    assert why is not None and "default-jre-headless" in why


def test_python_m_livret_conformance_without_java_says_so(monkeypatch, tmp_path, capsys):
    """`python -m livret.conformance FILE` (make conformance's command) on a machine without
    Java: exit code 2 and what to install, not a traceback."""
    import runpy

    (tmp_path / "bin").mkdir()
    monkeypatch.setenv("PATH", str(tmp_path / "bin"))
    monkeypatch.setattr(sys, "argv", ["python -m livret.conformance", str(tmp_path / "a.pdf")])
    with pytest.raises(SystemExit) as done:
        runpy.run_module("livret.conformance", run_name="__main__")
    assert done.value.code == 2
    assert "default-jre-headless" in capsys.readouterr().out


@pytest.mark.slow  # a pytest session of its own
def test_xdist_keeps_each_group_on_one_worker(tmp_path):
    """make test and test-fast share the session builds and the module fixtures through
    pytest-xdist's groups (--dist loadgroup, set by tests/conftest.py's hook): a pytest that
    silently drops them (pytest 9.2 with pytest-xdist 3.8, pytest-dev/pytest-xdist#1386)
    builds the edition again on each worker."""
    (tmp_path / "conftest.py").write_text(
        "import pytest\n\n\n@pytest.hookimpl(tryfirst=True)\n"
        "def pytest_collection_modifyitems(items):\n"
        "    for item in items:\n"
        "        item.add_marker(pytest.mark.xdist_group(item.path.stem))\n"
    )
    for name in ("a", "b"):
        (tmp_path / f"test_{name}.py").write_text(
            "import os\nimport pytest\n\n\n@pytest.mark.parametrize('n', range(10))\n"
            "def test_one(n):\n"
            "    with open(os.environ['WHERE'], 'a') as f:\n"
            f"        f.write('{name} ' + os.environ['PYTEST_XDIST_WORKER'] + '\\n')\n"
        )
    where = tmp_path / "where.txt"
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "2", "--dist", "loadgroup"]
        + ["-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path,
        env={**os.environ, "WHERE": str(where)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    ran: dict[str, set[str]] = {}
    for line in where.read_text().splitlines():
        name, worker = line.split()
        ran.setdefault(name, set()).add(worker)
    assert sorted(ran) == ["a", "b"]
    assert all(len(workers) == 1 for workers in ran.values()), ran
