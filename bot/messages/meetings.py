"""Wording for the monthly network meeting."""
