"""The cross-lingual bridge: Chinese words of the corpus named by an English question."""
import pytest

from qa.text.crosslingual import Lexicon

CORPUS = [
    "今年7月考取西南林业大学的搬迁户娄刚领取圆梦助学奖励。",
    "赫章县乡村振兴局局长王永松说。",
    "提升改造小水窖1110口。",
]


@pytest.fixture(scope="module")
def lexicon():
    return Lexicon(CORPUS)


def test_names_are_found_by_their_pinyin(lexicon):
    b = lexicon.bridge("What position does Wang Yongsong hold in Hezhang?")
    assert "王永松" in b.terms and "赫章" in b.terms
    assert "Wang Yongsong" in b.matched


def test_words_are_found_by_their_dictionary_meaning(lexicon):
    b = lexicon.bridge("Which university was Lou Gang admitted to?")
    assert {"娄刚", "大学"} <= set(b.terms)
    assert "窖" in lexicon.bridge("How many water cellars were upgraded?").terms


def test_only_words_of_the_corpus_are_suggested(lexicon):
    assert lexicon.bridge("How many tons of potatoes were grown?").terms == ()  # 马铃薯 is not in the corpus
    assert lexicon.bridge("?!").query == ""
    for term in lexicon.bridge("Which university did the student of Hezhang attend?").terms:
        assert any(term in text for text in CORPUS)


def test_every_short_stretch_of_the_corpus_is_found_by_its_pinyin(lexicon):
    """Names are looked up through a per-character pinyin index: any 2-4 characters of a run, read in
    context, are found by their joined pinyin — and nothing longer or shorter."""
    from pypinyin import lazy_pinyin

    from qa.text.crosslingual import CJK_RUN

    for text in CORPUS:
        for run in CJK_RUN.findall(text):
            syllables = lazy_pinyin(run)
            for n in (2, 3, 4):
                for i in range(len(run) - n + 1):
                    assert run[i : i + n] in lexicon._named("".join(syllables[i : i + n]))
    assert all(2 <= len(t) <= 4 for t in lexicon._named("xinanlinyedaxue") | lexicon._named("xinanlinye"))
    assert lexicon._named("xinanlinye") == {"西南林业"} and lexicon._named("lou") == set()


def test_a_lexicon_built_in_a_child_process_bridges_the_same_and_falls_back_here(lexicon, monkeypatch, caplog):
    questions = ["What position does Wang Yongsong hold in Hezhang?", "Which university was Lou Gang admitted to?",
                 "How many water cellars were upgraded?"]
    child = Lexicon.in_child(CORPUS)
    assert [child.bridge(q) for q in questions] == [lexicon.bridge(q) for q in questions]
    monkeypatch.setattr("sys.executable", "/nonexistent/python")
    here = Lexicon.in_child(CORPUS)
    assert "child process failed" in caplog.text
    assert [here.bridge(q) for q in questions] == [lexicon.bridge(q) for q in questions]
