"""Sessions' routers, one per resource."""
