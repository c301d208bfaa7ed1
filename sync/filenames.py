"""The names of the extra files a plugin artifact may carry beside its module; the lock
records their sha256, the tree serves them in each version directory."""

SPEC = "spec.yaml"
README = "README.md"  # the plugin's default language (Chinese for most Higress plugins)
README_EN = "README_EN.md"
EXTRA_FILES = (SPEC, README, README_EN)
