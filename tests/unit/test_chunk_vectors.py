"""Chunk vectors derived from the sentences they hold (Settings.chunk_vectors = derived)."""
import numpy as np
import pytest

from qa.index.faiss_store import Unit, _derived_chunk_vectors
from qa.settings import ChunkVectors, Settings
from qa.types import Chunk


def _unit(v):
    v = np.asarray(v, dtype=np.float32)
    return v / np.linalg.norm(v)


def test_a_chunk_is_the_length_weighted_direction_of_its_sentences():
    units = [Unit(10, "a", 0, 10), Unit(11, "a", 10, 40), Unit(12, "a", 40, 50)]
    vecs = np.stack([_unit([1, 0, 0]), _unit([0, 1, 0]), _unit([0, 0, 1])])
    chunks = [Chunk(0, "a", 0, 10, ""), Chunk(1, "a", 5, 40, ""), Chunk(2, "a", 30, 50, "")]
    out = _derived_chunk_vectors(chunks, units, vecs, 3)
    assert np.allclose(np.linalg.norm(out, axis=1), 1.0)
    assert np.allclose(out[0], vecs[0]), "a chunk of one sentence is that sentence's vector"
    assert out[1][1] > out[1][0] > 0 and out[1][2] == 0, "30 shared characters outweigh 5; no share, no weight"
    assert out[2][1] == pytest.approx(out[2][2]), "10 characters of each"


def test_the_setting_is_part_of_the_index_key_and_checked():
    """Switching between encoded and derived chunk vectors rebuilds the index; a typo is a clear error."""
    assert Settings(chunk_vectors=ChunkVectors.ENCODED).index_key() != Settings(chunk_vectors="derived").index_key()
    with pytest.raises(ValueError, match="use one of: encoded, derived"):
        Settings(chunk_vectors="averaged")
