"""plugin-sync: mirror Higress Wasm plugins from OCI into a verified, served tree."""

__version__ = "0.1.0"
