"""ttsc: a compiler for test-time-scaling strategies."""

__version__ = "0.1.0"
