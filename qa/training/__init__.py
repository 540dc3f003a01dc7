"""Training: SQuAD-format data, training the span reader, fitting the combiner and its calibration."""
