"""The website chat widget: the web channel of an assistant (settings, visitor tokens, the loader, the
iframe panel and its HTTP routes). Imports no Reflex: the dashboard page lives in web/pages/widget.py."""
