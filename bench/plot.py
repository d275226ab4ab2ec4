"""Draw make bench's Python results (python.tsv) as an SVG: requests/s per
server, the CPU per request, and the disconnect latency p50/p99. Standard library only.

usage: plot.py RESULTS.tsv OUT.svg"""
import sys
from xml.sax.saxutils import escape

rates, latencies, cpus = [], [], []
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "rate":
        rates.append((f[1].replace("_", " "), float(f[2])))
    elif f[0] == "cpu":
        cpus.append((f[1].replace("_", " "), float(f[2])))
    elif f[0] == "latency":
        latencies.append((f[1].replace("_", " "), float(f[2]), float(f[3])))

W, LABEL, BAR, GAP = 760, 250, 18, 6
out = []
y = 30


def text(x, y, s, size=12, anchor="start", weight="normal"):
    out.append('<text x="%d" y="%d" font-size="%d" text-anchor="%s" '
               'font-weight="%s">%s</text>' % (x, y, size, anchor, weight,
                                               escape(s)))


def bars(title, rows, unit, colour_of):
    global y
    text(10, y, title, 14, weight="bold")
    y += 14
    top = max(v for _, v, _ in rows) or 1
    for label, value, colour in rows:
        width = (W - LABEL - 110) * value / top
        text(LABEL - 8, y + BAR - 5, label, anchor="end")
        out.append('<rect x="%d" y="%d" width="%.1f" height="%d" fill="%s"/>'
                   % (LABEL, y, width, BAR, colour))
        shown = format(round(value), ",") if value >= 100 else "%.1f" % value
        text(LABEL + width + 6, y + BAR - 5, "%s %s" % (shown, unit))
        y += BAR + GAP
    y += 24


def colour(label):
    if label.startswith("module"):
        return "#2a7ab9"
    if label.startswith("nginx return"):
        return "#999999"
    return "#e08a2c"


bars("Requests/s, keep-alive, 1 worker (median)",
     [(l, v, colour(l)) for l, v in rates], "", colour)
if cpus:
    bars("CPU per request, every serving thread (us, median; lower is better)",
         [(l, v, colour(l)) for l, v in cpus], "us", colour)
rows = []
for label, p50, p99 in latencies:
    rows.append((label + " p50", p50, colour(label)))
    rows.append((label + " p99", p99, colour(label)))
bars("Client close -> receive() returns http.disconnect (us)", rows, "us",
     colour)
svg = ('<svg xmlns="http://www.w3.org/2000/svg" width="%d" height="%d" '
       'font-family="sans-serif"><rect width="100%%" height="100%%" '
       'fill="white"/>%s</svg>\n' % (W, y, "".join(out)))
open(sys.argv[2], "w").write(svg)
