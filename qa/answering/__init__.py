"""Answering: candidate sentences, the rules and the learned combiner that choose the quote, follow-ups."""
