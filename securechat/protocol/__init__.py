"""Wire formats shared by the relay and the client: URIs, WAMP validation, envelopes."""
