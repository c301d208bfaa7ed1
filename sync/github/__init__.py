"""Talking to GitHub: the client setup (``client``), one-commit publishing through the Git
Data API (``gitdata``), the sync pull request (``pulls``) and Actions outputs (``actions``)."""
