"""A script of benchmarks/ loaded as a module, for the tests of its parts."""

from __future__ import annotations

import importlib.util
import os
import sys
from types import ModuleType

BENCHMARKS = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "benchmarks")


def load_benchmark(name: str, register: bool = False) -> ModuleType:
    """benchmarks/`name`.py as module `name`; `register` also puts it in sys.modules (a process
    pool pickles the script's functions by module name): the caller removes it when done."""
    spec = importlib.util.spec_from_file_location(name, os.path.join(BENCHMARKS, f"{name}.py"))
    module = importlib.util.module_from_spec(spec)
    if register:
        sys.modules[name] = module
    spec.loader.exec_module(module)
    return module
