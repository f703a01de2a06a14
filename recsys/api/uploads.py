"""Checked photo uploads: size limit, media type sniffing, decoding, metadata-free storage."""

from __future__ import annotations

import io
import logging
import os
import secrets
from pathlib import Path

from fastapi import UploadFile
from PIL import Image

from classifier.images import load_image
from recsys.api.errors import UnsupportedMediaError, UploadTooLargeError

__all__ = ["ACCEPTED_MEDIA_TYPES", "read_photo", "save_without_metadata", "sniff_media_type"]

logger = logging.getLogger(__name__)

ACCEPTED_MEDIA_TYPES = ("image/jpeg", "image/png", "image/webp")


def sniff_media_type(data: bytes) -> str | None:
    """Return the media type that the file signature of `data` shows, among the accepted ones."""
    if data.startswith(b"\xff\xd8\xff"):
        return "image/jpeg"
    if data.startswith(b"\x89PNG\r\n\x1a\n"):
        return "image/png"
    if len(data) >= 12 and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    return None


def read_photo(upload: UploadFile, *, max_bytes: int) -> Image.Image:
    """Read an uploaded photo and decode it into an upright RGB image.

    The file signature decides the media type, so a JPEG sent as
    `application/octet-stream` is accepted, and a GIF sent as `image/jpeg` is not.

    Raises:
        UploadTooLargeError: the file is larger than `max_bytes`.
        UnsupportedMediaError: the file does not start with the signature of
            a JPEG, PNG or WebP file, whatever its declared media type.
        InvalidImageError: the file is empty, or has an accepted signature
            but cannot be decoded (truncated, corrupt, too many pixels).
    """
    data = upload.file.read(max_bytes + 1)
    if len(data) > max_bytes:
        raise UploadTooLargeError(
            f"{upload.filename or 'the upload'} is larger than the limit of {max_bytes} bytes: "
            "send a smaller photo"
        )
    declared = (upload.content_type or "").split(";")[0].strip().lower()
    if data and sniff_media_type(data) is None:
        raise UnsupportedMediaError(
            f"{upload.filename or 'the upload'} is not a JPEG, PNG or WebP file "
            f"(sent as {declared or 'no media type'}): convert it to one of those"
        )
    return load_image(data)


def save_without_metadata(image: Image.Image, directory: Path, stem: str) -> Path:
    """Store `image` as a JPEG under `directory` with no EXIF, GPS or ICC metadata.

    The pixels are copied into a new image, so nothing from the uploaded
    file's headers reaches the disk. The file is written under a temporary
    name and renamed, so readers never see half of it.

    Returns:
        The path of the stored file, `directory/stem.jpg`.
    """
    directory.mkdir(parents=True, exist_ok=True)
    clean = Image.frombytes("RGB", image.size, image.convert("RGB").tobytes())
    buffer = io.BytesIO()
    clean.save(buffer, format="JPEG", quality=92)
    final = directory / f"{stem}.jpg"
    temporary = directory / f".{stem}.{secrets.token_hex(4)}.tmp"
    temporary.write_bytes(buffer.getvalue())
    os.replace(temporary, final)
    return final
