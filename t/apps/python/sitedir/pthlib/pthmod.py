"""Importable only through sitedir/extra.pth (t/python.t)."""
GREETING = b"found through a .pth file\n"
