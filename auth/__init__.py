"""Authentication (JWT, accounts' passwords), principals and the one jurisdiction policy."""
