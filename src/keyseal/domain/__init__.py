"""Rules and types of Keyseal. Plain Python, no I/O, imports nothing of ours but itself
and the error catalogue."""
