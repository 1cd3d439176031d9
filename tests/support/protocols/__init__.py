"""Paid providers faked as local HTTP servers that speak their documented protocol (never by
patching ``requests``), and the pytest fixtures that start them."""
