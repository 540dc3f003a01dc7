"""Documents in traditional characters (README, "Python API"): a SQuAD file's tuning-half paragraphs
and questions converted to traditional characters with OpenCC s2t (same length, so answers keep their
offsets), answered with the simplified-form matching of `qa.text.fold` on, or off (the previous
behaviour: documents matched as written). Prints quote-hit@1, doc@1 and HasAns at the threshold
for the first 300 answerable questions. Run once per mode (each builds its own index):

    .venv/bin/python -m bench.compare_traditional ../shared/data/cmrc2018_trial.json on
    .venv/bin/python -m bench.compare_traditional ../shared/data/cmrc2018_trial.json off
"""
import sys
import tempfile
from pathlib import Path

import opencc

import qa.answering.quoting
import qa.index.lexical
import qa.text.normalise


def main(path: str, mode: str) -> None:
    if mode == "off":
        qa.text.normalise.fold = qa.index.lexical.fold = qa.answering.quoting.fold = lambda s: s
    from qa import QA
    from qa.training import squad
    from qa.eval.metrics import quote_hit
    from qa.eval.questions import TUNE_SHARE

    s2t = opencc.OpenCC("s2t")

    def traditional(s: str) -> str:
        return qa.text.normalise.same_length(s, s2t.convert)

    docs = Path(tempfile.mkdtemp(prefix="qa-traditional-"))
    questions = []
    for i, para in enumerate(squad.load(path)):
        if not para.split(TUNE_SHARE, salt="tune"):
            continue
        context, source = traditional(para.context), f"p{i:05d}.txt"
        (docs / source).write_text(context, encoding="utf-8")
        questions += [(traditional(q.question), context[q.answers[0].start : q.answers[0].end], source)
                      for q in para.questions if q.question and q.answers]
    questions = questions[:300]
    engine = QA(docs=str(docs), index_dir=tempfile.mkdtemp(prefix="qa-traditional-index-"))
    hit = doc = shown = 0
    for question, answer, source in questions:
        a = engine.candidate(question)
        right = a.found and quote_hit(a.quote, answer)
        hit += right
        doc += a.source == source
        shown += right and a.score >= engine.settings.active_threshold
    n = len(questions)
    print(f"fold {mode}: {n} answerable questions in traditional characters: quote-hit@1 {hit / n:.3f}, "
          f"doc@1 {doc / n:.3f}, HasAns {shown / n:.3f}")


if __name__ == "__main__":
    main(*sys.argv[1:3])
