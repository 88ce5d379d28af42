"""Counters (Flume-compatible names) and, later, their HTTP/Prometheus exposition."""
