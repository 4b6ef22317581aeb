"""CSV Drop as a user installs it: the wheel built from this checkout, installed into a fresh virtual environment
outside the checkout and run from another folder, with nothing of the checkout on the path, drives the whole
pipeline (`csvdrop stack up`, `setup`, `upload --wait`, `list --json`, `stack down`). The function's source, the
LocalStack constraints, the executor plugin and the compose file must come from the wheel's package data, and
the app must write nothing into its own installation or the folder it runs in."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import pytest
from testsupport import free_port, isolated_settings, shared_localstack_venv

from backend.packaging import build_function_zip
from backend.stack.localstack import _inputs_digest

pytestmark = [pytest.mark.stack, pytest.mark.slow]

ROOT = Path(__file__).resolve().parents[2]
# Checkout paths shipped as package data, under backend/_bundled/ in the same layout (pyproject.toml).
BUNDLED = ("lambda", "lambda_executor", "stack", "docker-compose.yml")
PACKAGES = {"backend", "gui", "db_setup", "csvtable"}
CSV_TEXT = "id,name,city,amount\n1,Anna,Köln,12.5\n2,Ben,Graz,7\n3,Cleo,Lyon,3.25\n4,Dev,Oslo,10\n5,Eli,Rome,0.5\n"


def _uv() -> str:
    local = Path(sys.executable).parent / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    assert found, "uv is needed to build and install the wheel"
    return found


def _run(argv: list[str | Path], *, timeout: float, env: dict[str, str], cwd: Path) -> subprocess.CompletedProcess[str]:
    args = [str(a) for a in argv]
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout, check=False, env=env, cwd=cwd)
    assert done.returncode == 0, f"{' '.join(args)} exited {done.returncode}:\n{done.stdout}\n{done.stderr}"
    return done


def _checkout_bundle() -> set[str]:
    """What backend/_bundled/ must hold: the checkout's files of BUNDLED, without caches."""
    names: set[str] = set()
    for entry in BUNDLED:
        path = ROOT / entry
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            rel = file.relative_to(ROOT)
            if "__pycache__" in rel.parts or any(part.endswith(".egg-info") for part in rel.parts):
                continue
            names.add(f"backend/_bundled/{rel.as_posix()}")
    return names


def _tree(folder: Path) -> set[str]:
    """Files under folder, bytecode caches left out (an installer may compile, Python may cache)."""
    return {
        p.relative_to(folder).as_posix()
        for p in folder.rglob("*")
        if p.is_file() and "__pycache__" not in p.relative_to(folder).parts
    }


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.3)
        return s.connect_ex(("127.0.0.1", port)) == 0


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    argv: list[str | Path] = [_uv(), "build", "--quiet", "--wheel", "--python", sys.executable, "--out-dir", out, ROOT]
    _run(argv, timeout=300, env=env, cwd=out)
    (built,) = out.glob("csvdrop-*.whl")
    return built


def test_the_wheel_ships_the_bundled_files_and_no_tests(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
    assert {n for n in names if n.startswith("backend/_bundled/")} == _checkout_bundle()
    assert "backend/_bundled/lambda/handler.py" in names
    assert "backend/_bundled/lambda/requirements.txt" in names
    assert "backend/_bundled/stack/localstack-constraints.txt" in names
    assert "backend/_bundled/lambda_executor/pyproject.toml" in names
    assert "backend/_bundled/docker-compose.yml" in names
    migrations = {f"backend/store/migrations/{p.name}" for p in (ROOT / "backend/store/migrations").glob("*.sql")}
    assert migrations and migrations <= names
    tops = {n.split("/", 1)[0] for n in names}
    assert {t for t in tops if not t.endswith(".dist-info")} == PACKAGES
    for name in names:
        parts = name.split("/")
        assert not {"tests", "test", "__pycache__", "build", "dist"} & set(parts), name
        assert not parts[-1].startswith(("test_", "conftest")), name
        assert not name.endswith((".pyc", ".egg-info")), name


@pytest.mark.timeout(900)
def test_the_installed_app_runs_the_pipeline_from_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    assert not tmp_path.is_relative_to(ROOT)
    venv = tmp_path / "venv"
    python = venv / "bin" / "python"
    base_env = {**os.environ, "UV_PYTHON_DOWNLOADS": "never"}
    started = time.monotonic()
    _run([_uv(), "venv", "--quiet", "--python", sys.executable, venv], timeout=120, env=base_env, cwd=tmp_path)
    _run([_uv(), "pip", "install", "--quiet", "--python", python, wheel], timeout=600, env=base_env, cwd=tmp_path)
    print(f"venv + install: {time.monotonic() - started:.1f} s")

    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    state = tmp_path / "state"
    ls_port, my_port = free_port(), free_port()
    # The user's environment: no checkout on the path, no virtual environment of ours, own settings and ports.
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("CSVDROP_", "PYTHON", "VIRTUAL_ENV", "AWS_")) and k != "PATH"
    }
    path = [p for p in os.environ.get("PATH", "/usr/bin:/bin").split(os.pathsep) if not Path(p).is_relative_to(ROOT)]
    env.update(
        PATH=os.pathsep.join([str(venv / "bin"), *path]),
        CSVDROP_CONFIG=str(tmp_path / "config.toml"),
        CSVDROP_STATE_DIR=str(state),
        CSVDROP_LOCALSTACK_VENV=str(shared_localstack_venv()),
        CSVDROP_LOCALSTACK_PORT=str(ls_port),
        CSVDROP_AWS_ENDPOINT=f"http://127.0.0.1:{ls_port}",
        CSVDROP_MYSQL_PORT=str(my_port),
    )

    probe = (
        "import backend, backend.resources as r, backend.stack.localstack as ls; "
        "print(backend.__file__, r._root(), r.executor_package(), ls._inputs_digest())"
    )
    where = _run([python, "-c", probe], timeout=60, env=env, cwd=elsewhere).stdout.split()
    site = Path(where[0]).parent.parent
    assert site.is_relative_to(venv) and Path(where[1]) == site / "backend" / "_bundled", where
    # Same inputs as the checkout's, so the shared LocalStack venv's install stamp holds (no reinstall).
    assert where[3] == _inputs_digest()
    installed_before = _tree(site)

    # The executor plugin builds from its installed copy (inside a venv, whose .gitignore says `*`), as
    # `stack up` installs it into a new LocalStack venv.
    plugin = tmp_path / "plugin"
    _run(
        [_uv(), "build", "--quiet", "--wheel", "--python", python, "--out-dir", plugin, where[2]],
        timeout=120,
        env=env,
        cwd=elsewhere,
    )
    (plugin_wheel,) = plugin.glob("csvdrop_lambda_executor-*.whl")
    with zipfile.ZipFile(plugin_wheel) as zf:
        assert "csvdrop_lambda_executor/executor.py" in zf.namelist()
        entry_points = next(n for n in zf.namelist() if n.endswith("entry_points.txt"))
        assert "localstack.lambda.runtime_executor" in zf.read(entry_points).decode()

    sample = elsewhere / "people.csv"
    sample.write_text(CSV_TEXT, encoding="utf-8")
    csvdrop = venv / "bin" / "csvdrop"

    took: dict[str, float] = {}

    def cli(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
        started = time.monotonic()
        done = _run([csvdrop, *args], timeout=timeout, env=env, cwd=elsewhere)
        took[" ".join(a for a in args[:2] if a.isalpha())] = time.monotonic() - started
        return done

    try:
        cli("stack", "up")
        cli("setup")
        uploaded = cli("upload", str(sample), "--wait", timeout=240)
        assert "processed" in uploaded.stdout + uploaded.stderr
        listed = cli("list", "--json", timeout=60)
    finally:
        started = time.monotonic()
        down = subprocess.run(
            [str(csvdrop), "stack", "down"],
            check=False,
            capture_output=True,
            text=True,
            timeout=120,
            env=env,
            cwd=elsewhere,
        )
    took["stack down"] = time.monotonic() - started
    assert down.returncode == 0, down.stdout + down.stderr
    assert not _listening(ls_port) and not _listening(my_port), "stack down left a service answering"
    print("seconds per command:", {k: round(v, 1) for k, v in took.items()})  # shown with pytest -s

    records = [json.loads(line) for line in listed.stdout.splitlines() if line.strip()]
    (record,) = [r for r in records if r["file_name"] == "people.csv"]
    assert record["status"] == "PROCESSED", record
    assert (record["row_count"], record["column_count"]) == (5, 4)
    assert record["column_names"] == ["id", "name", "city", "amount"]

    # The function the installed app deployed is the checkout's, byte for byte (same name: same inputs' hash).
    (deployed,) = (state / "build").glob("function-*.zip")
    from_checkout = build_function_zip(isolated_settings(tmp_path / "checkout")).path
    assert deployed.name == from_checkout.name
    assert deployed.read_bytes() == from_checkout.read_bytes()

    # Nothing was written into the installation or the folder the commands ran in.
    assert _tree(site) == installed_before
    assert sorted(p.name for p in elsewhere.iterdir()) == ["people.csv"]
