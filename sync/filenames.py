"""The names of a plugin version's files: its module, and the extra files an artifact may
carry beside it (the lock records their sha256, the tree serves them in each version
directory); and of the repository's own files: the config, the lock, the unmanaged lock
and the served tree."""

WASM = "plugin.wasm"

SPEC = "spec.yaml"
README = "README.md"  # the plugin's default language (Chinese for most Higress plugins)
README_EN = "README_EN.md"
EXTRA_FILES = (SPEC, README, README_EN)

CONFIG = "plugins.yaml"  # the desired state
LOCK = "plugins.lock.json"  # the resolved state, beside the config
UNMANAGED_LOCK = "unmanaged-plugins.lock.json"  # upstream's pins of the plugins its snapshots leave out
TREE = "plugins"  # the served tree: the default --root, and the repository's own tree
SNAPSHOTS = "snapshots"  # the committed gateway snapshots X.Y.Z.json and their SHA256SUMS, beside the config
