"""The apps of apps_dir: scanned, watched, started on demand, reloaded, deployed, expired.

No HTTP here: the handlers in `notebook_http/apps_handlers.py` call the registry.
"""
