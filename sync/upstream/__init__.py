"""Following upstream: which plugins did PRs merged into the upstream repository change, and
which gateway release snapshots did they add.

``paths`` maps upstream paths to plugins by directory and reads version files; ``catalog``
(value types), ``catalogread`` (parsing) and ``inputs`` (glob rules) map paths by upstream's
plugin catalog once it exists; ``model`` holds merges, positions and the detection result
(value types); ``changes`` maps merges to plugins and assembles the result; ``detect`` ties a
reader to them; ``gitreader`` reads a local clone and ``apireader`` the
GitHub REST API.
"""
