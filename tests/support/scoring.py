"""One call for either trained model: a score per sentence for a question."""
import numpy as np


def sentence_scores(model, question: str, sentences: list[str]) -> np.ndarray:
    """The cross-encoder scores each sentence alone; the span reader reads them as one window."""
    if hasattr(model, "score_windows"):
        return model.score_windows(question, [sentences])[0]
    return model.score(question, sentences)
