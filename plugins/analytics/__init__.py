"""The analytics tool-type plugin (being built)."""
