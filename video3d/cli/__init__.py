"""Command-line entry points: the one place in the package that parses argv.

Each module here holds one tool's ``main(argv=None) -> int``, built on ``video3d.cli.base``;
``tools/X.py`` are few-line shims over them and ``[project.scripts]`` in pyproject.toml
installs them as console scripts (``video3d-train``, ``video3d-predict``, ...). The pattern
for a new tool is in docs/CLI.md.
"""
