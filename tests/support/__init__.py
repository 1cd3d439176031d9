"""What the tests share: factories, fake protocol servers, certificates, helpers to look at
videos and to walk the admin. Test modules hold tests."""
