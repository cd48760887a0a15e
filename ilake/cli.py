"""The `ilake` command: the platform team's tool for programs and the local demo."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from lambdas.core.programs import ProgramError, load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS


def _programs_dir(value: str | None) -> Path:
    return Path(value) if value else BUNDLED_PROGRAMS


def cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run

    run(_programs_dir(args.programs), batches=args.batches, events=args.events)
    return 0


def cmd_programs_check(args: argparse.Namespace) -> int:
    try:
        programs = load_programs(_programs_dir(args.programs))
    except ProgramError as exc:
        print(f"invalid: {exc}", file=sys.stderr)
        return 1
    for program in programs.values():
        print(f"ok {program.name} ({program.policy_version}, sha256 {program.digest[:12]})")
    return 0


def cmd_programs_policy(args: argparse.Namespace) -> int:
    programs = load_programs(_programs_dir(args.programs))
    if args.program not in programs:
        print(f"no such program: {args.program}", file=sys.stderr)
        return 1
    print(json.dumps(programs[args.program].public_policy(), indent=2))
    return 0


def cmd_local_up(args: argparse.Namespace) -> int:
    import signal
    import threading

    from .local import LocalModeError, LocalStack

    try:
        stack = LocalStack(
            programs_dir=_programs_dir(args.programs),
            state_dir=Path(args.state_dir),
            host=args.host,
            port=args.port,
            allow_non_loopback=args.allow_non_loopback,
        )
        state = stack.start()
    except LocalModeError as exc:
        print(f"ilake local up: {exc}", file=sys.stderr)
        return 2
    stopped = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopped.set())
    print(f"API        {state.api_url}")
    print(f"AWS (moto) {state.aws_endpoint_url}  region {state.region}  bucket {state.bucket}")
    for name, program in state.programs.items():
        print(f"program    {name}: token {program['token']}  key {program['key_id']}")
    print(f"state      {Path(args.state_dir) / 'local.json'}  (Ctrl-C stops everything)")
    try:
        stopped.wait()
    finally:
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="ilake", description=__doc__)
    parser.add_argument("--programs", help="directory of program files (default: programs/)")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="run the ingest story end to end on embedded moto")
    demo.add_argument("--batches", type=int, default=3)
    demo.add_argument("--events", type=int, default=2_000)
    demo.set_defaults(func=cmd_demo)

    programs = sub.add_parser("programs", help="program files (policy as code)")
    programs_sub = programs.add_subparsers(dest="programs_command", required=True)
    check = programs_sub.add_parser("check", help="validate every program file")
    check.set_defaults(func=cmd_programs_check)
    policy = programs_sub.add_parser("policy", help="print a program's effective policy")
    policy.add_argument("program")
    policy.set_defaults(func=cmd_programs_policy)

    local = sub.add_parser("local", help="local mode: moto server and the HTTP API on loopback")
    local_sub = local.add_subparsers(dest="local_command", required=True)
    up = local_sub.add_parser(
        "up",
        help="start local mode until Ctrl-C",
        description="Example: ilake local up --port 8080 --state-dir .ilake",
    )
    up.add_argument("--host", default="127.0.0.1")
    up.add_argument("--port", type=int, default=8080)
    up.add_argument("--state-dir", default=".ilake")
    up.add_argument(
        "--allow-non-loopback",
        action="store_true",
        help="listen on a non-loopback address (exposes agent tokens' API)",
    )
    up.set_defaults(func=cmd_local_up)

    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
