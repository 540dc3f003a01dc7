"""Text: cleaning documents and questions, sentences and chunks, page layout, English-to-Chinese bridging."""
