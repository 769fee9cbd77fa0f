//! Precomputed codes of every point of a factor grid, used as a representation: the
//! interventional scores (FactorVAE, BetaVAE) ask for codes of factor vectors they draw
//! themselves, and with a complete grid each answer is a table lookup instead of an
//! encoder call. Given the same codes, the scores equal those of the encoder itself
//! (same draws, same codes).
//!
//! Points are numbered in C order over the factor sizes (the last factor varies fastest),
//! the order of the dSprites file and of `np.ravel_multi_index`.

use std::convert::Infallible;

use crate::data::{Codes, FactorSizes, Factors};
use crate::error::{MetricsError, Result};
use crate::representation::Representation;

/// Why a set of rows is not a complete grid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IncompleteGrid {
    /// Grid points with at least one row.
    pub covered: usize,
    /// Points of the grid (None when the product overflows).
    pub total: Option<usize>,
    /// The first point (in C order) without a row, when the grid was small enough to scan.
    pub first_missing: Option<Vec<usize>>,
}

impl std::fmt::Display for IncompleteGrid {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.total {
            Some(total) => write!(f, "the rows cover {} of the {total} points of the factor grid", self.covered)?,
            None => write!(f, "the factor grid has more points than any file can hold")?,
        }
        if let Some(p) = &self.first_missing {
            write!(f, " (missing e.g. factor vector {p:?})")?;
        }
        Ok(())
    }
}

/// Codes of a complete factor grid, looked up by factor vector.
#[derive(Debug, Clone)]
pub struct GridLookup<'a> {
    codes: Codes<'a>,
    sizes: FactorSizes,
    /// Row of `codes` for each grid point, in C order.
    row_of_point: Vec<u32>,
    duplicate_rows: usize,
}

impl<'a> GridLookup<'a> {
    /// Rows whose factor vectors are given. Every grid point must have a row; where a point
    /// has several, the first is used (counted in [`GridLookup::duplicate_rows`]). The outer
    /// error is bad input (a class outside its factor's size, rows that do not match); the
    /// inner one says which points are missing.
    pub fn from_factors(
        codes: Codes<'a>,
        factors: &Factors,
        sizes: &FactorSizes,
    ) -> Result<std::result::Result<Self, IncompleteGrid>> {
        crate::data::check_same_samples(&codes, factors)?;
        sizes.check(factors)?;
        let n = codes.num_samples();
        let total = sizes.num_points();
        // More points than rows (or an overflowing product) cannot be complete: say so
        // without allocating a table the size of the claimed grid.
        let total = match total {
            Some(t) if t <= n => t,
            _ => {
                let (covered, first_missing) = match total {
                    Some(t) if t <= 1 << 26 => {
                        let (covered, missing) = count_distinct(factors, sizes, t);
                        (covered, Some(unravel(missing, sizes.sizes())))
                    }
                    _ => (distinct_rows(factors), None),
                };
                return Ok(Err(IncompleteGrid { covered, total, first_missing }));
            }
        };
        if n > u32::MAX as usize {
            return Err(crate::error::invalid("codes", "more than 2³² rows"));
        }
        let mut row_of_point = vec![u32::MAX; total];
        let mut duplicate_rows = 0;
        for (r, f) in factors.values().chunks_exact(sizes.num_factors()).enumerate() {
            let slot = &mut row_of_point[flat_index(f, sizes.sizes())];
            if *slot == u32::MAX {
                *slot = r as u32;
            } else {
                duplicate_rows += 1;
            }
        }
        if let Some(missing) = row_of_point.iter().position(|&r| r == u32::MAX) {
            let covered = row_of_point.iter().filter(|&&r| r != u32::MAX).count();
            return Ok(Err(IncompleteGrid {
                covered,
                total: Some(total),
                first_missing: Some(unravel(missing, sizes.sizes())),
            }));
        }
        Ok(Ok(GridLookup { codes, sizes: sizes.clone(), row_of_point, duplicate_rows }))
    }

    /// Rows that are the grid points themselves, in C order (row i is point i).
    pub fn in_grid_order(codes: Codes<'a>, sizes: &FactorSizes) -> Result<Self> {
        let n = codes.num_samples();
        match sizes.num_points() {
            Some(t) if t == n && n <= u32::MAX as usize => Ok(GridLookup {
                codes,
                sizes: sizes.clone(),
                row_of_point: (0..n as u32).collect(),
                duplicate_rows: 0,
            }),
            total => Err(MetricsError::Shape {
                what: "codes in grid order (one row per point of the factor grid)",
                got: n,
                expected: total.unwrap_or(usize::MAX),
            }),
        }
    }

    pub fn sizes(&self) -> &FactorSizes {
        &self.sizes
    }

    /// Rows that repeat a grid point already seen (ignored).
    pub fn duplicate_rows(&self) -> usize {
        self.duplicate_rows
    }

    /// The factor vectors of every grid point, in C order (n×K, row-major).
    pub fn grid_factors(sizes: &FactorSizes) -> Option<Vec<usize>> {
        let total = sizes.num_points()?;
        Some((0..total).flat_map(|i| unravel(i, sizes.sizes())).collect())
    }
}

impl Representation for GridLookup<'_> {
    type Error = Infallible;
    fn encode(&mut self, factors: &[usize]) -> std::result::Result<Vec<f32>, Infallible> {
        let d = self.codes.num_codes();
        let sizes = self.sizes.sizes();
        let mut out = Vec::with_capacity(factors.len() / sizes.len() * d);
        for f in factors.chunks_exact(sizes.len()) {
            let row = self.row_of_point[flat_index(f, sizes)] as usize;
            out.extend_from_slice(self.codes.row(row));
        }
        Ok(out)
    }
}

/// C-order index of a factor vector (classes already checked against the sizes).
fn flat_index(f: &[usize], sizes: &[usize]) -> usize {
    f.iter().zip(sizes).fold(0, |acc, (&c, &s)| acc * s + c)
}

fn unravel(mut i: usize, sizes: &[usize]) -> Vec<usize> {
    let mut f = vec![0; sizes.len()];
    for k in (0..sizes.len()).rev() {
        f[k] = i % sizes[k];
        i /= sizes[k];
    }
    f
}

/// Distinct grid points among the rows and the first point without one (there is one: the
/// grid has more points than there are rows), with a bitmap over a grid of `total` points.
fn count_distinct(factors: &Factors, sizes: &FactorSizes, total: usize) -> (usize, usize) {
    let mut seen = vec![false; total];
    let mut covered = 0;
    for f in factors.values().chunks_exact(sizes.num_factors()) {
        let slot = &mut seen[flat_index(f, sizes.sizes())];
        covered += usize::from(!*slot);
        *slot = true;
    }
    (covered, seen.iter().position(|&s| !s).unwrap_or(total))
}

/// Distinct factor vectors among the rows, for grids too large for a bitmap.
fn distinct_rows(factors: &Factors) -> usize {
    let k = factors.num_factors();
    let mut rows: Vec<&[usize]> = factors.values().chunks_exact(k).collect();
    rows.sort_unstable();
    rows.dedup();
    rows.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookup_returns_the_row_of_each_factor_vector_whatever_the_row_order() {
        let sizes = FactorSizes::new(&[2, 3]).unwrap();
        // Rows in a scrambled order, plus one duplicate of point (1, 2) that must be ignored.
        let points = [(1, 2), (0, 0), (1, 0), (0, 2), (0, 1), (1, 1), (1, 2)];
        let factors: Vec<usize> = points.iter().flat_map(|&(a, b)| [a, b]).collect();
        // The code of row r is (10 a + b, r): the second entry tells which row answered.
        let codes: Vec<f32> = points
            .iter()
            .enumerate()
            .flat_map(|(r, &(a, b))| [(10 * a + b) as f32, r as f32])
            .collect();
        let codes = Codes::new(&codes, 7, 2).unwrap();
        let f = Factors::new(&factors, 7, 2).unwrap();
        let mut lookup = GridLookup::from_factors(codes, &f, &sizes).unwrap().unwrap();
        assert_eq!(lookup.duplicate_rows(), 1);
        let got = lookup.encode(&[1, 2, 0, 1, 1, 0]).unwrap();
        assert_eq!(got, vec![12.0, 0.0, 1.0, 4.0, 10.0, 2.0]);
    }

    #[test]
    fn incomplete_and_out_of_range_rows_are_told_apart() {
        let sizes = FactorSizes::new(&[2, 3]).unwrap();
        let factors = [0, 0, 0, 1, 0, 2, 1, 0, 1, 2, 1, 2];
        let codes = vec![0.0f32; 6];
        let c = Codes::new(&codes, 6, 1).unwrap();
        let f = Factors::new(&factors, 6, 2).unwrap();
        let missing = GridLookup::from_factors(c, &f, &sizes).unwrap().unwrap_err();
        assert_eq!(missing, IncompleteGrid { covered: 5, total: Some(6), first_missing: Some(vec![1, 1]) });
        assert!(missing.to_string().contains("5 of the 6 points") && missing.to_string().contains("[1, 1]"));
        // Fewer rows than points: counted without a full table.
        let few = Factors::new(&factors[..4], 2, 2).unwrap();
        let c2 = Codes::new(&codes[..2], 2, 1).unwrap();
        let err = GridLookup::from_factors(c2, &few, &sizes).unwrap().unwrap_err();
        assert_eq!((err.covered, err.total, err.first_missing), (2, Some(6), Some(vec![0, 2])));
        // A class beyond its factor's size is bad input, not a missing point.
        let bad = Factors::new(&[0, 3], 1, 2).unwrap();
        let c3 = Codes::new(&codes[..1], 1, 1).unwrap();
        assert!(matches!(
            GridLookup::from_factors(c3, &bad, &sizes),
            Err(MetricsError::FactorOutOfRange { factor: 1, class: 3, size: 3 })
        ));
        // A grid whose size overflows is incomplete, not an allocation.
        let huge = FactorSizes::new(&[usize::MAX, 3]).unwrap();
        let err = GridLookup::from_factors(c3, &Factors::new(&[0, 1], 1, 2).unwrap(), &huge).unwrap().unwrap_err();
        assert_eq!(err.total, None);
    }

    #[test]
    fn grid_order_matches_numpy_ravel_multi_index() {
        // np.ravel_multi_index((1, 0, 2), (2, 2, 3)) == 8
        let sizes = FactorSizes::new(&[2, 2, 3]).unwrap();
        assert_eq!(flat_index(&[1, 0, 2], sizes.sizes()), 8);
        let all = GridLookup::grid_factors(&sizes).unwrap();
        assert_eq!(&all[8 * 3..9 * 3], &[1, 0, 2]);
        let codes: Vec<f32> = (0..12).map(|i| i as f32).collect();
        let mut lookup = GridLookup::in_grid_order(Codes::new(&codes, 12, 1).unwrap(), &sizes).unwrap();
        assert_eq!(lookup.encode(&[1, 0, 2, 0, 1, 1]).unwrap(), vec![8.0, 4.0]);
        assert!(GridLookup::in_grid_order(Codes::new(&codes[..11], 11, 1).unwrap(), &sizes).is_err());
    }

    #[test]
    fn interventional_scores_by_lookup_equal_those_of_the_encoder_itself() {
        use crate::{BetaVaeConfig, FactorVaeConfig, beta_vae_score, factor_vae_score};
        // An entangled encoder (codes 0 and 1 are the same mixture of factors 0 and 1), as a closure and as its grid dump
        // in a shuffled row order.
        let sizes = FactorSizes::new(&[3, 4, 5]).unwrap();
        let encode_one = |f: &[usize]| -> [f32; 3] {
            let (a, b, c) = (f[0] as f32, f[1] as f32, f[2] as f32);
            [a + b, 2.0 * (a + b), c + 0.01 * ((7 * f[0] + 3 * f[1] + f[2]) % 5) as f32]
        };
        let mut encoder = |f: &[usize]| -> Result<Vec<f32>, Infallible> {
            Ok(f.chunks(3).flat_map(encode_one).collect())
        };
        let grid = GridLookup::grid_factors(&sizes).unwrap();
        let order: Vec<usize> = (0..60).map(|i| (i * 37) % 60).collect();
        let factors: Vec<usize> = order.iter().flat_map(|&p| grid[p * 3..p * 3 + 3].to_vec()).collect();
        let codes: Vec<f32> = factors.chunks(3).flat_map(encode_one).collect();
        let c = Codes::new(&codes, 60, 3).unwrap();
        let f = Factors::new(&factors, 60, 3).unwrap();
        let mut lookup = GridLookup::from_factors(c, &f, &sizes).unwrap().unwrap();
        let fv = FactorVaeConfig { num_train: 200, num_eval: 100, num_variance_estimate: 500, ..Default::default() };
        let bv = BetaVaeConfig { num_train: 100, num_eval: 50, ..Default::default() };
        let by_encoder = factor_vae_score(&sizes, &mut encoder, 5, &fv).unwrap();
        let by_lookup = factor_vae_score(&sizes, &mut lookup, 5, &fv).unwrap();
        assert_eq!(by_encoder, by_lookup);
        assert!(by_lookup.eval_accuracy < 0.9, "{by_lookup:?}");
        assert_eq!(
            beta_vae_score(&sizes, &mut encoder, 5, &bv).unwrap(),
            beta_vae_score(&sizes, &mut lookup, 5, &bv).unwrap()
        );
    }
}
