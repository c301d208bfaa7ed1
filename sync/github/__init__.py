"""Talking to GitHub: the client setup (``client``), the values exchanged (``model``),
one-commit publishing through the Git Data API (``gitdata``), the sync pull request
(``pulls``), a change published as a commit plus a pull request (``publish``) and Actions
outputs (``actions``)."""
