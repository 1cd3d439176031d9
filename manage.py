#!/usr/bin/env python
"""Django's command-line utility. It is the development entry point: it defaults to the dev
settings; production runs it with DJANGO_SETTINGS_MODULE=scenecart.settings.production."""

import os
import sys


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "scenecart.settings.dev")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)


if __name__ == "__main__":
    main()
