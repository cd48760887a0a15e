"""The agent SDK: what runs on employee machines (ilake_contract, msgspec, cryptography only)."""
