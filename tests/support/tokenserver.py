"""A small token service (the Docker registry token spec) for the real docker-registry's
``auth: token`` mode, recording every request it gets.

It signs JWTs with a throwaway RSA key whose self-signed certificate the registry trusts
(``rootcertbundle``; the certificate travels in the token's ``x5c`` header). It answers
``GET /token`` with Basic credentials and the OAuth2 ``POST /token`` with
``grant_type=refresh_token`` (an identity token) or ``grant_type=password``.

Faults, for the client's retries and races: ``faults`` are answered first, one per request
(a status such as 503, with ``Retry-After: retry_after`` when set, or ``"drop"``: the
connection closed with no answer); ``stable_tokens`` gives one token per (subject, scope), as
services that cache their tokens do; ``grant=False`` issues tokens that grant nothing; ``hold`` keeps the first answers until that many token
requests have arrived, so that concurrent clients all ask before any one gets its token.
"""

from __future__ import annotations

import base64
import datetime
import json
import secrets
import socket
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

ISSUER = "plugin-sync-test-issuer"


@dataclass
class Seen:
    method: str
    service: str
    scope: str
    authorization: str  # the Authorization header, "" when none
    form: dict[str, str]


@dataclass
class TokenService:
    """Which identities may pull: ``users`` (name -> password) and ``refresh_tokens``
    (token -> name); ``service`` is the registry's name in its challenges."""

    service: str
    users: dict[str, str] = field(default_factory=dict)
    refresh_tokens: dict[str, str] = field(default_factory=dict)
    seen: list[Seen] = field(default_factory=list)
    port: int = 0
    faults: list[int | str] = field(default_factory=list)
    retry_after: str | None = None
    stable_tokens: bool = False
    hold: int = 0
    grant: bool = True  # False: tokens that grant nothing (the registry refuses them)
    anonymous: bool = False  # a request without credentials gets a token too (as public registries do)
    multi_scope: bool = True  # a request may name several ``scope`` parameters; else only the first is granted
    realm_url: str | None = None  # the realm the registry names, when clients reach this service elsewhere

    def __post_init__(self) -> None:
        self._key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "plugin-sync test token service")])
        now = datetime.datetime.now(datetime.timezone.utc)
        self.cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                     .public_key(self._key.public_key()).serial_number(x509.random_serial_number())
                     .not_valid_before(now - datetime.timedelta(days=1))
                     .not_valid_after(now + datetime.timedelta(days=1))
                     .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
                     .sign(self._key, hashes.SHA256()))
        self._server: ThreadingHTTPServer | None = None
        self._cond = threading.Condition()
        self._issued: dict[tuple[str, str], str] = {}

    @property
    def realm(self) -> str:
        return self.realm_url or f"http://127.0.0.1:{self.port}/token"

    def write_cert(self, path: Path) -> Path:
        path.write_bytes(self.cert.public_bytes(serialization.Encoding.PEM))
        return path

    def registry_auth_config(self, cert_path: Path) -> str:
        """The ``auth:`` section of a docker-registry config that trusts this service."""
        return (f"auth:\n  token:\n    realm: {self.realm}\n    service: {self.service}\n"
                f"    issuer: {ISSUER}\n    rootcertbundle: {self.write_cert(cert_path)}\n")

    def _arrive(self, seen: Seen) -> int | str | None:
        """Record a request, wait for the ``hold``, and say which fault it gets, if any."""
        with self._cond:
            self.seen.append(seen)
            arrived = len(self.seen)
            self._cond.notify_all()
            if arrived <= self.hold:
                self._cond.wait_for(lambda: len(self.seen) >= self.hold, timeout=10)
            return self.faults.pop(0) if self.faults else None

    def _token(self, subject: str, scope: str) -> str:
        if not self.stable_tokens:
            return self.issue(subject, scope)
        with self._cond:
            if (subject, scope) not in self._issued:
                self._issued[(subject, scope)] = self.issue(subject, scope)
            return self._issued[(subject, scope)]

    def issue(self, subject: str, scope: str) -> str:
        access = []
        for item in scope.split():
            kind, _, rest = item.partition(":")
            repo, _, actions = rest.rpartition(":")
            access.append({"type": kind, "name": repo, "actions": actions.split(",")})
        now = int(time.time())
        claims = {"iss": ISSUER, "sub": subject, "aud": self.service, "exp": now + 300, "nbf": now - 10,
                  "iat": now, "jti": secrets.token_hex(8), "access": access}
        der = self.cert.public_bytes(serialization.Encoding.DER)
        return jwt.encode(claims, self._key, algorithm="RS256", headers={"x5c": [base64.b64encode(der).decode()]})

    def _identity(self, method: str, auth: str, form: dict[str, str]) -> str | None:
        if method == "GET":
            if not auth.startswith("Basic "):
                return None
            user, _, password = base64.b64decode(auth[6:]).decode().partition(":")
            return user if self.users.get(user) == password else None
        if form.get("grant_type") == "refresh_token":
            return self.refresh_tokens.get(form.get("refresh_token", ""))
        if form.get("grant_type") == "password":
            user = form.get("username", "")
            return user if self.users.get(user) == form.get("password") else None
        return None

    def __enter__(self) -> "TokenService":
        service = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _answer(self, method: str) -> None:
                url = urlsplit(self.path)
                scopes = parse_qs(url.query).get("scope", [])
                query = {k: v[0] for k, v in parse_qs(url.query).items()}
                form: dict[str, str] = {}
                if method == "POST":
                    body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
                    form = {k: v[0] for k, v in parse_qs(body).items()}
                params = {**query, **form}
                auth = self.headers.get("Authorization") or ""
                fault = service._arrive(Seen(method, params.get("service", ""),
                                             " ".join(scopes) or params.get("scope", ""), auth, form))
                if fault == "drop":
                    self.close_connection = True
                    self.connection.shutdown(socket.SHUT_RDWR)
                    return
                who = service._identity(method, auth, form)
                if who is None and service.anonymous and not auth and method == "GET":
                    who = "anonymous"
                granted = " ".join(scopes if service.multi_scope else scopes[:1]) or params.get("scope", "")
                if isinstance(fault, int):
                    status, doc = fault, {"errors": [{"code": "UNAVAILABLE"}]}
                elif url.path != "/token" or params.get("service") != service.service:
                    status, doc = 404, {"errors": [{"code": "UNKNOWN"}]}
                elif who is None:
                    status, doc = 401, {"errors": [{"code": "UNAUTHORIZED"}]}
                else:
                    token = service._token(who, granted if service.grant else "")
                    status, doc = 200, {"token": token, "access_token": token, "expires_in": 300}
                body = json.dumps(doc).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                if fault is not None and service.retry_after is not None:
                    self.send_header("Retry-After", service.retry_after)
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self) -> None:  # noqa: N802
                self._answer("GET")

            def do_POST(self) -> None:  # noqa: N802
                self._answer("POST")

        class Server(ThreadingHTTPServer):
            request_queue_size = 1024  # many token requests at once: none waits for a SYN retry

        self._server = Server(("127.0.0.1", 0), Handler)
        self.port = int(self._server.server_address[1])
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._server:
            self._server.shutdown()
            self._server.server_close()
