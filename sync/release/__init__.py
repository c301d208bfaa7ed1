"""Releases of the plugin-server image: which version comes next, under which image tags,
with which notes, and publishing the tag and GitHub release.

Pure decisions: ``shipping`` (which paths end up in the image), ``version`` (bump rules and
``--release-version`` checks), ``tags`` (image tags), ``notes`` (release notes), ``plan`` (all of it
over plain data). I/O edges: ``gitrepo`` (tags, the lock at a tag, changed paths, with the git
CLI), ``publish`` (the git tag and GitHub release through PyGithub).
"""
