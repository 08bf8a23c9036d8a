"""The SecureChat relay: a WAMP router that moves ciphertext and presence only."""
