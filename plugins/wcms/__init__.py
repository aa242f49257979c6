"""The wcms tool-type plugin (being built)."""
