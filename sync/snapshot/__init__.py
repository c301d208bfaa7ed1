"""Building the tree from one of Higress's immutable plugin release snapshots.

``model`` reads the two input files (upstream's ``plugins/release/snapshots/X.Y.Z.json`` and
``unmanaged-plugins.lock.json``) into value types; ``plan`` decides, without I/O, what is
served where and checks the unmanaged lock against ``plugins.yaml``; ``run`` fetches by
digest and commits the tree all at once or not at all.

``model`` and ``plan`` use the standard library only, so that ``pull_plugins.py``'s tests
run where nothing is installed.
"""
