"""The platform on a secured Apache Kafka cluster, as a managed one is run: a SASL_SSL listener
(SCRAM-SHA-512 over TLS, with a CA and a broker certificate made here), the StandardAuthorizer
with ACLs, and one principal per service that may write only its own topics and read only
those it consumes, in its own consumer group.

Shown: the chain enrolment -> matching -> sessions works, each service with its principal; a
client without credentials is refused; a principal writing another service's topic is refused;
a service the broker refuses says so in /healthz, keeps accepting writes, and publishes every
one of them, once, when its credentials or its ACLs are put right."""

from __future__ import annotations

import datetime as dt
import ipaddress
import secrets
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from kafka import KafkaConsumer, KafkaProducer, TopicPartition
from kafka.admin import (
    ACL, ACLFilter, ACLOperation, ACLPermissionType, ACLResourcePatternType, ResourcePattern, ResourcePatternFilter, ResourceType,
)
from kafka.errors import KafkaTimeoutError, SaslAuthenticationFailedError, TopicAuthorizationFailedError

from contracts.topics import CONSUMES, Topics
from infra.apache_kafka import ApacheKafkaCluster
from infra.topics import ensure_topics
from platform_fixture import Platform
from services.common.kafka import connect_admin
from services.matching.settings import MatchingSettings
from services.sessions.settings import SessionsSettings
from stores import StoreSettings
from support import TopicReader, events_of, pool_of, require_apache_kafka, set_up, wait_for

pytestmark = [pytest.mark.integration, pytest.mark.timeout(300)]

SERVICES = ("enrolment", "matching", "sessions")
# The consumer groups the services join by default (MATCHING_CONSUMER_GROUP, SESSIONS_CONSUMER_GROUP).
GROUPS = {
    "matching": MatchingSettings.model_fields["consumer_group"].default,
    "sessions": SessionsSettings.model_fields["consumer_group"].default,
}


# --- the certificates: a CA, and the broker's certificate it signs, for 127.0.0.1 -----------


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_certificates(directory: Path) -> tuple[Path, Path]:
    """ca.pem (what clients trust) and broker.pem (the broker's PKCS#8 key and its certificate,
    Kafka's PEM key store); the key never leaves the test's directory."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Tandem test CA"))
        .issuer_name(_name("Tandem test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, key_cert_sign=True, crl_sign=True, content_commitment=False,
                                     key_encipherment=False, data_encipherment=False, key_agreement=False,
                                     encipher_only=False, decipher_only=False), critical=True)
        .sign(ca_key, hashes.SHA256())
    )
    broker_key = ec.generate_private_key(ec.SECP256R1())
    broker = (
        x509.CertificateBuilder()
        .subject_name(_name("127.0.0.1"))
        .issuer_name(ca.subject)
        .public_key(broker_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=1))
        # Clients check the broker's name (KAFKA_SSL_CHECK_HOSTNAME, the broker's own
        # inter-broker client too): the address they dial is in the certificate.
        .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH, x509.oid.ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, key_store = directory / "ca.pem", directory / "broker.pem"
    ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    key_store.write_bytes(
        broker_key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        + broker.public_bytes(serialization.Encoding.PEM)
        + ca.public_bytes(serialization.Encoding.PEM)
    )
    key_store.chmod(0o600)
    return ca_file, key_store


# --- the cluster: SASL_SSL with SCRAM-SHA-512, the StandardAuthorizer ------------------------


@dataclass
class SecuredCluster:
    cluster: ApacheKafkaCluster
    ca_file: Path
    passwords: dict[str, str]  # principal -> its SCRAM password (admin and one per service)

    @property
    def bootstrap(self) -> str:
        return self.cluster.bootstrap_servers

    def client(self, user: str, password: str | None = None) -> dict[str, Any]:
        """kafka-python settings that authenticate as ``user``."""
        return {
            "security_protocol": "SASL_SSL",
            "sasl_mechanism": "SCRAM-SHA-512",
            "sasl_plain_username": user,
            "sasl_plain_password": password if password is not None else self.passwords[user],
            "ssl_cafile": str(self.ca_file),
        }

    def env(self, user: str, password: str | None = None) -> dict[str, str]:
        """The same, as a service (or `tandem topics`) reads it from its environment."""
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": password if password is not None else self.passwords[user],
            "KAFKA_SSL_CAFILE": str(self.ca_file),
        }


def secured_properties(ca_file: Path, key_store: Path, admin_password: str) -> dict[str, str]:
    return {
        "sasl.enabled.mechanisms": "SCRAM-SHA-512",
        "sasl.mechanism.inter.broker.protocol": "SCRAM-SHA-512",
        # The broker's own client (inter-broker, on the CLIENT listener) is admin.
        "listener.name.client.scram-sha-512.sasl.jaas.config":
            f'org.apache.kafka.common.security.scram.ScramLoginModule required username="admin" password="{admin_password}";',
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(key_store),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(ca_file),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        # admin: topics and ACLs. ANONYMOUS: the broker talking to its controller on the
        # PLAINTEXT CONTROLLER listener (KRaft's forwarding and registration need
        # CLUSTER_ACTION there). Nobody is ANONYMOUS on the SASL_SSL CLIENT listener, the only
        # one advertised to clients; in production the controller listener is not reachable
        # by clients at all (or is itself SASL_SSL, with its own principal).
        "super.users": "User:admin;User:ANONYMOUS",
    }


@pytest.fixture(scope="module")
def secured(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecuredCluster]:
    require_apache_kafka()
    directory = tmp_path_factory.mktemp("secured-kafka")
    ca_file, key_store = make_certificates(directory / "tls")
    passwords = {user: secrets.token_urlsafe(18) for user in ("admin", *SERVICES)}
    scram = [arg for user, password in passwords.items()
             for arg in ("--add-scram", f"SCRAM-SHA-512=[name={user},password={password}]")]
    admin = {"security_protocol": "SASL_SSL", "sasl_mechanism": "SCRAM-SHA-512", "sasl_plain_username": "admin",
             "sasl_plain_password": passwords["admin"], "ssl_cafile": str(ca_file)}
    cluster = ApacheKafkaCluster(
        directory / "cluster",
        size=1,
        properties=secured_properties(ca_file, key_store, passwords["admin"]),
        format_args=scram,
        client_protocol="SASL_SSL",
        client_configs=admin,
    )
    with cluster:
        yield SecuredCluster(cluster, ca_file, passwords)


# --- ACLs: each service's principal, its own topics and group -------------------------------


def writes(topics: Topics, service: str) -> list[str]:
    """What a service publishes: its events (relay), its audit checkpoints and, if it
    consumes, its dead letters."""
    return [topics.of(service), topics.audit_checkpoints, *([topics.dead_letters(service)] if service in CONSUMES else [])]


def reads(topics: Topics, service: str) -> list[str]:
    return [topics.of(producer) for producer in CONSUMES.get(service, ())]


def service_acls(topics: Topics, service: str) -> list[ACL]:
    principal = f"User:{service}"

    def allow(operation: ACLOperation, kind: ResourceType, name: str) -> ACL:
        return ACL(principal, "*", operation, ACLPermissionType.ALLOW, ResourcePattern(kind, name, ACLResourcePatternType.LITERAL))

    acls = [allow(ACLOperation.WRITE, ResourceType.TOPIC, name) for name in writes(topics, service)]  # WRITE implies DESCRIBE, and idempotent writes
    acls += [allow(ACLOperation.READ, ResourceType.TOPIC, name) for name in reads(topics, service)]
    if service in GROUPS:
        acls.append(allow(ACLOperation.READ, ResourceType.GROUP, GROUPS[service]))
    return acls


def grant(secured: SecuredCluster, acls: list[ACL]) -> None:
    """Create the ACLs as admin, and wait until the broker applies them (they reach its
    authorizer through the metadata log, a moment after the controller took them)."""
    admin = connect_admin(secured.bootstrap, **secured.client("admin"))
    try:
        result = admin.create_acls(acls)
        assert not result["failed"], result["failed"]
        every = ACLFilter(None, None, ACLOperation.ANY, ACLPermissionType.ANY,
                          ResourcePatternFilter(ResourceType.ANY, None, ACLResourcePatternType.ANY))
        wait_for(lambda: set(acls) <= set(admin.describe_acls(every)[0]), timeout=15)
    finally:
        admin.close()


# --- the platform on it ---------------------------------------------------------------------


@pytest.fixture
def topics(secured: SecuredCluster, topic_prefix: str) -> Topics:
    """This test's topics, made by admin as an operator runs `tandem topics` (its KAFKA_*
    settings those of admin): the services' principals may not create topics."""
    topics = Topics(topic_prefix)
    with pytest.MonkeyPatch.context() as env:
        for name, value in secured.env("admin").items():
            env.setenv(name, value)
        ensure_topics(secured.bootstrap, topics.all(), partitions=3)
    return topics


@pytest.fixture
def platform(secured: SecuredCluster, topics: Topics, tmp_path: Path, event_stores: StoreSettings) -> Iterator[Platform]:
    platform = Platform(secured.bootstrap, topics, tmp_path, event_stores)
    yield platform
    platform.stop_all()


def start(platform: Platform, secured: SecuredCluster, service: str, password: str | None = None) -> Any:
    """The service as its own principal; its client as a group admin."""
    return platform.client(platform.start(service, **secured.env(service, password)))


def health(client: Any) -> dict[str, Any]:
    return client.get("/healthz").json()


def admin_reader(secured: SecuredCluster, topic: str) -> TopicReader:
    return TopicReader(secured.bootstrap, topic, **secured.client("admin"))


SLUG = "axa-secured"
EXPECTED_ENROLMENT_EVENTS = 8  # set_up, one mentor and three mentees: onboarded, its programme and the one set, 4 enrolled, 1 certified


def test_the_chain_runs_with_one_principal_per_service(secured, topics, platform):
    for service in SERVICES:
        grant(secured, service_acls(topics, service))
    enrolment, matching, sessions = (start(platform, secured, service) for service in SERVICES)

    ids = set_up(enrolment, SLUG, mentors=2, mentees=3, capacity=2)
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentors"]) == 2 and len(p["mentees"]) == 3)
    run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    assert run["summary"]["matched"] == 3
    published = matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish")
    assert published.status_code == 200, published.text

    relationships = wait_for(lambda: len(r := sessions.get(f"/subsidiaries/{SLUG}/relationships").json()) == 3 and r)
    assert {r["match_id"] for r in relationships} == set(published.json()["match_ids"])
    assert {m["id"] for r in relationships for m in r["mentees"]} == {pid for email, pid in ids.items() if email.startswith("mentee")}
    matches = matching.get(f"/subsidiaries/{SLUG}/matches", params={"status": "active"}).json()
    assert {m["id"] for m in matches} == set(published.json()["match_ids"])
    # Every part of every service is well: broker, consumer, relay, checkpoints.
    for client in (enrolment, matching, sessions):
        report = wait_for(lambda c=client: (h := health(c))["status"] == "ok" and h, timeout=30)
        assert report["broker"]["ok"] and report["relay"]["last_error"] is None


def test_a_client_without_credentials_is_refused(secured):
    # The port answers admin...
    connect_admin(secured.bootstrap, timeout=10, **secured.client("admin")).close()
    # ...and nobody who does not log in: in the clear, or over TLS alone.
    for refused in ({"security_protocol": "PLAINTEXT"}, {"security_protocol": "SSL", "ssl_cafile": str(secured.ca_file)}):
        with pytest.raises(KafkaTimeoutError):
            connect_admin(secured.bootstrap, timeout=3, **refused).close()
        producer = None
        with pytest.raises(KafkaTimeoutError):
            producer = KafkaProducer(bootstrap_servers=secured.bootstrap, bootstrap_timeout_ms=3000, max_block_ms=3000, **refused)
            producer.send("anything", b"x").get(timeout=5)
        if producer is not None:
            producer.close(timeout=1)
    # A principal with a wrong password is refused, and the broker says why. The client is
    # not always told: kafka-python now and then loses the refusal, which comes with the
    # closing connection, and times out instead. The broker's log is the ground truth.
    failures = []
    for _ in range(3):
        try:
            connect_admin(secured.bootstrap, timeout=3, **secured.client("enrolment", "not-its-password")).close()
        except (SaslAuthenticationFailedError, KafkaTimeoutError) as exc:
            failures.append(exc)
            if isinstance(exc, SaslAuthenticationFailedError):
                assert "invalid credentials" in str(exc)
                break
        else:
            pytest.fail("a wrong password was let in")
    log = secured.cluster.nodes[1].log_path
    wait_for(lambda: "invalid credentials with SASL mechanism SCRAM-SHA-512" in log.read_text(errors="replace"), timeout=10)
    # The same principal with its own password is let in: it was the password that was refused.
    connect_admin(secured.bootstrap, timeout=10, **secured.client("enrolment")).close()


def test_a_service_principal_may_not_write_another_services_topic(secured, topics):
    grant(secured, service_acls(topics, "matching") + service_acls(topics, "enrolment"))
    producer = KafkaProducer(bootstrap_servers=secured.bootstrap, max_block_ms=10_000, **secured.client("matching"))
    try:
        assert producer.send(topics.matching, b"its own topic").get(timeout=15).offset == 0
        for other in (topics.enrolment, topics.sessions):
            with pytest.raises(TopicAuthorizationFailedError):
                producer.send(other, b"not its topic").get(timeout=15)
    finally:
        producer.close(timeout=2)
    # Nor read a topic it does not consume: enrolment consumes nothing.
    consumer = KafkaConsumer(bootstrap_servers=secured.bootstrap, group_id=None, **secured.client("enrolment"))
    try:
        with pytest.raises(TopicAuthorizationFailedError):
            consumer.end_offsets([TopicPartition(topics.matching, 0)])
    finally:
        consumer.close()
    with admin_reader(secured, topics.matching) as topic:
        assert [r.value for r in topic.settle()] == [b"its own topic"]


def published_once(records: list) -> list:
    """The events on a topic, checked to be there once each (by event_id)."""
    events = events_of(records)
    assert len({e.event_id for e in events}) == len(events), "an event was published twice"
    return events


def test_a_refused_login_shows_in_healthz_and_nothing_written_meanwhile_is_lost(secured, topics, platform):
    grant(secured, service_acls(topics, "enrolment"))
    enrolment = start(platform, secured, "enrolment", password="not-its-password")
    refused = wait_for(lambda: "SaslAuthenticationFailedError" in str((h := health(enrolment))["broker"]["last_error"]) and h)
    assert refused["status"] == "degraded" and refused["broker"]["ok"] is False
    assert secured.passwords["enrolment"] not in str(refused)

    # Writes are still taken, and kept in the store for later.
    ids = set_up(enrolment, SLUG, mentors=1, mentees=3)
    report = health(enrolment)["relay"]
    assert report["lag"] > 0 and report["published_up_to"] == 0

    platform.processes[0].stop()
    enrolment = start(platform, secured, "enrolment")
    wait_for(lambda: (h := health(enrolment))["status"] == "ok" and h["relay"]["lag"] == 0 and h, timeout=60)
    with admin_reader(secured, topics.enrolment) as topic:
        events = published_once(topic.read_count(EXPECTED_ENROLMENT_EVENTS) and topic.settle())
    assert Counter(e.type for e in events) == {"SubsidiaryOnboarded": 1, "ProgrammeConfigured": 2, "ParticipantEnrolled": 4, "MentorCertified": 1}
    assert sorted(str(e.payload.participant_id) for e in events if e.type == "ParticipantEnrolled") == sorted(ids.values())


def test_a_missing_acl_shows_in_healthz_and_the_events_go_out_once_it_is_granted(secured, topics, platform):
    grant(secured, service_acls(topics, "enrolment") + service_acls(topics, "sessions"))
    own_topic = [acl for acl in service_acls(topics, "matching") if acl.resource_pattern.resource_name == topics.matching]
    grant(secured, [acl for acl in service_acls(topics, "matching") if acl not in own_topic])
    enrolment, matching, sessions = (start(platform, secured, service) for service in SERVICES)

    set_up(enrolment, SLUG, mentors=2, mentees=2, capacity=1)
    wait_for(lambda: (p := pool_of(matching, SLUG)) and len(p["mentors"]) == 2 and len(p["mentees"]) == 2)
    run = matching.post(f"/subsidiaries/{SLUG}/matching-runs", json={"format": "pair"}).json()
    published = matching.post(f"/subsidiaries/{SLUG}/matching-runs/{run['id']}/publish")
    assert published.status_code == 200, published.text  # recorded, though it cannot go out yet
    refused = wait_for(lambda: "TopicAuthorizationFailedError" in str((h := health(matching))["relay"]["last_error"]) and h)
    assert refused["status"] == "degraded" and refused["relay"]["lag"] > 0
    assert refused["broker"]["ok"]  # it logs in; only its topic is closed to it
    assert sessions.get(f"/subsidiaries/{SLUG}/relationships").json() == []

    grant(secured, own_topic)
    relationships = wait_for(lambda: len(r := sessions.get(f"/subsidiaries/{SLUG}/relationships").json()) == 2 and r, timeout=60)
    assert {r["match_id"] for r in relationships} == set(published.json()["match_ids"])
    wait_for(lambda: (h := health(matching))["status"] == "ok" and h["relay"]["lag"] == 0, timeout=30)
    with admin_reader(secured, topics.matching) as topic:
        events = published_once(topic.read_count(2) and topic.settle())
    assert sorted(str(e.payload.match_id) for e in events if e.type == "MatchConfirmed") == sorted(published.json()["match_ids"])
