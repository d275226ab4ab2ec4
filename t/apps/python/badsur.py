"""An app whose import fails with text UTF-8 cannot carry (a file name
decoded with surrogateescape) and a NUL: only this app fails."""
import os

raise RuntimeError("cannot read " + os.fsdecode(b"conf-\xff.ini") + " \0 here")
