"""Developer tools: validate, compare, surrogate_check, speed."""
