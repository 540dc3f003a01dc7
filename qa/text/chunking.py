"""Chunking: split cleaned documents into overlapping chunks that know their offsets."""
from __future__ import annotations

from ..types import Chunk, Document

# Paragraph, line, sentence ends, then clauses: a chunk breaks at the largest unit that fits.
SEPARATORS = ["\n\n", "\n", "。", "！", "？", "；", "，", "、", ""]


def splitter(chunk_size: int, chunk_overlap: int):
    """langchain's recursive splitter, imported here: only index builds need it (1 s of imports)."""
    from langchain_text_splitters import RecursiveCharacterTextSplitter

    return RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=chunk_overlap,
        separators=SEPARATORS,
        keep_separator="end",  # "。" stays with the sentence it ends
        strip_whitespace=True,
    )


def split_documents(docs: list[Document], chunk_size: int, chunk_overlap: int) -> list[Chunk]:
    """Chunks of every document, numbered in order, each a slice of its document's text."""
    split = splitter(chunk_size, chunk_overlap)
    chunks: list[Chunk] = []
    for doc in docs:
        cursor = 0
        for piece in split.split_text(doc.text):
            # Overlap means the next chunk starts at or before the previous end.
            start = doc.text.find(piece, max(0, cursor - chunk_size))
            if start < 0:
                start = doc.text.find(piece)
            if start < 0:  # the splitter only removes whitespace, so this cannot happen
                raise AssertionError(f"chunk not found in {doc.source}: {piece[:30]!r}")
            cursor = start + len(piece)
            chunks.append(Chunk(len(chunks), doc.source, start, cursor, piece))
    return chunks
