"""Cryptographic building blocks shared by the client's features: sealed blobs
(`sealing`). Primitives come from `cryptography` and `argon2-cffi`; nothing here is a
cipher of our own. This package imports neither the client nor the relay."""
