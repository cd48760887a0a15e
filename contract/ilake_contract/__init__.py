"""What the agent and the server share: the event schema, the detectors, the vocabulary, the
checks of one event and the app rules. Standard library, msgspec and phonenumbers only."""
