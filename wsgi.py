"""WSGI entry point for any WSGI server: ``application = create_app()``."""

from voxpop import create_app

application = create_app()
