"""The headless client core: what the desktop UI, the CLI and bots all drive."""
