"""A score per sentence for a question, from a span reader reading them as one window."""
import numpy as np


def sentence_scores(model, question: str, sentences: list[str]) -> np.ndarray:
    return model.score_windows(question, [sentences])[0]
