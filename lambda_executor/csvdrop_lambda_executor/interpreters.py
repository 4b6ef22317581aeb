"""Find a host interpreter for a Lambda runtime name (stdlib only, no LocalStack imports).

Order: env ``CSVDROP_LAMBDA_PYTHON_3_13`` (for python3.13), ``python3.13`` on PATH (verified by running
it: pyenv shims exist on PATH but fail unless that version is selected), ``~/.pyenv/versions/3.13*``,
``/usr/bin/python3.13``. The verified real executable is returned (never a pyenv shim or a venv's python).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

_RUNTIME_RE = re.compile(r"^python(3)\.(\d+)$")
# A venv's python (LocalStack's own venv is first on its PATH) would hand the function the venv's
# site-packages, so the probe reports the base interpreter behind a venv.
_PROBE = (
    "import sys; print('%d.%d' % sys.version_info[:2]); "
    "print(sys._base_executable if sys.prefix != sys.base_prefix else sys.executable)"
)


class InterpreterNotFound(Exception):
    """No usable interpreter for a runtime; the message says what to set."""


def env_var_for(runtime: str) -> str:
    """``python3.13`` -> ``CSVDROP_LAMBDA_PYTHON_3_13``."""
    match = _RUNTIME_RE.match(runtime or "")
    if not match:
        raise InterpreterNotFound(unsupported_runtime_message(runtime))
    return f"CSVDROP_LAMBDA_PYTHON_{match.group(1)}_{match.group(2)}"


def unsupported_runtime_message(runtime: str | None) -> str:
    return (
        f"Runtime {runtime!r} is not supported by the csvdrop-local Lambda executor: it runs Python "
        "runtimes (python3.x) of zip-packaged functions only."
    )


def probe(executable: str, version: str, timeout: float = 10.0) -> str | None:
    """Run ``executable`` and return its real ``sys.executable`` when it is Python ``version``, else None."""
    try:
        out = subprocess.run(
            [executable, "-c", _PROBE],
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    lines = out.stdout.split()
    if out.returncode != 0 or len(lines) < 2 or lines[0] != version:
        return None
    return lines[1]


def find_interpreter(
    runtime: str,
    *,
    environ: Mapping[str, str] | None = None,
    home: Path | None = None,
    which: Callable[[str], str | None] = shutil.which,
    run_probe: Callable[[str, str], str | None] = probe,
    system_dir: Path = Path("/usr/bin"),
) -> str:
    """Return the absolute path of a working interpreter for ``runtime`` or raise InterpreterNotFound."""
    environ = os.environ if environ is None else environ
    home = Path.home() if home is None else home
    var = env_var_for(runtime)
    version = runtime.removeprefix("python")
    override = environ.get(var, "").strip()
    if override:
        found = run_probe(override, version)
        if found:
            return found
        raise InterpreterNotFound(
            f"{var}={override!r} is not a working Python {version} interpreter (needed for Lambda runtime {runtime})."
        )
    tried = []
    candidates: list[str] = []
    on_path = which(runtime)
    if on_path:
        candidates.append(on_path)
    candidates += [
        str(p / "bin" / runtime)
        for p in sorted((home / ".pyenv" / "versions").glob(f"{version}*"), key=_version_key, reverse=True)
        if re.fullmatch(rf"{re.escape(version)}(\.\d+)?", p.name)
    ]
    candidates.append(str(system_dir / runtime))
    for candidate in candidates:
        tried.append(candidate)
        found = run_probe(candidate, version)
        if found:
            return found
    raise InterpreterNotFound(
        f"No Python {version} interpreter found on this host for Lambda runtime {runtime}. "
        f"Set {var} to a python{version} executable in LocalStack's environment "
        f"(tried: {', '.join(tried)})."
    )


def _version_key(path: Path) -> tuple[int, ...]:
    return tuple(int(part) for part in re.findall(r"\d+", path.name))
