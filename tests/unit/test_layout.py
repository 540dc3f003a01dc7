"""Layout roles of headline-like lines, and questions about the page."""
import pytest

from qa.text import layout

PAGE = "\n\n".join([
    "奋斗百年路 启航新征程",
    "携手战贫 千年梦圆\n毕节试验区打赢脱贫攻坚战分镜头",
    "赫章县是贵州省16个深度贫困县之一，也是全省2020年脱贫摘帽的最后9个深度贫困县之一。",
    "赫章县城金银山街道移民安置点",
    "八年攻坚 奋楫争先",
    "——赫章县打赢脱贫攻坚战盘点",
    "□ 本报记者 李学友",
    "大党建统领大扶贫",
    "党的十八大以来，赫章县坚持以大党建为统领，不断加强基层党组织建设。",
    "搬迁搬出新生活",
    "在金银山街道银山社区，草木葳蕤，屋舍俨然。",
    "赫章县松林坡乡香葱基地一角",
    "赫章县可乐乡村民养殖的可乐猪",
])


def test_roles_follow_the_page_layout():
    found = [(PAGE[s:e], role) for s, e, role in layout.roles(PAGE)]
    assert found == [
        ("奋斗百年路 启航新征程", "banner"),
        ("携手战贫 千年梦圆\n毕节试验区打赢脱贫攻坚战分镜头", "kicker"),
        ("赫章县城金银山街道移民安置点", "caption"),
        ("八年攻坚 奋楫争先", "title"),
        ("——赫章县打赢脱贫攻坚战盘点", "subtitle"),
        ("□ 本报记者 李学友", "byline"),
        ("大党建统领大扶贫", "section"),
        ("搬迁搬出新生活", "section"),
        ("赫章县松林坡乡香葱基地一角", "caption"),
        ("赫章县可乐乡村民养殖的可乐猪", "caption"),
    ]
    spans = layout.roles(PAGE)
    body = PAGE.index("党的十八大")
    assert layout.role_of(spans, body, body + 5) == ""


def test_without_a_subtitle_the_first_heading_is_the_title():
    doc = "乡村振兴新篇章\n\n今年，全县新建公路120公里。\n\n产业兴旺\n\n全县种植香葱3万亩。"
    assert [role for _, _, role in layout.roles(doc)] == ["title", "section"]


@pytest.mark.parametrize("question, role, ordinal", [
    ("这篇报道的主标题是什么？", "title", 0),
    ("副标题是什么？", "subtitle", 0),
    ("讲党建工作的那一部分用的小标题是什么？", "section", 0),
    ("文章开头的第一张配图拍的是什么地方？", "caption", 1),
    ("报道里最后一张照片拍的是什么？", "caption", -1),
    ("本版顶部的通栏口号是什么？", "banner", 0),
    ("这篇报道属于哪个系列报道？", "kicker", 0),
    ("Who wrote this report?", "byline", 0),
    ("What does the second photo in this article show?", "caption", 2),
])
def test_questions_about_the_page(question, role, ordinal):
    assert layout.asked(question) == layout.Asked(role, ordinal)


@pytest.mark.parametrize("question", ["What title was Wang Chaorong awarded?", "赫章县采取了哪一系列措施？",
                                      "赫章县有多少个贫困村脱贫出列？", "记者在海雀村看到了什么？",
                                      "《呐喊》的作者是谁？", "最后一张照片拍的是什么？"])
def test_questions_about_the_content_are_not_page_questions(question):
    assert layout.asked(question) is None
