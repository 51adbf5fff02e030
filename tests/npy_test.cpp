// .npy reading and writing: files numpy wrote (tests/data/npy/, made by numpy 1.24), round trips
// for every element type and layout, and every way a file can be malformed.
#include "support/Npy.h"

#include "support/Error.h"

#include <doctest/doctest.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <csignal>
#include <fcntl.h>
#include <string>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

using namespace einfuse;

namespace {

namespace fs = std::filesystem;

std::string data_file(const std::string &name) { return std::string(EINFUSE_SOURCE_DIR) + "/tests/data/npy/" + name; }

/** A scratch folder of this process, removed at exit. */
struct Scratch {
    fs::path dir = fs::temp_directory_path() / ("einfuse_npy_test_" + std::to_string(getpid()));
    Scratch() { fs::create_directories(dir); }
    ~Scratch() {
        std::error_code ec;
        fs::remove_all(dir, ec);
    }
    std::string path(const std::string &name) const { return (dir / name).string(); }
    std::string write(const std::string &name, const std::string &bytes) const {
        std::ofstream(path(name), std::ios::binary) << bytes;
        return path(name);
    }
};

const Scratch &scratch() {
    static Scratch s;
    return s;
}

/** A .npy file's bytes with the given header text (stored as is) and data. */
std::string npy_bytes(const std::string &header, const std::string &data = "", int major = 1) {
    std::string out = std::string("\x93NUMPY", 6) + static_cast<char>(major) + '\0';
    std::size_t n = header.size();
    for (int i = 0; i < (major == 1 ? 2 : 4); ++i) out += static_cast<char>((n >> (8 * i)) & 0xff);
    return out + header + data;
}

std::string dict(const std::string &descr, const std::string &shape, const std::string &fortran = "False") {
    return "{'descr': '" + descr + "', 'fortran_order': " + fortran + ", 'shape': " + shape + ", }\n";
}

/** The message read_npy throws for the file, or "(no error)"; other exception types escape. */
std::string read_error(const std::string &path) {
    try {
        read_npy(path);
    } catch (const UserError &e) {
        return e.what();
    }
    return "(no error)";
}

bool has(const std::string &text, const std::string &part) { return text.find(part) != std::string::npos; }

/** Element at a multi-index, through the strides. */
double at(const Tensor &t, const Shape &index) {
    int64_t offset = 0;
    for (std::size_t d = 0; d < index.size(); ++d) offset += index[d] * t.strides()[d];
    return t.load(offset);
}

} // namespace

TEST_CASE("npy: files written by numpy") {
    SUBCASE("f32, C order") {
        Tensor t = read_npy(data_file("f32_2x3.npy"));
        CHECK(t.dtype() == DType::F32);
        CHECK(t.shape() == Shape{2, 3});
        CHECK(t.is_contiguous());
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 3; ++j) CHECK(at(t, {i, j}) == (3 * i + j) * 0.5 - 1);
    }
    SUBCASE("f64, Fortran order: column-major strides, same values") {
        Tensor t = read_npy(data_file("f64_fortran_3x2.npy"));
        CHECK(t.dtype() == DType::F64);
        CHECK(t.shape() == Shape{3, 2});
        CHECK(t.strides() == Shape{1, 3});
        const double want[3][2] = {{1.5, -2.0}, {3.25, 4.0}, {-5.0, 6.125}};
        for (int64_t i = 0; i < 3; ++i)
            for (int64_t j = 0; j < 2; ++j) CHECK(at(t, {i, j}) == want[i][j]);
    }
    SUBCASE("f16, including the largest and the smallest subnormal") {
        Tensor t = read_npy(data_file("f16_4.npy"));
        CHECK(t.dtype() == DType::F16);
        const double want[] = {0.5, -1.0, 65504.0, 0x1p-24};
        for (int64_t i = 0; i < 4; ++i) CHECK(t.load(i) == want[i]);
    }
    SUBCASE("i32 extremes") {
        Tensor t = read_npy(data_file("i32_2x2.npy"));
        CHECK(t.dtype() == DType::I32);
        CHECK(at(t, {0, 1}) == -2);
        CHECK(at(t, {1, 0}) == 2147483647.0);
        CHECK(at(t, {1, 1}) == -2147483648.0);
    }
    SUBCASE("i64 scalar, exact beyond 2^53") {
        Tensor t = read_npy(data_file("i64_scalar.npy"));
        CHECK(t.dtype() == DType::I64);
        CHECK(t.rank() == 0);
        CHECK(t.size() == 1);
        int64_t v;
        std::memcpy(&v, t.data(), 8);
        CHECK(v == (int64_t{1} << 53) + 1);
    }
    SUBCASE("zero-size") {
        Tensor t = read_npy(data_file("f32_0x3.npy"));
        CHECK(t.shape() == Shape{0, 3});
        CHECK(t.size() == 0);
    }
    SUBCASE("big-endian f8 is byte-swapped") {
        Tensor t = read_npy(data_file("f8_bigendian_3.npy"));
        CHECK(t.dtype() == DType::F64);
        CHECK(t.load(0) == 1.0);
        CHECK(t.load(1) == -2.5);
        CHECK(t.load(2) == 1e300);
    }
    SUBCASE("format version 2.0") {
        Tensor t = read_npy(data_file("f32_v2_2x2.npy"));
        CHECK(t.shape() == Shape{2, 2});
        CHECK(at(t, {1, 0}) == 3.0);
    }
    SUBCASE("format version 3.0, Fortran order, rank 3") {
        Tensor t = read_npy(data_file("i64_v3_fortran_2x3x2.npy"));
        CHECK(t.dtype() == DType::I64);
        CHECK(t.shape() == Shape{2, 3, 2});
        CHECK(t.strides() == Shape{1, 2, 6});
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 3; ++j)
                for (int64_t k = 0; k < 2; ++k) CHECK(at(t, {i, j, k}) == 6 * i + 2 * j + k - 5);
    }
}

TEST_CASE("npy: bool and the 8-64-bit integers as numpy 1.24 wrote them ('|' for one byte)") {
    SUBCASE("|b1") {
        Tensor t = read_npy(data_file("bool_5.npy"));
        CHECK(t.dtype() == DType::Bool);
        const double want[] = {1, 0, 1, 1, 0};
        for (int64_t i = 0; i < 5; ++i) CHECK(t.load(i) == want[i]);
    }
    SUBCASE("|u1") {
        Tensor t = read_npy(data_file("u8_2x3.npy"));
        CHECK(t.dtype() == DType::U8);
        CHECK(at(t, {0, 2}) == 255);
        CHECK(at(t, {1, 0}) == 128);
    }
    SUBCASE("|i1, Fortran order") {
        Tensor t = read_npy(data_file("i8_fortran_2x2.npy"));
        CHECK(t.dtype() == DType::I8);
        CHECK(t.strides() == Shape{1, 2});
        CHECK(at(t, {0, 0}) == -128);
        CHECK(at(t, {0, 1}) == 127);
        CHECK(at(t, {1, 0}) == -1);
    }
    SUBCASE("<u8 beyond 2^63, bit for bit") {
        Tensor t = read_npy(data_file("u64_3.npy"));
        CHECK(t.dtype() == DType::U64);
        uint64_t v[3];
        std::memcpy(v, t.data(), sizeof v);
        CHECK(v[0] == ~uint64_t{0});
        CHECK(v[1] == (uint64_t{1} << 63) + 1);
        CHECK(v[2] == 3);
    }
    SUBCASE(">u2 is byte-swapped") {
        Tensor t = read_npy(data_file("u16_bigendian_3.npy"));
        CHECK(t.dtype() == DType::U16);
        CHECK(t.load(0) == 1);
        CHECK(t.load(1) == 65535);
        CHECK(t.load(2) == 256);
    }
    SUBCASE("<u4") {
        Tensor t = read_npy(data_file("u32_2.npy"));
        CHECK(t.dtype() == DType::U32);
        CHECK(t.load(0) == 4294967295.0);
    }
    SUBCASE("a bool byte other than 0 or 1 reads as true, stored as 1") {
        std::string path = scratch().write("bool_2.npy", npy_bytes(dict("|b1", "(3,)"), std::string("\x00\x02\xff", 3)));
        Tensor t = read_npy(path);
        const unsigned char *b = static_cast<const unsigned char *>(t.data());
        CHECK(b[0] == 0);
        CHECK(b[1] == 1);
        CHECK(b[2] == 1);
    }
    SUBCASE("written with numpy's descr: '|u1', '<i2'") {
        Tensor t(DType::U8, {2});
        write_npy(scratch().path("u8.npy"), t);
        std::ifstream in(scratch().path("u8.npy"), std::ios::binary);
        std::string head(128, '\0');
        in.read(head.data(), 128);
        CHECK(head.find("'descr': '|u1'") != std::string::npos);
        Tensor s(DType::I16, {2});
        write_npy(scratch().path("i16.npy"), s);
        std::ifstream in2(scratch().path("i16.npy"), std::ios::binary);
        in2.read(head.data(), 128);
        CHECK(head.find("'descr': '<i2'") != std::string::npos);
    }
}

TEST_CASE("npy: round trips of every element type, scalars and zero sizes") {
    std::mt19937_64 rng(7);
    const DType types[] = {DType::F16, DType::F32, DType::F64, DType::I32, DType::I64, DType::Bool, DType::I8,
                           DType::I16, DType::U8,  DType::U16, DType::U32, DType::U64};
    const Shape shapes[] = {{}, {1}, {5}, {3, 4}, {2, 3, 4}, {0}, {4, 0, 2}};
    for (DType type : types)
        for (const Shape &shape : shapes) {
            CAPTURE(dtype_name(type));
            CAPTURE(shape.size());
            Tensor t(type, shape);
            t.fill_random(rng);
            std::string path = scratch().path("roundtrip.npy");
            write_npy(path, t);
            CHECK(fs::file_size(path) % 64 == t.nbytes() % 64); // the header pads the data to 64 bytes
            Tensor back = read_npy(path);
            CHECK(back.dtype() == type);
            CHECK(back.shape() == shape);
            CHECK(std::memcmp(back.data(), t.data(), t.nbytes()) == 0);
        }
}

TEST_CASE("npy: i64 round trips bit-exactly") {
    Tensor t(DType::I64, {3});
    const int64_t values[] = {(int64_t{1} << 62) + 1, -(int64_t{1} << 60) - 3, 9007199254740993};
    std::memcpy(t.data(), values, sizeof values);
    write_npy(scratch().path("i64.npy"), t);
    Tensor back = read_npy(scratch().path("i64.npy"));
    CHECK(std::memcmp(back.data(), values, sizeof values) == 0);
}

TEST_CASE("npy: non-contiguous tensors are written in C order") {
    SUBCASE("Fortran-strided") {
        Tensor t(DType::F32, {3, 4}, {1, 3});
        for (int64_t i = 0; i < 12; ++i) t.store(i, i + 0.25);
        write_npy(scratch().path("fortran.npy"), t);
        Tensor back = read_npy(scratch().path("fortran.npy"));
        CHECK(back.is_contiguous());
        for (int64_t i = 0; i < 3; ++i)
            for (int64_t j = 0; j < 4; ++j) CHECK(at(back, {i, j}) == at(t, {i, j}));
    }
    SUBCASE("a broadcast (stride 0) dimension and padded rows") {
        Tensor t(DType::F64, {2, 3, 2}, {5, 0, 1});
        for (int64_t i = 0; i < t.storage_elements(); ++i) t.store(i, -1.0 - i);
        write_npy(scratch().path("broadcast.npy"), t);
        Tensor back = read_npy(scratch().path("broadcast.npy"));
        CHECK(back.shape() == Shape{2, 3, 2});
        for (int64_t i = 0; i < 2; ++i)
            for (int64_t j = 0; j < 3; ++j)
                for (int64_t k = 0; k < 2; ++k) CHECK(at(back, {i, j, k}) == at(t, {i, j, k}));
    }
    SUBCASE("a Fortran-order file read and written again") {
        Tensor t = read_npy(data_file("i64_v3_fortran_2x3x2.npy"));
        write_npy(scratch().path("again.npy"), t);
        Tensor back = read_npy(scratch().path("again.npy"));
        CHECK(back.is_contiguous());
        for (int64_t i = 0; i < 12; ++i) CHECK(back.load(i) == i - 5);
    }
}

TEST_CASE("npy: bf16 has no numpy dtype") {
    Tensor t(DType::BF16, {2});
    std::string message;
    try {
        write_npy(scratch().path("bf16.npy"), t);
    } catch (const UserError &e) {
        message = e.what();
    }
    CHECK(has(message, "bf16.npy"));
    CHECK(has(message, "bf16 has no numpy dtype"));
    CHECK(has(read_error(scratch().write("v2.npy", npy_bytes(dict("<V2", "(2,)"), "abcd"))), "bf16 has no numpy dtype"));
}

TEST_CASE("npy: every malformed file is a UserError naming the file and the problem") {
    const std::string f4_2x2 = dict("<f4", "(2, 2)");
    const std::string sixteen(16, '\x01');
    const struct {
        const char *name;
        std::string bytes;
        const char *problem;
    } rows[] = {
        {"empty", "", "magic"},
        {"bad_magic", "\x93NUMPX\x01\x00\x10\x00" + f4_2x2, "magic"},
        {"text_file", "just some text that is long enough\n", "magic"},
        {"no_version", std::string("\x93NUMPY\x01", 7), "ends inside the format version"},
        {"version_4", npy_bytes(f4_2x2, sixteen, 4), "format version 4.0"},
        {"version_1_1", npy_bytes(f4_2x2, sixteen).replace(7, 1, "\x01"), "format version 1.1"},
        {"no_length", std::string("\x93NUMPY\x01\x00\x10", 9), "ends inside the header length"},
        {"no_length_v2", std::string("\x93NUMPY\x02\x00\x10\x00", 10), "ends inside the header length"},
        {"truncated_header", npy_bytes(f4_2x2).substr(0, 30), "truncated header"},
        {"huge_header_v2", std::string("\x93NUMPY\x02\x00\xff\xff\xff\xff", 12) + f4_2x2, "truncated header"},
        {"header_over_limit", npy_bytes(std::string(2 << 20, ' '), "", 2), "accepts at most"},
        {"not_a_dict", npy_bytes("['descr', '<f4']\n", sixteen), "does not parse"},
        {"unclosed_dict", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), ", sixteen), "does not parse"},
        {"unclosed_string", npy_bytes("{'descr: '<f4'}", sixteen), "does not parse"},
        {"no_colon", npy_bytes("{'descr' '<f4'}", sixteen), "expected ':'"},
        {"bad_bool", npy_bytes(dict("<f4", "(2, 2)", "false"), sixteen), "True or False"},
        {"shape_not_tuple", npy_bytes(dict("<f4", "[2, 2]"), sixteen), "shape tuple"},
        {"shape_one_no_comma", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (4)}", sixteen), "trailing comma"},
        {"shape_negative", npy_bytes(dict("<f4", "(-2, 2)"), sixteen), "non-negative"},
        {"shape_float", npy_bytes(dict("<f4", "(2.0, 2)"), sixteen), "does not parse"},
        {"shape_too_long", npy_bytes(dict("<f4", "(99999999999999999999,)"), sixteen), "64 bits"},
        {"shape_overflow", npy_bytes(dict("<f4", "(4294967296, 4294967296, 4)"), sixteen), "more than 2^63 elements"},
        {"shape_bytes_overflow", npy_bytes(dict("<f8", "(4611686018427387904,)"), sixteen), "more than 2^63 bytes"},
        {"shape_huge", npy_bytes(dict("<f4", "(1099511627776, 1048576)"), sixteen), "data is truncated"},
        {"rank_65", npy_bytes(dict("<f4", "(" + [] {
                                                  std::string s;
                                                  for (int i = 0; i < 65; ++i) s += "1, ";
                                                  return s;
                                              }() + ")"),
                              sixteen),
         "more than 64 dimensions"},
        {"junk_after", npy_bytes(f4_2x2 + "x", sixteen), "nothing after '}'"},
        {"missing_shape", npy_bytes("{'descr': '<f4', 'fortran_order': False}", sixteen), "no 'shape'"},
        {"missing_descr", npy_bytes("{'fortran_order': False, 'shape': (2, 2)}", sixteen), "no 'descr'"},
        {"missing_fortran", npy_bytes("{'descr': '<f4', 'shape': (2, 2)}", sixteen), "no 'fortran_order'"},
        {"duplicate_key", npy_bytes("{'descr': '<f4', 'descr': '<f8', 'fortran_order': False, 'shape': (2, 2)}", sixteen), "twice"},
        {"extra_key", npy_bytes("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 2), 'x': 'y'}", sixteen), "unexpected key 'x'"},
        {"escape", npy_bytes("{'descr': '<f\\x34', 'fortran_order': False, 'shape': (2, 2)}", sixteen), "without escapes"},
        {"structured", npy_bytes("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,)}", sixteen), "structured"},
        {"descr_u2_no_order", npy_bytes(dict("|u2", "(2, 2)"), sixteen), "unsupported element type '|u2'"},
        {"descr_f4_no_order", npy_bytes(dict("f4", "(2, 2)"), sixteen), "unsupported element type"},
        {"descr_c32", npy_bytes(dict("<c32", "(2, 2)"), sixteen), "unsupported element type '<c32'"},
        {"descr_object", npy_bytes(dict("|O", "(2, 2)"), sixteen), "unsupported element type"},
        {"data_short", npy_bytes(f4_2x2, sixteen.substr(0, 15)), "data is truncated"},
        {"data_missing", npy_bytes(dict("<f8", "(3,)")), "data is truncated"},
        {"binary_header", npy_bytes(std::string("{\x00\xff}", 4), sixteen), "\\x00"},
    };
    for (const auto &row : rows) {
        CAPTURE(row.name);
        std::string path = scratch().write(std::string(row.name) + ".npy", row.bytes);
        std::string message = read_error(path);
        CAPTURE(message);
        CHECK(has(message, path));
        CHECK(has(message, row.problem));
    }
    SUBCASE("a file that does not exist, a directory") {
        CHECK(has(read_error(scratch().path("absent.npy")), "No such file"));
        CHECK(has(read_error(scratch().dir.string()), "directory"));
    }
    SUBCASE("the well-formed control case reads") {
        CHECK(read_error(scratch().write("control.npy", npy_bytes(f4_2x2, sixteen))) == "(no error)");
        CHECK(read_error(scratch().write("control_v2.npy", npy_bytes(f4_2x2, sixteen, 2))) == "(no error)");
        CHECK(read_error(scratch().write("control_py2.npy", npy_bytes(dict("<f4", "(2L, 2L)"), sixteen))) == "(no error)");
        CHECK(read_error(scratch().write("trailing_data.npy", npy_bytes(f4_2x2, sixteen + "xx"))) == "(no error)");
    }
}

TEST_CASE("npy: writing to an unwritable place is a UserError naming it") {
    std::string path = scratch().path("no/such/folder/out.npy");
    std::string message;
    try {
        write_npy(path, Tensor(DType::F32, {2}));
    } catch (const UserError &e) {
        message = e.what();
    }
    CHECK(has(message, path));
}

TEST_CASE("npy: hostile shapes and headers (issue 14) are UserErrors, never a crash or a huge allocation") {
    const std::string sixteen(16, '\x01');
    const struct {
        const char *name;
        std::string bytes;
        const char *problem;
    } rows[] = {
        // A zero makes the tensor empty, but the strides of the others would overflow int64.
        {"zero_then_huge", npy_bytes(dict("<f4", "(0, 4611686018427387904, 4611686018427387904)")), "more than 2^63 elements"},
        {"huge_then_zero_fortran", npy_bytes(dict("<f8", "(4611686018427387904, 4, 0)", "True")), "more than 2^63"},
        {"nested_tuple", npy_bytes(dict("<f4", "((2, 2),)"), sixteen), "expected an integer"},
        {"long_header", npy_bytes(dict("<f4", "(2, 2)") + std::string(60000, ' ') + "x", sixteen, 2), "nothing after '}'"},
        {"unknown_descr", npy_bytes(dict("<f16", "(2,)"), sixteen), "unsupported element type '<f16'"},
        {"fortran_truncated", npy_bytes(dict("<f4", "(3, 3)", "True"), sixteen), "data is truncated"},
    };
    for (const auto &row : rows) {
        CAPTURE(row.name);
        std::string path = scratch().write(std::string(row.name) + ".npy", row.bytes);
        std::string message = read_error(path);
        CAPTURE(message);
        CHECK(has(message, row.problem));
    }
}

namespace {

/** read_npy of `bytes` arriving through a FIFO (no size known in advance), in a child process;
 * returns how far the read raised its peak resident memory, in MiB, or -1 if the read did not end in a UserError that
 * says the data is truncated. */
long fifo_read_peak_mib(const std::string &bytes) {
    std::string fifo = scratch().path("stream_" + std::to_string(bytes.size()) + ".npy");
    ::unlink(fifo.c_str());
    REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
    pid_t child = ::fork();
    if (child == 0) {
        // The peak's growth during the read: the process's own footprint (large under
        // AddressSanitizer, whose shadow memory counts) is not the reader's.
        struct rusage before {}, after {};
        ::getrusage(RUSAGE_SELF, &before);
        bool truncated = has(read_error(fifo), "data is truncated");
        ::getrusage(RUSAGE_SELF, &after);
        long grown_mib = (after.ru_maxrss - before.ru_maxrss) / 1024;
        ::_exit(truncated ? static_cast<int>(std::min<long>(grown_mib, 250)) : 255);
    }
    int out = ::open(fifo.c_str(), O_WRONLY);
    CHECK(::write(out, bytes.data(), bytes.size()) == static_cast<ssize_t>(bytes.size()));
    ::close(out);
    int status = 0;
    ::waitpid(child, &status, 0);
    REQUIRE(WIFEXITED(status));
    return WEXITSTATUS(status) == 255 ? -1 : WEXITSTATUS(status);
}

} // namespace

TEST_CASE("npy: a FIFO's claimed size does not drive the allocation") {
    // (2^30,) floats claimed, 16 bytes sent: 4 GiB before the fix, a few MiB now.
    long peak = fifo_read_peak_mib(npy_bytes(dict("<f4", "(1073741824,)"), std::string(16, '\x01')));
    CHECK(peak >= 0);
    CHECK(peak < 200);
    SUBCASE("a whole file through a FIFO reads as from disk") {
        std::string fifo = scratch().path("whole_fifo.npy");
        ::unlink(fifo.c_str());
        REQUIRE(::mkfifo(fifo.c_str(), 0600) == 0);
        std::string bytes = npy_bytes(dict("<f8", "(3,)", "True"), std::string("\0\0\0\0\0\0\xf0\x3f", 8) + std::string(16, '\0'));
        std::thread writer([&] { std::ofstream(fifo, std::ios::binary) << bytes; });
        Tensor t = read_npy(fifo);
        writer.join();
        CHECK(t.shape() == Shape{3});
        CHECK(t.load(0) == 1.0);
        CHECK(t.load(2) == 0.0);
    }
}

TEST_CASE("npy: writing is atomic (issue 14, item 5)") {
    Tensor small(DType::F32, {4});
    for (int64_t i = 0; i < 4; ++i) small.store(i, i + 0.5);
    const std::string target = scratch().path("atomic.npy");
    write_npy(target, small);
    const std::string before = [&] {
        std::ifstream f(target, std::ios::binary);
        return std::string(std::istreambuf_iterator<char>(f), {});
    }();
    auto leftovers = [] {
        int n = 0;
        for (const auto &e : fs::directory_iterator(scratch().dir)) n += e.path().filename().string().find(".tmp-") != std::string::npos;
        return n;
    };
    SUBCASE("a write that fails half way (a file size limit: EFBIG, as a full disk's ENOSPC) keeps the old file") {
        pid_t child = ::fork();
        if (child == 0) {
            ::signal(SIGXFSZ, SIG_IGN);
            struct rlimit limit {};
            ::getrlimit(RLIMIT_FSIZE, &limit);
            limit.rlim_cur = 4096;
            ::setrlimit(RLIMIT_FSIZE, &limit);
            Tensor big(DType::F64, {100000});
            std::string message;
            try {
                write_npy(target, big);
            } catch (const UserError &e) {
                message = e.what();
            }
            ::_exit(has(message, target) && has(message, "too large") ? 0 : 1);
        }
        int status = 0;
        ::waitpid(child, &status, 0);
        CHECK((WIFEXITED(status) && WEXITSTATUS(status) == 0));
        Tensor back = read_npy(target);
        CHECK(back.shape() == Shape{4});
        CHECK(back.load(3) == 3.5);
        CHECK(leftovers() == 0);
    }
    SUBCASE("/dev/full is a UserError; /dev/null is written, not replaced") {
        std::string message;
        try {
            write_npy("/dev/full", small);
        } catch (const UserError &e) {
            message = e.what();
        }
        CHECK(has(message, "No space left"));
        write_npy("/dev/null", small);
        struct stat st {};
        REQUIRE(::stat("/dev/null", &st) == 0);
        CHECK(S_ISCHR(st.st_mode));
    }
    SUBCASE("a symlink planted at the target is replaced, not written through") {
        const std::string victim = scratch().path("victim.txt");
        std::ofstream(victim) << "keep me";
        const std::string link = scratch().path("link.npy");
        ::unlink(link.c_str());
        fs::create_symlink(victim, link);
        write_npy(link, small);
        std::ifstream f(victim);
        CHECK(std::string(std::istreambuf_iterator<char>(f), {}) == "keep me");
        CHECK(read_npy(link).shape() == Shape{4});
    }
    SUBCASE("the old file's permissions are kept") {
        ::chmod(target.c_str(), 0640);
        write_npy(target, small);
        CHECK((fs::status(target).permissions() & fs::perms::all) ==
              (fs::perms::owner_read | fs::perms::owner_write | fs::perms::group_read));
    }
    CHECK(before.size() > 0);
}
