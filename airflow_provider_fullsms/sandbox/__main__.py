"""``fullsms-sandbox`` / ``python -m airflow_provider_fullsms.sandbox``: run a local FullSMS server."""

from __future__ import annotations

import argparse
import json
import sys
from typing import TYPE_CHECKING

from airflow_provider_fullsms import __version__
from airflow_provider_fullsms.sandbox import DEFAULT_BALANCE, DEFAULT_HOST, DEFAULT_PORT, DEFAULT_TOKEN

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow_provider_fullsms.sandbox.server import SandboxServer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="fullsms-sandbox",
        description="A local FullSMS server: the documented API, an inbox at / and a /_sandbox/ control API. "
        "At start-up it prints the URL and the Airflow connection to export.",
    )
    # Every option's help says its default: `fullsms-sandbox --help` is where a user looks first.
    parser.add_argument("--host", default=DEFAULT_HOST, help="address to listen on (default: %(default)s)")
    parser.add_argument(
        "--port", type=int, default=DEFAULT_PORT, help="port; 0 picks a free port (default: %(default)s)"
    )
    parser.add_argument(
        "--token",
        default=None,
        help=f"API token of the first account (default: the state file's first, else {DEFAULT_TOKEN})",
    )
    parser.add_argument(
        "--balance",
        type=float,
        default=None,
        help=f"starting balance of the first account (default: the state file's, else {DEFAULT_BALANCE})",
    )
    parser.add_argument(
        "--state",
        metavar="FILE",
        default=None,
        help="JSON file seeding accounts, prices, lists, templates... (default: none, the default seed)",
    )
    parser.add_argument("--access-log", action="store_true", help="log every request, slower (default: off)")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the sandbox until interrupted.

    :param argv: command-line arguments (default: ``sys.argv[1:]``).
    """
    args = parse_args(argv)
    # Imported here so `--help` stays instant.
    from airflow_provider_fullsms.sandbox.connection import DEFAULT_CONN_ENV, airflow_connection
    from airflow_provider_fullsms.sandbox.seed import SeedError
    from airflow_provider_fullsms.sandbox.server import SandboxServer
    from airflow_provider_fullsms.sandbox.state import SandboxState

    seed = None
    if args.state:
        try:
            with open(args.state, encoding="utf-8") as handle:
                seed = json.load(handle)
        except (OSError, ValueError) as error:
            print(f"fullsms-sandbox: cannot read state file {args.state}: {error}", file=sys.stderr)
            return 2
    try:
        state = SandboxState(seed)
        state.set_seed_overrides(token=args.token, balance=args.balance)
    except SeedError as error:
        print(f"fullsms-sandbox: bad state file {args.state}: {error}", file=sys.stderr)
        return 2

    def announce(server: SandboxServer) -> None:
        # Scripts and tests parse the first line to learn the port when --port 0 was given; the
        # second is the Airflow connection, with the sandbox's price and minimum, to paste.
        connection = json.dumps(airflow_connection(state.accounts[0], server.url))
        print(
            f"FullSMS sandbox listening on {server.url} (token: {state.primary_token})\n"
            f"export {DEFAULT_CONN_ENV}='{connection}'",
            flush=True,
        )

    server = SandboxServer(state, host=args.host, port=args.port, access_log=args.access_log)
    try:
        server.run(announce)
    except KeyboardInterrupt:
        pass
    except OSError as error:
        print(f"fullsms-sandbox: cannot listen on {args.host}:{args.port}: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
