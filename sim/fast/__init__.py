"""The fast engine: the reference protocol batched per instant over arrays (see README, "The fast engine")."""
