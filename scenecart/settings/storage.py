"""Static files and media: local files by default, S3 (django-storages) with
``SCENECART_STORAGE=s3``; who may read what is ``scenecart.storage``'s."""

from .env import BASE_DIR, Pluggable, env

STATIC_URL = env.str("STATIC_URL", default="/static/")
STATIC_ROOT = env.path("STATIC_ROOT", default=BASE_DIR / "staticfiles")
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = env.str("MEDIA_URL", default="/media/")
MEDIA_ROOT = env.path("MEDIA_ROOT", default=BASE_DIR / "media")

SCENECART_STORAGE = env.str("SCENECART_STORAGE", default="local")
_default_storage: Pluggable
if SCENECART_STORAGE == "s3":
    _default_storage = {
        # Private objects presigned, the published prefixes through the CDN (scenecart.storage).
        "BACKEND": "scenecart.storage.MediaStorage",
        "OPTIONS": {
            "bucket_name": env.str("AWS_STORAGE_BUCKET_NAME", default=""),
            "access_key": env.str("AWS_ACCESS_KEY_ID", default=None),
            "secret_key": env.str("AWS_SECRET_ACCESS_KEY", default=None),
            "region_name": env.str("AWS_S3_REGION_NAME", default=None),
            "endpoint_url": env.str("AWS_S3_ENDPOINT_URL", default=None),
            "custom_domain": env.str("AWS_S3_CUSTOM_DOMAIN", default=None),
            "location": env.str("AWS_LOCATION", default=""),
            # Objects stay private; browsers get short-lived presigned URLs, except for the
            # published prefixes when a CDN serves them (AWS_S3_CUSTOM_DOMAIN).
            "default_acl": None,
            "querystring_auth": env.bool("AWS_QUERYSTRING_AUTH", default=True),
            "querystring_expire": env.int("AWS_QUERYSTRING_EXPIRE", default=3600),
            "file_overwrite": False,
            # Without it botocore presigns with SigV2 in us-east-1, which newer buckets and
            # SSE-KMS objects refuse (boto/boto3#2680).
            "signature_version": env.str("AWS_S3_SIGNATURE_VERSION", default="s3v4"),
        },
    }
else:
    # Also for an unknown SCENECART_STORAGE, which scenecart.checks reports by name.
    _default_storage = {"BACKEND": "django.core.files.storage.FileSystemStorage"}
STORAGES: dict[str, Pluggable] = {
    "default": _default_storage,
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
DATA_UPLOAD_MAX_MEMORY_SIZE = 10 * 1024 * 1024
