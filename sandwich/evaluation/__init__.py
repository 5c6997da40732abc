"""The evaluator, metrics, RD/BD analysis, the report, the method registry and the rate search."""
