"""``python -m ppo_lite.course.site build [--out DIR]`` builds the course website; ``serve [--dir DIR] [--port N]``
serves it on http://127.0.0.1:N/ (default 8000)."""
from __future__ import annotations

import argparse
from pathlib import Path

from . import DEFAULT_OUT, build, make_server


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m ppo_lite.course.site", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    build_cmd = commands.add_parser("build", help="build the site (HTML) from the committed notebooks")
    build_cmd.add_argument("--out", type=Path, default=DEFAULT_OUT, help=f"output folder (default {DEFAULT_OUT})")
    build_cmd.add_argument("--verbose", action="store_true", help="print Sphinx's progress")
    serve_cmd = commands.add_parser("serve", help="serve a built site on localhost")
    serve_cmd.add_argument("--dir", type=Path, default=DEFAULT_OUT, help=f"the built site (default {DEFAULT_OUT})")
    serve_cmd.add_argument("--port", type=int, default=8000)
    args = parser.parse_args(argv)
    if args.command == "build":
        done = build(args.out, quiet=not args.verbose)
        print(f"built {args.out} in {done['seconds']:.0f} s: {done['files']} files, {done['bytes'] / 2**20:.1f} MiB, "
              f"{len(done['warnings'])} warning(s); open {args.out / 'index.html'} or run python -m ppo_lite.course.site serve")
        return 0
    server = make_server(args.dir, args.port)
    host, port = server.server_address[:2]
    print(f"serving {args.dir} at http://{host}:{port}/ (Ctrl-C stops)", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
