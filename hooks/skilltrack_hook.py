"""skilltrack's Claude Code hook (run as `python3 -I -S skilltrack_hook.py`).

The work is in skilltrack_hook_core.py beside this file: Python compiles a script on every
run but caches an imported module's bytecode, which saves ~2 ms per tool call.
"""

import os
import sys

try:
    sys.path.insert(0, os.path.dirname(__file__))
    from skilltrack_hook_core import run
except BaseException:  # never fail a tool call
    os._exit(0)
if __name__ == "__main__":  # run by Claude Code; a tool that imports the package must not
    run()
