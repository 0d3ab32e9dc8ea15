"""Create officer and supervisor accounts from the command line::

python -m videocall.adapters.accounts_cli create --username budi --role officer --name "Budi"
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sys

from videocall.accounts import Role
from videocall.adapters.sql_accounts import SqlAccounts
from videocall.adapters.sql_records import Database
from videocall.clock import SystemClock
from videocall.errors import ValidationError
from videocall.settings import Settings


async def _create(args: argparse.Namespace) -> int:
    password = args.password or os.environ.get("ACCOUNT_PASSWORD") or getpass.getpass()
    database = Database.from_url(Settings().effective_database_url)
    try:
        accounts = SqlAccounts(database)
        existing = await accounts.by_username(args.username)
        if existing is not None and args.if_missing:
            print(f"account {args.username} exists")
            return 0
        account = await accounts.create(
            username=args.username,
            password=password,
            role=Role(args.role),
            display_name=args.name or args.username,
            now=SystemClock().now(),
        )
        print(f"created {account.role.value} {account.username}")
        return 0
    except ValidationError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 2
    finally:
        await database.close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m videocall.adapters.accounts_cli")
    sub = parser.add_subparsers(dest="command", required=True)
    create = sub.add_parser("create", help="create an officer or supervisor account")
    create.add_argument("--username", required=True)
    create.add_argument("--role", choices=[r.value for r in Role], default="officer")
    create.add_argument("--name", help="display name")
    create.add_argument("--password", help="default: $ACCOUNT_PASSWORD or a prompt")
    create.add_argument("--if-missing", action="store_true", help="do nothing if it exists")
    args = parser.parse_args(argv)
    return asyncio.run(_create(args))


if __name__ == "__main__":
    raise SystemExit(main())
