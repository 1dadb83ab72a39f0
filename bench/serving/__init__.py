"""Serving benchmark: lookup throughput vs a no-op endpoint, lookup p99 vs the raw driver."""
