"""Errors that the commands and the daemon turn into one-line messages at their boundary.

Apart from the modules that raise them, so that catching one costs no import: a command's
start-up is part of every report a user asks for, and `config` brings in pydantic.
"""

from __future__ import annotations


class ConfigError(Exception):
    """The configuration file is unusable; the message is one line that says why."""


class StartupError(Exception):
    """The daemon cannot start; the message says why in one line."""


class ControlError(Exception):
    """The daemon could not be started or stopped; the message says why in one line."""
