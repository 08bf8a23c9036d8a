"""Avatar images, decoded with Pillow and never trusted: one of mine is cropped to a
square, scaled to at most 256x256 and re-encoded; one from a contact (or another device
of mine) is bounded in bytes and pixels *before* it is decoded, decoded fully, and
re-encoded, so the UI only ever shows pixels this module wrote. Both run in a thread
(`normalise_in_thread`, `check_in_thread`): decoding is CPU work.

On the wire an avatar is a data URI (`data:image/png;base64,…`, feature-spec
PROFILE_DATA); "" means "no avatar".
"""

from __future__ import annotations

import base64
import binascii
import io
import warnings

from PIL import Image, UnidentifiedImageError
from twisted.internet import defer, threads

from securechat.client.errors import InvalidAvatar
from securechat.protocol import frames

MAX_SIDE = 256  # pixels, of a stored or received avatar
MAX_BYTES = 64 * 1024  # of a stored or received avatar (encoded)
MAX_URI = frames.MAX_AVATAR_URI
MAX_SOURCE_BYTES = 20 * 1024 * 1024  # a picture I pick, before it is scaled
MAX_SOURCE_PIXELS = 50_000_000  # ... and its decoded size (a decompression bomb stops here)
_FORMATS = ("PNG", "JPEG")  # what a received avatar may be; pictures I pick: also GIF, BMP, WEBP
_SOURCE_FORMATS = ("PNG", "JPEG", "GIF", "BMP", "WEBP")
_MIME = {"PNG": "image/png", "JPEG": "image/jpeg"}


def normalise(source: bytes) -> bytes:
    """A picture I chose, as my avatar: centre-cropped to a square, scaled down to at
    most MAX_SIDE, re-encoded (PNG, or JPEG when that is too big); InvalidAvatar if
    it is not a picture this can read."""
    if len(source) > MAX_SOURCE_BYTES:
        raise InvalidAvatar(f"the picture is larger than {MAX_SOURCE_BYTES // 2**20} MiB")
    image = _open(source, _SOURCE_FORMATS, MAX_SOURCE_PIXELS)
    side = min(image.size)
    left, top = (image.width - side) // 2, (image.height - side) // 2
    image = image.crop((left, top, left + side, top + side))
    if side > MAX_SIDE:
        image = image.resize((MAX_SIDE, MAX_SIDE), Image.Resampling.LANCZOS)
    return _encode(image)


def check(data: bytes) -> bytes:
    """A received avatar: refused (InvalidAvatar, saying why) unless it is a PNG or
    JPEG of at most MAX_BYTES and MAX_SIDExMAX_SIDE that decodes completely; returned
    re-encoded by this module."""
    if len(data) > MAX_BYTES:
        raise InvalidAvatar(f"the avatar is {len(data)} bytes, more than {MAX_BYTES}")
    return _encode(_open(data, _FORMATS, MAX_SIDE * MAX_SIDE, MAX_SIDE))


def normalise_in_thread(source: bytes) -> defer.Deferred[bytes]:
    return threads.deferToThread(normalise, source)


def check_in_thread(data: bytes) -> defer.Deferred[bytes]:
    return threads.deferToThread(check, data)


def to_uri(data: bytes | None) -> str:
    """An avatar as PROFILE_DATA carries it ("" for none)."""
    if not data:
        return ""
    kind = "image/png" if data.startswith(b"\x89PNG") else "image/jpeg"
    return f"data:{kind};base64,{base64.b64encode(data).decode('ascii')}"


def from_uri(uri: str) -> bytes | None:
    """The bytes of an avatar's data URI (None for ""); InvalidAvatar if it is not one
    of ours. The image itself is checked by `check`."""
    if not uri:
        return None
    if len(uri) > MAX_URI:
        raise InvalidAvatar("the avatar is too large")
    header, _, body = uri.partition(",")
    if header not in (f"data:{m};base64" for m in _MIME.values()):
        raise InvalidAvatar("the avatar is not a PNG or JPEG data URI")
    try:
        return base64.b64decode(body, validate=True)
    except (binascii.Error, ValueError):
        raise InvalidAvatar("the avatar's data URI is not valid base64") from None


def _open(data: bytes, formats: tuple[str, ...], max_pixels: int,
          max_side: int | None = None) -> Image.Image:
    """Decoded completely, after its header says it is one of `formats`, at most
    `max_pixels` and `max_side` wide and high (Pillow reads only the header before
    `load`)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=formats)
            if max_side is not None and max(image.size) > max_side:
                raise InvalidAvatar(f"the avatar is {image.width}x{image.height} pixels, "
                                    f"more than {max_side}x{max_side}")
            if image.width * image.height > max_pixels or not image.width or not image.height:
                raise InvalidAvatar(f"the picture is {image.width}x{image.height} pixels, "
                                    "too large to read")
            image.load()
    except InvalidAvatar:
        raise
    except UnidentifiedImageError:
        raise InvalidAvatar(f"not a picture ({' or '.join(formats)} expected)") from None
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise InvalidAvatar("the picture has too many pixels, too large to read") from None
    except (OSError, SyntaxError, ValueError, EOFError) as e:
        raise InvalidAvatar(f"the picture cannot be read ({type(e).__name__})") from None
    if getattr(image, "n_frames", 1) > 1:
        image.seek(0)  # an animation: its first frame
    return image.convert("RGBA" if image.mode in ("RGBA", "LA", "P", "PA") else "RGB")


def _encode(image: Image.Image) -> bytes:
    """PNG if it fits in MAX_BYTES, else JPEG at falling quality (onto white)."""
    out = io.BytesIO()
    image.save(out, "PNG", optimize=True)
    if out.tell() <= MAX_BYTES:
        return out.getvalue()
    if image.mode == "RGBA":
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A"))
        image = flat
    for quality in (90, 80, 70, 55, 40):
        out = io.BytesIO()
        image.save(out, "JPEG", quality=quality)
        if out.tell() <= MAX_BYTES:
            return out.getvalue()
    raise InvalidAvatar("the picture cannot be made small enough")  # pragma: no cover
