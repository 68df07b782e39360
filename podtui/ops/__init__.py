"""The workflows, shared by the TUI and the CLI. Never imports Textual."""
