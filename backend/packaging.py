"""The function's deployment artifacts: the code zip (``lambda/*.py``) and the dependency layer.

Both are the same for every target (LocalStack or AWS) and rebuilt only when their inputs change: each
zip's name carries the hash of its inputs, and zips are byte-for-byte reproducible (fixed timestamps).
The inputs are read through :mod:`backend.resources` (package data when installed); the zips are written under
``Settings.state_dir``, never beside the inputs.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

from backend import resources
from backend.config import Settings
from backend.errors import CsvDropError

# Lambda's python3.12/3.13 run on Amazon Linux 2023 (glibc 2.34): manylinux_2_28 wheels fit it and this host.
PLATFORM = "x86_64-manylinux_2_28"
_EPOCH = (1980, 1, 1, 0, 0, 0)


class PackagingError(CsvDropError, RuntimeError):
    pass


@dataclass(frozen=True)
class Artifact:
    path: Path
    sha256: str
    rebuilt: bool


def _digest(*parts: bytes) -> str:
    h = hashlib.sha256()
    for part in parts:
        h.update(hashlib.sha256(part).digest())
    return h.hexdigest()


def function_sources() -> list[Path]:
    return sorted(p for p in resources.function_source_dir().glob("*.py") if not p.name.startswith("test_"))


def _zip_entries() -> list[tuple[str, Path]]:
    """(name in the zip, file): the function's modules at the root, the CSV rules the desktop check uses too as
    the package ``csvtable/``."""
    entries = [(p.name, p) for p in function_sources()]
    entries += [(f"csvtable/{p.name}", p) for p in sorted(resources.csv_rules_dir().glob("*.py"))]
    return entries


def _write_zip(zip_path: Path, entries: list[tuple[str, Path]], level: int = 6) -> None:
    tmp = zip_path.with_suffix(".part")
    with zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=level) as zf:
        for name, path in entries:
            info = zipfile.ZipInfo(name, date_time=_EPOCH)
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, path.read_bytes(), compresslevel=level)
    tmp.replace(zip_path)


def build_dir(settings: Settings) -> Path:
    path = settings.state_dir / "build"
    path.mkdir(parents=True, exist_ok=True)
    return path


def build_function_zip(settings: Settings) -> Artifact:
    entries = _zip_entries()
    digest = _digest(*(name.encode() + b"\0" + p.read_bytes() for name, p in entries))[:16]
    target = build_dir(settings) / f"function-{digest}.zip"
    rebuilt = not target.exists()
    if rebuilt:
        _write_zip(target, entries)
    return Artifact(target, hashlib.sha256(target.read_bytes()).hexdigest(), rebuilt)


def _python_version(runtime: str) -> str:
    if not runtime.startswith("python"):
        raise PackagingError(f"runtime {runtime!r} is not a Python runtime")
    return runtime.removeprefix("python")


def _uv() -> str:
    local = Path(sys.executable).parent / "uv"
    found = str(local) if local.exists() else shutil.which("uv")
    if not found:
        raise PackagingError("uv is needed to build the dependency layer; install it with `pip install uv`")
    return found


def build_layer_zip(settings: Settings) -> Artifact:
    """Wheels for the runtime's Python and Linux x86_64, under python/ as Lambda layers expect."""
    version = _python_version(settings.lambda_runtime)
    requirements = resources.function_requirements()
    digest = _digest(requirements.read_bytes(), version.encode(), PLATFORM.encode())[:16]
    target = build_dir(settings) / f"layer-{digest}.zip"
    if target.exists():
        return Artifact(target, hashlib.sha256(target.read_bytes()).hexdigest(), False)
    staging = build_dir(settings) / f"layer-{digest}"
    shutil.rmtree(staging, ignore_errors=True)
    site = staging / "python"
    cmd = [
        _uv(),
        "pip",
        "install",
        "--quiet",
        "--target",
        str(site),
        "--python-platform",
        PLATFORM,
        "--python-version",
        version,
        "--only-binary",
        ":all:",
        "--no-compile",
        "-r",
        str(requirements),
    ]
    result = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise PackagingError(f"Building the dependency layer failed:\n{(result.stderr or result.stdout)[-2000:]}")
    for junk in [*site.glob("bin"), *site.rglob("tests"), *site.rglob("__pycache__")]:
        shutil.rmtree(junk, ignore_errors=True)
    _precompile(site, version)
    files = sorted(p for p in staging.rglob("*") if p.is_file())
    _write_zip(target, [(str(p.relative_to(staging)), p) for p in files], level=1)
    shutil.rmtree(staging, ignore_errors=True)
    return Artifact(target, hashlib.sha256(target.read_bytes()).hexdigest(), True)


def _precompile(site: Path, version: str) -> None:
    """Byte-compile with the runtime's own Python version when we have it: a cold start then imports
    pandas in ~1 s instead of ~4 s (Lambda cannot write __pycache__ into /opt)."""
    if f"{sys.version_info.major}.{sys.version_info.minor}" != version:
        return
    env = {**os.environ, "SOURCE_DATE_EPOCH": "315532800"}
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", "--invalidation-mode", "unchecked-hash", str(site)],
        capture_output=True,
        check=False,
        env=env,
    )
