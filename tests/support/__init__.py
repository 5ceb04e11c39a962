"""Helpers shared by several test modules (stand-in implementations and the like)."""
