"""Relay benchmark: load harness (loadgen), Crossbar.io reference (crossbar_env)."""
