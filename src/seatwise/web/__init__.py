"""The web UI and reporting API (FastAPI + Jinja2, server-rendered, no build step).

`app.create_app` assembles it; `accounts` and `security` decide who may do what; `pages` and
`api` hold one router per page or resource; templates and static files ship in the package.
"""
