"""An editable install (P4) of a package Debian ships too (python3-h2):
the venv's copy must win."""
EDITABLE = True
