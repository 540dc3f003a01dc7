"""`python -m qa eval --followups FILE`: follow-up questions, answered with and without the conversation.

Each line of FILE is a conversation: {"id", "turns": [{"question", "answer", "followup"}]}; `answer` is
a string the right quote holds (null: the documents do not say), `followup` whether the turn leans
on the ones before. Every turn is asked twice — with the earlier turns as history (what the chat
does) and alone — and the report counts right quotes on follow-up turns both ways, and standalone
turns that history changed (it must not).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class FollowTurn:
    question: str
    answer: str | None
    followup: bool


def load(path: Path) -> list[tuple[str, list[FollowTurn]]]:
    conversations = []
    for n, line in enumerate(Path(path).read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
            turns = [FollowTurn(t["question"], t.get("answer"), bool(t.get("followup", False))) for t in obj["turns"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"{path}:{n}: not a conversation ({exc})") from None
        conversations.append((str(obj.get("id", n)), turns))
    return conversations


def run(engine, path: Path) -> dict:
    """Per-turn records and the summary counts."""
    records = []
    for cid, turns in load(path):
        history = []
        for i, t in enumerate(turns):
            with_history = engine.candidate(t.question, history=history)
            alone = engine.candidate(t.question)

            def right(a):
                return bool(t.answer) and a.found and t.answer in a.quote

            records.append({"conversation": cid, "turn": i, "question": t.question, "followup": t.followup,
                            "understood_as": with_history.understood_as, "quote": with_history.quote,
                            "score": with_history.score, "hit": right(with_history), "hit_alone": right(alone)})
            shown = engine.answer(t.question, history=history)
            history.append({"question": t.question, "quote": shown.quote})
    follow = [r for r in records if r["followup"]]
    standalone = [r for r in records if not r["followup"] and r["turn"] > 0]
    return {
        "followup_turns": len(follow),
        "hit_with_history": sum(r["hit"] for r in follow),
        "hit_alone": sum(r["hit_alone"] for r in follow),
        "completed": sum(bool(r["understood_as"]) for r in follow),
        "standalone_turns": len(standalone),
        "standalone_disturbed": sum(bool(r["understood_as"]) for r in standalone),
        "turns": records,
    }


def render(report: dict) -> str:
    lines = [f"follow-up turns: {report['followup_turns']}; right quote with history {report['hit_with_history']}, "
             f"asked alone {report['hit_alone']}; completed from context {report['completed']}",
             f"standalone later turns: {report['standalone_turns']}; changed by history "
             f"{report['standalone_disturbed']}"]
    for r in report["turns"]:
        mark = "✓" if r["hit"] else "✗"
        understood = f" → {r['understood_as']}" if r["understood_as"] else ""
        lines.append(f"  {r['conversation']}.{r['turn']} {mark} {r['question']}{understood} | {r['quote'][:40]}")
    return "\n".join(lines)
