"""Trunk logic free of I/O: outbound admission, registration backoff, OPTIONS health."""
