"""Call summaries: the offline extractive summariser (default) and an optional
OpenAI-compatible chat provider run in a background thread."""
