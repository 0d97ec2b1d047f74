"""The HTTP service: SPARQL endpoint, GraphQL API, named queries and letter pages."""

from kg.server.app import ServeSettings, create_app, serve_forever

__all__ = ["ServeSettings", "create_app", "serve_forever"]
