/* The C ABI from C99, against an installed einfuse: einsums and a program on host float32 and
 * float64 buffers compared with plain loops, reusable kernels, and the error paths. */
#include <einfuse/einfuse.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int failures = 0;

#define EXPECT(cond)                                                                                                   \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            fprintf(stderr, "consumer.c:%d: check failed: %s\n", __LINE__, #cond);                                     \
            ++failures;                                                                                                \
        }                                                                                                              \
    } while (0)

/* Fresh values in [-1, 1), never zeros. */
static double next_value(unsigned long long *state) {
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (double)(*state >> 11) / 9007199254740992.0 * 2.0 - 1.0;
}

static DLTensor host_tensor(void *data, DLDataTypeCode code, int bits, int ndim, int64_t *shape, int64_t *strides) {
    DLTensor t;
    t.data = data;
    t.device.device_type = kDLCPU;
    t.device.device_id = 0;
    t.ndim = ndim;
    t.dtype.code = (uint8_t)code;
    t.dtype.bits = (uint8_t)bits;
    t.dtype.lanes = 1;
    t.shape = shape;
    t.strides = strides;
    t.byte_offset = 0;
    return t;
}

static int close_to(double got, double want, double tol) {
    return fabs(got - want) <= tol * (fabs(want) > 1 ? fabs(want) : 1);
}

/* bij,bjk->bik with B=5, I=3, J=4, K=2, in float32 or float64; b read through transposing strides
 * when strided is set. */
static void check_bmm(int bits, int strided) {
    enum { B = 5, I = 3, J = 4, K = 2 };
    double a[B * I * J], b[B * J * K], want[B * I * K];
    float af[B * I * J], bf[B * J * K], outf[B * I * K];
    double outd[B * I * K];
    unsigned long long seed = 42u + (unsigned)bits + (unsigned)strided;
    int n, bi, i, j, k;
    for (n = 0; n < B * I * J; ++n)
        a[n] = next_value(&seed);
    for (n = 0; n < B * J * K; ++n)
        b[n] = next_value(&seed);
    /* b's element (bi, j, k) lives at bi*J*K + j*K + k, or, strided, at bi*J*K + k*J + j */
    for (bi = 0; bi < B; ++bi)
        for (i = 0; i < I; ++i)
            for (k = 0; k < K; ++k) {
                double s = 0;
                for (j = 0; j < J; ++j)
                    s += a[bi * I * J + i * J + j] * b[bi * J * K + (strided ? k * J + j : j * K + k)];
                want[bi * I * K + i * K + k] = s;
            }
    for (n = 0; n < B * I * J; ++n)
        af[n] = (float)a[n];
    for (n = 0; n < B * J * K; ++n)
        bf[n] = (float)b[n];

    int64_t a_shape[3] = {B, I, J}, b_shape[3] = {B, J, K}, o_shape[3] = {B, I, K};
    int64_t b_strides[3] = {J * K, 1, J};
    void *pa = bits == 32 ? (void *)af : (void *)a, *pb = bits == 32 ? (void *)bf : (void *)b;
    void *po = bits == 32 ? (void *)outf : (void *)outd;
    DLTensor in[2] = {host_tensor(pa, kDLFloat, bits, 3, a_shape, NULL),
                      host_tensor(pb, kDLFloat, bits, 3, b_shape, strided ? b_strides : NULL)};
    DLTensor out = host_tensor(po, kDLFloat, bits, 3, o_shape, NULL);
    int rc = einfuse_einsum("bij,bjk->bik", 2, in, &out);
    if (rc != 0) fprintf(stderr, "%s\n", einfuse_last_error());
    EXPECT(rc == EINFUSE_OK);
    for (n = 0; n < B * I * K; ++n) {
        double got = bits == 32 ? outf[n] : outd[n];
        EXPECT(close_to(got, want[n], bits == 32 ? 1e-5 : 1e-12));
    }
}

/* D[i] = relu(A[i,j] * x[j]): the inputs in order of first use, A then x. j is not on
 * the left nor in an explicit reduction, so it sums the whole right-hand side: sum_j relu(.). */
static void check_program(void) {
    enum { I = 6, J = 5 };
    float A[I * J], x[J], D[I];
    unsigned long long seed = 7;
    int n, i, j;
    for (n = 0; n < I * J; ++n)
        A[n] = (float)next_value(&seed);
    for (n = 0; n < J; ++n)
        x[n] = (float)next_value(&seed);
    int64_t a_shape[2] = {I, J}, x_shape[1] = {J}, d_shape[1] = {I};
    DLTensor in[2] = {host_tensor(A, kDLFloat, 32, 2, a_shape, NULL), host_tensor(x, kDLFloat, 32, 1, x_shape, NULL)};
    DLTensor out = host_tensor(D, kDLFloat, 32, 1, d_shape, NULL);
    int rc = einfuse_einsum("D[i] = relu(A[i,j] * x[j])", 2, in, &out);
    if (rc != 0) fprintf(stderr, "%s\n", einfuse_last_error());
    EXPECT(rc == EINFUSE_OK);
    for (i = 0; i < I; ++i) {
        double s = 0;
        for (j = 0; j < J; ++j) {
            double p = (double)A[i * J + j] * x[j];
            s += p > 0 ? p : 0;
        }
        EXPECT(close_to(D[i], s, 1e-5));
    }
}

/* A program index that no input has (j) takes its size from the output's shape. */
static void check_output_sized(void) {
    float x[3] = {1, -2, 3}, o[6];
    int64_t x_shape[1] = {3}, o_shape[2] = {3, 2};
    DLTensor in = host_tensor(x, kDLFloat, 32, 1, x_shape, NULL);
    DLTensor out = host_tensor(o, kDLFloat, 32, 2, o_shape, NULL);
    int rc = einfuse_einsum("C[i,j] = x[i] * 2", 1, &in, &out);
    if (rc != 0) fprintf(stderr, "%s\n", einfuse_last_error());
    EXPECT(rc == EINFUSE_OK);
    EXPECT(close_to(o[0], 2, 1e-6) && close_to(o[1], 2, 1e-6) && close_to(o[5], 6, 1e-6));
}

static void check_errors(void) {
    float a[4] = {1, 2, 3, 4}, o[4];
    int64_t shape[2] = {2, 2}, wrong[2] = {2, 3};
    DLTensor in[2] = {host_tensor(a, kDLFloat, 32, 2, shape, NULL), host_tensor(a, kDLFloat, 32, 2, shape, NULL)};
    DLTensor out = host_tensor(o, kDLFloat, 32, 2, shape, NULL);

    /* a malformed spec: a bad expression, and the message says where */
    EXPECT(einfuse_einsum("ij,jk->i$k", 2, in, &out) == EINFUSE_ERROR_EXPRESSION);
    EXPECT(strstr(einfuse_last_error(), "error") != NULL);
    EXPECT(strstr(einfuse_last_error(), "ij,jk->i$k") != NULL);
    /* a size mismatch */
    DLTensor bad_out = host_tensor(o, kDLFloat, 32, 2, wrong, NULL);
    EXPECT(einfuse_einsum("ij,jk->ik", 2, in, &bad_out) == EINFUSE_ERROR_EXPRESSION);
    EXPECT(strstr(einfuse_last_error(), "[2,2]") != NULL);
    /* an unsupported dtype (complex32: complex64 and complex128 are supported) and vector lanes: errors, not crashes */
    DLTensor c64 = host_tensor(a, kDLComplex, 32, 2, shape, NULL);
    DLTensor in_u8[2] = {c64, c64};
    EXPECT(einfuse_einsum("ij,jk->ik", 2, in_u8, &out) == EINFUSE_ERROR_ARGUMENT);
    EXPECT(strstr(einfuse_last_error(), "dtype") != NULL);
    DLTensor lanes = in[0];
    lanes.dtype.lanes = 4;
    DLTensor in_lanes[2] = {lanes, in[1]};
    EXPECT(einfuse_einsum("ij,jk->ik", 2, in_lanes, &out) == EINFUSE_ERROR_ARGUMENT);
    /* null pointers, wrong counts, mixed devices */
    EXPECT(einfuse_einsum(NULL, 2, in, &out) == EINFUSE_ERROR_ARGUMENT);
    EXPECT(einfuse_einsum("ij,jk->ik", 2, in, NULL) == EINFUSE_ERROR_ARGUMENT);
    EXPECT(einfuse_einsum("ij,jk->ik", 1, in, &out) == EINFUSE_ERROR_EXPRESSION);
    DLTensor on_gpu = in[1];
    on_gpu.device.device_type = kDLCUDA;
    DLTensor mixed[2] = {in[0], on_gpu};
    EXPECT(einfuse_einsum("ij,jk->ik", 2, mixed, &out) == EINFUSE_ERROR_ARGUMENT);
    /* success clears the message */
    EXPECT(einfuse_einsum("ij,jk->ik", 2, in, &out) == EINFUSE_OK);
    EXPECT(strcmp(einfuse_last_error(), "") == 0);
    EXPECT(close_to(o[0], 1 * 1 + 2 * 3, 1e-6) && close_to(o[3], 3 * 2 + 4 * 4, 1e-6));
}

/* kDLCUDA: computes on a GPU, or says there is none (status 4, "CUDA" in the message). Zero-size
 * tensors, so no memory is needed either way. */
static void check_cuda(void) {
    int64_t shape[3] = {0, 2, 2};
    DLTensor t = host_tensor(NULL, kDLFloat, 32, 3, shape, NULL);
    t.device.device_type = kDLCUDA;
    DLTensor in[2] = {t, t}, out = t;
    int rc = einfuse_einsum("bij,bjk->bik", 2, in, &out);
    if (rc != EINFUSE_OK) {
        printf("consumer_c: kDLCUDA: %d: %s\n", rc, einfuse_last_error());
        EXPECT(rc == EINFUSE_ERROR_TARGET);
        EXPECT(strstr(einfuse_last_error(), "CUDA") != NULL);
    }
    in[0].device.device_id = in[1].device.device_id = out.device.device_id = 3;
    EXPECT(einfuse_einsum("bij,bjk->bik", 2, in, &out) == EINFUSE_ERROR_TARGET);
}

/* einfuse_compile/run/kernel_source/free: one kernel run at two batch sizes; a program with two
 * outputs; the CUDA source of a kernel compiled for kDLCUDA (no GPU needed). */
static void check_kernels(void) {
    DLDataType f32 = {kDLFloat, 32, 1};
    DLDataType dtypes[2] = {f32, f32};
    int ranks[2] = {3, 3};
    einfuse_kernel *k = einfuse_compile("bij,bjk->bik", 2, dtypes, ranks, kDLCPU);
    EXPECT(k != NULL);
    if (!k) {
        fprintf(stderr, "%s\n", einfuse_last_error());
        return;
    }
    float a[4 * 4], b[4 * 4], o[4 * 4];
    unsigned long long seed = 3;
    int n, batch, round;
    for (n = 0; n < 16; ++n)
        a[n] = (float)next_value(&seed), b[n] = (float)next_value(&seed);
    for (round = 0; round < 3; ++round) {
        batch = round == 1 ? 4 : 2; /* 2, 4, 2: re-planned each time the sizes change */
        int64_t shape[3] = {batch, 2, 2};
        DLTensor in[2] = {host_tensor(a, kDLFloat, 32, 3, shape, NULL), host_tensor(b, kDLFloat, 32, 3, shape, NULL)};
        DLTensor out = host_tensor(o, kDLFloat, 32, 3, shape, NULL);
        EXPECT(einfuse_run(k, 2, in, 1, &out) == EINFUSE_OK);
        for (n = 0; n < batch * 4; ++n) {
            int bi = n / 4, i = n % 4 / 2, kk = n % 2;
            double want =
                (double)a[bi * 4 + i * 2] * b[bi * 4 + kk] + (double)a[bi * 4 + i * 2 + 1] * b[bi * 4 + 2 + kk];
            EXPECT(close_to(o[n], want, 1e-5));
        }
    }
    const char *src = einfuse_kernel_source(k);
    EXPECT(src != NULL && strstr(src, "einfuse") != NULL && strstr(src, "extern \"C\"") != NULL);
    EXPECT(einfuse_run(k, 1, NULL, 0, NULL) == EINFUSE_ERROR_ARGUMENT);
    einfuse_free(k);
    einfuse_free(NULL);

    /* C is read by D and E, so D and E are the outputs, in the order they are defined */
    einfuse_kernel *p =
        einfuse_compile("C[i] = A[i,j] * x[j]\nD[i] = relu(C[i])\nE[i] = C[i] * 2", 2, NULL, NULL, kDLCPU);
    EXPECT(p != NULL);
    if (p) {
        float A[6] = {1, -2, 3, -4, 5, -6}, x[2] = {0.5f, 0.25f}, D[3], E[3];
        int64_t a_shape[2] = {3, 2}, x_shape[1] = {2}, o_shape[1] = {3};
        DLTensor in[2] = {host_tensor(A, kDLFloat, 32, 2, a_shape, NULL),
                          host_tensor(x, kDLFloat, 32, 1, x_shape, NULL)};
        DLTensor out[2] = {host_tensor(D, kDLFloat, 32, 1, o_shape, NULL),
                           host_tensor(E, kDLFloat, 32, 1, o_shape, NULL)};
        int rc = einfuse_run(p, 2, in, 2, out);
        if (rc != 0) fprintf(stderr, "%s\n", einfuse_last_error());
        EXPECT(rc == EINFUSE_OK);
        for (n = 0; n < 3; ++n) {
            double c = A[2 * n] * 0.5 + A[2 * n + 1] * 0.25;
            EXPECT(close_to(D[n], c > 0 ? c : 0, 1e-6) && close_to(E[n], 2 * c, 1e-6));
        }
        einfuse_free(p);
    }

    einfuse_kernel *g = einfuse_compile("bij,bjk->bik", 2, dtypes, ranks, kDLCUDA);
    EXPECT(g != NULL);
    if (g) {
        const char *cu = einfuse_kernel_source(g);
        EXPECT(cu != NULL && strstr(cu, "__global__") != NULL);
        einfuse_free(g);
    }
    EXPECT(einfuse_compile("bij,bjk->bik", 2, dtypes, ranks, kDLOpenCL) == NULL);
    EXPECT(einfuse_compile("bij,,bjk->bik", 2, dtypes, ranks, kDLCPU) == NULL);
    EXPECT(strlen(einfuse_last_error()) > 0);
}

/* The calls for language bindings: what an expression reads, options, a kernel's tensors, output
 * shapes before running, the plan, and the one-shot call on a stream. */
static void check_bindings(void) {
    int is_program = -1, count = -1, ranks[3];
    const char *names[3];
    EXPECT(einfuse_inspect("D[i] = relu(A[i,j] * x[j])", &is_program, &count, 3, names, ranks) == EINFUSE_OK);
    EXPECT(is_program == 1 && count == 2 && strcmp(names[1], "x") == 0 && ranks[0] == 2);

    EXPECT(einfuse_compile_with_options("bij,bjk->bik", 2, NULL, NULL, kDLCPU, "speed=1") == NULL);
    EXPECT(einfuse_last_status() == EINFUSE_ERROR_ARGUMENT);
    einfuse_kernel *k = einfuse_compile_with_options("bij,bjk->bik", 2, NULL, NULL, kDLCPU, "threads=1");
    EXPECT(k != NULL && einfuse_last_status() == EINFUSE_OK);
    if (!k) return;
    DLDataType dtype;
    int rank = -1;
    int64_t a_shape[3] = {7, 2, 3}, b_shape[3] = {1, 3, 4}, shape[3] = {0, 0, 0};
    DLTensor in[2] = {host_tensor(NULL, kDLFloat, 32, 3, a_shape, NULL), host_tensor(NULL, kDLFloat, 32, 3, b_shape, NULL)};
    EXPECT(einfuse_kernel_tensors(k, 1, &count, 1, names, &dtype, &rank) == EINFUSE_OK);
    EXPECT(count == 1 && strcmp(names[0], "out") == 0 && rank == 3);
    EXPECT(einfuse_output_shapes(k, 2, in, 1, &dtype, &rank, shape, 3) == EINFUSE_OK);
    EXPECT(rank == 3 && shape[0] == 7 && shape[1] == 2 && shape[2] == 4 && dtype.code == kDLFloat && dtype.bits == 32);
    EXPECT(einfuse_kernel_plan(k) != NULL);
    einfuse_free(k);

    float a[2] = {1, 2}, b[2] = {3, 4}, o[1] = {0};
    int64_t v_shape[1] = {2};
    DLTensor vin[2] = {host_tensor(a, kDLFloat, 32, 1, v_shape, NULL), host_tensor(b, kDLFloat, 32, 1, v_shape, NULL)};
    DLTensor vout = host_tensor(o, kDLFloat, 32, 0, NULL, NULL);
    EXPECT(einfuse_einsum_on_stream("i,i->", 2, vin, &vout, NULL) == EINFUSE_OK);
    EXPECT(o[0] == 11);
}

int main(void) {
    printf("consumer_c: einfuse %s\n", einfuse_version());
    EXPECT(strlen(einfuse_version()) > 0);
    check_bmm(32, 0);
    check_bmm(64, 0);
    check_bmm(64, 1);
    check_program();
    check_output_sized();
    check_errors();
    check_cuda();
    check_kernels();
    check_bindings();
    if (failures) {
        fprintf(stderr, "consumer_c: %d checks failed\n", failures);
        return 1;
    }
    printf("consumer_c: all checks passed\n");
    return 0;
}
