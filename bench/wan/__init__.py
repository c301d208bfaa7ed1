"""The pull at WAN distance: the registry and its token service behind a link with a
round-trip time and a shared bandwidth cap (``tests.support.wanproxy``), the project's pull,
the upstream way and ``skopeo sync`` through it, and the round-trip floor of each run."""
