"""Talking to one pod over SSH: connections, commands, files and the agent."""
