"""Run a Lambda function's real handler in-process: import by path, env, context."""

import contextlib
import importlib.util
import io
import itertools
import os
import sys
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any, TextIO

_module_counter = itertools.count()


@dataclass
class LambdaContext:
    """The attributes and method of the Python runtime's context object that code uses."""

    function_name: str
    memory_limit_in_mb: int
    invoked_function_arn: str
    aws_request_id: str
    timeout_seconds: float
    function_version: str = "$LATEST"
    log_group_name: str = ""
    log_stream_name: str = ""
    identity: Any = None
    client_context: Any = None
    _started: float = field(default_factory=time.monotonic)

    def get_remaining_time_in_millis(self) -> int:
        elapsed = time.monotonic() - self._started
        return max(0, int((self.timeout_seconds - elapsed) * 1000))


@contextlib.contextmanager
def patched_environ(values: dict[str, str]) -> Iterator[None]:
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, old in saved.items():
            if old is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = old


class LogCapture(io.TextIOBase):
    """Where handlers' stdout goes: kept as (function logical id, line), optionally echoed."""

    def __init__(self, echo: TextIO | None = None, maxlen: int = 20_000) -> None:
        self.lines: deque[tuple[str, str]] = deque(maxlen=maxlen)
        self.echo = echo
        self.current = "-"
        self._partial = ""
        self._lock = threading.Lock()

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        with self._lock:
            if self.echo is not None:
                self.echo.write(text)
            self._partial += text
            *complete, self._partial = self._partial.split("\n")
            for line in complete:
                self.lines.append((self.current, line))
        return len(text)


class _StdoutRouter(io.TextIOBase):
    """The one object handlers' stdout is redirected to, in every LocalCloud of the process.

    Loggers bind ``sys.stdout`` when they are built (Powertools' Logger does, at import time of
    the layer), and the layer is imported once per process: a per-cloud stream would keep
    receiving the output of later clouds. The router forwards to the active cloud's capture.
    """

    def __init__(self) -> None:
        self.target: LogCapture | None = None

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        target = self.target
        if target is not None:
            target.write(text)
        return len(text)

    def flush(self) -> None:
        return None


HANDLER_STDOUT = _StdoutRouter()


class LambdaFunction:
    """One AWS::Lambda::Function of the template, loaded lazily (first call = cold start)."""

    def __init__(
        self,
        logical_id: str,
        *,
        name: str,
        arn: str,
        code_dir: Path | None,
        handler: str,
        environment: dict[str, str],
        timeout: float,
        memory: int,
        runtime: str,
        region: str,
        logs: LogCapture,
        properties: dict[str, Any],
    ) -> None:
        self.logical_id = logical_id
        self.name = name
        self.arn = arn
        self.code_dir = code_dir
        self.handler_spec = handler
        self.timeout = timeout
        self.memory = memory
        self.runtime = runtime
        self.properties = properties
        self.logs = logs
        self.environment = {
            "AWS_REGION": region,
            "AWS_DEFAULT_REGION": region,
            "AWS_LAMBDA_FUNCTION_NAME": name,
            "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": str(memory),
            "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{name}",
            "AWS_LAMBDA_LOG_STREAM_NAME": "local",
            "AWS_EXECUTION_ENV": f"AWS_Lambda_{runtime}",
            "LAMBDA_TASK_ROOT": str(code_dir or ""),
            "_HANDLER": handler,
            "POWERTOOLS_TRACE_DISABLED": "true",
            **environment,
        }
        self.module: ModuleType | None = None
        self.module_name = ""
        self._handler: Callable[[Any, Any], Any] | None = None
        self.invocations = 0
        self.errors = 0

    @contextlib.contextmanager
    def _active(self) -> Iterator[None]:
        previous = self.logs.current
        self.logs.current = self.logical_id
        try:
            with patched_environ(self.environment), contextlib.redirect_stdout(HANDLER_STDOUT):
                yield
        finally:
            self.logs.current = previous

    def load(self) -> Callable[[Any, Any], Any]:
        if self._handler is not None:
            return self._handler
        if self.code_dir is None:
            raise RuntimeError(f"{self.logical_id}: no local code folder (CodeUri) to run")
        module_path, _, attribute = self.handler_spec.rpartition(".")
        file = self.code_dir.joinpath(*module_path.split(".")).with_suffix(".py")
        if not file.is_file():
            raise RuntimeError(f"{self.logical_id}: handler file {file} not found")
        self.module_name = f"_billing_local_fn_{next(_module_counter)}_{self.logical_id}"
        spec = importlib.util.spec_from_file_location(self.module_name, file)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[self.module_name] = module
        sys.path.insert(0, str(self.code_dir))
        try:
            with self._active():
                spec.loader.exec_module(module)
        except BaseException:
            sys.modules.pop(self.module_name, None)
            raise
        finally:
            with contextlib.suppress(ValueError):
                sys.path.remove(str(self.code_dir))
        self.module = module
        self._handler = getattr(module, attribute)
        return self._handler

    def context(self) -> LambdaContext:
        return LambdaContext(
            function_name=self.name,
            memory_limit_in_mb=self.memory,
            invoked_function_arn=self.arn,
            aws_request_id=str(uuid.uuid4()),
            timeout_seconds=self.timeout,
            log_group_name=f"/aws/lambda/{self.name}",
            log_stream_name="local",
        )

    def __call__(self, event: Any) -> Any:
        handler = self.load()
        self.invocations += 1
        try:
            with self._active():
                return handler(event, self.context())
        except BaseException:
            self.errors += 1
            raise

    def unload(self) -> None:
        if self.module_name:
            sys.modules.pop(self.module_name, None)
        self.module = None
        self._handler = None
