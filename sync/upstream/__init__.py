"""Following upstream: which plugins did PRs merged into the upstream repository change.

``paths`` maps upstream paths to plugins and reads version files, ``model`` holds merges,
positions and the detection result, ``detect`` ties a reader to them; ``gitreader`` reads a
local clone and ``apireader`` the GitHub REST API.
"""
