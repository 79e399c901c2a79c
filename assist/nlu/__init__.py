"""Shared sentence encoder and the intent and sentiment heads on it."""
