"""altair chart builders. Aggregate first; render offline."""
