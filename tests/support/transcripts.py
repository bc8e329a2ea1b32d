"""Transcripts in the shape Claude Code 2.1.328 writes them (claude-code-transcripts.md).

Request n gets the stand-in model's figures: input 1000+n, cache creation 2000+n, cache read
3000+n, output 100+n. `worked_example` writes the foreground run that document works through.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SESSION = "52fa3a3e-0000-4000-8000-000000000001"
PROMPT = "9c1d0c3e-0000-4000-8000-000000000002"
MODEL = "claude-opus-5-5"
AGENT_ID = "a84b15000f44d5a79"
SECRET = "sk-ant-api03-PLANTEDsecretPLANTEDsecretPLANTEDsecret0000"


def usage(n: int) -> dict[str, Any]:
    return {
        "input_tokens": 1000 + n,
        "cache_creation_input_tokens": 2000 + n,
        "cache_read_input_tokens": 3000 + n,
        "output_tokens": 100 + n,
        "cache_creation": {"ephemeral_1h_input_tokens": 0, "ephemeral_5m_input_tokens": 0},
        "output_tokens_details": {"thinking_tokens": 0},
        "service_tier": "standard",
    }


@dataclass
class Transcript:
    path: Path
    lines: list[dict[str, Any]] = field(default_factory=list)
    agent_id: str | None = None

    def user(self, text: str, prompt_id: str = PROMPT, **extra: Any) -> None:
        self.lines.append(
            {
                "type": "user",
                "promptId": prompt_id,
                "isSidechain": self.agent_id is not None,
                "message": {"role": "user", "content": text},
                "sessionId": SESSION,
                **extra,
            }
        )

    def result(self, call: str, text: str, prompt_id: str = PROMPT) -> None:
        content = [{"type": "tool_result", "tool_use_id": call, "content": text}]
        self.lines.append(
            {"type": "user", "promptId": prompt_id, "message": {"content": content},
             "toolUseResult": {"stdout": text}}
        )  # fmt: skip

    def request(
        self,
        n: int,
        *calls: tuple[str, str, dict[str, Any]],
        text: str | None = None,
        skill: str | None = None,
        model: str = MODEL,
        figures: dict[str, Any] | None = None,
    ) -> None:
        """Request n: one line per content block (a text block, then each tool call)."""
        blocks: list[dict[str, Any]] = []
        if text is not None:
            blocks.append({"type": "text", "text": text})
        blocks += [
            {"type": "tool_use", "id": i, "name": name, "input": inp} for i, name, inp in calls
        ]
        for index, block in enumerate(blocks or [{"type": "text", "text": "done"}]):
            line: dict[str, Any] = {
                "parentUuid": None,
                "isSidechain": self.agent_id is not None,
                "message": {
                    "id": f"msg_41885_{n:03d}",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [block],
                    "usage": figures if figures is not None else usage(n),
                },
                "apiBlockIndex": index,
                "requestId": f"req_41885_{n:03d}",
                "type": "assistant",
                "timestamp": f"2026-12-07T10:00:{n:02d}.000Z",
                "sessionId": SESSION,
                "version": "2.1.328",
            }
            if skill:
                line["attributionSkill"] = skill
            if self.agent_id:
                line["agentId"] = self.agent_id
                line["attributionAgent"] = "general-purpose"
            self.lines.append(line)

    def raw(self, entry: dict[str, Any]) -> None:
        self.lines.append(entry)

    def write(self) -> Path:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.path.write_text("".join(json.dumps(line) + "\n" for line in self.lines))
        return self.path


def project_dir(home: Path, cwd: str = "/home/ann/src/shop") -> Path:
    return home / ".claude" / "projects" / cwd.replace("/", "-")


def worked_example(home: Path) -> tuple[Transcript, Transcript]:
    """The foreground run: alpha-skill (toolu_…0001, issued by request 1) owns main requests
    2, 3, 7, 8, 9, 10; the subagent (toolu_…0003) owns 4, 5, 6, and inside it beta-skill
    (toolu_…0004, issued by 4) owns 5 and 6; request 1 is the session's own."""
    folder = project_dir(home)
    main = Transcript(folder / f"{SESSION}.jsonl")
    sub = Transcript(folder / SESSION / "subagents" / f"agent-{AGENT_ID}.jsonl", agent_id=AGENT_ID)
    main.user(f"use alpha-skill; my key is {SECRET}")
    main.request(1, ("toolu_41885_0001", "Skill", {"skill": "alpha-skill"}))
    main.result("toolu_41885_0001", "Launching skill: alpha-skill")
    main.user(f"Base directory for this skill\n# alpha-skill\n{SECRET}", isMeta=True,
              sourceToolUseID="toolu_41885_0001")  # fmt: skip
    main.request(
        2, ("toolu_41885_0002", "Bash", {"command": f"echo {SECRET}"}), skill="alpha-skill"
    )
    main.result("toolu_41885_0002", SECRET)
    main.request(3, ("toolu_41885_0003", "Agent", {"prompt": "help"}), skill="alpha-skill")
    sub.user("help")
    sub.request(4, ("toolu_41885_0004", "Skill", {"skill": "beta-skill"}), skill="alpha-skill")
    sub.result("toolu_41885_0004", "Launching skill: beta-skill")
    sub.request(5, ("toolu_41885_0005", "Bash", {"command": "ls"}), skill="alpha-skill")
    sub.result("toolu_41885_0005", "a b c")
    sub.request(6, text="all done", skill="alpha-skill")
    sub.raw({"type": "assistant", "requestId": "req_x", "isApiErrorMessage": True,
             "message": {"model": "<synthetic>", "content": [], "usage": usage(500)}})  # fmt: skip
    main.result("toolu_41885_0003", "all done")
    # Three parallel reads: three lines of one request.
    main.request(
        7,
        ("toolu_41885_0071", "Read", {"file_path": "/a"}),
        ("toolu_41885_0072", "Read", {"file_path": "/b"}),
        ("toolu_41885_0073", "Read", {"file_path": "/c"}),
        skill="alpha-skill",
    )
    for call in ("toolu_41885_0071", "toolu_41885_0072", "toolu_41885_0073"):
        main.result(call, f"contents {SECRET}")
    main.request(
        8, ("toolu_41885_0008", "Skill", {"skill": "apps/web:deploy"}), skill="alpha-skill"
    )
    main.result("toolu_41885_0008", "Unknown skill: apps/web:deploy")
    main.request(9, ("toolu_41885_0009", "Bash", {"command": "true"}), skill="alpha-skill")
    main.result("toolu_41885_0009", "")
    main.request(10, text="finished", skill="alpha-skill")
    main.raw(
        {
            "type": "cost-state",
            "totalCostUSD": 0.167606,
            "modelUsage": {
                MODEL: {
                    "inputTokens": 10055,
                    "outputTokens": 1055,
                    "cacheReadInputTokens": 30055,
                    "cacheCreationInputTokens": 20055,
                }
            },
        }
    )
    main.write()
    sub.write()
    return main, sub
