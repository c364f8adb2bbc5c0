"""Synthetic organisations and the benchmarks that run the connector on them."""
