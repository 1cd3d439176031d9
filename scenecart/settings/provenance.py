"""Content Credentials (C2PA) signed into every published MP4 (provenance.manifest, provenance.credentials)."""

from .env import env

# Content Credentials (C2PA) on every published MP4 (provenance.manifest, provenance.credentials): paths to the PEM
# certificate chain (the signing certificate first, issued by a CA, with the digitalSignature
# key usage and the emailProtection extended key usage; then its CAs) and its private key: a
# merchant's or the operator's certificate. Both empty: a development chain made on first use
# under SCENECART_VAR_DIR/c2pa/dev, whose files read back as valid but untrusted.
SCENECART_C2PA_CERT_CHAIN = env.str("SCENECART_C2PA_CERT_CHAIN", default="")
SCENECART_C2PA_PRIVATE_KEY = env.str("SCENECART_C2PA_PRIVATE_KEY", default="")
# An RFC 3161 timestamp authority that countersigns each manifest (a network call per video);
# empty: none, and a manifest is judged by the certificate's validity at reading time.
SCENECART_C2PA_TSA_URL = env.str("SCENECART_C2PA_TSA_URL", default="")
# A PEM bundle of the CAs the provenance page trusts when it reads a manifest back (e.g. the
# C2PA trust list, or the development root SCENECART_VAR_DIR/c2pa/dev/root.pem); empty: none.
SCENECART_C2PA_TRUST_ANCHORS = env.str("SCENECART_C2PA_TRUST_ANCHORS", default="")
