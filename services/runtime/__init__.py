"""The runtime every Licentia service is built on: configuration, server bootstrap,
errors, authentication, rate limits, tracing, logging, database, outbox and clients."""
