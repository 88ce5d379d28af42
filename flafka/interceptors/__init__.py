"""Interceptors: per-source event processing between a source and its channels."""
