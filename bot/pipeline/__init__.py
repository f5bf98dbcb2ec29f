"""One LINE event in, one message out: the webhook door, the inbox, the registry, the handlers'
context, the outbox and the sender."""
