"""The console's web layer: the app, its pages (routers), templates and static files."""
