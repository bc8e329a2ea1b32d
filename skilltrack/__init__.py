"""skilltrack: know how Claude Code's skills, subagents, commands and tools are really used."""

from __future__ import annotations

__version__ = "0.1.0"
