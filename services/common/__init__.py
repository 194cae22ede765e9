"""Small neutral helpers that are truly the same for every service: settings, auth, errors,
HTTP plumbing, the Kafka clients, the outbox relay and the log-following read model."""
