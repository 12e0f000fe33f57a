# The one source of the package and SQL-layer version (the extension's default_version is rendered from it).
__version__ = "0.1.0"
