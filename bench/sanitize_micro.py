"""The sanitizer's cost per event, on realistic hook event JSON.

    .venv/bin/python bench/sanitize_micro.py [--runs N]

Prints p50 and p99 in µs per call (each sample is the mean of 10 calls: in a VM, reading the
clock costs 0.1-0.3 µs, too much beside a single call) of `redact_secrets` and of the daemon's whole
`sanitize` (home and project mode) for: events without a secret (of which "needles" holds words
that make rules run: `token`, a URL, `secret`), and events with secrets; two of each are 2 KB
(the size the sanitizer's figure is quoted at): a Bash event with ordinary output, and one with
what `aws sts assume-role` prints (a key id, a secret key and a session token).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
HOME = "/home/ann"
CWD = "/home/ann/proj"

_CODE = '''\
from __future__ import annotations

import logging
from dataclasses import dataclass

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Window:
    """A run of lines from one file, with where it starts."""

    path: str
    start: int
    lines: tuple[str, ...]

    def end(self) -> int:
        return self.start + len(self.lines)


def windows(path: str, text: str, size: int = 40) -> list[Window]:
    """`text` cut into windows of `size` lines, the last one shorter."""
    lines = tuple(text.splitlines())
    found = [Window(path, i, lines[i : i + size]) for i in range(0, len(lines), size)]
    log.debug("%s: %d windows", path, len(found))
    return found
'''

_NEEDLES = '''\
import httpx

API = "https://api.example.com/v1"


def fetch(client: httpx.Client, token: str) -> dict[str, object]:
    """GET the account with a bearer token read from the secret store."""
    headers = {"Authorization": f"Bearer {token}"}
    response = client.get(f"{API}/account", headers=headers, timeout=10)
    response.raise_for_status()
    return response.json()  # see https://docs.example.com/account for the fields
'''

_DIRTY = (
    "export OPENAI_API_KEY=sk-proj-4fR9tYqW2xZ7uI1oP3aS5dF8gH0jK6lL\n"
    "psql postgres://app:S3cr3tPa55@db.internal:5432/prod -c 'select 1'\n"
    "password=Tr0ub4dor3 ./deploy.sh --token ghp_0123456789abcdefghijABCDEFGHIJ012345\n"
)


_SESSION_TOKEN = (  # made up, in the shape of a real one
    "IQoJb3JpZ2luX2VjEJr//////////wEaCXVzLWVhc3QtMSJHMEUCIQDfakeFAKEfake0123456789"
    "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ+/0123456789fakeSessionTokenBodyForTests=="
)
_ASSUME_ROLE = f"""{{
    "Credentials": {{
        "AccessKeyId": "ASIAY34FZKBOKMUTVV7A",
        "SecretAccessKey": "Zq8+Wm3/Yk7nRt2LpX9vBc4dHj6sFg1aTe5uKo0i",
        "SessionToken": "{_SESSION_TOKEN}",
        "Expiration": "2026-11-22T15:04:05+00:00"
    }},
    "AssumedRoleUser": {{
        "AssumedRoleId": "AROA3XFRBF535PLBIFPI4:ci",
        "Arn": "arn:aws:sts::123456789012:assumed-role/deploy/ci"
    }}
}}
"""

_LS = "".join(
    f"-rw-r--r--  1 ann  staff  {1000 + 37 * i:5d} Nov 22 14:0{i % 10} module_{i:02d}.py\n"
    for i in range(40)
)


def _sized(event: str, size: int = 2048) -> str:
    """`event` with its empty stderr padded with spaces so that its UTF-8 length is `size`."""
    short = size - len(event.encode())
    assert short >= 0, "event over size"
    return event.replace('"stderr": ""', '"stderr": "' + " " * short + '"', 1)


def _event(tool: str, tool_input: dict[str, Any], response: Any) -> str:
    event = {
        "session_id": "8350fdb2-23dd-490c-a332-ff6a54b6b4af",
        "transcript_path": (
            "/home/ann/.claude/projects/-home-ann-proj/8350fdb2-23dd-490c-a332-ff6a54b6b4af.jsonl"
        ),
        "cwd": CWD,
        "prompt_id": "3037ca87-25fc-4c40-afe6-f2ebf5821d90",
        "permission_mode": "default",
        "effort": {"level": "medium"},
        "hook_event_name": "PostToolUse",
        "tool_name": tool,
        "tool_input": tool_input,
        "tool_response": response,
        "tool_use_id": "toolu_01ABCDEFGHIJKLMNOPQRSTUV",
        "duration_ms": 31,
    }
    return json.dumps(event, indent=2, ensure_ascii=False)


def payloads() -> dict[str, str]:
    from bench.payloads import post_tool_use

    read = {"file_path": "/home/ann/proj/src/windows.py"}
    return {
        "clean: Bash ls": post_tool_use().decode(),
        "clean: Read .py": _event("Read", read, {"type": "text", "file": {"content": _CODE}}),
        "clean: non-ASCII": _event(
            "Bash", {"command": "git log -3"}, {"stdout": _CODE.replace("windows", "fenêtres ✓")}
        ),
        "needles: Read .py": _event("Read", read, {"type": "text", "content": _NEEDLES}),
        "dirty: Bash": _event("Bash", {"command": _DIRTY}, {"stdout": _CODE, "stderr": ""}),
        "clean: 2 KB Bash ls -l": _sized(
            _event("Bash", {"command": "ls -l src/"}, {"stdout": _LS[:1200], "stderr": ""})
        ),
        "dirty: 2 KB aws sts": _sized(
            _event(
                "Bash",
                {"command": "aws sts assume-role --role-arn arn:aws:iam::123456789012:role/ci"},
                {"stdout": _ASSUME_ROLE, "stderr": ""},
            )
        ),
    }


def _percentiles(call: Callable[[], object], runs: int, batch: int = 10) -> tuple[float, float]:
    for _ in range(200):
        call()
    samples = []
    clock = time.perf_counter_ns
    for _ in range(runs // batch):
        start = clock()
        for _ in range(batch):
            call()
        samples.append((clock() - start) / batch)
    samples.sort()
    return samples[len(samples) // 2] / 1000, samples[len(samples) * 99 // 100] / 1000


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20000)
    args = parser.parse_args()
    from skilltrack.daemon.ingest.sanitize import redact_secrets, sanitizer

    home, project = sanitizer(HOME), sanitizer(HOME, "project")
    print(f"{'payload':24} {'bytes':>6}  {'redact_secrets':>15}  {'sanitize home':>15}  "
          f"{'sanitize project':>16}   (p50 / p99 µs)")  # fmt: skip
    for name, text in payloads().items():
        cells = [
            _percentiles(lambda: redact_secrets(text), args.runs),  # noqa: B023
            _percentiles(lambda: home(text, CWD), args.runs),  # noqa: B023
            _percentiles(lambda: project(text, CWD), args.runs),  # noqa: B023
        ]
        row = "  ".join(f"{p50:6.1f} / {p99:6.1f}" for p50, p99 in cells)
        print(f"{name:24} {len(text.encode()):6}  {row}")
    return 0


if __name__ == "__main__":
    # Run as a script, sys.path[0] is bench/ itself; `bench.payloads` needs the repository
    # root (appended, so that the installed skilltrack still wins over the source folder).
    sys.path.append(str(ROOT))
    raise SystemExit(main())
