"""Access to OCI artifacts: references, registries, image layouts and tag ranges."""
