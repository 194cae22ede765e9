"""Tandem's services. Each sub-package is its own process; they never import each other."""
