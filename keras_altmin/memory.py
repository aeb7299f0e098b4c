"""AM-mem: co-activation memory and block-coordinate descent (ALGORITHM 3).

For a hidden Dense block with input activations `a` (batch x n_in) and codes
`c` (batch x n_out), the memory accumulates

    A <- A + a^T a          (n_in x n_in)
    C <- C + a^T c          (n_in x n_out; the spec's B is C^T)

(or `(1 - decay) * memory + decay * update` with a decay in (0, 1]). Keras
stores a Dense kernel as K = W^T (n_in x n_out), so with everything in that
layout the surrogate Tr(W^T W A) / 2 - Tr(W^T B) reads
Tr(K^T A K) / 2 - Tr(K^T C), minimized where A K = C.

One BCD sweep updates the rows of K (the columns of W) in order j = 1..n_in:

    K[j] <- K[j] + (C[j] - A[j] K) / (A[j, j] + eps)

with the rows above j already updated: a Gauss-Seidel sweep on A K = C. The
whole sweep is one lower-triangular solve,

    (tril(A) + eps I) K_new = C - triu(A, 1) K_old + eps K_old,

so a sweep without L1 costs no loop at all. With `l1 > 0` every updated row
is soft-thresholded before the next row reads it; that sweep is an
`ops.fori_loop` over rows (compiled on JAX and TensorFlow, a Python loop on
PyTorch).

On eps: the spec's 1e-10 vanishes next to any nonzero A[j, j] in float32,
and A = sum a^T a is only positive semi-definite: rarely active inputs (a
border pixel, an almost dead ReLU) give tiny diagonal entries, float32
rounding makes the system slightly inconsistent, and the sweeps then blow the
kernel up (measured on digits: 1e13 within seven batches). eps here is
1e-10 + 1e-4 * mean(diag(A)), a proximal damping that leaves the fixed point
A K = C unchanged and stops the blow-up.
"""

from keras import ops

EPSILON = 1e-10
RELATIVE_DAMPING = 1e-4
TOLERANCE = 1e-3


def co_activations(a, c):
    """`(a^T a, a^T c)`: one batch's contribution to the memory."""
    a_t = ops.transpose(a)
    return ops.matmul(a_t, a), ops.matmul(a_t, c)


def accumulate(memory, update, decay=None):
    """`memory + update`, or `(1 - decay) * memory + decay * update`."""
    if decay is None:
        return memory + update
    return (1.0 - decay) * memory + decay * update


def soft_threshold(x, threshold):
    """sign(x) * max(|x| - threshold, 0)."""
    return ops.sign(x) * ops.maximum(ops.abs(x) - threshold, 0.0)


def bcd_sweep(kernel, a, c, l1=0.0):
    """One block-coordinate descent sweep over the rows of `kernel` (see module doc).

    Args:
        kernel: K, the Dense kernel (n_in x n_out).
        a: the co-activation memory A (n_in x n_in, symmetric).
        c: the cross co-activation memory C = B^T (n_in x n_out).
        l1: soft-threshold applied to every row right after its update.

    Returns:
        The kernel after the sweep.
    """
    n_in = kernel.shape[0]
    identity = ops.eye(n_in, dtype=kernel.dtype)
    damping = EPSILON + RELATIVE_DAMPING * ops.mean(ops.diagonal(a))
    if not l1:
        lower = ops.tril(a) + damping * identity
        rhs = c - ops.matmul(ops.triu(a, 1), kernel) + damping * kernel
        return ops.solve_triangular(lower, rhs, lower=True)

    def update_row(j, k):
        a_row = ops.take(a, j, axis=0)
        row = ops.take(k, j, axis=0)
        step = (ops.take(c, j, axis=0) - ops.matmul(a_row, k)) / (
            ops.take(a_row, j) + damping
        )
        row = soft_threshold(row + step, l1)
        return ops.slice_update(k, [j, 0], row[None, :])

    return ops.fori_loop(0, n_in, update_row, kernel)


def bcd(kernel, a, c, max_sweeps, l1=0.0, tolerance=TOLERANCE):
    """Sweeps until no entry moves by more than `tolerance`, at most `max_sweeps` times.

    Returns:
        `(kernel, sweeps)`: the new kernel and the number of sweeps taken.
    """

    def more(sweeps, k, moved):
        return ops.logical_and(sweeps < max_sweeps, moved > tolerance)

    def sweep(sweeps, k, moved):
        new = bcd_sweep(k, a, c, l1)
        return sweeps + 1, new, ops.max(ops.abs(new - k))

    start = (
        ops.convert_to_tensor(0, "int32"),
        kernel,
        ops.convert_to_tensor(float("inf"), kernel.dtype),
    )
    sweeps, kernel, _ = ops.while_loop(more, sweep, start)
    return kernel, sweeps
