"""Operability: Prometheus metrics and the health/readiness HTTP endpoint."""
