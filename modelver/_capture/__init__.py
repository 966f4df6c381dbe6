"""Capture: small named functions, one per fact, fast paths first, each allowed to fail.

The run calls each through :func:`modelver._run.Run` guards, so a failure to record
warns (or raises ``CaptureError`` under ``strict=True``) and never kills training.
"""
