"""The crm tool-type plugin (being built)."""
