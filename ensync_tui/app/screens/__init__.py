"""Modal screens of the explorer: composer, replay search, prompts and help."""
