"""The marketplace end to end (`make demo`): every service as its own process on the
embedded default (SQLite), a publisher's, a vendor's and the operator's story, the
settlement of a period, and the trace of one vendor request across the services."""
