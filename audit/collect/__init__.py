"""Reply collection: every reply that reaches us, by any channel, stored once, matched and classified.

`store.ingest_raw` is the one door every source goes through (IMAP, webhooks, Maildir); it keeps the raw
bytes first, then parses (`parse`), matches (`matching`) and classifies (`classify`).
"""
