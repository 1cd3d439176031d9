"""How stored media is exposed: which names are public, and the headers every file is served with.

Every stored name is chosen by Scenecart (content hashes, segment keys, the video's own slug),
never by an uploader, so the extension says what the file is: the content type comes from it,
and anything that is not an image, a video or audio is sent as an attachment. Media is always
served with ``X-Content-Type-Options: nosniff``, so a browser never renders a stored file as a
page whatever bytes it holds.

Public and private: only names under ``OPEN_PREFIXES`` may be read by anyone. ``public/`` holds
the videos and posters the storefront publishes (``rendering.publication`` moves a video there
when the merchant releases it and back out when it is withdrawn); ``products/`` holds product
photos and their cut-outs, which shop pages show. Everything else (brand assets, segments,
music beds, videos awaiting review, contact sheets) is read through short-lived presigned URLs
on S3, or by the merchant's signed-in staff on local storage (``scenecart.media``).
"""

from typing import Any

from storages.backends.s3 import S3Storage
from storages.utils import clean_name

PUBLISHED_PREFIX = "public/"
OPEN_PREFIXES = (PUBLISHED_PREFIX, "products/")

# The extensions Scenecart writes, and what each file is.
CONTENT_TYPES = {
    "mp4": "video/mp4",
    "jpg": "image/jpeg",
    "jpeg": "image/jpeg",
    "png": "image/png",
    "ttf": "font/ttf",
    "otf": "font/otf",
    "ttc": "font/collection",
    "mp3": "audio/mpeg",
    "wav": "audio/wav",
    "flac": "audio/flac",
    "ogg": "audio/ogg",
    "m4a": "audio/mp4",
    "aac": "audio/aac",
    "aiff": "audio/aiff",
    "json": "application/json",
}
INLINE_TYPES = ("image/", "video/", "audio/")
FALLBACK_TYPE = "application/octet-stream"


def is_open(name: str) -> bool:
    """Whether anyone may read the stored file ``name`` (a published video or poster, a
    product photo)."""
    return name.startswith(OPEN_PREFIXES) and ".." not in name.split("/")


def media_type(name: str) -> str:
    suffix = name.rsplit(".", 1)[-1].lower() if "." in name.rsplit("/", 1)[-1] else ""
    return CONTENT_TYPES.get(suffix, FALLBACK_TYPE)


def media_headers(name: str) -> dict[str, str]:
    """The headers a stored file is served with, in every storage mode."""
    content_type = media_type(name)
    headers = {"Content-Type": content_type, "X-Content-Type-Options": "nosniff"}
    if not content_type.startswith(INLINE_TYPES):
        headers["Content-Disposition"] = "attachment"
    return headers


class MediaStorage(S3Storage):
    """S3 for media, private by default.

    Objects are written with the content type their name implies and, for anything a browser
    should not display, ``Content-Disposition: attachment``. URLs of ``OPEN_PREFIXES`` are as
    configured (through the CDN, ``custom_domain``, unsigned when one is set); every other
    object always gets a presigned URL on the bucket's own endpoint, so the bucket (or the
    CDN's origin access) grants public reads on those prefixes only.
    """

    def get_object_parameters(self, name: str) -> dict[str, Any]:
        params = super().get_object_parameters(name)
        headers = media_headers(name)
        params["ContentType"] = headers["Content-Type"]
        if "Content-Disposition" in headers:
            params["ContentDisposition"] = headers["Content-Disposition"]
        return params

    def url(
        self,
        name: str,
        parameters: dict[str, Any] | None = None,
        expire: int | None = None,
        http_method: str | None = None,
    ) -> str:
        if is_open(name):
            return super().url(name, parameters, expire, http_method)
        # Private: presigned on the bucket's own endpoint, whatever AWS_S3_CUSTOM_DOMAIN and
        # AWS_QUERYSTRING_AUTH say about the public prefixes.
        params = {**(parameters or {}), "Bucket": self.bucket.name}
        params["Key"] = self._normalize_name(clean_name(name))
        return self.connection.meta.client.generate_presigned_url(
            "get_object",
            Params=params,
            ExpiresIn=self.querystring_expire if expire is None else expire,
            HttpMethod=http_method,
        )
