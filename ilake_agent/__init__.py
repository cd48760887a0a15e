"""The agent SDK: what runs on employee machines (standard library, msgspec, cryptography only)."""
