"""Making pictures and sound, without Django: the compositor that draws the built-in renderer's
scenes, music beds, and ffmpeg/PyAV I/O (probe, verify, normalize, concatenate, posters).
Imports no app and nothing of Django (an import-linter contract keeps it so)."""
