"""Metrics and reports shared by the command line and the app."""
