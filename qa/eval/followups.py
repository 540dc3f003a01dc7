"""`python -m qa eval --followups FILE`: follow-up questions, answered with and without the conversation.

Each line of FILE is a conversation: {"id", "turns": [{"question", "answer", "followup"}]}; `answer` is
a string the right quote holds (null: the documents do not say), `followup` whether the turn leans
on the ones before. Every turn is asked twice — with the earlier turns as history (what the chat
does) and alone — and the report counts right quotes on follow-up turns both ways, and standalone
turns that history changed (it must not).
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path


@dataclass(frozen=True)
class FollowTurn:
    question: str
    answer: str | None
    followup: bool


def load(path: Path) -> list[tuple[str, list[FollowTurn]]]:
    """(conversation id, turns) per line; ValueError naming file and line when a line is not one."""
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


@dataclass(frozen=True)
class TurnResult:
    """One turn asked with the conversation before it, and alone."""

    conversation: str
    turn: int
    question: str
    followup: bool
    understood_as: str  # the question completed from the conversation ("" when taken as it is)
    quote: str
    score: float
    hit: bool  # right quote with the history
    hit_alone: bool  # right quote asked alone
    same_as_alone: bool  # the same quote and confidence as the question asked alone

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class FollowupReport:
    """The counts README quotes, and every turn."""

    followup_turns: int
    hit_with_history: int
    hit_alone: int
    completed: int  # follow-up turns completed from the conversation
    standalone_turns: int  # later turns that do not lean on the ones before
    standalone_disturbed: int  # of those, the ones history changed (it must not)
    standalone_answer_changed: int  # of those, the ones whose answer differs from the question asked alone
    turns: tuple[TurnResult, ...]

    def to_dict(self) -> dict:
        return {**{k: v for k, v in asdict(self).items() if k != "turns"}, "turns": [t.to_dict() for t in self.turns]}


def run(engine, path: Path) -> FollowupReport:
    """Ask every turn of every conversation in `path` of `engine`, with and without history."""
    results = []
    for cid, turns in load(path):
        history = []
        for i, t in enumerate(turns):
            with_history = engine.candidate(t.question, history=history)
            alone = engine.candidate(t.question)

            def right(a):
                return bool(t.answer) and a.found and t.answer in a.quote

            results.append(TurnResult(cid, i, t.question, t.followup, with_history.understood_as, with_history.quote,
                                      with_history.score, right(with_history), right(alone),
                                      (with_history.quote, with_history.score) == (alone.quote, alone.score)))
            shown = engine.answer(t.question, history=history)
            history.append({"question": t.question, "quote": shown.quote})
    follow = [r for r in results if r.followup]
    standalone = [r for r in results if not r.followup and r.turn > 0]
    return FollowupReport(
        followup_turns=len(follow),
        hit_with_history=sum(r.hit for r in follow),
        hit_alone=sum(r.hit_alone for r in follow),
        completed=sum(bool(r.understood_as) for r in follow),
        standalone_turns=len(standalone),
        standalone_disturbed=sum(bool(r.understood_as) for r in standalone),
        standalone_answer_changed=sum(not r.same_as_alone for r in standalone),
        turns=tuple(results),
    )


def render(report: FollowupReport) -> str:
    """The counts, then one line per turn: ✓/✗, the question, what it was understood as, the quote."""
    lines = [f"follow-up turns: {report.followup_turns}; right quote with history {report.hit_with_history}, "
             f"asked alone {report.hit_alone}; completed from context {report.completed}",
             f"standalone later turns: {report.standalone_turns}; changed by history "
             f"{report.standalone_disturbed}; answer different from the question asked alone "
             f"{report.standalone_answer_changed}"]
    for r in report.turns:
        mark = "✓" if r.hit else "✗"
        understood = f" → {r.understood_as}" if r.understood_as else ""
        lines.append(f"  {r.conversation}.{r.turn} {mark} {r.question}{understood} | {r.quote[:40]}")
    return "\n".join(lines)
