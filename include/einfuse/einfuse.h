/* einfuse's C ABI: einsums and index-notation programs on DLPack tensors, from C or any FFI.
 *
 *   DLTensor in[2] = {a, b}, out = c;          // caller-allocated, host (kDLCPU) or kDLCUDA
 *   if (einfuse_einsum("bij,bjk->bik", 2, in, &out) != 0)
 *       fprintf(stderr, "%s\n", einfuse_last_error());
 *
 * Valid C99 and C++. Every function catches everything: none throws or aborts on bad input.
 * docs/c-abi.md has the rules in full (DLPack, error codes, the kernel cache, threads). */
#ifndef EINFUSE_EINFUSE_H
#define EINFUSE_EINFUSE_H

#include <dlpack/dlpack.h>

#if defined(_WIN32)
#define EINFUSE_EXPORT __declspec(dllexport)
#elif defined(__GNUC__)
#define EINFUSE_EXPORT __attribute__((visibility("default")))
#else
#define EINFUSE_EXPORT
#endif

#ifdef __cplusplus
extern "C" {
#endif

/* What every int-returning function returns; the message of a failure is einfuse_last_error(). */
enum einfuse_status {
    EINFUSE_OK = 0,
    EINFUSE_ERROR_ARGUMENT = 1,   /* a null pointer, a wrong count, an unsupported dtype or device */
    EINFUSE_ERROR_EXPRESSION = 2, /* the expression, a shape or a type is wrong (as the CLI's exit 2) */
    EINFUSE_ERROR_TARGET = 4,     /* no CUDA device, CUDA not built in, NVRTC or launch failed, out of memory */
    EINFUSE_ERROR_INTERNAL = 5    /* einfuse's own bug */
};

/* A compiled, reusable kernel for one expression and signature. Opaque. */
typedef struct einfuse_kernel einfuse_kernel;

/* Computes an einsum ("bij,bjk->bik") or a one-output program ("D[i] = relu(A[i,j] * x[j])") of
 * `inputs` into the caller-allocated `output`. The sizes come from the inputs' shapes; the output
 * must have the result's shape and dtype (any strides whose elements do not overlap one another;
 * it may share memory with an input: numpy's result, through a temporary). All tensors live on
 * the host (kDLCPU) or all on one CUDA device (kDLCUDA; computed there, in place). A program's
 * inputs are given in the order of their first use in the text. Compiled kernels are cached per (expression, dtypes,
 * ranks, device), so a repeated call does not recompile. Returns an einfuse_status. */
EINFUSE_EXPORT int einfuse_einsum(const char *spec, int num_inputs, const DLTensor *inputs, DLTensor *output);

/* The message of this thread's last failure ("" if none); valid until this thread's next call. */
EINFUSE_EXPORT const char *einfuse_last_error(void);

/* Compiles `expr` for inputs of these dtypes (NULL: all float32) and ranks (NULL: from the
 * expression) for device_type kDLCPU or kDLCUDA. Needs no GPU: CUDA code is built for the device
 * at the first run. Returns NULL on failure (see einfuse_last_error). */
EINFUSE_EXPORT einfuse_kernel *einfuse_compile(const char *expr, int num_inputs, const DLDataType *dtypes,
                                               const int *ranks, int device_type);

/* Runs k: sizes are bound from the inputs' shapes at each call (an index only outputs have, from
 * theirs; planned and compiled once per shape class: docs/api.md);
 * outputs in the order of the program's outputs (an einsum has one). Runs of one kernel from
 * several threads take turns. Returns an einfuse_status. */
EINFUSE_EXPORT int einfuse_run(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs,
                               DLTensor *outputs);

/* einfuse_run on a CUDA stream (a cudaStream_t or CUstream of device 0's primary context; NULL:
 * the default stream). With device tensors only it returns once the kernels are queued there,
 * as a kernel launch does: synchronize the stream before reading the outputs. Host kernels
 * ignore the stream. */
EINFUSE_EXPORT int einfuse_run_on_stream(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs,
                                         DLTensor *outputs, void *stream);

/* The standalone CUDA source of k, the text `einfuse compile --target cuda` writes (planned for
 * the sizes of k's last run, if any). Owned by k and never changed: valid until einfuse_free(k),
 * whatever other threads do with k meanwhile. NULL on failure. */
EINFUSE_EXPORT const char *einfuse_kernel_source(einfuse_kernel *k);

/* --- Added for language bindings (python/einfuse): options, what an expression reads, a kernel's
 * tensors and plan, output shapes before running, and a stream for the one-shot call. --- */

/* The einfuse_status of this thread's last call (EINFUSE_OK after a success): the category of a
 * failure that returned NULL (einfuse_compile, einfuse_kernel_source), as einfuse_last_error is its text. */
EINFUSE_EXPORT int einfuse_last_status(void);

/* einfuse_einsum on a CUDA stream (as einfuse_run_on_stream; NULL: the default stream). */
EINFUSE_EXPORT int einfuse_einsum_on_stream(const char *spec, int num_inputs, const DLTensor *inputs, DLTensor *output,
                                            void *stream);

/* einfuse_compile with options: NULL or "" for the defaults, else "key=value" pairs separated by
 * ';': threads=N (host worker threads, 0: all cores), arch=sm_90, allow_tf32=0|1,
 * gemm=auto|library|emitted|loops, outputs=C,D (a program's outputs to return, in order). */
EINFUSE_EXPORT einfuse_kernel *einfuse_compile_with_options(const char *expr, int num_inputs, const DLDataType *dtypes,
                                                            const int *ranks, int device_type, const char *options);

/* What `expr` reads, from its text alone (nothing compiled): *is_program (may be NULL), the input
 * count in *num_inputs, and for the first `capacity` inputs their names (an einsum's operands
 * "0", "1", ...; a program's tensors in order of first use) and ranks (-1: an operand with
 * '...'). Names stay valid until this thread's next einfuse call. Returns an einfuse_status. */
EINFUSE_EXPORT int einfuse_inspect(const char *expr, int *is_program, int *num_inputs, int capacity, const char **names,
                                   int *ranks);

/* k's inputs (outputs != 0: its outputs), in the order einfuse_run takes them: the count in *count
 * and, for the first `capacity`, name, dtype and rank (each array may be NULL). Names are owned by
 * k and valid until einfuse_free(k). Returns an einfuse_status. */
EINFUSE_EXPORT int einfuse_kernel_tensors(einfuse_kernel *k, int outputs, int *count, int capacity, const char **names,
                                          DLDataType *dtypes, int *ranks);

/* The outputs' dtypes and shapes for inputs of these shapes, without running: only each input's
 * ndim, shape and dtype are read (data may be NULL). Output o's dtype goes to dtypes[o], its rank
 * to ranks[o] and its extents to shapes[o * max_rank ...]; an output of rank > max_rank is an
 * argument error. Shape mismatches are EINFUSE_ERROR_EXPRESSION with the caret diagnostic
 * (einfuse_run's). Returns an einfuse_status. */
EINFUSE_EXPORT int einfuse_output_shapes(einfuse_kernel *k, int num_inputs, const DLTensor *inputs, int num_outputs,
                                         DLDataType *dtypes, int *ranks, int64_t *shapes, int max_rank);

/* The plan of k for its own target (`einfuse compile --emit plan`), for the sizes of its last run.
 * Owned by k, as einfuse_kernel_source's text. NULL on failure. */
EINFUSE_EXPORT const char *einfuse_kernel_plan(einfuse_kernel *k);

/* Everything a host needs to compile k's CUDA source itself (NVRTC) and launch it through the
 * driver, as one JSON object (docs/c-abi.md lists its fields): the source and its header, each
 * kernel in the order it runs with every variant (guard, grid, block, split count, arguments,
 * combine kernel, workspace) as launch rules (text, a JSON tree, and the value for these sizes),
 * the entry point's workspace, and the outputs' dtypes and shapes. Sizes come from the inputs'
 * shapes (ndim, shape and dtype read; data may be NULL); num_inputs 0: unsized (no values).
 * `name`: the symbols' prefix (einfuse compile --name), NULL for einfuse's own. Planned with k's
 * options; a kDLCPU kernel's is the CUDA plan. Owned by k, as einfuse_kernel_source's text. NULL
 * on failure. */
EINFUSE_EXPORT const char *einfuse_kernel_embedding(einfuse_kernel *k, int num_inputs, const DLTensor *inputs,
                                                    const char *name);

/* The same with index sizes by name, as `einfuse compile --dims`: "d=3" or "b=8,i=2,j=2,k=2" (NULL
 * or "": unsized). Sizes given while others stay free are pinned (the launcher refuses other
 * values) and the rules have values only when every size is given. A malformed list is status 1;
 * a name the expression does not use, status 2. */
EINFUSE_EXPORT const char *einfuse_kernel_embedding_dims(einfuse_kernel *k, const char *dims, const char *name);

/* Releases k; NULL is ignored. */
EINFUSE_EXPORT void einfuse_free(einfuse_kernel *k);

/* einfuse's version, "MAJOR.MINOR.PATCH". */
EINFUSE_EXPORT const char *einfuse_version(void);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* EINFUSE_EINFUSE_H */
