//! The rows of one input file, kept in the chunks they were parsed in.
//!
//! Each chunk of a file is parsed on its own thread into its own vector. Copying those into
//! one vector cost a second copy of every row at once (1.2 GB at 10M debits) and, at 1M
//! debits, 130 ms on one thread while the other waited, most of it faulting in fresh pages.
//! A table indexes across the chunks instead: row `i` is found by a binary search over a
//! handful of chunk starts.

/// Rows numbered `0..len()` across chunks.
#[derive(Clone, Debug)]
pub(crate) struct Table<R> {
    /// Never empty ones.
    chunks: Vec<Vec<R>>,
    /// The number of each chunk's first row.
    starts: Vec<usize>,
    len: usize,
}

impl<R> Default for Table<R> {
    fn default() -> Self {
        Table { chunks: Vec::new(), starts: Vec::new(), len: 0 }
    }
}

impl<R> From<Vec<R>> for Table<R> {
    fn from(rows: Vec<R>) -> Self {
        Table::new(vec![rows])
    }
}

impl<R> Table<R> {
    /// The chunks' rows, one after the other.
    pub(crate) fn new(chunks: Vec<Vec<R>>) -> Self {
        let chunks: Vec<Vec<R>> = chunks.into_iter().filter(|c| !c.is_empty()).collect();
        let mut starts = Vec::with_capacity(chunks.len());
        let mut len = 0;
        for chunk in &chunks {
            starts.push(len);
            len += chunk.len();
        }
        Table { chunks, starts, len }
    }

    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The chunk holding row `i < len()`.
    #[inline]
    fn chunk_of(&self, i: usize) -> usize {
        self.starts.partition_point(|&s| s <= i).saturating_sub(1)
    }

    /// Row `i`, if there is one.
    #[inline]
    pub(crate) fn get(&self, i: usize) -> Option<&R> {
        if i >= self.len {
            return None;
        }
        let c = self.chunk_of(i);
        self.chunks[c].get(i - self.starts[c])
    }

    /// Every row, in order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &R> + '_ {
        self.chunks.iter().flatten()
    }

    /// Rows `start..end` (`end` at most `len()`), in order.
    pub(crate) fn range(&self, start: usize, end: usize) -> impl Iterator<Item = &R> + '_ {
        let first = if start < self.len { self.chunk_of(start) } else { self.chunks.len() };
        self.chunks[first..].iter().zip(&self.starts[first..]).flat_map(move |(chunk, &s)| {
            let (from, to) = (start.saturating_sub(s).min(chunk.len()), end.saturating_sub(s).min(chunk.len()));
            &chunk[from..to.max(from)]
        })
    }
}

impl<R> std::ops::Index<usize> for Table<R> {
    type Output = R;

    #[inline]
    fn index(&self, i: usize) -> &R {
        match self.get(i) {
            Some(row) => row,
            None => panic!("row {i} of a table of {}", self.len),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_numbered_across_chunks_and_empty_chunks_are_skipped() {
        let table = Table::new(vec![vec![0, 1, 2], vec![], vec![3], vec![4, 5], vec![]]);
        assert_eq!(table.len(), 6);
        assert_eq!((0..6).map(|i| table[i]).collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        assert_eq!(table.get(6), None);
        assert_eq!(table.iter().copied().collect::<Vec<_>>(), [0, 1, 2, 3, 4, 5]);
        for start in 0..=6 {
            for end in start..=6 {
                let got: Vec<i32> = table.range(start, end).copied().collect();
                assert_eq!(got, (start as i32..end as i32).collect::<Vec<_>>(), "{start}..{end}");
            }
        }
        assert_eq!(table.starts, [0, 3, 4]);
        assert_eq!((Table::<u8>::default().len(), Table::from(Vec::<u8>::new()).len()), (0, 0));
    }
}
