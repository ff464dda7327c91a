"""AI-Lawyer infrastructure foundation."""

__version__ = "0.1.0"
