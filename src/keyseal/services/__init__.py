"""One function per user action. Entry points (CLI, HTTP) call these; these call the domain
and the store. Every rule is enforced here, so every entry point refuses the same things."""
