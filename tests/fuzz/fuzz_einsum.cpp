// libFuzzer target for the einsum frontend: parse -> resolve '...' -> IR program -> bind sizes.
// Bytes up to the first NUL are the subscripts; the bytes after it choose each operand's rank
// (for '...') and small sizes (0..3; 2 where the bytes run out), whether its shape is given or left to --dims-style sizes,
// and those sizes. A UserError is the right answer to bad input; any other exception (an
// InternalError from a broken invariant, std::out_of_range from a stray .at()) aborts, and so
// does every sanitizer finding. Built and run by scripts/fuzz.sh, not by CMake.
#include "frontend/Einsum.h"
#include "frontend/Program.h"
#include "passes/Pipeline.h"
#include "ir/Printer.h"
#include "support/Error.h"

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <exception>
#include <string>

namespace {

/** The bytes after the subscripts, read one at a time; zeros once they run out. */
struct Bytes {
    const uint8_t *data;
    std::size_t size;
    std::size_t pos = 0;
    uint8_t next() { return pos < size ? data[pos++] : 0; }
};

/** An index-notation program: parse, check, lower to IR, then through the passes (fusion,
 * contraction order, loop nests), binding small sizes from the bytes. */
void fuzz_program(std::string_view source, Bytes &bytes) {
    using namespace einfuse;
    frontend::ProgramAst ast = frontend::parse_program(source);
    std::map<std::string, DType> dtypes;
    std::map<std::string, Shape> shapes;
    const DType kinds[] = {DType::F32, DType::F64, DType::F16, DType::I32};
    for (const auto &[name, rank] : frontend::program_inputs(ast)) {
        dtypes[name] = kinds[bytes.next() % 4];
        if (bytes.next() & 0x80) continue;
        Shape shape;
        for (int d = 0; d < rank; ++d) shape.push_back((bytes.next() + 2) % 4);
        shapes[name] = shape;
    }
    ir::Program program = frontend::program_ir(ast, dtypes);
    (void)ir::to_string(program);
    ir::Extents extents = frontend::bind_program_extents(ast, shapes, {});
    (void)passes::lower(program, extents);
}

void fuzz_one(std::string_view subscripts, Bytes &bytes) {
    using namespace einfuse;
    if (frontend::is_program(subscripts)) return fuzz_program(subscripts, bytes);
    frontend::EinsumAst ast = frontend::parse_einsum(subscripts);
    std::size_t n = ast.operands.size();
    if (n > 16) return; // wide enough; keeps each input fast

    // Ranks: the label count, plus 0..3 broadcast dimensions where the operand has '...'.
    std::vector<int> ranks = frontend::label_ranks(ast);
    for (std::size_t i = 0; i < n; ++i)
        if (ranks[i] < 0) ranks[i] = static_cast<int>(ast.operands[i].labels.size()) + bytes.next() % 4;
    frontend::ResolvedEinsum resolved = frontend::resolve_einsum(ast, ranks);
    ir::Program program = frontend::einsum_program(resolved, std::vector<DType>(n, DType::F32));
    (void)ir::to_string(program);

    std::vector<std::optional<Shape>> shapes(n);
    for (std::size_t i = 0; i < n; ++i) {
        uint8_t control = bytes.next();
        if (control & 0x80) continue; // no shape: its sizes must come from the dims
        // Mostly the rank the subscripts want; sometimes one off, to exercise the rank checks.
        int rank = ranks[i] + (control % 16 == 15 ? 1 : control % 16 == 14 ? -1 : 0);
        Shape shape;
        for (int d = 0; d < rank; ++d) shape.push_back((bytes.next() + 2) % 4); // a zero byte: size 2
        shapes[i] = shape;
    }
    ir::Extents dims;
    for (uint8_t count = bytes.next() % 4; count > 0; --count) {
        char label = static_cast<char>('a' + bytes.next() % 26);
        dims[std::string(1, label)] = bytes.next() % 4;
    }
    ir::Extents extents = frontend::bind_einsum_extents(resolved, shapes, dims);
    for (int i = -1; i < static_cast<int>(n); ++i) (void)frontend::einsum_operand_shape(resolved, i, extents);
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, std::size_t size) {
    const void *nul = std::memchr(data, 0, size);
    std::size_t text = nul ? static_cast<std::size_t>(static_cast<const uint8_t *>(nul) - data) : size;
    Bytes rest{data + text, size - text};
    if (nul) rest.next(); // the NUL itself
    try {
        fuzz_one(std::string_view(reinterpret_cast<const char *>(data), text), rest);
    } catch (const einfuse::UserError &) {
        // bad subscripts or shapes: the expected answer
    } catch (const std::exception &e) {
        std::fprintf(stderr, "fuzz_einsum: not a UserError: %s\n", e.what());
        std::abort();
    } catch (...) {
        std::fprintf(stderr, "fuzz_einsum: an exception of unknown type\n");
        std::abort();
    }
    return 0;
}
