"""Start one server for the lookup benchmark: the registry app or a bare FastAPI route.

Both run under the same uvicorn settings (one process, uvloop, httptools, no access log) so the
only difference measured is the application.
"""

from __future__ import annotations

import argparse
import logging
import os

import uvicorn
from fastapi import FastAPI
from fastapi.responses import Response

CONSTANT = b'{"id":"sup_0000000000000000","status":"active"}'


def _quiet() -> None:
    logging.basicConfig(level=logging.WARNING)
    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))


def bare_app() -> FastAPI:
    _quiet()
    app = FastAPI()

    @app.get("/v1/suppliers/{org_id}")
    def constant(org_id: str) -> Response:
        return Response(CONSTANT, media_type="application/json")

    return app


def registry_app() -> FastAPI:
    _quiet()
    from api.app import create_app
    from registry.config import Settings

    settings = Settings(
        environment="test",
        database_url=os.environ["BENCH_DATABASE_URL"],
        registry_data_dir=os.environ["BENCH_DATA_DIR"],
        log_level="WARNING",
    )
    return create_app(settings)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("which", choices=["bare", "registry"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args()
    uvicorn.run(
        f"serve_one:{args.which}_app",
        factory=True,
        workers=args.workers,
        host="127.0.0.1",
        port=args.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
