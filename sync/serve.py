"""Running nginx over the served tree with the config the container image ships.

``nginx/nginx.conf`` holds the image's real paths. A local run renders it by replacing only
three literals: the tree path, the runtime directory (pid file and temp directories) and the
``listen`` address (the image's IPv4 listen becomes the one address asked for; its IPv6 listen
is dropped). Everything else, from caching headers to refused paths, is the image's.

nginx runs as the current user, in the foreground (``daemon off``), with its master process;
its access log (JSON lines) goes to stdout and its errors to stderr.
"""

from __future__ import annotations

import ipaddress
import grp
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from sync.errors import SyncError, UsageError
from sync.lock import Lock
from sync.tree import Tree
from sync.tree.precompress import pending, precompress
from sync.tree.store import writer_lock

# the literals of nginx/nginx.conf that a local run replaces (see the head of that file)
IMAGE_ROOT = "/srv/plugins"
IMAGE_RUN_DIR = "/tmp/nginx"
IMAGE_LISTEN = "listen 8080;"
IMAGE_LISTEN6 = "listen [::]:8080;"  # the image is dual-stack; a local run serves one address
IMAGE_PORT = 8080

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080

INSTALL_HINT = (
    "nginx is not installed: install it (Debian/Ubuntu: `sudo apt-get install nginx`, "
    "Fedora: `sudo dnf install nginx`, macOS: `brew install nginx`) or pass --nginx PATH"
)
# nginx lives in sbin, which a normal user's PATH often lacks
_NGINX_DIRS = ("/usr/sbin", "/usr/local/sbin", "/usr/local/nginx/sbin", "/opt/homebrew/bin")
# characters a path may hold to be written into the config unquoted
_SAFE_PATH = re.compile(r"[A-Za-z0-9._/+@:,=~-]+")


def default_template() -> Path:
    """``nginx/nginx.conf``: the checkout's, or the copy an installed package carries
    (``sync/nginx.conf``, a link to it in the source tree)."""
    checkout = Path(__file__).resolve().parent.parent / "nginx" / "nginx.conf"
    return checkout if checkout.is_file() else Path(__file__).resolve().parent / "nginx.conf"


@dataclass(frozen=True)
class Listen:
    host: str
    port: int

    def __post_init__(self) -> None:
        if not 1 <= self.port <= 65535:
            raise UsageError(f"port {self.port} is out of range (1-65535)")
        if not (_is_ip(self.host) or re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9.-]{0,252})", self.host)):
            raise UsageError(f"host {self.host!r} is neither an IP address nor a host name")

    @property
    def _bracketed(self) -> str:
        return f"[{self.host}]" if ":" in self.host else self.host

    def directive(self) -> str:
        return f"listen {self._bracketed}:{self.port};"

    @property
    def url(self) -> str:
        """The base URL a client on this machine uses (an unspecified address means loopback)."""
        host = self.host
        if host == "0.0.0.0":
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        return f"http://{f'[{host}]' if ':' in host else host}:{self.port}"


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True


def _check_path(path: Path, what: str) -> str:
    text = str(path)
    if not _SAFE_PATH.fullmatch(text):
        raise UsageError(
            f"{what} {text!r} holds characters the nginx config cannot carry unquoted "
            "(spaces, quotes, ';', '{', '}', '$', '#'); use a path without them"
        )
    return text


def render_config(template: str, root: Path, run_dir: Path, listen: Listen) -> str:
    """The config for a local run: ``template`` with the tree, runtime dir and listen replaced.

    ``root`` and ``run_dir`` must be absolute. One pass, so no replacement is replaced again;
    comment lines are left as they are.
    """
    if not root.is_absolute() or not run_dir.is_absolute():
        raise ValueError("render_config needs absolute paths")
    swaps = {
        IMAGE_ROOT: _check_path(root, "tree path"),
        IMAGE_RUN_DIR: _check_path(run_dir, "runtime directory"),
        IMAGE_LISTEN: listen.directive(),
    }
    code = "".join(line for line in template.splitlines(keepends=True) if not line.lstrip().startswith("#"))
    for literal in swaps:
        if literal not in code:
            raise SyncError(f"nginx config template lacks {literal!r}; it is not the plugin server's config")
    # a literal counts only as a whole path: /srv/plugins but not /srv/pluginsX
    pattern = re.compile(
        "|".join(
            re.escape(k) + (r"(?![A-Za-z0-9_-])" if k.startswith("/") else "")
            for k in sorted(swaps, key=len, reverse=True)
        )
    )
    return "".join(
        line if line.lstrip().startswith("#") else pattern.sub(lambda m: swaps[m.group(0)], line)
        for line in template.splitlines(keepends=True)
        if line.strip() != IMAGE_LISTEN6
    )


def prepare_tree(tree: Tree, lock: Lock, jobs: int | None = None, wait: float = 600.0,
                 on_wait: Callable[[], None] | None = None) -> int:
    """Write the precompressed modules the tree lacks, as a writer: under the tree's lock,
    so that a pull never changes the tree meanwhile (waits up to ``wait`` seconds, then
    refuses). A tree with nothing to compress is only read (it may be read-only), so no
    lock is taken. Returns how many were written."""
    if not pending(tree, lock):
        return 0
    with writer_lock(tree, wait, on_wait):
        return precompress(tree, lock, jobs)


def find_nginx(explicit: str | None = None) -> str:
    """The nginx binary: ``explicit``, else on PATH, else in the usual sbin directories."""
    if explicit:
        found = shutil.which(explicit)
        if not found:
            raise UsageError(f"nginx binary {explicit!r} not found or not executable")
        return found
    path = os.pathsep.join([os.environ.get("PATH", ""), *_NGINX_DIRS])
    found = shutil.which("nginx", path=path)
    if not found:
        raise UsageError(INSTALL_HINT)
    return found


@dataclass(frozen=True)
class NginxRun:
    """One prepared run: a private runtime directory holding the rendered config."""

    binary: str
    run_dir: Path
    conf: Path
    listen: Listen

    def argv(self, *extra: str) -> list[str]:
        argv = [self.binary, "-e", "stderr", "-p", f"{self.run_dir}/", "-c", str(self.conf)]
        if os.geteuid() == 0:
            # as root, nginx would switch its workers to `nobody`; keep the caller's identity
            user = pwd.getpwuid(os.geteuid()).pw_name
            group = grp.getgrgid(os.getegid()).gr_name
            argv += ["-g", f"user {user} {group};"]
        return argv + list(extra)

    def test_argv(self) -> list[str]:
        """``nginx -t`` on this run's config."""
        return self.argv("-t", "-q")

    def cleanup(self) -> None:
        shutil.rmtree(self.run_dir, ignore_errors=True)


def prepare(root: Path, listen: Listen, *, binary: str, template: Path | None = None) -> NginxRun:
    """Render the config into a fresh private runtime directory. Call ``cleanup`` after."""
    template = template or default_template()
    try:
        text = template.read_text(encoding="utf-8")
    except OSError as e:
        raise UsageError(f"cannot read the nginx config template {template}: {e.strerror}") from None
    root = root.resolve()
    run_dir = Path(tempfile.mkdtemp(prefix="plugin-sync-nginx-"))
    try:
        conf = run_dir / "nginx.conf"
        conf.write_text(render_config(text, root, run_dir, listen), encoding="utf-8")
    except BaseException:
        shutil.rmtree(run_dir, ignore_errors=True)
        raise
    return NginxRun(binary=binary, run_dir=run_dir, conf=conf, listen=listen)


def port_in_use(listen: Listen) -> bool:
    """True if something already listens on ``listen`` (checked by binding to it)."""
    family = socket.AF_INET6 if ":" in listen.host else socket.AF_INET
    with socket.socket(family, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((listen.host, listen.port))
        except OSError:
            return True
    return False


def run_foreground(run: NginxRun, on_start: Callable[[], None] | None = None) -> int:
    """Run nginx until it exits; SIGINT, SIGTERM and SIGQUIT are passed on to it.

    Returns 0 when nginx stopped cleanly: because of a forwarded signal, or a stop signal
    sent to nginx itself (said in one line); raises ``SyncError`` when a signal killed it
    or it exited with an error.
    """
    forwarded: list[int] = []
    proc = subprocess.Popen(run.argv(), stdin=subprocess.DEVNULL)

    def forward(signum: int, _frame: object) -> None:
        forwarded.append(signum)
        try:
            proc.send_signal(signum)
        except ProcessLookupError:
            pass

    wanted = (signal.SIGINT, signal.SIGTERM, signal.SIGQUIT)
    previous = {s: signal.signal(s, forward) for s in wanted}
    try:
        if on_start:
            on_start()
        rc = proc.wait()
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)
        if proc.poll() is None:
            proc.terminate()
            proc.wait()
    return _outcome(rc, forwarded)


def _outcome(rc: int, forwarded: list[int]) -> int:
    """The exit code for nginx's end, saying in one line what happened when it was not
    stopped through us: a stop signal sent to nginx itself (it then exits 0, a clean stop),
    a signal that killed it, or an error it printed."""
    if forwarded:
        return 0
    if rc == 0:
        print("plugin-sync: nginx stopped by itself with status 0: a stop signal (SIGQUIT, SIGTERM, SIGINT) "
              "or `nginx -s quit|stop` reached nginx directly", file=sys.stderr)
        return 0
    if rc < 0:
        raise SyncError(f"nginx was killed by signal {_signal_name(-rc)}")
    raise SyncError(f"nginx exited with status {rc}; its message is above")


def _signal_name(number: int) -> str:
    try:
        return signal.Signals(number).name
    except ValueError:
        return str(number)


def serve(tree: Tree, listen: Listen, *, binary: str, template: Path | None = None) -> int:
    """Serve ``tree`` at ``listen`` until interrupted."""
    root = tree.root
    if not root.is_dir():
        raise UsageError(f"{root}: no such tree; run `plugin-sync pull` first or pass --root")
    if port_in_use(listen):
        raise UsageError(f"{listen.host}:{listen.port} is already in use; choose another with --port")
    run = prepare(root, listen, binary=binary, template=template)

    def started() -> None:
        print(f"plugin-sync: serving {root} at {listen.url}/plugins/ (Ctrl-C stops)", file=sys.stderr)
        if not tree.index_json.exists():
            print(f"plugin-sync: warning: {tree.index_json} is missing, so /readyz answers 503",
                  file=sys.stderr)

    try:
        return run_foreground(run, started)
    finally:
        run.cleanup()
