"""The package layout, computed: each top-level folder below is one subpackage of `lifstp`, and every
package and data file inside it is found, so none can be left out of a wheel.

A subfolder with an `__init__.py` is a subpackage; any other subfolder of a package (for example
`sim/harness_cpp/`) is package data and ships whole. The project's metadata is in pyproject.toml.
"""

from pathlib import Path

from setuptools import find_packages, setup

#: import package -> the folder of the repository that holds it
PACKAGE_DIRS = {
    "lifstp": "host",
    "lifstp.golden_model": "golden_model",
    "lifstp.rtl": "rtl",
    "lifstp.sim": "sim",
    "lifstp.bench": "bench",
    "lifstp.boards": "boards",
}
#: files that are never package data
NOT_DATA = ("__pycache__", "*.py", "*.pyc", "*.egg-info")

ROOT = Path(__file__).resolve().parent


def _is_data(path: Path) -> bool:
    return not any(path.match(pattern) for pattern in NOT_DATA)


def _data_files(folder: Path) -> list[str]:
    """The non-Python files of the package in `folder` and of its non-package subfolders, relative to it."""
    found = []

    def walk(d: Path) -> None:
        for p in sorted(d.iterdir()):
            if not _is_data(p):
                continue
            if p.is_file():
                found.append(p.relative_to(folder).as_posix())
            elif p.is_dir() and not (p / "__init__.py").exists():
                walk(p)

    walk(folder)
    return found


def _layout() -> tuple[list[str], dict[str, list[str]]]:
    """Every package under PACKAGE_DIRS, and its data files."""
    packages, data = [], {}
    for package, folder in PACKAGE_DIRS.items():
        for sub in ["", *find_packages(str(ROOT / folder))]:
            name = f"{package}.{sub}" if sub else package
            packages.append(name)
            files = _data_files(ROOT / folder / sub.replace(".", "/"))
            if files:
                data[name] = files
    return packages, data


if __name__ == "__main__":  # as the build backend runs it; tests import PACKAGE_DIRS
    packages, package_data = _layout()
    setup(package_dir=PACKAGE_DIRS, packages=packages, package_data=package_data)
