"""Peer benchmark scripts, each run by its peer's own Python (see bench/peer_envs.py); not imported."""
