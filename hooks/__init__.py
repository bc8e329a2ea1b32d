"""The hook's files, installed as `skilltrack.hook` so that an installed skilltrack can name
their absolute path (the installer's `hook_script()`).

Nothing imports this package to run the hook: Claude Code runs `skilltrack_hook.py` as a
script (`python3 -I -S .../skilltrack_hook.py`), which finds its sibling by its own folder.
A regular package, not a namespace one, because setuptools' editable install (`pip install
-e .`) finds a package mapped to another folder only by its `__init__.py`.
"""
