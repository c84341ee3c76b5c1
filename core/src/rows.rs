//! Iterating a compact table ([`Findings`](crate::Findings), [`Rejects`](crate::Rejects),
//! [`Balances`](crate::Balances)) as views of its rows.
//!
//! Such a table keeps its rows packed (a few fixed-size fields and offsets into shared text)
//! because a hostile file can make millions of them; a view borrows the text back out.

use std::iter::FusedIterator;
use std::ops::Range;

/// Appends `id` to a table's text. Ids are checked ASCII when parsed, and are then copied as
/// they are (`String::from_utf8_lossy` took 1% of samples at 10M debits writing balances,
/// scanning each id for invalid sequences); anything else is shown lossily.
pub(crate) fn push_id(text: &mut String, id: &[u8]) {
    match std::str::from_utf8(id) {
        Ok(id) => text.push_str(id),
        Err(_) => text.push_str(&String::from_utf8_lossy(id)),
    }
}

/// A packed table, whose rows are read as views. Public only so that [`Iter`] can name it: it
/// lives in a private module, so no other crate can implement it. (Not to be confused with
/// `crate::table::Table`, the parsed rows of an input file.)
pub trait Packed {
    /// The view of one row.
    type Row<'a>
    where
        Self: 'a;

    /// How many rows.
    fn len(&self) -> usize;

    /// The view of row `index` (less than [`len`](Self::len)).
    fn row(&self, index: usize) -> Self::Row<'_>;
}

/// The rows of a table, in order, as views.
#[derive(Debug)]
pub struct Iter<'a, T> {
    table: &'a T,
    range: Range<usize>,
}

impl<'a, T: Packed> Iter<'a, T> {
    pub(crate) fn new(table: &'a T) -> Iter<'a, T> {
        Iter { table, range: 0..table.len() }
    }
}

impl<T> Clone for Iter<'_, T> {
    fn clone(&self) -> Self {
        Iter { table: self.table, range: self.range.clone() }
    }
}

impl<'a, T: Packed> Iterator for Iter<'a, T> {
    type Item = T::Row<'a>;

    fn next(&mut self) -> Option<T::Row<'a>> {
        self.range.next().map(|i| self.table.row(i))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.range.size_hint()
    }

    fn nth(&mut self, n: usize) -> Option<T::Row<'a>> {
        self.range.nth(n).map(|i| self.table.row(i))
    }
}

impl<T: Packed> DoubleEndedIterator for Iter<'_, T> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.range.next_back().map(|i| self.table.row(i))
    }
}

impl<T: Packed> ExactSizeIterator for Iter<'_, T> {}

impl<T: Packed> FusedIterator for Iter<'_, T> {}

/// What every packed table has, for a table `$table` whose `view(&self, &Row) -> $item<'_>`
/// shows a row of its `rows`: `len`, `is_empty`, `get` and `iter` (documented with `$what`,
/// what a row is), [`Packed`], iteration by reference, and equality and `Debug` by its views.
macro_rules! table {
    ($table:ident, $item:ident, $what:literal) => {
        impl $table {
            #[doc = concat!("How many ", $what, "s.")]
            pub fn len(&self) -> usize {
                self.rows.len()
            }

            #[doc = concat!("Whether there is no ", $what, ".")]
            pub fn is_empty(&self) -> bool {
                self.rows.is_empty()
            }

            #[doc = concat!("The `index`-th ", $what, ", in SPEC order.")]
            pub fn get(&self, index: usize) -> Option<$item<'_>> {
                self.rows.get(index).map(|row| self.view(row))
            }

            #[doc = concat!("Every ", $what, ", in SPEC order.")]
            pub fn iter(&self) -> $crate::rows::Iter<'_, $table> {
                $crate::rows::Iter::new(self)
            }
        }

        impl $crate::rows::Packed for $table {
            type Row<'a> = $item<'a>;

            fn len(&self) -> usize {
                self.rows.len()
            }

            fn row(&self, index: usize) -> $item<'_> {
                self.view(&self.rows[index])
            }
        }

        impl<'a> IntoIterator for &'a $table {
            type Item = $item<'a>;
            type IntoIter = $crate::rows::Iter<'a, $table>;

            fn into_iter(self) -> Self::IntoIter {
                $crate::rows::Iter::new(self)
            }
        }

        impl PartialEq for $table {
            fn eq(&self, other: &$table) -> bool {
                self.into_iter().eq(other)
            }
        }

        impl Eq for $table {}

        impl std::fmt::Debug for $table {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.debug_list().entries(self).finish()
            }
        }
    };
}

pub(crate) use table;

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_copied_as_they_are_and_other_bytes_shown_lossily() {
        let mut text = String::from("x");
        super::push_id(&mut text, b"KHS-0001");
        super::push_id(&mut text, b"C\xff1");
        assert_eq!(text, "xKHS-0001C\u{fffd}1");
    }
}
