// The .npy format (numpy/lib/format.py): the magic "\x93NUMPY", a major and a minor version byte,
// the header's length (2 bytes little-endian in 1.0, 4 bytes in 2.0 and 3.0), the header -- a
// Python dict literal such as
//     {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }
// padded with spaces and a '\n' so that the data starts at a multiple of 64 -- then the raw data.
// Every number the file states (header length, shape) is checked against the file's real size
// before anything is allocated or read: a 40-byte file that claims (2^40, 2^40) floats is an
// error message, not an allocation.
#include "support/Npy.h"

#include "support/AtomicFile.h"
#include "support/Error.h"

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <limits>
#include <optional>
#include <sys/stat.h>
#include <unistd.h>
#include <vector>

namespace einfuse {

namespace {

/** The element types a .npy file may hold (bf16 has no numpy type). */
constexpr DType kNpyTypes[] = {DType::F16, DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool, DType::I8,
                               DType::I16, DType::U8,  DType::U16, DType::U32, DType::U64, DType::C64, DType::C128};

constexpr char kMagic[6] = {'\x93', 'N', 'U', 'M', 'P', 'Y'};
// numpy itself refuses headers over 10,000 bytes unless told otherwise; a 64-dimensional shape
// fits in ~1.3 kB, so anything near this limit is a corrupt or hostile file.
constexpr uint32_t kMaxHeaderBytes = 1 << 20;
constexpr std::size_t kMaxRank = 64; // numpy's own limit (NPY_MAXDIMS in numpy 2)

[[noreturn]] void fail(const std::string &path, const std::string &problem) {
    throw UserError("cannot read '" + path + "': " + problem);
}

bool host_is_little_endian() {
    const uint16_t one = 1;
    unsigned char first;
    std::memcpy(&first, &one, 1);
    return first == 1;
}

/** The header's text for a message: printable ASCII as is, other bytes as \xNN, cut at 80. */
std::string quote(std::string_view text) {
    std::string out;
    for (unsigned char c : text.substr(0, 80)) {
        if (c >= 0x20 && c < 0x7f) {
            out += static_cast<char>(c);
        } else {
            char hex[8];
            std::snprintf(hex, sizeof hex, "\\x%02x", c);
            out += hex;
        }
    }
    return "\"" + out + (text.size() > 80 ? "...\"" : "\"");
}

struct Header {
    DType dtype = DType::F32;
    bool swap_bytes = false; // the file's byte order is not the host's
    bool fortran_order = false;
    Shape shape;
};

/** Reads the dict literal numpy writes; only what numpy writes is accepted.
 *   header ::= '{' ( entry ( ',' entry )* ','? )? '}' space*
 *   entry  ::= string ':' ( string | 'True' | 'False' | tuple )
 *   tuple  ::= '(' ')' | '(' int ',' ( int ( ',' int )* ','? )? ')'
 *   int    ::= digit+ 'L'?           (Python 2's numpy wrote 3L)
 *   string ::= "'" char* "'" | '"' char* '"'   (no escapes: numpy's descr never needs them) */
class HeaderParser {
public:
    HeaderParser(std::string_view text, const std::string &path) : text_(text), path_(path) {}

    Header parse() {
        std::optional<std::string> descr;
        std::optional<bool> fortran;
        std::optional<Shape> shape;
        expect('{', "'{'");
        while (!eat('}')) {
            std::string key = string_literal();
            expect(':', "':'");
            if (key == "descr") {
                if (descr) duplicate(key);
                if (peek() == '[') fail(path_, "structured (record) dtypes are not supported");
                descr = string_literal();
            } else if (key == "fortran_order") {
                if (fortran) duplicate(key);
                fortran = bool_literal();
            } else if (key == "shape") {
                if (shape) duplicate(key);
                shape = tuple();
            } else {
                fail(path_, "unexpected key '" + key + "' in the header (numpy writes descr, fortran_order and shape)");
            }
            if (!eat(',')) {
                expect('}', "',' or '}'");
                break;
            }
        }
        skip_space();
        if (pos_ != text_.size()) error("nothing after '}'");
        if (!descr) missing("descr");
        if (!fortran) missing("fortran_order");
        if (!shape) missing("shape");

        Header h = element_type(*descr);
        h.fortran_order = *fortran;
        h.shape = std::move(*shape);
        return h;
    }

private:
    Header element_type(const std::string &descr) const {
        // '<' '>' '=' name a byte order, '|' none (one-byte types: numpy writes '|u1', '|b1').
        if (descr.size() >= 3 && (descr[0] == '<' || descr[0] == '>' || descr[0] == '=' || descr[0] == '|'))
            for (DType t : kNpyTypes)
                if (descr.compare(1, std::string::npos, dtype_npy_code(t)) == 0 && (descr[0] != '|' || dtype_size(t) == 1)) {
                    bool little = descr[0] == '<' || (descr[0] != '>' && host_is_little_endian());
                    return Header{t, little != host_is_little_endian(), false, {}};
                }
        std::string hint = descr.size() >= 2 && descr.compare(descr.size() - 2, 2, "V2") == 0
                               ? " (bf16 has no numpy dtype: save it as float32)"
                               : "";
        fail(path_, "unsupported element type '" + descr +
                        "'; einfuse reads <f2 <f4 <f8 |b1 |i1 <i2 <i4 <i8 |u1 <u2 <u4 <u8 <c8 <c16 (and '>' big-endian)" + hint);
    }

    Shape tuple() {
        expect('(', "a shape tuple '('");
        Shape shape;
        bool trailing_comma = false;
        while (!eat(')')) {
            if (shape.size() == kMaxRank) fail(path_, "the shape has more than " + std::to_string(kMaxRank) + " dimensions");
            shape.push_back(integer());
            trailing_comma = eat(',');
            if (!trailing_comma) {
                expect(')', "',' or ')'");
                break;
            }
        }
        if (shape.size() == 1 && !trailing_comma) error("a one-element shape tuple needs a trailing comma, as in (3,)");
        return shape;
    }

    int64_t integer() {
        skip_space();
        std::size_t start = pos_;
        int64_t v = 0;
        while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
            int digit = text_[pos_++] - '0';
            if (v > (std::numeric_limits<int64_t>::max() - digit) / 10)
                fail(path_, "a dimension of the shape does not fit in 64 bits");
            v = v * 10 + digit;
        }
        if (pos_ == start) error(pos_ < text_.size() && text_[pos_] == '-' ? "a non-negative dimension" : "an integer");
        if (pos_ < text_.size() && text_[pos_] == 'L') ++pos_;
        return v;
    }

    bool bool_literal() {
        skip_space();
        for (const char *word : {"True", "False"}) {
            std::size_t n = std::strlen(word);
            if (text_.compare(pos_, n, word) == 0) {
                pos_ += n;
                return word[0] == 'T';
            }
        }
        error("True or False");
    }

    std::string string_literal() {
        skip_space();
        char q = peek();
        if (q != '\'' && q != '"') error("a quoted string");
        std::size_t end = text_.find(q, pos_ + 1);
        if (end == std::string_view::npos) error("the closing quote");
        std::string s(text_.substr(pos_ + 1, end - pos_ - 1));
        if (s.find('\\') != std::string::npos) error("a string without escapes");
        pos_ = end + 1;
        return s;
    }

    void skip_space() {
        while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' || text_[pos_] == '\n' || text_[pos_] == '\r'))
            ++pos_;
    }
    char peek() {
        skip_space();
        return pos_ < text_.size() ? text_[pos_] : '\0';
    }
    bool eat(char c) {
        if (peek() != c) return false;
        ++pos_;
        return true;
    }
    void expect(char c, const char *what) {
        if (!eat(c)) error(what);
    }
    [[noreturn]] void error(const std::string &expected) {
        fail(path_, "the header does not parse: expected " + expected + " at byte " + std::to_string(pos_) +
                        " of " + quote(text_));
    }
    [[noreturn]] void duplicate(const std::string &key) { fail(path_, "the header gives '" + key + "' twice"); }
    [[noreturn]] void missing(const std::string &key) { fail(path_, "the header has no '" + key + "'"); }

    std::string_view text_;
    const std::string &path_;
    std::size_t pos_ = 0;
};

std::string shape_text(const Shape &shape) {
    std::string s = "(";
    for (std::size_t d = 0; d < shape.size(); ++d) s += (d ? ", " : "") + std::to_string(shape[d]);
    return s + (shape.size() == 1 ? ",)" : ")");
}

/** An open file, closed on every path out (a throw included). */
struct Fd {
    int fd = -1;
    ~Fd() {
        if (fd >= 0) ::close(fd);
    }
};

/** Reads up to n bytes (fewer only at the end of the file); returns how many. */
std::size_t read_some(int fd, const std::string &path, char *to, std::size_t n) {
    std::size_t got = 0;
    while (got < n) {
        ssize_t r = ::read(fd, to + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) fail(path, std::strerror(errno));
        if (r == 0) break;
        got += static_cast<std::size_t>(r);
    }
    return got;
}

/** The data of a file whose size is unknown (a pipe, a FIFO, a device): read a chunk at a time,
 * so memory follows what really arrives, not what the header claims. A FIFO that claims (2^30,)
 * floats and sends 16 bytes costs a few MiB, not 4 GiB. Returns how many bytes came. */
std::size_t read_streamed(int fd, const std::string &path, std::vector<char> &into, uint64_t want) {
    constexpr uint64_t kChunk = uint64_t{1} << 20;
    into.clear();
    while (into.size() < want) {
        const std::size_t before = into.size();
        const std::size_t grow = static_cast<std::size_t>(std::min<uint64_t>(want - before, std::max<uint64_t>(kChunk, before)));
        into.resize(before + grow);
        std::size_t got = read_some(fd, path, into.data() + before, grow);
        into.resize(before + got);
        if (got < grow) break;
    }
    return into.size();
}

void swap_elements(std::byte *data, int64_t count, std::size_t width) {
    for (int64_t i = 0; i < count; ++i) std::reverse(data + i * width, data + (i + 1) * width);
}

} // namespace

Tensor read_npy(const std::string &path) {
    Fd in;
    in.fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (in.fd < 0) fail(path, std::strerror(errno));
    struct stat st {};
    if (::fstat(in.fd, &st) != 0) fail(path, std::strerror(errno));
    if (S_ISDIR(st.st_mode)) fail(path, "it is a directory");
    // A regular file's size bounds every length the file states; a pipe's is unknown, and then a
    // short read is what catches a lie (read_streamed).
    std::optional<uint64_t> file_size;
    if (S_ISREG(st.st_mode)) file_size = static_cast<uint64_t>(st.st_size);

    char prelude[12];
    std::size_t got = read_some(in.fd, path, prelude, 8);
    if (got < sizeof kMagic || std::memcmp(prelude, kMagic, sizeof kMagic) != 0)
        fail(path, "not a .npy file (it does not start with the magic string \\x93NUMPY)");
    if (got < 8) fail(path, "the file ends inside the format version");
    int major = static_cast<unsigned char>(prelude[6]), minor = static_cast<unsigned char>(prelude[7]);
    if (major < 1 || major > 3 || minor != 0)
        fail(path, "unsupported .npy format version " + std::to_string(major) + "." + std::to_string(minor) +
                       " (einfuse reads 1.0, 2.0 and 3.0)");
    std::size_t length_bytes = major == 1 ? 2 : 4;
    if (read_some(in.fd, path, prelude + 8, length_bytes) != length_bytes)
        fail(path, "the file ends inside the header length");
    uint32_t header_bytes = 0;
    for (std::size_t i = 0; i < length_bytes; ++i)
        header_bytes |= static_cast<uint32_t>(static_cast<unsigned char>(prelude[8 + i])) << (8 * i);
    const uint64_t data_offset = 8 + length_bytes + header_bytes;
    if (file_size && *file_size < data_offset)
        fail(path, "truncated header: it claims " + std::to_string(header_bytes) + " bytes but the file ends after " +
                       std::to_string(*file_size - 8 - length_bytes));
    if (header_bytes > kMaxHeaderBytes)
        fail(path, "the header claims " + std::to_string(header_bytes) + " bytes; einfuse accepts at most " +
                       std::to_string(kMaxHeaderBytes));
    std::string text(header_bytes, '\0');
    if (std::size_t n = read_some(in.fd, path, text.data(), header_bytes); n != header_bytes)
        fail(path, "truncated header: it claims " + std::to_string(header_bytes) + " bytes but the file ends after " +
                       std::to_string(n));

    Header h = HeaderParser(text, path).parse();
    const std::size_t width = dtype_size(h.dtype);
    // Every dimension counts, a zero one as 1: the strides (the product of the dimensions after
    // each) must fit in 64 bits even when a zero makes the tensor empty, as in (0, 2^62, 2^62).
    int64_t count = 1, reach = 1;
    for (int64_t s : h.shape) {
        if (reach > std::numeric_limits<int64_t>::max() / std::max<int64_t>(s, 1))
            fail(path, "the shape " + shape_text(h.shape) + " has more than 2^63 elements");
        reach *= std::max<int64_t>(s, 1);
        count *= s;
    }
    if (reach > std::numeric_limits<int64_t>::max() / static_cast<int64_t>(width))
        fail(path, "the shape " + shape_text(h.shape) + " needs more than 2^63 bytes");
    const uint64_t data_bytes = static_cast<uint64_t>(count) * width;
    auto short_data = [&](uint64_t have) {
        fail(path, "the data is truncated: shape " + shape_text(h.shape) + " of " + std::string(dtype_name(h.dtype)) +
                       " needs " + std::to_string(data_bytes) + " bytes, the file has " + std::to_string(have));
    };
    if (file_size && *file_size - data_offset < data_bytes) short_data(*file_size - data_offset);
    std::vector<char> streamed; // the data of a pipe, read before the tensor is allocated
    if (!file_size && read_streamed(in.fd, path, streamed, data_bytes) != data_bytes) short_data(streamed.size());

    Shape strides = contiguous_strides(h.shape);
    if (h.fortran_order) { // column-major: the first index moves fastest
        int64_t stride = 1;
        for (std::size_t d = 0; d < h.shape.size(); ++d) {
            strides[d] = stride;
            stride *= std::max<int64_t>(h.shape[d], 1);
        }
    }
    Tensor t;
    try {
        t = Tensor(h.dtype, h.shape, strides);
    } catch (const UserError &e) { // cannot allocate: say which file asked for it
        fail(path, e.what());
    }
    EINFUSE_ASSERT(static_cast<uint64_t>(t.storage_elements()) * width == data_bytes, "a dense layout");
    if (file_size) {
        if (std::size_t n = read_some(in.fd, path, static_cast<char *>(t.data()), data_bytes); n != data_bytes)
            short_data(n);
    } else if (data_bytes > 0) {
        std::memcpy(t.data(), streamed.data(), data_bytes);
    }
    // A complex element is two numbers, each in the file's byte order.
    if (h.swap_bytes && width > 1)
        swap_elements(static_cast<std::byte *>(t.data()), is_complex(h.dtype) ? 2 * count : count,
                      is_complex(h.dtype) ? width / 2 : width);
    if (h.dtype == DType::Bool) // numpy writes 0 and 1; any other byte is true, and kernels assume 0 or 1
        for (int64_t i = 0; i < count; ++i) {
            auto *b = static_cast<unsigned char *>(t.data()) + i;
            *b = *b != 0;
        }
    return t;
}

void write_npy(const std::string &path, const Tensor &t) {
    std::string_view code = dtype_npy_code(t.dtype());
    if (code.empty())
        throw UserError("cannot write '" + path + "': bf16 has no numpy dtype (convert the tensor to f32 first)");
    char order = dtype_size(t.dtype()) == 1 ? '|' : host_is_little_endian() ? '<' : '>';
    std::string dict = std::string("{'descr': '") + order + std::string(code) +
                       "', 'fortran_order': False, 'shape': " + shape_text(t.shape()) + ", }";
    // Pad with spaces so that magic + version + length + header + '\n' is a multiple of 64.
    bool v2 = 10 + dict.size() + 1 > 65535;
    std::size_t prelude = v2 ? 12 : 10;
    std::size_t total = (prelude + dict.size() + 1 + 63) / 64 * 64;
    dict.append(total - prelude - dict.size() - 1, ' ');
    dict += '\n';

    std::string head(kMagic, sizeof kMagic);
    head += static_cast<char>(v2 ? 2 : 1);
    head += '\0';
    for (std::size_t i = 0; i < prelude - 8; ++i) head += static_cast<char>((dict.size() >> (8 * i)) & 0xff);
    head += dict;

    // Never in place: a failed write (a full disk, a kill) must leave the old file whole, and it
    // may be this very run's input.
    AtomicFile out(path);
    out.write(head);

    const std::size_t width = dtype_size(t.dtype());
    const auto *base = static_cast<const char *>(t.data());
    const int64_t count = t.size();
    if (t.is_contiguous() || count <= 1) {
        out.write(std::string_view(base, static_cast<std::size_t>(count) * width));
    } else {
        // Gather in C order through the strides, element by element as raw bytes (exact for
        // i64, which a trip through double would round), a chunk at a time.
        std::vector<char> chunk;
        chunk.reserve(1 << 20);
        Shape index(t.shape().size(), 0);
        int64_t offset = 0;
        for (int64_t i = 0; i < count; ++i) {
            chunk.insert(chunk.end(), base + offset * static_cast<int64_t>(width),
                         base + (offset + 1) * static_cast<int64_t>(width));
            if (chunk.size() + width > chunk.capacity() || i + 1 == count) {
                out.write(std::string_view(chunk.data(), chunk.size()));
                chunk.clear();
            }
            for (int d = t.rank() - 1; d >= 0; --d) { // odometer step, last index fastest
                offset += t.strides()[d];
                if (++index[d] < t.shape()[d]) break;
                offset -= index[d] * t.strides()[d];
                index[d] = 0;
            }
        }
    }
    out.commit();
}

} // namespace einfuse
