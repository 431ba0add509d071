"""Regenerate audit/fidelity/weights/resemblyzer_ge2e.npz from the Resemblyzer wheel, without torch.

Resemblyzer 0.1.4 (Apache-2.0, by Corentin Jemine / Resemble AI) ships its GE2E speaker encoder
as `resemblyzer/pretrained.pt`, a torch checkpoint in the legacy (pre-1.6) serialisation: a
run of pickles (magic number, protocol, system info, the checkpoint, the storage keys) followed
by each storage's raw bytes. A small restricted unpickler maps torch's tensor rebuild function
and storage ids to numpy, so torch is not needed; nothing but the known names is unpickled.

Usage (from the repository root; needs pip and the package index):

    python scripts/convert_resemblyzer_weights.py            # downloads the wheel with pip
    python scripts/convert_resemblyzer_weights.py --wheel Resemblyzer-0.1.4-py3-none-any.whl

Writes float16 weights (embeddings match float32 to better than 1e-3; see the fidelity tests)
and leaves the NOTICE beside them untouched.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import pickle
import struct
import subprocess
import sys
import tempfile
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np

WHEEL = "resemblyzer==0.1.4"
MEMBER = "resemblyzer/pretrained.pt"
OUT = Path(__file__).resolve().parents[1] / "audit" / "fidelity" / "weights" / "resemblyzer_ge2e.npz"
_LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
_DTYPES = {"FloatStorage": np.float32, "DoubleStorage": np.float64, "HalfStorage": np.float16,
           "LongStorage": np.int64, "IntStorage": np.int32}


class _Storage:
    def __init__(self, dtype: type, key: str) -> None:
        self.dtype, self.key = dtype, key
        self.data: np.ndarray | None = None


class _Tensor:
    """A tensor waiting for its storage's bytes (they come after the pickle in the file)."""

    def __init__(self, storage: _Storage, offset: int, size: tuple, stride: tuple) -> None:
        self.storage, self.offset, self.size, self.stride = storage, offset, size, stride

    def array(self) -> np.ndarray:
        assert self.storage.data is not None
        item = self.storage.data.itemsize
        return np.lib.stride_tricks.as_strided(
            self.storage.data[self.offset:], shape=self.size, strides=[s * item for s in self.stride]
        ).copy()


def _rebuild_tensor_v2(storage, storage_offset, size, stride, *_ignored):  # noqa: ANN001 - pickle callback
    return _Tensor(storage, storage_offset, tuple(size), tuple(stride))


class _StorageType:
    def __init__(self, name: str) -> None:
        self.dtype = _DTYPES[name]


class _Unpickler(pickle.Unpickler):
    """Knows only OrderedDict, torch's tensor rebuild and its storage types; refuses anything else."""

    def __init__(self, stream: io.BufferedIOBase, storages: dict[str, _Storage]) -> None:
        super().__init__(stream, encoding="latin1")
        self.storages = storages

    def find_class(self, module: str, name: str):  # noqa: ANN201
        if (module, name) == ("collections", "OrderedDict"):
            return OrderedDict
        if (module, name) == ("torch._utils", "_rebuild_tensor_v2"):
            return _rebuild_tensor_v2
        if module == "torch" and name in _DTYPES:
            return _StorageType(name)
        raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")

    def persistent_load(self, pid):  # noqa: ANN001, ANN201
        kind, storage_type, key, _location, _size = pid[:5]
        assert kind == "storage", pid
        return self.storages.setdefault(key, _Storage(storage_type.dtype, key))


def load_legacy_checkpoint(raw: bytes) -> dict[str, np.ndarray]:
    """The `model_state` of a legacy torch checkpoint as float32 numpy arrays."""
    stream = io.BytesIO(raw)
    if pickle.load(stream) != _LEGACY_MAGIC:
        raise ValueError("not a legacy torch checkpoint (magic number differs)")
    pickle.load(stream)  # protocol version
    pickle.load(stream)  # system info (little-endian assumed and checked below)
    storages: dict[str, _Storage] = {}
    checkpoint = _Unpickler(stream, storages).load()
    keys = pickle.load(stream)
    for key in keys:
        (count,) = struct.unpack("<q", stream.read(8))
        storage = storages[key]
        n_bytes = count * np.dtype(storage.dtype).itemsize
        storage.data = np.frombuffer(stream.read(n_bytes), dtype="<" + np.dtype(storage.dtype).str[1:])
    return {name: t.array().astype(np.float32) for name, t in checkpoint["model_state"].items()}


def download_wheel(folder: Path) -> Path:
    subprocess.run([sys.executable, "-m", "pip", "download", "-q", WHEEL, "--no-deps", "-d", str(folder)], check=True)
    return next(folder.glob("*.whl"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--wheel", type=Path, help="a local Resemblyzer-0.1.4 wheel (default: pip download)")
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        wheel = args.wheel or download_wheel(Path(tmp))
        with zipfile.ZipFile(wheel) as zf:
            raw = zf.read(MEMBER)
    state = load_legacy_checkpoint(raw)
    keep = {k: v for k, v in state.items() if k.startswith(("lstm.", "linear."))}  # not the GE2E loss's w, b
    args.out.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(args.out, **{k: v.astype(np.float16) for k, v in sorted(keep.items())})
    print(f"{MEMBER} sha256 {hashlib.sha256(raw).hexdigest()}")
    for name, value in sorted(keep.items()):
        print(f"  {name:24s} {value.shape}")
    print(f"wrote {args.out} ({args.out.stat().st_size} bytes)")


if __name__ == "__main__":
    main()
