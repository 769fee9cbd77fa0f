#!/usr/bin/env python3
"""Writes the HDF5 test files of crates/data/tests/fixtures/ with h5py, in DeepMind's 3dshapes.h5
layout (`images` N×64×64×3 uint8, `labels` N×6 float64), small: a 2 × 1 × 1 × 3 × 1 × 1 factor grid
(N = 6) in C order, images a fixed pattern the Rust test recomputes:
    image[i, y, x, c] = (31 i + 7 y + 3 x + 11 c) mod 256.
Files: contiguous; chunked one image per chunk; chunked + gzip + shuffle; the same with float32
labels; float32 images (a wrong element type); superblock of the newest format (libver latest).
Run: python3 -m venv V && V/bin/pip install h5py numpy && V/bin/python scripts/make-hdf5-fixtures.py
"""
import os
import h5py
import numpy as np

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "crates", "data", "tests", "fixtures")
SIZES = [2, 1, 1, 3, 1, 1]
n = int(np.prod(SIZES))
i, y, x, c = np.meshgrid(np.arange(n), np.arange(64), np.arange(64), np.arange(3), indexing="ij")
images = ((31 * i + 7 * y + 3 * x + 11 * c) % 256).astype(np.uint8)
# Labels spell the grid in C order: factor j's value of class v is 0.1 * v + j.
grid = np.stack(np.meshgrid(*[np.arange(s) for s in SIZES], indexing="ij"), axis=-1).reshape(n, 6)
labels = (0.1 * grid + np.arange(6)).astype(np.float64)


def write(name, data=images, label_dtype=np.float64, libver="earliest", **layout):
    path = os.path.join(OUT, name)
    with h5py.File(path, "w", libver=libver) as f:
        f.create_dataset("images", data=data, **layout)
        f.create_dataset("labels", data=labels.astype(label_dtype))
    print("wrote", path, os.path.getsize(path), "bytes")


os.makedirs(OUT, exist_ok=True)
write("3dshapes-contiguous.h5")
write("3dshapes-chunked.h5", chunks=(1, 64, 64, 3))
write("3dshapes-gzip.h5", chunks=(1, 64, 64, 3), compression="gzip", compression_opts=4, shuffle=True)
write("3dshapes-gzip-f32-labels.h5", label_dtype=np.float32, chunks=(2, 64, 64, 3), compression="gzip", compression_opts=9)
write("3dshapes-latest.h5", libver="latest", chunks=(1, 64, 64, 3), compression="gzip")
write("3dshapes-f32-images.h5", data=images.astype(np.float32), chunks=(1, 64, 64, 3), compression="gzip")
