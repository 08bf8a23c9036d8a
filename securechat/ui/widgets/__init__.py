"""Widgets the windows are built from: each one a small view with its own signals."""
