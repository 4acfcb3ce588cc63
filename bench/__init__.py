"""Benchmarks (retrieval quality, search latency, ingestion throughput). Each runs as `python -m bench.<name>`."""
