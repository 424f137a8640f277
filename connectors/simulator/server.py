"""The simulated bottling line as an OPC UA server: AnalogItems, alarm flags, fault methods, synthetic load tags."""

from __future__ import annotations

import asyncio
import logging
import math
import random
import secrets
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from asyncua import Node, Server, ua
from asyncua.crypto.permission_rules import User, UserRole
from asyncua.crypto.truststore import TrustStore
from asyncua.crypto.validator import CertificateValidator, CertificateValidatorOptions

from connectors import security
from connectors.alarms import AlarmEvaluator
from connectors.errors import ConnectorError, LineUnavailable
from connectors.line import DataType, LineDefinition, Tag
from connectors.simulator.faults import FAULTS, UnknownFault
from connectors.simulator.process import BottlingProcess
from connectors.ua_types import DATA_TYPE_NODE, VARIANT_OF, data_value, node_id

log = logging.getLogger(__name__)

SIM_OBJECT = "Simulator"
SYNTHETIC_PREFIX = "Synthetic.T"
# Simulated seconds per process step: the process model is tuned for steps up to a few seconds.
_MAX_STEP_S = 1.0
_SYNTHETIC_GROUP = 250


@dataclass(frozen=True, kw_only=True)
class SimulatorOptions:
    """How to run the simulated line."""

    host: str = "127.0.0.1"
    port: int = 4840
    seed: int = 0
    speed: float = 1.0  # simulated seconds per real second
    publish_interval_s: float = 0.5
    faults: tuple[str, ...] = ()
    secure: bool = False
    data_dir: Path | None = None  # certificates live here in secure mode
    user: str = "copilot"
    password: str | None = None
    synthetic_tags: int = 0
    synthetic_interval_s: float = 1.0

    @property
    def endpoint(self) -> str:
        return f"opc.tcp://{self.host}:{self.port}/line-copilot/"


class _PasswordUsers:
    """One username and password, compared in constant time; anything else is refused."""

    def __init__(self, user: str, password: str) -> None:
        self._user = user
        self._password = password

    def get_user(
        self, iserver: Any, username: str | None = None, password: str | None = None, certificate: Any = None
    ) -> User | None:
        if username is None or password is None:
            return None
        if secrets.compare_digest(username, self._user) and secrets.compare_digest(password, self._password):
            return User(role=UserRole.User, name=username)
        return None


@dataclass
class _Published:
    tag: Tag
    nodeid: ua.NodeId


@dataclass
class SimulatedLine:
    """A running simulated line; use `async with` or `start()`/`stop()`."""

    line: LineDefinition
    options: SimulatorOptions = field(default_factory=SimulatorOptions)

    def __post_init__(self) -> None:
        self.process = BottlingProcess(self.line, seed=self.options.seed)
        for name in self.options.faults:
            self.process.inject(name)
        self.alarms = AlarmEvaluator(self.line)
        self._server: Server | None = None
        self._task: asyncio.Task[None] | None = None
        self._published: list[_Published] = []
        self._alarm_nodes: dict[str, ua.NodeId] = {}
        self._faults_node: ua.NodeId | None = None
        self._synthetic: list[ua.NodeId] = []
        self._synthetic_values: list[float] = []
        self._rng = random.Random(self.options.seed)
        self.password = self.options.password
        self.ticks = 0
        # A PLC that stops updating while its server stays up: values freeze with old timestamps.
        self.publishing = True

    @property
    def endpoint(self) -> str:
        return self.options.endpoint

    @property
    def subscriptions(self) -> int:
        """Subscriptions the server holds for its clients (to see that a reconnect leaves no duplicates)."""
        if self._server is None:
            return 0
        return len(self._server.iserver.subscription_service.subscriptions)

    async def __aenter__(self) -> SimulatedLine:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    async def start(self) -> None:
        users = None
        if self.options.secure:
            if self.password is None:
                self.password = secrets.token_urlsafe(12)
            # The user manager must be given at construction; asyncua ignores one set afterwards.
            users = _PasswordUsers(self.options.user, self.password)
        server = Server(user_manager=users)
        await server.init()
        server.set_endpoint(self.options.endpoint)
        server.set_server_name(f"line-copilot simulator: {self.line.line.name}")
        await server.set_application_uri(security.SERVER_APP_URI)
        if self.options.secure:
            await self._secure(server)
        else:
            server.set_security_policy([ua.SecurityPolicyType.NoSecurity])
        ns = await server.register_namespace(self.line.line.namespace_uri)
        namespaces = await server.get_namespace_array()
        root = await server.nodes.objects.add_object(ua.NodeId(self.line.line.id, ns), self.line.line.name)
        await self._build_tags(server, root, namespaces)
        await self._build_alarms(server, root, ns)
        await self._build_methods(server, root, ns)
        await self._build_synthetic(server, root, ns)
        try:
            await server.start()
        except OSError as err:
            raise LineUnavailable(f"cannot listen on {self.options.endpoint}: {err.strerror or err}") from err
        self._server = server
        await self._publish(datetime.now(UTC))
        self._task = asyncio.create_task(self._run(), name="simulated-line")
        log.info("simulated line %s serving at %s", self.line.line.id, self.options.endpoint)

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            try:
                await self._task
            except asyncio.CancelledError:
                pass
            self._task = None
        if self._server is not None:
            # asyncua closes the open connections before the listening socket: a client that reconnected in between
            # held the stop for good (seen once in 30 s). Stop listening first; asyncua's own close then repeats.
            listener = getattr(self._server.bserver, "_server", None)
            if isinstance(listener, asyncio.AbstractServer):
                listener.close()
            await self._server.stop()
            self._server = None

    async def _secure(self, server: Server) -> None:
        if self.options.data_dir is None:
            raise ConnectorError("secure mode needs a data directory for its certificates")
        data_dir = self.options.data_dir
        own = await security.ensure_identity(data_dir, "server")
        client = await security.ensure_identity(data_dir, "client")
        # Our own co-pilot client is trusted out of the box; other clients must be copied into trusted/.
        security.trust(data_dir, "server", client, "line-copilot-client")
        await server.load_certificate(str(own.certificate))
        await server.load_private_key(str(own.private_key))
        server.set_security_policy([ua.SecurityPolicyType.Basic256Sha256_SignAndEncrypt])
        server.set_identity_tokens([ua.UserNameIdentityToken])
        store = TrustStore([security.pki_dir(data_dir, "server") / "trusted"], [])
        await store.load()
        validator = CertificateValidator(
            CertificateValidatorOptions.TRUSTED
            | CertificateValidatorOptions.TIME_RANGE
            | CertificateValidatorOptions.PEER_CLIENT,
            store,
        )
        server.set_certificate_validator(validator)

    async def _build_tags(self, server: Server, root: Node, namespaces: list[str]) -> None:
        folders: dict[str, Node] = {}
        for equipment in self.line.equipment:
            folders[equipment.id] = await root.add_object(
                ua.NodeId(f"{self.line.line.id}.{equipment.id}", namespaces.index(self.line.line.namespace_uri)),
                equipment.name,
            )
        values = self.process.values()
        for tag in self.line.tags:
            nid = node_id(tag.node, namespaces)
            await _add_variable(server, folders[tag.equipment], nid, tag, values[tag.name])
            self._published.append(_Published(tag=tag, nodeid=nid))
            if tag.setpoint is not None and not tag.safety_critical:
                server.set_attribute_value_setter(nid, self._setter_for(tag))

    def _setter_for(self, tag: Tag) -> Any:
        def setter(node: Any, attr: ua.AttributeIds, value: ua.DataValue) -> None:
            raw = value.Value.Value if value.Value is not None else None
            if tag.data_type.is_numeric:
                assert tag.eu_range is not None
                if not isinstance(raw, int | float) or not math.isfinite(raw) or not tag.eu_range.contains(raw):
                    # A refused write never reaches the process: the PLC keeps its old setpoint.
                    raise ua.uaerrors.BadOutOfRange()
            node.attributes[attr].value = value
            if isinstance(raw, int | float) and raw != self.process.values()[tag.name]:
                self.process.set_setpoint(tag.name, float(raw))

        return setter

    async def _build_alarms(self, server: Server, root: Node, ns: int) -> None:
        folder = await root.add_object(ua.NodeId("Alarms", ns), "Alarms")
        for tag, alarm in self.line.alarms():
            nid = ua.NodeId(f"Alarms.{alarm.code}", ns)
            var = await folder.add_variable(nid, alarm.code, False, ua.VariantType.Boolean)
            await var.write_attribute(
                ua.AttributeIds.Description,
                ua.DataValue(ua.Variant(ua.LocalizedText(f"{alarm.message} ({tag.name})"))),
            )
            self._alarm_nodes[alarm.code] = nid

    async def _build_methods(self, server: Server, root: Node, ns: int) -> None:
        sim = await root.add_object(ua.NodeId(SIM_OBJECT, ns), SIM_OBJECT)
        faults = await sim.add_variable(ua.NodeId(f"{SIM_OBJECT}.ActiveFaults", ns), "ActiveFaults", "")
        self._faults_node = faults.nodeid
        await sim.add_method(
            ua.NodeId(f"{SIM_OBJECT}.InjectFault", ns),
            ua.QualifiedName("InjectFault", ns),
            self._inject_method,
            [ua.VariantType.String],
            [ua.VariantType.String],
        )
        await sim.add_method(
            ua.NodeId(f"{SIM_OBJECT}.ClearFault", ns),
            ua.QualifiedName("ClearFault", ns),
            self._clear_method,
            [ua.VariantType.String],
            [ua.VariantType.String],
        )
        await sim.add_method(
            ua.NodeId(f"{SIM_OBJECT}.ListFaults", ns),
            ua.QualifiedName("ListFaults", ns),
            self._list_method,
            [],
            [ua.VariantType.String],
        )

    async def _build_synthetic(self, server: Server, root: Node, ns: int) -> None:
        count = self.options.synthetic_tags
        if count <= 0:
            return
        folder = await root.add_object(ua.NodeId("Synthetic", ns), "Synthetic")
        # Groups of 250 under sub-folders, added in one request per group: asyncua checks a parent's existing
        # children on every add, so 10k children of one folder took minutes to build.
        for group_start in range(0, count, _SYNTHETIC_GROUP):
            group = await folder.add_object(
                ua.NodeId(f"Synthetic.G{group_start // _SYNTHETIC_GROUP:03d}", ns),
                f"G{group_start // _SYNTHETIC_GROUP:03d}",
            )
            items = []
            for i in range(group_start, min(count, group_start + _SYNTHETIC_GROUP)):
                nid = ua.NodeId(f"{SYNTHETIC_PREFIX}{i:05d}", ns)
                item = ua.AddNodesItem()
                item.RequestedNewNodeId = nid
                item.BrowseName = ua.QualifiedName(f"T{i:05d}", ns)
                item.NodeClass = ua.NodeClass.Variable
                item.ParentNodeId = group.nodeid
                item.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HasComponent)
                item.TypeDefinition = ua.NodeId(ua.ObjectIds.BaseDataVariableType)
                attrs = ua.VariableAttributes()
                attrs.DisplayName = ua.LocalizedText(f"T{i:05d}")
                attrs.DataType = ua.NodeId(ua.ObjectIds.Double)
                attrs.Value = ua.Variant(0.0, ua.VariantType.Double)
                attrs.ValueRank = ua.ValueRank.Scalar
                attrs.AccessLevel = ua.AccessLevel.CurrentRead.mask
                attrs.UserAccessLevel = ua.AccessLevel.CurrentRead.mask
                item.NodeAttributes = attrs
                items.append(item)
                self._synthetic.append(nid)
                self._synthetic_values.append(0.0)
            for result in await server.iserver.isession.add_nodes(items):
                result.StatusCode.check()

    # Methods are coroutines so asyncua runs them on the event loop, not in a worker thread beside the process.
    async def _inject_method(self, parent: ua.NodeId, name: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
        try:
            self.inject(str(name.Value))
        except UnknownFault:
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        return [ua.Variant(",".join(sorted(self.process.active_faults)), ua.VariantType.String)]

    async def _clear_method(self, parent: ua.NodeId, name: ua.Variant) -> list[ua.Variant] | ua.StatusCode:
        try:
            self.clear(str(name.Value) or None)
        except UnknownFault:
            return ua.StatusCode(ua.StatusCodes.BadInvalidArgument)
        return [ua.Variant(",".join(sorted(self.process.active_faults)), ua.VariantType.String)]

    async def _list_method(self, parent: ua.NodeId) -> list[ua.Variant]:
        return [ua.Variant("\n".join(f"{f.name}: {f.title}" for f in FAULTS), ua.VariantType.String)]

    def inject(self, name: str) -> None:
        self.process.inject(name)
        log.info("fault %s injected", name)

    def clear(self, name: str | None = None) -> None:
        if name is not None and name not in {f.name for f in FAULTS}:
            raise UnknownFault(f"unknown fault {name!r}; known: {', '.join(f.name for f in FAULTS)}")
        self.process.clear(name)
        log.info("fault %s cleared", name or "(all)")

    async def _run(self) -> None:
        synthetic = asyncio.create_task(self._run_synthetic(), name="synthetic-tags") if self._synthetic else None
        try:
            await self._run_process()
        finally:
            if synthetic is not None:
                synthetic.cancel()
                try:
                    await synthetic
                except asyncio.CancelledError:
                    pass

    async def _run_synthetic(self) -> None:
        # On a fixed schedule, not "sleep then work": a round that takes 0.4 s must not stretch 1 Hz to 0.7 Hz.
        interval = self.options.synthetic_interval_s
        due = time.monotonic()
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            if self.publishing:
                await self._publish_synthetic(datetime.now(UTC))
            if time.monotonic() > due + interval:
                due = time.monotonic()  # fell a whole round behind: start afresh instead of bursting

    async def _run_process(self) -> None:
        interval = self.options.publish_interval_s
        last = time.monotonic()
        due = last
        while True:
            due += interval
            await asyncio.sleep(max(0.0, due - time.monotonic()))
            now_mono = time.monotonic()
            simulated = (now_mono - last) * self.options.speed
            last = now_mono
            steps = max(1, math.ceil(simulated / _MAX_STEP_S))
            for _ in range(steps):
                self.process.step(simulated / steps)
            now = datetime.now(UTC)
            if not self.publishing:
                continue
            await self._publish(now)
            self.ticks += 1
            if time.monotonic() > due + interval:
                due = time.monotonic()

    async def _publish(self, now: datetime) -> None:
        assert self._server is not None or self.ticks == 0
        server = self._server
        if server is None:
            return
        values = self.process.values()
        for item in self._published:
            await server.write_attribute_value(item.nodeid, data_value(values[item.tag.name], item.tag.data_type, now))
        active = self.alarms.evaluate(values, time_s=self.process.time_s)
        for code, nid in self._alarm_nodes.items():
            await server.write_attribute_value(nid, data_value(code in active, DataType.BOOLEAN, now))
        if self._faults_node is not None:
            text = ",".join(sorted(self.process.active_faults))
            await server.write_attribute_value(
                self._faults_node, ua.DataValue(ua.Variant(text, ua.VariantType.String), SourceTimestamp=now)
            )

    async def _publish_synthetic(self, now: datetime) -> None:
        assert self._server is not None
        for i, nid in enumerate(self._synthetic):
            # A random walk, so every sample is a change the subscription must deliver.
            self._synthetic_values[i] += self._rng.gauss(0.0, 1.0)
            await self._server.write_attribute_value(
                nid,
                ua.DataValue(
                    ua.Variant(self._synthetic_values[i], ua.VariantType.Double),
                    SourceTimestamp=now,
                    ServerTimestamp=now,
                ),
            )


async def _add_variable(server: Server, parent: Node, nid: ua.NodeId, tag: Tag, value: Any) -> None:
    """Add one tag as an AnalogItem (numbers) or a plain data variable (Booleans) with its properties."""
    item = ua.AddNodesItem()
    item.RequestedNewNodeId = nid
    item.BrowseName = ua.QualifiedName(str(nid.Identifier).split(".")[-1], nid.NamespaceIndex)
    item.NodeClass = ua.NodeClass.Variable
    item.ParentNodeId = parent.nodeid
    item.ReferenceTypeId = ua.NodeId(ua.ObjectIds.HasComponent)
    analog = tag.data_type.is_numeric
    item.TypeDefinition = ua.NodeId(ua.ObjectIds.AnalogItemType if analog else ua.ObjectIds.BaseDataVariableType)
    attrs = ua.VariableAttributes()
    attrs.DisplayName = ua.LocalizedText(item.BrowseName.Name)
    attrs.Description = ua.LocalizedText(tag.description)
    attrs.DataType = ua.NodeId(DATA_TYPE_NODE[tag.data_type])
    attrs.Value = ua.Variant(value, VARIANT_OF[tag.data_type])
    attrs.ValueRank = ua.ValueRank.Scalar
    writable = tag.setpoint is not None and not tag.safety_critical
    access = ua.AccessLevel.CurrentRead.mask | (ua.AccessLevel.CurrentWrite.mask if writable else 0)
    attrs.AccessLevel = access
    attrs.UserAccessLevel = access
    item.NodeAttributes = attrs
    result = await server.iserver.isession.add_nodes([item])
    result[0].StatusCode.check()
    node = server.get_node(nid)
    if analog and tag.eu_range is not None:
        await node.add_property(
            ua.NodeId(f"{nid.Identifier}.EURange", nid.NamespaceIndex),
            "EURange",
            ua.Range(Low=tag.eu_range.low, High=tag.eu_range.high),
        )
        await node.add_property(
            ua.NodeId(f"{nid.Identifier}.EngineeringUnits", nid.NamespaceIndex),
            "EngineeringUnits",
            ua.EUInformation(
                NamespaceUri="http://www.opcfoundation.org/UA/units/un/cefact",
                UnitId=-1,
                DisplayName=ua.LocalizedText(tag.unit),
                Description=ua.LocalizedText(tag.unit),
            ),
        )
