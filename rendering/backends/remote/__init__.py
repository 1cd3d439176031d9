"""HTTP video providers: one base (base.py), one small adapter per provider."""
