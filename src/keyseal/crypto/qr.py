"""QR codes as SVG documents, for authenticator apps to scan (no imaging library needed)."""

from __future__ import annotations

import qrcode  # type: ignore[import-untyped]
import qrcode.image.svg  # type: ignore[import-untyped]


def qr_svg(text: str) -> str:
    """``text`` (e.g. an ``otpauth://`` URI) as a QR code, an SVG document."""
    image = qrcode.make(text, image_factory=qrcode.image.svg.SvgPathImage)
    return image.to_string(encoding="unicode")  # type: ignore[no-any-return]
