"""Runnable examples built on flafka's public API (the credit-card fraud demo in :mod:`flafka.examples.fraud`)."""
