"""A stdio MCP server with one tool, `echo`, for Claude Code to list and call in the e2e test.

JSON-RPC 2.0, one message per line on stdin and stdout; standard library only, so it runs under
any Python without the project's environment.
"""

from __future__ import annotations

import json
import sys
from typing import Any

PROTOCOL_VERSION = "2025-06-18"

ECHO_TOOL = {
    "name": "echo",
    "description": "Return the given text unchanged.",
    "inputSchema": {
        "type": "object",
        "properties": {"text": {"type": "string"}},
        "required": ["text"],
    },
}


def result_of(method: str, params: dict[str, Any]) -> dict[str, Any] | None:
    """The result for a request, or None for a method this server does not have."""
    if method == "initialize":
        return {
            # Agreeing to the client's version keeps us compatible with whatever it speaks.
            "protocolVersion": params.get("protocolVersion", PROTOCOL_VERSION),
            "capabilities": {"tools": {}},
            "serverInfo": {"name": "echo", "version": "1.0.0"},
        }
    if method == "ping":
        return {}
    if method == "tools/list":
        return {"tools": [ECHO_TOOL]}
    if method == "tools/call" and params.get("name") == "echo":
        text = str((params.get("arguments") or {}).get("text", ""))
        return {"content": [{"type": "text", "text": text}], "isError": False}
    return None


def main() -> None:
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if not isinstance(message, dict) or "id" not in message or "method" not in message:
            continue  # a notification (initialized, cancelled, …) or a reply: nothing to answer
        params = message.get("params")
        result = result_of(str(message.get("method")), params if isinstance(params, dict) else {})
        reply: dict[str, Any] = {"jsonrpc": "2.0", "id": message["id"]}
        if result is None:
            reply["error"] = {"code": -32601, "message": f"no method {message.get('method')}"}
        else:
            reply["result"] = result
        sys.stdout.write(json.dumps(reply) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
