# Generates pillow_bicubic.json: Pillow's bicubic resampling of a small
# float image (mode "F", computed in double precision by Pillow), the
# independent reference for sr.Resample. Run with Debian's python3 and
# python3-pil (Pillow 9.4): /usr/bin/python3 pillow_bicubic.py
import json, math
from PIL import Image

W, H = 9, 7
vals = [[round(127.5 + 120 * math.sin(0.9 * x + 0.4 * y * y) * math.cos(0.3 * x * y), 3) for x in range(W)] for y in range(H)]
img = Image.new("F", (W, H))
img.putdata([v for row in vals for v in row])
cases = []
for (w, h) in [(18, 14), (27, 21), (36, 28), (4, 3), (5, 7), (13, 5), (2, 2)]:
    out = img.resize((w, h), Image.BICUBIC)
    cases.append({"w": w, "h": h, "data": [round(v, 5) for v in out.getdata()]})
json.dump({"pillow": Image.__version__, "w": W, "h": H, "input": [v for row in vals for v in row], "cases": cases},
          open("pillow_bicubic.json", "w"), indent=None)
