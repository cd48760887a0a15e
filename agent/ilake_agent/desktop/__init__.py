"""Desktop capture: a platform backend reports raw input, the recorder makes policy-bound events.

The split keeps what each platform must do small (listen, read the focused window) and the
privacy rules in one place (`recorder.py`): a printable key's character stops at the backend's
callback and is never stored, spooled or sent.
"""
