"""`python -m qa eval`: measure the answer engine against labelled questions, with baselines.

One module per step, each passing typed frozen records (with `to_dict()`) to the next:

- `questions` - the question file (`eval/questions.jsonl`, strictly parsed) or a SQuAD file, as
  `Question` records; where each expected answer is in the documents (`Gold`).
- `systems` - the systems compared: the engine (hybrid, rules, bm25, dense), the sentence
  baselines and the tutorial RAG (`naive`).
- `metrics` - pure metric functions: hits, answer sentences, character F1, ranking metrics,
  SQuAD 2.0-style abstention and the threshold sweep, percentiles.
- `results` - every question asked of one system (`QuestionResult`), summarised per group
  (`Summary`) and per system (`SystemReport`).
- `sweep` - the optional settings sweep (`SweepRow`).
- `report` - the run's `EvalReport`: terminal tables, JSON, threshold plot.
- `followups` - the follow-up eval (`--followups`).
- `cli` - the command line: `add_arguments` and `run`, which `python -m qa eval` calls.

Metric definitions (answerable = expected answer is a string, not null):

* quote_hit@1 - the expected answer is a substring of the quote from
  `candidate()` (abstention ignored) and the quote is at most 150 characters.
  answered_hit - the same with abstention applied (the quote must also be
  shown to the user, i.e. score >= threshold); on answerable questions this is
  by definition SQuAD 2.0's HasAns accuracy, so the two numbers coincide.
* hasans_acc / noans_acc - answerable questions answered with a hit /
  unanswerable questions declined, at the configured threshold. accuracy is
  their pooled rate over all questions, balanced their mean. A threshold sweep
  (0..1, step 0.01) picks the threshold with the best balanced accuracy on the dev split.
* hit@1, recall@3, recall@5, mrr@10 - rank of the first retrieved passage that
  contains the expected answer (as a substring of the passage text, or an
  occurrence of it in the document lies inside the passage's [start, end)).
* doc@1 - the quote is from the document that holds the answer (SQuAD runs, where it is known).
* f1 - CMRC 2018 character F1 (longest common substring over characters that
  are neither punctuation nor whitespace) between the quote and the sentence of
  the cleaned document that contains the expected answer (best over
  occurrences). Sentences end at 。！？； (plus closing quote marks) or a newline.
* mean_quote_len - over questions where a quote was returned; p50_ms / p95_ms -
  wall time of one `candidate()` call (after one untimed warm-up call).
  Each question is asked once: the thresholded decision is derived as
  `score >= settings.threshold`, which is exactly what `QA.answer()` does.
* Also in --json: accuracy, answered_precision (share of shown quotes that
  are hits), contains@1 (answer in quote, any length), verbatim_rate (quotes
  equal to document[start:end]), errors (engine exceptions, counted as misses).

The index is built into a fresh temporary folder unless `--index` is given, so
`build_seconds` is a real build; with `--index` an existing index may simply be
loaded (build_seconds is then null).
"""
from .cli import add_arguments, run

__all__ = ["add_arguments", "run"]
