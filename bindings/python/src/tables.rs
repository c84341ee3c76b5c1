//! The report's four tables as Arrow record batches, and the `Table` class that hands them to
//! pandas, polars, pyarrow or DuckDB through the Arrow PyCapsule stream interface.
//!
//! Columns are those of the CSV files, in the same order, with the same values, typed:
//! amounts are `decimal128(38, currency_scale)` (exact, summable, and read as decimals by
//! pandas, polars and DuckDB alike; a sum beyond 38 digits, which no real cycle reaches,
//! makes that column `decimal256(76, currency_scale)` instead of rounding), dates are
//! `date32`, lines and counts `int64`, ids and codes `utf8`.

use std::sync::Arc;

use arrow_array::{ArrayRef, Decimal128Array, Decimal256Array, Int64Array, RecordBatch, StringArray, StructArray};
use arrow_buffer::i256;
use arrow_schema::{ArrowError, DataType, Field};
use harmoni::{Money, Report};
use pyo3::prelude::*;
use pyo3::types::{PyCapsule, PyTuple};
use pyo3_arrow::ffi::{to_stream_pycapsule, ArrayIterator};

/// Digits a `decimal128` holds.
const DECIMAL128_DIGITS: u8 = 38;
/// Digits a `decimal256` holds.
const DECIMAL256_DIGITS: u8 = 76;

fn text<'a>(values: impl Iterator<Item = &'a str>) -> ArrayRef {
    Arc::new(StringArray::from_iter_values(values))
}

fn count(values: impl Iterator<Item = u64>) -> ArrayRef {
    Arc::new(Int64Array::from_iter_values(values.map(|v| i64::try_from(v).unwrap_or(i64::MAX))))
}

/// Amounts as exact decimals with the currency's scale.
fn money(values: impl Iterator<Item = Money> + Clone, scale: u32) -> Result<ArrayRef, ArrowError> {
    let scale = i8::try_from(scale).map_err(|_| ArrowError::InvalidArgumentError(format!("scale {scale}")))?;
    let limit = 10i128.pow(u32::from(DECIMAL128_DIGITS));
    let small: Option<Vec<i128>> =
        values.clone().map(|m| m.minor_units().filter(|v| v.unsigned_abs() < limit.unsigned_abs())).collect();
    if let Some(small) = small {
        return Ok(Arc::new(Decimal128Array::from(small).with_precision_and_scale(DECIMAL128_DIGITS, scale)?));
    }
    let wide = values
        .map(|m| {
            let digits: String = m.to_string().chars().filter(|c| *c != '.').collect();
            i256::from_string(&digits).ok_or_else(|| ArrowError::ParseError(format!("amount {m}")))
        })
        .collect::<Result<Vec<i256>, ArrowError>>()?;
    Ok(Arc::new(Decimal256Array::from(wide).with_precision_and_scale(DECIMAL256_DIGITS, scale)?))
}

/// Dates (`YYYY-MM-DD`, as the core prints them) as `date32`.
fn dates(values: impl Iterator<Item = String>) -> Result<ArrayRef, ArrowError> {
    let strings = StringArray::from_iter_values(values);
    arrow_cast::cast(&strings, &DataType::Date32)
}

fn batch(columns: Vec<(&str, ArrayRef)>) -> Result<RecordBatch, ArrowError> {
    RecordBatch::try_from_iter_with_nullable(columns.into_iter().map(|(name, array)| (name, array, false)))
}

/// The four tables of a report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// findings.csv
    Findings,
    /// settlement.csv
    Settlement,
    /// balances.csv
    Balances,
    /// rejects.csv
    Rejects,
}

impl Kind {
    /// The table's file name in the output folder.
    pub fn file(self) -> &'static str {
        match self {
            Kind::Findings => "findings.csv",
            Kind::Settlement => "settlement.csv",
            Kind::Balances => "balances.csv",
            Kind::Rejects => "rejects.csv",
        }
    }
}

/// One table of `report` as a record batch.
pub fn build(report: &Report, kind: Kind) -> Result<RecordBatch, ArrowError> {
    let scale = report.summary.currency_scale;
    match kind {
        Kind::Findings => {
            let f = &report.findings;
            batch(vec![
                ("rule", text(f.iter().map(|f| f.rule.as_str()))),
                ("action", text(f.iter().map(|f| f.action().as_str()))),
                ("subject", text(f.iter().map(|f| f.subject().as_str()))),
                ("txn_id", text(f.iter().map(|f| f.txn_id))),
                ("card_id", text(f.iter().map(|f| f.card_id))),
                ("program", text(f.iter().map(|f| f.program))),
                ("line", count(f.iter().map(|f| f.line))),
                ("detail", text(f.iter().map(|f| f.detail))),
            ])
        }
        Kind::Settlement => {
            let s = &report.settlement;
            batch(vec![
                ("merchant_id", text(s.iter().map(|s| s.merchant_id.as_str()))),
                ("program", text(s.iter().map(|s| s.program.as_str()))),
                ("amount", money(s.iter().map(|s| s.amount), scale)?),
                ("debits", count(s.iter().map(|s| s.debits))),
                ("reversals", count(s.iter().map(|s| s.reversals))),
            ])
        }
        Kind::Balances => {
            let b = &report.balances;
            batch(vec![
                ("card_id", text(b.iter().map(|b| b.card_id))),
                ("program", text(b.iter().map(|b| b.program))),
                ("valid_from", dates(b.iter().map(|b| b.valid_from.to_string()))?),
                ("valid_to", dates(b.iter().map(|b| b.valid_to.to_string()))?),
                ("allocated", money(b.iter().map(|b| b.allocated), scale)?),
                ("spent", money(b.iter().map(|b| b.spent), scale)?),
                ("remaining", money(b.iter().map(|b| b.remaining), scale)?),
            ])
        }
        Kind::Rejects => {
            let r = &report.rejects;
            batch(vec![
                ("file", text(r.iter().map(|r| r.file))),
                ("line", count(r.iter().map(|r| r.line))),
                ("column", text(r.iter().map(|r| r.column))),
                ("reason", text(r.iter().map(|r| r.reason))),
            ])
        }
    }
}

/// One table of a report (findings, settlement, balances or rejects), in the order and with
/// the values of its CSV file.
///
/// It speaks the Arrow PyCapsule stream interface (`__arrow_c_stream__`), so
/// `pyarrow.table(t)`, `polars.DataFrame(t)`, `pandas.DataFrame.from_arrow(t)` and DuckDB
/// (`duckdb.sql("select * from t")`) read it without a copy through Python objects.
#[pyclass(module = "harmoni", name = "Table", frozen)]
pub struct Table {
    name: &'static str,
    batch: RecordBatch,
}

impl Table {
    pub fn new(kind: Kind, batch: RecordBatch) -> Table {
        Table { name: kind.file(), batch }
    }
}

#[pymethods]
impl Table {
    /// Exports the table as an Arrow C stream (the Arrow PyCapsule interface).
    #[pyo3(signature = (requested_schema = None))]
    fn __arrow_c_stream__<'py>(
        &self,
        py: Python<'py>,
        requested_schema: Option<Bound<'py, PyCapsule>>,
    ) -> PyResult<Bound<'py, PyCapsule>> {
        let schema = self.batch.schema();
        let field = Field::new_struct("", schema.fields().clone(), false).with_metadata(schema.metadata().clone());
        let array: ArrayRef = Arc::new(StructArray::from(self.batch.clone()));
        let reader = ArrayIterator::new(std::iter::once(Ok(array)), Arc::new(field));
        Ok(to_stream_pycapsule(py, Box::new(reader), requested_schema)?)
    }

    /// The file this table is written to (`findings.csv`, ...).
    #[getter]
    fn name(&self) -> &'static str {
        self.name
    }

    /// The column names, as in the CSV header.
    #[getter]
    fn column_names(&self) -> Vec<String> {
        self.batch.schema_ref().fields().iter().map(|f| f.name().clone()).collect()
    }

    /// The number of rows.
    #[getter]
    fn num_rows(&self) -> usize {
        self.batch.num_rows()
    }

    fn __len__(&self) -> usize {
        self.batch.num_rows()
    }

    fn __repr__(&self) -> String {
        let columns: Vec<String> =
            self.batch.schema_ref().fields().iter().map(|f| format!("{}: {}", f.name(), f.data_type())).collect();
        format!("<harmoni.Table {} ({} rows): {}>", self.name, self.batch.num_rows(), columns.join(", "))
    }

    /// As a `pyarrow.Table` (needs pyarrow).
    fn to_arrow<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("pyarrow")?.getattr("table")?.call1(PyTuple::new(py, [slf])?)
    }

    /// As a pandas DataFrame with Arrow-backed columns (needs pandas and pyarrow): amounts stay
    /// exact decimals (`decimal128(38, scale)[pyarrow]`, whose sums are `decimal.Decimal`),
    /// never floats.
    fn to_pandas<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        let pandas = py.import("pandas")?;
        let kwargs = pyo3::types::PyDict::new(py);
        kwargs.set_item("types_mapper", pandas.getattr("ArrowDtype")?)?;
        Table::to_arrow(slf)?.call_method("to_pandas", (), Some(&kwargs))
    }

    /// As a polars DataFrame (needs polars); amounts are `pl.Decimal(38, scale)`.
    fn to_polars<'py>(slf: &Bound<'py, Self>) -> PyResult<Bound<'py, PyAny>> {
        let py = slf.py();
        py.import("polars")?.getattr("DataFrame")?.call1(PyTuple::new(py, [slf])?)
    }
}
