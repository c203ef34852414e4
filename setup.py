"""Packaging glue that pyproject.toml cannot express on its own.

Alembic's scripts live at the repository root (``migrations/``) as the project layout asks,
and ship inside the package as ``oneclick_tui.migrations`` so that a plain ``pip install .``
can create and migrate the embedded database on first start.
"""

from setuptools import find_packages, setup

setup(
    packages=[
        *find_packages(include=["oneclick_tui", "oneclick_tui.*"]),
        "oneclick_tui.migrations",
        "oneclick_tui.migrations.versions",
    ],
    package_dir={"oneclick_tui.migrations": "migrations"},
)
