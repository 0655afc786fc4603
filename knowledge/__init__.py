"""Articles and versions, ingestion and chunking, embeddings, the Chroma and BM25 indexes, hybrid retrieval."""
