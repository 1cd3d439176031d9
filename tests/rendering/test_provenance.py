"""Provenance: the record of what made a video, and the signed C2PA manifest in its MP4,
read back from the file with c2pa itself."""

import datetime as dt
import json
import uuid
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal
from io import StringIO
from pathlib import Path

import c2pa
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from pytest_django import Settings

import rendering.video_provenance as video_provenance
from catalog.models import Product
from personalization.services import bucket_policy_update
from provenance.credentials import (
    CHAIN_FILE,
    KEY_FILE,
    ROOT_FILE,
    SigningCertificateError,
    development_chain,
)
from provenance.manifest import (
    ALGORITHMIC_MEDIA,
    PROVENANCE_ASSERTION,
    ROW_STATE_FIELDS,
    TRAINED_ALGORITHMIC_MEDIA,
    read_manifest,
)
from rendering.models import Segment, Video
from rendering.profiles import profile_for
from rendering.services import video_approve, video_reject
from rendering.video_provenance import public_provenance_record, sign_video
from tests.support.factories import make_merchant, make_product, make_ready_video
from tests.support.migrations import remigrate
from videokit.media import verify

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("small_videos")]

KLING = {
    "BACKEND": "providers.kling.KlingBackend",
    "OPTIONS": {"api_key": "a:b", "base_url": "http://127.0.0.1:9"},
}


@pytest.fixture
def video() -> Video:
    merchant = make_merchant(name="Northwind Outfitters")
    product = make_product(merchant, sku="JACKET", title="Stormline Rain Jacket")
    return make_ready_video(product, "climate=rainy")


def stored_path(video: Video) -> Path:
    return Path(default_storage.path(video.file.name))


def signed_copy(video: Video, tmp_path: Path) -> Path:
    out = tmp_path / "signed.mp4"
    sign_video(video=video, source=stored_path(video), dest=out)
    return out


def created_action(manifest: dict) -> dict:  # type: ignore[type-arg]
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    return next(a for a in actions["data"]["actions"] if a["action"] == "c2pa.created")


def make_kling_segment(settings: Settings, video: Video) -> Segment:
    """Pretend the scene came from Kling: the row says so, the alias is configured."""
    settings.SCENECART_BACKENDS = {**settings.SCENECART_BACKENDS, "kling": KLING}
    scene = video.segments.get(kind="scene")
    Segment.objects.filter(pk=scene.pk).update(
        backend="kling",
        backend_version="kling:kling-v2-1",
        provider_job_id="kling-job-8812",
        cost=Decimal("0.3500"),
    )
    scene.refresh_from_db()
    return scene


def top_level_boxes(data: bytes) -> list[tuple[str, int, int]]:
    """(type, start, end) of the MP4's top-level boxes."""
    boxes, at = [], 0
    while at + 8 <= len(data):
        size = int.from_bytes(data[at : at + 4], "big")
        kind = data[at + 4 : at + 8].decode("latin-1")
        if size == 1:
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        elif size == 0:
            size = len(data) - at
        boxes.append((kind, at, at + size))
        at += size
    return boxes


# --- The record ---------------------------------------------------------------------------------


PUBLIC_FIELDS = {
    "public_id", "merchant", "product", "bucket", "aspect", "ai_generated", "created_at",
    "ready_at", "duration", "segments",
}  # fmt: skip
PUBLIC_SEGMENT_FIELDS = {
    "position", "kind", "backend", "model", "ai_generated", "inputs", "duration",
    "rendered_at", "stand_in",
}  # fmt: skip


def test_record_says_what_made_the_video_and_each_segment(video: Video) -> None:
    record = public_provenance_record(video)

    assert set(record) == PUBLIC_FIELDS
    assert record["public_id"] == str(video.public_id)
    assert record["product"] == {"title": "Stormline Rain Jacket"}
    assert record["merchant"] == {"name": "Northwind Outfitters"}
    assert (record["bucket"], record["aspect"]) == (video.bucket, "16:9")
    assert record["ai_generated"] is False
    assert record["duration"] == pytest.approx(video.duration, abs=0.001)
    parts = list(video.parts.select_related("segment").order_by("position"))
    assert [(s["position"], s["kind"]) for s in record["segments"]] == [
        (p.position, p.segment.kind) for p in parts
    ]
    for entry, part in zip(record["segments"], parts, strict=True):
        segment = part.segment
        assert set(entry) == PUBLIC_SEGMENT_FIELDS
        assert entry["backend"] == "local"
        assert entry["model"] == segment.backend_version == "local-2"
        assert entry["ai_generated"] is False
        assert entry["stand_in"] is False
        # The content hashes of the photo and brand assets, nothing else the row holds.
        assert entry["inputs"] == {
            name: digest
            for name, digest in segment.inputs.items()
            if name in {"product_image", "logo", "font"} and digest
        }
        assert entry["rendered_at"] == segment.rendered_at.isoformat()
    image = video.product.images.get()
    assert record["segments"][0]["inputs"] == {"product_image": image.cutout_hash}
    # It is JSON as it stands: the manifest and the page's JSON carry it unchanged.
    assert json.loads(json.dumps(record)) == record


def test_record_of_a_provider_segment(settings: Settings, video: Video) -> None:
    scene = make_kling_segment(settings, video)
    position = video.parts.get(segment=scene).position

    record = public_provenance_record(video)

    entry = next(s for s in record["segments"] if s["position"] == position)
    assert set(entry) == PUBLIC_SEGMENT_FIELDS  # no cost, no provider job
    assert entry["backend"] == "kling"
    assert entry["model"] == "kling-v2-1"
    assert entry["ai_generated"] is True
    assert record["ai_generated"] is True


def test_a_stand_in_says_so_without_naming_the_segment_it_replaced(
    settings: Settings, video: Video
) -> None:
    scene = make_kling_segment(settings, video)
    offer = video.segments.get(kind="offer")
    Segment.objects.filter(pk=offer.pk).update(fallback_for=scene)

    record = public_provenance_record(video)

    stand_ins = {s["kind"]: s["stand_in"] for s in record["segments"]}
    assert stand_ins == {"hero": False, "scene": False, "offer": True, "outro": False}
    assert scene.key not in json.dumps(record)


# --- Signing ------------------------------------------------------------------------------------


def test_local_video_carries_a_valid_untrusted_manifest_declaring_algorithmic_media(
    video: Video, tmp_path: Path
) -> None:
    signed = signed_copy(video, tmp_path)

    with c2pa.Reader(str(signed)) as reader:
        # The development chain: signature and hashes check out; its root is on no trust list.
        assert reader.get_validation_state() == "Valid"
        results = reader.get_validation_results()["activeManifest"]
        assert [f["code"] for f in results["failure"]] == ["signingCredential.untrusted"]
        success = {s["code"] for s in results["success"]}
        assert {"claimSignature.validated", "assertion.bmffHash.match"} <= success
        manifest = reader.get_active_manifest()

    assert manifest["claim_generator_info"][0]["name"] == "Scenecart"
    assert manifest["title"] == f"Stormline Rain Jacket ({video.bucket}, 16:9)"
    assert manifest["signature_info"]["common_name"] == "Scenecart development signer"
    assert created_action(manifest)["digitalSourceType"] == ALGORITHMIC_MEDIA
    positions = list(video.parts.order_by("position").values_list("position", flat=True))
    assert [i["instance_id"] for i in manifest["ingredients"]] == [
        f"scenecart:video:{video.public_id}:segment:{position}" for position in positions
    ]
    assert {i["relationship"] for i in manifest["ingredients"]} == {"componentOf"}
    carried = next(a for a in manifest["assertions"] if a["label"] == PROVENANCE_ASSERTION)
    signed_at = dt.datetime.fromisoformat(carried["data"].pop("signed_at"))
    assert abs(timezone.now() - signed_at) < dt.timedelta(minutes=1)
    record = public_provenance_record(video)
    assert carried["data"] == {k: v for k, v in record.items() if k not in ROW_STATE_FIELDS}

    summary = read_manifest(signed)
    assert summary["state"] == "untrusted"
    assert summary["c2pa_state"] == "Valid"
    assert summary["digital_source_type"] == ALGORITHMIC_MEDIA


def test_signed_file_is_still_the_same_video(video: Video, tmp_path: Path) -> None:
    signed = signed_copy(video, tmp_path)

    probed = verify(
        signed, profile_for(video.aspect), seconds=video.duration, tolerance=0.01, audio=True
    )
    assert probed.duration == pytest.approx(video.duration, abs=0.01)
    # Still starts playing before it has downloaded: the index comes before the media.
    kinds = [kind for kind, _, _ in top_level_boxes(signed.read_bytes())]
    assert kinds.index("moov") < kinds.index("mdat")


def test_a_provider_segment_makes_the_video_ai_generated(
    settings: Settings, video: Video, tmp_path: Path
) -> None:
    scene = make_kling_segment(settings, video)

    summary = read_manifest(signed_copy(video, tmp_path))

    assert summary["state"] == "untrusted"
    manifest = summary["manifest"]
    assert created_action(manifest)["digitalSourceType"] == TRAINED_ALGORITHMIC_MEDIA
    actions = next(a for a in manifest["assertions"] if a["label"].startswith("c2pa.actions"))
    placed = [a for a in actions["data"]["actions"] if a["action"] == "c2pa.placed"]
    assert len(placed) == len(manifest["ingredients"]) == video.parts.count()
    by_agent = {a["softwareAgent"]["name"]: a["digitalSourceType"] for a in placed}
    assert by_agent == {"kling": TRAINED_ALGORITHMIC_MEDIA, "local": ALGORITHMIC_MEDIA}
    position = video.parts.get(segment=scene).position
    scene_ingredient = next(
        i for i in manifest["ingredients"] if i["instance_id"].endswith(f":segment:{position}")
    )
    assert scene_ingredient["title"] == f"scene segment {position}"
    assert "AI-generated by kling (kling-v2-1)" in scene_ingredient["description"]


def test_a_tampered_file_reads_back_invalid(video: Video, tmp_path: Path) -> None:
    signed = signed_copy(video, tmp_path)
    data = bytearray(signed.read_bytes())
    _, start, end = next(box for box in top_level_boxes(bytes(data)) if box[0] == "mdat")
    middle = (start + end) // 2
    for at in range(middle, middle + 16):
        data[at] ^= 0xFF
    tampered = tmp_path / "tampered.mp4"
    tampered.write_bytes(bytes(data))

    with c2pa.Reader(str(tampered)) as reader:
        assert reader.get_validation_state() == "Invalid"
        codes = [f["code"] for f in reader.get_validation_results()["activeManifest"]["failure"]]
    assert "assertion.bmffHash.mismatch" in codes

    summary = read_manifest(tampered)
    assert summary["state"] == "invalid"
    assert "assertion.bmffHash.mismatch" in [f["code"] for f in summary["failures"]]


def test_every_assembled_video_is_signed_and_its_segments_are_not(video: Video) -> None:
    # video_assemble signs what it publishes; segments are never published on their own.
    assert read_manifest(stored_path(video))["state"] == "untrusted"
    segment = video.parts.first().segment
    assert read_manifest(Path(default_storage.path(segment.file.name)))["state"] == "missing"


def test_signing_in_place_replaces_the_file_whole(video: Video) -> None:
    path = stored_path(video)
    mode = path.stat().st_mode

    sign_video(video=video, source=path, dest=path)

    assert read_manifest(path)["state"] == "untrusted"
    assert path.stat().st_mode == mode
    assert [p.name for p in path.parent.iterdir() if p.name.endswith(".part")] == []


def test_the_development_root_makes_the_manifest_trusted(
    settings: Settings, video: Video, tmp_path: Path
) -> None:
    signed = signed_copy(video, tmp_path)
    settings.SCENECART_C2PA_TRUST_ANCHORS = str(development_chain() / ROOT_FILE)

    summary = read_manifest(signed)

    assert (summary["state"], summary["c2pa_state"], summary["failures"]) == (
        "valid",
        "Trusted",
        [],
    )


# --- The development chain ------------------------------------------------------------------------


def test_development_chain_is_made_once_and_reused(settings: Settings, tmp_path: Path) -> None:
    settings.SCENECART_VAR_DIR = tmp_path / "var"

    folder = development_chain()
    files = {name: folder / name for name in (CHAIN_FILE, KEY_FILE, ROOT_FILE)}
    first = {name: (p.read_bytes(), p.stat().st_mtime_ns) for name, p in files.items()}
    again = development_chain()

    assert again == folder == tmp_path / "var" / "c2pa" / "dev"
    assert {name: (p.read_bytes(), p.stat().st_mtime_ns) for name, p in files.items()} == first
    assert sorted(p.name for p in folder.parent.iterdir()) == ["dev"]  # no staging left behind
    assert files[KEY_FILE].stat().st_mode & 0o777 == 0o600

    leaf, root = x509.load_pem_x509_certificates(first[CHAIN_FILE][0])
    assert leaf.issuer == root.subject != leaf.subject
    assert isinstance(leaf.public_key(), ec.EllipticCurvePublicKey)
    assert leaf.public_key().curve.name == "secp256r1"
    assert leaf.extensions.get_extension_for_class(x509.KeyUsage).value.digital_signature
    assert ExtendedKeyUsageOID.EMAIL_PROTECTION in (
        leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    aki = leaf.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    assert leaf.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca


def test_processes_starting_at_once_share_one_development_chain(
    settings: Settings, tmp_path: Path
) -> None:
    settings.SCENECART_VAR_DIR = tmp_path / "var"
    with ThreadPoolExecutor(max_workers=8) as pool:
        folders = list(pool.map(lambda _: development_chain(), range(8)))

    assert set(folders) == {tmp_path / "var" / "c2pa" / "dev"}
    assert sorted(p.name for p in folders[0].parent.iterdir()) == ["dev"]
    # The key that landed belongs to the certificate that landed.
    leaf = x509.load_pem_x509_certificates((folders[0] / CHAIN_FILE).read_bytes())[0]
    key = serialization.load_pem_private_key((folders[0] / KEY_FILE).read_bytes(), None)
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    assert key.public_key().public_bytes(serialization.Encoding.DER, spki) == (
        leaf.public_key().public_bytes(serialization.Encoding.DER, spki)
    )


def test_signing_reuses_the_development_chain(
    settings: Settings, video: Video, tmp_path: Path
) -> None:
    settings.SCENECART_VAR_DIR = tmp_path / "var"
    sign_video(video=video, source=stored_path(video), dest=tmp_path / "one.mp4")
    chain = tmp_path / "var" / "c2pa" / "dev" / CHAIN_FILE
    before = (chain.read_bytes(), chain.stat().st_mtime_ns)

    sign_video(video=video, source=stored_path(video), dest=tmp_path / "two.mp4")

    assert (chain.read_bytes(), chain.stat().st_mtime_ns) == before
    serials = {
        read_manifest(tmp_path / name)["signer"]["cert_serial_number"]
        for name in ("one.mp4", "two.mp4")
    }
    assert len(serials) == 1


# --- A merchant's certificate -------------------------------------------------------------------


NOW = dt.datetime.now(dt.UTC)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _key_usage(*, digital_signature: bool, cert_sign: bool = False) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=not digital_signature and not cert_sign,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def write_merchant_chain(
    folder: Path, *, digital_signature: bool = True, self_signed: bool = False
) -> tuple[Path, Path]:
    """A CA and a signing certificate it issued (or one that signed itself), as a merchant
    would get them from a certificate authority: chain.pem and key.pem in ``folder``."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("Example Trust Services CA"))
        .issuer_name(_name("Example Trust Services CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=365))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(digital_signature=False, cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    issuer, issuer_key = (
        (_name("Northwind Outfitters"), key) if self_signed else (ca.subject, ca_key)
    )
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name("Northwind Outfitters"))
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=1))
        .not_valid_after(NOW + dt.timedelta(days=90))
        .add_extension(_key_usage(digital_signature=digital_signature), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.EMAIL_PROTECTION]), False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()), False
        )
        .sign(issuer_key, hashes.SHA256())
    )
    chain, key_path = folder / "chain.pem", folder / "key.pem"
    pem = serialization.Encoding.PEM
    chain.write_bytes(leaf.public_bytes(pem) + (b"" if self_signed else ca.public_bytes(pem)))
    key_path.write_bytes(
        key.private_bytes(pem, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return chain, key_path


def test_a_merchant_certificate_signs_instead_of_the_development_chain(
    settings: Settings, video: Video, tmp_path: Path
) -> None:
    settings.SCENECART_VAR_DIR = tmp_path / "var"
    chain, key = write_merchant_chain(tmp_path)
    settings.SCENECART_C2PA_CERT_CHAIN = str(chain)
    settings.SCENECART_C2PA_PRIVATE_KEY = str(key)

    summary = read_manifest(signed_copy(video, tmp_path))

    assert summary["state"] == "untrusted"  # that CA is on no trust list either
    assert summary["signer"]["common_name"] == "Northwind Outfitters"
    assert not (tmp_path / "var" / "c2pa").exists()


@pytest.mark.parametrize(
    ("variant", "reason"),
    [
        ({"self_signed": True}, "is self-signed"),
        ({"digital_signature": False}, "lacks the digitalSignature key usage"),
    ],
)
def test_a_certificate_c2pa_cannot_use_is_refused_naming_the_setting(
    settings: Settings, video: Video, tmp_path: Path, variant: dict[str, bool], reason: str
) -> None:
    chain, key = write_merchant_chain(tmp_path, **variant)
    settings.SCENECART_C2PA_CERT_CHAIN = str(chain)
    settings.SCENECART_C2PA_PRIVATE_KEY = str(key)
    out = tmp_path / "out" / "signed.mp4"

    with pytest.raises(SigningCertificateError) as refused:
        sign_video(video=video, source=stored_path(video), dest=out)

    message = str(refused.value)
    assert f"SCENECART_C2PA_CERT_CHAIN ({chain})" in message
    assert reason in message
    assert not out.exists()


def test_half_the_production_settings_is_refused(
    settings: Settings, video: Video, tmp_path: Path
) -> None:
    chain, _ = write_merchant_chain(tmp_path)
    settings.SCENECART_C2PA_CERT_CHAIN = str(chain)

    with pytest.raises(SigningCertificateError, match="SCENECART_C2PA_PRIVATE_KEY is not set"):
        sign_video(video=video, source=stored_path(video), dest=tmp_path / "signed.mp4")


def test_the_key_must_belong_to_the_first_certificate(
    settings: Settings, video: Video, tmp_path: Path
) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    chain, _ = write_merchant_chain(tmp_path / "a")
    _, other_key = write_merchant_chain(tmp_path / "b")
    settings.SCENECART_C2PA_CERT_CHAIN = str(chain)
    settings.SCENECART_C2PA_PRIVATE_KEY = str(other_key)

    with pytest.raises(SigningCertificateError, match="is not the key of the first certificate"):
        sign_video(video=video, source=stored_path(video), dest=tmp_path / "signed.mp4")
    assert [p.name for p in tmp_path.iterdir() if p.suffix in {".mp4", ".part"}] == []


# --- The public page ------------------------------------------------------------------------------


def page_url(video: Video) -> str:
    return reverse("storefront:provenance", args=[video.public_id])


def test_provenance_page_shows_the_record_and_the_manifest_state(
    client: Client, video: Video
) -> None:
    sign_video(video=video, source=stored_path(video), dest=stored_path(video))
    url = page_url(video)

    page = client.get(url)

    assert page.status_code == 200
    html = page.content.decode()
    assert "Stormline Rain Jacket" in html
    assert "Northwind Outfitters" in html
    assert "Algorithmically composed" in html
    assert 'data-state="untrusted"' in html
    assert "signingCredential.untrusted" in html
    assert ALGORITHMIC_MEDIA in html
    for part in video.parts.select_related("segment"):
        assert f'data-segment="{part.position}"' in html
    assert video.product.images.get().cutout_hash in html

    data = client.get(url, {"format": "json"}).json()
    assert data["record"] == public_provenance_record(video)
    assert data["content_credentials"]["state"] == "untrusted"
    assert data["content_credentials"]["c2pa_state"] == "Valid"
    assert data["content_credentials"]["digital_source_type"] == ALGORITHMIC_MEDIA


def test_provenance_page_of_an_ai_video(client: Client, settings: Settings, video: Video) -> None:
    make_kling_segment(settings, video)
    sign_video(video=video, source=stored_path(video), dest=stored_path(video))

    page = client.get(page_url(video))

    html = page.content.decode()
    assert "AI-generated:" in html
    assert "kling-v2-1" in html
    assert TRAINED_ALGORITHMIC_MEDIA in html


def test_provenance_page_of_an_unsigned_file_says_so(client: Client, video: Video) -> None:
    # A file replaced behind Scenecart's back (here: by an unsigned segment).
    segment = video.parts.first().segment
    stored_path(video).write_bytes(Path(default_storage.path(segment.file.name)).read_bytes())
    Video.objects.filter(pk=video.pk).update(ready_at=timezone.now())  # a new cache entry
    data = client.get(page_url(video), {"format": "json"}).json()
    assert data["content_credentials"]["state"] == "missing"


def test_provenance_page_is_404_for_an_unknown_video_or_a_draft_product(
    client: Client, video: Video
) -> None:
    assert client.get(reverse("storefront:provenance", args=[uuid.uuid4()])).status_code == 404
    Product.objects.filter(pk=video.product_id).update(status=Product.Status.DRAFT)
    assert client.get(page_url(video)).status_code == 404


def test_provenance_page_is_reached_by_the_public_id_not_the_sequential_one(
    client: Client, video: Video
) -> None:
    other = make_ready_video(video.product, "climate=snowy")

    assert client.get(f"/provenance/{video.pk}").status_code == 404
    assert client.get(f"/provenance/{video.pk}", {"format": "json"}).status_code == 404
    assert client.get(f"/provenance/{video.public_id}").status_code == 200
    # Not a counter either: two videos made one after the other share no prefix.
    assert video.public_id.version == other.public_id.version == 4
    assert video.public_id.hex[:8] != other.public_id.hex[:8]


def test_provenance_page_withholds_what_the_storefront_does_not_serve(
    client: Client, video: Video
) -> None:
    url = page_url(video)
    unknown_url = reverse("storefront:provenance", args=[uuid.uuid4()])
    unknown = client.get(unknown_url)
    bucket_policy_update(merchant=video.product.merchant, require_approval=True)

    awaiting_review = client.get(url)
    video = video_approve(video=video)
    approved = client.get(url, {"format": "json"})
    video_reject(video=video, note="The jacket is the wrong colour.")
    rejected = client.get(url)

    assert awaiting_review.status_code == 404
    assert approved.status_code == 200
    assert approved.json()["record"]["public_id"] == str(video.public_id)
    assert rejected.status_code == 404
    # A withheld video answers exactly as one that does not exist.
    assert unknown.status_code == 404
    assert awaiting_review.content == rejected.content
    assert awaiting_review.content == unknown.content.replace(unknown_url.encode(), url.encode())


def test_a_rejected_video_is_withheld_although_the_merchant_requires_no_approval(
    client: Client, video: Video
) -> None:
    # Rejected pixels still on file (their re-render has not replaced them yet).
    Video.objects.filter(pk=video.pk).update(approval=Video.Approval.REJECTED)

    assert client.get(page_url(video)).status_code == 404


@pytest.fixture
def provider_video(settings: Settings, video: Video) -> Video:
    """A published video with a provider's scene, stand-in, costs and prompts on its rows,
    signed again so its file's manifest is made from those rows."""
    scene = make_kling_segment(settings, video)
    offer = video.segments.get(kind="offer")
    Segment.objects.filter(pk=offer.pk).update(fallback_for=scene, cost=Decimal("0.0125"))
    sign_video(video=video, source=stored_path(video), dest=stored_path(video))
    Video.objects.filter(pk=video.pk).update(ready_at=timezone.now())  # a new cache entry
    video.refresh_from_db()
    return video


def private_values(video: Video) -> list[str]:
    """What the rows hold that a shopper must not see, as the text that would leak it."""
    values = [video.recipe_key, video.file.name, Path(video.file.name).name]
    if video.poster:
        values += [video.poster.name, Path(video.poster.name).name]
    for segment in video.segments.all():
        values += [segment.key, segment.key[:12], segment.plan["prompt"]]
        values += [segment.plan["negative_prompt"], str(segment.cost)]
        if segment.provider_job_id:
            values.append(segment.provider_job_id)
        if segment.file:
            values += [segment.file.name, Path(segment.file.name).name]
    assert "kling-job-8812" in values and "0.3500" in values and "0.0125" in values
    return [value for value in values if value]


PRIVATE_FIELDS = {
    "cost", "key", "prompt", "negative_prompt", "seed", "recipe_key", "file", "provider_job_id",
    "stands_in_for", "render_seconds", "submitted_at", "video_id", "sku", "status",
}  # fmt: skip


def field_names(data: object) -> set[str]:
    if isinstance(data, dict):
        return set(data) | {name for value in data.values() for name in field_names(value)}
    if isinstance(data, list):
        return {name for value in data for name in field_names(value)}
    return set()


def test_nothing_private_is_on_the_page_in_its_json_or_in_the_signed_file(
    client: Client, provider_video: Video
) -> None:
    video = provider_video
    html = client.get(page_url(video)).content.decode()
    answer = client.get(page_url(video), {"format": "json"})
    manifest = read_manifest(stored_path(video))["manifest"]
    carried = next(a for a in manifest["assertions"] if a["label"] == PROVENANCE_ASSERTION)
    file_bytes = stored_path(video).read_bytes()

    assert "AI-generated:" in html and "kling-v2-1" in html  # the page is the provider video's
    for value in private_values(video):
        assert value not in html
        assert value not in answer.content.decode()
        assert value not in json.dumps(manifest)
        assert value.encode() not in file_bytes
    assert not field_names(answer.json()) & PRIVATE_FIELDS
    assert not field_names(carried["data"]) & PRIVATE_FIELDS
    assert carried["data"]["segments"][2]["stand_in"] is True


def test_the_migration_gives_every_existing_video_its_own_public_id(
    transactional_db: None, video: Video
) -> None:
    """0007 on a table with rows: each gets its own uuid, then the unique index holds."""
    second = make_ready_video(video.product, "climate=snowy")
    remigrate("rendering", before="0006_signing_certificates", after="0007_video_public_id")

    ids = dict(Video.objects.values_list("pk", "public_id"))
    assert set(ids) == {video.pk, second.pk}
    assert None not in ids.values() and len(set(ids.values())) == 2
    assert ids[video.pk] != video.public_id  # given by the migration, not kept from before
    page = Client().get(reverse("storefront:provenance", args=[ids[video.pk]]))
    assert page.status_code == 200


def test_provenance_resign_replaces_a_manifest_made_before_the_record_was_public_only(
    video: Video, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Files signed by an earlier version carry costs and prompts inside them; signing them
    again with the command leaves only the public record, and the file plays as before."""
    current = video_provenance.manifest_definition
    leak = "cost 0.3500 prompt rain on a window job kling-job-8812"

    def old_style(record: dict[str, object]) -> dict[str, object]:
        definition = current(record)
        definition["assertions"].append({"label": "org.scenecart.old", "data": {"leak": leak}})
        return definition

    monkeypatch.setattr(video_provenance, "manifest_definition", old_style)
    path = stored_path(video)
    sign_video(video=video, source=path, dest=path)
    assert leak.encode() in path.read_bytes()
    monkeypatch.undo()

    out = StringIO()
    call_command("provenance_resign", "--json", stdout=out)
    assert json.loads(out.getvalue()) == {"signed": 1, "failures": []}
    assert leak.encode() not in path.read_bytes()
    assert read_manifest(path)["state"] in ("valid", "untrusted")
    probed = verify(path, profile_for(video.aspect), seconds=video.duration or 0, audio=True)
    assert abs(probed.duration - (video.duration or 0)) < 0.05
