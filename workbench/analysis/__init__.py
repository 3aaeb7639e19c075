"""Pure functions on frames: no I/O, no plotting."""
