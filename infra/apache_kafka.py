"""Apache Kafka itself, as plain JVM processes: the broker the suite and the benchmarks run
against next to the embedded Tansu (which keeps everything in memory).

The jars come from Maven Central (``infra/apache-kafka/fetch.sh``, pinned by its pom.xml)
into a git-ignored folder; nothing here downloads. Each node runs KRaft in combined mode
(broker and controller in one process) with its own ports on 127.0.0.1 and its own log
directory, so a test can SIGKILL, SIGSTOP or restart one node while the others serve.

Usage::

    with ApacheKafkaCluster(tmp_path, size=3) as cluster:
        cluster.bootstrap_servers        # "127.0.0.1:p1,127.0.0.1:p2,127.0.0.1:p3"
        cluster.kill(cluster.leader_of("t.enrolment.events", 0))
        cluster.restart(node_id)
"""

from __future__ import annotations

import base64
import logging
import os
import shutil
import signal
import socket
import subprocess
import time
import uuid
from collections.abc import Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from services.common.kafka import connect_admin, probe

__all__ = ["KAFKA_VERSION", "ApacheKafkaCluster", "ApacheKafkaMissing", "KafkaNode", "kafka_home", "missing"]

log = logging.getLogger(__name__)

ROOT = Path(__file__).resolve().parent.parent
# One Kafka release everywhere: these jars, the compose file's apache/kafka image (checked by
# tests/unit/test_compose.py) and infra/apache-kafka/pom.xml.
KAFKA_VERSION = "4.3.2"
_STARTUP_TIMEOUT = 120.0  # three JVMs starting at once on two busy cores


class ApacheKafkaMissing(RuntimeError):
    """Java or the Apache Kafka jars are not on this machine."""


def kafka_home() -> Path:
    """Where the jars are: ``$TANDEM_APACHE_KAFKA_HOME``, else ``.apache-kafka/<version>``
    in the checkout (where fetch.sh puts them); its ``lib/`` holds the jars."""
    configured = os.environ.get("TANDEM_APACHE_KAFKA_HOME")
    return Path(configured) if configured else ROOT / ".apache-kafka" / KAFKA_VERSION


def missing() -> str | None:
    """Why Apache Kafka cannot run here, or None when Java and the jars are present."""
    if shutil.which("java") is None:
        return "Java is not installed (Debian: openjdk-17-jre-headless)"
    lib = kafka_home() / "lib"
    if not any(lib.glob(f"kafka_2.13-{KAFKA_VERSION}.jar")):
        return f"the Apache Kafka {KAFKA_VERSION} jars are not in {lib}; run infra/apache-kafka/fetch.sh"
    return None


def _free_ports(count: int) -> list[int]:
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def _cluster_id() -> str:
    # Kafka's Uuid as StorageTool random-uuid prints it (saves starting a JVM for it),
    # drawn again, as Uuid.randomUuid does, when it starts with "-": the storage tool
    # would read such an id (1 in 64) as an option and refuse to format.
    while True:
        cluster_id = base64.urlsafe_b64encode(uuid.uuid4().bytes).decode().rstrip("=")
        if not cluster_id.startswith("-"):
            return cluster_id


_LOG4J = """\
status = warn
appender.out.type = Console
appender.out.name = out
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.out.ref = out
# Start, stop and leadership: what a test's failure message needs to show.
logger.server.name = kafka.server
logger.server.level = INFO
logger.controller.name = org.apache.kafka.controller
logger.controller.level = INFO
# Refused logins (a wrong password, an unknown user): what an operator of a secured cluster
# looks for, and what its tests check the broker said.
logger.authentication.name = org.apache.kafka.common.network.Selector
logger.authentication.level = INFO
"""


@dataclass
class KafkaNode:
    """One KRaft node (broker and controller): its ports, its log directory, its process."""

    node_id: int
    port: int  # the client listener
    controller_port: int
    directory: Path
    process: subprocess.Popen[bytes] | None = None
    log_file: IO[bytes] | None = field(default=None, repr=False)

    @property
    def bootstrap_servers(self) -> str:
        return f"127.0.0.1:{self.port}"

    @property
    def log_path(self) -> Path:
        return self.directory / "server.log"

    @property
    def pid(self) -> int | None:
        return self.process.pid if self.process is not None else None

    def is_running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def tail(self, lines: int = 30) -> str:
        try:
            text = self.log_path.read_text(errors="replace").splitlines()[-lines:]
        except OSError as exc:
            return f"(no log: {exc})"
        return f"--- last lines of {self.log_path} ---\n" + "\n".join(text)


class ApacheKafkaCluster:
    """``size`` KRaft nodes (1 or 3) on 127.0.0.1, each its own JVM, formatted on first start.

    With three nodes, internal topics and new topics default to replication 3 and
    ``min.insync.replicas=2``, so one node may die without losing an acknowledged write.
    ``properties`` adds or overrides server properties on every node (for a secured
    listener, say), ``format_args`` is passed to StorageTool format (``--add-scram``), and
    ``client_protocol`` names the security protocol of the client listener.
    """

    def __init__(
        self,
        directory: Path,
        size: int = 1,
        *,
        heap: str = "512m",
        properties: Mapping[str, str] | None = None,
        format_args: Iterable[str] = (),
        client_protocol: str = "PLAINTEXT",
        client_configs: Mapping[str, object] | None = None,
    ) -> None:
        if size not in (1, 3):
            raise ValueError("a cluster has 1 node, or 3 (a quorum that survives one loss)")
        self.directory = Path(directory)
        self.size = size
        self.heap = heap
        self.properties = dict(properties or {})
        self.format_args = list(format_args)
        self.client_protocol = client_protocol
        # How this module's own admin connections authenticate (a secured listener).
        self.client_configs = dict(client_configs or {})
        ports = _free_ports(2 * size)
        self.nodes = {
            n: KafkaNode(n, ports[2 * (n - 1)], ports[2 * (n - 1) + 1], self.directory / f"node-{n}")
            for n in range(1, size + 1)
        }

    # -- what clients see --------------------------------------------------------------

    @property
    def bootstrap_servers(self) -> str:
        return ",".join(node.bootstrap_servers for node in self.nodes.values())

    def leader_of(self, topic: str, partition: int = 0) -> int:
        """The node id leading ``topic``'s ``partition`` now."""
        return int(self._describe(topic, partition)["leader_id"])

    def in_sync_replicas(self, topic: str, partition: int = 0) -> list[int]:
        return sorted(int(n) for n in self._describe(topic, partition)["isr_nodes"])

    def _describe(self, topic: str, partition: int) -> dict:
        admin = connect_admin(self._live_bootstrap(), timeout=10, **self.client_configs)
        try:
            [description] = admin.describe_topics([topic])
        finally:
            admin.close()
        for part in description["partitions"]:
            if part["partition_index"] == partition:
                return part
        raise LookupError(f"{topic} has no partition {partition}")

    # -- lifecycle -----------------------------------------------------------------------

    def start(self, timeout: float = _STARTUP_TIMEOUT) -> ApacheKafkaCluster:
        problem = missing()
        if problem:
            raise ApacheKafkaMissing(problem)
        self.directory.mkdir(parents=True, exist_ok=True)
        (self.directory / "log4j2.properties").write_text(_LOG4J)
        id_file = self.directory / "cluster-id"
        if not id_file.exists():  # kept with the data: a restart reuses the same cluster
            id_file.write_text(_cluster_id())
        for node in self.nodes.values():
            self._write_properties(node)
        with ThreadPoolExecutor(self.size) as pool:  # each format is a JVM start
            list(pool.map(self._format, self.nodes.values()))
        started = time.monotonic()
        for node in self.nodes.values():
            self._spawn(node)
        try:
            self.wait_ready(timeout)
        except BaseException:
            self.stop()
            raise
        log.info("Apache Kafka %s, %d node(s), ready in %.1fs at %s",
                 KAFKA_VERSION, self.size, time.monotonic() - started, self.bootstrap_servers)
        return self

    def wait_ready(self, timeout: float = _STARTUP_TIMEOUT, nodes: Iterable[int] | None = None) -> None:
        """Until every running node (or those given) answers, and the cluster sees them all."""
        wanted = [self.nodes[n] for n in (nodes if nodes is not None else self.nodes)]
        deadline = time.monotonic() + timeout
        for node in wanted:
            while True:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"Kafka node {node.node_id} exited with status "
                                       f"{node.process.returncode}\n{node.tail()}")
                error = self._probe(node.bootstrap_servers)
                if error is None:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(f"Kafka node {node.node_id} did not answer within "
                                       f"{timeout:.0f}s: {error}\n{node.tail()}")
                time.sleep(0.25)
        while set(self.registered_brokers()) < {n.node_id for n in wanted}:
            if time.monotonic() > deadline:
                raise TimeoutError(f"brokers registered: {self.registered_brokers()}, "
                                   f"expected {[n.node_id for n in wanted]}")
            time.sleep(0.25)

    def registered_brokers(self) -> list[int]:
        try:
            admin = connect_admin(self._live_bootstrap(), timeout=5, **self.client_configs)
        except Exception:
            return []
        try:
            return sorted(int(b["broker_id"]) for b in admin.describe_cluster()["brokers"] if not b.get("is_fenced"))
        except Exception:
            return []
        finally:
            admin.close()

    def kill(self, node_id: int) -> None:
        """SIGKILL one node: no shutdown, no flush, as a crashed machine."""
        node = self.nodes[node_id]
        if node.process is not None:
            self._signal(node, signal.SIGKILL)
            node.process.wait()
        self._close_log(node)

    def pause(self, node_id: int) -> None:
        """SIGSTOP: the node holds its connections and answers nothing (a slow broker)."""
        self._signal(self.nodes[node_id], signal.SIGSTOP)

    def resume(self, node_id: int) -> None:
        self._signal(self.nodes[node_id], signal.SIGCONT)

    def restart(self, node_id: int, timeout: float = _STARTUP_TIMEOUT) -> None:
        """Start a stopped or killed node again, on its ports and its data."""
        node = self.nodes[node_id]
        if node.is_running():
            raise RuntimeError(f"Kafka node {node_id} is running (pid {node.pid})")
        self._spawn(node)
        self.wait_ready(timeout, nodes=[node_id])

    def stop_node(self, node_id: int, timeout: float = 30.0) -> None:
        """A clean shutdown of one node (SIGTERM, then SIGKILL after ``timeout``)."""
        node = self.nodes[node_id]
        process = node.process
        if process is not None and process.poll() is None:
            self._signal(node, signal.SIGCONT)  # a paused JVM cannot handle SIGTERM
            self._signal(node, signal.SIGTERM)
            try:
                process.wait(timeout)
            except subprocess.TimeoutExpired:
                self._signal(node, signal.SIGKILL)
                process.wait()
        self._close_log(node)

    def stop(self) -> None:
        with ThreadPoolExecutor(self.size) as pool:
            list(pool.map(self.stop_node, self.nodes))

    def __enter__(self) -> ApacheKafkaCluster:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 traceback: TracebackType | None) -> None:
        self.stop()

    def __repr__(self) -> str:
        running = [n for n, node in self.nodes.items() if node.is_running()]
        return f"ApacheKafkaCluster({self.bootstrap_servers}, running nodes {running})"

    # -- the parts -----------------------------------------------------------------------

    def _live_bootstrap(self) -> str:
        live = [n.bootstrap_servers for n in self.nodes.values() if n.is_running()]
        return ",".join(live) or self.bootstrap_servers

    def _probe(self, bootstrap_servers: str) -> Exception | None:
        return probe(bootstrap_servers, 2.0, client_id="tandem-kafka-ready", **self.client_configs)

    def _write_properties(self, node: KafkaNode) -> None:
        replicas = "3" if self.size == 3 else "1"
        min_isr = "2" if self.size == 3 else "1"
        voters = ",".join(f"{n.node_id}@127.0.0.1:{n.controller_port}" for n in self.nodes.values())
        properties = {
            "process.roles": "broker,controller",
            "node.id": str(node.node_id),
            "controller.quorum.voters": voters,
            "listeners": f"CLIENT://127.0.0.1:{node.port},CONTROLLER://127.0.0.1:{node.controller_port}",
            "advertised.listeners": f"CLIENT://127.0.0.1:{node.port}",
            "listener.security.protocol.map": f"CLIENT:{self.client_protocol},CONTROLLER:PLAINTEXT",
            "controller.listener.names": "CONTROLLER",
            "inter.broker.listener.name": "CLIENT",
            "log.dirs": str(node.directory / "data"),
            "num.partitions": "1",
            "default.replication.factor": replicas,
            "min.insync.replicas": min_isr,
            "offsets.topic.replication.factor": replicas,
            "offsets.topic.num.partitions": "10",  # fewer than 50: quicker to elect on 2 cores
            "transaction.state.log.replication.factor": replicas,
            "transaction.state.log.min.isr": min_isr,
            "share.coordinator.state.topic.replication.factor": replicas,
            "share.coordinator.state.topic.min.isr": min_isr,
            "group.initial.rebalance.delay.ms": "0",
            "auto.create.topics.enable": "false",  # topics are the platform's (tandem topics)
            # Leadership returns to the preferred node soon after it comes back.
            "leader.imbalance.check.interval.seconds": "5",
        }
        properties.update(self.properties)
        node.directory.mkdir(parents=True, exist_ok=True)
        text = "".join(f"{key}={value}\n" for key, value in properties.items())
        (node.directory / "server.properties").write_text(text)

    def _java(self, *args: str, heap: str | None = None) -> list[str]:
        command = ["java"]
        if heap:
            command += [f"-Xms{min(256, int(heap.rstrip('m')))}m", f"-Xmx{heap}", "-XX:+UseG1GC"]
        command += [
            "-Djava.awt.headless=true",
            f"-Dlog4j2.configurationFile=file:{self.directory / 'log4j2.properties'}",
            "-cp", str(kafka_home() / "lib" / "*"),
            *args,
        ]
        return command

    def _format(self, node: KafkaNode) -> None:
        cluster_id = (self.directory / "cluster-id").read_text().strip()
        command = self._java(
            "kafka.tools.StorageTool", "format", "--ignore-formatted",
            "-t", cluster_id, "-c", str(node.directory / "server.properties"), *self.format_args,
        )
        result = subprocess.run(command, capture_output=True, text=True, timeout=120)
        if result.returncode != 0:
            raise RuntimeError(f"formatting Kafka node {node.node_id} failed:\n{result.stdout}{result.stderr}")

    def _spawn(self, node: KafkaNode) -> None:
        node.log_file = node.log_path.open("ab")
        node.process = subprocess.Popen(
            self._java("kafka.Kafka", str(node.directory / "server.properties"), heap=self.heap),
            stdin=subprocess.DEVNULL, stdout=node.log_file, stderr=subprocess.STDOUT,
            start_new_session=True,  # its own group: a Ctrl-C reaches the test, which stops it
        )

    @staticmethod
    def _signal(node: KafkaNode, signum: signal.Signals) -> None:
        if node.process is None:
            return
        try:
            os.kill(node.process.pid, signum)
        except ProcessLookupError:
            pass

    @staticmethod
    def _close_log(node: KafkaNode) -> None:
        if node.log_file is not None:
            node.log_file.close()
            node.log_file = None
