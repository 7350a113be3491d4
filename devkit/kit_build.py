"""The development kit's build backend (PEP 517): a pure-Python wheel from `flatfile_relay_devkit/`, with the
standard library only, so `pip install` works offline and needs no build tool from the package index.

pyproject.toml names it (`build-backend = "kit_build"`, `backend-path = ["."]`); pip calls the hooks below.
The wheel holds the package's `.py` files and the metadata of pyproject.toml's `[project]` table. An editable
install (`pip install -e devkit`) adds a `.pth` file that puts this folder on `sys.path`.
"""

from __future__ import annotations

import base64
import hashlib
import io
import tarfile
import tomllib
import zipfile
from pathlib import Path
from typing import Any

__all__ = ["build_editable", "build_sdist", "build_wheel", "get_requires_for_build_editable",
           "get_requires_for_build_sdist", "get_requires_for_build_wheel", "prepare_metadata_for_build_editable",
           "prepare_metadata_for_build_wheel"]

ROOT = Path(__file__).resolve().parent
PACKAGE = "flatfile_relay_devkit"


def _project() -> dict[str, Any]:
    project: dict[str, Any] = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    return project


def _dist_name() -> str:
    project = _project()
    return f"{project['name'].replace('-', '_')}-{project['version']}"


def _metadata() -> str:
    project = _project()
    lines = ["Metadata-Version: 2.1", f"Name: {project['name']}", f"Version: {project['version']}",
             f"Summary: {project.get('description', '')}", f"Requires-Python: {project.get('requires-python', '')}"]
    if "license" in project:
        lines.append(f"License: {project['license'].get('text', '')}")
    lines.extend(f"Requires-Dist: {requirement}" for requirement in project.get("dependencies", []))
    for extra, requirements in project.get("optional-dependencies", {}).items():
        lines.append(f"Provides-Extra: {extra}")
        lines.extend(f'Requires-Dist: {requirement}; extra == "{extra}"' for requirement in requirements)
    return "\n".join(lines) + "\n"


_WHEEL = "Wheel-Version: 1.0\nGenerator: kit_build\nRoot-Is-Purelib: true\nTag: py3-none-any\n"


def _sources() -> list[Path]:
    return sorted(path for path in (ROOT / PACKAGE).rglob("*.py") if "__pycache__" not in path.parts)


def _write_wheel(directory: str, files: dict[str, bytes]) -> str:
    info = f"{_dist_name()}.dist-info"
    files = {**files, f"{info}/METADATA": _metadata().encode(), f"{info}/WHEEL": _WHEEL.encode()}
    record = [f"{name},sha256={_digest(data)},{len(data)}" for name, data in files.items()]
    files[f"{info}/RECORD"] = ("\n".join([*record, f"{info}/RECORD,,"]) + "\n").encode()
    name = f"{_dist_name()}-py3-none-any.whl"
    with zipfile.ZipFile(Path(directory) / name, "w", zipfile.ZIP_DEFLATED) as wheel:
        for path, data in files.items():
            wheel.writestr(zipfile.ZipInfo(path, date_time=(2020, 1, 1, 0, 0, 0)), data)
    return name


def _digest(data: bytes) -> str:
    return base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()


def _prepare(directory: str) -> str:
    info = Path(directory) / f"{_dist_name()}.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text(_metadata(), encoding="utf-8")
    (info / "WHEEL").write_text(_WHEEL, encoding="utf-8")
    return info.name


def get_requires_for_build_wheel(config_settings: Any = None) -> list[str]:
    return []


def get_requires_for_build_sdist(config_settings: Any = None) -> list[str]:
    return []


def get_requires_for_build_editable(config_settings: Any = None) -> list[str]:
    return []


def prepare_metadata_for_build_wheel(metadata_directory: str, config_settings: Any = None) -> str:
    return _prepare(metadata_directory)


def prepare_metadata_for_build_editable(metadata_directory: str, config_settings: Any = None) -> str:
    return _prepare(metadata_directory)


def build_wheel(wheel_directory: str, config_settings: Any = None, metadata_directory: str | None = None) -> str:
    return _write_wheel(wheel_directory, {path.relative_to(ROOT).as_posix(): path.read_bytes() for path in _sources()})


def build_editable(wheel_directory: str, config_settings: Any = None, metadata_directory: str | None = None) -> str:
    return _write_wheel(wheel_directory, {f"{PACKAGE}.pth": f"{ROOT}\n".encode()})


def build_sdist(sdist_directory: str, config_settings: Any = None) -> str:
    name = f"{_dist_name()}.tar.gz"
    with tarfile.open(Path(sdist_directory) / name, "w:gz") as sdist:
        for path in [ROOT / "pyproject.toml", ROOT / "kit_build.py", *_sources()]:
            sdist.add(path, arcname=f"{_dist_name()}/{path.relative_to(ROOT).as_posix()}")
        info = _metadata().encode()
        member = tarfile.TarInfo(f"{_dist_name()}/PKG-INFO")
        member.size = len(info)
        sdist.addfile(member, io.BytesIO(info))
    return name
