"""Highlights reels: the builder's rules (service) and the renders (render)."""
