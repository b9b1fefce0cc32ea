"""Search over all registries (derived data; PostgreSQL stays the source of truth).

Empty for now: the SearchBackend protocol and its PostgreSQL and Elasticsearch/OpenSearch
implementations arrive with the search work (README, "Status").
"""
