"""Trunk logic free of I/O: cps pacing, registration backoff, OPTIONS health."""
