"""Knowledge base: parsing, chunking, embeddings, ingestion, hybrid retrieval and grounded answers."""
