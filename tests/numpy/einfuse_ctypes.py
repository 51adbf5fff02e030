"""numpy arrays through einfuse's C ABI (libeinfuse, include/einfuse/einfuse.h) as DLPack
DLTensors, with ctypes: what a framework embedding einfuse does. For tests only."""
import ctypes

import numpy as np


class DLDevice(ctypes.Structure):
    _fields_ = [("device_type", ctypes.c_int), ("device_id", ctypes.c_int)]


class DLDataType(ctypes.Structure):
    _fields_ = [("code", ctypes.c_uint8), ("bits", ctypes.c_uint8), ("lanes", ctypes.c_uint16)]


class DLTensor(ctypes.Structure):
    _fields_ = [("data", ctypes.c_void_p), ("device", DLDevice), ("ndim", ctypes.c_int),
                ("dtype", DLDataType), ("shape", ctypes.POINTER(ctypes.c_int64)),
                ("strides", ctypes.POINTER(ctypes.c_int64)), ("byte_offset", ctypes.c_uint64)]


KDLCPU = 1
CODES = {"f": 2, "i": 0, "u": 1, "b": 6, "c": 5}  # kDLFloat, kDLInt, kDLUInt, kDLBool, kDLComplex


class Library:
    def __init__(self, path):
        self.lib = ctypes.CDLL(path)
        self.lib.einfuse_einsum.argtypes = [ctypes.c_char_p, ctypes.c_int, ctypes.POINTER(DLTensor),
                                            ctypes.POINTER(DLTensor)]
        self.lib.einfuse_einsum.restype = ctypes.c_int
        self.lib.einfuse_last_error.restype = ctypes.c_char_p

    def einsum(self, spec, arrays, out):
        """Status and message of einfuse_einsum(spec, arrays) into `out` (a numpy array)."""
        keep = []
        tensors = (DLTensor * max(len(arrays), 1))()
        for i, a in enumerate(arrays):
            tensors[i] = dltensor(a, keep)
        output = dltensor(out, keep)
        status = self.lib.einfuse_einsum(spec.encode(), len(arrays), tensors, ctypes.byref(output))
        return status, self.lib.einfuse_last_error().decode(errors="replace")


def dltensor(a, keep):
    """The DLTensor of a numpy array, as numpy's own DLPack export gives it: data at element 0,
    strides in elements (any sign; a size-0 dimension may have any), shape and strides kept alive
    in `keep`."""
    shape = (ctypes.c_int64 * max(a.ndim, 1))(*a.shape)
    strides = (ctypes.c_int64 * max(a.ndim, 1))(*[s // a.itemsize for s in a.strides])
    keep += [shape, strides, a]
    t = DLTensor()
    t.data = a.ctypes.data
    t.device = DLDevice(KDLCPU, 0)
    t.ndim = a.ndim
    t.dtype = DLDataType(CODES[a.dtype.kind], a.dtype.itemsize * 8, 1)
    t.shape = shape
    t.strides = strides
    t.byte_offset = 0
    return t
