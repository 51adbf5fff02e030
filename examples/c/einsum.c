/* einfuse from C: a batch of 2x2 matrix products on host memory through the C ABI.
 *   cc einsum.c $(pkg-config --cflags --libs einfuse) && ./a.out
 * Device memory works the same way: set device_type to kDLCUDA and pass cudaMalloc'ed pointers. */
#include <einfuse/einfuse.h>

#include <stdio.h>

int main(void) {
    enum { B = 3 };
    float a[B][2][2], b[B][2][2], c[B][2][2];
    int n, i, j;
    for (n = 0; n < B; ++n)
        for (i = 0; i < 2; ++i)
            for (j = 0; j < 2; ++j) {
                a[n][i][j] = (float)(n + i + 1);  /* any values */
                b[n][i][j] = (float)(i == j) * 2; /* 2 * identity: c = 2a */
            }

    int64_t shape[3] = {B, 2, 2};
    DLDataType f32 = {kDLFloat, 32, 1};
    DLTensor in[2] = {{a, {kDLCPU, 0}, 3, f32, shape, NULL, 0}, {b, {kDLCPU, 0}, 3, f32, shape, NULL, 0}};
    DLTensor out = {c, {kDLCPU, 0}, 3, f32, shape, NULL, 0}; /* strides NULL: C-contiguous */

    if (einfuse_einsum("bij,bjk->bik", 2, in, &out) != 0) {
        fprintf(stderr, "%s\n", einfuse_last_error());
        return 1;
    }
    for (n = 0; n < B; ++n)
        printf("c[%d] = [[%g, %g], [%g, %g]]\n", n, c[n][0][0], c[n][0][1], c[n][1][0], c[n][1][1]);
    return 0;
}
