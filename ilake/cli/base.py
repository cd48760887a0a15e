"""`ilake`: the platform team's and analysts' command line (programs, agents, local mode, queries).

Exit codes: 0 done, 1 a check failed (an invalid program file, a step of the smoke test), 2 bad
input, a refused request or an environment that cannot serve it (unknown program, bad SQL, busy
port, no local stack, AWS without a region or credentials), 3 a fault in ilake itself, 130
interrupted (Ctrl-C). Errors are one line on stderr and never quote tokens or submitted content.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.markup import escape

from lambdas.core.programs import Program, ProgramError, load_programs
from lambdas.core.settings import BUNDLED_PROGRAMS

from ..ui import OutputFormat, err

# The root command, its help this module's docstring: the exit codes it states are main()'s.
app = typer.Typer(
    name="ilake",
    help=__doc__,
    no_args_is_help=True,
    rich_markup_mode="rich",
    pretty_exceptions_enable=False,  # a traceback could quote submitted data or a token
    add_completion=False,
    context_settings={"help_option_names": ["-h", "--help"]},
)

PROGRAMS_OPTION = typer.Option(
    "--programs", help="Directory of program files.", show_default="programs/"
)
StateDir = Annotated[
    Path, typer.Option("--state-dir", help="Local mode's state directory (holds local.json).")
]
DEFAULT_STATE_DIR = Path(".ilake")
ProgramOption = Annotated[str, typer.Option("--program", "-p", help="Program name.")]
AwsFlag = Annotated[
    bool, typer.Option("--aws", help="Use AWS (credentials from the environment), not local mode.")
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f", help="Output format.")]


class _Options:
    programs_dir: Path = BUNDLED_PROGRAMS
    local_state: Any = None  # the local stack this command uses, once it has looked it up


options = _Options()


def fail(message: str, code: int = 2) -> NoReturn:
    err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)  # one line, however long
    raise typer.Exit(code)


@app.callback()
def _root(programs: Annotated[Path | None, PROGRAMS_OPTION] = None) -> None:
    options.programs_dir = programs or BUNDLED_PROGRAMS


def declared_programs() -> dict[str, Program]:
    """The programs in --programs: a missing directory exits 2, an invalid program file 1."""
    if not options.programs_dir.is_dir():
        fail(f"--programs {options.programs_dir}: no such directory")
    try:
        return load_programs(options.programs_dir)
    except ProgramError as exc:
        fail(f"invalid program file: {exc}", code=1)


def declared_program(name: str) -> Program:
    """The program called `name`; another name exits 2, quoted only if it is shaped like one."""
    programs = declared_programs()
    if name not in programs:
        from lambdas.core.programs import PROGRAM_NAME

        shown = repr(name) if PROGRAM_NAME.fullmatch(name) else "(not a program name)"
        fail(f"no such program: {shown} (declared: {', '.join(sorted(programs))})")
    return programs[name]


def running_stack(state_dir: Path) -> Any:
    """The running stack's state, this process pointed at it. A stack that is not running is
    one line on stderr and exit 2; one that stops while the command works is too (`main`)."""
    from ..local import LocalModeError, LocalState

    try:
        state = LocalState.running(state_dir)
    except LocalModeError as exc:
        fail(str(exc))
    state.use()
    options.local_state = state
    return state


def reflow(text: str) -> str:
    """Help text as paragraphs the terminal wraps: a docstring's line breaks inside a paragraph
    go (at 80 columns they cut sentences in two); blank lines and indented lines stay."""
    lines: list[str] = []
    for line in text.strip().splitlines():
        joins = lines and lines[-1].strip() and line.strip() and not line.startswith(" ")
        if joins and not lines[-1].startswith(" ") and not lines[-1].endswith(":"):
            lines[-1] += " " + line.strip()
        else:
            lines.append(line)
    return "\n".join(lines)


def reflow_help(typer_app: typer.Typer) -> None:
    """Reflow the help of a command tree, once every command is registered on it."""
    import inspect

    if typer_app.info.help and isinstance(typer_app.info.help, str):
        typer_app.info.help = reflow(typer_app.info.help)
    for command in typer_app.registered_commands:
        doc = command.help or (inspect.getdoc(command.callback) if command.callback else None)
        if doc:
            command.help = reflow(doc)
    for group in typer_app.registered_groups:
        if group.typer_instance is not None:
            reflow_help(group.typer_instance)


def main(argv: list[str] | None = None) -> int:
    """Console entry point; returns the exit code (tests call it with `argv`).

    Whatever a command did not foresee still ends in one line and a documented exit code,
    never a traceback (which could quote submitted data or a token): AWS without a region or
    credentials, an unreachable endpoint, a file that cannot be read or written, Ctrl-C.
    """
    options.local_state = None
    try:
        app(args=argv, prog_name="ilake")  # standalone: usage errors exit 2, with a message
    except SystemExit as exc:
        return exc.code if isinstance(exc.code, int) else (0 if exc.code is None else 1)
    except KeyboardInterrupt:
        err.print("interrupted")
        return 130
    except Exception as exc:  # the last line of defence, on purpose
        message, code = unforeseen(exc)
        state, options.local_state = options.local_state, None
        if state is not None and not state.answers():  # the stack stopped while we worked
            from ..local import not_answering

            message, code = not_answering(state.api_url), 2
        err.print(f"[bold red]error:[/] {escape(message)}", soft_wrap=True)
        return code
    return 0


def unforeseen(exc: BaseException) -> tuple[str, int]:
    """One line for an error no command handled, and its exit code (2 for the environment,
    3 for a fault in ilake). Never the exception's own text where it could quote content."""
    from botocore import exceptions as aws

    if isinstance(exc, aws.NoRegionError):
        return "no AWS region: set AWS_DEFAULT_REGION (or AWS_PROFILE with a region)", 2
    if isinstance(exc, aws.NoCredentialsError | aws.PartialCredentialsError):
        return (
            "no usable AWS credentials: set AWS_PROFILE, or AWS_ACCESS_KEY_ID and "
            "AWS_SECRET_ACCESS_KEY, or run where an IAM role applies",
            2,
        )
    if isinstance(exc, aws.ProfileNotFound):
        return f"the AWS profile {exc.kwargs.get('profile', '')!r} is not configured", 2
    if isinstance(exc, aws.EndpointConnectionError | aws.ConnectTimeoutError):
        return f"cannot reach {exc.kwargs.get('endpoint_url', 'the AWS endpoint')}", 2
    if isinstance(exc, aws.ClientError):
        error = exc.response.get("Error", {})
        return f"AWS refused {exc.operation_name}: {error.get('Code', 'error')}", 2
    if isinstance(exc, aws.BotoCoreError):
        return f"AWS client error: {type(exc).__name__}", 2
    if isinstance(exc, OSError):
        where = f": {exc.filename}" if exc.filename else ""
        return f"{exc.strerror or type(exc).__name__}{where}", 2
    return (
        f"unexpected {type(exc).__name__} (a fault in ilake; no details are printed, as they "
        "could quote submitted data)",
        3,
    )
