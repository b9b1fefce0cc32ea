"""Domain services of the procurement master-data registry.

Routers in `api/` call these functions; they read and write through `models/` and never commit:
the request's unit of work (see `api/routing.py`) owns the transaction.
"""
