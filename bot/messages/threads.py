"""Wording for 困りごと threads."""
