"""The smms tool-type plugin (being built)."""
