//! A dense row-major f64 matrix: the one container of the analysis (dimensions are tens to a
//! few thousand; nothing here is on a hot path, so clarity wins over speed).

/// `rows x cols`, row-major.
#[derive(Debug, Clone, PartialEq)]
pub struct Mat {
    /// Number of rows.
    pub rows: usize,
    /// Number of columns.
    pub cols: usize,
    /// `rows * cols` values, row after row.
    pub data: Vec<f64>,
}

impl Mat {
    /// A matrix of zeros.
    pub fn zeros(rows: usize, cols: usize) -> Mat {
        Mat {
            rows,
            cols,
            data: vec![0.0; rows * cols],
        }
    }

    /// The identity of size `n`.
    pub fn identity(n: usize) -> Mat {
        let mut m = Mat::zeros(n, n);
        for i in 0..n {
            m.data[i * n + i] = 1.0;
        }
        m
    }

    /// Wraps `data` (`rows * cols` values). Returns `None` when the length does not fit.
    pub fn from_vec(rows: usize, cols: usize, data: Vec<f64>) -> Option<Mat> {
        (rows.checked_mul(cols) == Some(data.len())).then_some(Mat { rows, cols, data })
    }

    /// Element `(i, j)`.
    pub fn at(&self, i: usize, j: usize) -> f64 {
        self.data[i * self.cols + j]
    }

    /// Mutable element `(i, j)`.
    pub fn at_mut(&mut self, i: usize, j: usize) -> &mut f64 {
        &mut self.data[i * self.cols + j]
    }

    /// Row `i`.
    pub fn row(&self, i: usize) -> &[f64] {
        &self.data[i * self.cols..(i + 1) * self.cols]
    }

    /// `self * other`.
    pub fn matmul(&self, other: &Mat) -> Mat {
        assert_eq!(self.cols, other.rows, "matmul: inner dimensions differ");
        let mut out = Mat::zeros(self.rows, other.cols);
        for i in 0..self.rows {
            for l in 0..self.cols {
                let x = self.at(i, l);
                if x == 0.0 {
                    continue;
                }
                let src = other.row(l);
                let dst = &mut out.data[i * other.cols..(i + 1) * other.cols];
                for (d, s) in dst.iter_mut().zip(src) {
                    *d += x * s;
                }
            }
        }
        out
    }

    /// The transpose.
    pub fn transpose(&self) -> Mat {
        let mut out = Mat::zeros(self.cols, self.rows);
        for i in 0..self.rows {
            for j in 0..self.cols {
                out.data[j * self.rows + i] = self.at(i, j);
            }
        }
        out
    }

    /// Frobenius norm.
    pub fn frobenius(&self) -> f64 {
        self.data.iter().map(|x| x * x).sum::<f64>().sqrt()
    }

    /// Mean of every column.
    pub fn column_means(&self) -> Vec<f64> {
        let mut m = vec![0.0; self.cols];
        for i in 0..self.rows {
            for (acc, x) in m.iter_mut().zip(self.row(i)) {
                *acc += x;
            }
        }
        let n = self.rows.max(1) as f64;
        m.iter_mut().for_each(|x| *x /= n);
        m
    }
}

/// Euclidean distance of two points.
pub fn distance(a: &[f64], b: &[f64]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(x, y)| (x - y) * (x - y))
        .sum::<f64>()
        .sqrt()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn product_transpose_and_norms() {
        let a = Mat::from_vec(2, 3, vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0]).unwrap();
        let p = a.matmul(&a.transpose());
        assert_eq!(p.data, vec![14.0, 32.0, 32.0, 77.0]);
        assert_eq!(a.column_means(), vec![2.5, 3.5, 4.5]);
        assert!((a.frobenius() - 91f64.sqrt()).abs() < 1e-12);
        assert!(Mat::from_vec(2, 2, vec![1.0]).is_none());
        assert_eq!(Mat::identity(2).matmul(&Mat::identity(2)), Mat::identity(2));
        assert!((distance(&[0.0, 3.0], &[4.0, 0.0]) - 5.0).abs() < 1e-15);
    }
}
