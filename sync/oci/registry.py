"""An OCI distribution (registry v2) client: manifests, tag lists and streamed blobs.

Authentication answers the registry's challenge: ``Bearer`` (a token per repository
scope, fetched with the credentials when we have them: a GET with Basic credentials, or for an
identity token the OAuth2 refresh-token POST of the distribution token spec) or ``Basic``.
Credentials are looked up by the registry's host (``sync.oci.auth``), so one registry's never
reach another registry or the token service another registry names. Tokens are kept per
(host, repository, actions): a pull's token never stands in for a push's. ``authorize``
fetches them before the work: one request learns a host's challenge, one token request
names every repository, and later requests carry their token before any 401; ``prepare``
does that while ``open_ahead`` opens the connections the first requests will use. A 401 is
given up on only when the token service hands back the very token the refused request
carried, not when it hands back a token another request cached.

Every request goes through the shared retry policy, token requests included: 429, 5xx and
connection errors are retried with back-off, ``Retry-After`` honoured up to the policy's
limit. Blob bodies are returned unverified and undecoded: ``sync.artifact`` checks their
digest and size while it reads them (a body cut short is retried by the caller).
"""

from __future__ import annotations

import base64
import json
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from typing import BinaryIO, Callable, Iterable, Iterator, Mapping
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from sync.errors import AuthError, IntegrityError, NotFound, RegistryError
from sync.http import make_session, open_ahead, timeouts
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


SCOPES_PER_REQUEST = 50  # repositories named in one token request (its URL stays a few KB long)


@dataclass(frozen=True)
class Challenge:
    """A registry's Bearer challenge: where its tokens come from."""

    realm: str
    service: str | None


def scope_of(repository: str, actions: str = "pull") -> str:
    """The token scope for ``actions`` (``pull``, ``pull,push``) on ``repository``."""
    return f"repository:{repository}:{actions}"


def token_repositories(token: str) -> set[str] | None:
    """The repositories a token grants ``pull`` on, read from its claims where it is a JWT
    (as the distribution token specification's tokens are); None where it cannot be read.
    Only a hint for which repositories to use it for: the registry still decides."""
    parts = token.split(".")
    if len(parts) != 3:
        return None
    try:
        claims = json.loads(base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4)))
        access = claims["access"]
        return {a["name"] for a in access
                if a.get("type") == "repository" and "pull" in (a.get("actions") or []) and isinstance(a["name"], str)}
    except (ValueError, KeyError, TypeError, AttributeError):
        return None


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


def _repositories(sources: Iterable[Source]) -> dict[tuple[str, bool], list[str]]:
    """The repositories of the registry ``sources``, by (host, plain HTTP), each once."""
    out: dict[tuple[str, bool], list[str]] = {}
    for src in sources:
        if src.kind == "registry":
            repos = out.setdefault((src.host, src.plain_http), [])
            if src.repository not in repos:
                repos.append(src.repository)
    return out


@dataclass(frozen=True)
class AuthState:
    """What a client learnt of its registries' auth, as a worker process receives it."""

    tokens: dict[tuple[str, str, str], str]
    challenges: dict[str, Challenge]
    basic_hosts: set[str]
    refused: dict[tuple[str, str, str], tuple[str, str]]  # key -> (error type, message)


_REFUSED: dict[str, type[RegistryError]] = {c.__name__: c for c in (RegistryError, AuthError, NotFound)}


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
        self.pool_size = pool_size
        self.session = make_session(pool_size)
        self.policy = policy or RetryPolicy.from_env()
        self.credentials = credentials or credentials_lookup(default_host)
        self.read_timeout = read_timeout
        self.is_plugin = is_plugin
        self.stats = Stats()
        self._tokens: dict[tuple[str, str, str], str] = {}  # (host, repository, actions) -> token
        self._basic_hosts: set[str] = set()
        self._challenges: dict[str, Challenge] = {}  # host -> its Bearer challenge, once seen
        self._fetching: dict[tuple[str, str, str], threading.Lock] = {}  # one token request at a time per key
        self._refused: dict[tuple[str, str, str], RegistryError] = {}  # what authorize's token request met
        self._lock = threading.Lock()

    def forked(self) -> None:
        """In a forked worker: zero the counters, and leave the connections the caller had
        open to the caller (two processes on one socket would read each other's answers);
        tokens are kept, and those the caller fetches later come through ``adopt``."""
        self.stats.reset()
        self.session = make_session(self.pool_size)

    # -- plumbing ---------------------------------------------------------------------

    @staticmethod
    def _base(src: Source) -> str:
        scheme = "http" if src.plain_http else "https"
        return f"{scheme}://{src.host}/v2/{src.repository}"

    def _auth_header(self, src: Source, actions: str = "pull") -> dict[str, str]:
        """What a request for ``actions`` to ``src`` carries: its token; where the host's
        Bearer challenge is known but the repository has no such token yet, one fetched now,
        before any 401 (a round trip saved); Basic credentials where the host asked for them."""
        key = (src.host, src.repository, actions)
        with self._lock:
            token = self._tokens.get(key)
            basic = src.host in self._basic_hosts
            challenge = self._challenges.get(src.host)
        if token is None and challenge is not None:
            token = self._token_before_challenge(src, challenge, actions)
        if token:
            return {"Authorization": f"Bearer {token}"}
        creds = self.credentials(src.host) if basic else None
        return {"Authorization": creds.header()} if isinstance(creds, Basic) else {}

    def _token_before_challenge(self, src: Source, challenge: Challenge, actions: str) -> str:
        key = (src.host, src.repository, actions)
        with self._lock:
            fetching = self._fetching.setdefault(key, threading.Lock())
        with fetching:  # the threads of one repository share one token request
            with self._lock:
                token = self._tokens.get(key)
                refused = self._refused.get(key)
            if refused is not None:  # the token service already failed for it, after its retries
                raise type(refused)(refused.message)
            if token is None:
                token = self._fetch_token(src, challenge, [scope_of(src.repository, actions)], self.credentials(src.host))
                with self._lock:
                    token = self._tokens.setdefault(key, token)
        return token

    def authorize(self, sources: Iterable[Source]) -> None:
        """Get ready to read ``sources``: per registry host, learn its challenge with one
        request, then ask its token service for every repository at once (one request
        naming several scopes, as the token specification allows; where there are more
        than ``SCOPES_PER_REQUEST``, the requests go out together). The repositories the
        token is seen to cover (its claims, where it is a JWT) use it; the others get a
        token of their own when first read, still before any 401. Best effort: a failure
        here is left for each read to meet and report."""
        requests_: list[tuple[Source, Challenge, list[str]]] = []
        for (host, plain_http), repos in _repositories(sources).items():
            try:
                challenge = self._challenge_of(Source("registry", host, repos[0], plain_http=plain_http))
                if challenge is None:
                    continue
                with self._lock:
                    repos = [r for r in repos if (host, r, "pull") not in self._tokens]
            except RegistryError:
                continue  # each read meets the host's failure itself
            requests_ += [(Source("registry", host, chunk[0], plain_http=plain_http), challenge, chunk)
                          for chunk in (repos[i:i + SCOPES_PER_REQUEST] for i in range(0, len(repos), SCOPES_PER_REQUEST))]
        if len(requests_) > 1:
            with ThreadPoolExecutor(max_workers=min(8, len(requests_))) as pool:
                list(pool.map(lambda r: self._authorize_chunk(*r), requests_))
        elif requests_:
            self._authorize_chunk(*requests_[0])

    def _authorize_chunk(self, src: Source, challenge: Challenge, repos: list[str]) -> None:
        """One token request naming ``repos`` on ``src``'s host; see ``authorize``."""
        try:
            token = self._fetch_token(src, challenge, [scope_of(r) for r in repos], self.credentials(src.host))
        except RegistryError as e:  # AuthError too: the reads of these repositories say it
            with self._lock:
                self._refused.update({(src.host, r, "pull"): e for r in repos})
            return
        granted = token_repositories(token)
        with self._lock:
            for r in repos:
                if granted is None or r in granted:
                    self._tokens.setdefault((src.host, r, "pull"), token)

    def open_ahead(self, sources: Iterable[Source], connections: int) -> int:
        """Open up to ``connections`` connections to each registry host of ``sources`` (no
        more than it has repositories), for the requests to come (``sync.http.open_ahead``).
        Returns how many were opened."""
        opened = 0
        for (host, plain_http), repos in _repositories(sources).items():
            url = f"{'http' if plain_http else 'https'}://{host}/v2/"
            opened += open_ahead(self.session, url, min(connections, len(repos)))
        return opened

    def prepare(self, sources: Iterable[Source], connections: int) -> AuthState:
        """``authorize`` and ``open_ahead`` at the same time: the connections are opened
        while the challenge and the tokens are on their way. Returns what a worker process
        forked before it needs (``adopt``)."""
        sources = list(sources)
        opener = threading.Thread(target=self.open_ahead, args=(sources, connections), daemon=True)
        opener.start()
        try:
            self.authorize(sources)
        finally:
            opener.join()
        return self.auth_state()

    def auth_state(self) -> AuthState:
        """What ``authorize`` learnt: the hosts' challenges, the tokens, and the token
        requests that failed."""
        with self._lock:
            return AuthState(dict(self._tokens), dict(self._challenges), set(self._basic_hosts),
                             {k: (type(e).__name__, e.message) for k, e in self._refused.items()})

    def adopt(self, state: AuthState) -> None:
        """In a worker process forked before ``authorize`` ran: take what it learnt."""
        with self._lock:
            self._tokens.update(state.tokens)
            self._challenges.update(state.challenges)
            self._basic_hosts |= state.basic_hosts
            for k, (kind, message) in state.refused.items():
                self._refused[k] = _REFUSED.get(kind, RegistryError)(message)

    def _challenge_of(self, src: Source) -> Challenge | None:
        """The host's Bearer challenge, from one request to its API root (``GET /v2/``) when
        not yet known; None where the host asks for no token."""
        with self._lock:
            known = self._challenges.get(src.host)
            if known is not None or src.host in self._basic_hosts:
                return known
        url = f"{'http' if src.plain_http else 'https'}://{src.host}/v2/"

        def attempt() -> requests.Response:
            try:
                r = self._send("GET", url)
            except requests.exceptions.SSLError as e:
                raise RegistryError(f"{src.host}: {_error_text(e)}") from None
            except requests.RequestException as e:
                raise _Retryable(None, None, _error_text(e)) from None
            r.close()
            if self.policy.is_retryable(r.status_code, r.headers):
                raise _Retryable(r.status_code, r.headers, f"HTTP {r.status_code}")
            return r

        r = self._retrying(src.host, attempt)
        if r.status_code != 401:
            return None
        self._learn(src.host, r.headers.get("WWW-Authenticate", ""))
        with self._lock:
            return self._challenges.get(src.host)

    def _learn(self, host: str, header: str) -> None:
        """Keep ``host``'s challenge: Bearer's realm and service, or that it asks for Basic."""
        scheme = header.split(" ", 1)[0].lower()
        h = challenge_params(header)
        with self._lock:
            if scheme == "bearer" and h.get("realm"):
                self._challenges[host] = Challenge(h["realm"], h.get("service"))
            elif scheme == "basic" and isinstance(self.credentials(host), Basic):
                self._basic_hosts.add(host)

    def _authenticate(self, src: Source, resp: requests.Response, sent: str | None, actions: str = "pull") -> bool:
        """Answer a 401 challenge to a request that carried the ``Authorization`` header
        ``sent`` (None: none). Returns False when there is nothing more to try. ``actions``:
        what a token asks for when the challenge names no scope (``pull``, or ``pull,push``).

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
        if not h.get("realm"):
            return False
        self._learn(src.host, challenge)
        sent_token = sent[len("Bearer "):] if sent and sent.startswith("Bearer ") else None
        scopes = h["scope"].split() if h.get("scope") else [scope_of(src.repository, actions)]
        token = self._fetch_token(src, Challenge(h["realm"], h.get("service")), scopes, creds)
        if token == sent_token:
            return False  # the token service gave again the token the registry refused
        with self._lock:
            self._tokens[(src.host, src.repository, actions)] = token
        return True

    def _fetch_token(self, src: Source, challenge: Challenge, scopes: list[str],
                     creds: Credentials | None) -> str:
        """A token for ``scopes`` from the token service, through the retry policy as every
        request. The GET names each scope in a parameter of its own, as the token
        specification allows; the OAuth2 POST names them space-separated in one."""
        realm = challenge.realm
        service = [("service", challenge.service)] if challenge.service else []

        def attempt() -> requests.Response:
            try:
                if isinstance(creds, IdentityToken):
                    # the OAuth2 form of the token spec: the identity token is a refresh token
                    form = {**dict(service), "scope": " ".join(scopes), "grant_type": "refresh_token",
                            "refresh_token": creds.token, "client_id": OAUTH_CLIENT_ID}
                    r = self._send("POST", realm, data=form)
                else:
                    headers = {"Authorization": creds.header()} if creds else {}
                    r = self._send("GET", realm, headers=headers, params=service + [("scope", x) for x in scopes])
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
                  server: str = "the registry", policy: RetryPolicy | None = None) -> requests.Response:
        """``attempt()`` under the retry policy (or ``policy``); when it gives up, one line
        saying ``what`` failed, how, and why no more tries were made (``server``: who asked
        for a wait)."""
        policy = policy or self.policy
        tries = 0

        def counted() -> requests.Response:
            nonlocal tries
            tries += 1
            return attempt()

        try:
            return policy.run(counted, _retryable)
        except _Retryable as e:
            why = f"gave up after {tries} {'try' if tries == 1 else 'tries'}"
            asked = policy.server_wait(e.headers) if e.headers is not None else None
            if asked is not None and asked > policy.max_wait:
                why = f"{server} asks to wait {asked:.0f} s, more than the limit of {policy.max_wait:.0f} s"
            raise RegistryError(f"{what}: {e} ({why})") from None

    def _send(self, method: str, url: str, stream: bool = False, **kw: object) -> requests.Response:
        self.stats.add(requests_=1)
        return self.session.request(method, url, stream=stream, timeout=timeouts(self.read_timeout), **kw)  # type: ignore[arg-type]

    def request(self, src: Source, method: str, path: str, stream: bool = False,
                headers: dict[str, str] | None = None, *, data: object = None,
                retry: bool = True) -> requests.Response:
        """One registry request with auth and retries. Returns a 2xx response or raises.
        ``path`` is below the repository (``/blobs/...``) or an upload location the registry
        gave, on the same host; ``data`` a request body (a body read as it is sent cannot be
        sent twice: give ``retry=False``, and retry the whole upload)."""
        url = self._base(src) + path if path.startswith("/") else path
        if urlsplit(url).netloc != urlsplit(self._base(src)).netloc:
            raise RegistryError(f"{src.host}: the registry sent an upload location on another host ({urlsplit(url).netloc})")
        actions = "pull" if method in ("GET", "HEAD") else "pull,push"

        def attempt() -> requests.Response:
            tried_auth = False
            while True:
                auth = self._auth_header(src, actions)
                try:
                    resp = self._send(method, url, stream=stream, headers={**(headers or {}), **auth}, data=data)
                except requests.exceptions.SSLError as e:  # trying again cannot help
                    raise RegistryError(f"{src.host}/{src.repository}: {_error_text(e)}") from None
                except requests.RequestException as e:
                    raise _Retryable(None, None, _error_text(e)) from None
                if resp.status_code == 401 and not tried_auth:
                    resp.close()
                    tried_auth = True
                    if self._authenticate(src, resp, auth.get("Authorization"), actions):
                        if data is None or isinstance(data, bytes):
                            continue
                        # a streamed body is spent: the caller starts the upload again, with the new token
                        raise RegistryError(f"{src.host}/{src.repository}: {method} refused (401) in an upload")
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

        return self._retrying(f"{src.host}/{src.repository}", attempt,
                              policy=None if retry else replace(self.policy, attempts=1))

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
