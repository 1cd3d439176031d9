"""C2PA manifests: made from a video's public record, signed into an MP4, read back.

``manifest_definition(record)`` declares the file AI-generated (``trainedAlgorithmicMedia``)
when any segment came from an AI provider, else algorithmically composed
(``algorithmicMedia``, the local compositor), with the segments as ingredients and the record
as the ``com.scenecart.provenance`` assertion. ``sign_file`` embeds it with the credentials of
``provenance.credentials``; ``read_manifest`` reads a file's manifest back and says whether it
validates.
"""

import contextlib
import os
import stat
import tempfile
from pathlib import Path
from typing import IO, Any

import c2pa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.utils import timezone

from .credentials import SigningCertificateError, SigningCredentials, signing_credentials

# IPTC digital source types (https://cv.iptc.org/newscodes/digitalsourcetype/), as C2PA
# expects them on the c2pa.created action.
TRAINED_ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/trainedAlgorithmicMedia"
ALGORITHMIC_MEDIA = "http://cv.iptc.org/newscodes/digitalsourcetype/algorithmicMedia"
PROVENANCE_ASSERTION = "com.scenecart.provenance"
CLAIM_GENERATOR = "Scenecart"
MP4 = "video/mp4"


# Fields of the record that describe the row while it is being assembled (no file, not ready
# yet) rather than what made the video: left out of the manifest, which carries the time it
# was signed instead.
ROW_STATE_FIELDS = ("ready_at", "duration")


def _signed_record(record: dict[str, Any]) -> dict[str, Any]:
    kept = {key: value for key, value in record.items() if key not in ROW_STATE_FIELDS}
    return {**kept, "signed_at": timezone.now().isoformat()}


def manifest_definition(record: dict[str, Any]) -> dict[str, Any]:
    """The manifest c2pa signs: the claim generator, a title, the ``c2pa.actions`` assertion
    (created by Scenecart, with the IPTC digital source type; one ``c2pa.placed`` per segment,
    linked to its ingredient), the segments as ``componentOf`` ingredients, and the public
    record. The published file is public, so the record given is the public one."""
    ai = record["ai_generated"]
    actions: list[dict[str, Any]] = [
        {
            "action": "c2pa.created",
            "digitalSourceType": TRAINED_ALGORITHMIC_MEDIA if ai else ALGORITHMIC_MEDIA,
            "softwareAgent": {"name": CLAIM_GENERATOR},
            "description": (
                "Assembled from segments made by generative AI video models."
                if ai
                else "Composed by Scenecart's procedural renderer; no generative AI."
            ),
        }
    ]
    ingredients: list[dict[str, Any]] = []
    for segment in record["segments"]:
        position = segment["position"]
        label = f"segment-{position}"
        how = "AI-generated" if segment["ai_generated"] else "composed"
        inputs = ", ".join(f"{k}={v}" for k, v in sorted(segment["inputs"].items()))
        ingredients.append(
            {
                "title": f"{segment['kind']} segment {position}",
                "format": MP4,
                "relationship": "componentOf",
                "instance_id": f"scenecart:video:{record['public_id']}:segment:{position}",
                "label": label,
                "description": (
                    f"{how} by {segment['backend']} ({segment['model']}); inputs {inputs or 'none'}"
                ),
            }
        )
        actions.append(
            {
                "action": "c2pa.placed",
                "parameters": {"ingredientIds": [label]},
                "digitalSourceType": (
                    TRAINED_ALGORITHMIC_MEDIA if segment["ai_generated"] else ALGORITHMIC_MEDIA
                ),
                "softwareAgent": {"name": segment["backend"], "version": segment["model"]},
            }
        )
    product = record["product"]
    return {
        "claim_generator_info": [{"name": CLAIM_GENERATOR}],
        "title": f"{product['title']} ({record['bucket']}, {record['aspect']})",
        "format": MP4,
        "assertions": [
            {"label": "c2pa.actions", "data": {"actions": actions}},
            {"label": PROVENANCE_ASSERTION, "data": _signed_record(record)},
        ],
        "ingredients": ingredients,
    }


# --- Signing ------------------------------------------------------------------------------------


def sign_file(
    *, manifest: dict[str, Any], merchant_id: int | None, source: Path, dest: Path
) -> None:
    """Write ``source`` with ``manifest`` embedded and signed in the merchant's name (or the
    installation's) to ``dest`` (may be ``source``).

    Written to a temporary file beside ``dest`` and renamed over it, so ``dest`` is either
    absent (or what it was) or complete. c2pa checks what it wrote before returning.
    """
    credentials = signing_credentials(merchant_id=merchant_id)
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, temp_name = tempfile.mkstemp(prefix=f".{dest.name}.", suffix=".part", dir=dest.parent)
    temp = Path(temp_name)
    try:
        with os.fdopen(fd, "w+b") as out, source.open("rb") as src:
            try:
                with (
                    c2pa.Signer.from_info(
                        c2pa.C2paSignerInfo(
                            credentials.alg,
                            credentials.chain_pem,
                            credentials.key_pem,
                            credentials.tsa_url,
                        )
                    ) as signer,
                    c2pa.Builder(manifest) as builder,
                ):
                    # c2pa reads the output back to verify it, hence a w+b file.
                    builder.sign(signer, MP4, src, out)
            except c2pa.C2paError as exc:
                refusal = _certificate_refusal(exc, credentials)
                if refusal is None:
                    raise
                raise refusal from exc
            out.flush()
            os.fsync(out.fileno())
        # mkstemp makes the file 0600; the published file keeps the permissions it had, so a
        # web server in front of local storage can still serve it.
        temp.chmod(stat.S_IMODE(source.stat().st_mode))
        temp.replace(dest)
    except BaseException:
        with contextlib.suppress(OSError):
            temp.unlink()
        raise


def _certificate_refusal(
    exc: Exception, credentials: SigningCredentials
) -> SigningCertificateError | None:
    """c2pa's refusal of the certificate, naming the setting that holds it; None for other
    errors. c2pa says "Signature: the certificate is invalid" for a certificate it refuses
    outright, and reports a verify failure with a signingCredential code for one it signs with
    but then cannot validate (an extended key usage it does not accept)."""
    message = str(exc)
    if isinstance(exc, c2pa.C2paError.Signature) or "signingCredential" in message:
        return SigningCertificateError(f"c2pa refused {credentials.origin}: {message}")
    return None


# --- Reading ------------------------------------------------------------------------------------


def read_manifest(source: Path | IO[bytes]) -> dict[str, Any]:
    """The active manifest of an MP4 and whether it validates.

    ``state`` is ``valid`` (intact and signed by a trusted certificate), ``untrusted`` (intact,
    signature valid, signer not on the trust list: the development chain, or any CA the
    reader is not given in SCENECART_C2PA_TRUST_ANCHORS), ``invalid`` (the file or the
    manifest fails validation, e.g. the pixels changed after signing) or ``missing``.
    ``c2pa_state`` is c2pa's own word (``Trusted``/``Valid``/``Invalid``) and ``failures`` its
    failure codes.
    """
    with contextlib.ExitStack() as stack:
        stream = stack.enter_context(source.open("rb")) if isinstance(source, Path) else source
        context = _reader_context()
        if context is not None:
            stack.enter_context(context)
        try:
            reader = stack.enter_context(c2pa.Reader(MP4, stream, None, context))
        except c2pa.C2paError.ManifestNotFound:
            return summary(state="missing")
        except c2pa.C2paError as exc:
            return summary(state="invalid", error=str(exc))
        c2pa_state = reader.get_validation_state()
        results = reader.get_validation_results() or {}
        manifest = reader.get_active_manifest() or {}
    failures = [
        {"code": item.get("code", ""), "explanation": item.get("explanation", "")}
        for item in (results.get("activeManifest") or {}).get("failure", [])
    ]
    codes = {item["code"] for item in failures}
    if c2pa_state == "Trusted":
        state = "valid"
    elif c2pa_state == "Valid":
        state = "untrusted" if "signingCredential.untrusted" in codes else "valid"
    else:
        state = "invalid"
    return summary(state=state, c2pa_state=c2pa_state, failures=failures, manifest=manifest)


def summary(
    *,
    state: str,
    c2pa_state: str | None = None,
    failures: list[dict[str, str]] | None = None,
    manifest: dict[str, Any] | None = None,
    error: str = "",
) -> dict[str, Any]:
    manifest = manifest or {}
    return {
        "state": state,
        "c2pa_state": c2pa_state,
        "failures": failures or [],
        "error": error,
        "title": manifest.get("title", ""),
        "claim_generator": [g.get("name", "") for g in manifest.get("claim_generator_info", [])],
        "digital_source_type": _created_source_type(manifest),
        "signer": manifest.get("signature_info", {}),
        "manifest": manifest,
    }


def _created_source_type(manifest: dict[str, Any]) -> str:
    for assertion in manifest.get("assertions", []):
        if str(assertion.get("label", "")).startswith("c2pa.actions"):
            for action in assertion.get("data", {}).get("actions", []):
                if action.get("action") == "c2pa.created":
                    return str(action.get("digitalSourceType", ""))
    return ""


def _reader_context() -> c2pa.Context | None:
    """A context trusting SCENECART_C2PA_TRUST_ANCHORS (a PEM bundle), or None: c2pa's
    defaults, which trust no one, so every signature reads as untrusted."""
    anchors = str(settings.SCENECART_C2PA_TRUST_ANCHORS or "")
    if not anchors:
        return None
    try:
        pem = Path(anchors).read_text()
    except OSError as exc:
        raise ImproperlyConfigured(
            f"SCENECART_C2PA_TRUST_ANCHORS={anchors!r} cannot be read: {exc}"
        ) from exc
    return c2pa.Context.from_dict({"trust": {"trust_anchors": pem}})
