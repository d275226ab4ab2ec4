"""A helper module of app a (P3: one of two of the same name)."""
WHO = "helpers of a"
