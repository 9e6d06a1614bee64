"""Entry points over HTTP: the OKX REST surface, the WebSocket login, the app that serves them."""
