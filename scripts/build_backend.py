"""setuptools' build backend, minus the `build/` and `*.egg-info` it leaves in the source tree.

pip builds a local project in place, and setuptools writes its scratch folders beside the
source. A clone is also what Claude Code copies when it installs the plugin, so whatever
`pip install .` (or scripts/install) leaves there would be copied with it. A wheel or sdist
build here removes the scratch folders it created (never one that was there before it).
Editable installs keep theirs: strict editable mode's link tree lives in `build/`.
"""

from __future__ import annotations

import functools
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

from setuptools import build_meta
from setuptools.build_meta import (  # noqa: F401  (the editable hooks, unchanged)
    build_editable,
    get_requires_for_build_editable,
    prepare_metadata_for_build_editable,
)

SCRATCH = ("build", "skilltrack.egg-info")


def _tidy(hook: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(hook)
    def tidied(*args: Any, **kwargs: Any) -> Any:
        created = [Path(name) for name in SCRATCH if not Path(name).exists()]
        try:
            return hook(*args, **kwargs)
        finally:
            for path in created:
                shutil.rmtree(path, ignore_errors=True)

    return tidied


build_wheel = _tidy(build_meta.build_wheel)
build_sdist = _tidy(build_meta.build_sdist)
get_requires_for_build_wheel = _tidy(build_meta.get_requires_for_build_wheel)
get_requires_for_build_sdist = _tidy(build_meta.get_requires_for_build_sdist)
prepare_metadata_for_build_wheel = _tidy(build_meta.prepare_metadata_for_build_wheel)
