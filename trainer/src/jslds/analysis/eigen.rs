//! Eigenvalues of a small real square matrix (the Jacobians `J_h`): reduction to upper
//! Hessenberg form by stabilised elementary similarity transforms, then the Francis
//! double-shift QR iteration (the classic EISPACK `elmhes` + `hqr` pair, as in Numerical
//! Recipes). Real arithmetic throughout; complex eigenvalues come out as conjugate pairs.
//!
//! Why written here: Burn has no eigen-solver on its CPU backends, and a d x d solve for
//! d <= a few hundred does not justify a LAPACK dependency.

use super::mat::Mat;

/// Most QR sweeps spent on one eigenvalue (or pair) before giving up.
const MAX_ITERATIONS: usize = 60;

/// An eigenvalue `re + i im`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Eigenvalue {
    /// Real part.
    pub re: f64,
    /// Imaginary part.
    pub im: f64,
}

impl Eigenvalue {
    /// Modulus `|lambda|`.
    pub fn modulus(&self) -> f64 {
        self.re.hypot(self.im)
    }

    /// Argument in `(-pi, pi]`.
    pub fn arg(&self) -> f64 {
        self.im.atan2(self.re)
    }
}

/// Why the eigenvalues could not be computed.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum EigenError {
    /// The matrix is not square.
    #[error("matrix is {0} x {1}, not square")]
    NotSquare(usize, usize),
    /// A value is NaN or infinite.
    #[error("matrix has a non-finite entry")]
    NonFinite,
    /// The QR iteration did not converge.
    #[error("QR iteration did not converge in {MAX_ITERATIONS} sweeps")]
    NoConvergence,
}

/// All eigenvalues of `a`, sorted by decreasing modulus; a conjugate pair is adjacent with the
/// positive imaginary part first.
pub fn eigenvalues(a: &Mat) -> Result<Vec<Eigenvalue>, EigenError> {
    if a.rows != a.cols {
        return Err(EigenError::NotSquare(a.rows, a.cols));
    }
    if a.data.iter().any(|x| !x.is_finite()) {
        return Err(EigenError::NonFinite);
    }
    let n = a.rows;
    // 1-based working copy, as in the reference algorithm (row/column 0 unused).
    let mut h = vec![vec![0.0f64; n + 1]; n + 1];
    for i in 0..n {
        for j in 0..n {
            h[i + 1][j + 1] = a.at(i, j);
        }
    }
    hessenberg(&mut h, n);
    let mut out = hqr(&mut h, n)?;
    for e in &mut out {
        // Exact zeros for real eigenvalues, so that a real one never reads as a pair.
        if e.im.abs() <= 1e-14 * e.re.abs().max(1e-300) {
            e.im = 0.0;
        }
    }
    out.sort_by(|x, y| {
        y.modulus()
            .total_cmp(&x.modulus())
            .then(y.re.total_cmp(&x.re))
            .then(y.im.total_cmp(&x.im))
    });
    Ok(out)
}

/// Reduces `a` (1-based, `n x n`) to upper Hessenberg form in place by Gaussian elimination
/// with pivoting (similarity transforms); entries below the subdiagonal are zeroed.
fn hessenberg(a: &mut [Vec<f64>], n: usize) {
    for m in 2..n {
        let mut x = 0.0f64;
        let mut i = m;
        for j in m..=n {
            if a[j][m - 1].abs() > x.abs() {
                x = a[j][m - 1];
                i = j;
            }
        }
        if i != m {
            for j in (m - 1)..=n {
                let t = a[i][j];
                a[i][j] = a[m][j];
                a[m][j] = t;
            }
            for row in a.iter_mut().take(n + 1).skip(1) {
                row.swap(i, m);
            }
        }
        if x != 0.0 {
            for i in (m + 1)..=n {
                let mut y = a[i][m - 1];
                if y != 0.0 {
                    y /= x;
                    a[i][m - 1] = y;
                    for j in m..=n {
                        a[i][j] -= y * a[m][j];
                    }
                    for row in a.iter_mut().take(n + 1).skip(1) {
                        row[m] += y * row[i];
                    }
                }
            }
        }
    }
    for (i, row) in a.iter_mut().enumerate().take(n + 1).skip(3) {
        for x in row.iter_mut().take(i - 1).skip(1) {
            *x = 0.0;
        }
    }
}

fn sign(a: f64, b: f64) -> f64 {
    if b >= 0.0 {
        a.abs()
    } else {
        -a.abs()
    }
}

/// Eigenvalues of the upper Hessenberg matrix `a` (1-based, destroyed).
#[allow(clippy::many_single_char_names)]
fn hqr(a: &mut [Vec<f64>], n: usize) -> Result<Vec<Eigenvalue>, EigenError> {
    let mut wr = vec![0.0; n + 1];
    let mut wi = vec![0.0; n + 1];
    let mut anorm = 0.0;
    for i in 1..=n {
        for j in (i.saturating_sub(1).max(1))..=n {
            anorm += a[i][j].abs();
        }
    }
    let mut nn = n;
    let mut t = 0.0;
    while nn >= 1 {
        let mut its = 0;
        loop {
            // Look for a single small subdiagonal element.
            let mut l = nn;
            while l >= 2 {
                let mut s = a[l - 1][l - 1].abs() + a[l][l].abs();
                if s == 0.0 {
                    s = anorm;
                }
                if a[l][l - 1].abs() + s == s {
                    a[l][l - 1] = 0.0;
                    break;
                }
                l -= 1;
            }
            let l = l.max(1);
            let mut x = a[nn][nn];
            if l == nn {
                // One root found.
                wr[nn] = x + t;
                wi[nn] = 0.0;
                nn -= 1;
                break;
            }
            let mut y = a[nn - 1][nn - 1];
            let mut w = a[nn][nn - 1] * a[nn - 1][nn];
            if l == nn - 1 {
                // Two roots found.
                let p = 0.5 * (y - x);
                let q = p * p + w;
                let mut z = q.abs().sqrt();
                x += t;
                if q >= 0.0 {
                    z = p + sign(z, p);
                    wr[nn - 1] = x + z;
                    wr[nn] = x + z;
                    if z != 0.0 {
                        wr[nn] = x - w / z;
                    }
                    wi[nn - 1] = 0.0;
                    wi[nn] = 0.0;
                } else {
                    wr[nn - 1] = x + p;
                    wr[nn] = x + p;
                    wi[nn - 1] = -z;
                    wi[nn] = z;
                }
                nn = nn.saturating_sub(2);
                break;
            }
            if its == MAX_ITERATIONS {
                return Err(EigenError::NoConvergence);
            }
            if its == 10 || its == 20 || its == 40 {
                // Exceptional shift.
                t += x;
                for i in 1..=nn {
                    a[i][i] -= x;
                }
                let s = a[nn][nn - 1].abs() + a[nn - 1][nn - 2].abs();
                x = 0.75 * s;
                y = x;
                w = -0.4375 * s * s;
            }
            its += 1;
            let (mut p, mut q, mut r);
            // Form the shift and look for two consecutive small subdiagonal elements.
            let mut m = nn - 2;
            loop {
                let z = a[m][m];
                r = x - z;
                let s = y - z;
                p = (r * s - w) / a[m + 1][m] + a[m][m + 1];
                q = a[m + 1][m + 1] - z - r - s;
                r = a[m + 2][m + 1];
                let s = p.abs() + q.abs() + r.abs();
                p /= s;
                q /= s;
                r /= s;
                if m == l {
                    break;
                }
                let u = a[m][m - 1].abs() * (q.abs() + r.abs());
                let v = p.abs() * (a[m - 1][m - 1].abs() + z.abs() + a[m + 1][m + 1].abs());
                if u + v == v {
                    break;
                }
                m -= 1;
            }
            for i in (m + 2)..=nn {
                a[i][i - 2] = 0.0;
                if i != m + 2 {
                    a[i][i - 3] = 0.0;
                }
            }
            // Double QR step on rows l..nn and columns m..nn.
            let mut k = m;
            while k < nn {
                if k != m {
                    p = a[k][k - 1];
                    q = a[k + 1][k - 1];
                    r = 0.0;
                    if k != nn - 1 {
                        r = a[k + 2][k - 1];
                    }
                    x = p.abs() + q.abs() + r.abs();
                    if x != 0.0 {
                        p /= x;
                        q /= x;
                        r /= x;
                    }
                }
                let s = sign((p * p + q * q + r * r).sqrt(), p);
                if s != 0.0 {
                    if k == m {
                        if l != m {
                            a[k][k - 1] = -a[k][k - 1];
                        }
                    } else {
                        a[k][k - 1] = -s * x;
                    }
                    p += s;
                    x = p / s;
                    y = q / s;
                    let z = r / s;
                    q /= p;
                    r /= p;
                    for j in k..=nn {
                        p = a[k][j] + q * a[k + 1][j];
                        if k != nn - 1 {
                            p += r * a[k + 2][j];
                            a[k + 2][j] -= p * z;
                        }
                        a[k + 1][j] -= p * y;
                        a[k][j] -= p * x;
                    }
                    let mmin = if nn < k + 3 { nn } else { k + 3 };
                    for row in a.iter_mut().take(mmin + 1).skip(l) {
                        p = x * row[k] + y * row[k + 1];
                        if k != nn - 1 {
                            p += z * row[k + 2];
                            row[k + 2] -= p * r;
                        }
                        row[k + 1] -= p * q;
                        row[k] -= p;
                    }
                }
                k += 1;
            }
            if l >= nn - 1 {
                break;
            }
        }
    }
    Ok((1..=n)
        .map(|i| Eigenvalue {
            re: wr[i],
            im: wi[i],
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::f64::consts::PI;

    fn close(e: &Eigenvalue, re: f64, im: f64, tol: f64) -> bool {
        (e.re - re).abs() < tol && (e.im - im).abs() < tol
    }

    #[test]
    fn scaled_rotation_gives_its_complex_pair() {
        let (r, th) = (0.9, 2.0 * PI * 8.0 * 0.01);
        let a = Mat::from_vec(
            2,
            2,
            vec![r * th.cos(), -r * th.sin(), r * th.sin(), r * th.cos()],
        )
        .unwrap();
        let e = eigenvalues(&a).unwrap();
        assert_eq!(e.len(), 2);
        assert!(close(&e[0], r * th.cos(), r * th.sin(), 1e-12), "{e:?}");
        assert!(close(&e[1], r * th.cos(), -r * th.sin(), 1e-12), "{e:?}");
        assert!((e[0].arg() - th).abs() < 1e-12);
        assert!((e[0].modulus() - r).abs() < 1e-12);
    }

    #[test]
    fn companion_matrix_gives_the_polynomial_roots() {
        // (x - 0.5)(x + 0.25)(x - 2)(x^2 + 1) = x^5 + c4 x^4 + ... + c0
        let roots = [0.5, -0.25, 2.0];
        let mut poly = vec![1.0]; // highest degree first
        for r in roots {
            let mut next = vec![0.0; poly.len() + 1];
            for (i, c) in poly.iter().enumerate() {
                next[i] += c;
                next[i + 1] -= c * r;
            }
            poly = next;
        }
        let mut next = vec![0.0; poly.len() + 2];
        for (i, c) in poly.iter().enumerate() {
            next[i] += c;
            next[i + 2] += c;
        }
        poly = next;
        let n = poly.len() - 1;
        let mut a = Mat::zeros(n, n);
        for j in 0..n {
            *a.at_mut(0, j) = -poly[j + 1];
        }
        for i in 1..n {
            *a.at_mut(i, i - 1) = 1.0;
        }
        let e = eigenvalues(&a).unwrap();
        assert!(close(&e[0], 2.0, 0.0, 1e-10), "{e:?}");
        assert!(close(&e[1], 0.0, 1.0, 1e-10), "{e:?}");
        assert!(close(&e[2], 0.0, -1.0, 1e-10), "{e:?}");
        assert!(close(&e[3], 0.5, 0.0, 1e-10), "{e:?}");
        assert!(close(&e[4], -0.25, 0.0, 1e-10), "{e:?}");
    }

    #[test]
    fn block_diagonal_after_a_similarity_transform() {
        // T diag(R(0.3) * 0.95, 0.5, -0.7) T^-1 with a well-conditioned T.
        let (r, th) = (0.95, 0.3f64);
        let mut d = Mat::zeros(4, 4);
        d.data[0] = r * th.cos();
        d.data[1] = -r * th.sin();
        d.data[4] = r * th.sin();
        d.data[5] = r * th.cos();
        d.data[10] = 0.5;
        d.data[15] = -0.7;
        let t = Mat::from_vec(
            4,
            4,
            vec![
                1.0, 0.2, 0.0, 0.1, 0.0, 1.0, 0.3, 0.0, 0.1, 0.0, 1.0, 0.2, 0.0, 0.1, 0.0, 1.0,
            ],
        )
        .unwrap();
        let tinv = invert(&t);
        let a = t.matmul(&d).matmul(&tinv);
        let e = eigenvalues(&a).unwrap();
        assert!(close(&e[0], r * th.cos(), r * th.sin(), 1e-10), "{e:?}");
        assert!(close(&e[1], r * th.cos(), -r * th.sin(), 1e-10), "{e:?}");
        assert!(close(&e[2], -0.7, 0.0, 1e-10), "{e:?}");
        assert!(close(&e[3], 0.5, 0.0, 1e-10), "{e:?}");
        let trace: f64 = (0..4).map(|i| a.at(i, i)).sum();
        assert!((e.iter().map(|x| x.re).sum::<f64>() - trace).abs() < 1e-10);
    }

    #[test]
    fn trivial_sizes_and_bad_input() {
        assert_eq!(eigenvalues(&Mat::zeros(0, 0)).unwrap(), vec![]);
        let e = eigenvalues(&Mat::from_vec(1, 1, vec![-0.3]).unwrap()).unwrap();
        assert!(close(&e[0], -0.3, 0.0, 1e-15));
        let e = eigenvalues(&Mat::identity(5)).unwrap();
        assert!(e.iter().all(|x| close(x, 1.0, 0.0, 1e-12)));
        assert_eq!(
            eigenvalues(&Mat::zeros(2, 3)),
            Err(EigenError::NotSquare(2, 3))
        );
        let mut a = Mat::identity(2);
        a.data[1] = f64::NAN;
        assert_eq!(eigenvalues(&a), Err(EigenError::NonFinite));
    }

    #[test]
    fn random_matrices_keep_trace_and_determinant() {
        // A deterministic pseudo-random 12 x 12 matrix.
        let n = 12;
        let mut s = 12345u64;
        let data = (0..n * n)
            .map(|_| {
                s = s
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                ((s >> 11) as f64 / (1u64 << 53) as f64) - 0.5
            })
            .collect();
        let a = Mat::from_vec(n, n, data).unwrap();
        let e = eigenvalues(&a).unwrap();
        let trace: f64 = (0..n).map(|i| a.at(i, i)).sum();
        assert!((e.iter().map(|x| x.re).sum::<f64>() - trace).abs() < 1e-9);
        assert!(e.iter().map(|x| x.im).sum::<f64>().abs() < 1e-9);
        // Product of eigenvalues (complex) = det(A) (real).
        let (mut pr, mut pi) = (1.0f64, 0.0f64);
        for x in &e {
            let (r, i) = (pr * x.re - pi * x.im, pr * x.im + pi * x.re);
            pr = r;
            pi = i;
        }
        let det = determinant(&a);
        assert!(
            (pr - det).abs() < 1e-9 * det.abs().max(1.0),
            "{pr} vs {det}"
        );
        assert!(pi.abs() < 1e-9);
    }

    fn determinant(a: &Mat) -> f64 {
        let n = a.rows;
        let mut m = a.clone();
        let mut det = 1.0;
        for c in 0..n {
            let p = (c..n)
                .max_by(|&i, &j| m.at(i, c).abs().total_cmp(&m.at(j, c).abs()))
                .unwrap();
            if p != c {
                for j in 0..n {
                    m.data.swap(p * n + j, c * n + j);
                }
                det = -det;
            }
            det *= m.at(c, c);
            for i in c + 1..n {
                let f = m.at(i, c) / m.at(c, c);
                for j in c..n {
                    *m.at_mut(i, j) -= f * m.at(c, j);
                }
            }
        }
        det
    }

    fn invert(a: &Mat) -> Mat {
        let n = a.rows;
        let mut m = a.clone();
        let mut inv = Mat::identity(n);
        for c in 0..n {
            let p = (c..n)
                .max_by(|&i, &j| m.at(i, c).abs().total_cmp(&m.at(j, c).abs()))
                .unwrap();
            for j in 0..n {
                m.data.swap(p * n + j, c * n + j);
                inv.data.swap(p * n + j, c * n + j);
            }
            let d = m.at(c, c);
            for j in 0..n {
                *m.at_mut(c, j) /= d;
                *inv.at_mut(c, j) /= d;
            }
            for i in 0..n {
                if i != c {
                    let f = m.at(i, c);
                    for j in 0..n {
                        *m.at_mut(i, j) -= f * m.at(c, j);
                        *inv.at_mut(i, j) -= f * inv.at(c, j);
                    }
                }
            }
        }
        inv
    }
}
