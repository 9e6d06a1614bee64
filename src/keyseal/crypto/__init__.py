"""Cryptography, one concept per module: ``keyring`` seals secrets at rest under versioned
master keys, ``passwords`` hashes what people and bots present, ``totp`` checks two-factor
codes, ``qr`` draws them for an authenticator app."""
