#include "runtime/CublasLt.h"

#include "support/Error.h"

#include <cublasLt.h>
#include <dlfcn.h>

#include <cstdlib>

namespace einfuse {

namespace {

// The entry points einfuse calls, looked up by name in the library.
#define EINFUSE_LT_FUNCTIONS(X)                                                                                        \
    X(cublasLtCreate)                                                                                                  \
    X(cublasLtGetStatusString)                                                                                         \
    X(cublasLtMatmul)                                                                                                  \
    X(cublasLtMatmulDescCreate)                                                                                        \
    X(cublasLtMatmulDescDestroy)                                                                                       \
    X(cublasLtMatmulDescSetAttribute)                                                                                  \
    X(cublasLtMatrixLayoutCreate)                                                                                      \
    X(cublasLtMatrixLayoutDestroy)                                                                                     \
    X(cublasLtMatrixLayoutSetAttribute)                                                                                \
    X(cublasLtMatmulPreferenceCreate)                                                                                  \
    X(cublasLtMatmulPreferenceDestroy)                                                                                 \
    X(cublasLtMatmulPreferenceSetAttribute)                                                                            \
    X(cublasLtMatmulAlgoGetHeuristic)

struct Library {
#define EINFUSE_LT_MEMBER(name) decltype(&::name) name = nullptr;
    EINFUSE_LT_FUNCTIONS(EINFUSE_LT_MEMBER)
#undef EINFUSE_LT_MEMBER
    cublasLtHandle_t handle = nullptr;
    std::string error; // why it cannot be used; empty when it can
};

Library load() {
    Library lib;
    const char *named = std::getenv("EINFUSE_CUBLASLT");
    void *so = nullptr;
    for (const char *file : {named, "libcublasLt.so.13", "/usr/local/cuda/lib64/libcublasLt.so.13"})
        if (file && (so = dlopen(file, RTLD_NOW | RTLD_LOCAL))) break;
    if (!so) {
        lib.error = std::string("cannot load libcublasLt.so.13: ") + dlerror();
        return lib;
    }
#define EINFUSE_LT_LOOKUP(name)                                                                                        \
    lib.name = reinterpret_cast<decltype(lib.name)>(dlsym(so, #name));                                                 \
    if (!lib.name) {                                                                                                   \
        lib.error = "libcublasLt.so.13 has no " #name;                                                                 \
        return lib;                                                                                                    \
    }
    EINFUSE_LT_FUNCTIONS(EINFUSE_LT_LOOKUP)
#undef EINFUSE_LT_LOOKUP
    cublasStatus_t s = lib.cublasLtCreate(&lib.handle);
    if (s != CUBLAS_STATUS_SUCCESS) lib.error = std::string("cublasLtCreate: ") + lib.cublasLtGetStatusString(s);
    return lib;
}

const Library &library() {
    static const Library lib = load();
    return lib;
}

void check(cublasStatus_t s, const char *what) {
    if (s != CUBLAS_STATUS_SUCCESS)
        throw TargetError(std::string("cuBLASLt: ") + what + ": " + library().cublasLtGetStatusString(s));
}

const Library &usable() {
    const Library &lib = library();
    if (!lib.error.empty()) throw TargetError(lib.error);
    return lib;
}

cudaDataType_t data_type(LtType t) {
    switch (t) {
    case LtType::F16: return CUDA_R_16F;
    case LtType::BF16: return CUDA_R_16BF;
    case LtType::F32: return CUDA_R_32F;
    case LtType::F64: return CUDA_R_64F;
    }
    return CUDA_R_32F;
}

template <class Set, class Desc, class Attr, class T> void set(Set setter, Desc desc, Attr attr, const T &value) {
    check(setter(desc, attr, &value, sizeof(value)), "set attribute");
}

} // namespace

bool cublaslt_available(std::string *why_not) {
    const Library &lib = library();
    if (why_not) *why_not = lib.error;
    return lib.error.empty();
}

int lt_alignment(std::uint64_t address) {
    int a = 1;
    while (a < 256 && address % (2 * a) == 0) a *= 2;
    return a;
}

struct LtMatmul::Impl {
    cublasLtMatmulDesc_t op = nullptr;
    cublasLtMatrixLayout_t a = nullptr, b = nullptr, c = nullptr, d = nullptr;
    cublasLtMatmulAlgo_t algo{};
    LtProblem problem;
    double beta = 0;
    float alpha32 = 1, beta32 = 0; // the scale type is f32 except for f64 products

    ~Impl() {
        const Library &lib = library();
        for (auto *l : {a, b, c, d})
            if (l) lib.cublasLtMatrixLayoutDestroy(l);
        if (op) lib.cublasLtMatmulDescDestroy(op);
    }

    cublasLtMatrixLayout_t layout(const LtMatrix &x, int64_t rows, int64_t cols) const {
        const Library &lib = usable();
        cublasLtMatrixLayout_t l = nullptr;
        if (x.transposed) std::swap(rows, cols);
        check(lib.cublasLtMatrixLayoutCreate(&l, data_type(problem.type), static_cast<uint64_t>(rows),
                                             static_cast<uint64_t>(cols), x.ld),
              "cublasLtMatrixLayoutCreate");
        if (problem.batch > 1) {
            set(lib.cublasLtMatrixLayoutSetAttribute, l, CUBLASLT_MATRIX_LAYOUT_BATCH_COUNT,
                static_cast<int32_t>(problem.batch));
            set(lib.cublasLtMatrixLayoutSetAttribute, l, CUBLASLT_MATRIX_LAYOUT_STRIDED_BATCH_OFFSET, x.batch_stride);
        }
        return l;
    }
};

LtMatmul::LtMatmul(const LtProblem &p) : impl_(std::make_unique<Impl>()) {
    const Library &lib = usable();
    Impl &m = *impl_;
    m.problem = p;
    m.beta = p.add_c ? 1 : 0;
    m.alpha32 = static_cast<float>(p.alpha);
    m.beta32 = static_cast<float>(m.beta);
    if (p.batch > INT32_MAX) throw TargetError("cuBLASLt: more than 2^31 batch items");
    bool f64 = p.type == LtType::F64;
    cublasComputeType_t compute = f64 ? CUBLAS_COMPUTE_64F : p.tf32 ? CUBLAS_COMPUTE_32F_FAST_TF32 : CUBLAS_COMPUTE_32F;
    check(lib.cublasLtMatmulDescCreate(&m.op, compute, f64 ? CUDA_R_64F : CUDA_R_32F), "cublasLtMatmulDescCreate");
    cublasOperation_t ta = p.a.transposed ? CUBLAS_OP_T : CUBLAS_OP_N, tb = p.b.transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
    set(lib.cublasLtMatmulDescSetAttribute, m.op, CUBLASLT_MATMUL_DESC_TRANSA, ta);
    set(lib.cublasLtMatmulDescSetAttribute, m.op, CUBLASLT_MATMUL_DESC_TRANSB, tb);
    cublasLtEpilogue_t epilogue = p.bias ? (p.relu ? CUBLASLT_EPILOGUE_RELU_BIAS : CUBLASLT_EPILOGUE_BIAS)
                                         : (p.relu ? CUBLASLT_EPILOGUE_RELU : CUBLASLT_EPILOGUE_DEFAULT);
    set(lib.cublasLtMatmulDescSetAttribute, m.op, CUBLASLT_MATMUL_DESC_EPILOGUE, epilogue);
    if (p.bias) {
        set(lib.cublasLtMatmulDescSetAttribute, m.op, CUBLASLT_MATMUL_DESC_BIAS_DATA_TYPE, data_type(p.type));
        set(lib.cublasLtMatmulDescSetAttribute, m.op, CUBLASLT_MATMUL_DESC_BIAS_BATCH_STRIDE, int64_t{0});
    }
    m.a = m.layout(p.a, p.m, p.k);
    m.b = m.layout(p.b, p.k, p.n);
    m.c = m.layout(p.add_c ? p.c : p.d, p.m, p.n);
    m.d = m.layout(p.d, p.m, p.n);

    cublasLtMatmulPreference_t pref = nullptr;
    check(lib.cublasLtMatmulPreferenceCreate(&pref), "cublasLtMatmulPreferenceCreate");
    std::unique_ptr<void, void (*)(void *)> guard(pref, [](void *x) {
        library().cublasLtMatmulPreferenceDestroy(static_cast<cublasLtMatmulPreference_t>(x));
    });
    auto pref_set = [&](cublasLtMatmulPreferenceAttributes_t attr, uint64_t v) {
        check(lib.cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof(v)), "set preference");
    };
    auto pref_set32 = [&](cublasLtMatmulPreferenceAttributes_t attr, uint32_t v) {
        check(lib.cublasLtMatmulPreferenceSetAttribute(pref, attr, &v, sizeof(v)), "set preference");
    };
    pref_set(CUBLASLT_MATMUL_PREF_MAX_WORKSPACE_BYTES, kLtWorkspaceBytes);
    pref_set32(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_A_BYTES, static_cast<uint32_t>(p.a.alignment));
    pref_set32(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_B_BYTES, static_cast<uint32_t>(p.b.alignment));
    pref_set32(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_C_BYTES, static_cast<uint32_t>(p.add_c ? p.c.alignment : p.d.alignment));
    pref_set32(CUBLASLT_MATMUL_PREF_MIN_ALIGNMENT_D_BYTES, static_cast<uint32_t>(p.d.alignment));
    cublasLtMatmulHeuristicResult_t result{};
    int found = 0;
    check(lib.cublasLtMatmulAlgoGetHeuristic(lib.handle, m.op, m.a, m.b, m.c, m.d, pref, 1, &result, &found),
          "cublasLtMatmulAlgoGetHeuristic");
    if (found == 0) throw TargetError("cuBLASLt has no algorithm for this product");
    m.algo = result.algo;
}

LtMatmul::~LtMatmul() = default;

void LtMatmul::run(std::uint64_t a, std::uint64_t b, std::uint64_t c, std::uint64_t d, std::uint64_t bias,
                   std::uint64_t workspace, void *stream) const {
    const Library &lib = usable();
    const Impl &m = *impl_;
    if (m.problem.bias) {
        void *ptr = reinterpret_cast<void *>(bias);
        set(lib.cublasLtMatmulDescSetAttribute, m.op, CUBLASLT_MATMUL_DESC_BIAS_POINTER, ptr);
    }
    bool f64 = m.problem.type == LtType::F64;
    const void *alpha = f64 ? static_cast<const void *>(&m.problem.alpha) : &m.alpha32;
    const void *beta = f64 ? static_cast<const void *>(&m.beta) : &m.beta32;
    auto ptr = [](std::uint64_t x) { return reinterpret_cast<void *>(x); };
    check(lib.cublasLtMatmul(lib.handle, m.op, alpha, ptr(a), m.a, ptr(b), m.b, beta, ptr(m.problem.add_c ? c : d), m.c,
                             ptr(d), m.d, &m.algo, ptr(workspace), kLtWorkspaceBytes,
                             static_cast<cudaStream_t>(stream)),
          "cublasLtMatmul");
}

} // namespace einfuse
