"""XQuAD (DeepMind, CC BY-SA 4.0: 240 Wikipedia paragraphs of SQuAD 1.1 dev, 1,190 questions, translated by
professionals) as two SQuAD-format files over the *Chinese* paragraphs: the Chinese questions, and the
English questions of the same ids — English questions about Chinese text, as users of the chat ask them.
The answers are the Chinese spans. Paragraphs keep the ids the tuning / held-out split hashes, so both
files split the same paragraphs the same way.

    git clone https://github.com/deepmind/xquad   # or any folder holding xquad.en.json and xquad.zh.json
    .venv/bin/python bench/xquad_pairs.py XQUAD_FOLDER OUT_FOLDER

writes OUT_FOLDER/xquad_zh.json and OUT_FOLDER/xquad_en_zh.json (docs/models.md: data).
"""
import copy
import json
import sys
from pathlib import Path


def main() -> None:
    src, out = Path(sys.argv[1]), Path(sys.argv[2])
    zh = json.loads((src / "xquad.zh.json").read_text(encoding="utf-8"))
    en = json.loads((src / "xquad.en.json").read_text(encoding="utf-8"))
    english = {qa["id"]: qa["question"] for art in en["data"] for p in art["paragraphs"] for qa in p["qas"]}
    crossed, missing = copy.deepcopy(zh), 0
    for art in crossed["data"]:
        for p in art["paragraphs"]:
            missing += sum(qa["id"] not in english for qa in p["qas"])
            p["qas"] = [qa | {"question": english[qa["id"]]} for qa in p["qas"] if qa["id"] in english]
    out.mkdir(parents=True, exist_ok=True)
    (out / "xquad_zh.json").write_text(json.dumps(zh, ensure_ascii=False), encoding="utf-8")
    (out / "xquad_en_zh.json").write_text(json.dumps(crossed, ensure_ascii=False), encoding="utf-8")
    n = sum(len(p["qas"]) for art in zh["data"] for p in art["paragraphs"])
    print(f"{n} questions on {sum(len(a['paragraphs']) for a in zh['data'])} paragraphs; "
          f"{missing} without an English twin left out of xquad_en_zh.json")


if __name__ == "__main__":
    main()
