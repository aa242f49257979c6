"""The email tool-type plugin (being built)."""
