"""`video3d-serve`: a trained model behind an HTTP API and a web page (docs/SERVE.md).

Needs the optional web stack (the `serve` extra: starlette, uvicorn, python-multipart); the rest
of video3d never imports this package, so it works without them.
"""
