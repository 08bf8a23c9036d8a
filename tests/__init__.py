"""SecureChat's tests: a real relay on loopback, real autobahn clients, real SQLite."""
