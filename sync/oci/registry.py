"""An OCI distribution (registry v2) client: manifests, tag lists and streamed blobs.

Authentication answers the registry's challenge: ``Bearer`` (a token per repository
scope, fetched with the credentials when we have them: a GET with Basic credentials, or for an
identity token the OAuth2 refresh-token POST of the distribution token spec) or ``Basic``.
Credentials are looked up by the registry's host (``sync.oci.auth``), so one registry's never
reach another registry or the token service another registry names. Tokens are kept per
(host, repository). A 401 is given up on only when the token service hands back the very
token the refused request carried, not when it hands back a token another request cached.

Every request goes through the shared retry policy, token requests included: 429, 5xx and
connection errors are retried with back-off, ``Retry-After`` honoured up to the policy's
limit. Blob bodies are returned unverified and undecoded: ``sync.artifact`` checks their
digest and size while it reads them (a body cut short is retried by the caller).
"""

from __future__ import annotations

import re
import threading
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import BinaryIO, Callable, Iterator, Mapping
from urllib.parse import urljoin

import requests
import urllib3

from sync.errors import AuthError, IntegrityError, NotFound, RegistryError
from sync.http import make_session, timeouts
from sync.oci.auth import Basic, Credentials, IdentityToken, credentials_lookup
from sync.oci.manifest import ACCEPT, MAX_MANIFEST, Descriptor, Index, Manifest, parse_manifest, resolve
from sync.oci.reference import Source
from sync.retry import RetryPolicy

OAUTH_CLIENT_ID = "plugin-sync"  # the client_id of the OAuth2 token request
# RFC 7235 auth-param: token BWS "=" BWS ( token / quoted-string ); a quoted-string may hold
# commas and backslash-escaped characters. An unquoted value is read up to a comma or space.
_CHALLENGE_PARAM = re.compile(r'(?<![A-Za-z0-9_.-])([A-Za-z][A-Za-z0-9_.-]*)[ \t]*=[ \t]*'
                              r'(?:"((?:[^"\\]|\\.)*)"|([^\s,"]*))')
_QUOTED_PAIR = re.compile(r"\\(.)")


def challenge_params(challenge: str) -> dict[str, str]:
    """The parameters of a ``WWW-Authenticate`` challenge (``realm``, ``service``,
    ``scope``), keys in lower case; values quoted (``key="v"``) or not (``key=v``)."""
    return {m[1].lower(): _QUOTED_PAIR.sub(r"\1", m[2]) if m[2] is not None else m[3]
            for m in _CHALLENGE_PARAM.finditer(challenge)}


class _Retryable(Exception):
    def __init__(self, status: int | None, headers: Mapping[str, str] | None, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.headers = headers


def _retryable(exc: BaseException) -> tuple[bool, Mapping[str, str] | None, int | None]:
    if isinstance(exc, _Retryable):
        return True, exc.headers, exc.status
    return False, None, None


@dataclass
class Stats:
    requests: int = 0
    blob_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def add(self, requests_: int = 0, blob_bytes: int = 0) -> None:
        with self.lock:
            self.requests += requests_
            self.blob_bytes += blob_bytes

    def reset(self) -> None:
        with self.lock:
            self.requests = self.blob_bytes = 0

    def counts(self) -> tuple[int, int]:
        """(requests, blob bytes)"""
        with self.lock:
            return self.requests, self.blob_bytes


class RegistryClient:
    def __init__(
        self,
        policy: RetryPolicy | None = None,
        credentials: Callable[[str], Credentials | None] | None = None,
        pool_size: int = 16,
        read_timeout: float | None = None,
        default_host: str | None = None,
        is_plugin: Callable[[Manifest], bool] = lambda m: True,
    ) -> None:
        """``default_host``: the registry the environment's credentials are for, unless
        ``PLUGIN_SYNC_REGISTRY_HOST`` names one (see ``sync.oci.auth``). ``is_plugin``: which
        manifests of an image index hold a plugin (``sync.artifact.is_plugin``)."""
        self.session = make_session(pool_size)
        self.policy = policy or RetryPolicy.from_env()
        self.credentials = credentials or credentials_lookup(default_host)
        self.read_timeout = read_timeout
        self.is_plugin = is_plugin
        self.stats = Stats()
        self._tokens: dict[tuple[str, str], str] = {}
        self._basic_hosts: set[str] = set()
        self._lock = threading.Lock()

    # -- plumbing ---------------------------------------------------------------------

    @staticmethod
    def _base(src: Source) -> str:
        scheme = "http" if src.plain_http else "https"
        return f"{scheme}://{src.host}/v2/{src.repository}"

    def _auth_header(self, src: Source) -> dict[str, str]:
        with self._lock:
            token = self._tokens.get((src.host, src.repository))
            basic = src.host in self._basic_hosts
        if token:
            return {"Authorization": f"Bearer {token}"}
        creds = self.credentials(src.host) if basic else None
        return {"Authorization": creds.header()} if isinstance(creds, Basic) else {}

    def _authenticate(self, src: Source, resp: requests.Response, sent: str | None) -> bool:
        """Answer a 401 challenge to a request that carried the ``Authorization`` header
        ``sent`` (None: none). Returns False when there is nothing more to try.

        Whether to give up is decided against what the refused request carried, not against
        what is cached now: another request on the same repository may have cached the very
        token this one is given, and this request has not tried it yet."""
        challenge = resp.headers.get("WWW-Authenticate", "")
        creds = self.credentials(src.host)
        scheme = challenge.split(" ", 1)[0].lower()
        if scheme == "basic":
            if not isinstance(creds, Basic) or sent == creds.header():
                return False
            with self._lock:
                self._basic_hosts.add(src.host)
            return True
        if scheme != "bearer":
            return False
        h = challenge_params(challenge)
        realm, service, scope = h.get("realm"), h.get("service"), h.get("scope")
        if not realm:
            return False
        sent_token = sent[len("Bearer "):] if sent and sent.startswith("Bearer ") else None
        params = {k: v for k, v in (("service", service), ("scope", scope)) if v}
        if not scope:
            params["scope"] = f"repository:{src.repository}:pull"
        token = self._fetch_token(src, realm, params, creds)
        if token == sent_token:
            return False  # the token service gave again the token the registry refused
        with self._lock:
            self._tokens[(src.host, src.repository)] = token
        return True

    def _fetch_token(self, src: Source, realm: str, params: dict[str, str],
                     creds: Credentials | None) -> str:
        """A token from the token service, through the retry policy as every request."""
        def attempt() -> requests.Response:
            try:
                if isinstance(creds, IdentityToken):
                    # the OAuth2 form of the token spec: the identity token is a refresh token
                    form = {**params, "grant_type": "refresh_token", "refresh_token": creds.token,
                            "client_id": OAUTH_CLIENT_ID}
                    r = self._send("POST", realm, data=form)
                else:
                    headers = {"Authorization": creds.header()} if creds else {}
                    r = self._send("GET", realm, headers=headers, params=params)
            except requests.exceptions.SSLError as e:  # trying again cannot help
                raise RegistryError(f"{src.host}: token service {realm}: {_error_text(e)}") from None
            except requests.RequestException as e:
                raise _Retryable(None, None, _error_text(e)) from None
            if self.policy.is_retryable(r.status_code, r.headers):
                r.close()
                raise _Retryable(r.status_code, r.headers, f"HTTP {r.status_code}")
            return r

        r = self._retrying(f"{src.host}: token service {realm}", attempt, "the token service")
        if r.status_code in (400, 401, 403) and creds is not None:
            what = "identity token" if isinstance(creds, IdentityToken) else "credentials"
            raise AuthError(f"{src.host}: {what} refused by the token service ({r.status_code})")
        if r.status_code in (401, 403):
            raise AuthError(f"{src.host}: authentication required by the token service ({r.status_code})")
        if r.status_code != 200:
            raise RegistryError(f"{src.host}: token service answered {r.status_code}")
        try:
            data = r.json()
        except ValueError:
            raise RegistryError(f"{src.host}: token service answered no JSON") from None
        token = data.get("token") or data.get("access_token") if isinstance(data, dict) else None
        if not token or not isinstance(token, str):
            raise RegistryError(f"{src.host}: token service gave no token")
        return token

    def _retrying(self, what: str, attempt: Callable[[], requests.Response],
                  server: str = "the registry") -> requests.Response:
        """``attempt()`` under the retry policy; when it gives up, one line saying ``what``
        failed, how, and why no more tries were made (``server``: who asked for a wait)."""
        tries = 0

        def counted() -> requests.Response:
            nonlocal tries
            tries += 1
            return attempt()

        try:
            return self.policy.run(counted, _retryable)
        except _Retryable as e:
            why = f"gave up after {tries} {'try' if tries == 1 else 'tries'}"
            asked = self.policy.server_wait(e.headers) if e.headers is not None else None
            if asked is not None and asked > self.policy.max_wait:
                why = f"{server} asks to wait {asked:.0f} s, more than the limit of {self.policy.max_wait:.0f} s"
            raise RegistryError(f"{what}: {e} ({why})") from None

    def _send(self, method: str, url: str, stream: bool = False, **kw: object) -> requests.Response:
        self.stats.add(requests_=1)
        return self.session.request(method, url, stream=stream, timeout=timeouts(self.read_timeout), **kw)  # type: ignore[arg-type]

    def request(self, src: Source, method: str, path: str, stream: bool = False,
                headers: dict[str, str] | None = None) -> requests.Response:
        """One registry request with auth and retries. Returns a 2xx response or raises."""
        url = self._base(src) + path

        def attempt() -> requests.Response:
            tried_auth = False
            while True:
                auth = self._auth_header(src)
                try:
                    resp = self._send(method, url, stream=stream, headers={**(headers or {}), **auth})
                except requests.exceptions.SSLError as e:  # trying again cannot help
                    raise RegistryError(f"{src.host}/{src.repository}: {_error_text(e)}") from None
                except requests.RequestException as e:
                    raise _Retryable(None, None, _error_text(e)) from None
                if resp.status_code == 401 and not tried_auth:
                    resp.close()
                    tried_auth = True
                    if self._authenticate(src, resp, auth.get("Authorization")):
                        continue
                if resp.status_code < 300:
                    return resp
                resp.close()
                if self.policy.is_retryable(resp.status_code, resp.headers):
                    raise _Retryable(resp.status_code, resp.headers, f"HTTP {resp.status_code}")
                if resp.status_code == 401:
                    what = "credentials refused" if self.credentials(src.host) else "authentication required (no credentials found)"
                    raise AuthError(f"{src.host}: {what} (401)")
                if resp.status_code == 403:
                    raise AuthError(f"{src.host}: access to {src.repository} denied (403)")
                if resp.status_code == 404:
                    raise NotFound(f"{src.host}/{src.repository}{path.replace('/manifests/', ':', 1)}: not found")
                raise RegistryError(f"{src.host}: {method} {path} answered HTTP {resp.status_code}")

        return self._retrying(f"{src.host}/{src.repository}", attempt)

    # -- the ArtifactSource interface ---------------------------------------------------

    def manifest(self, src: Source, ref: str) -> Manifest:
        """The plugin manifest ``ref`` names, chosen from an image index when it names one
        (``sync.oci.manifest.resolve``)."""
        return resolve(self._manifest(src, ref), lambda digest: self._manifest(src, digest), self.is_plugin)

    def _manifest(self, src: Source, ref: str) -> Manifest | Index:
        resp = self.request(src, "GET", f"/manifests/{ref}", headers={"Accept": ACCEPT})
        raw = resp.content
        if len(raw) > MAX_MANIFEST:
            raise RegistryError(f"{src.repository}:{ref}: manifest larger than {MAX_MANIFEST} bytes")
        manifest = parse_manifest(raw, resp.headers.get("Content-Type"))
        said = resp.headers.get("Docker-Content-Digest")
        if said and said != manifest.digest:
            raise IntegrityError(f"{src.repository}:{ref}: manifest digest {manifest.digest[:19]} is not the "
                                 f"registry's {said[:19]}")
        if ref.startswith("sha256:") and ref != manifest.digest:
            raise IntegrityError(f"{src.repository}@{ref[:19]}: manifest bytes hash to {manifest.digest[:19]}")
        return manifest

    def tags(self, src: Source) -> list[str]:
        tags: list[str] = []
        path = "/tags/list?n=1000"
        for _ in range(1000):
            resp = self.request(src, "GET", path)
            try:
                data = resp.json()
            except ValueError:
                raise RegistryError(f"{src.host}/{src.repository}: tag list is not JSON") from None
            tags += [t for t in (data.get("tags") or []) if isinstance(t, str)]
            nxt = resp.links.get("next", {}).get("url")
            if not nxt:
                break
            full = urljoin(self._base(src) + path, nxt)
            path = full[len(self._base(src)):] if full.startswith(self._base(src)) else "/tags/list?" + full.split("?", 1)[-1]
        return tags

    @contextmanager
    def blob(self, src: Source, desc: Descriptor) -> Iterator[BinaryIO]:
        resp = self.request(src, "GET", f"/blobs/{desc.digest}", stream=True)
        raw = resp.raw
        stats = self.stats

        class Body:
            def read(self, n: int = -1) -> bytes:
                try:
                    data = raw.read(n if n and n > 0 else None, decode_content=False)
                except Exception as e:  # noqa: BLE001 - urllib3/socket errors mid-body
                    raise BlobReadError(f"{src.host}/{src.repository}: reading blob {desc.digest[:19]}: "
                                        f"{_error_text(e)}") from None
                stats.add(blob_bytes=len(data))
                return data

        try:
            yield Body()  # type: ignore[misc]
        finally:
            resp.close()


class BlobReadError(RegistryError):
    """The connection failed in the middle of a blob; the download may be retried."""


# what a failed connection's message says, and what to tell the user
_CAUSES = (
    ("WRONG_VERSION_NUMBER", "TLS handshake failed: a registry without TLS needs --plain-http"),
    ("CERTIFICATE_VERIFY_FAILED", "TLS certificate not trusted"),
    ("Name or service not known", "host not found"),
    ("Temporary failure in name resolution", "host not found"),
    ("nodename nor servname", "host not found"),
    ("Connection refused", "connection refused"),
    ("Connection reset", "connection reset"),
)


def _error_text(e: BaseException) -> str:
    text = type(e).__name__
    if isinstance(e, requests.ConnectionError) and not isinstance(e, requests.Timeout):
        detail = str(e)
        cause = next((say for needle, say in _CAUSES if needle in detail), "connection failed")
        return f"{cause} ({text})"
    if isinstance(e, (requests.Timeout, urllib3.exceptions.TimeoutError, TimeoutError)):
        return "timed out (" + text + ")"
    if isinstance(e, (urllib3.exceptions.HTTPError, OSError)):  # mid-body: ProtocolError, reset, ...
        return "connection broken (" + text + ")"
    return text
