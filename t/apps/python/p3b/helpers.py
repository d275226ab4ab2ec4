"""A helper module of app b (P3: one of two of the same name)."""
WHO = "helpers of b"
