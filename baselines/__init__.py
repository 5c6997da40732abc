"""Comparison methods, each behind the sandwich Method contract."""
