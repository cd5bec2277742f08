"""`kingme play`: play a kingme player in the browser, and see what its policy and value think.

`kingme.web.app.create_app` builds the FastAPI app (JSON API + the static page in ``static/``);
`kingme.web.analysis` holds the `Analyzer` hook; `kingme.web.commands.main` is the command.
FastAPI and uvicorn are imported only by those modules, so importing this package costs nothing.
See docs/play.md.
"""
