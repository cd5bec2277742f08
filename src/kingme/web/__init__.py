"""`kingme play`: a local web server to play checkers against any kingme player in the browser and
see what a trained policy thinks of each position (its move probabilities and its critic's value).

The package has three layers, each using only the ones below it. `kingme.web.sessions` is the
domain: games in memory (their line of moves, a cursor to step through it, PDN import and
export), human and engine moves, undo, resignation and analysis, with the limits on which player
specs a request may name; it raises `GameError`s and knows nothing of HTTP. `kingme.web.app` puts
the JSON API on top with FastAPI (one route per action, one mapping from domain errors to HTTP
statuses, each request's engine work under a budget in `kingme.web.pool`'s bounded search pool)
and serves the page in ``static/`` (plain JavaScript, no build step). `kingme.web.commands` is
the command: it binds 127.0.0.1 unless told otherwise and stops promptly on SIGTERM.
`kingme.web.analysis` turns a loaded player into probabilities, a value and a search's line by
duck typing. FastAPI and uvicorn are imported only by `app` and
`commands`, so importing the package costs nothing. See docs/play.md.
"""
