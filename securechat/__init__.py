"""SecureChat: an end-to-end-encrypted messenger (relay, client core, desktop UI)."""

__version__ = "0.1.0"
