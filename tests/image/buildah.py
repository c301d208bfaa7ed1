"""Real image builds without a Docker engine: Debian's buildah (chroot isolation; overlay
storage where the kernel allows it, else vfs, which copies every layer and is much slower)
and base images made with mmdebstrap.

    with Buildah(tmp) as b:
        b.build(context, "plugin-server:test", build_args={...})
        b.labels("plugin-server:test")
        with b.running("plugin-server:test") as c:    # nginx on 127.0.0.1:8080
            c.run("curl", ...)
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator, Mapping

import requests

PYTHON_BASE = "localhost/plugin-server-test/python-base:latest"
NGINX_BASE = "localhost/plugin-server-test/nginx-base:latest"
HOST_CA = Path("/etc/ssl/certs/ca-certificates.crt")


def available() -> str | None:
    """Why image builds cannot run here, or None."""
    for tool in ("buildah", "mmdebstrap"):
        if shutil.which(tool) is None:
            return f"{tool} is not installed (scripts/debian-packages lists it)"
    return None


@dataclass
class Buildah:
    dir: Path  # storage, run root and scratch space of this test session
    driver: str = "vfs"

    @property
    def global_args(self) -> list[str]:
        return ["buildah", "--storage-driver", self.driver, "--root", str(self.dir / f"storage-{self.driver}"),
                "--runroot", str(self.dir / f"run-{self.driver}")]

    @property
    def env(self) -> dict[str, str]:
        """The caller's environment with an empty registry credentials file of buildah's own:
        no credentials of the machine are used, and buildah does not refuse the missing
        ``$DOCKER_CONFIG/config.json`` the tests point it at."""
        auth = self.dir / "auth.json"
        if not auth.exists():
            auth.write_text('{"auths": {}}\n')
        return {**os.environ, "REGISTRY_AUTH_FILE": str(auth)}

    def pick_driver(self) -> str:
        """overlay if a trivial build works with it here, else vfs."""
        probe = self.dir / "probe"
        probe.mkdir(exist_ok=True)
        (probe / "x").write_text("x\n")
        (probe / "Containerfile").write_text("FROM scratch\nCOPY x /x\n")
        self.driver = "overlay"
        if self.run("bud", "--isolation", "chroot", "-t", "probe", str(probe), check=False, timeout=120).returncode:
            self.driver = "vfs"
        return self.driver

    def run(self, *args: str, check: bool = True, timeout: float = 900) -> subprocess.CompletedProcess[str]:
        p = subprocess.run([*self.global_args, *args], capture_output=True, text=True, timeout=timeout, env=self.env)
        if check and p.returncode != 0:
            raise AssertionError(f"buildah {' '.join(args[:2])} failed ({p.returncode}):\n{p.stdout[-4000:]}\n{p.stderr[-4000:]}")
        return p

    def make_bases(self, base_tar: Path) -> None:
        """Two local base images from one Debian root: a Python with pip (the host's CA
        bundle, so pip works behind the machine's TLS proxy) and an nginx with user 101."""
        ctx = self.dir / "bases"
        ctx.mkdir(exist_ok=True)
        shutil.copy(base_tar, ctx / "base.tar")
        shutil.copy(HOST_CA, ctx / "host-ca.crt")
        (ctx / "Python.Containerfile").write_text(
            "FROM scratch\nADD base.tar /\nCOPY host-ca.crt /etc/ssl/host-ca.crt\n"
            "ENV PIP_CERT=/etc/ssl/host-ca.crt PIP_BREAK_SYSTEM_PACKAGES=1 PATH=/usr/local/bin:/usr/bin:/bin\n")
        (ctx / "Nginx.Containerfile").write_text(
            "FROM scratch\nADD base.tar /\n"
            "RUN echo 'nginx:x:101:101:nginx:/nonexistent:/usr/sbin/nologin' >> /etc/passwd && "
            "echo 'nginx:x:101:' >> /etc/group\nENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\n")
        for name, tag in (("Python", PYTHON_BASE), ("Nginx", NGINX_BASE)):
            self.run("bud", "--isolation", "chroot", "-f", str(ctx / f"{name}.Containerfile"), "-t", tag, str(ctx))

    def build(self, context: Path, tag: str, build_args: Mapping[str, str] | None = None,
              check: bool = True, extra: list[str] | None = None, fmt: str = "docker",
              layers: bool = True) -> subprocess.CompletedProcess[str]:
        """``fmt`` docker keeps the HEALTHCHECK; ``layers`` caches steps between builds."""
        args = ["bud", "--isolation", "chroot", "--format", fmt, f"--layers={str(layers).lower()}", *(extra or []),
                "--build-arg", f"PYTHON_IMAGE={PYTHON_BASE}", "--build-arg", f"NGINX_IMAGE={NGINX_BASE}"]
        for k, v in (build_args or {}).items():
            args += ["--build-arg", f"{k}={v}"]
        return self.run(*args, "-t", tag, str(context), check=check)

    def digest(self, image: str) -> str:
        """The manifest digest the image would be pushed with."""
        # one line per name the image has: two identical builds are one image with two names
        lines = set(self.run("images", "--no-trunc", "--format", "{{.Digest}}", image).stdout.split())
        assert len(lines) == 1, lines
        return lines.pop()

    def inspect(self, image: str) -> dict[str, object]:
        out: dict[str, object] = json.loads(self.run("inspect", "--type", "image", image).stdout)
        return out

    def config(self, image: str) -> dict[str, object]:
        """The Docker-format image config (Labels, User, Healthcheck, ExposedPorts, ...)."""
        docker = self.inspect(image)["Docker"]
        assert isinstance(docker, dict)
        cfg = docker["config"]
        assert isinstance(cfg, dict)
        return cfg

    @contextmanager
    def container(self, image: str) -> Iterator["Container"]:
        name = self.run("from", "--pull-never", image).stdout.strip().splitlines()[-1]
        try:
            yield Container(self, name)
        finally:
            self.run("rm", name, check=False)


@dataclass
class Container:
    buildah: Buildah
    name: str

    def exec(self, *cmd: str, user: str | None = None, check: bool = True) -> subprocess.CompletedProcess[str]:
        args = ["run", "--isolation", "chroot"]
        if user is not None:
            args += ["--user", user]
        return self.buildah.run(*args, self.name, "--", *cmd, check=check, timeout=120)

    @contextmanager
    def serving(self, entrypoint: list[str], port: int = 8080) -> Iterator[str]:
        """Run the image's entrypoint (as root: buildah run hands the process the caller's
        stdout, which user 101 may not open) until it answers on ``port``."""
        args = [*self.buildah.global_args, "run", "--isolation", "chroot", "--user", "0", self.name, "--", *entrypoint]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=self.buildah.env)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 30
            while True:
                try:
                    if requests.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except requests.RequestException:
                    pass
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the image's nginx did not start: {proc.stdout.read() if proc.stdout else ''}")
                time.sleep(0.2)
            yield base
        finally:
            # stop nginx inside the container (the buildah process only waits for it)
            self.exec("sh", "-c", "kill -QUIT $(cat /tmp/nginx/nginx.pid) 2>/dev/null || true", user="0", check=False)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
