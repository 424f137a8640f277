"""The line connector: one supervised session that keeps the live cache fed, reconnects, reads and writes."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from asyncua import Client, Node, ua

from connectors import session as ua_session
from connectors.cache import LiveCache, TagInfo
from connectors.errors import (
    ConnectorError,
    LineUnavailable,
    PasswordWithheld,
    ReadBackMismatch,
    ServerNotTrusted,
    TagNotFound,
    WriteRefused,
)
from connectors.known_servers import ConfirmedServer
from connectors.line import LineDefinition, NodeAddress, Tag
from connectors.readings import Availability, Quality, Reading
from connectors.security import SecurityMode
from connectors.session import ConnectionOptions
from connectors.ua_types import DATA_TYPE_OF_NODE, coerce, node_id, status_name, status_value, utc, variant

log = logging.getLogger(__name__)

# Refusals that only a person can lift: waiting for the line does not help, so callers hear of them at once.
_NEEDS_A_PERSON = (ServerNotTrusted, PasswordWithheld)


@dataclass(frozen=True, kw_only=True)
class WriteResult:
    """A write the server accepted, with the value read back right after it."""

    tag: str
    requested: float | int | bool
    read_back: float | int | bool
    status: str
    source_time: datetime | None


class _Handler:
    """Subscription callbacks: the hot path into the cache, kept to a dictionary lookup and one update."""

    def __init__(self, cache: LiveCache, by_handle: dict[int, str]) -> None:
        self._cache = cache
        self._by_handle = by_handle
        self._names: dict[int, str] = {}  # status code -> name, looked up once per code

    def datachange_notification(self, node: Node, val: Any, data: Any) -> None:
        item = data.monitored_item
        tag = self._by_handle.get(item.ClientHandle)
        if tag is None:
            return
        dv = item.Value
        code = dv.StatusCode
        value = status_value(code)
        name = self._names.get(value)
        if name is None:
            name = self._names[value] = status_name(code)
        self._cache.update(
            tag,
            val,
            source_time=utc(dv.SourceTimestamp),
            server_time=utc(dv.ServerTimestamp),
            status_code=value,
            status=name,
        )

    def status_change_notification(self, status: Any) -> None:
        log.debug("subscription status change: %s", status)


class LineClient:
    """Watches the tags of a line definition on any OPC UA server, through connection losses.

    `start()` returns at once; availability is data in `cache.availability`. The first connection
    failure is a "not ready, retrying" state, not an exception.
    """

    def __init__(
        self,
        line: LineDefinition,
        options: ConnectionOptions,
        *,
        tags: list[str] | None = None,
        history_samples: int = 3600,
        publishing_interval_ms: float = 500.0,
        reconnect_min_s: float = 0.5,
        reconnect_max_s: float = 30.0,
    ) -> None:
        self.line = line
        self.options = options
        watched = [line.tag(name) for name in tags] if tags else list(line.tags)
        self._tags: dict[str, Tag] = {t.name: t for t in watched}
        self.cache = LiveCache(
            [TagInfo(name=t.name, unit=t.unit, update_interval_s=t.update_interval_s) for t in watched],
            history_samples=history_samples,
        )
        self._publishing_interval_ms = publishing_interval_ms
        self._reconnect_min_s = reconnect_min_s
        self._reconnect_max_s = reconnect_max_s
        self._client: Client | None = None
        self._nodeids: dict[str, ua.NodeId] = {}
        self._namespaces: list[str] = []
        self._lost = asyncio.Event()
        self._connected = asyncio.Event()
        self._refused = asyncio.Event()
        self._retry = asyncio.Event()
        self.refusal: ConnectorError | None = None  # the latest refusal that needs a person, until it connects
        self.server: ConfirmedServer | None = None  # whom the current secure session is with
        self._task: asyncio.Task[None] | None = None
        self._stopping = False
        self.connects = 0  # successful connections, for tests and the console
        self.monitored_items = 0

    async def __aenter__(self) -> LineClient:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._supervise(), name=f"line-client:{self.options.endpoint}")

    async def stop(self) -> None:
        self._stopping = True
        if self._task is not None:
            # A cancellation that lands inside asyncua's connect can be swallowed there: the supervisor then goes on
            # to wait for a lost connection that never comes, and the stop waited 30 s (seen in CI). Waking that
            # wait too ends it either way.
            self._lost.set()
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        await self._drop_session()
        self.cache.set_availability(Availability.STOPPED, "stopped")

    async def wait_available(self, timeout_s: float) -> None:
        """Block until connected and subscribed, or raise LineUnavailable with the latest reason.

        A refusal that needs a person (an unconfirmed server, a password that would leave unprotected) is raised
        as itself at once.
        """
        waiters = [asyncio.ensure_future(self._connected.wait()), asyncio.ensure_future(self._refused.wait())]
        try:
            await asyncio.wait(waiters, timeout=timeout_s, return_when=asyncio.FIRST_COMPLETED)
        finally:
            for waiter in waiters:
                waiter.cancel()
        if self._connected.is_set():
            return
        if self.refusal is not None:
            raise self.refusal
        raise LineUnavailable(self.cache.availability_reason)

    async def retry_now(self) -> None:
        """Try to connect again without waiting out the back-off (after an admin confirmed the server)."""
        # The old refusal no longer stands: a waiter hears of the new attempt's outcome, not the last one's.
        self.refusal = None
        self._refused.clear()
        self._retry.set()

    @property
    def confirmed_secure(self) -> bool:
        """True while the session is SignAndEncrypt to a server a person (or a pinned file) confirmed."""
        return (
            self.options.security.mode is SecurityMode.SIGN_AND_ENCRYPT
            and self.server is not None
            and self._client is not None
            and self.available
        )

    @property
    def available(self) -> bool:
        return self.cache.availability is Availability.AVAILABLE

    async def _supervise(self) -> None:
        delay = self._reconnect_min_s
        logged_loss = False
        while not self._stopping:
            try:
                await self._connect_and_subscribe()
            except ConnectorError as err:
                self.cache.set_availability(Availability.UNAVAILABLE, str(err))
                if isinstance(err, _NEEDS_A_PERSON):
                    self.refusal = err
                    self._refused.set()
                if not logged_loss:
                    # The first line says what happened; a refusal's whole story is in the availability reason.
                    log.warning(
                        "line %s unavailable: %s; retrying", self.line.line.id, (str(err).splitlines() or [""])[0]
                    )
                    logged_loss = True
                self._retry.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._retry.wait(), timeout=delay)
                delay = min(delay * 2, self._reconnect_max_s)
                continue
            if self._stopping:
                break
            self.refusal = None
            self._refused.clear()
            delay = self._reconnect_min_s
            if logged_loss:
                log.warning("line %s available again at %s", self.line.line.id, self.options.endpoint)
                logged_loss = False
            await self._lost.wait()
            reason = f"connection to {self.options.endpoint} lost"
            self._connected.clear()
            self.cache.set_availability(Availability.UNAVAILABLE, reason)
            log.warning("line %s unavailable: %s; reconnecting", self.line.line.id, reason)
            logged_loss = True
            await self._drop_session()

    async def _connect_and_subscribe(self) -> None:
        self._lost.clear()
        client, server = await ua_session.open_session(self.options)
        try:
            client.connection_lost_callback = self._on_lost
            self._namespaces = await client.get_namespace_array()
            self._nodeids = {name: node_id(tag.node, self._namespaces) for name, tag in self._tags.items()}
            await self._subscribe(client)
        except BaseException as err:
            await ua_session.disconnect(client)
            if isinstance(err, asyncio.CancelledError):
                raise
            raise ua_session.translate(err, self.options.endpoint) from err
        self._client = client
        self.server = server
        self.connects += 1
        self.cache.set_availability(Availability.AVAILABLE, f"connected to {self.options.endpoint}")
        self._connected.set()

    async def _subscribe(self, client: Client) -> None:
        names = list(self._nodeids)
        by_handle = {i + 1: name for i, name in enumerate(names)}
        handler = _Handler(self.cache, by_handle)
        subscription = await client.create_subscription(self._publishing_interval_ms, handler)
        # Ask for every new source timestamp, not only value changes: a constant but live value must not look
        # stale, and a frozen sensor must stay distinguishable from a lost one.
        data_filter = ua.DataChangeFilter(Trigger=ua.DataChangeTrigger.StatusValueTimestamp)
        requests = []
        for handle, name in by_handle.items():
            params = ua.MonitoringParameters(
                ClientHandle=handle, SamplingInterval=0.0, QueueSize=1, DiscardOldest=True, Filter=data_filter
            )
            requests.append(
                ua.MonitoredItemCreateRequest(
                    ItemToMonitor=ua.ReadValueId(NodeId=self._nodeids[name], AttributeId=ua.AttributeIds.Value),
                    MonitoringMode=ua.MonitoringMode.Reporting,
                    RequestedParameters=params,
                )
            )
        created = 0
        for start in range(0, len(requests), 1000):  # servers cap items per request
            results = await subscription.create_monitored_items(requests[start : start + 1000])
            for offset, result in enumerate(results):
                if isinstance(result, ua.StatusCode):
                    name = by_handle[start + offset + 1]
                    raise TagNotFound(
                        f"tag {name!r} ({self._tags[name].node}) cannot be monitored on "
                        f"{self.options.endpoint}: {result.name}"
                    )
                created += 1
        self.monitored_items = created

    async def _on_lost(self, err: Exception) -> None:
        if not self._stopping:
            self._lost.set()

    async def _drop_session(self) -> None:
        client, self._client = self._client, None
        self.server = None
        if client is not None:
            client.connection_lost_callback = None
            await ua_session.disconnect(client)

    def _session(self) -> Client:
        if self._client is None or not self.available:
            raise LineUnavailable(f"line {self.line.line.id} is not connected: {self.cache.availability_reason}")
        return self._client

    def _node(self, tag: str) -> tuple[Tag, Node]:
        definition = self._tags.get(tag) or self.line.tag(tag)
        client = self._session()
        return definition, client.get_node(node_id(definition.node, self._namespaces))

    async def read(self, tag: str) -> Reading:
        """Read one tag directly from the server, bypassing the cache."""
        definition, node = self._node(tag)
        try:
            dv = await node.read_data_value()
        except (ua.UaStatusCodeError, OSError, TimeoutError) as err:
            raise self._translate_node_error(err, definition) from err
        return Reading(
            tag=tag,
            value=dv.Value.Value if dv.Value is not None else None,
            unit=definition.unit,
            source_time=utc(dv.SourceTimestamp),
            server_time=utc(dv.ServerTimestamp),
            received_time=datetime.now(UTC),
            status=status_name(dv.StatusCode),
            quality=Quality.from_status(status_value(dv.StatusCode)),
        )

    async def write(self, tag: str, value: float | int | bool) -> WriteResult:
        """Write one setpoint after checking it against what the server says of the node, then read it back.

        Only the action executor may call this; it is a primitive, not a policy.
        """
        definition, node = self._node(tag)
        try:
            checked = await self._precheck(definition, node, value)
            try:
                await node.write_value(ua.DataValue(variant(checked, definition.data_type)))
            except ua.UaStatusCodeError as err:
                name = ua.StatusCode(err.code).name
                raise WriteRefused(f"the server refused {tag} = {checked!r}: {name}", status=name) from err
            dv = await node.read_data_value()
        except (ua.UaStatusCodeError, OSError, TimeoutError) as err:
            raise self._translate_node_error(err, definition) from err
        read_back = dv.Value.Value if dv.Value is not None else None
        if not _same(read_back, checked):
            raise ReadBackMismatch(
                f"{tag}: wrote {checked!r} but read back {read_back!r}", written=checked, read_back=read_back
            )
        assert isinstance(read_back, int | float)
        return WriteResult(
            tag=tag,
            requested=checked,
            read_back=read_back,
            status=status_name(dv.StatusCode),
            source_time=utc(dv.SourceTimestamp),
        )

    async def _precheck(self, tag: Tag, node: Node, value: float | int | bool) -> float | int | bool:
        try:
            checked = coerce(value, tag.data_type)
        except TypeError as err:
            raise WriteRefused(f"{tag.name}: {err}") from err
        attrs = await node.read_attributes([ua.AttributeIds.AccessLevel, ua.AttributeIds.DataType])
        access, dtype = attrs
        if access.StatusCode is not None and not access.StatusCode.is_good():
            raise TagNotFound(f"{tag.name}: node {tag.node} does not exist on the server ({access.StatusCode.name})")
        if not access.Value.Value & ua.AccessLevel.CurrentWrite.mask:
            raise WriteRefused(f"{tag.name}: the server marks node {tag.node} read-only", status="NotWritable")
        type_node = dtype.Value.Value
        server_type = DATA_TYPE_OF_NODE.get(type_node.Identifier) if type_node.NamespaceIndex == 0 else None
        if server_type is not tag.data_type:
            raise WriteRefused(
                f"{tag.name}: the server's data type ({dtype.Value.Value}) is not {tag.data_type.value}",
                status="TypeMismatch",
            )
        low_high = await _eu_range(node)
        bounds = low_high or ((tag.eu_range.low, tag.eu_range.high) if tag.eu_range else None)
        if bounds is not None and isinstance(checked, int | float) and not isinstance(checked, bool):
            low, high = bounds
            if not low <= checked <= high:
                raise WriteRefused(
                    f"{tag.name}: {checked} {tag.unit} is outside the EURange {low}..{high}", status="OutOfRange"
                )
        return checked

    def _translate_node_error(self, err: BaseException, tag: Tag) -> ConnectorError:
        if isinstance(err, ua.UaStatusCodeError) and err.code == ua.StatusCodes.BadNodeIdUnknown:
            return TagNotFound(f"{tag.name}: node {tag.node} does not exist on {self.options.endpoint}")
        translated = ua_session.translate(err, self.options.endpoint)
        if isinstance(translated, LineUnavailable):
            self._lost.set()
        return translated

    async def call(self, object_node: NodeAddress, method: str, *args: Any) -> Any:
        """Call a method on an object (the simulator's fault methods, for one)."""
        client = self._session()
        parent = client.get_node(node_id(object_node, self._namespaces))
        try:
            return await parent.call_method(ua.QualifiedName(method, parent.nodeid.NamespaceIndex), *args)
        except (ua.UaStatusCodeError, OSError, TimeoutError) as err:
            raise ua_session.translate(err, self.options.endpoint) from err


async def _eu_range(node: Node) -> tuple[float, float] | None:
    """The EURange property of an AnalogItem, when the server gives one."""
    try:
        prop = await node.get_child("0:EURange")
        rng = await prop.read_value()
    except ua.UaStatusCodeError:
        return None
    if rng is None:
        return None
    return (float(rng.Low), float(rng.High))


def _same(read_back: object, written: float | int | bool) -> bool:
    if isinstance(written, bool) or isinstance(read_back, bool):
        return read_back is written
    if not isinstance(read_back, int | float):
        return False
    # Float tags round to single precision on the server.
    return math.isclose(float(read_back), float(written), rel_tol=1e-6, abs_tol=1e-9)
