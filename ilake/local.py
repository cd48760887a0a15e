"""Local mode: moto in server mode plus the HTTP API, on loopback, in one process.

The HTTP front does what API Gateway does in the cloud: it turns each request into the REQUEST
authorizer's event, evaluates the returned policy against the method ARN, and hands the proxy
event (with the authorizer's context) to the real ingest handler. The handlers reach moto through
`AWS_ENDPOINT_URL`, so they run unchanged. GET /openapi.json serves the API's OpenAPI document
(lambdas/ingest/openapi.py), unauthenticated.

A running stack is known by its state file (`local.json`: endpoints, tokens, the serving
process's pid), which exists only while it runs; a file left by a stack that was killed is
recognised (the process is gone or the endpoints do not answer) and said so. The handlers' JSON
log lines go to `local.log` in the state dir, so the terminal keeps a line a minute.
"""

from __future__ import annotations

import base64
import importlib
import json
import logging
import os
import socket
import sys
import threading
import urllib.request
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import asdict, dataclass, field
from functools import cache
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, TextIO
from urllib.parse import urlsplit

import msgspec

from lambdas.core import resources

from .apigw import authorizer_context, authorizer_event, method_arn, policy_allows, proxy_event
from .metrics import captured_stdout, forward

REGION = "eu-west-1"
STATE_FILE = "local.json"
LOCK_FILE = "local.lock"
LOG_FILE = "local.log"
PROBE_TIMEOUT_S = 2.0  # a connect on loopback is answered (or refused) at once
# The handlers whose Powertools loggers local mode runs in process (they print to stdout).
LOGGING_HANDLERS = (
    "lambdas.authorizer.handler",
    "lambdas.ingest.handler",
    "lambdas.compaction.handler",
)
LOOPBACK = ("127.0.0.1", "localhost")  # IPv4 loopback: ThreadingHTTPServer binds AF_INET
MAX_REQUEST_BYTES = 8 * 1024 * 1024  # API Gateway's own payload limit is 10 MB
# The handlers' environment in local mode: the bucket, and every declared table as ilake-local-*
RESOURCE_NAMES = {"LAKE_BUCKET": "ilake-local-lake", **resources.table_environment("ilake-local-")}


class LocalModeError(Exception):
    """A problem the operator must fix (busy port, state dir in use); the message says which."""


@dataclass(frozen=True)
class LocalState:
    api_url: str
    aws_endpoint_url: str
    region: str
    bucket: str
    programs: dict[str, dict[str, str]]  # program -> {"token": ..., "key_id": ...}
    workflows: dict[str, str] = field(default_factory=dict)  # workflow -> state machine ARN
    pid: int | None = None  # the serving process; files written before it was recorded lack it

    def write(self, state_dir: Path) -> Path:
        path = state_dir / STATE_FILE
        path.touch(mode=0o600)  # it holds agent tokens: never readable by others, not even briefly
        path.chmod(0o600)
        path.write_text(json.dumps(asdict(self), indent=2) + "\n")
        return path

    @classmethod
    def read(cls, state_dir: Path) -> LocalState:
        """The endpoints and tokens as `ilake local up` wrote them (running or not)."""
        path = state_dir / STATE_FILE
        try:
            return msgspec.json.decode(path.read_bytes(), type=cls)
        except FileNotFoundError:
            raise LocalModeError(
                f"{path} not found: start local mode first (`ilake local up --state-dir "
                f"{state_dir}`)"
            ) from None
        except (OSError, msgspec.DecodeError, msgspec.ValidationError):
            raise LocalModeError(f"{path} is not a local mode state file") from None

    @classmethod
    def running(cls, state_dir: Path) -> LocalState:
        """The state of a stack that is up now. A file left behind by one that stopped (killed,
        crashed, or written before stacks removed theirs) raises LocalModeError saying so."""
        state = cls.read(state_dir)
        if not state.answers():
            raise LocalModeError(not_running(state_dir))
        return state

    def answers(self, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
        """Whether the stack that wrote this file is up: its process is alive (when the file
        names it) and both endpoints accept a connection."""
        if self.pid is not None and not process_alive(self.pid):
            return False
        return all(accepts(url, timeout_s) for url in (self.api_url, self.aws_endpoint_url))

    def enroll(self, program: str, agent_id: str) -> str:
        """Enroll an agent in the local stack, replacing the agent id's earlier token (a
        simulated person keeps their agent id from run to run); its token (stored hashed only).
        Raises LocalModeError when the stack does not answer or another enrollment of the same
        agent id got in between."""
        import boto3
        from botocore.exceptions import BotoCoreError, ClientError

        from lambdas.adapters.agents_table import enroll_agent
        from lambdas.core.agents import EnrollmentRefused

        dynamodb = boto3.client(
            "dynamodb",
            endpoint_url=self.aws_endpoint_url,
            region_name=self.region,
            aws_access_key_id="local",
            aws_secret_access_key="local",  # noqa: S106 - moto's placeholder credentials
        )
        try:
            return enroll_agent(
                dynamodb,
                RESOURCE_NAMES["AGENTS_TABLE"],
                program=program,
                agent_id=agent_id,
                replace=True,
            ).token
        except EnrollmentRefused as exc:
            raise LocalModeError(f"enrolling {agent_id} in {program}: {exc}; run again") from None
        except (BotoCoreError, ClientError):
            raise LocalModeError(not_answering(self.aws_endpoint_url)) from None

    def use(self) -> None:
        """Point boto3 (this process) at the local stack."""
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": self.aws_endpoint_url,
                "AWS_DEFAULT_REGION": self.region,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        os.environ.pop("AWS_PROFILE", None)


def not_answering(endpoint: str) -> str:
    """What a command says when the stack stops answering while it works."""
    return f"local mode does not answer at {endpoint}: is `ilake local up` running?"


def not_running(state_dir: Path) -> str:
    """What a command says about a state file that a stopped stack left behind."""
    return (
        f"local mode is not running ({state_dir / STATE_FILE} is left from a stack that "
        f"stopped): start it with `ilake local up --state-dir {state_dir}`"
    )


def process_alive(pid: int) -> bool:
    """Whether a process with this id exists (signal 0 checks without signalling)."""
    if pid <= 0:
        return False  # 0 and negative ids name process groups, never one stack
    if os.name == "nt":
        return True  # os.kill would end it: the endpoints alone decide there
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, as another user
    return True


def accepts(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    """Whether something listens at an http URL's host and port."""
    try:
        parts = urlsplit(url)
        address = (parts.hostname or "", parts.port or 80)
        with socket.create_connection(address, timeout=timeout_s):
            return True
    except (OSError, ValueError):
        return False


def take_lock(path: Path) -> None:
    """Claim the state dir for this process: the lock file holds its pid. A lock whose process
    is gone (a stack killed before it could clean up) is taken over."""
    for _ in range(2):
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            holder = _pid_in(path)
            if holder is None:
                raise LocalModeError(
                    f"{path} exists: another `ilake local up` uses this state dir "
                    "(or a crashed one left it; delete the file if so)"
                ) from None
            if process_alive(holder):
                raise LocalModeError(
                    f"{path} exists: another `ilake local up` (pid {holder}) uses this state dir"
                ) from None
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as lock:
            lock.write(f"{os.getpid()}\n")
        return
    raise LocalModeError(f"{path} was taken by another `ilake local up` just now")


def _pid_in(path: Path) -> int | None:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return None  # being written, or written by a version that did not record it


@contextmanager
def handler_logs_to(path: Path, *, fresh: bool = False) -> Iterator[Path]:
    """Send the handlers' JSON log lines (Powertools loggers, on stdout by default) to `path`,
    mode 600, appended (emptied first if `fresh`); back where they were on exit."""
    flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NOFOLLOW", 0)
    try:
        fd = os.open(path, flags | (os.O_TRUNC if fresh else 0), 0o600)
        os.chmod(fd if os.chmod in os.supports_fd else path, 0o600)  # an older file's bits
    except OSError as exc:
        raise LocalModeError(f"cannot write the handlers' log {path}: {exc.strerror}") from None
    with open(fd, "a", encoding="utf-8", buffering=1) as stream:
        handlers = [_log_handler(module) for module in LOGGING_HANDLERS]
        before: list[TextIO | None] = [handler.setStream(stream) for handler in handlers]
        try:
            yield path
        finally:
            for handler, previous in zip(handlers, before, strict=True):
                if previous is not None:
                    handler.setStream(previous)


def _log_handler(module: str) -> logging.StreamHandler[TextIO]:
    handler = importlib.import_module(module).logger.registered_handler
    if not isinstance(handler, logging.StreamHandler):
        raise TypeError(f"{module}'s logger does not write to a stream")
    return handler


class RequestTally:
    """Requests the HTTP front answered, by status: since the last `take()`, and in all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._recent: Counter[int] = Counter()
        self._total: Counter[int] = Counter()

    def add(self, status: int) -> None:
        with self._lock:
            self._recent[status] += 1
            self._total[status] += 1

    def take(self) -> Counter[int]:
        """The counts since the last call, and start counting again."""
        with self._lock:
            recent, self._recent = self._recent, Counter()
        return recent

    def total(self) -> Counter[int]:
        with self._lock:
            return Counter(self._total)


def requests_line(by_status: Counter[int]) -> str | None:
    """`12 requests: 11 x 200, 1 x 401`, or None when there were none."""
    n = sum(by_status.values())
    if not n:
        return None
    statuses = ", ".join(f"{count:,} x {status}" for status, count in sorted(by_status.items()))
    return f"{n:,} request{'' if n == 1 else 's'}: {statuses}"


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def _moto_api(endpoint: str, action: str, payload: dict[str, Any] | None = None) -> None:
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only, built here
        f"{endpoint}/moto-api/{action}",
        data=json.dumps(payload or {}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    with urllib.request.urlopen(request, timeout=10):  # noqa: S310 - our own loopback server
        pass


class _Context:
    function_name = "ilake-local"
    memory_limit_in_mb = 1769
    invoked_function_arn = f"arn:aws:lambda:{REGION}:123456789012:function:ilake-local"
    aws_request_id = "local"

    @staticmethod
    def get_remaining_time_in_millis() -> int:
        return 29_000


# The handlers keep per-invocation state in module globals (Powertools' resolver and metrics), as
# Lambda allows: one invocation at a time per container. Local mode is one container.
_container = threading.Lock()


@cache
def _cloudwatch() -> Any:
    import boto3

    return boto3.client("cloudwatch")


def handle(
    method: str, path: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, dict[str, str], bytes]:
    """One request through authorizer and ingest handler, as API Gateway runs them."""
    with _container:
        try:
            with captured_stdout() as printed:
                return _invoke(method, path, headers, body)
        finally:
            try:  # CloudWatch Logs' part: EMF to metrics; never fails a stored batch
                forward(printed.getvalue(), _cloudwatch())
            except Exception as exc:
                print(f"ilake local: metrics not recorded ({type(exc).__name__})", file=sys.stderr)


def _invoke(
    method: str, path: str, headers: dict[str, str], body: bytes | None
) -> tuple[int, dict[str, str], bytes]:
    from lambdas.authorizer.handler import Unauthorized
    from lambdas.authorizer.handler import handler as authorize
    from lambdas.ingest.handler import handler as ingest

    json_headers = {"Content-Type": "application/json"}
    route = path.split("?", 1)[0]
    parts = route.strip("/").split("/")
    if not (
        len(parts) == 4 and parts[:2] == ["v1", "programs"] and parts[3] in ("batches", "policy")
    ):
        return 404, json_headers, b'{"message":"Missing Authentication Token"}'
    try:
        policy = authorize(authorizer_event(method, route, headers, region=REGION), _Context())  # type: ignore[arg-type]
    except Unauthorized:
        return 401, json_headers, b'{"message":"Unauthorized"}'
    if not policy_allows(policy, method_arn(method, route, region=REGION)):
        return 403, json_headers, b'{"message":"User is not authorized to access this resource"}'
    # API Gateway delivers application/json bodies as binary (base64), see infra/ingest_api.py
    encoded = base64.b64encode(body).decode() if body else None
    event = proxy_event(
        method,
        route,
        headers,
        encoded,
        base64_encoded=bool(body),
        authorizer=authorizer_context(policy),
    )
    response = ingest(event, _Context())
    out_headers = dict(response.get("headers") or {})
    for name, values in (response.get("multiValueHeaders") or {}).items():
        out_headers[name] = values[-1]
    return int(response["statusCode"]), out_headers, str(response["body"]).encode()


OPENAPI_PATH = "/openapi.json"


@cache
def _openapi() -> bytes:
    """The API's OpenAPI document (lambdas/ingest/openapi.py), built on first request."""
    from lambdas.ingest.openapi import openapi_document

    with _container:  # it reads the handler's resolver
        return json.dumps(openapi_document(), indent=2).encode()


class _ApiHandler(BaseHTTPRequestHandler):
    server_version = "ilake-local"

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are not logged: a URL or header could carry a token."""

    def _serve(self) -> None:
        if self.command == "GET" and self.path.split("?", 1)[0] == OPENAPI_PATH:
            # The document, unauthenticated and read-only, as an API's docs are; no request body
            # is read, and the API's routes are untouched (it is not one of them).
            try:
                document = _openapi()
            except Exception as exc:
                print(f"ilake local: no OpenAPI document ({type(exc).__name__})", file=sys.stderr)
                self._reply(500, {"Content-Type": "application/json"}, b'{"message":"no document"}')
                return
            self._reply(200, {"Content-Type": "application/json"}, document)
            return
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_REQUEST_BYTES:
            self._reply(413, {"Content-Type": "application/json"}, b'{"message":"too large"}')
            return
        body = self.rfile.read(length) if length else None
        headers = dict(self.headers.items())
        try:
            status, headers_out, payload = handle(self.command, self.path, headers, body)
        except Exception:
            status, headers_out, payload = (
                502,
                {"Content-Type": "application/json"},
                (b'{"message":"Internal server error"}'),
            )
        self._reply(status, headers_out, payload)

    def _reply(self, status: int, headers: dict[str, str], payload: bytes) -> None:
        if isinstance(self.server, _ApiServer):
            self.server.requests.add(status)
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_DELETE = _serve


class _ApiServer(ThreadingHTTPServer):
    def __init__(self, address: tuple[str, int], requests: RequestTally) -> None:
        super().__init__(address, _ApiHandler)
        self.requests = requests


class LocalStack:
    """moto server + provisioning + HTTP API; `start()` then `stop()` (or use as a context).

    While it runs, `<state-dir>/local.json` names it and the handlers log to
    `<state-dir>/local.log` (or, `verbose`, to stdout as a Lambda does); `stop()` removes the
    state file and the lock."""

    def __init__(
        self,
        *,
        programs_dir: Path,
        state_dir: Path,
        host: str = "127.0.0.1",
        port: int = 8080,
        allow_non_loopback: bool = False,
        verbose: bool = False,
    ) -> None:
        if host not in LOOPBACK and not allow_non_loopback:
            raise LocalModeError(
                f"refusing to listen on {host}: local mode serves loopback only "
                "(pass --allow-non-loopback to override)"
            )
        self.programs_dir, self.state_dir, self.host, self.port = (
            programs_dir,
            state_dir,
            host,
            port,
        )
        self.verbose = verbose
        self.requests = RequestTally()
        self._moto: Any = None
        self._http: ThreadingHTTPServer | None = None
        self._serving = False
        self._lock_path = state_dir / LOCK_FILE
        self._state_path: Path | None = None  # the state file this stack wrote
        self._logs = ExitStack()
        self.state: LocalState | None = None

    def start(self) -> LocalState:
        if not self.state_dir.is_dir():
            raise LocalModeError(f"state dir {self.state_dir} does not exist (create it first)")
        take_lock(self._lock_path)
        try:
            return self._start()
        except BaseException:
            self.stop()
            raise

    def _start(self) -> LocalState:
        try:
            self._http = _ApiServer((self.host, self.port), self.requests)
        except OSError as exc:
            raise LocalModeError(
                f"cannot listen on {self.host}:{self.port}: {exc.strerror}"
            ) from None
        from moto.server import ThreadedMotoServer

        logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request lines from moto
        # moto's ASL interpreter logs every Choice rule that does not match (IsPresent false) as
        # an error; executions report their real failures through describe_execution
        logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)
        moto_port = free_port()
        self._moto = ThreadedMotoServer(ip_address="127.0.0.1", port=moto_port, verbose=False)
        self._moto.start()
        endpoint = f"http://127.0.0.1:{moto_port}"
        # moto's backends are per process: start from a clean slate, and let Step Functions run
        _moto_api(endpoint, "reset")
        _moto_api(endpoint, "config", {"stepfunctions": {"execute_state_machine": True}})
        os.environ.update(
            {
                "AWS_ENDPOINT_URL": endpoint,
                "AWS_DEFAULT_REGION": REGION,
                "AWS_ACCESS_KEY_ID": "local",
                "AWS_SECRET_ACCESS_KEY": "local",
                "MOTO_PORT": str(moto_port),
                "PROGRAMS_DIR": str(self.programs_dir),
                **RESOURCE_NAMES,
            }
        )
        os.environ.pop("AWS_SESSION_TOKEN", None)
        self.state = self._provision(endpoint)
        if not self.verbose:
            self._logs.enter_context(handler_logs_to(self.state_dir / LOG_FILE, fresh=True))
        self._state_path = self.state.write(self.state_dir)
        threading.Thread(target=self._http.serve_forever, name="ilake-api", daemon=True).start()
        self._serving = True
        return self.state

    def _provision(self, endpoint: str) -> LocalState:
        import boto3

        from lambdas.adapters.agents_table import enroll_agent
        from lambdas.authorizer import handler as authorizer_handler
        from lambdas.core.programs import load_programs
        from lambdas.core.settings import Settings
        from lambdas.ingest import handler as ingest_handler

        from .provision import Clients, provision
        from .workflows import provision_governance

        programs = load_programs(self.programs_dir)
        settings = Settings.from_env()
        clients = Clients.create(boto3.Session(region_name=REGION), endpoint_url=endpoint)
        key_arns = provision(clients, os.environ, programs, region=REGION)
        machines = provision_governance(
            boto3.Session(region_name=REGION),
            settings,
            programs,
            audit_table=RESOURCE_NAMES["AUDIT_TABLE"],
            endpoint_url=endpoint,
        )
        for cached in (
            ingest_handler.service,  # clients built from now on see the local endpoint
            authorizer_handler._dynamodb,
            _cloudwatch,
        ):
            cached.cache_clear()
        tokens = {
            name: enroll_agent(
                clients.dynamodb,
                RESOURCE_NAMES["AGENTS_TABLE"],
                program=name,
                agent_id=f"{name}-local-agent",
            ).token  # moto was reset at start: the agent id is new
            for name in programs
        }
        assert self._http is not None
        port = self._http.server_address[1]
        return LocalState(
            api_url=f"http://{self.host}:{port}",
            aws_endpoint_url=endpoint,
            region=REGION,
            bucket=settings.lake_bucket,
            programs={name: {"token": tokens[name], "key_id": key_arns[name]} for name in programs},
            workflows=machines,
            pid=os.getpid(),
        )

    def stop(self) -> None:
        if self._state_path is not None:  # first: from now on commands say it is not running
            self._state_path.unlink(missing_ok=True)
            self._state_path = None
        if self._http is not None:
            if self._serving:
                self._http.shutdown()  # waits for serve_forever to return
                self._serving = False
            self._http.server_close()
            self._http = None
        if self._moto is not None:
            self._moto.stop()
            self._moto = None
        self._logs.close()
        self._lock_path.unlink(missing_ok=True)

    def __enter__(self) -> LocalState:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
