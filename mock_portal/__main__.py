"""`python -m mock_portal`: serve the portal without the seller-agent CLI (tests start it so).

Same options as `seller-agent portal serve`, plus --config-json for any app setting."""

from __future__ import annotations

import argparse
import json
import sys

from mock_portal import server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m mock_portal", description=__doc__)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8600, help="0 picks a free port")
    parser.add_argument("--db", help="SQLite file (default: the user's data folder)")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--orders", type=int)
    parser.add_argument("--lang", choices=["en", "zh-CN"])
    parser.add_argument("--auto-cancel", choices=["seed-30d", "amazon-7bd"])
    parser.add_argument("--smtp", metavar="HOST:PORT")
    parser.add_argument("--api-token")
    parser.add_argument(
        "--markup",
        choices=["mock", "real"],
        help="'real' serves pages without data-testid hooks, as Seller Central has none "
        "(env SELLER_AGENT_PORTAL_MARKUP)",
    )
    parser.add_argument("--threads", type=int, default=16)
    parser.add_argument("--workers", type=int, default=1, help="server processes")
    parser.add_argument("--reset", action="store_true")
    parser.add_argument(
        "--config-json", default="{}", help="app settings, e.g. '{\"SESSION_IDLE_MINUTES\": 1}'"
    )
    args = parser.parse_args(argv)
    try:
        extra = json.loads(args.config_json)
        if not isinstance(extra, dict):
            raise ValueError("not an object")
    except ValueError as error:
        parser.error(f"--config-json: not a JSON object ({error})")
    try:
        config = server.build_config(
            db_path=args.db,
            seed=args.seed,
            orders=args.orders,
            lang=args.lang,
            auto_cancel=args.auto_cancel,
            smtp=args.smtp,
            api_token=args.api_token,
            markup=args.markup,
            extra=extra,
        )
        server.run_portal(
            config,
            host=args.host,
            port=args.port,
            threads=args.threads,
            workers=args.workers,
            reset=args.reset,
        )
    except server.PortalError as error:
        print(f"Error: {error}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        pass
    return 0


if __name__ == "__main__":
    sys.exit(main())
