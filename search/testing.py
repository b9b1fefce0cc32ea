"""A real OpenSearch 2.19 node for tests, built from Maven Central artifacts (no distribution).

`start_opensearch(workdir)` builds `search/engine` once (Maven: `compile
dependency:copy-dependencies` into a cache directory keyed by a hash of the engine's sources),
starts `registry.search.engine.EmbeddedOpenSearch` as a child JVM bound to 127.0.0.1 only, waits
for `/_cluster/health?wait_for_status=yellow` and returns an `EngineProcess` (`.url`, `.stop()`).

Needs Java 17+ and, for the first build, Maven (`mvn`, reaching Maven Central). Environment:

- `REGISTRY_SEARCH_ENGINE_CACHE`: where the built engine is kept
  (default `$XDG_CACHE_HOME/registry-search-engine`, else `~/.cache/registry-search-engine`);
- `REGISTRY_SEARCH_ENGINE_JAVA_OPTS`: extra JVM options, appended (so `-Xmx1g` wins);
- `JAVA_HOME`: the Java (and so Maven's Java) to use; otherwise `java` on PATH.

The JVM is stopped by `stop()`, at interpreter exit (atexit), and by itself when the Python
process that started it ends (`-parent-pid`), so a killed test run leaves no engine behind.
"""

from __future__ import annotations

import atexit
import contextlib
import fcntl
import hashlib
import os
import re
import shutil
import signal
import subprocess
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

import httpx

ENGINE_SOURCES = Path(__file__).resolve().parent / "engine"
MAIN_CLASS = "registry.search.engine.EmbeddedOpenSearch"
CLUSTER_NAME = "registry-test"
HOST = "127.0.0.1"  # the node never binds anything else
MIN_JAVA = 17

# Small heap, C1 only (starts ~40% faster; test workloads are tiny), serial GC (smallest
# footprint), plus the system properties of OpenSearch's own jvm.options that matter here.
JVM_OPTIONS = (
    "-Xms256m",
    "-Xmx512m",
    "-Xss1m",
    "-XX:+UseSerialGC",
    "-XX:TieredStopAtLevel=1",
    "-XX:+ExitOnOutOfMemoryError",
    "-XX:-OmitStackTraceInFastThrow",
    "-Djava.awt.headless=true",
    "-Dfile.encoding=UTF-8",
    "-Djna.nosys=true",
    "-Djava.locale.providers=SPI,COMPAT",
    "-Dio.netty.noUnsafe=true",
    "-Dio.netty.noKeySetOptimization=true",
    "-Dio.netty.recycler.maxCapacityPerThread=0",
    "-Dlog4j.shutdownHookEnabled=false",
    "-Dlog4j2.disable.jmx=true",
)

BUILD_TIMEOUT = 900.0  # the first build downloads ~50 MB of jars
STARTED_MARK = "REGISTRY-SEARCH-ENGINE started"
LOG_TAIL_LINES = 40


class EngineUnavailable(RuntimeError):
    """Java (17+) or, for a build, Maven is missing: the engine cannot be run here."""


class EngineError(RuntimeError):
    """Building or starting the engine failed; the message ends with the log's last lines."""


# -- prerequisites -------------------------------------------------------------------------


def _java_executable() -> str | None:
    java_home = os.environ.get("JAVA_HOME")
    if java_home:
        candidate = Path(java_home) / "bin" / "java"
        if os.access(candidate, os.X_OK):
            return str(candidate)
    return shutil.which("java")


def _java_major(java: str) -> tuple[int, str]:
    """The feature version of `java` and its first `-version` line."""
    out = subprocess.run(  # noqa: S603 - our own java binary, fixed arguments
        [java, "-version"], capture_output=True, text=True, timeout=60, check=False
    )
    text = (out.stderr or out.stdout).strip()
    first = text.splitlines()[0] if text else ""
    match = re.search(r'version "(\d+)(?:\.(\d+))?', first)
    if not match:
        return 0, first or f"`{java} -version` printed nothing"
    major = int(match.group(1))
    if major == 1 and match.group(2):  # "1.8.0_392"
        major = int(match.group(2))
    return major, first


def _javac_available(java: str) -> bool:
    return (Path(java).resolve().parent / "javac").exists() or shutil.which("javac") is not None


def java_and_maven_available() -> tuple[bool, str]:
    """Whether the OpenSearch node can run here; the second item says what was found or what is
    missing. Maven (and a JDK's javac) are needed only when the engine is not built yet."""
    return _available(_built_dir())


def _available(built: Path) -> tuple[bool, str]:
    java = _java_executable()
    if java is None:
        return False, "no `java` on PATH (nor in JAVA_HOME): the search engine needs Java 17+"
    try:
        major, line = _java_major(java)
    except (OSError, subprocess.SubprocessError) as exc:
        return False, f"`{java} -version` failed: {exc}"
    if major < MIN_JAVA:
        return False, f"{java} is Java {major or '?'} ({line}); the search engine needs {MIN_JAVA}+"
    if _build_complete(built):
        return True, f"{line}; engine already built in {built}"
    mvn = shutil.which("mvn")
    if mvn is None:
        return False, "no `mvn` on PATH: Maven is needed to build the search engine once"
    if not _javac_available(java):
        return False, f"no `javac` next to {java}: building the engine needs a JDK, not a JRE"
    return True, f"{line}; Maven {mvn}"


# -- build -----------------------------------------------------------------------------------


def _sources_hash(sources: Path) -> str:
    """Hash of an engine's pom and sources: a change means a new build."""
    files = [sources / "pom.xml"]
    files += sorted(p for p in (sources / "src").rglob("*") if p.is_file())
    digest = hashlib.sha256()
    for path in files:
        digest.update(path.relative_to(sources).as_posix().encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()[:16]


def engine_hash() -> str:
    return _sources_hash(ENGINE_SOURCES)


def cache_root() -> Path:
    configured = os.environ.get("REGISTRY_SEARCH_ENGINE_CACHE")
    if configured:
        return Path(configured).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg else Path.home() / ".cache"
    return base / "registry-search-engine"


def _built_dir() -> Path:
    return cache_root() / engine_hash()


def _classpath(built: Path) -> str:
    return os.pathsep.join([str(built / "target" / "classes"), str(built / "target" / "lib" / "*")])


def _build_complete(built: Path) -> bool:
    ready = built / "READY"
    if not ready.exists():
        return False
    jars = ready.read_text().split()
    lib = built / "target" / "lib"
    return bool(jars) and all((lib / jar).is_file() for jar in jars)


def _tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    try:
        with path.open(encoding="utf-8", errors="replace") as fh:
            return "".join(deque(fh, maxlen=lines)).rstrip()
    except OSError:
        return f"(no log at {path})"


def build_engine(*, timeout: float = BUILD_TIMEOUT) -> Path:
    """Build the OpenSearch engine if needed; returns its directory (`target/classes`,
    `target/lib`)."""
    return _build(ENGINE_SOURCES, _built_dir(), timeout=timeout)


def _build(sources: Path, built: Path, *, timeout: float) -> Path:
    """Build the Maven project `sources` into `built` unless it is there. Concurrent callers
    (pytest-xdist workers) wait on a lock; a build goes to a scratch directory that is renamed
    into place when complete."""
    if _build_complete(built):
        return built
    root = cache_root()
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{built.name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if _build_complete(built):
            return built
        mvn = shutil.which("mvn")
        if mvn is None:
            raise EngineUnavailable("no `mvn` on PATH: Maven is needed to build the search engine")
        scratch = root / f"{built.name}.build-{os.getpid()}"
        shutil.rmtree(scratch, ignore_errors=True)
        scratch.mkdir()
        shutil.copy2(sources / "pom.xml", scratch / "pom.xml")
        shutil.copytree(sources / "src", scratch / "src")
        log = scratch / "build.log"
        command = [mvn, "-B", "-q", "-f", str(scratch / "pom.xml"),
                   "compile", "dependency:copy-dependencies"]  # fmt: skip
        env = dict(os.environ)
        java = _java_executable()
        if java and "JAVA_HOME" not in env:  # let Maven use the same Java as the node
            env["JAVA_HOME"] = str(Path(java).resolve().parent.parent)
        try:
            with log.open("w") as out:
                result = subprocess.run(  # noqa: S603 - fixed Maven invocation
                    command, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                    cwd=scratch, env=env, timeout=timeout, check=False,
                )  # fmt: skip
        except subprocess.TimeoutExpired as exc:
            raise EngineError(
                f"building the search engine took over {timeout:.0f} s ({' '.join(command)});"
                f" last lines of {log}:\n{_tail(log)}"
            ) from exc
        if result.returncode != 0:
            raise EngineError(
                f"building the search engine failed (exit {result.returncode}:"
                f" {' '.join(command)}); last lines of {log}:\n{_tail(log)}"
            )
        jars = sorted(p.name for p in (scratch / "target" / "lib").glob("*.jar"))
        (scratch / "READY").write_text("\n".join(jars) + "\n")
        shutil.rmtree(built, ignore_errors=True)
        scratch.rename(built)
        return built


# -- the running node ---------------------------------------------------------------------

_running: set[EngineProcess] = set()
_running_lock = threading.Lock()


class EngineProcess:
    """A running node: `url`, `port`, `pid`, `home`, `log_path`; `stop()` ends it."""

    def __init__(self, process: subprocess.Popen[bytes], *, home: Path, log_path: Path) -> None:
        self.process = process
        self.home = home
        self.log_path = log_path
        self.port = 0
        self.url = ""

    @property
    def pid(self) -> int:
        return self.process.pid

    def running(self) -> bool:
        return self.process.poll() is None

    def rss_bytes(self) -> int | None:
        """Resident memory of the node process (Linux), or None."""
        try:
            for line in Path(f"/proc/{self.pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
        except (OSError, ValueError, IndexError):
            return None
        return None

    def log_tail(self, lines: int = LOG_TAIL_LINES) -> str:
        return _tail(self.log_path, lines)

    def stop(self, timeout: float = 30.0) -> int | None:
        """SIGTERM (the node closes cleanly), SIGKILL after `timeout`; returns the exit code."""
        with _running_lock:
            _running.discard(self)
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(10)
        return self.process.returncode

    def __enter__(self) -> EngineProcess:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.process.returncode}"
        return f"<EngineProcess pid={self.pid} url={self.url or '?'} {state}>"


@atexit.register
def _stop_all() -> None:
    with _running_lock:
        engines = list(_running)
    for engine in engines:
        with contextlib.suppress(Exception):
            engine.stop(timeout=15)


def _java_command(
    built: Path,
    home: Path,
    port: int,
    parent_pid: int,
    *,
    options: tuple[str, ...] = JVM_OPTIONS,
    main_class: str = MAIN_CLASS,
) -> list[str]:
    java = _java_executable()
    if java is None:
        raise EngineUnavailable("no `java` on PATH (nor in JAVA_HOME)")
    extra = os.environ.get("REGISTRY_SEARCH_ENGINE_JAVA_OPTS", "").split()
    return [
        java,
        *options,
        f"-Djava.io.tmpdir={home / 'tmp'}",
        *extra,
        "-cp",
        _classpath(built),
        main_class,
        "-home", str(home),
        "-port", str(port),
        "-cluster-name", CLUSTER_NAME,
        "-parent-pid", str(parent_pid),
    ]  # fmt: skip


def start_opensearch(
    workdir: Path, *, timeout: float = 180, port: int = 0, parent_pid: int | None = None
) -> EngineProcess:
    """Build (once, cached) and start a single-node OpenSearch on 127.0.0.1.

    `workdir` receives the node's home (`opensearch/`: data, logs, config) and its output
    (`opensearch.log`). `port=0` picks a free port. The node ends with the process `parent_pid`
    (default: this one; another, e.g. pytest-xdist's controller, lets sibling processes share
    it: it is then not stopped at this process's exit either). `timeout` is for the start (up to yellow);
    a first build has its own limit (BUILD_TIMEOUT).
    Raises EngineUnavailable without Java/Maven, EngineError (with the log's last lines) when
    the build or the start fails; a node that failed to start is stopped.
    """
    return _start_node(
        "opensearch",
        Path(workdir),
        available=java_and_maven_available,
        build=build_engine,
        options=JVM_OPTIONS,
        main_class=MAIN_CLASS,
        timeout=timeout,
        port=port,
        parent_pid=parent_pid,
    )


def _start_node(
    name: str,
    workdir: Path,
    *,
    available: Callable[[], tuple[bool, str]],
    build: Callable[[], Path],
    options: tuple[str, ...],
    main_class: str,
    timeout: float,
    port: int,
    parent_pid: int | None,
) -> EngineProcess:
    """Build (once) and start a node of either flavor: home `workdir/<name>`, output
    `workdir/<name>.log`."""
    ok, reason = available()
    if not ok:
        raise EngineUnavailable(reason)
    built = build()  # its own, longer limit: the first build downloads
    deadline = time.monotonic() + timeout
    workdir = workdir.resolve()
    home = workdir / name
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    (home / "http.port").unlink(missing_ok=True)
    command = _java_command(
        built, home, port, parent_pid or os.getpid(), options=options, main_class=main_class
    )
    own = parent_pid in (None, os.getpid())
    return _launch(command, home, workdir / f"{name}.log", deadline, own=own)


def _launch(
    command: list[str], home: Path, log_path: Path, deadline: float, *, own: bool
) -> EngineProcess:
    """Start a node's JVM and wait until it answers yellow; `own`: stop it at this exit."""
    with log_path.open("wb") as log:
        process = subprocess.Popen(  # noqa: S603 - our own JVM command line
            command, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, cwd=home
        )
    engine = EngineProcess(process, home=home, log_path=log_path)
    if own:
        with _running_lock:
            _running.add(engine)
    try:
        engine.port = _wait_for_port(engine, home / "http.port", deadline)
        engine.url = f"http://{HOST}:{engine.port}"
        _wait_for_yellow(engine, deadline)
    except BaseException as exc:
        engine.stop(timeout=10)
        if isinstance(exc, EngineError):
            raise
        if isinstance(exc, Exception):
            raise EngineError(
                f"search engine did not start: {exc}; last lines of {log_path}:\n"
                f"{engine.log_tail()}"
            ) from exc
        raise
    return engine


def _wait_for_port(engine: EngineProcess, port_file: Path, deadline: float) -> int:
    while True:
        if port_file.exists():
            text = port_file.read_text().strip()
            if text.isdigit():
                return int(text)
        if not engine.running():
            raise EngineError(
                f"search engine exited with code {engine.process.returncode} before it started;"
                f" last lines of {engine.log_path}:\n{engine.log_tail()}"
            )
        if time.monotonic() > deadline:
            raise EngineError(
                f"search engine did not report its port in time; last lines of"
                f" {engine.log_path}:\n{engine.log_tail()}"
            )
        time.sleep(0.1)


def _wait_for_yellow(engine: EngineProcess, deadline: float) -> None:
    last = "no answer"
    with httpx.Client(base_url=engine.url, timeout=10.0, trust_env=False) as client:
        while time.monotonic() < deadline:
            if not engine.running():
                break
            try:
                response = client.get(
                    "/_cluster/health", params={"wait_for_status": "yellow", "timeout": "5s"}
                )
                if response.status_code == 200 and response.json().get("status") in (
                    "yellow",
                    "green",
                ):
                    return
                last = f"HTTP {response.status_code}: {response.text[:200]}"
            except httpx.HTTPError as exc:
                last = repr(exc)
            time.sleep(0.2)
    raise EngineError(
        f"search engine at {engine.url} did not reach yellow ({last}); last lines of"
        f" {engine.log_path}:\n{engine.log_tail()}"
    )


# -- Elasticsearch 8 ---------------------------------------------------------------------------
# The same kind of node for Elasticsearch 8.19, from `search/engine-es` (its pom says what Maven
# Central has and lacks for 8.x). Built into its own cache directory (`es-<hash>`) and started as a
# child JVM the same way; only the build and the command line differ from the OpenSearch node.

ES_ENGINE_SOURCES = Path(__file__).resolve().parent / "engine-es"
ES_MAIN_CLASS = "registry.search.engine.es.EmbeddedElasticsearch"
# Elasticsearch 8.16+ runs with the CLDR locale data (COMPAT is gone from newer JDKs).
ES_JVM_OPTIONS = tuple(
    "-Djava.locale.providers=CLDR" if option.startswith("-Djava.locale.providers=") else option
    for option in JVM_OPTIONS
)


def es_engine_hash() -> str:
    return _sources_hash(ES_ENGINE_SOURCES)


def _es_built_dir() -> Path:
    return cache_root() / f"es-{es_engine_hash()}"


def elasticsearch_available() -> tuple[bool, str]:
    """Like `java_and_maven_available`, for the Elasticsearch node (its own build)."""
    return _available(_es_built_dir())


def build_es_engine(*, timeout: float = BUILD_TIMEOUT) -> Path:
    """Build the Elasticsearch engine if needed (as `build_engine` does); returns its directory."""
    return _build(ES_ENGINE_SOURCES, _es_built_dir(), timeout=timeout)


def start_elasticsearch(
    workdir: Path, *, timeout: float = 180, port: int = 0, parent_pid: int | None = None
) -> EngineProcess:
    """Build (once, cached) and start a single-node Elasticsearch 8.19 on 127.0.0.1.

    As `start_opensearch`, with `elasticsearch/` and `elasticsearch.log` in `workdir`. The node
    has no X-Pack (so no security) and, of the distribution's modules, only transport-netty4
    plus stand-ins for `GET /` and the `ngram` tokenizer: no scaled_float, painless or _reindex
    (see `search/engine-es/pom.xml`).
    """
    return _start_node(
        "elasticsearch",
        Path(workdir),
        available=elasticsearch_available,
        build=build_es_engine,
        options=ES_JVM_OPTIONS,
        main_class=ES_MAIN_CLASS,
        timeout=timeout,
        port=port,
        parent_pid=parent_pid,
    )
