"""The catalog page: ``index.html`` with ``catalog.css`` and ``catalog.js`` at the tree root.

Made from the tree's own data when ``index.json`` is written (see ``sync.tree.store.apply``):
no CDN, no external font, nothing loaded from elsewhere at view time.
"""

from sync.catalog.write import catalog_files, write_catalog

__all__ = ["catalog_files", "write_catalog"]
