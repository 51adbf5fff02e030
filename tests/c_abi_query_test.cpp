// The C ABI's calls for language bindings (python/einfuse): options, what an expression reads, a
// kernel's tensors and plan, output shapes before running, and the one-shot call on a stream.
#include "einfuse/einfuse.h"

#include "CAbiTensors.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>

using einfuse::test::host_f32;

namespace {

bool contains(const char *text, const std::string &part) {
    return text && std::string(text).find(part) != std::string::npos;
}

bool same_dtype(DLDataType a, DLDataType b) { return a.code == b.code && a.bits == b.bits && a.lanes == b.lanes; }

} // namespace

TEST_CASE("C ABI inspect: an einsum's operands and a program's inputs, from the text alone") {
    int is_program = -1, count = -1, ranks[4] = {};
    const char *names[4] = {};
    REQUIRE(einfuse_inspect("bij,bjk->bik", &is_program, &count, 4, names, ranks) == EINFUSE_OK);
    CHECK(is_program == 0);
    CHECK(count == 2);
    CHECK(std::string(names[1]) == "1");
    CHECK(ranks[0] == 3);
    REQUIRE(einfuse_inspect("...ij->...ji", &is_program, &count, 4, names, ranks) == EINFUSE_OK);
    CHECK(ranks[0] == -1);

    REQUIRE(einfuse_inspect("D[i] = relu(A[i,j] * x[j] + bias[i])", &is_program, &count, 4, names, ranks) ==
            EINFUSE_OK);
    CHECK(is_program == 1);
    REQUIRE(count == 3);
    CHECK(std::string(names[0]) == "A");
    CHECK(std::string(names[1]) == "x");
    CHECK(std::string(names[2]) == "bias");
    CHECK(ranks[0] == 2);

    // A capacity below the count fills what fits and still reports the count.
    REQUIRE(einfuse_inspect("ij,jk,kl->il", nullptr, &count, 1, names, nullptr) == EINFUSE_OK);
    CHECK(count == 3);

    CHECK(einfuse_inspect("ij,j#k->ik", &is_program, &count, 4, names, ranks) == EINFUSE_ERROR_EXPRESSION);
    CHECK(contains(einfuse_last_error(), "^"));
    CHECK(einfuse_inspect(nullptr, &is_program, &count, 4, names, ranks) == EINFUSE_ERROR_ARGUMENT);
}

TEST_CASE("C ABI compile with options: a program's chosen outputs, their names, dtypes and ranks") {
    DLDataType types[2] = {{kDLFloat, 64, 1}, {kDLFloat, 64, 1}};
    einfuse_kernel *k = einfuse_compile_with_options("C[i,k] = A[i,j] * B[j,k]\nD[i,k] = relu(C[i,k])", 2, types,
                                                     nullptr, kDLCPU, "threads=1;outputs=C,D");
    REQUIRE(k != nullptr);
    int count = 0, ranks[2] = {};
    const char *names[2] = {};
    DLDataType dtypes[2] = {};
    REQUIRE(einfuse_kernel_tensors(k, 1, &count, 2, names, dtypes, ranks) == EINFUSE_OK);
    REQUIRE(count == 2);
    CHECK(std::string(names[0]) == "C");
    CHECK(std::string(names[1]) == "D");
    CHECK(same_dtype(dtypes[1], DLDataType{kDLFloat, 64, 1}));
    CHECK(ranks[0] == 2);
    REQUIRE(einfuse_kernel_tensors(k, 0, &count, 2, names, nullptr, nullptr) == EINFUSE_OK);
    CHECK(count == 2);
    CHECK(std::string(names[0]) == "A");
    einfuse_free(k);

    CHECK(einfuse_compile_with_options("ij->ji", 1, nullptr, nullptr, kDLCPU, "speed=11") == nullptr);
    CHECK(contains(einfuse_last_error(), "unknown option 'speed'"));
    CHECK(einfuse_last_status() == EINFUSE_ERROR_ARGUMENT); // what a NULL result failed of
    CHECK(einfuse_compile_with_options("ij->jz", 1, nullptr, nullptr, kDLCPU, nullptr) == nullptr);
    CHECK(einfuse_last_status() == EINFUSE_ERROR_EXPRESSION);
    CHECK(einfuse_compile_with_options("ij->ji", 1, nullptr, nullptr, kDLCPU, "threads=x") == nullptr);
    CHECK(contains(einfuse_last_error(), "bad option"));
    k = einfuse_compile_with_options("ij->ji", 1, nullptr, nullptr, kDLCPU, "");
    CHECK(k != nullptr);
    CHECK(einfuse_last_status() == EINFUSE_OK);
    einfuse_free(k);
}

TEST_CASE("C ABI output shapes: from input shapes alone, broadcasting as numpy, mismatches with carets") {
    einfuse_kernel *k = einfuse_compile("bij,bjk->bik", 2, nullptr, nullptr, kDLCPU);
    REQUIRE(k != nullptr);
    int64_t a_shape[3] = {1, 2, 3}, b_shape[3] = {5, 3, 4};
    DLTensor in[2] = {host_f32(nullptr, 3, a_shape), host_f32(nullptr, 3, b_shape)};
    DLDataType dtype{};
    int rank = -1;
    int64_t shape[4] = {};
    REQUIRE(einfuse_output_shapes(k, 2, in, 1, &dtype, &rank, shape, 4) == EINFUSE_OK);
    CHECK(same_dtype(dtype, DLDataType{kDLFloat, 32, 1}));
    REQUIRE(rank == 3);
    CHECK(shape[0] == 5);
    CHECK(shape[1] == 2);
    CHECK(shape[2] == 4);

    CHECK(einfuse_output_shapes(k, 2, in, 1, &dtype, &rank, shape, 2) == EINFUSE_ERROR_ARGUMENT);
    CHECK(einfuse_output_shapes(k, 1, in, 1, &dtype, &rank, shape, 4) == EINFUSE_ERROR_ARGUMENT);

    int64_t bad_shape[3] = {5, 4, 4};
    in[1] = host_f32(nullptr, 3, bad_shape);
    CHECK(einfuse_output_shapes(k, 2, in, 1, &dtype, &rank, shape, 4) == EINFUSE_ERROR_EXPRESSION);
    CHECK(contains(einfuse_last_error(), "index 'j'"));
    CHECK(contains(einfuse_last_error(), "^"));

    in[1].dtype = {kDLFloat, 64, 1};
    CHECK(einfuse_output_shapes(k, 2, in, 1, &dtype, &rank, shape, 4) == EINFUSE_ERROR_EXPRESSION);
    CHECK(contains(einfuse_last_error(), "compiled for f32"));
    einfuse_free(k);

    // A program's outputs, each with its own rank; a scalar output has rank 0.
    k = einfuse_compile("s[] = sum[i](x[i])\nm[i] = x[i] * 2", 1, nullptr, nullptr, kDLCPU);
    REQUIRE(k != nullptr);
    int64_t x_shape[1] = {7};
    DLTensor x = host_f32(nullptr, 1, x_shape);
    DLDataType dtypes[2] = {};
    int ranks[2] = {-1, -1};
    int64_t shapes[2 * 3] = {};
    REQUIRE(einfuse_output_shapes(k, 1, &x, 2, dtypes, ranks, shapes, 3) == EINFUSE_OK);
    CHECK(ranks[0] == 0);
    CHECK(ranks[1] == 1);
    CHECK(shapes[3] == 7);
    einfuse_free(k);
}

TEST_CASE("C ABI plan and einsum on a stream: the plan text is k's, the host ignores the stream") {
    einfuse_kernel *k = einfuse_compile("bij,bjk->bik", 2, nullptr, nullptr, kDLCPU);
    REQUIRE(k != nullptr);
    const char *plan = einfuse_kernel_plan(k);
    CHECK(contains(plan, "unrolled"));
    CHECK(einfuse_kernel_plan(k) == plan); // the same text, kept once
    einfuse_free(k);
    CHECK(einfuse_kernel_plan(nullptr) == nullptr);

    float a[4] = {1, 2, 3, 4}, b[4] = {5, 6, 7, 8}, c[4] = {};
    int64_t shape[2] = {2, 2};
    DLTensor in[2] = {host_f32(a, 2, shape), host_f32(b, 2, shape)};
    DLTensor out = host_f32(c, 2, shape);
    REQUIRE(einfuse_einsum_on_stream("ij,jk->ik", 2, in, &out, nullptr) == EINFUSE_OK);
    CHECK(c[0] == 19);
    CHECK(c[3] == 50);
}

TEST_CASE("C ABI embedding: the JSON metadata for sizes from input shapes (issue 17 item 2)") {
    einfuse_kernel *k = einfuse_compile("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", 3, nullptr,
                                        nullptr, kDLCUDA);
    REQUIRE(k != nullptr);
    int64_t x_shape[2] = {100000, 3}, y_shape[2] = {100000, 3}, w_shape[1] = {100000};
    DLTensor in[3] = {host_f32(nullptr, 2, x_shape), host_f32(nullptr, 2, y_shape), host_f32(nullptr, 1, w_shape)};
    const char *text = einfuse_kernel_embedding(k, 3, in, "gauss");
    REQUIRE(text != nullptr);
    nlohmann::json j = nlohmann::json::parse(text);
    CHECK(j["sizes"]["i"] == 100000);
    CHECK(j["outputs"][0]["shape"] == nlohmann::json::array({100000}));
    CHECK(j["outputs"][0]["dtype"] == "f32");
    CHECK(j["entry"]["workspace_bytes"] == "gauss_workspace_bytes");
    const auto &variants = j["kernels"][0]["variants"];
    REQUIRE(variants.size() == 2);
    CHECK(variants[0]["kernel"] == "gauss_out_tiled");
    CHECK(variants[0]["splits"]["value"] == 41);
    CHECK(variants[0]["combine"]["kernel"] == "gauss_out_combine");
    CHECK(variants[1]["kernel"] == "gauss_out");
    CHECK(j["workspace"]["bytes"] == 41 * 100000 * 8);
    CHECK(std::string(j["source"]).find("gauss_launch_with_workspace") != std::string::npos);
    CHECK(einfuse_kernel_embedding(k, 3, in, "gauss") == text); // one copy per distinct text, kept by k

    // Unsized: the rules without values.
    const char *unsized = einfuse_kernel_embedding(k, 0, nullptr, nullptr);
    REQUIRE(unsized != nullptr);
    nlohmann::json u = nlohmann::json::parse(unsized);
    CHECK(u["sizes"].empty());
    CHECK(u["kernels"][0]["variants"].back()["grid"]["value"].is_null());
    CHECK(u["entry"]["launch_with_workspace"] == "einfuse_out_launch_with_workspace");

    CHECK(einfuse_kernel_embedding(k, 2, in, nullptr) == nullptr);
    CHECK(einfuse_last_status() == EINFUSE_ERROR_ARGUMENT);
    CHECK(einfuse_kernel_embedding(k, 3, in, "not a name") == nullptr);
    CHECK(einfuse_last_status() == EINFUSE_ERROR_EXPRESSION);
    CHECK(contains(einfuse_last_error(), "--name"));
    CHECK(einfuse_kernel_embedding(nullptr, 0, nullptr, nullptr) == nullptr);
    einfuse_free(k);
}

TEST_CASE("C ABI embedding with sizes by name (issue 17): some pinned, the rest free") {
    einfuse_kernel *k = einfuse_compile("out[i] = sum[j](exp(-sum[d]((x[i,d] - y[j,d])^2)) * w[j])", 3, nullptr,
                                        nullptr, kDLCUDA);
    REQUIRE(k != nullptr);
    const char *text = einfuse_kernel_embedding_dims(k, "d = 3", "gauss");
    REQUIRE(text != nullptr);
    nlohmann::json j = nlohmann::json::parse(text);
    CHECK(j["sizes"]["d"] == 3);
    CHECK(j["kernels"][0]["variants"][0]["kernel"] == "gauss_out_tiled"); // planned for d = 3
    CHECK(j["kernels"][0]["variants"][0]["grid"]["value"].is_null());   // i and j free
    CHECK(std::string(j["source"]).find("sizes[2] != 3) err = EINFUSE_ERR_SIZE;") != std::string::npos);
    // Every size: values, as einfuse_kernel_embedding from shapes.
    nlohmann::json all = nlohmann::json::parse(einfuse_kernel_embedding_dims(k, "i=100000,j=100000,d=3", nullptr));
    CHECK(all["kernels"][0]["variants"][0]["splits"]["value"] == 41);
    // None: the unsized plan, its specialisations guarded by d.
    nlohmann::json none = nlohmann::json::parse(einfuse_kernel_embedding_dims(k, nullptr, nullptr));
    CHECK(none["kernels"][0]["variants"][0]["kernel"] == "einfuse_out_at_2_tiled");
    CHECK(einfuse_kernel_embedding_dims(k, "d=x", nullptr) == nullptr);
    CHECK(einfuse_last_status() == EINFUSE_ERROR_ARGUMENT);
    CHECK(einfuse_kernel_embedding_dims(k, "q=3", nullptr) == nullptr);
    CHECK(einfuse_last_status() == EINFUSE_ERROR_EXPRESSION);
    CHECK(einfuse_kernel_embedding_dims(nullptr, "d=3", nullptr) == nullptr);
    einfuse_free(k);
}
