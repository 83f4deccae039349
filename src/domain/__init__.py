"""The orders and inventory domain: plain Python, standard library only."""
