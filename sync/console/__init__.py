"""The Higress console's plugin list, and which of the URLs it builds a plugin server serves."""
