"""Settings, read from the environment and an optional `.env` file (pydantic-settings)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

ASYMMETRIC_ALGORITHMS = ("RS256", "RS384", "RS512", "ES256", "ES384", "ES512")


class Settings(BaseSettings):
    """Every knob of the service. Names are the environment variables, upper-cased."""

    model_config = SettingsConfigDict(env_file=".env", env_file_encoding="utf-8", extra="ignore")

    environment: Literal["production", "development", "test"] = "production"

    database_url: str | None = Field(
        default=None,
        description="PostgreSQL 15+ URL. Unset: a private embedded PostgreSQL in the data directory.",
    )
    read_replica_url: str | None = None
    registry_data_dir: Path = Field(default=Path(".registry-data"))
    db_pool_size: int = 10
    db_max_overflow: int = 10

    # the search engine (Elasticsearch 8 or OpenSearch 2); unset: search runs on PostgreSQL
    elasticsearch_url: str | None = None
    # the alias searches read; its indexes are `<alias>-a<analyzer version>-<time>`
    search_index: str = Field(default="registry-search", pattern=r"^[a-z0-9][a-z0-9_-]{0,80}$")

    # --- tokens -----------------------------------------------------------------------------
    jwt_issuer: str = "urn:nm-procurement:registry"
    jwt_audience: str = "registry-api"
    jwt_algorithms: list[str] = Field(default_factory=lambda: ["RS256", "ES256"])
    jwt_access_token_minutes: int = 30
    jwt_leeway_seconds: int = 30
    jwt_signing_key_dir: Path | None = Field(
        default=None, description="PEM private keys; newest signs. Default: <data dir>/keys."
    )
    jwt_jwks_file: Path | None = Field(default=None, description="extra trusted public keys")
    jwt_jwks_url: str | None = Field(default=None, description="outside identity provider's JWKS")
    jwt_jwks_cache_seconds: int = 300
    jwt_dev_hs256_secret: str | None = Field(
        default=None, description="development only: also accept HS256 tokens with this secret"
    )

    # --- personal data encryption (registry/crypto.py) ------------------------------------
    personal_data_keys: str | None = Field(
        default=None,
        repr=False,
        description="'kid1:<base64 32 bytes>,kid2:<base64>'; last encrypts, all decrypt. "
        "Unset (with BLIND_INDEX_KEY): <data dir>/personal-data-keys.json.",
    )
    blind_index_key: str | None = Field(
        default=None,
        repr=False,
        description="base64, >= 32 bytes: HMAC key of the blind indexes; set with PERSONAL_DATA_KEYS",
    )

    # --- accounts ---------------------------------------------------------------------------
    login_max_failures: int = 5
    login_lockout_minutes: int = 15

    # --- HTTP -------------------------------------------------------------------------------
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    idempotency_ttl_hours: int = 24

    @field_validator("jwt_algorithms")
    @classmethod
    def _only_known_algorithms(cls, value: list[str]) -> list[str]:
        unknown = [a for a in value if a not in ASYMMETRIC_ALGORITHMS]
        if unknown:
            raise ValueError(
                f"JWT_ALGORITHMS may only name asymmetric algorithms, not {unknown}; "
                "HS256 is enabled by JWT_DEV_HS256_SECRET in development only"
            )
        return value

    @model_validator(mode="after")
    def _hs256_only_in_development(self) -> Settings:
        if self.jwt_dev_hs256_secret and self.environment != "development":
            raise ValueError("JWT_DEV_HS256_SECRET is only accepted with ENVIRONMENT=development")
        if self.jwt_dev_hs256_secret and len(self.jwt_dev_hs256_secret) < 32:
            raise ValueError("JWT_DEV_HS256_SECRET must be at least 32 characters")
        return self

    @property
    def accepted_algorithms(self) -> tuple[str, ...]:
        extra = ("HS256",) if self.jwt_dev_hs256_secret else ()
        return (*self.jwt_algorithms, *extra)

    @property
    def data_dir(self) -> Path:
        return self.registry_data_dir.expanduser().resolve()

    @property
    def signing_key_dir(self) -> Path:
        return (self.jwt_signing_key_dir or self.data_dir / "keys").expanduser().resolve()


@lru_cache
def get_settings() -> Settings:
    return Settings()
