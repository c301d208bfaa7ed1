"""``plugin-sync pull``: the config resolved against the registries into the tree and its lock.

``plan`` decides without I/O (a plugin's new lock entries, whether its artifact must be
fetched, the lock the run commits); ``run`` resolves tags, fetches and commits under the
tree's writer lock; ``report`` holds what a run reports (per plugin, the totals) and prints it.
"""
