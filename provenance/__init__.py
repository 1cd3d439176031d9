"""Content Credentials (C2PA): signing certificates, manifests, signing and reading them."""
