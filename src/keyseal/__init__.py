"""Keyseal: exchange-grade API keys, wire-compatible with OKX V5."""

__version__ = "0.1.0"
