"""Peer benchmark scripts, each run by its peer's own Python (see bench/peers.py); not imported."""
