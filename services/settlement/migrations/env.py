from services.runtime.migrations import run_migrations_online
from services.settlement.adapters.tables import metadata

run_migrations_online(metadata)
