"""A labeled query set for search quality (`demo_queries.json`, made by `generate.py`)."""
