"""SQuAD-format files: typed records, traditional → simplified with valid offsets, clear errors."""
import json

import pytest

from qa.training import squad

TINY = "tests/data/tiny_squad.json"


def test_answers_are_slices_of_the_simplified_context():
    paragraphs = squad.load(TINY)
    assert [len(p.questions) for p in paragraphs] == [3, 2]
    for p in paragraphs:
        for q in p.questions:
            for a in q.answers:
                assert p.context[a.start:a.end] == a.text
    bridge = paragraphs[1]
    assert bridge.context.startswith("这座大桥")  # 這座大橋 converted
    assert bridge.questions[1].answers[0].text == "十分钟"


def test_paragraph_split_is_stable_and_seeded():
    p = squad.load(TINY)[0]
    assert p.split(0.5, "a") == p.split(0.5, "a")
    assert p.split(0.0, "a") is False and p.split(1.0, "a") is True


@pytest.mark.parametrize("content, problem", [
    ("not json", "not UTF-8 JSON"),
    ('{"version": 1}', "'data' list"),
    ('{"data": [{"title": "x"}]}', "data[0] has no 'paragraphs'"),
    ('{"data": [{"paragraphs": [{"qas": []}]}]}', "data[0].paragraphs[0] has no 'context'"),
    ('{"data": [{"paragraphs": [{"context": "文", "qas": [{"id": "1"}]}]}]}', "qas[0] has no 'question'"),
    ('{"data": [{"paragraphs": [{"context": "文", "qas": [{"question": "问", "answers": [{"x": 1}]}]}]}]}',
     "answer without 'text'"),
    ('{"data": []}', "no paragraphs"),
])
def test_a_malformed_file_gives_an_error_naming_the_problem(tmp_path, content, problem):
    f = tmp_path / "bad.json"
    f.write_text(content, encoding="utf-8")
    with pytest.raises(squad.SquadFormatError) as err:
        squad.load(f)
    assert problem in str(err.value) and "bad.json" in str(err.value)


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(squad.SquadFormatError, match="no such file"):
        squad.load(tmp_path / "missing.json")


def test_eval_squad_turns_paragraphs_into_documents(tmp_path):
    from qa.eval.questions import squad_questions

    questions = squad_questions(TINY, 0.0, tmp_path)
    assert len(questions) == 5 and all(q.answerable for q in questions)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["p00000.txt", "p00001.txt"]
    assert {q.source for q in questions} == {"p00000.txt", "p00001.txt"}
    withheld = squad_questions(TINY, 1.0, tmp_path / "none" if (tmp_path / "none").mkdir() is None else None)
    assert all(not q.answerable and q.type == "unanswerable" for q in withheld)
