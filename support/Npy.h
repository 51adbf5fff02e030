#pragma once
// numpy's .npy files (format versions 1.0, 2.0 and 3.0), so that the CLI and tests exchange
// tensors with numpy: np.save(f, a) on one side, read_npy(f) on the other.
// Element types: '<f2' '<f4' '<f8' '<i4' '<i8'; the big-endian '>' forms are byte-swapped on
// read. bf16 has no numpy dtype and is rejected both ways. Every malformed file is a UserError
// that names the file and the problem; a reader never trusts a size it has not checked.
#include "support/Tensor.h"

#include <string>

namespace einfuse {

/** The tensor stored in `path`. A Fortran-order file becomes a tensor with column-major strides
 * (no copy, no transpose); C order gives contiguous row-major strides. */
Tensor read_npy(const std::string &path);

/** Writes `t` to `path` in C order (version 1.0 header, 2.0 when the header needs it), gathering
 * through its strides when it is not contiguous. Throws UserError for bf16 or an I/O failure. */
void write_npy(const std::string &path, const Tensor &t);

} // namespace einfuse
