"""Benchmarks (retrieval quality, search latency, ingestion throughput, bots at scale, embedder comparison).
Each runs as `python -m bench.<name>`; `python -m bench` (what `make bench` runs) runs the main ones."""
