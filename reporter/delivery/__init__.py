"""Delivery (arrives with its issue)."""
