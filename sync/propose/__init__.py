"""``plugin-sync propose``: the checkout's change published as one commit and one pull request.

``plan`` decides without I/O (the files to publish, the pull request's title and body, what
to do with an existing pull request); ``cursor`` is the upstream cursor (parsing and
``advance`` are pure); ``checkout`` reads the tracked files of the local checkout; ``run``
reads the base branch through GitHub, decides, and writes with ``sync.github.publish``.
"""
