"""Charts (arrives with its issue)."""
