"""The running agent: channel processor, runners, sink processors, lifecycle and reload."""
