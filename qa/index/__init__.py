"""The index: vectors on disk, the BM25 index, and ranking with reciprocal-rank fusion."""
