"""``plugin-sync pull``, the I/O: resolve the config against the registry, fetch what changed
into the tree, and commit the new lock that ``sync.pull.plan`` decides. Per-plugin failures
leave that plugin as it was."""

from __future__ import annotations

import shutil
import threading
import time
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Callable, Mapping

from sync import artifact, workers
from sync.catalog import Parts
from sync.config import Config, PluginSpec
from sync.errors import ArtifactError, IntegrityError, NotFound, SyncError, error_text
from sync.lock import Lock, LockEntry, load_lock
from sync.oci.layout import LayoutSource
from sync.oci.manifest import ACCEPT, ArtifactSource, Manifest
from sync.oci.reference import LAYOUT_PREFIX, Source, parse_source
from sync.oci.registry import BlobReadError, RegistryClient
from sync.oci.versions import best_tag
from sync.pull.plan import Resolved, entries_for, locked_groups, plan, reusable, serving, status
from sync.pull.report import PluginResult, PullReport
from sync.retry import RetryPolicy
from sync.served import commit, recover
from sync.times import stamp_time
from sync.tree import Tree
from sync.tree.precompress import precompress
from sync.tree.verified import Stamps
from sync.tree.store import Links, collect_garbage, finish_staging, new_staging, served_intact, store_matches, writer_lock

CREATED = "org.opencontainers.image.created"
# plugins resolved at once (their manifests in flight), however few downloads ``--jobs``
# allows: a manifest is one round trip and a few KB, a download is bandwidth and memory
RESOLVING = 64


def threads_for(jobs: int, tasks: int) -> int:
    """The threads a pull runs its plugins on: one a plugin up to ``RESOLVING``, at least ``jobs``."""
    return max(jobs, min(RESOLVING, tasks))


@dataclass(frozen=True)
class PullOptions:
    locked: bool = False
    jobs: int = 8
    gzip: bool = False
    only: tuple[str, ...] = ()
    registry: str | None = None  # redirect every source (host[:port] or oci-layout:PATH)
    plain_http: bool = False
    read_timeout: float | None = None
    lock_wait: float = 600.0
    base_dir: Path | None = None  # relative oci-layout paths are read from here
    credentials_host: str | None = None  # the registry the environment's credentials are for
    processes: int | None = None  # worker processes sharing the jobs (default: one per core; sync.workers)

    @property
    def default_host(self) -> str | None:
        """Where ``PLUGIN_SYNC_REGISTRY_USERNAME``/``_PASSWORD`` go (unless
        ``PLUGIN_SYNC_REGISTRY_HOST`` says): the mirror read from, else the config's registry."""
        if self.registry and not self.registry.startswith(LAYOUT_PREFIX):
            return self.registry
        return self.credentials_host


class Sources:
    """Routes each source to the registry client or the layout reader."""

    def __init__(self, options: PullOptions, policy: RetryPolicy) -> None:
        self.registry = RegistryClient(policy, pool_size=max(4, options.jobs, RESOLVING), read_timeout=options.read_timeout,
                                       default_host=options.default_host, is_plugin=artifact.is_plugin)
        self.layout = LayoutSource(artifact.is_plugin)

    def of(self, src: Source) -> ArtifactSource:
        return self.layout if src.kind == "layout" else self.registry


class Puller:
    def __init__(self, tree: Tree, old: Lock, options: PullOptions, policy: RetryPolicy | None = None) -> None:
        self.tree, self.old, self.options = tree, old, options
        self.policy = policy or RetryPolicy.from_env()
        self.sources = Sources(options, self.policy)
        self.now = stamp_time()
        # this process's share of --jobs: module layers read at once (a request waiting for
        # its answer holds none: at a distance that wait is a round trip per download)
        self.downloads = threading.BoundedSemaphore(max(1, options.jobs))
        self.stamps = Stamps.load(tree)

    # -- one artifact ---------------------------------------------------------------

    def stored(self, name: str, entry: LockEntry) -> bool:
        """The tree holds ``entry``'s artifact, complete and as the lock says: checked by
        the last run and not written since (``sync.tree.verified``), or read again now."""
        store = self.tree.store_dir(name, str(entry.digest))
        return self.stamps.fresh(store, entry) or (store.is_dir() and store_matches(store, entry))

    def fetch(self, name: str, src: Source, manifest: Manifest, expect: LockEntry | None) -> tuple[LockEntry, bool]:
        """The content entry of ``manifest``, downloading it into the store unless a
        verified copy is there. Returns (entry, downloaded)."""
        known = expect or reusable(Resolved(name, "", manifest.digest, (), None, None), self.old)
        if known is not None and known.digest == manifest.digest and self.stored(name, known):
            return known, False
        p = artifact.plan(manifest)
        source = self.sources.of(src)
        # the store's metadata.txt is shared by every version served from it, so it carries
        # the times the lock keeps for this artifact: those of a known copy, else now
        created = expect.created if expect is not None else manifest.annotations.get(CREATED)
        pulled = known.pulled if known is not None and known.pulled else self.now

        def attempt() -> LockEntry:
            staging = new_staging(self.tree, name)
            try:
                got = artifact.fetch(p, lambda d: source.blob(src, d), staging, slot=self.downloads)
                if expect is not None and (got.sha256, got.md5, got.size, got.files) != (
                        expect.sha256, expect.md5, expect.size, expect.files):
                    raise ArtifactError(f"content differs from the lock (sha256 {got.sha256[:12]}, lock {expect.sha256[:12]})")
                entry = LockEntry(name, "-", "", manifest.digest, p.format, got.sha256, got.md5, got.size, got.files,
                                  created, pulled)
                self.place(staging, expect or entry)  # --locked: metadata as the lock says
                return expect or entry
            except BaseException:
                shutil.rmtree(staging, ignore_errors=True)
                raise

        def retryable(e: BaseException) -> tuple[bool, Mapping[str, str] | None, int | None]:
            return isinstance(e, (BlobReadError, IntegrityError)), None, None

        return self.policy.run(attempt, retryable), True

    def place(self, staging: Path, entry: LockEntry) -> None:
        """Rename a complete staging directory into the store, replacing a store directory
        of the same artifact that failed its check."""
        assert entry.digest
        store = self.tree.store_dir(entry.name, entry.digest)
        if store.exists():
            shutil.rmtree(store)
        finish_staging(self.tree, staging, entry)

    # -- one plugin -----------------------------------------------------------------

    def where(self, src: Source) -> Source:
        """``src`` as this run reads it: redirected to a mirror, layout paths made absolute."""
        src = src.redirect(self.options.registry, self.options.plain_http)
        return src.relative_to(self.options.base_dir) if self.options.base_dir else src

    def pull_plugin(self, spec: PluginSpec, others: frozenset[str] = frozenset(),
                    part: bool = False) -> tuple[list[LockEntry], PluginResult]:
        """One plugin, or one part of it (``part``: a version from ``sources``, alone);
        ``others``: the versions the plugin's other parts serve."""
        src = self.where(spec.source)
        source = self.sources.of(src)
        tag = src.tag
        if src.range:
            tag = best_tag(source.tags(src), src.range)
            if tag is None:
                raise NotFound(f"no tag of {src.repository} matches {src.range!r}")
        ref = src.digest or tag
        assert ref
        manifest = source.manifest(src, ref)
        if src.digest and manifest.digest != src.digest:
            raise ArtifactError(f"manifest digest {manifest.digest[:19]} is not the pinned {src.digest[:19]}")
        versions = spec.served_versions(tag)
        clash = sorted(set(versions) & others)
        if clash:
            raise SyncError(f"{spec.name}/{clash[0]} is both resolved from {spec.source.reference()} and listed in sources")
        for v in versions:
            prev = self.old.get(spec.name, v)
            if self.tree.is_hand_placed(spec.name, v) and not (prev and prev.is_local):
                raise SyncError(f"{spec.name}/{v} holds hand-placed files: run 'plugin-sync metadata' to keep them, or remove them")
        served = tuple(v for v in versions if not ((p := self.old.get(spec.name, v)) and p.is_local))
        # the config's source with the resolved tag and the pinned digest, not a --registry mirror:
        # pull --locked reads what the lock records (a digest-only pin has no tag to resolve)
        recorded = Source(spec.source.kind, spec.source.host, spec.source.repository, tag, spec.source.digest)
        resolved = Resolved(spec.name, recorded.reference(), manifest.digest, served,
                            manifest.annotations.get(CREATED), spec.category)
        content, downloaded = self.fetch(spec.name, src, manifest, None)
        entries = entries_for(resolved, content)
        def mine(v: str) -> bool:
            return v in versions if part else v not in others

        out = PluginResult(spec.name, status(spec.name, self.old, entries, mine), list(served), resolved.source,
                      manifest.digest, content.sha256, downloaded=downloaded)
        return entries, out

    def pull_locked(self, name: str, entries: list[LockEntry]) -> tuple[list[LockEntry], PluginResult]:
        """Build exactly what the lock says: the locked digest, fetched by digest, so a tag
        pushed again since changes nothing. Fails only when the registry no longer holds it.
        An artifact the tree already holds, verified, asks the registry nothing."""
        first = entries[0]
        digest = str(first.digest)
        if self.stored(name, first):
            return entries, PluginResult(name, "unchanged", [e.version for e in entries], first.source, first.digest,
                                         first.sha256, downloaded=False)
        src = self.where(parse_source(first.source, ""))
        source = self.sources.of(src)
        try:
            manifest = source.manifest(src, digest)
        except NotFound:
            raise NotFound(f"{src.host}/{src.repository}: the locked digest {digest} is gone from the registry") from None
        if manifest.digest != digest:
            raise IntegrityError(f"{src.repository}@{digest[:19]}: manifest bytes hash to {manifest.digest[:19]}")
        _, downloaded = self.fetch(name, src, manifest, first)
        out = PluginResult(name, "unchanged" if not downloaded else "added", [e.version for e in entries],
                           first.source, first.digest, first.sha256, downloaded=downloaded,
                           warning=self.tag_moved(src, source, digest))
        return entries, out

    def tag_moved(self, src: Source, source: ArtifactSource, locked: str) -> str | None:
        """What to say when the lock's tag no longer names the locked digest (upstream pushed
        it again) or is gone; None when it still does. One HEAD request where the registry
        answers with the digest; never raises: the build goes on with the locked digest."""
        tag = src.tag
        if not tag or src.digest:  # a pinned digest: the tag is not what the config follows
            return None
        try:
            now = None
            if isinstance(source, RegistryClient):
                resp = source.request(src, "HEAD", f"/manifests/{tag}", headers={"Accept": ACCEPT})
                resp.close()
                now = resp.headers.get("Docker-Content-Digest")
            if now != locked:  # no digest header, or another one (an index over it): read the manifest
                now = source.manifest(src, tag).digest
        except NotFound:
            return f"tag {tag} is gone from the registry; built the locked digest {locked}"
        except Exception as e:  # noqa: BLE001 - checking the tag must never fail the build
            return f"tag {tag} could not be checked ({error_text(e)}); built the locked digest {locked}"
        if now == locked:
            return None
        return (f"tag {tag} now names {now}, not the locked {locked}; built the locked digest "
                "('plugin-sync pull' moves the lock to the tag)")


Outcome = tuple[list[LockEntry], PluginResult]


@dataclass(frozen=True)
class Task:
    """One plugin's (or one artifact's) work, and what a report of its failure names."""

    work: Callable[[], Outcome]
    name: str
    source: str
    digest: str | None = None

    def __call__(self) -> Outcome:
        """``work()``, or its failure as the result (a worker process sends either back)."""
        try:
            return self.work()
        except Exception as e:  # noqa: BLE001 - one plugin's failure is reported, others go on
            return [], replace(PluginResult.failure(self.name, e, self.source), digest=self.digest)

    def lost(self, reason: str) -> Outcome:
        """The result of a task whose worker process ended before it sent one."""
        return [], PluginResult(self.name, "failed", source=self.source, digest=self.digest, error=reason)


def run_tasks(puller: Puller, tasks: Mapping[str, Task], sources: list[Source],
              on_result: Callable[[str, list[LockEntry], PluginResult], None]) -> tuple[int, int, int]:
    """Every task on ``--jobs`` threads, shared among worker processes (``sync.workers``);
    each key's result, a failure or a lost task's too, goes to ``on_result`` as it comes.
    ``sources``: what the tasks will read from registries. Their tokens are fetched before
    any task starts (no request waits for a 401), while each process opens the connections
    its tasks' first requests will use. Returns (worker processes, registry requests, blob
    bytes), the workers' counts summed."""
    options, registry = puller.options, puller.sources.registry

    def done(key: str, got: Outcome | workers.Lost) -> None:
        on_result(key, *(tasks[key].lost(got.reason) if isinstance(got, workers.Lost) else got))

    threads = threads_for(options.jobs, len(tasks))
    processes = workers.processes_for(options.processes, len(tasks), options.jobs)
    # each worker process downloads its share of --jobs at once, and resolves its share of the threads
    puller.downloads = threading.BoundedSemaphore(-(-options.jobs // processes))
    # the requests in flight at once in one process: its threads, or its share of the sources
    ahead = min(-(-threads // processes), -(-len(sources) // processes))

    def start() -> None:  # in a worker: connections of its own, opened while the caller authorizes
        registry.forked()
        registry.open_ahead(sources, ahead)

    def brief() -> object:
        return registry.prepare(sources, ahead if processes == 1 else 0)

    counts = workers.run(tasks, done, threads=threads, processes=processes, start=start,
                         finish=registry.stats.counts, brief=brief, adopt=registry.adopt)
    requests, blob_bytes = map(sum, zip(registry.stats.counts(), *counts))
    return processes, requests, blob_bytes


def _still_served(tree: Tree, stamps: Stamps) -> Callable[[LockEntry], bool]:
    """``served_intact`` for the entries a pull did not fetch, each store directory checked once."""
    seen: dict[tuple[Path, str | None, str | None], bool] = {}

    def matches(path: Path, e: LockEntry) -> bool:
        key = (path, e.created, e.pulled)  # the store's files depend on the artifact and these
        if key not in seen:
            seen[key] = stamps.fresh(path, e) or store_matches(path, e)
        return seen[key]

    return lambda e: served_intact(tree, e, matches)


def run_pull(
    tree: Tree,
    config: Config | None,
    old: Lock,
    lock_path: Path | None,
    options: PullOptions,
    on_outcome: Callable[[PluginResult], None] | None = None,
    on_wait: Callable[[], None] | None = None,
) -> PullReport:
    """The whole pull, under the tree's writer lock."""
    start = time.monotonic()
    with writer_lock(tree, options.lock_wait, on_wait):
        if recover(tree, lock_path) and lock_path is not None:
            old = load_lock(lock_path)  # the recovered commit saved it: plan from it, not from before
        puller = Puller(tree, old, options)
        tasks: dict[str, Task] = {}
        sources: list[Source] = []
        if options.locked:
            for (name, digest), group in locked_groups(old).items():
                tasks[f"{name}@{digest}"] = Task(partial(puller.pull_locked, name, group), name, group[0].source)
                if not tree.store_dir(name, str(digest)).is_dir():  # a stored artifact needs no token
                    sources.append(puller.where(parse_source(group[0].source, "")))
        else:
            assert config is not None
            for name, spec in config.plugins.items():
                if not options.only or name in options.only:
                    main, *extra = spec.parts()
                    own = frozenset(v for v, _ in spec.sources)
                    tasks[name] = Task(partial(puller.pull_plugin, main, own), name, main.source.reference())
                    sources.append(puller.where(main.source))
                    for p in extra:  # a version from its own artifact: one more task
                        tasks[f"{name} {p.versions[0]}"] = Task(partial(puller.pull_plugin, p, part=True), name,
                                                                p.source.reference())
                        sources.append(puller.where(p.source))
        results: dict[str, list[LockEntry]] = {}
        outcomes: list[PluginResult] = []
        failed: set[str] = set()

        parts, links = Parts(), Links()

        def done(key: str, entries: list[LockEntry], outcome: PluginResult) -> None:
            if outcome.status == "failed":
                failed.add(tasks[key].name)
            else:
                results[key] = entries
                if outcome.downloaded:  # its part of the commit, while the downloads run
                    try:
                        parts.make(tree, entries)
                        links.prepare(tree, entries)
                    except Exception:  # noqa: BLE001 - made again at the commit, which says what failed
                        pass
            outcomes.append(outcome)
            if on_outcome:
                on_outcome(outcome)

        try:
            processes, requests, blob_bytes = run_tasks(puller, tasks, sources, done)
            still_served = _still_served(tree, puller.stamps)
            new = plan(old, results, failed, locked=options.locked, prune=not options.only, still_served=still_served)
            served = serving(new, results, still_served)
            commit(tree, new, None if options.locked else lock_path, served=served, parts=parts, links=links)
        finally:  # no link made ahead outlives the run, whatever stopped it
            links.discard()
        collect_garbage(tree, new)
        # every served entry's store was checked in this run (or its stamp was fresh)
        puller.stamps.save((tree.store_dir(e.name, str(e.digest)), e) for e in served.sorted() if e.digest)
        gzipped = precompress(tree, new, None) if options.gzip else 0
    return PullReport(outcomes, requests, blob_bytes, time.monotonic() - start, gzipped, processes)
