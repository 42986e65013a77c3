"""How far a JPEG decoded on the model's device (loading.jpeg_on_device) may be from Pillow's decoding of it, for
the CPU's test (tests/engine/imaging/test_jpeg_on_device.py) and the GPU's (tests/engine/model/test_cuda.py).

Pixels: full decoding plus an area average against Pillow's DCT-scaled (and faster, less exact) decoding. Measured
here: IDRiD's photographs mean 0.12-0.17 grey levels, 99th percentile 1; the sample, whose rim is a sharp edge that
the two decoders ring differently at, mean 0.70 and 99th percentile 5 (all its large gaps are on the rim).
Probabilities move by up to 0.04 with those pixels (measured on IDRiD's 81): a grade may then differ only where the
CPU's two most probable grades are closer than that, a tie either way.
"""

MEAN_GREY = 1.0
TAIL_GREY = 6.0  # the 99th percentile of the per-pixel gap
PROBABILITY = 0.05
