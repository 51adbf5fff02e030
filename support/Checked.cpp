#include "support/Checked.h"

#include "support/Error.h"


namespace einfuse {

namespace {
[[noreturn]] void overflow(std::string_view what, int64_t a, char op, int64_t b) {
    throw UserError(std::string(what) + " does not fit 64 bits (" + std::to_string(a) + " " + op + " " +
                    std::to_string(b) + " overflows)");
}
} // namespace

int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
    int64_t r;
    if (__builtin_mul_overflow(a, b, &r)) overflow(what, a, '*', b);
    return r;
}

int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
    int64_t r;
    if (__builtin_add_overflow(a, b, &r)) overflow(what, a, '+', b);
    return r;
}

int64_t checked_bytes(int64_t elements, int64_t elem_size, std::string_view what) {
    return checked_mul(elements, elem_size, std::string(what) + "'s byte count");
}

bool bytes_fit(const std::vector<int64_t> &sizes, int64_t elem_size) {
    for (int64_t s : sizes)
        if (s == 0) return true;
    int64_t n = elem_size;
    for (int64_t s : sizes)
        if (__builtin_mul_overflow(n, s, &n)) return false;
    return true;
}

std::string shape_product(const std::vector<int64_t> &sizes) {
    std::string text;
    for (int64_t s : sizes) text += (text.empty() ? "" : "*") + std::to_string(s);
    return text.empty() ? "1" : text;
}

int64_t checked_reach(const std::vector<int64_t> &shape, const std::vector<int64_t> &strides, int64_t elem_size) {
    if (shape.size() != strides.size())
        throw UserError("a tensor has " + std::to_string(shape.size()) + " dimensions but " +
                        std::to_string(strides.size()) + " strides");
    for (int64_t s : shape)
        if (s < 0) throw UserError("negative dimension size " + std::to_string(s));
    for (int64_t s : shape)
        if (s == 0) return 0;
    // The largest offset, in elements and then in bytes; |INT64_MIN| itself does not fit.
    int64_t last = 0;
    for (std::size_t d = 0; d < shape.size(); ++d) {
        if (strides[d] == INT64_MIN) overflow("a tensor's reach (its largest offset)", strides[d], '*', -1);
        int64_t step = strides[d] < 0 ? -strides[d] : strides[d];
        last = checked_add(last, checked_mul(shape[d] - 1, step, "a tensor's reach (its largest offset)"),
                           "a tensor's reach (its largest offset)");
    }
    int64_t reach = checked_add(last, 1, "a tensor's reach (its largest offset)");
    checked_bytes(reach, elem_size, "a tensor's reach");
    return reach;
}

} // namespace einfuse
