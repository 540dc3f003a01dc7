"""Answer types: what a question asks for, and whether a sentence can answer it."""
import pytest

from qa.answering import answer_type as at


@pytest.mark.parametrize("question, kind", [
    ("赫章县共创建达标党支部多少个？", at.NUMBER),
    ("县直部门选派了多大比例的人员？", at.NUMBER),
    ("How many small water cellars were upgraded?", at.NUMBER),
    ("李绍山是哪一年牺牲的？", at.YEAR),
    ("Since which year has Hezhang been renovating houses?", at.YEAR),
    ("赫章县县长是谁？", at.PERSON),
    ("那个年轻人叫什么？", at.PERSON),
    ("Who is the reporter?", at.PERSON),
    ("赫章县在城区推行的社区积分管理模式叫什么？", at.ANY),
    ("王朝荣获得了哪些光荣称号？", at.ANY),
])
def test_the_kind_of_answer_a_question_asks_for(question, kind):
    assert at.expect(question).kind == kind


def test_a_figure_answers_how_many_but_the_questions_own_figure_does_not():
    exp = at.expect("2014年赫章县的贫困发生率是多少？")
    assert exp.literals == ("2014",)
    assert at.holds(exp, "贫困发生率从十二五末的27.19%下降至0")
    assert not at.holds(exp, "2014年，赫章县开始精准扶贫。")  # only the year the question gave
    assert not at.holds(exp, "县外在上海市设立绿色农产品专柜。")
    assert at.holds(at.expect("当地花了多少年才脱贫？"), "八年来，赫章县坚持脱贫攻坚。")  # Chinese numeral


def test_a_year_question_needs_a_year():
    exp = at.expect("李绍山是哪一年牺牲的？")
    assert not at.holds(exp, "牺牲在脱贫攻坚一线的白果街道月亮洞村原第一书记李绍山被省委追授为“全省优秀共产党员”。")
    assert at.holds(exp, "自2009年启动农村危房改造以来")


def test_a_who_question_needs_a_name():
    exp = at.expect("海雀村现任村委会主任是谁？")
    assert at.holds(exp, "海雀村党支部书记文正友说。")
    assert not at.holds(exp, "全面推行村党支部书记、村委会主任、村集体股份经济合作社董事长三个职务“一肩挑”。")


def test_figures_the_question_names_must_be_in_the_context():
    exp = at.expect("2020年赫章县种植了多少亩马铃薯？")
    assert at.names_literals(exp, "仅2020年，全县种植马铃薯65万亩")
    assert not at.names_literals(exp, "全县种植马铃薯65万亩")


def test_focus_noun():
    exp = at.expect("海雀村隶属于赫章县哪个乡？")
    assert exp.focus == "乡"
    assert at.mentions_focus(exp, "河镇乡海雀村被联合国教科文组织认为是不适宜人类居住的地方。")
    assert not at.mentions_focus(exp, "从曾经的“苦甲天下”到如今的林茂粮丰。")


@pytest.mark.parametrize("question, measures", [
    ("县里的农产品一共卖了多少钱？", ("元",)),
    ("为了看护农村供水设施，县里雇了多少人？", ("人", "名")),
    ("2020年赫章县种植了多少亩马铃薯？", ("亩",)),
    ("Among the relocated labour force, how many people have found jobs?", ("人", "名")),
    ("从大山里迁出来的劳动力中，有工作的人占多大比例？", ()),
])
def test_the_measure_a_figure_is_asked_in(question, measures):
    assert at.expect(question).measures == measures


def test_a_figure_in_another_measure_does_not_answer():
    exp = at.expect("县里的农产品一共卖了多少钱？")
    assert at.holds(exp, "累计销售农产品13万吨，销售额16亿元。")
    assert not at.holds(exp, "成立7个农产品销售工作专班，分块负责全县农产品销售工作。")
    people = at.expect("县里雇了多少人看护供水设施？")
    assert at.holds(people, "聘请412名农村供水工程管护员")  # people are counted in 名 too
    assert not at.holds(people, "全县233个饮水项目全面完工通水，提升改造小水窖1110口。")
