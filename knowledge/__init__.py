"""Articles and versions, ingestion and chunking, embeddings, Chroma and BM25 indexes, hybrid retrieval."""
