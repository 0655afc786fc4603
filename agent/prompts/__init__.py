"""Prompts and reply templates are code: each has a NAME and a VERSION recorded in every turn record."""
