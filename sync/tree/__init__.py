"""The served tree on disk: its layout, its files, atomic updates and verification."""

from sync.tree.layout import Tree

__all__ = ["Tree"]
