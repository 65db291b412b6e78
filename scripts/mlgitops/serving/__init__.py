"""Using a promoted version: fetch it verified, predict in batch, serve it with MLServer.

`fetch` needs only DVC and git; `predict` needs scikit-learn (the `train` extra);
`runtime`, `launch` and `server` need MLServer (the `serve` extra).
"""
