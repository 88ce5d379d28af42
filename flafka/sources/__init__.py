"""Sources: where events enter an agent."""
