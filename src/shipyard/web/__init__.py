"""The HTTP side of Shipyard: the REST API, webhooks and the dashboard.

``create_app(settings)`` builds the FastAPI application; nothing connects or
reads files at import time.
"""
