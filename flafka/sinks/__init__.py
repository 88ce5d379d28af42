"""Sinks: where events leave an agent."""
