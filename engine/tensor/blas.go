package tensor

// Sgemm computes C = alpha*op(A)*op(B) + beta*C for row-major matrices,
// where op(A) is m x k, op(B) is k x n and C is m x n. transA and transB
// select the transpose of the stored matrix; lda, ldb and ldc are the row
// strides of the stored matrices. It is the one seam between Atelier's
// layers and a BLAS library.
func Sgemm(transA, transB bool, m, n, k int, alpha float32, a []float32, lda int, b []float32, ldb int, beta float32, c []float32, ldc int) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		if beta != 1 {
			for i := 0; i < m; i++ {
				row := c[i*ldc : i*ldc+n]
				for j := range row {
					row[j] *= beta
				}
			}
		}
		return
	}
	sgemm(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
}

// SetThreads sets how many threads the BLAS library may use. Atelier uses one
// unless configured otherwise (ATELIER_BLAS_THREADS), because the two vCPUs of
// the machines it is tuned for share one physical core.
func SetThreads(n int) {
	if n < 1 {
		n = 1
	}
	setThreads(n)
}

// Backend names the BLAS implementation compiled in ("openblas" or "gonum").
func Backend() string { return backend }
