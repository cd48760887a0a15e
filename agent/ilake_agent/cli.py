"""`ilake-agent`: the command an employee's machine runs, from the agent distribution alone.

    ilake-agent run -p PROGRAM --token-file FILE --api-url URL   # capture this desktop
    ilake-agent pause -p PROGRAM                                  # the employee's switch
    ilake-agent resume -p PROGRAM

It needs nothing of the server (the operator's `ilake agent run --source desktop` runs the same
capture, through the functions below). Bad input or an environment that cannot be captured is
one line, `error: ...`, and exit 2 (1 for pause or resume with no agent running); never a
traceback and never the content of what was captured.
"""

from __future__ import annotations

import argparse
import math
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from ilake_contract.schema import PROGRAM_NAME

COMMAND = "ilake-agent"
Say = Callable[[str], None]


class Failure(Exception):
    """What stops a command, in one line, with its exit code."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# -- the steps both commands share -----------------------------------------------------------


def spool_path(program: str, spool_dir: Path | None) -> Path:
    """The agent's spool directory (default ~/.ilake-agent/<program>); a program name that is
    not one (it names a directory and a URL path) is refused."""
    if not PROGRAM_NAME.fullmatch(program):
        raise Failure("--program is not a program name (lower-case letters, digits and '-')")
    return spool_dir or Path.home() / ".ilake-agent" / program


def read_token(path: Path) -> str:
    """The agent's token from a file only its owner can read."""
    try:
        mode = path.stat().st_mode
    except FileNotFoundError:
        raise Failure(f"{path} does not exist") from None
    except OSError as exc:
        raise Failure(f"{path}: {exc.strerror or 'cannot be read'}") from None
    if mode & 0o077:
        raise Failure(f"{path} is readable by others: chmod 600 it")
    try:
        token = path.read_text().strip()
    except (OSError, UnicodeDecodeError):
        raise Failure(f"{path} cannot be read as a token") from None
    if not token or not token.isascii() or not token.isprintable() or " " in token:
        raise Failure(f"{path} does not hold a token (one line of printable ASCII)")
    return token


def open_client(
    api_url: str, token: str, program: str, *, spool: Path, batch_events: int, timeout: float
) -> Any:
    """The agent Client with the program's policy, or the one line that says why not."""
    from .client import AgentStopped, Client, Limits, PolicyUnavailable
    from .policy import PolicyError

    try:
        return Client(
            api_url,
            token,
            program,
            spool_dir=spool,
            limits=Limits(max_events=batch_events),
            policy_timeout_s=timeout,
        )
    except AgentStopped as exc:
        raise Failure(f"the server refused this agent: {exc}") from None
    except PolicyUnavailable as exc:
        raise Failure(str(exc)) from None
    except PolicyError:
        raise Failure("the policy answer is not a JSON object: nothing can be captured") from None
    except ValueError as exc:  # a malformed URL; the message quotes none of it, nor the token
        raise Failure(f"--api-url: {exc}") from None


def summary_lines(counters: Any, unreadable: int | None = None) -> list[str]:
    """What happened to the events, in counts by reason only."""
    from .policy import POLICY_REASONS

    def by_reason(counts: dict[str, int]) -> str:
        items = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
        return ", ".join(f"{reason} {n:,}" for reason, n in items) or "none"

    refused = counters.not_captured_by
    policy = {r: n for r, n in refused.items() if r in POLICY_REASONS}
    invalid = {r: n for r, n in refused.items() if r not in POLICY_REASONS}
    lines = [
        f"recorded {counters.recorded:,}, delivered {counters.events_delivered:,} in "
        f"{counters.batches_sent} batches, retries {counters.retries}",
        f"not captured (policy): {by_reason(policy)}",
        f"not captured (invalid): {by_reason(invalid)}",
    ]
    if unreadable is not None:
        lines.append(f"unreadable lines (not a JSON object): {unreadable:,}")
    lines += [
        f"rejected by the server: {by_reason(counters.rejected)}",
        f"dropped with their batch (400): {counters.events_dropped_400:,}",
    ]
    return lines


def finish(
    client: Any, *, spool: Path, timeout: float, out: Say, err: Say, unreadable: int | None = None
) -> None:
    """Deliver what was recorded within `timeout`, print the counts, and say how it ended:
    Failure when the server stopped the agent or not everything was delivered."""
    err(f"recorded {client.counters.recorded:,} events; delivering")
    delivered = client.close(timeout_s=timeout)
    for line in summary_lines(client.counters, unreadable):
        out(line)
    if client.paused:
        out("the program is paused: capture stopped and the spool was wiped")
    elif client.error:
        raise Failure(f"stopped: {client.error} (the spool is kept)")
    elif not delivered:
        raise Failure(f"not everything was delivered within {timeout:g} s; it stays in {spool}")


def open_desktop(subject: str | None, device_id: str | None) -> tuple[Any, str, str]:
    """This session's backend, the person and the machine; refused before the API is asked
    anything."""
    from .desktop.backend import BackendUnavailable
    from .desktop.platform import open_backend
    from .desktop.session import check_identity, default_identity

    login, host = default_identity()
    subject = login if subject is None else subject
    if subject is None:
        raise Failure("this session has no login name: give --subject")
    device_id = host if device_id is None else device_id
    try:
        check_identity(subject, device_id)
    except ValueError as exc:
        raise Failure(str(exc)) from None
    try:
        backend = open_backend()
    except BackendUnavailable as exc:
        raise Failure(f"cannot capture this desktop: {exc}") from None
    return backend, subject, device_id


def capture_desktop(
    desktop: tuple[Any, str, str],
    client: Any,
    *,
    spool: Path,
    duration: float | None,
    timeout: float,
    out: Say,
    err: Say,
    command: str = COMMAND,
) -> None:
    """Capture until stopped, then deliver and report (`finish`)."""
    from .desktop.backend import BackendUnavailable
    from .desktop.session import capture

    backend, subject, device_id = desktop
    try:
        capture(
            client,
            backend,
            subject=subject,
            device_id=device_id,
            spool=spool,
            duration=duration,
            say=err,
            command=command,
        )
    except BackendUnavailable as exc:  # the backend could not start listening
        client.close(timeout_s=0)
        raise Failure(f"cannot capture this desktop: {exc}") from None
    finish(client, spool=spool, timeout=timeout, out=out, err=err)


def signal_capture(program: str, spool_dir: Path | None, ask: str) -> int:
    """Ask the agent capturing for `program` to "pause" or "resume"; its pid, or Failure
    (exit 1)."""
    from .desktop.session import NoAgent, signal_agent

    try:
        return signal_agent(spool_path(program, spool_dir), ask)
    except NoAgent as exc:
        raise Failure(str(exc), code=1) from None


# -- ilake-agent ------------------------------------------------------------------------------


def _say_out(text: str) -> None:
    print(text, flush=True)


def _say_err(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


def _run(args: argparse.Namespace) -> int:
    spool = spool_path(args.program, args.spool_dir)
    token = read_token(args.token_file)
    desktop = open_desktop(args.subject, args.device_id)
    try:
        client = open_client(
            args.api_url,
            token,
            args.program,
            spool=spool,
            batch_events=args.batch_events,
            timeout=args.timeout,
        )
    except KeyboardInterrupt:
        _say_err("interrupted before capture started: nothing was captured")
        return 130
    _say_err(client.describe())
    capture_desktop(
        desktop,
        client,
        spool=spool,
        duration=args.duration,
        timeout=args.timeout,
        out=_say_out,
        err=_say_err,
    )
    return 0


def _pause(args: argparse.Namespace) -> int:
    pid = signal_capture(args.program, args.spool_dir, "pause")
    _say_out(f"asked the agent (pid {pid}) to pause: nothing is captured until it resumes")
    return 0


def _resume(args: argparse.Namespace) -> int:
    pid = signal_capture(args.program, args.spool_dir, "resume")
    _say_out(f"asked the agent (pid {pid}) to resume capture")
    return 0


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:  # one line, not the usage block
        raise Failure(f"{message} (see {COMMAND} --help)")


def _positive(kind: Callable[[str], Any], low: float, high: float | None = None) -> Any:
    def parse(text: str) -> Any:
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
        if not math.isfinite(value) or value < low or (high is not None and value > high):
            bound = f"at least {low:g}" if high is None else f"from {low:g} to {high:g}"
            raise argparse.ArgumentTypeError(f"must be {bound}")
        return value

    return parse


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog=COMMAND,
        description="Capture this desktop as a program's policy allows, deliver it to the "
        "program's API, and pause or resume that capture.",
    )
    commands = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    def program_options(command: argparse.ArgumentParser) -> None:
        command.add_argument("-p", "--program", required=True, help="The program's name.")
        command.add_argument(
            "--spool-dir", type=Path, help="The encrypted spool (default ~/.ilake-agent/<program>)."
        )

    run = commands.add_parser(
        "run",
        help="Capture this desktop (Linux/X11) as the program's policy allows, and deliver it.",
        description="Prints what the program captures first, then records until Ctrl-C or "
        "SIGTERM (the spool then drains within --timeout), --duration, or the program's pause "
        "on the server. Refuses to start, exit 2, where the desktop cannot be captured as the "
        "policy requires (not X11, no display, Wayland, the desktop extra not installed).",
    )
    program_options(run)
    run.add_argument("--token-file", type=Path, required=True, help="The token (mode 0600).")
    run.add_argument("--api-url", required=True, help="The API, e.g. https://api.example.com.")
    run.add_argument("--subject", help="The person (default: the login name).")
    run.add_argument("--device-id", help="This machine (default: the host name).")
    run.add_argument("--duration", type=_positive(float, 0.1), help="Stop after this many seconds.")
    run.add_argument(
        "--timeout",
        type=_positive(float, 0),
        default=60.0,
        help="Seconds to get the policy (retried), then to drain the spool (default 60).",
    )
    run.add_argument(
        "--batch-events",
        type=_positive(int, 1, 10_000),
        default=1000,
        help="Events per batch (default 1000).",
    )
    run.set_defaults(handler=_run)
    for name, handler, words in (
        ("pause", _pause, "Pause the agent capturing this desktop (it records that it paused)."),
        ("resume", _resume, "Resume the paused agent."),
    ):
        command = commands.add_parser(name, help=words, description=words)
        program_options(command)
        command.set_defaults(handler=handler)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args = _parser().parse_args(argv)
        code: int = args.handler(args)
    except Failure as failure:
        _say_err(f"error: {failure}")
        return failure.code
    except KeyboardInterrupt:
        _say_err("interrupted: capture stopped; what was not delivered stays in the spool")
        return 130
    except OSError as exc:  # the spool directory or a file it needs
        where = f" ({exc.filename})" if exc.filename else ""
        _say_err(f"error: {exc.strerror or type(exc).__name__}{where}")
        return 2
    return code


if __name__ == "__main__":
    sys.exit(main())
