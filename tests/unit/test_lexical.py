"""Lexical signals: coverage with IDF among a set of sentences (eval/sentence_choice.py's diagnostic),
and matching a text in traditional characters like its simplified form."""
import numpy as np

from qa.index.lexical import BM25Index, local_coverage

QUESTION = "云雾镇的茶园有多少亩？"
SENTENCES = ["云雾镇位于山区北部，云雾镇的人口约两万。", "云雾镇的学校有十所。", "全镇茶园三千亩，年产干茶一百吨。"]


def test_the_subject_every_candidate_shares_weighs_less_than_the_words_only_the_answer_holds():
    local = local_coverage(QUESTION, SENTENCES)
    assert local.shape == (3,) and ((0 <= local) & (local <= 1)).all()
    assert int(np.argmax(local)) == 2
    # Corpus-wide IDF, where the town's name is rare, prefers a sentence that only names the town.
    corpus = BM25Index(SENTENCES + ["这座大桥全长八百米。", "茶叶合作社成立于2015年。", "茶园的采摘季从三月开始。"])
    assert corpus.coverage(QUESTION, SENTENCES[0]) > corpus.coverage(QUESTION, SENTENCES[2])


def test_no_words_or_no_sentences_give_zero_coverage():
    assert local_coverage("？？", SENTENCES).tolist() == [0.0, 0.0, 0.0]
    assert local_coverage(QUESTION, []).shape == (0,)


def test_a_text_in_traditional_characters_matches_like_its_simplified_form():
    traditional = "全縣今年新建茶園三萬畝，茶農人均收入增長百分之十二。"
    simplified = "全县今年新建茶园三万亩，茶农人均收入增长百分之十二。"
    corpus = BM25Index([traditional, "這座大橋全長八百米。"])
    for question in ("今年新建茶园多少亩？", "今年新建茶園多少畝？"):
        assert corpus.coverage(question, traditional) == corpus.coverage(question, simplified) > 0.6
        assert corpus.scores(question)[0] > 0 == corpus.scores(question)[1]
        assert local_coverage(question, [traditional])[0] == local_coverage(question, [simplified])[0] > 0.5
