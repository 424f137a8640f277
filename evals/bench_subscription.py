"""Subscription throughput into our live cache beside a bare asyncua subscription, each client in its own process."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import platform
import select
import signal
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any, Protocol

import psutil
from asyncua import Client, ua

from connectors.cache import BYTES_PER_SAMPLE, LiveCache
from connectors.client import LineClient
from connectors.line import (
    Band,
    DataType,
    Equipment,
    LineDefinition,
    LineInfo,
    NodeAddress,
    Tag,
    default_line_path,
    load_line,
)
from connectors.session import ConnectionOptions
from connectors.simulator.thread import free_port

REPO_ROOT = Path(__file__).resolve().parent.parent
MODES = ("bare", "ours")
DEFAULT_TAGS = (1000, 5000, 10000)
PUBLISHING_INTERVAL_MS = 500.0
HISTORY_SAMPLES = 600
ITEMS_PER_REQUEST = 1000  # the chunk LineClient uses; servers cap monitored items per request
SAMPLE_EVERY_S = 0.25
QUIET_S = 0.1  # no update for this long means we are between two rounds of the simulator
QUIET_POLL_S = 0.01
QUIET_SEARCH_S = 5.0  # longer than a round of the simulator, even a slow one
# Bounded latency record: 10k tags at 1 Hz for 100 s. Beyond it updates are still counted, not timed.
LATENCY_CAPACITY = 1_000_000
RATIO_GOAL = 0.9
RATE_GOAL_TAGS = 10_000
RATE_GOAL_FRACTION = 0.9  # of one update per tag per second
SYNTHETIC_EQUIPMENT = "synthetic"

log = logging.getLogger("evals.bench_subscription")


class BenchError(Exception):
    """A benchmark step failed: the simulator did not start, or a client died or overran its time budget."""


# --- the client side: runs in its own process, prints JSON lines ------------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ClientRun:
    """What one client process measured over its window (after warm-up)."""

    mode: str
    tags: int
    subscribe_s: float  # connect and create all monitored items
    window_s: float
    window_aligned: bool  # both ends fell in a pause between rounds (False: the stream never paused)
    updates: int
    updates_per_s: float
    cpu_percent: float  # of one core, this client process alone
    latency_p50_ms: float | None
    latency_p95_ms: float | None
    latency_samples: int
    rss_mb: float
    source_rounds: int  # distinct source timestamps seen: the simulator stamps one per publishing round
    round_interval_s: float | None  # mean spacing of those rounds: the server's achieved period
    delivered_pct: float | None  # updates / (tags x rounds seen): below 100 the server overwrote or we lost values
    warnings: int  # log records at WARNING or above (asyncua queue or handle warnings land here)
    warning_examples: list[str]
    sampler_cpu_percent: float | None = None  # ours: the latency sampler's own share of cpu_percent
    samples_stored: int | None = None
    bytes_per_sample: float | None = None  # typed-array payload only
    bytes_per_sample_with_overhead: float | None = None  # sys.getsizeof of arrays and ring objects
    stated_bytes_per_sample: int | None = None


class _Probe(Protocol):
    """How the measuring loop sees a client: a running update count and latencies collected in the window."""

    latencies: array[float]
    source_times: set[datetime]

    def count(self) -> int: ...

    def start(self) -> None: ...

    def tick(self) -> None: ...

    def stop(self) -> None: ...


class _BareHandler:
    """The least a subscriber can do: count, and time each update against its source timestamp."""

    def __init__(self) -> None:
        self.updates = 0
        self.measuring = False
        self.latencies: array[float] = array("d")
        self.source_times: set[datetime] = set()

    def datachange_notification(self, node: Any, val: Any, data: Any) -> None:
        self.updates += 1
        if self.measuring:
            stamp = data.monitored_item.Value.SourceTimestamp
            if len(self.latencies) < LATENCY_CAPACITY:
                self.latencies.append(time.time() - stamp.timestamp())
            self.source_times.add(stamp)

    def status_change_notification(self, status: Any) -> None:
        log.warning("subscription status change: %s", status)

    def count(self) -> int:
        return self.updates

    def start(self) -> None:
        self.measuring = True

    def tick(self) -> None:
        pass

    def stop(self) -> None:
        self.measuring = False


class _CacheProbe:
    """Reads our cache as a consumer would, every SAMPLE_EVERY_S, timing each reading once."""

    def __init__(self, cache: LiveCache) -> None:
        self._cache = cache
        self._last_pass: datetime | None = None
        self.latencies: array[float] = array("d")
        self.source_times: set[datetime] = set()
        self.busy_s = 0.0  # time spent sampling, so its cost can be told apart from the connector's

    def count(self) -> int:
        return self._cache.updates

    def start(self) -> None:
        self._last_pass = _latest_received(self._cache)

    def tick(self) -> None:
        began = time.perf_counter()
        last = self._last_pass
        newest = last
        for reading in self._cache.readings().values():
            if reading is None or reading.source_time is None or (last is not None and reading.received_time <= last):
                continue
            if len(self.latencies) < LATENCY_CAPACITY:
                self.latencies.append((reading.received_time - reading.source_time).total_seconds())
            self.source_times.add(reading.source_time)
            if newest is None or reading.received_time > newest:
                newest = reading.received_time
        self._last_pass = newest
        self.busy_s += time.perf_counter() - began

    def stop(self) -> None:
        self.tick()


def _latest_received(cache: LiveCache) -> datetime | None:
    times = [r.received_time for r in cache.readings().values() if r is not None]
    return max(times, default=None)


@dataclass(frozen=True, kw_only=True)
class _Window:
    wall_s: float
    cpu_s: float
    updates: int
    aligned: bool


class _WarningTally(logging.Handler):
    """Counts warnings from any library in the client process and keeps the first few."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.count = 0
        self.examples: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.count += 1
        if len(self.examples) < 5:
            self.examples.append(f"{record.name}: {record.getMessage()}"[:300])


def _emit(message: dict[str, Any]) -> None:
    print(json.dumps(message), flush=True)


def _cpu_s(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


async def _after_burst(count: Callable[[], int]) -> bool:
    """Wait for the next burst of updates to end; False when the stream never paused.

    The simulator stamps all its tags once a round, so updates arrive in bursts. A window cut anywhere would
    count a part round at either end: at 20 s and 1 Hz that is up to 5 % noise on each rate and 10 % on their
    ratio. Both ends cut just after a burst makes the window whole rounds, its count and its length alike.
    A client that never pauses is saturated, and its stream is smooth enough to cut anywhere.
    """
    deadline = time.monotonic() + QUIET_SEARCH_S
    last = count()
    changed_at: float | None = None
    while time.monotonic() < deadline:
        await asyncio.sleep(QUIET_POLL_S)
        current, now = count(), time.monotonic()
        if current != last:
            last, changed_at = current, now
        elif changed_at is not None and now - changed_at >= QUIET_S:
            return True
    return False


async def _measure(probe: _Probe, warmup_s: float, seconds: float) -> _Window:
    """Warm up, then count updates and CPU over whole rounds; the parent samples the server on our markers."""
    await asyncio.sleep(warmup_s)
    me = psutil.Process()
    aligned_start = await _after_burst(probe.count)
    _emit({"event": "window-start"})
    updates0, cpu0, began = probe.count(), _cpu_s(me), time.monotonic()
    probe.start()
    deadline = began + seconds
    while (now := time.monotonic()) < deadline:
        await asyncio.sleep(min(SAMPLE_EVERY_S, deadline - now))
        probe.tick()
    aligned_end = await _after_burst(probe.count)
    window = _Window(
        wall_s=time.monotonic() - began,
        cpu_s=_cpu_s(me) - cpu0,
        updates=probe.count() - updates0,
        aligned=aligned_start and aligned_end,
    )
    _emit({"event": "window-end"})
    probe.stop()  # the last sampling pass; nothing arrives meanwhile, so the count above stays exact
    return window


def _percentile_ms(ordered: Sequence[float], q: float) -> float | None:
    if not ordered:
        return None
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000.0, 1)


def _result(
    mode: str, tags: int, subscribe_s: float, window: _Window, probe: _Probe, tally: _WarningTally, **extra: Any
) -> ClientRun:
    ordered = sorted(probe.latencies)
    rounds = sorted(probe.source_times)
    interval = (rounds[-1] - rounds[0]).total_seconds() / (len(rounds) - 1) if len(rounds) > 1 else None
    return ClientRun(
        mode=mode,
        tags=tags,
        subscribe_s=round(subscribe_s, 2),
        window_s=round(window.wall_s, 3),
        window_aligned=window.aligned,
        updates=window.updates,
        updates_per_s=round(window.updates / window.wall_s, 1),
        cpu_percent=round(100.0 * window.cpu_s / window.wall_s, 1),
        latency_p50_ms=_percentile_ms(ordered, 0.50),
        latency_p95_ms=_percentile_ms(ordered, 0.95),
        latency_samples=len(ordered),
        rss_mb=round(psutil.Process().memory_info().rss / 2**20, 1),
        source_rounds=len(rounds),
        round_interval_s=round(interval, 3) if interval is not None else None,
        delivered_pct=round(100.0 * window.updates / (tags * len(rounds)), 1) if rounds else None,
        warnings=tally.count,
        warning_examples=tally.examples,
        **extra,
    )


def synthetic_line(tags: int) -> LineDefinition:
    """A line definition over the simulator's synthetic load tags, as a site would write it for them."""
    uri = load_line(default_line_path()).line.namespace_uri
    return LineDefinition(
        line=LineInfo(id="synthetic-load", name="Synthetic load", namespace_uri=uri),
        equipment=[Equipment(id=SYNTHETIC_EQUIPMENT, name="Synthetic load tags")],
        tags=[
            Tag(
                name=f"{SYNTHETIC_EQUIPMENT}.t{i:05d}",
                node=NodeAddress(namespace_uri=uri, identifier=f"Synthetic.T{i:05d}"),
                equipment=SYNTHETIC_EQUIPMENT,
                data_type=DataType.DOUBLE,
                eu_range=Band(low=-1e9, high=1e9),
                update_interval_s=1.0,
            )
            for i in range(tags)
        ],
    )


async def _run_bare(
    options: ConnectionOptions, tags: int, warmup_s: float, seconds: float, tally: _WarningTally
) -> ClientRun:
    # The same session settings our connector uses, so only what happens after a notification differs.
    endpoint = options.endpoint
    uri = load_line(default_line_path()).line.namespace_uri
    handler = _BareHandler()
    began = time.monotonic()
    client = Client(endpoint, timeout=options.timeout_s, watchdog_intervall=options.watchdog_s)
    client.session_timeout = int(options.session_timeout_s * 1000)
    await asyncio.wait_for(client.connect(), timeout=options.timeout_s * 2)
    try:
        ns = await client.get_namespace_index(uri)
        subscription = await client.create_subscription(PUBLISHING_INTERVAL_MS, handler)
        data_filter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
        requests = [
            ua.MonitoredItemCreateRequest(
                ItemToMonitor=ua.ReadValueId(
                    NodeId=ua.NodeId(f"Synthetic.T{i:05d}", ns), AttributeId=ua.AttributeIds.Value
                ),
                MonitoringMode=ua.MonitoringMode.Reporting,
                RequestedParameters=ua.MonitoringParameters(
                    ClientHandle=i + 1, SamplingInterval=0.0, QueueSize=1, DiscardOldest=True, Filter=data_filter
                ),
            )
            for i in range(tags)
        ]
        for start in range(0, tags, ITEMS_PER_REQUEST):
            results = await subscription.create_monitored_items(requests[start : start + ITEMS_PER_REQUEST])
            refused = [r for r in results if isinstance(r, ua.StatusCode)]
            if refused:
                raise BenchError(f"the server refused {len(refused)} monitored items, first: {refused[0].name}")
        subscribe_s = time.monotonic() - began
        window = await _measure(handler, warmup_s, seconds)
        return _result("bare", tags, subscribe_s, window, handler, tally)
    finally:
        with contextlib.suppress(Exception):
            await asyncio.wait_for(client.disconnect(), timeout=5.0)


async def _run_ours(
    options: ConnectionOptions, tags: int, warmup_s: float, seconds: float, tally: _WarningTally
) -> ClientRun:
    line = synthetic_line(tags)
    began = time.monotonic()
    client = LineClient(
        line,
        options,
        history_samples=HISTORY_SAMPLES,
        publishing_interval_ms=PUBLISHING_INTERVAL_MS,
    )
    await client.start()
    try:
        await client.wait_available(_subscribe_budget_s(tags))
        subscribe_s = time.monotonic() - began
        probe = _CacheProbe(client.cache)
        window = await _measure(probe, warmup_s, seconds)
        stored = client.cache.samples_stored()
        # Reaching into the cache's ring buffers on purpose: the figure to check is what they really hold.
        rings = list(client.cache._history.values())
        arrays = [a for ring in rings for a in (ring.times, ring.values, ring.statuses)]
        payload = sum(a.itemsize * len(a) for a in arrays)
        overhead = sum(sys.getsizeof(a) for a in arrays) + sum(sys.getsizeof(ring) for ring in rings)
        return _result(
            "ours",
            tags,
            subscribe_s,
            window,
            probe,
            tally,
            sampler_cpu_percent=round(100.0 * probe.busy_s / window.wall_s, 1),
            samples_stored=stored,
            bytes_per_sample=round(payload / stored, 2) if stored else None,
            bytes_per_sample_with_overhead=round(overhead / stored, 2) if stored else None,
            stated_bytes_per_sample=BYTES_PER_SAMPLE,
        )
    finally:
        await client.stop()


def _client_main(mode: str, options: ConnectionOptions, tags: int, warmup_s: float, seconds: float) -> int:
    tally = _WarningTally()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    logging.getLogger().addHandler(tally)
    runner = _run_bare if mode == "bare" else _run_ours
    try:
        result = asyncio.run(runner(options, tags, warmup_s, seconds, tally))
    except Exception as err:
        print(f"{mode} client failed: {type(err).__name__}: {err}", file=sys.stderr)
        return 1
    _emit({"event": "result", "result": asdict(result)})
    return 0


# --- the orchestrating side: simulator and clients as child processes ----------------------------------------------


@dataclass(frozen=True, kw_only=True)
class ModeResult:
    """One client run and what the simulator process spent over the same window."""

    client: ClientRun
    server_cpu_percent: float


@dataclass(frozen=True, kw_only=True)
class TagCountResult:
    """Both modes at one tag count, with the verdicts the goals ask for."""

    tags: int
    bare: ModeResult  # the median run by updates/s when repeated
    ours: ModeResult
    ratio: float  # ours / bare updates per second
    ratio_holds: bool
    sustains_1hz: bool  # ours delivers at least RATE_GOAL_FRACTION of one update per tag per second
    server_offered_per_s: float | None  # tags / the server's achieved round interval, seen by the bare client
    limit: str  # what held the rate back, judged from the bare reference
    runs: dict[str, list[ModeResult]]


@dataclass(frozen=True)
class _Simulator:
    proc: subprocess.Popen[bytes]
    endpoint: str
    log_path: Path


class _Lines:
    """Whole lines from a child's stdout with a deadline; raw reads, so communicate() can still drain and close it."""

    def __init__(self, proc: subprocess.Popen[bytes]) -> None:
        assert proc.stdout is not None
        self._fd = proc.stdout.fileno()
        self._buffer = b""
        self._eof = False

    def readline(self, deadline: float) -> str | None:
        """The next line, or None once the child closed its stdout; TimeoutError past the deadline."""
        while b"\n" not in self._buffer:
            if self._eof:
                return None
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            ready, _, _ = select.select([self._fd], [], [], remaining)
            if ready:
                chunk = os.read(self._fd, 65536)
                self._eof = not chunk
                self._buffer += chunk
        line, _, self._buffer = self._buffer.partition(b"\n")
        return line.decode(errors="replace")


def _subscribe_budget_s(tags: int) -> float:
    # Creating monitored items is linear in tags; generous, because a slow start is not what we measure.
    return 30.0 + tags / 100.0


def _tail(path: Path, lines: int = 5) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(text[-lines:]) or "(empty log)"


def _stop(proc: subprocess.Popen[bytes], *, signal_first: bool, grace_s: float = 15.0) -> None:
    """Stop a child and reap it; communicate() drains and closes its pipes. Kill only if it ignores us."""
    if signal_first and proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        proc.communicate(timeout=grace_s)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()


def _progress(text: str) -> None:
    print(text, file=sys.stderr, flush=True)


@contextlib.contextmanager
def _simulator(tags: int, workdir: Path) -> Iterator[_Simulator]:
    port = free_port()
    log_path = workdir / f"sim-{tags}.log"
    env = {**os.environ, "COPILOT_DATA_DIR": str(workdir / "data")}
    command = [sys.executable, "-m", "copilot", "sim", "--port", str(port), "--synthetic", str(tags)]
    with log_path.open("wb") as errors:
        # The simulator runs in the scratch directory so no copilot.toml from a checkout changes it.
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, cwd=workdir, env=env
        )
    try:
        try:
            first = _Lines(proc).readline(time.monotonic() + _subscribe_budget_s(tags))
        except TimeoutError:
            first = None
        if first is None or " at opc.tcp://" not in first:
            raise BenchError(
                f"the simulator with {tags} synthetic tags did not start on port {port}: {_tail(log_path)}"
            )
        yield _Simulator(proc=proc, endpoint=first.rsplit(" at ", 1)[1].strip(), log_path=log_path)
    finally:
        _stop(proc, signal_first=True)


def _run_client(
    mode: str, sim: _Simulator, tags: int, warmup_s: float, seconds: float, watchdog_s: float | None, workdir: Path
) -> ModeResult:
    command = [
        sys.executable,
        "-m",
        "evals.bench_subscription",
        "--client",
        mode,
        "--endpoint",
        sim.endpoint,
        "--tags",
        str(tags),
        "--warmup",
        str(warmup_s),
        "--seconds",
        str(seconds),
        *(["--watchdog", str(watchdog_s)] if watchdog_s is not None else []),
    ]
    log_path = workdir / f"client-{mode}-{tags}.log"
    with log_path.open("wb") as errors:
        proc = subprocess.Popen(
            command, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=errors, cwd=REPO_ROOT, env=os.environ
        )
    server = psutil.Process(sim.proc.pid)
    deadline = time.monotonic() + _subscribe_budget_s(tags) + warmup_s + seconds + 30.0
    finished = False
    try:
        lines = _Lines(proc)
        server_cpu0 = server_began = 0.0
        server_cpu_percent: float | None = None
        while True:
            try:
                line = lines.readline(deadline)
            except TimeoutError:
                raise BenchError(f"the {mode} client for {tags} tags overran its time budget") from None
            if line is None:
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5)  # let its last words reach the log before quoting them
                raise BenchError(f"the {mode} client for {tags} tags exited without a result: {_tail(log_path)}")
            if not line.startswith("{"):
                continue  # a stray print from a library is not ours to parse
            message = json.loads(line)
            event = message.get("event")
            if event == "window-start":
                server_cpu0, server_began = _cpu_s(server), time.monotonic()
            elif event == "window-end":
                spent = _cpu_s(server) - server_cpu0
                server_cpu_percent = round(100.0 * spent / (time.monotonic() - server_began), 1)
            elif event == "result":
                if server_cpu_percent is None:
                    raise BenchError(f"the {mode} client reported before closing its window")
                finished = True
                return ModeResult(client=ClientRun(**message["result"]), server_cpu_percent=server_cpu_percent)
    finally:
        # A client that reported exits by itself; one that failed or overran is stopped.
        _stop(proc, signal_first=not finished)


def _median_run(runs: list[ModeResult]) -> ModeResult:
    ordered = sorted(runs, key=lambda r: r.client.updates_per_s)
    return ordered[(len(ordered) - 1) // 2]


def _judge(tags: int, runs: dict[str, list[ModeResult]]) -> TagCountResult:
    bare, ours = _median_run(runs["bare"]), _median_run(runs["ours"])
    ratio = ours.client.updates_per_s / bare.client.updates_per_s if bare.client.updates_per_s else 0.0
    interval = bare.client.round_interval_s
    offered = tags / interval if interval else None
    if offered is None:
        limit = "unknown: bare took no updates"
    elif offered < RATE_GOAL_FRACTION * tags:
        limit = "server"  # the simulator could not stamp a round every second
    elif bare.client.updates_per_s < RATE_GOAL_FRACTION * offered:
        limit = "asyncua client"  # the server offered it, the bare client could not take it
    else:
        limit = "none"
    return TagCountResult(
        tags=tags,
        bare=bare,
        ours=ours,
        ratio=round(ratio, 3),
        ratio_holds=ratio >= RATIO_GOAL,
        sustains_1hz=ours.client.updates_per_s >= RATE_GOAL_FRACTION * tags,
        server_offered_per_s=round(offered, 1) if offered is not None else None,
        limit=limit,
        runs=runs,
    )


def _bench_tag_count(
    tags: int, warmup_s: float, seconds: float, repeats: int, watchdog_s: float | None, workdir: Path
) -> TagCountResult:
    _progress(f"[{tags} tags] starting the simulator")
    runs: dict[str, list[ModeResult]] = {mode: [] for mode in MODES}
    with _simulator(tags, workdir) as sim:
        for attempt in range(repeats):
            for mode in MODES:
                _progress(f"[{tags} tags] {mode} client, run {attempt + 1}/{repeats}")
                runs[mode].append(_run_client(mode, sim, tags, warmup_s, seconds, watchdog_s, workdir))
    return _judge(tags, runs)


def _machine() -> dict[str, Any]:
    model = platform.processor()
    with contextlib.suppress(OSError):
        for row in Path("/proc/cpuinfo").read_text().splitlines():
            if row.startswith("model name"):
                model = row.split(":", 1)[1].strip()
                break
    return {
        "cpu_count": os.cpu_count(),
        "cpu_model": model,
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "asyncua": metadata.version("asyncua"),
    }


def _fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:,.{digits}f}"


def render(results: list[TagCountResult]) -> str:
    """The markdown tables printed at the end of a run."""
    rows = [
        "| tags | mode | updates/s | of 1 Hz | delivered | client CPU % | p50 ms | p95 ms | RSS MB "
        "| server CPU % | server round s |",
        "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for result in results:
        for mode in (result.bare, result.ours):
            c = mode.client
            cells = [
                f"{result.tags:,}",
                c.mode,
                _fmt(c.updates_per_s),
                f"{100 * c.updates_per_s / result.tags:.0f} %",
                f"{_fmt(c.delivered_pct)} %",
                _fmt(c.cpu_percent),
                _fmt(c.latency_p50_ms),
                _fmt(c.latency_p95_ms),
                _fmt(c.rss_mb),
                _fmt(mode.server_cpu_percent),
                _fmt(c.round_interval_s, 3),
            ]
            rows.append("| " + " | ".join(cells) + " |")
    rows += [
        "",
        "| tags | ours/bare | ratio >= 0.9 | ours >= 0.9 x tags/s | limit | sampler CPU % | samples stored "
        f"| bytes/sample (stated {BYTES_PER_SAMPLE}) | with object overhead | warnings bare/ours |",
        "|---:|---:|---|---|---|---:|---:|---:|---:|---|",
    ]
    for result in results:
        o = result.ours.client
        rows.append(
            f"| {result.tags:,} | {result.ratio:.3f} | {_yes(result.ratio_holds)} | {_yes(result.sustains_1hz)} "
            f"| {result.limit} | {_fmt(o.sampler_cpu_percent)} | {o.samples_stored or 0:,} "
            f"| {_fmt(o.bytes_per_sample, 2)} | {_fmt(o.bytes_per_sample_with_overhead, 2)} "
            f"| {result.bare.client.warnings}/{o.warnings} |"
        )
    return "\n".join(rows)


def _yes(flag: bool) -> str:
    return "yes" if flag else "NO"


def goals(results: list[TagCountResult]) -> dict[str, Any]:
    """Whether ours keeps within 10 % of bare everywhere, and sustains 10k tags at 1 Hz (when 10k was run)."""
    at_goal = [r for r in results if r.tags == RATE_GOAL_TAGS]
    rate_holds = at_goal[0].sustains_1hz if at_goal else None
    ratio_holds = all(r.ratio_holds for r in results)
    return {
        "ratio_min": RATIO_GOAL,
        "ratio_holds": ratio_holds,
        "rate_tags": RATE_GOAL_TAGS,
        "rate_min_per_s": RATE_GOAL_FRACTION * RATE_GOAL_TAGS,
        "rate_holds": rate_holds,  # None: 10k tags were not part of this run
        "all_hold": ratio_holds and rate_holds is not False,
    }


def _verdict(summary: dict[str, Any]) -> str:
    rate = {True: "holds", False: "does NOT hold", None: "not measured (10,000 tags not in this run)"}
    return (
        f"Goal ours/bare >= {RATIO_GOAL}: {'holds' if summary['ratio_holds'] else 'does NOT hold'}. "
        f"Goal >= {summary['rate_min_per_s']:,.0f} updates/s at {RATE_GOAL_TAGS:,} tags: {rate[summary['rate_holds']]}."
    )


def _bench_main(
    tag_counts: list[int], warmup_s: float, seconds: float, repeats: int, watchdog_s: float | None, out: Path
) -> int:
    results: list[TagCountResult] = []
    with tempfile.TemporaryDirectory(prefix="bench-subscription-") as scratch:
        try:
            for tags in tag_counts:
                results.append(_bench_tag_count(tags, warmup_s, seconds, repeats, watchdog_s, Path(scratch)))
        except BenchError as err:
            print(f"benchmark failed: {err}", file=sys.stderr)
            return 1
        except KeyboardInterrupt:
            print("benchmark interrupted; every child process was stopped", file=sys.stderr)
            return 130
    summary = goals(results)
    report = {
        "benchmark": "subscription",
        "when": datetime.now().astimezone().isoformat(timespec="seconds"),
        "machine": _machine(),
        "settings": {
            "tags": tag_counts,
            "seconds": seconds,
            "warmup_s": warmup_s,
            "repeats": repeats,
            "publishing_interval_ms": PUBLISHING_INTERVAL_MS,
            "history_samples": HISTORY_SAMPLES,
            "watchdog_s": watchdog_s if watchdog_s is not None else ConnectionOptions(endpoint="").watchdog_s,
            "synthetic_interval_s": 1.0,
        },
        "goals": summary,
        "results": [asdict(r) for r in results],
    }
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(report, indent=2) + "\n")
    print(render(results))
    print()
    print(_verdict(summary))
    print(f"JSON written to {out}")
    return 0


def _tag_counts(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part.strip()]
    except ValueError as err:
        raise argparse.ArgumentTypeError(f"expected comma-separated whole numbers, got {text!r}") from err
    if not counts or any(n < 1 or n > 100_000 for n in counts):
        raise argparse.ArgumentTypeError("each tag count must be between 1 and 100,000")
    return counts


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m evals.bench_subscription", description=__doc__)
    parser.add_argument("--tags", type=_tag_counts, default=list(DEFAULT_TAGS), help="comma-separated tag counts")
    parser.add_argument("--seconds", type=float, default=20.0, help="measured window per client run")
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds after subscribing left out of the figures")
    parser.add_argument("--repeats", type=int, default=1, help="runs per mode and tag count; the median is reported")
    parser.add_argument(
        "--watchdog",
        type=float,
        help="connection probe interval for both clients in seconds (default: the connector's ConnectionOptions)",
    )
    parser.add_argument("--out", type=Path, default=REPO_ROOT / "evals" / "results" / "subscription.json")
    # The orchestrator re-invokes this module as one client per process, so CPU figures are that client's alone.
    parser.add_argument("--client", choices=MODES, help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.warmup < 0 or args.repeats < 1:
        parser.error("--seconds must be positive, --warmup not negative, --repeats at least 1")
    if args.client:
        if not args.endpoint or len(args.tags) != 1:
            parser.error("--client needs --endpoint and a single --tags count")
        options = ConnectionOptions(endpoint=args.endpoint)
        if args.watchdog is not None:
            options = replace(options, watchdog_s=args.watchdog)
        return _client_main(args.client, options, args.tags[0], args.warmup, args.seconds)
    return _bench_main(args.tags, args.warmup, args.seconds, args.repeats, args.watchdog, args.out)


if __name__ == "__main__":
    sys.exit(main())
