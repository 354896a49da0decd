"""The catalog: publishers, AI vendors, API keys, and the works publishers list."""
