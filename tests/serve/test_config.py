"""nginx/nginx.conf itself: it parses, gixy finds nothing, and a local run changes only
the tree path, runtime directory and listen address."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

import pytest

from sync import serve
from sync.errors import SyncError, UsageError
from sync.serve import IMAGE_LISTEN, IMAGE_LISTEN6, IMAGE_ROOT, IMAGE_RUN_DIR, Listen, render_config

REPO = Path(__file__).resolve().parents[2]
CONF = REPO / "nginx" / "nginx.conf"


def _code(text: str) -> list[str]:
    """The config's directive lines, without comments and blank lines."""
    return [line for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def test_the_template_is_the_default_one() -> None:
    assert serve.default_template() == CONF


def test_nginx_t_accepts_the_rendered_config(tmp_path: Path) -> None:
    (tmp_path / "plugins").mkdir()
    run = serve.prepare(tmp_path / "plugins", Listen("127.0.0.1", 8080), binary=serve.find_nginx())
    try:
        done = subprocess.run(run.test_argv(), capture_output=True, text=True, timeout=30)
        assert done.returncode == 0, done.stderr
        # nginx -t wrote nothing outside the private runtime directory
        assert {p.name for p in run.run_dir.iterdir()} >= {"nginx.conf"}
    finally:
        run.cleanup()
    assert not run.run_dir.exists()


def test_gixy_finds_nothing() -> None:
    done = subprocess.run(["gixy", "-f", "json", str(CONF)], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert json.loads(done.stdout) == []


def test_config_has_the_required_directives() -> None:
    code = "\n".join(_code(CONF.read_text()))
    for directive in ("server_tokens off;", "sendfile on;", "gzip_static on;", "autoindex on;",
                      "daemon off;", "access_log /dev/stdout json;", "error_log stderr",
                      "application/wasm        wasm;", "keepalive_timeout", "open_file_cache max="):
        assert directive in code, directive
    assert "user " not in code.replace("$http_user_agent", "")  # runs as whoever starts it
    # dual-stack: the same port over IPv4 and IPv6, nothing else
    assert re.findall(r"^\s*(listen .*)$", code, re.M) == [IMAGE_LISTEN, IMAGE_LISTEN6]
    assert "ssi on" not in code and "proxy_pass" not in code


def test_render_replaces_only_the_three_literals(tmp_path: Path) -> None:
    template = CONF.read_text()
    root, run_dir = tmp_path / "tree", tmp_path / "run"
    out = render_config(template, root, run_dir, Listen("127.0.0.1", 18080))
    before, after = [line for line in _code(template) if line.strip() != IMAGE_LISTEN6], _code(out)
    assert len(before) == len(after) == len(_code(template)) - 1
    # a local run listens on the one address asked for: the image's IPv6 listen is gone
    assert re.findall(r"^\s*(listen .*)$", out, re.M) == ["listen 127.0.0.1:18080;"]
    changed = [(a, b) for a, b in zip(before, after) if a != b]
    assert changed, "nothing was replaced"
    for old, new in changed:
        restored = (new.replace(str(root), IMAGE_ROOT).replace(str(run_dir), IMAGE_RUN_DIR)
                    .replace("listen 127.0.0.1:18080;", IMAGE_LISTEN))
        assert restored == old
    assert IMAGE_ROOT not in "\n".join(after) and IMAGE_RUN_DIR not in "\n".join(after)
    assert f"alias {root}/;" in out and f"pid {run_dir}/nginx.pid;" in out
    # comments keep naming the image's paths
    assert [line for line in out.splitlines() if line.lstrip().startswith("#")] == \
           [line for line in template.splitlines() if line.lstrip().startswith("#")]


def test_render_does_not_replace_its_own_output(tmp_path: Path) -> None:
    # a tree path that itself contains the runtime literal stays intact
    root = Path("/tmp/nginx-trees/plugins")
    out = render_config(CONF.read_text(), root, tmp_path / "run", Listen("127.0.0.1", 9000))
    assert "alias /tmp/nginx-trees/plugins/;" in out


@pytest.mark.parametrize("bad", ["/tmp/with space", "/tmp/semi;colon", "/tmp/brace{", "/tmp/$var", "/tmp/quote'"])
def test_render_refuses_paths_nginx_cannot_carry(tmp_path: Path, bad: str) -> None:
    with pytest.raises(UsageError, match="cannot carry"):
        render_config(CONF.read_text(), Path(bad), tmp_path, Listen("127.0.0.1", 9000))


def test_render_refuses_a_foreign_template(tmp_path: Path) -> None:
    with pytest.raises(SyncError, match="lacks"):
        render_config("events {}\nhttp { server { listen 80; } }\n", tmp_path, tmp_path, Listen("127.0.0.1", 1))


def test_listen_addresses() -> None:
    assert Listen("127.0.0.1", 8080).directive() == "listen 127.0.0.1:8080;"
    assert Listen("::1", 8081).directive() == "listen [::1]:8081;"
    assert Listen("0.0.0.0", 80).url == "http://127.0.0.1:80"
    assert Listen("::", 80).url == "http://[::1]:80"
    assert Listen("localhost", 8080).url == "http://localhost:8080"
    for host, port in (("127.0.0.1", 0), ("127.0.0.1", 70000), ("bad host;", 80), ("", 80)):
        with pytest.raises(UsageError):
            Listen(host, port)


def test_missing_nginx_says_how_to_install(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(serve, "_NGINX_DIRS", (str(tmp_path),))
    with pytest.raises(UsageError) as e:
        serve.find_nginx()
    assert "apt-get install nginx" in e.value.message and e.value.exit_code == 2
    with pytest.raises(UsageError, match="not found"):
        serve.find_nginx(str(tmp_path / "nginx"))


def test_nginx_in_sbin_is_found_without_it_on_path(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    found = serve.find_nginx()
    monkeypatch.setenv("PATH", str(tmp_path))
    monkeypatch.setattr(serve, "_NGINX_DIRS", (str(Path(found).parent),))
    assert serve.find_nginx() == found


def test_root_keeps_its_identity_for_workers(tmp_path: Path) -> None:
    run = serve.NginxRun("/usr/sbin/nginx", tmp_path, tmp_path / "nginx.conf", Listen("127.0.0.1", 1))
    argv = run.argv()
    assert argv[:7] == ["/usr/sbin/nginx", "-e", "stderr", "-p", f"{tmp_path}/", "-c", str(tmp_path / "nginx.conf")]
    import os

    if os.geteuid() == 0:
        assert argv[7:] == ["-g", "user root root;"]
    else:
        assert argv[7:] == []


def test_render_of_an_ipv6_address_listens_there_alone(tmp_path: Path) -> None:
    out = render_config(CONF.read_text(), tmp_path / "tree", tmp_path / "run", Listen("::1", 18081))
    assert re.findall(r"^\s*(listen .*)$", out, re.M) == ["listen [::1]:18081;"]


def test_a_template_without_the_ipv6_listen_still_renders(tmp_path: Path) -> None:
    template = "\n".join(line for line in CONF.read_text().splitlines() if line.strip() != IMAGE_LISTEN6)
    out = render_config(template, tmp_path / "tree", tmp_path / "run", Listen("127.0.0.1", 9000))
    assert re.findall(r"^\s*(listen .*)$", out, re.M) == ["listen 127.0.0.1:9000;"]
