//! Dense relabelling of class values: classifiers and contingency tables index classes
//! 0..C−1, while factor classes may be any integers.

/// Class values mapped to 0..C−1 in increasing order of value.
#[derive(Debug, Clone)]
pub(crate) struct DenseLabels {
    pub labels: Vec<u32>,
    /// The original class value of each dense label, increasing.
    pub classes: Vec<usize>,
}

impl DenseLabels {
    pub fn new(values: &[usize]) -> Self {
        let mut classes = values.to_vec();
        classes.sort_unstable();
        classes.dedup();
        let labels = values
            .iter()
            .map(|v| {
                classes
                    .binary_search(v)
                    .expect("value is in its own class list") as u32
            })
            .collect();
        DenseLabels { labels, classes }
    }

    pub fn num_classes(&self) -> usize {
        self.classes.len()
    }
}

/// Index of the largest value; the first one on ties (numpy's `argmax`).
pub(crate) fn argmax(values: &[f64]) -> usize {
    let mut best = 0;
    for (i, &v) in values.iter().enumerate() {
        if v > values[best] {
            best = i;
        }
    }
    best
}
