"""The catalog page: ``index.html`` with ``catalog.css`` and ``catalog.js`` at the tree root.

Made from the tree's own data when ``index.json`` is written (``sync.served`` passes ``write_catalog`` into the tree's commit):
no CDN, no external font, nothing loaded from elsewhere at view time.
"""

from sync.catalog.write import Parts, catalog_files, write_catalog

__all__ = ["Parts", "catalog_files", "write_catalog"]
