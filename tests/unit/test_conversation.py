"""Follow-up questions are completed from the conversation; standalone ones are left alone."""
import numpy as np
import pytest

from qa.answering.conversation import FollowUps, Turn


def by_shared_meaning(pairs):
    """A stand-in for the embedding cosine: 1 for the listed (phrase, word) pairs, 0 otherwise."""
    def similarity(phrase, words):
        return np.array([1.0 if (phrase, w) in pairs else 0.0 for w in words])
    return similarity


FOLLOW = FollowUps(by_shared_meaning({("蔬菜", "马铃薯"), ("食用菌", "蔬菜"), ("母亲", "父亲"),
                                      ("vegetables", "potatoes")}))


def resolve(question, *turns):
    return FOLLOW.resolve(question, [Turn(*t) if isinstance(t, tuple) else Turn(t) for t in turns])


def test_an_ellipsis_takes_the_place_of_the_closest_word_of_the_previous_question():
    u = resolve("那蔬菜呢？", "2020年全县种了多少亩马铃薯？")
    assert u.completed and u.question == "2020年全县种了多少亩蔬菜？"


def test_a_chain_of_ellipses_completes_each_turn_in_order():
    u = resolve("食用菌呢？", "2020年全县种了多少亩马铃薯？", "那蔬菜呢？")
    assert u.question == "2020年全县种了多少亩食用菌？"


def test_a_time_replaces_the_time_of_the_previous_question():
    assert resolve("现在呢？", "海雀村1985年人均纯收入是多少？").question == "海雀村现在人均纯收入是多少？"


def test_a_pronoun_is_the_person_named_in_the_previous_quote():
    u = resolve("他在1906年发表了什么？", ("威廉·狄尔泰是哪国的哲学家？", "威廉·狄尔泰，德国哲学家。"))
    assert u.question == "威廉·狄尔泰在1906年发表了什么？"


def test_a_demonstrative_is_the_word_ending_in_its_noun():
    u = resolve("该村有多少户？", ("哪个村被认为不适宜人类居住？", "河镇乡海雀村被认为是不适宜人类居住的地方。"))
    assert u.question == "海雀村有多少户？"


def test_english_what_about():
    u = resolve("What about vegetables?", "How many mu of potatoes were planted in 2020?")
    assert u.question == "How many mu of vegetables were planted in 2020?"


@pytest.mark.parametrize("question", ["赫章县共创建达标党支部多少个？", "这篇报道的主标题是什么？",
                                      "Who wrote this report?"])
def test_a_standalone_question_is_not_changed(question):
    u = resolve(question, ("2020年全县种了多少亩马铃薯？", "全县种植马铃薯65万亩"))
    assert not u.completed and u.question == question


def test_no_history_no_change():
    assert resolve("那蔬菜呢？") .question == "那蔬菜呢？"


@pytest.mark.parametrize("bad", [{"q": "x"}, "just a string", {"question": 3}, {"question": "x", "quote": 5}])
def test_a_malformed_turn_gives_a_clear_message(bad):
    with pytest.raises(ValueError, match="history turn"):
        Turn.coerce(bad)
