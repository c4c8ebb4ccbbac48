"""Jobs (arrives with its issue)."""
