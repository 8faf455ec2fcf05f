"""The MXNet NDArray list file format (``mx.nd.save``, ``save_parameters``; src/ndarray/ndarray.cc:
NDArray::Save, MXNDArraySave), read and written without MXNet: GluonCV's and the Gluon model zoo's
``.params`` files."""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from zoocheck.converters.base import WeightsError

_LIST_MAGIC = 0x112
_NDARRAY_V2_MAGIC = 0xF993FAC9
_NDARRAY_V3_MAGIC = 0xF993FACA  # numpy-shape semantics (mxnet.npx.set_np); same layout
_DTYPES = {0: np.float32, 1: np.float64, 2: np.float16, 3: np.uint8, 4: np.int32, 5: np.int8, 6: np.int64}
_DTYPE_FLAGS = {np.dtype(v): k for k, v in _DTYPES.items()}


class _Reader:
    def __init__(self, data: bytes, name: str):
        self.data, self.pos, self.name = data, 0, name

    def take(self, fmt: str):
        size = struct.calcsize(fmt)
        if self.pos + size > len(self.data):
            raise WeightsError(f"{self.name}: truncated mxnet .params file")
        values = struct.unpack_from(fmt, self.data, self.pos)
        self.pos += size
        return values

    def raw(self, size: int) -> bytes:
        if self.pos + size > len(self.data):
            raise WeightsError(f"{self.name}: truncated mxnet .params file")
        out = self.data[self.pos : self.pos + size]
        self.pos += size
        return out


def read_mxnet_params(path: Path) -> dict[str, np.ndarray]:
    """The arrays of an ``mx.nd.save`` / ``save_parameters`` file, as numpy, without MXNet."""
    path = Path(path)
    try:
        data = path.read_bytes()
    except IsADirectoryError:
        raise WeightsError(f"{path}: is a directory; expected a GluonCV .params file") from None
    r = _Reader(data, path.name)
    if len(data) < 16 or r.take("<QQ")[0] != _LIST_MAGIC:
        raise WeightsError(f"{path.name}: not an MXNet .params file (no NDArray-list header); check the --weights path")
    (count,) = r.take("<Q")
    arrays = []
    for _ in range(count):
        (magic,) = r.take("<I")
        if magic not in (_NDARRAY_V2_MAGIC, _NDARRAY_V3_MAGIC):
            raise WeightsError(f"{path.name}: NDArray record format 0x{magic:x} is older than mxnet 1.0; re-save it with mxnet")
        (stype,) = r.take("<i")
        if stype != 0:
            raise WeightsError(f"{path.name}: sparse arrays are not model weights")
        (ndim,) = r.take("<i")
        shape = r.take(f"<{ndim}q") if ndim > 0 else ()
        if ndim <= 0:
            arrays.append(np.zeros((0,), np.float32))
            continue
        r.take("<ii")  # context: dev_type, dev_id
        (flag,) = r.take("<i")
        if flag not in _DTYPES:
            raise WeightsError(f"{path.name}: unknown mxnet dtype flag {flag}")
        dtype = np.dtype(_DTYPES[flag])
        count_elems = int(np.prod(shape))
        arrays.append(np.frombuffer(r.raw(count_elems * dtype.itemsize), dtype=dtype).reshape(shape).copy())
    (nkeys,) = r.take("<Q")
    keys = []
    for _ in range(nkeys):
        (length,) = r.take("<Q")
        keys.append(r.raw(length).decode("utf-8"))
    if len(keys) != len(arrays):
        raise WeightsError(f"{path.name}: {len(arrays)} arrays but {len(keys)} names (an unnamed list, not saved parameters)")
    return dict(zip(keys, arrays))


def write_mxnet_params(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Write ``arrays`` byte for byte as ``mx.nd.save`` does (V2 records, CPU context)."""
    out = [struct.pack("<QQQ", _LIST_MAGIC, 0, len(arrays))]
    for value in arrays.values():
        value = np.ascontiguousarray(value)
        if value.dtype not in _DTYPE_FLAGS:
            raise ValueError(f"dtype {value.dtype} has no mxnet type flag")
        out.append(struct.pack("<Iii", _NDARRAY_V2_MAGIC, 0, value.ndim))
        out.append(struct.pack(f"<{value.ndim}q", *value.shape))
        out.append(struct.pack("<iii", 1, 0, _DTYPE_FLAGS[value.dtype]))
        out.append(value.astype(value.dtype.newbyteorder("<"), copy=False).tobytes())
    out.append(struct.pack("<Q", len(arrays)))
    for key in arrays:
        encoded = key.encode("utf-8")
        out.append(struct.pack("<Q", len(encoded)) + encoded)
    Path(path).write_bytes(b"".join(out))


__all__ = ["read_mxnet_params", "write_mxnet_params"]
