"""Run the verification server: ``python server.py [--host H] [--port P]``.

Settings come from the environment (see docs/configuration.md). On start the database is
migrated; SIGTERM/SIGINT shut down gracefully.
"""

from __future__ import annotations

import argparse
import asyncio
import logging

from aiohttp import web

from videocall.adapters.migrate import upgrade
from videocall.logsetup import configure_logging
from videocall.settings import Settings
from web.app import create_app

logger = logging.getLogger("server")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="video-call identity verification server")
    parser.add_argument("--host", help="bind address (default: $HOST or 127.0.0.1)")
    parser.add_argument("--port", type=int, help="port (default: $PORT or 8080)")
    parser.add_argument("--no-migrate", action="store_true", help="do not run migrations")
    args = parser.parse_args(argv)
    overrides = {k: v for k, v in (("host", args.host), ("port", args.port)) if v is not None}
    settings = Settings(**overrides)
    configure_logging(settings.log_level, settings.log_json)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    if not args.no_migrate:
        upgrade(settings.effective_database_url)
    app = create_app(settings)
    logger.info("listening on %s", settings.effective_public_url)
    web.run_app(
        app,
        host=settings.host,
        port=settings.port,
        shutdown_timeout=settings.shutdown_grace_seconds,
        print=None,
        access_log=None,
        loop=asyncio.new_event_loop(),
    )


if __name__ == "__main__":
    main()
